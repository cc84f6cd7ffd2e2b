"""Cost of the embedding maps at NTU-120 scale: a synthetic 50,000-clip x 120-class run with paper-preset
embeddings (RGB 432-d, pose 216-d, float16), its projections, the cached map, and the Embeddings page.

Prints a Markdown table (seconds, MB). The page is timed server side with Streamlit's AppTest (the script
run, cached map and figure; a lasso; each choice of "Points drawn" with its chart's JSON size) and, with
``--browser``, in headless Chromium against `streamlit run` (opened by URL and by its sidebar link, a new
colouring, the hover, reruns that keep the chart, each choice of points drawn). A browser step ends when the
script has run and plotly holds the new figure, plus two animation frames; every browser time includes the
0.3 s pause of ``wait_for_app_run``.

    .venv/bin/python benchmarks/bench_embeddings.py [--samples 50000] [--classes 120] [--browser] [--out DIR]
    .venv/bin/python benchmarks/bench_embeddings.py --out DIR --reuse --browser   # the run and maps exist
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from epam_core.analysis import embedding_map, figures
from epam_core.analysis.embeddings import (
    SPACES,
    Embeddings,
    nearest_neighbours,
    predicted_classes,
    read_embeddings,
    write_embeddings,
)
from epam_core.data.class_names import get_class_names
from epam_core.runs.format import new_manifest, predictions_frame, read_run, write_run

REPO = Path(__file__).resolve().parents[1]
ROWS: list[tuple[str, str]] = []
ROWS_BY_DRAW: dict[str, list[tuple[float, int]]] = {}  # browser: points drawn -> [(seconds, points)]


def row(what: str, value: str) -> None:
    ROWS.append((what, value))
    print(f"{what}: {value}", file=sys.stderr, flush=True)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_synthetic_run(root: Path, n: int, k: int, seed: int = 0) -> Path:
    """NTU-style sample ids, ntu120 names when k == 120; logits and embeddings that cluster by class."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    ids = [
        f"S{1 + i % 32:03d}C{1 + i % 3:03d}P{1 + i % 106:03d}R{1 + i % 2:03d}A{1 + labels[i]:03d}x{i}"
        for i in range(n)
    ]
    names = get_class_names("ntu120") if k == 120 else [f"class_{i}" for i in range(k)]
    logits = {}
    for stream, strength in (("rgb", 2.0), ("pose", 2.5)):
        z = rng.normal(size=(n, k)).astype(np.float32)
        z[np.arange(n), labels] += strength
        logits[stream] = z
    frame = predictions_frame(ids, labels, logits["rgb"], logits["pose"])
    out = write_run(root / "run", new_manifest(source="bench", class_names=names, num_samples=n), frame)
    emb = {}
    for stream, dim, spread in (("rgb", 432, 1.2), ("pose", 216, 1.0)):
        centres = rng.normal(size=(k, dim)).astype(np.float32)
        x = centres[labels] + spread * rng.normal(size=(n, dim)).astype(np.float32)
        emb[stream] = np.maximum(x, 0).astype(np.float16)  # pooled post-activation features are >= 0
    tic = time.perf_counter()
    path = write_embeddings(out, Embeddings(np.asarray(ids), emb["rgb"], emb["pose"]))
    row("write embeddings.npz", f"{time.perf_counter() - tic:.2f} s, {path.stat().st_size / 2**20:.0f} MB")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--classes", type=int, default=120)
    parser.add_argument("--methods", nargs="+", default=["pca", "umap"], choices=embedding_map.METHODS)
    parser.add_argument("--tsne-samples", type=int, default=5_000, help="t-SNE on a subset of this many")
    parser.add_argument("--browser", action="store_true", help="also time the page in headless Chromium")
    parser.add_argument("--out", type=Path, default=None, help="where to write the run (default: a temp dir)")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="--out holds the run and its maps already: time reads and the page only",
    )
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="bench-embeddings-"))
    print(
        f"{args.samples} clips x {args.classes} classes in {root}; {os.cpu_count()} CPUs; load {os.getloadavg()}"
    )
    run_dir = root / "run" if args.reuse else write_synthetic_run(root, args.samples, args.classes)
    run = read_run(run_dir)
    tic = time.perf_counter()
    emb = read_embeddings(run)
    row(
        "read_embeddings",
        f"{time.perf_counter() - tic:.2f} s ({(emb.rgb.nbytes + emb.pose.nbytes) / 2**20:.0f} MB float16)",
    )
    tic = time.perf_counter()
    kept = emb.space("rgb").nbytes + emb.space("pose").nbytes
    row("unit vectors of RGB and pose (float32, kept for neighbours)", f"{time.perf_counter() - tic:.2f} s, "
        f"{kept / 2**20:.0f} MB")  # fmt: skip
    for method in [] if args.reuse else args.methods:
        marks = [time.perf_counter()]
        embedding_map.load_or_compute_maps(
            run, method, progress=lambda *_, m=marks: m.append(time.perf_counter())
        )
        per_map = np.diff(marks[1:])
        row(f"project + cache ({method}), per map rgb / pose / concat",
            " / ".join(f"{t:.1f}" for t in per_map) + f" s (total {marks[-1] - marks[0]:.1f} s)")  # fmt: skip
    if args.tsne_samples and not args.reuse:
        sub = emb.space("pose")[: args.tsne_samples]
        tic = time.perf_counter()
        embedding_map.project(sub, "tsne")
        row(f"t-SNE of {len(sub):,} pose embeddings (one map)", f"{time.perf_counter() - tic:.1f} s")
    method = args.methods[-1]
    tic = time.perf_counter()
    maps = embedding_map.cached_maps(read_run(run_dir), method)
    row(
        f"cached map read ({method}, SHA-256 of embeddings.npz included)",
        f"{time.perf_counter() - tic:.2f} s",
    )
    preds = predicted_classes(run)
    codes, groups = embedding_map.colour_groups("true class", run.labels, preds, run.class_names)
    names = np.asarray(run.class_names, dtype=object)
    hover = (
        "<b>"
        + run.sample_ids.astype(object)
        + "</b><br>true "
        + names[run.labels]
        + "<br>RGB "
        + names[preds["rgb"]]
    )
    hover = (
        hover + " · pose " + names[preds["pose"]] + " · fused " + names[preds["fused"]]
    )  # as the page draws it
    tic = time.perf_counter()
    fig = figures.embedding_scatter(maps.xy["concat"], codes, groups, hover, "bench")
    build = time.perf_counter() - tic
    tic = time.perf_counter()
    spec = fig.to_json()
    row("scatter figure (120 traces, classes in the hover): build / to_json / JSON size",
        f"{build:.2f} s / {time.perf_counter() - tic:.2f} s / {len(spec) / 2**20:.1f} MB")  # fmt: skip
    tic = time.perf_counter()
    for s in SPACES:
        nearest_neighbours(emb, s, 123, 10)
    row("10 nearest neighbours in all 3 spaces (cosine)", f"{(time.perf_counter() - tic) * 1e3:.0f} ms")
    lo, hi = maps.xy["concat"].min(0), maps.xy["concat"].max(0)
    angle = np.linspace(0, 2 * np.pi, 40)
    lasso = {"lasso": [{"x": (lo[0] + hi[0]) / 2 + (hi[0] - lo[0]) / 3 * np.cos(angle),
                        "y": (lo[1] + hi[1]) / 2 + (hi[1] - lo[1]) / 3 * np.sin(angle)}]}  # fmt: skip
    tic = time.perf_counter()
    picked = embedding_map.rows_in_selection(maps.xy["concat"], lasso)
    row(
        f"lasso selection (40 vertices, {len(picked):,} clips inside)",
        f"{(time.perf_counter() - tic) * 1e3:.0f} ms",
    )
    row("peak RSS of this process so far", f"{rss_mb():.0f} MB")
    page_latency(run_dir, method)
    if args.browser:
        browser_latency(run_dir.parent, method)
    print("\n| what | measured |\n|---|---|")
    for what, value in ROWS:
        print(f"| {what} | {value} |")
    return 0


