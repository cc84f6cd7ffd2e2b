"""Cost of the statistics behind `epam report` and the Statistics / Slices / Calibration pages on an NTU RGB+D
120 sized run (50,919 clips x 120 classes, NTU sample ids), and the server-side time of each page (AppTest).

    .venv/bin/python benchmarks/bench_statistics.py [--samples 50919] [--classes 120] [--repeats 3] [--no-pages]

Prints a Markdown table of median wall times. The bootstrap row is compared with the textbook bootstrap that
indexes the samples (B x S fancy indexing), measured on 100 resamples and scaled to 1,000.
"""

from __future__ import annotations

import argparse
import os
import statistics as stats
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from epam_core.analysis import calibration, label_errors, slices, statistics
from epam_core.analysis.report import statistics_tables
from epam_core.analysis.run_report import ReportInputs, build_report
from epam_core.data.class_names import get_class_names
from epam_core.runs.format import STREAMS, new_manifest, predictions_frame, read_run, write_run


def ntu_like_run(out: Path, samples: int, classes: int, seed: int = 0) -> Path:
    """A run with NTU ids (setups 1-32, cameras 1-3, performers 1-106), RGB weaker on camera 3."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, samples)
    setup, camera, performer = (
        rng.integers(1, 33, samples),
        rng.integers(1, 4, samples),
        rng.integers(1, 107, samples),
    )
    ids = [f"S{s:03d}C{c:03d}P{p:03d}R{i % 2 + 1:03d}A{a + 1:03d}_{i}"
           for i, (s, c, p, a) in enumerate(zip(setup, camera, performer, labels, strict=True))]  # fmt: skip
    rgb = rng.normal(size=(samples, classes)).astype(np.float32) * 2
    pose = rng.normal(size=(samples, classes)).astype(np.float32) * 2
    rgb[np.arange(samples), labels] += np.where(camera == 3, 3.0, 5.0)
    pose[np.arange(samples), labels] += 5.5
    names = get_class_names("ntu120")[:classes] if classes <= 120 else [f"c{i}" for i in range(classes)]
    manifest = new_manifest(source="bench_statistics", class_names=names, num_samples=samples)
    return write_run(out, manifest, predictions_frame(ids, labels, rgb, pose))


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Median wall seconds."""
    return timed_both(fn, repeats)[0]


def timed_both(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median (wall, CPU) seconds; CPU time moves less than wall time on a shared machine."""
    walls, cpus = [], []
    for _ in range(repeats):
        tic, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - tic)
        cpus.append(time.process_time() - cpu)
    return stats.median(walls), stats.median(cpus)


def naive_bootstrap(correct: np.ndarray, resamples: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return correct[rng.integers(0, correct.size, (resamples, correct.size))].mean(axis=1)


def page_times(run_dir: Path) -> list[tuple[str, float, float]]:
    """(page, first open, a rerun) seconds of each new page with the AppTest runner (server side, no browser)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["EPAM_RUNS_DIR"] = str(run_dir.parent)
    app = str(Path(__file__).resolve().parents[1] / "dashboard" / "streamlit_app.py")
    rows = []
    st.cache_data.clear()
    at = AppTest.from_file(app, default_timeout=600)
    at.session_state["_run_name"] = run_dir.name
    tic = time.perf_counter()
    at.run()
    rows.append(("overview (cold: reads the run)", time.perf_counter() - tic, timed(at.run, 3)))
    for page in ("statistics", "slices", "calibration"):
        tic = time.perf_counter()
        at.switch_page(f"app_pages/{page}.py").run()
        first = time.perf_counter() - tic
        assert not at.exception, at.exception
        rows.append((page, first, timed(at.run, 3)))
    at.switch_page("app_pages/slices.py").run()
    at.session_state["slice_field"] = "performer"
    rows.append(("slices: switch field to performer", timed(at.run, 1), timed(at.run, 3)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50919)
    parser.add_argument("--classes", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-pages", action="store_true", help="skip the AppTest page timings")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = read_run(ntu_like_run(Path(tmp) / "ntu", args.samples, args.classes))
        logits = {s: run.logits(s) for s in STREAMS}
        labels, k = run.labels, run.num_classes
        right = logits["fused"].argmax(1) == labels
        meta = slices.run_metadata(run)
        correct = slices.correct_by_stream(run)
        rows = [
            ("bootstrap CIs: top-1, top-5, mean class x 3 streams, 1,000 resamples",
             lambda: statistics.stream_intervals(logits, labels, k)),
            ("bootstrap top-1 of one stream, 1,000 resamples (from counts)", lambda: statistics.accuracy_interval(right)),
            ("  same, textbook (index B x S), 100 resamples x 10", lambda: naive_bootstrap(right, 100)),
            ("exact McNemar x 3 pairs", lambda: [statistics.mcnemar_exact(right, logits[s].argmax(1) == labels) for s in ("rgb", "pose")]),
            ("calibration: ECE, NLL, CV temperature x 3 streams + fused", lambda: calibration.calibrate_run(logits, labels, (1.0, 1.0))),
            ("metadata parsed from 50k NTU ids", lambda: slices.run_metadata(run)),
            ("slices: 4 fields x 3 streams with CIs", lambda: [slices.slice_accuracy(meta[f], labels, correct) for f in slices.slice_fields(meta)]),
            ("slice x class matrix (performer x 120)", lambda: slices.slice_class_accuracy(meta["performer"], labels, correct["fused"], k)),
            ("likely label errors + fusion rescues/breaks", lambda: (label_errors.likely_label_errors(run.sample_ids, labels, logits), label_errors.fusion_outcomes(run.sample_ids, labels, logits))),
            ("`epam report` sections (build_report, run already read)", lambda: build_report(ReportInputs(run))),
            ("exported statistics tables (run_tables extras)", lambda: statistics_tables(run)),
        ]  # fmt: skip
        print(
            f"{args.samples} samples x {k} classes, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
        )
        print("| what | median wall s | median CPU s |\n|---|---|---|")
        for name, fn in rows:
            wall, cpu = timed_both(fn, args.repeats)
            scale = 10 if "textbook" in name else 1
            print(f"| {name} | {wall * scale:.3f} | {cpu * scale:.3f} |", flush=True)
        if not args.no_pages:
            print("\n| page (AppTest, server side) | first open s | rerun s |\n|---|---|---|")
            for page, first, rerun in page_times(run.path):
                print(f"| {page} | {first:.2f} | {rerun:.2f} |", flush=True)
        print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
