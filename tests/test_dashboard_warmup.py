"""The server's warm-up (`dashboard.serve` → `dashboard.warmup`): which run it picks, what it logs, and that
it never stops the server (the first session's use of the warmed caches is tested in tests/e2e)."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from pathlib import Path

from server_process import free_port, listening, sigterm_frees_the_port
from test_dashboard_fixture import make_run

from dashboard.paths import DEMO_RUN, default_run_name
from epam_core.commands.dashboard import streamlit_command

REPO = Path(__file__).resolve().parents[1]


def test_default_run_name():
    assert default_run_name([]) is None
    assert default_run_name(["b", "a"]) == "b"
    assert default_run_name(["b", DEMO_RUN]) == DEMO_RUN
    assert default_run_name(["b", DEMO_RUN], "b") == "b"
    assert default_run_name(["b", DEMO_RUN], "gone") == DEMO_RUN


def _serve_until_warm(runs: Path, log: Path, expect: str) -> None:
    """Start the server as `epam dashboard` does, wait for the warm-up's line ``expect``, check the server
    answers, then SIGTERM it and check it exits and frees the port."""
    port = free_port()
    env = {**os.environ, "EPAM_RUNS_DIR": str(runs), "PYTHONPATH": str(REPO)}
    with log.open("w") as out:
        proc = subprocess.Popen(streamlit_command("127.0.0.1", port), env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 120
        while expect not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        while not listening(port):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=10) as r:
            assert r.read() == b"ok"
        sigterm_frees_the_port(proc, port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_warm_up_fills_the_default_runs_caches_quietly(tmp_path):
    runs = tmp_path / "runs"
    run = make_run(runs)
    log = tmp_path / "server.log"
    _serve_until_warm(runs, log, "warm-up done")
    text = log.read_text()
    assert "warm-up done: run (30 clips x 5 classes): waiting for the server" in text
    computed = [line for line in text.splitlines() if "accuracies of" in line]
    assert len(computed) == 1 and str(run.resolve()) in computed[0] and "[epam-warm-up]" in computed[0]
    for noise in ("Traceback", "ScriptRunContext", "No runtime found", "WARNING"):
        assert noise not in text


def test_a_broken_run_is_logged_in_one_line_and_the_server_keeps_serving(tmp_path):
    runs = tmp_path / "runs"
    run = make_run(runs)
    (run / "predictions.parquet").unlink()
    log = tmp_path / "server.log"
    _serve_until_warm(runs, log, "warm-up skipped")
    text = log.read_text()
    lines = [line for line in text.splitlines() if "warm-up" in line]
    assert len(lines) == 1 and "predictions.parquet" in lines[0], text
    assert "Traceback" not in text
