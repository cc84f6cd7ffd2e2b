"""Shared fixtures. Real sample data lives in ../shared/data (next to the repository) and is never copied
into the project; tests that need it skip when it is absent. EPAM_SHARED_DATA overrides the location."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from epam_core.errors import EpamError

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EPAM_SHARED_DATA", REPO.parent / "shared" / "data"))

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The directory of real NTU RGB+D / UCF samples; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real sample data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def pose_env() -> Path:
    """The Python of the MediaPipe environment (``make poses``); skips when absent, except under CI."""
    from epam_core.poses.extract import pose_python

    try:
        return pose_python()
    except EpamError as err:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(err))


@pytest.fixture(autouse=True)
def dashboard_on_loopback(monkeypatch):
    """Dashboard pages under AppTest have no server address; they run as `epam dashboard` on 127.0.0.1 does
    (any typed path allowed). tests/test_reliability.py checks the limits of a server on another address."""
    from epam_core.typed_paths import HOST_ENV

    monkeypatch.setenv(HOST_ENV, "127.0.0.1")
