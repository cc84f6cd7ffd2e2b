"""The dashboard at real-dataset scale (issue 10): `epam dashboard` as a user starts it, timed in headless Chromium.

Writes a realistic run of the chosen size and a second one to compare with (benchmarks/scale_run.py; written
once into --work and reused while the run format's schema version is the same), starts
`.venv/bin/epam dashboard --runs DIR --port P` as a subprocess (its own process group, always killed at the
end), and measures with Playwright in Debian Chromium: cold start to a rendered Overview, every page of
dashboard/streamlit_app.py's PAGES (first visit and again), fusion-slider steps, every control of the
Confusion page, a cell click until its samples are listed, opening one of them on the Sample page, picking
a sample id there, a PDF download on the Export page, switching the compare run, and the server's peak RSS
(/proc of its process group, sampled every 0.1 s). Widgets are found by their label text; a control that
is not there gives an "n/a" row instead of a crash.

    .venv/bin/python benchmarks/bench_dashboard_scale.py                     # NTU-120 x-sub: 50,919 x 120
    .venv/bin/python benchmarks/bench_dashboard_scale.py --preset k400       # 20,000 x 400 (class_000...)
    .venv/bin/python benchmarks/bench_dashboard_scale.py --preset demo       # the bundled checkpoints/runs
    .venv/bin/python benchmarks/bench_dashboard_scale.py --samples 5000 --classes 120 --repeat 1
    ... --server-only    # the same page scripts in-process through streamlit.testing AppTest (server time)
    ... --out FILE.md    # also write the table as Markdown
    ... --only confusion # after the first open, only the Confusion page: opening it, its controls, a click
    ... --after-warm-up  # open the browser once the server has logged its warm-up done (the first open a
                         # user sees who opens the page a few seconds after `epam dashboard` started)

Browser times run from the user's action (key press, click, Enter) to the end of the rerun it caused: the
app's script state back to notRunning, no skeleton left, and the next animation frame (the charts drawn);
a page switch also waits for its URL. These are in-browser clocks (performance.now), not Python's.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "benchmarks"), str(REPO)]

from scale_run import Targets, write_scale_run  # noqa: E402 - after the sys.path line

from epam_core.runs import format as run_format  # noqa: E402

APP = REPO / "dashboard" / "streamlit_app.py"
EPAM = REPO / ".venv" / "bin" / "epam"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]  # fmt: skip  (as tests/e2e/conftest.py; see /work/shared/docs/dashboard_notes.md §2)
PRESETS = {"ntu120": (50_919, 120), "k400": (20_000, 400), "demo": (None, None)}
# goals of issue 10 (medians)
GOAL_INTERACTION_BROWSER, GOAL_INTERACTION_SERVER = 0.5, 0.15
GOAL_PAGE, GOAL_FIRST_OPEN, GOAL_RSS_GB = 1.5, 4.0, 1.5

# Every change of the app's script state, stamped with the page's clock (installed before any page script).
RECORDER = """
window.__epamLog = [];
new MutationObserver((changes) => {
  for (const c of changes) {
    if (c.target.getAttribute && c.target.getAttribute('data-testid') === 'stApp') {
      window.__epamLog.push([performance.now(), c.target.getAttribute('data-test-script-state')]);
    }
  }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-test-script-state']});
"""
# Polled on every animation frame: the time once a rerun that began after t0 has finished and been drawn.
RERUN_DONE = """
({t0, path, text}) => {
  const app = document.querySelector('[data-testid=stApp]');
  if (!app || app.getAttribute('data-test-connection-state') !== 'CONNECTED') return false;
  if (app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-testid=stSkeleton]')) return false;
  if (!(window.__epamLog || []).some(([t]) => t >= t0)) return false;
  if (path !== null && location.pathname.replace(/\\/+$/, '') !== path) return false;
  if (text !== null) {
    const main = document.querySelector('[data-testid=stMain]');
    if (!main || !main.innerText.includes(text)) return false;
  }
  return performance.now();
}
"""
# The confusion matrix (the plotly chart whose first trace is square markers, SVG or WebGL): its most
# confused off-diagonal cell, where it is on the chart (pixels from the chart's corner), and its classes
# (ids from customdata (true id, predicted id, ...) when there is one, else the names on the axes).
WORST_CELL = """
() => {
  const charts = [...document.querySelectorAll('[data-testid=stMain] .js-plotly-plot')];
  const chart = charts.findIndex((gd) => {
    const d = gd._fullData && gd._fullData[0];
    return d && d.x && d.y && d.marker && d.marker.color && d.marker.symbol === 'square';
  });
  if (chart < 0) return null;
  const gd = charts[chart], d = gd._fullData[0], colour = d.marker.color, cd = d.customdata;
  const ids = (i) => !cd ? null : (typeof cd[0] === 'number' ? [cd[3 * i], cd[3 * i + 1]] : [cd[i][0], cd[i][1]]);
  let best = -1, value = -Infinity;
  for (let i = 0; i < d.x.length; i++) {
    const id = ids(i), off = id ? Number(id[0]) !== Number(id[1]) : d.x[i] !== d.y[i];
    if (off && colour[i] > value) { value = colour[i]; best = i; }
  }
  if (best < 0) return null;
  const at = (ax, v) => ax._offset + (ax.d2p ? ax.d2p(v) : ax.l2p(ax.d2l(v)));
  const id = ids(best);
  return {chart, x: at(gd._fullLayout.xaxis, d.x[best]), y: at(gd._fullLayout.yaxis, d.y[best]),
          true_id: id ? Number(id[0]) : null, pred_id: id ? Number(id[1]) : null,
          true_name: String(d.y[best]), pred_name: String(d.x[best])};
}
"""


class Timing(float):
    """Seconds of one browser measurement, with where they went: (until the script started, script running
    as the browser sees it (server time plus messages), drawing after it finished)."""

    parts: tuple[float, float, float] | None = None


class NotMeasured(Exception):
    """A step that could not be measured (control missing, time-out); its row says why."""


@dataclass
class Results:
    """Seconds (or GB) per row, in the order rows were first recorded, with a goal and a reason when n/a."""

    rows: dict[str, list[float]] = field(default_factory=dict)
    goals: dict[str, float | None] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    parts: dict[str, list[tuple[float, float, float]]] = field(default_factory=dict)

    def add(self, what: str, goal: float | None, value: float | None, why: str = "", unit: str = "s") -> None:
        self.rows.setdefault(what, [])
        self.goals[what], self.units[what] = goal, unit
        if value is None:
            self.missing.setdefault(what, why)
        else:
            self.rows[what].append(float(value))
            if getattr(value, "parts", None) is not None:
                self.parts.setdefault(what, []).append(value.parts)

    def measure(self, what: str, goal: float | None, step: Callable[[], float]) -> float | None:
        try:
            value = step()
        except NotMeasured as err:
            self.add(what, goal, None, str(err))
            return None
        except Exception as err:  # a Playwright time-out or a detached element: the row says so
            self.add(what, goal, None, f"{type(err).__name__}: {str(err).splitlines()[0][:120]}")
            return None
        self.add(what, goal, value)
        return value

    def table(self) -> str:
        lines = ["| what | median s | max s | goal | met? |", "|---|---|---|---|---|"]
        for what, values in self.rows.items():
            goal, unit = self.goals[what], self.units[what]
            goal_text = "—" if goal is None else f"≤ {goal:g} {unit}"
            if not values:
                lines.append(
                    f"| {what} | n/a ({self.missing.get(what, 'not measured')}) | | {goal_text} | — |"
                )
                continue
            med, top = statistics.median(values), max(values)
            fmt = (lambda v: f"{v:.2f} GB") if unit == "GB" else (lambda v: f"{v:.3f}")
            met = "—" if goal is None else ("yes" if med <= goal else "**no**")
            extra = f" ({len(values)} ok, failed: {self.missing[what]})" if what in self.missing else ""
            lines.append(f"| {what} | {fmt(med)}{extra} | {fmt(top)} | {goal_text} | {met} |")
        return "\n".join(lines)

    def breakdown(self) -> str:
        """Where the browser time went, medians per row (from the app's script-state changes)."""
        if not self.parts:
            return ""
        lines = [
            "| what | until the script started s | script running s | drawing after s |",
            "|---|---|---|---|",
        ]
        for what, parts in self.parts.items():
            cols = [statistics.median(p[i] for p in parts) for i in range(3)]
            lines.append(f"| {what} | " + " | ".join(f"{c:.3f}" for c in cols) + " |")
        return "\n".join(lines)


# --- runs ------------------------------------------------------------------------------------------------


def prepare_runs(work: Path, samples: int, classes: int, regenerate: bool) -> tuple[Path, str, str]:
    """(runs directory, run name, compare-run name): two runs of the same clips, written once per schema."""
    root = work / f"runs_{samples}x{classes}"
    specs = {
        "scale_a": (Targets(0.85, 0.82, 0.90), 0),
        "scale_b": (Targets(0.84, 0.835, 0.895), 1),  # another model on the same test split
    }
    for name, (targets, seed) in specs.items():
        out = root / name
        manifest = out / run_format.MANIFEST
        if out.exists() and not (
            manifest.is_file()
            and "benchmarks/scale_run.py" in json.loads(manifest.read_text()).get("source", "")
        ):
            sys.exit(f"error: {out} exists and was not written by this benchmark; choose another --work")
        fresh = (
            manifest.is_file()
            and json.loads(manifest.read_text()).get("schema_version") == run_format.SCHEMA_VERSION
            and not regenerate
        )
        if fresh:
            print(f"reusing {out}", flush=True)
            continue
        tic = time.perf_counter()
        write_scale_run(out, samples, classes, targets, seed=seed, overwrite=True)
        print(f"wrote {out} ({samples} x {classes}) in {time.perf_counter() - tic:.1f} s", flush=True)
    return root, "scale_a", "scale_b"


def app_pages() -> list[dict[str, str | bool]]:
    """The pages of streamlit_app.py's PAGES (path, title, url_path, default), read from its source; pages
    with ``visibility="hidden"`` (no link in the sidebar, e.g. a second URL of a page) are left out."""
    pages = []
    for node in ast.walk(ast.parse(APP.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "Page" and node.args:
            kw = {
                k.arg: ast.literal_eval(k.value) for k in node.keywords if isinstance(k.value, ast.Constant)
            }
            path = ast.literal_eval(node.args[0])
            if kw.get("visibility") == "hidden":
                continue
            pages.append(
                {
                    "path": path,
                    "title": kw.get("title", Path(path).stem),
                    "url_path": kw.get("url_path", Path(path).stem),
                    "default": bool(kw.get("default", False)),
                }
            )
    return pages


# --- the server ------------------------------------------------------------------------------------------


class PeakRss(threading.Thread):
    """Peak resident memory of a process group: the largest process and the sum, sampled every 0.1 s."""

    def __init__(self, pgid: int):
        super().__init__(daemon=True)
        self.pgid, self.largest, self.total = pgid, 0, 0
        self._halt = threading.Event()

    @staticmethod
    def group_rss(pgid: int) -> list[int]:
        sizes = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[2]) != pgid:  # fields after "(comm)": state ppid pgrp
                    continue
                status = Path(f"/proc/{entry.name}/status").read_text()
                sizes.append(int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024)
            except (OSError, AttributeError, IndexError, ValueError):
                continue  # the process ended meanwhile, or a kernel thread without VmRSS
        return sizes

    def run(self) -> None:
        while not self._halt.wait(0.1):
            sizes = self.group_rss(self.pgid)
            if sizes:
                self.largest, self.total = max(self.largest, max(sizes)), max(self.total, sum(sizes))

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def dashboard_server(
    runs: Path, port: int, log: Path, timeout: float
) -> Iterator[tuple[str, float, PeakRss]]:
    """`epam dashboard --runs RUNS --port PORT` in its own process group: (URL, seconds to healthy, RSS)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    command = [str(EPAM), "dashboard", "--runs", str(runs), "--port", str(port)]
    tic = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    rss = PeakRss(proc.pid)
    rss.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"`{' '.join(command)}` exited with {proc.returncode}; see {log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard was not healthy after {timeout:.0f} s; see {log}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                    if r.read() == b"ok":
                        break
            except OSError:
                time.sleep(0.1)
        yield url, time.perf_counter() - tic, rss
    finally:  # the whole process group (epam, streamlit and anything they started), whatever happened
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        deadline = time.monotonic() + 5
        while PeakRss.group_rss(proc.pid) and time.monotonic() < deadline:  # streamlit outliving epam
            time.sleep(0.2)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        rss.stop()


# --- the browser -----------------------------------------------------------------------------------------


class Browser:
    """One Chromium tab on the dashboard, with the rerun recorder installed."""

    def __init__(self, page, url: str, timeout: float):
        self.page, self.url, self.timeout_ms = page, url, timeout * 1000
        page.add_init_script(RECORDER)

    def now(self) -> float:
        return self.page.evaluate("() => performance.now()")

    def wait_rerun(self, t0: float, path: str | None = None, text: str | None = None) -> Timing:
        """Seconds from browser time ``t0`` until a rerun that began after it has finished (and stays
        finished), with its parts."""
        start = t0
        while True:
            handle = self.page.wait_for_function(
                RERUN_DONE, arg={"t0": t0, "path": path, "text": text}, polling="raf", timeout=self.timeout_ms
            )
            end = handle.json_value()
            self.page.wait_for_timeout(
                250
            )  # a script that reruns itself (st.rerun, switch_page) starts again
            again = self.page.evaluate(
                "(end) => (window.__epamLog || []).some(([t, s]) => t > end && s !== 'notRunning')", end
            )
            if not again:
                states = [
                    e for e in self.page.evaluate("() => window.__epamLog || []") if start <= e[0] <= end
                ]
                finished = max((t for t, state in states if state == "notRunning"), default=end)
                began = min((t for t, _ in states), default=start)
                timing = Timing((end - start) / 1000)
                timing.parts = ((began - start) / 1000, (finished - began) / 1000, (end - finished) / 1000)
                return timing
            t0 = end

    def timed(self, action: Callable[[], None], path: str | None = None, text: str | None = None) -> Timing:
        """Seconds from ``action`` (a click or key press) to the end of the rerun it caused."""
        t0 = self.now()
        action()
        return self.wait_rerun(t0, path, text)

    def goto(self, path: str = "", query: str = "") -> float:
        """Open a URL in this tab (a new session): seconds until its first run has finished and been drawn."""
        tic = time.perf_counter()
        self.page.goto(f"{self.url}/{path}{query}", timeout=self.timeout_ms)
        self.wait_rerun(0.0)
        return time.perf_counter() - tic

    def widget(self, test_id: str, label: str):
        """The first widget of ``test_id`` labelled ``label`` (or ``label (...)``); NotMeasured if none."""
        return self.widget_matching(test_id, rf"^\s*{re.escape(label)}(\s*\(.*\))?\s*$")

    def widget_matching(self, test_id: str, pattern: str):
        """The first widget of ``test_id`` whose label matches the regular expression ``pattern``."""
        labels = self.page.get_by_test_id("stWidgetLabel").filter(has_text=re.compile(pattern))
        found = self.page.get_by_test_id(test_id).filter(has=labels)
        if found.count() == 0:
            raise NotMeasured("control not found")
        return found.first

    def pick(self, box, option: str | None = None, typed: str | None = None) -> tuple[float, str, str]:
        """Choose ``option`` (default: the next one) in a selectbox, typing ``typed`` first to filter it;
        (seconds, option chosen, option before)."""
        combo = box.get_by_role("combobox")
        before = combo.input_value()
        combo.click()
        if typed is not None:
            combo.fill(typed)
        options = self.page.get_by_role("option")
        options.first.wait_for(timeout=10_000)
        texts = [t.strip() for t in options.all_inner_texts()]
        if option is None:
            others = [t for t in texts if t != before]
            if not others:
                self.page.keyboard.press("Escape")
                raise NotMeasured("no other option to choose")
            option = others[0]
        elif typed is not None:
            option = next((t for t in texts if t.startswith(option)), None)
            if option is None:
                self.page.keyboard.press("Escape")
                raise NotMeasured(f"option {typed!r} not offered")
        if option not in texts:
            self.page.keyboard.press("Escape")
            raise NotMeasured(f"option {option!r} not offered")
        target = options.nth(texts.index(option))
        return self.timed(target.click), option, before

    def nav(self, page: dict) -> float:
        """Switch page with the sidebar's navigation link (as a user does; same session)."""
        links = self.page.get_by_test_id("stSidebarNavLink").filter(
            has=self.page.get_by_text(str(page["title"]), exact=True)
        )
        if links.count() == 0:
            raise NotMeasured("navigation link not found")
        path = "" if page["default"] else f"/{page['url_path']}"
        if self.page.evaluate("() => location.pathname.replace(/\\/+$/, '')") == path:
            raise NotMeasured("already on that page (a click would not rerun)")
        return self.timed(links.first.click, path=path)

    def go(self, page: dict, run: str) -> None:
        """To ``page`` by its link, or by its URL (a new session) when the link cannot be used."""
        try:
            self.nav(page)
        except Exception:
            self.goto("" if page["default"] else str(page["url_path"]), f"?run={run}")

    def errors(self) -> list[str]:
        boxes = self.page.locator(
            "[data-testid=stMain] [data-testid=stException], [data-testid=stMain] .stAlert"
        )
        texts = [t.replace("\n", " ")[:160] for t in boxes.all_inner_texts()]
        return [t for t in texts if re.search(r"error|cannot|failed|Traceback", t, re.I)]


def confusion_controls(b: Browser, res: Results, filter_text: str) -> None:
    """Every control of the Confusion page changed and changed back (two samples per control)."""
    for label, test_id in (("Show", "stRadio"), ("Stream", "stSelectbox"), ("Normalise", "stSelectbox"),
                           ("Order classes", "stSelectbox")):  # fmt: skip
        what = f"Confusion: {label.lower()} ({'radio' if test_id == 'stRadio' else 'selectbox'})"

        def change(label: str = label, test_id: str = test_id, what: str = what) -> float:
            box = b.widget(test_id, label)
            if test_id == "stRadio":
                radios = box.get_by_role("radio")
                checked = [radios.nth(i).is_checked() for i in range(radios.count())]
                if len(checked) < 2:
                    raise NotMeasured("one option only")
                other = checked.index(False)
                labels = box.locator("label").filter(has=b.page.get_by_role("radio"))
                seconds = b.timed(labels.nth(other).click)
                res.add(what, GOAL_INTERACTION_BROWSER, seconds)
                return b.timed(b.widget(test_id, label).locator("label").filter(
                    has=b.page.get_by_role("radio")).nth(checked.index(True)).click)  # fmt: skip
            seconds, _, before = b.pick(box)
            res.add(what, GOAL_INTERACTION_BROWSER, seconds)
            return b.pick(b.widget(test_id, label), option=before)[0]

        res.measure(what, GOAL_INTERACTION_BROWSER, change)

    what = f"Confusion: filter classes ({filter_text!r}, then cleared)"

    def filter_classes() -> float:
        box = b.widget("stTextInput", "Filter classes").locator("input")
        box.fill(filter_text)
        res.add(what, GOAL_INTERACTION_BROWSER, b.timed(lambda: box.press("Enter")))
        box = b.widget("stTextInput", "Filter classes").locator("input")
        box.fill("")
        return b.timed(lambda: box.press("Enter"))

    res.measure(what, GOAL_INTERACTION_BROWSER, filter_classes)
    what = "Confusion: toggle show numbers (on, then off)"

    def numbers() -> float:
        res.add(
            what,
            GOAL_INTERACTION_BROWSER,
            b.timed(b.widget("stCheckbox", "Show numbers").locator("label").click),
        )
        return b.timed(b.widget("stCheckbox", "Show numbers").locator("label").click)

    res.measure(what, GOAL_INTERACTION_BROWSER, numbers)


def confusion_only(
    b: Browser, res: Results, args: argparse.Namespace, pages: list[dict], names: list[str]
) -> None:
    """``--only confusion``: open the Confusion page (first visit, then again from the Overview), its
    controls, and a cell click until its samples are listed."""
    default = next((p for p in pages if p["default"]), pages[0])
    confusion = next(p for p in pages if p["url_path"] == "confusion")
    for visit in ("first visit", "again"):
        res.measure(f"open Confusion ({visit})", GOAL_PAGE, lambda: b.nav(confusion))
        if visit == "first visit":
            res.notes += [f"seen on Confusion: {e}" for e in b.errors()]
            b.nav(default)
    confusion_controls(b, res, args.filter_text)
    res.measure("Confusion: click a cell → its samples listed", GOAL_INTERACTION_BROWSER,
                lambda: click_worst_cell(b, names))  # fmt: skip


def click_worst_cell(b: Browser, class_names: list[str]) -> float:
    """Click the most confused off-diagonal cell until the listing of its samples is shown."""
    cell = b.page.evaluate(WORST_CELL)
    if cell is None:
        raise NotMeasured("control not found: no confusion matrix of square markers")
    if cell["true_id"] is not None:
        true_name, pred_name = class_names[cell["true_id"]], class_names[cell["pred_id"]]
    else:
        true_name, pred_name = cell["true_name"], cell["pred_name"]
    chart = b.page.locator("[data-testid=stMain] .js-plotly-plot").nth(cell["chart"])
    return b.timed(
        lambda: chart.click(position={"x": cell["x"], "y": cell["y"]}, force=True),
        text=f"of {true_name} predicted as {pred_name}",
    )


def browser_session(
    args: argparse.Namespace, runs: Path, run: str, compare: str | None, res: Results, rep: int
) -> None:
    """One server start and one pass over every measurement."""
    from playwright.sync_api import sync_playwright

    pages = app_pages()
    default = next((p for p in pages if p["default"]), pages[0])
    class_names = json.loads((runs / run / run_format.MANIFEST).read_text())["class_names"]
    log = args.work / f"streamlit-{rep}.log"
    launched = time.perf_counter()
    with dashboard_server(runs, args.port or free_port(), log, args.timeout) as (url, healthy, rss):
        res.add("server start (`epam dashboard` → health check ok)", None, healthy)
        if args.after_warm_up:  # dashboard.warmup's one line: done, or skipped with the reason
            deadline = time.monotonic() + args.timeout
            while not re.search(r"warm-up (done|skipped)", log.read_text()) and time.monotonic() < deadline:
                time.sleep(0.05)
            res.add("server warm-up (launch → 'warm-up done' logged)", None, time.perf_counter() - launched)
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                page = chromium.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
                b = Browser(page, url, args.timeout)
                first = res.measure(
                    "first open of the run: Overview rendered (browser, cold caches)",
                    GOAL_FIRST_OPEN,
                    lambda: b.goto("", f"?run={run}"),
                )
                if first is not None:
                    res.add("cold start: launch → Overview rendered", None, time.perf_counter() - launched)
                res.notes += [f"seen on Overview: {e}" for e in b.errors()]
                if args.only == "confusion":
                    confusion_only(b, res, args, pages, class_names)
                    return

                def slider_steps() -> float:
                    box = b.widget("stSlider", "α").get_by_role("slider")
                    times = []
                    for _ in range(args.steps):
                        box.focus()
                        times.append(b.timed(lambda: b.page.keyboard.press("ArrowRight")))
                    for t in times[:-1]:
                        res.add("Overview: one fusion-slider step", GOAL_INTERACTION_BROWSER, t)
                    return times[-1]

                res.measure("Overview: one fusion-slider step", GOAL_INTERACTION_BROWSER, slider_steps)

                others = [p for p in pages if p is not default]
                for visit in ("first visit", "again"):
                    for pg in [*others, default] if visit == "first visit" else [default, *others]:
                        if visit == "first visit" and pg is default:
                            continue  # opened cold above
                        res.measure(f"open {pg['title']} ({visit})", GOAL_PAGE, lambda pg=pg: b.nav(pg))
                        if visit == "first visit":
                            res.notes += [f"seen on {pg['title']}: {e}" for e in b.errors()]

                confusion = next((p for p in pages if p["url_path"] == "confusion"), None)
                try:
                    if confusion is not None:
                        b.go(confusion, run)
                except Exception as err:  # neither its link nor its URL: the Confusion rows stay empty
                    res.notes.append(f"Confusion page not reached: {type(err).__name__}: {err}")
                    confusion = None
                if confusion is not None:
                    confusion_controls(b, res, args.filter_text)
                    clicked = res.measure("Confusion: click a cell → its samples listed", GOAL_INTERACTION_BROWSER,
                                          lambda: click_worst_cell(b, class_names))  # fmt: skip

                    def open_sample() -> float:
                        if clicked is None:
                            raise NotMeasured("no cell listing")
                        button = b.page.get_by_test_id("stButton").filter(has_text="Open on the Sample page")
                        if button.count() == 0:
                            raise NotMeasured("control not found")
                        return b.timed(button.first.click, path="/sample")

                    res.measure(
                        "Sample page for a chosen sample (button under the cell listing)",
                        GOAL_PAGE,
                        open_sample,
                    )

                sample = next((p for p in pages if p["url_path"] == "sample"), None)
                if sample is not None and args.sample_id:

                    def pick_sample() -> float:
                        if not b.page.url.rstrip("/").split("?")[0].endswith("/sample"):
                            b.go(sample, run)
                        try:  # a box to type any id into (runs of any size), else the selectbox
                            box = b.widget_matching("stTextInput", r"sample id").locator("input")
                        except NotMeasured:
                            box = None
                        if box is not None:
                            box.fill(args.sample_id)
                            return b.timed(lambda: box.press("Enter"))
                        return b.pick(
                            b.widget("stSelectbox", "Sample"), option=args.sample_id, typed=args.sample_id
                        )[0]

                    res.measure(
                        f"Sample: choose {args.sample_id} (typed id, or the selectbox)",
                        GOAL_INTERACTION_BROWSER,
                        pick_sample,
                    )

                export = next((p for p in pages if p["url_path"] == "export"), None)
                if export is not None:

                    def download() -> float:
                        b.go(export, run)
                        button = b.page.get_by_test_id("stDownloadButton").filter(has_text="PDF")
                        if button.count() == 0:
                            raise NotMeasured("control not found")
                        tic = time.perf_counter()
                        with b.page.expect_download(timeout=b.timeout_ms) as info:
                            button.first.click()
                        info.value.path()  # until the file has arrived
                        return time.perf_counter() - tic

                    res.measure("Export: first figure as PDF (click → file downloaded)", None, download)

                what = "switch the compare run (sidebar, on the Overview; to it and back)"

                def switch_compare() -> float:
                    if compare is None:
                        raise NotMeasured("one run only")
                    b.go(default, run)
                    seconds, _, before = b.pick(b.widget("stSelectbox", "Compare with"), option=compare)
                    res.add(what, GOAL_INTERACTION_BROWSER, seconds)
                    return b.pick(b.widget("stSelectbox", "Compare with"), option=before)[0]

                res.measure(what, GOAL_INTERACTION_BROWSER, switch_compare)
            finally:
                chromium.close()
        time.sleep(0.3)  # a last RSS sample
        res.add("server peak RSS (largest process: streamlit)", GOAL_RSS_GB, rss.largest / 1e9, unit="GB")
        res.add("server peak RSS (process group: epam + streamlit)", None, rss.total / 1e9, unit="GB")


# --- in-process: the page scripts through AppTest --------------------------------------------------------


def choose_option(widget, option: int | str) -> None:
    """Select an AppTest selectbox's option by position or shown text, as the browser does (it sends the
    option's text). ``select_index`` would pass the text as the value, which breaks with a format_func."""
    index = option if isinstance(option, int) else list(widget.options).index(option)
    cls = type(widget)
    widget.__class__ = type(f"Chosen{cls.__name__}", (cls,), {"index": property(lambda self: index)})


def server_session(args: argparse.Namespace, runs: Path, run: str, compare: str | None, res: Results) -> None:
    """The same steps through streamlit.testing AppTest: script time only (no browser, no websocket)."""
    import resource

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["EPAM_RUNS_DIR"] = str(runs)
    st.cache_data.clear()
    st.cache_resource.clear()
    pages = app_pages()
    default = next((p for p in pages if p["default"]), pages[0])
    at = AppTest.from_file(str(APP), default_timeout=args.timeout)
    at.query_params["run"] = run

    def run_timed(change: Callable[[], object] | None = None) -> float:
        if change is not None:
            change()
        tic = time.perf_counter()
        at.run()
        seconds = time.perf_counter() - tic
        if at.exception:
            raise NotMeasured(f"exception: {at.exception[0].message[:100]}")
        return seconds

    def find(kind: str, label: str):
        found = [w for w in getattr(at, kind) if str(w.label).startswith(label)]
        if not found:
            raise NotMeasured("control not found")
        return found[0]

    def switch(pg: dict) -> float:
        return run_timed(lambda: at.switch_page(str(pg["path"])))

    res.measure("first open of the run: Overview script (cold caches)", GOAL_FIRST_OPEN, run_timed)

    def slider() -> float:
        times = []
        for _ in range(args.steps):
            w = find("slider", "α")
            times.append(
                run_timed(
                    lambda w=w: w.set_value(min(float(w.max), round(float(w.value) + float(w.step), 4)))
                )
            )
        for t in times[:-1]:
            res.add("Overview: one fusion-slider step", GOAL_INTERACTION_SERVER, t)
        return times[-1]

    res.measure("Overview: one fusion-slider step", GOAL_INTERACTION_SERVER, slider)
    others = [p for p in pages if p is not default]
    for visit in ("first visit", "again"):
        for pg in [*others, default] if visit == "first visit" else [default, *others]:
            if not (visit == "first visit" and pg is default):
                res.measure(f"open {pg['title']} ({visit})", GOAL_PAGE, lambda pg=pg: switch(pg))
    confusion = next((p for p in pages if p["url_path"] == "confusion"), None)
    if confusion is not None:
        switch(confusion)
        for label, kind in (("Show", "radio"), ("Stream", "selectbox"), ("Normalise", "selectbox"),
                            ("Order classes", "selectbox")):  # fmt: skip
            what = f"Confusion: {label.lower()} ({kind})"

            def change(label: str = label, kind: str = kind, what: str = what) -> float:
                w = find(kind, label)
                options = list(w.options)
                if len(options) < 2:
                    raise NotMeasured("one option only")
                before = int(w.index)
                other = (before + 1) % len(options)
                if kind == "selectbox":
                    res.add(what, GOAL_INTERACTION_SERVER, run_timed(lambda: choose_option(w, other)))
                    return run_timed(lambda: choose_option(find(kind, label), before))
                res.add(what, GOAL_INTERACTION_SERVER, run_timed(lambda: w.set_value(options[other])))
                return run_timed(lambda: find(kind, label).set_value(options[before]))

            res.measure(what, GOAL_INTERACTION_SERVER, change)
        what = f"Confusion: filter classes ({args.filter_text!r}, then cleared)"

        def filter_classes() -> float:
            res.add(
                what,
                GOAL_INTERACTION_SERVER,
                run_timed(lambda: find("text_input", "Filter classes").input(args.filter_text)),
            )
            return run_timed(lambda: find("text_input", "Filter classes").input(""))

        res.measure(what, GOAL_INTERACTION_SERVER, filter_classes)
        what = "Confusion: toggle show numbers (on, then off)"

        def numbers() -> float:
            w = find("toggle", "Show numbers")
            res.add(what, GOAL_INTERACTION_SERVER, run_timed(lambda: w.set_value(not w.value)))
            w = find("toggle", "Show numbers")
            return run_timed(lambda: w.set_value(not w.value))

        res.measure(what, GOAL_INTERACTION_SERVER, numbers)

        def cell() -> float:
            loaded = run_format.read_run(runs / run)
            preds = loaded.logits("fused").argmax(axis=1)
            k = loaded.num_classes
            counts = (loaded.labels * k + preds)[loaded.labels != preds]
            true_id, pred_id = divmod(int(__import__("numpy").bincount(counts, minlength=k * k).argmax()), k)

            def inject() -> None:
                at.session_state["cm_cell"] = (true_id, pred_id)

            seconds = run_timed(inject)
            if not any("samples" in m.value for m in at.markdown):
                raise NotMeasured("no listing after setting the cell")
            return seconds

        res.measure(
            "Confusion: a cell chosen (session state) → its samples listed", GOAL_INTERACTION_SERVER, cell
        )
    sample = next((p for p in pages if p["url_path"] == "sample"), None)
    if sample is not None and args.sample_id:

        def sample_page() -> float:
            at.session_state["sample_id"] = args.sample_id
            return switch(sample)

        res.measure(f"Sample page for {args.sample_id}", GOAL_PAGE, sample_page)
    if compare is not None:
        what = "switch the compare run (sidebar, on the Overview; to it and back)"

        def switch_compare() -> float:
            switch(default)
            res.add(
                what,
                GOAL_INTERACTION_SERVER,
                run_timed(lambda: choose_option(find("selectbox", "Compare with"), compare)),
            )
            return run_timed(lambda: choose_option(find("selectbox", "Compare with"), "(none)"))

        res.measure(what, GOAL_INTERACTION_SERVER, switch_compare)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    res.add("peak RSS of this process (AppTest runs the server in-process)", GOAL_RSS_GB, peak, unit="GB")


# --- main ------------------------------------------------------------------------------------------------


def load_average() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", choices=list(PRESETS), default="ntu120",
                        help="ntu120: 50,919 x 120 (default); k400: 20,000 x 400; demo: the bundled runs")  # fmt: skip
    parser.add_argument("--samples", type=int, help="clips of the generated run (overrides the preset)")
    parser.add_argument("--classes", type=int, help="classes of the generated run (overrides the preset)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "epam-bench-dashboard-scale",
                        help="where the generated runs and server logs go (runs are reused)")  # fmt: skip
    parser.add_argument("--regenerate", action="store_true", help="write the runs again even if present")
    parser.add_argument("--repeat", type=int, default=3, help="server starts (each one pass over every step)")
    parser.add_argument("--steps", type=int, default=3, help="fusion-slider steps per pass")
    parser.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds one step may take before n/a")
    parser.add_argument(
        "--sample-id", help="the sample to open on the Sample page (default: one of the run's)"
    )
    parser.add_argument("--filter-text", help="text for the Confusion page's class filter")
    parser.add_argument(
        "--server-only", action="store_true", help="time the page scripts in-process (AppTest)"
    )
    parser.add_argument("--only", choices=["all", "confusion"], default="all",
                        help="confusion: after the first open, only the Confusion page's rows (browser)")  # fmt: skip
    parser.add_argument(
        "--after-warm-up", action="store_true",
        help="browser: open the Overview only once the server has logged its warm-up done or skipped",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, help="also write the table as Markdown to this file")
    args = parser.parse_args(argv)
    args.work = args.work.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    samples, classes = PRESETS[args.preset]
    samples, classes = args.samples or samples, args.classes or classes
    if args.filter_text is None:
        args.filter_text = "drink" if args.preset == "demo" or classes in (60, 120) else "class_01"
    if args.preset == "demo" and args.samples is None and args.classes is None:
        runs, compare = REPO / "checkpoints" / "runs", None
        names = [p.name for p in run_format.list_runs(runs)]
        run = "demo_synthactions" if "demo_synthactions" in names else names[0]
        size = "bundled demo"
    else:
        if samples is None or classes is None:
            parser.error("--samples and --classes are needed together with --preset demo")
        runs, run, compare = prepare_runs(args.work, samples, classes, args.regenerate)
        size = f"{samples:,} clips x {classes} classes (synthetic, benchmarks/scale_run.py)"
    if args.sample_id is None:
        manifest = json.loads((runs / run / run_format.MANIFEST).read_text())
        ids = run_format.read_run(runs / run).sample_ids if manifest["num_samples"] else []
        args.sample_id = str(ids[len(ids) // 3]) if len(ids) else None
    if not args.server_only and not Path(CHROMIUM).is_file():
        sys.exit(f"error: Debian chromium not found at {CHROMIUM} (apt-get install -y chromium)")

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # so that the server's process group is killed on the way out

    signal.signal(signal.SIGTERM, stop)
    res = Results()
    load_before = load_average()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for rep in range(args.repeat):
        print(f"pass {rep + 1}/{args.repeat} ...", flush=True)
        try:
            if args.server_only:
                server_session(args, runs, run, compare, res)
            else:
                browser_session(args, runs, run, compare, res, rep)
        except Exception as err:  # e.g. the server did not start: report what was measured until then
            res.notes.append(f"pass {rep + 1} stopped: {type(err).__name__}: {str(err)[:300]}")
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    header = (
        f"{'In-process (AppTest) script times' if args.server_only else 'Browser (headless Chromium)'}, "
        f"{size}; run `{run}`{f', compare `{compare}`' if compare else ''}; medians of {args.repeat} passes.\n"
        f"Command: `{' '.join(['.venv/bin/python', 'benchmarks/bench_dashboard_scale.py', *(argv or sys.argv[1:])])}`\n"
        f"Machine: {os.cpu_count()} CPUs, {platform.python_version()}, commit {commit.stdout.strip() or '?'}, "
        f"{started}; load average (1/5/15 min) {load_before} before, {load_average()} after.\n"
    )
    notes = sorted(set(res.notes))
    breakdown = res.breakdown()
    text = header + "\n" + res.table() + "\n"
    if breakdown:
        text += (
            "\nWhere the browser time went (medians; from the app's script-state changes):\n\n"
            + breakdown
            + "\n"
        )
    if notes:
        text += "".join(f"\nnote: {n}" for n in notes) + "\n"
    print("\n" + text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted; the dashboard server was stopped")
