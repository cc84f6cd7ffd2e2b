"""A dashboard server process in the tests: a free port, whether something listens on it, and stopping the
server with SIGTERM as a service manager would (it must exit and free the port)."""

from __future__ import annotations

import signal
import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def sigterm_frees_the_port(proc: subprocess.Popen, port: int) -> None:
    """SIGTERM ``proc``; assert it exits within 30 s and the port is free within 10 s after."""
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while listening(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not listening(port)
