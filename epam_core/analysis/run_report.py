"""`epam report`: a run's statistics as a dict of named sections, and that dict as readable text.

Each section is one pure function of ``ReportInputs`` returning a JSON-ready value (or None to leave the
section out); ``SECTIONS`` lists them in order, so a new analysis adds one function and one entry. The same
functions feed the dashboard's Statistics, Calibration and Slices pages and the exported tables. Accuracies are
fractions in [0, 1]; intervals are [low, high] pairs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from epam_core.analysis import calibration, label_errors, slices, statistics
from epam_core.analysis.attention_report import attention_report, format_attention_report
from epam_core.analysis.metrics import top1_accuracy
from epam_core.errors import RunError
from epam_core.runs.format import STREAMS, EvalRun

PAIRS = (("fused", "rgb"), ("fused", "pose"), ("rgb", "pose"))
LIST_LENGTH = 20  # samples listed per telling-samples list


@dataclass(frozen=True)
class ReportInputs:
    """What a report is computed from; derived arrays are computed once and shared by the sections."""

    run: EvalRun
    compare: EvalRun | None = None
    metadata: pd.DataFrame | None = None  # a user table (slices.read_metadata), on top of the run's own
    metadata_source: str = "metadata"
    resamples: int = statistics.RESAMPLES
    seed: int = statistics.SEED
    confidence: float = statistics.CONFIDENCE
    list_length: int = LIST_LENGTH
    extra: dict[str, Any] = field(default_factory=dict)  # room for options of sections added later

    @cached_property
    def logits(self) -> dict[str, np.ndarray]:
        return {s: self.run.logits(s) for s in STREAMS}

    @cached_property
    def correct(self) -> dict[str, np.ndarray]:
        """(S,) bool per stream: labelled and top-1 right."""
        labels = self.run.labels
        return {s: (z.argmax(axis=1) == labels) & (labels >= 0) for s, z in self.logits.items()}

    @cached_property
    def labelled(self) -> np.ndarray:
        return self.run.labels >= 0

    @cached_property
    def intervals(self) -> pd.DataFrame:
        return statistics.stream_intervals(
            self.logits, self.run.labels, self.run.num_classes, self.resamples, self.seed, self.confidence
        )

    @cached_property
    def calibration(self) -> pd.DataFrame:
        weights = tuple(self.run.manifest["fusion_weights"])
        return calibration.stream_calibration(self.logits, self.run.labels, weights, seed=self.seed)

    @cached_property
    def sample_metadata(self) -> pd.DataFrame:
        return slices.run_metadata(self.run, self.metadata, self.metadata_source)


def _number(value: Any) -> Any:
    """A JSON-safe number: NaN -> None, numpy scalars -> Python."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    return value


def run_section(inputs: ReportInputs) -> dict[str, Any]:
    run = inputs.run
    return {
        "path": str(run.path),
        "samples": len(run.sample_ids),
        "labelled": int(inputs.labelled.sum()),
        "classes": run.num_classes,
        "fusion_weights": [float(w) for w in run.manifest["fusion_weights"]],
        "bootstrap": {"resamples": inputs.resamples, "seed": inputs.seed, "confidence": inputs.confidence},
    }


def streams_section(inputs: ReportInputs) -> dict[str, Any] | None:
    """Per stream: top1, top5, mean_class with their ``_ci`` intervals, ece and nll."""
    if not inputs.labelled.any():
        return None
    intervals = inputs.intervals.set_index("stream")
    calib = inputs.calibration.set_index("stream")
    out: dict[str, Any] = {}
    for stream in STREAMS:
        row = intervals.loc[stream]
        entry: dict[str, Any] = {}
        for metric in ("top1", "top5", "mean_class"):
            entry[metric] = _number(row[metric])
            entry[f"{metric}_ci"] = [_number(row[f"{metric}_low"]), _number(row[f"{metric}_high"])]
        entry["ece"] = _number(calib.loc[stream, "ece"])
        entry["nll"] = _number(calib.loc[stream, "nll"])
        out[stream] = entry
    return out


def _paired(test: statistics.PairedTest) -> dict[str, Any]:
    return {"a_only": test.a_only, "b_only": test.b_only, "both": test.both, "neither": test.neither,
            "mcnemar_p": test.p_value}  # fmt: skip


def paired_section(inputs: ReportInputs) -> dict[str, Any] | None:
    """Exact McNemar tests between the streams on the run's labelled samples (a = the first named)."""
    if not inputs.labelled.any():
        return None
    keep = inputs.labelled
    return {
        f"{a}_vs_{b}": _paired(statistics.mcnemar_exact(inputs.correct[a][keep], inputs.correct[b][keep]))
        for a, b in PAIRS
    }