def page_latency(run_dir: Path, method: str) -> None:
    """The Embeddings page server side (AppTest): first open (run read, embeddings, figure), then reruns, with
    the page's default sample of points and with every point drawn (the chart's JSON size for each)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["EPAM_RUNS_DIR"] = str(run_dir.parent)
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(REPO / "dashboard" / "streamlit_app.py"), default_timeout=600)
    at.session_state["emb_method"] = method
    at.run()
    tic = time.perf_counter()
    at.switch_page("app_pages/embeddings.py").run()
    first = time.perf_counter() - tic
    assert not at.exception and at.get("plotly_chart"), [e.message for e in at.exception]

    def timed(step) -> float:
        tic = time.perf_counter()
        step()
        return time.perf_counter() - tic

    def spec_mb() -> float:
        return len(at.get("plotly_chart")[0].proto.spec) / 2**20

    draws = [o for o in at.selectbox(key="emb_draw").options] if any(
        s.key == "emb_draw" for s in at.selectbox
    ) else ["all"]  # fmt: skip
    default = at.selectbox(key="emb_draw").value if len(draws) > 1 else "all"
    reruns = [timed(at.run) for _ in range(3)]
    colour = timed(lambda: at.selectbox(key="emb_colour").set_value("stream agreement").run())
    space = timed(lambda: at.selectbox(key="emb_space").set_value("pose").run())
    row(f"page, server side (AppTest), {default} points drawn: first open / rerun (median of 3) / new "
        "colouring / new map", f"{first:.2f} / {np.median(reruns):.2f} / {colour:.2f} / {space:.2f} s")  # fmt: skip
    xy = embedding_map.cached_maps(read_run(run_dir), method).xy["pose"]
    lo, hi = xy.min(0), xy.max(0)
    angle = np.linspace(0, 2 * np.pi, 40)
    lasso = {"lasso": [{"x": list((lo[0] + hi[0]) / 2 + (hi[0] - lo[0]) / 3 * np.cos(angle)),
                        "y": list((lo[1] + hi[1]) / 2 + (hi[1] - lo[1]) / 3 * np.sin(angle))}]}  # fmt: skip
    at.session_state["emb_selection"] = {**lasso, "map": (method, "pose")}
    with_lasso = timed(at.run)
    lasso_reruns = [timed(at.run) for _ in range(3)]
    row("page, server side: a lasso's first rerun / later reruns (median of 3; its clips listed, rows cached)",
        f"{with_lasso:.2f} / {np.median(lasso_reruns):.2f} s")  # fmt: skip
    at.session_state["emb_selection"] = {}
    for draw in draws:
        if len(draws) > 1:  # a page without the choice draws every clip
            at.selectbox(key="emb_draw").set_value(draw).run()
        changed = np.median([timed(at.run) for _ in range(3)])
        row(f"page, server side, {draw} points drawn: rerun (median of 3) / chart JSON",
            f"{changed:.2f} s / {spec_mb():.1f} MB")  # fmt: skip
    row("peak RSS after the page", f"{rss_mb():.0f} MB")


def browser_latency(runs_root: Path, method: str) -> None:
    """Headless Chromium against `streamlit run`: page open with the cached map and the default points drawn,
    each choice of points drawn, a colouring change, the classes in the hover. A step ends when the script
    has run and plotly holds the new figure's points (then one animation frame for WebGL to draw them)."""
    sys.path[:0] = [str(REPO / "tests" / "e2e"), str(REPO / "tests")]
    from conftest import ARGS, CHROMIUM, start_server
    from playwright.sync_api import sync_playwright
    from test_dashboard_browser import wait_for_app_run

    shown_js = """() => { const gd = [...document.querySelectorAll('.js-plotly-plot')].find(
            g => g.data && g.data.length && g.data[0].type === 'scattergl');
        if (!gd || !gd._fullData) return null;
        const n = gd._fullData.reduce((n, t) => n + (t.x ? t.x.length : 0), 0);
        return [n, gd.data.length, gd.data[0].name, String(gd.data[0].text[0])].join('|'); }"""
    proc, url, _ = start_server(runs_root, runs_root / "streamlit.log")
    try:
        with sync_playwright() as p:
            page = p.chromium.launch(executable_path=CHROMIUM, args=ARGS).new_page(
                viewport={"width": 1400, "height": 1000}
            )

            def settle(before: str | None = None) -> str:
                """Until the script has run and plotly holds a figure other than ``before``, drawn."""
                wait_for_app_run(page, timeout=600_000)
                page.wait_for_function(
                    f"b => {{ const s = ({shown_js})(); return s !== null && s !== b; }}", arg=before,
                    timeout=600_000,
                )  # fmt: skip
                page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
                return page.evaluate(shown_js)

            def choose(label: str, option: str) -> None:
                for attempt in range(3):  # the list sometimes does not open on the first click
                    page.get_by_test_id("stSelectbox").filter(has_text=label).click()
                    try:
                        page.get_by_role("option", name=option, exact=True).click(timeout=10_000)
                        return
                    except Exception:
                        if attempt == 2:
                            raise
                        page.keyboard.press("Escape")

            def nav(title: str) -> None:
                page.get_by_test_id("stSidebarNavLink").filter(
                    has=page.get_by_text(title, exact=True)
                ).click()

            tic = time.perf_counter()
            page.goto(f"{url}/embeddings")  # a new session: the frontend loads, the run is read once
            wait_for_app_run(page, timeout=600_000)
            if method != "umap":  # a new session starts on UMAP
                choose("Projection", method.upper())
            shown = settle()
            load = time.perf_counter() - tic
            opens = []
            for _ in range(3):  # Overview, then Embeddings by the sidebar link, as a user switches pages
                nav("Overview")
                wait_for_app_run(page, timeout=600_000)
                tic = time.perf_counter()
                nav("Embeddings")
                shown = settle()
                opens.append(time.perf_counter() - tic)
            points = int(shown.split("|")[0])
            tic = time.perf_counter()
            choose("Colour by", "stream agreement")
            shown = settle(shown)
            colour = time.perf_counter() - tic
            row(f"page in Chromium, {points:,} points drawn (the default): URL loaded in a new tab (frontend, "
                "session, server's first run) / opened by its sidebar link (median of 3) / new colouring",
                f"{load:.2f} / {np.median(opens):.2f} / {colour:.2f} s")  # fmt: skip
            tic = time.perf_counter()
            page.get_by_test_id("stCheckbox").filter(has_text="Classes in the hover").click()
            shown = settle(shown)
            row("page in Chromium: classes in the hover switched", f"{time.perf_counter() - tic:.2f} s")

            def keep_chart_reruns(drawn: str) -> None:
                field = page.get_by_test_id("stNumberInputField")  # Neighbours: the chart stays as it is
                times = []
                for k in (11, 10, 11):
                    field.fill(str(k))
                    tic = time.perf_counter()
                    field.press("Enter")
                    wait_for_app_run(page, timeout=600_000)
                    times.append(time.perf_counter() - tic)
                row(f"page in Chromium: a rerun that keeps the chart (neighbours 10 <-> 11), {drawn} drawn",
                    " / ".join(f"{t:.2f}" for t in times) + " s")  # fmt: skip

            options = page.get_by_test_id("stSelectbox").filter(has_text="Points drawn")
            if not options.count():  # every clip drawn: hover back to the page's default first
                page.get_by_test_id("stCheckbox").filter(has_text="Classes in the hover").click()
                shown = settle(shown)
                keep_chart_reruns(f"all {points:,}")
            else:
                options.click()
                names = page.get_by_role("option").all_inner_texts()
                page.keyboard.press("Escape")
                current = options.inner_text().split("\n")[-1].strip()
                for name in [*names, *names]:  # twice each, in turn
                    if name == current:  # choosing the shown option changes nothing: step past it first
                        continue
                    tic = time.perf_counter()
                    choose("Points drawn", name)
                    shown = settle(shown)
                    ROWS_BY_DRAW.setdefault(name, []).append(
                        (time.perf_counter() - tic, int(shown.split("|")[0]))
                    )
                    current = name
                for name in (names[-1], f"{points:,}"):  # every point, then the default sample
                    if name != current:
                        choose("Points drawn", name)
                        shown = settle(shown)
                        current = name
                    keep_chart_reruns(name)
                for name, runs in ROWS_BY_DRAW.items():
                    row(f"page in Chromium: Points drawn -> {name} ({runs[0][1]:,} drawn, colour by stream "
                        "agreement)", " / ".join(f"{t:.2f}" for t, _ in runs) + " s")  # fmt: skip
            with open(f"/proc/{proc.pid}/status") as f:
                hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
        row("dashboard server peak RSS (VmHWM)", f"{hwm / 1024:.0f} MB")
    finally:
        proc.terminate()


if __name__ == "__main__":
    sys.exit(main())
