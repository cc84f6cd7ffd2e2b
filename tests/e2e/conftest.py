"""Real-browser fixtures: `streamlit run` on a free port against the fixture run, Debian Chromium for Playwright.

Skipped with a reason when /usr/bin/chromium is absent. Never run `playwright install` (it downloads a browser).
Set EPAM_SCREENSHOTS=DIR to keep a full-page screenshot of every page there (docs/screenshots for the README).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from server_process import free_port

from epam_core.commands.dashboard import streamlit_command

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]  # fmt: skip

pytestmark = pytest.mark.browser


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not Path(CHROMIUM).is_file():
        skip = pytest.mark.skip(
            reason=f"Debian chromium not found at {CHROMIUM} (apt-get install -y chromium)"
        )
        for item in items:
            if "e2e" in str(item.path):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}, "accept_downloads": True}


def start_server(runs: Path, log: Path) -> tuple[subprocess.Popen, str, float]:
    """`streamlit run` as `epam dashboard` starts it; returns (process, URL, seconds until healthy)."""
    port = free_port()
    env = {**os.environ, "EPAM_RUNS_DIR": str(runs)}
    start = time.perf_counter()
    proc = subprocess.Popen(
        streamlit_command("127.0.0.1", port), env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                if r.read() == b"ok":
                    return proc, url, time.perf_counter() - start
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"streamlit did not become healthy in 60 s; see {log}")


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from test_dashboard_attention import constructed_measures
    from test_dashboard_fixture import make_run
    from test_slices import make_ntu_run

    root = tmp_path_factory.mktemp("e2e-runs")
    make_run(root)
    make_ntu_run(root / "slices_ntu")  # NTU sample ids, for the Slices page (listed after "run")
    constructed_measures(root / "run")  # the Attention page and the Sample page's RGB variants
    return root


@pytest.fixture(scope="session")
def server(runs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url, _ = start_server(runs_dir, tmp_path_factory.mktemp("logs") / "streamlit.log")
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def start_own_server(tmp_path: Path) -> Iterator[Callable[[Path], tuple[str, Path]]]:
    """A factory: start a server of one's own on a runs directory; returns (URL, its log); stopped after."""
    procs: list[subprocess.Popen] = []

    def start(runs: Path) -> tuple[str, Path]:
        log = tmp_path / f"streamlit-{len(procs)}.log"
        proc, url, _ = start_server(runs, log)
        procs.append(proc)
        return url, log

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def screenshots() -> Path | None:
    target = os.environ.get("EPAM_SCREENSHOTS")
    if not target:
        return None
    Path(target).mkdir(parents=True, exist_ok=True)
    return Path(target)