def compare_section(inputs: ReportInputs) -> dict[str, Any] | None:
    """Run vs the ``compare`` run on the samples both hold (matched by id, labelled alike): matched, per
    stream a_only / b_only / mcnemar_p (a = this run) and both runs' top-1 on the matched samples."""
    other = inputs.compare
    if other is None:
        return None
    if other.class_names != inputs.run.class_names:
        raise RunError(other.path, f"has other classes than {inputs.run.path}; the runs cannot be compared")
    ia, ib = statistics.match_samples(inputs.run.sample_ids, other.sample_ids)
    labels_a, labels_b = inputs.run.labels[ia], other.labels[ib]
    same = (labels_a == labels_b) & (labels_a >= 0)
    ia, ib, labels = ia[same], ib[same], labels_a[same]
    out: dict[str, Any] = {
        "run": str(other.path),
        "matched": int(ia.size),
        "label_mismatch": int((~same & (labels_a >= 0)).sum()),
        "only_in_run": len(inputs.run.sample_ids) - int(same.size),
        "only_in_compare": len(other.sample_ids) - int(same.size),
    }
    for stream in STREAMS:
        preds_a, preds_b = inputs.logits[stream][ia].argmax(axis=1), other.logits(stream)[ib].argmax(axis=1)
        entry = _paired(statistics.mcnemar_exact(preds_a == labels, preds_b == labels))
        entry |= {"top1_a": _number(top1_accuracy(preds_a, labels)),
                  "top1_b": _number(top1_accuracy(preds_b, labels))}  # fmt: skip
        out[stream] = entry
    return out


def calibration_section(inputs: ReportInputs) -> dict[str, Any] | None:
    """Per stream: ece, nll, the cross-validated temperature and the values after scaling; and
    ``fused_calibrated`` (fusion of the scaled streams): top1, ece, nll."""
    if not inputs.labelled.any():
        return None
    table = inputs.calibration.set_index("stream")
    return {
        stream: {k: _number(v) for k, v in row.items() if not (isinstance(v, float) and math.isnan(v))}
        for stream, row in table.iterrows()
    } | {"bins": calibration.ECE_BINS, "folds": calibration.FOLDS}


def slices_section(inputs: ReportInputs) -> dict[str, Any] | None:
    """``<field>.<value>.{n, rgb, pose, fused}`` (and ``<stream>_ci``) for every metadata field."""
    if not inputs.labelled.any():
        return None
    meta = inputs.sample_metadata
    out: dict[str, Any] = {}
    for name in slices.slice_fields(meta):
        table = slices.slice_accuracy(
            meta[name], inputs.run.labels, inputs.correct, inputs.resamples, inputs.seed, inputs.confidence
        )
        out[name] = {
            str(row["value"]): {"n": int(row["n"])}
            | {s: _number(row[s]) for s in STREAMS}
            | {f"{s}_ci": [_number(row[f"{s}_low"]), _number(row[f"{s}_high"])] for s in STREAMS}
            for _, row in table.iterrows()
        }
    return out or None


def likely_label_errors_section(inputs: ReportInputs) -> list[str] | None:
    """Sample ids whose three streams agree confidently on another class than the label, best first."""
    if not inputs.labelled.any():
        return None
    table = label_errors.likely_label_errors(inputs.run.sample_ids, inputs.run.labels, inputs.logits)
    return table["sample_id"].head(inputs.list_length).tolist()


def fusion_outcomes_section(inputs: ReportInputs) -> dict[str, Any] | None:
    """Counts of fusion rescues and breaks, and the first sample ids of each."""
    if not inputs.labelled.any():
        return None
    table = label_errors.fusion_outcomes(inputs.run.sample_ids, inputs.run.labels, inputs.logits)
    out: dict[str, Any] = {}
    for outcome, name in (("rescue", "rescues"), ("break", "breaks")):
        ids = table.loc[table["outcome"] == outcome, "sample_id"]
        out[name] = {"count": len(ids), "samples": ids.head(inputs.list_length).tolist()}
    return out


def attention_report_section(inputs: ReportInputs) -> dict[str, Any] | None:
    """Where the attention falls and what it buys (``attention_report.attention_report``); None when the run
    has no ``attention_measures.parquet``."""
    return attention_report(inputs.run)


Section = Callable[[ReportInputs], Any]
SECTIONS: dict[str, Section] = {
    "run": run_section,
    "streams": streams_section,
    "paired": paired_section,
    "compare": compare_section,
    "calibration": calibration_section,
    "slices": slices_section,
    "likely_label_errors": likely_label_errors_section,
    "fusion": fusion_outcomes_section,
    "attention": attention_report_section,
}


def build_report(inputs: ReportInputs, sections: dict[str, Section] | None = None) -> dict[str, Any]:
    """Every section that applies to the inputs, by name, in ``SECTIONS`` order."""
    report = {}
    for name, build in (sections or SECTIONS).items():
        value = build(inputs)
        if value is not None:
            report[name] = value
    return report


# --- text ------------------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "  n/a" if value is None else f"{value * 100:5.1f}"


def _ci(pair: list[float | None]) -> str:
    return "" if None in pair else f"[{pair[0] * 100:.1f}, {pair[1] * 100:.1f}]"


def _p(p: float) -> str:
    return f"{p:.3g}" if p >= 1e-4 else f"{p:.1e}"


def render_text(report: dict[str, Any]) -> str:
    """A readable summary of a ``build_report`` dict (sections it does not know are printed as key: value)."""
    lines: list[str] = []
    run = report.get("run", {})
    if run:
        boot = run["bootstrap"]
        lines += [
            f"run {run['path']}: {run['samples']} samples ({run['labelled']} labelled), {run['classes']} classes",
            f"intervals: {boot['confidence'] * 100:.0f} % percentile bootstrap, {boot['resamples']} resamples, "
            f"seed {boot['seed']}",
        ]
    if "streams" in report:
        lines += [
            "",
            f"{'stream':<7} {'top-1':>5} {'(CI)':<14} {'top-5':>5} {'mean cl.':>8} {'ECE':>6} {'NLL':>6}",
        ]
        for stream, s in report["streams"].items():
            ece = "  n/a" if s["ece"] is None else f"{s['ece']:6.3f}"
            nll = "  n/a" if s["nll"] is None else f"{s['nll']:6.3f}"
            lines.append(
                f"{stream:<7} {_pct(s['top1'])} {_ci(s['top1_ci']):<14} {_pct(s['top5'])} "
                f"{_pct(s['mean_class']):>8} {ece} {nll}"
            )
    if "paired" in report:
        lines += ["", "paired, exact McNemar (a only / b only = samples only that one gets right):"]
        for pair, t in report["paired"].items():
            a, b = pair.split("_vs_")
            lines.append(
                f"  {a} vs {b}: {a} only {t['a_only']}, {b} only {t['b_only']}, p = {_p(t['mcnemar_p'])}"
            )
    if "compare" in report:
        c = report["compare"]
        lines += ["", f"compared with {c['run']}: {c['matched']} samples matched by id"
                  f" ({c['only_in_run']} only in this run, {c['only_in_compare']} only in the other,"
                  f" {c['label_mismatch']} with different labels left out)"]  # fmt: skip
        for stream in STREAMS:
            t = c[stream]
            lines.append(
                f"  {stream}: top-1 {_pct(t['top1_a'])} vs {_pct(t['top1_b'])}; this only {t['a_only']}, "
                f"other only {t['b_only']}, p = {_p(t['mcnemar_p'])}"
            )
    if "calibration" in report:
        cal = report["calibration"]
        lines += ["", f"calibration ({cal['bins']} bins; temperature cross-validated in {cal['folds']} folds "
                  "on this run, which is optimistic):"]  # fmt: skip
        for stream in STREAMS:
            c = cal[stream]
            lines.append(
                f"  {stream}: ECE {c['ece']:.3f} -> {c['ece_calibrated']:.3f}, NLL {c['nll']:.3f} -> "
                f"{c['nll_calibrated']:.3f} at T = {c['temperature']:.2f}"
            )
        if "fused_calibrated" in cal:
            c = cal["fused_calibrated"]
            lines.append(f"  fused of calibrated streams: top-1 {_pct(c['top1'])}, ECE {c['ece']:.3f}")
    for name, values in report.get("slices", {}).items():
        lines += ["", f"slices by {name}:", f"  {'value':<10} {'n':>6} {'rgb':>5} {'pose':>5} {'fused':>5}"]
        for value, s in values.items():
            lines.append(f"  {value:<10} {s['n']:>6} {_pct(s['rgb'])} {_pct(s['pose'])} {_pct(s['fused'])}")
    if "likely_label_errors" in report:
        ids = report["likely_label_errors"]
        lines += ["", f"likely label errors ({len(ids)} listed): {', '.join(ids) if ids else 'none'}"]
    if "fusion" in report:
        for name, f in report["fusion"].items():
            lines.append(
                f"fusion {name}: {f['count']}"
                + (f" (e.g. {', '.join(f['samples'][:5])})" if f["samples"] else "")
            )
    if "attention" in report:
        lines += [
            "",
            "attention:",
            *(f"  {line}" for line in format_attention_report(report["attention"]).split("\n")),
        ]
    for name, value in report.items():
        if name not in SECTIONS:
            lines += ["", f"{name}: {value}"]
    return "\n".join(lines) + "\n"
