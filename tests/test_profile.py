"""Parameter and multiply-add figures of the spec (§5.2), and the profile / bench commands."""

from __future__ import annotations

import json

import pytest

from epam_core.cli import main
from epam_core.config import build_config
from epam_core.models import EPAMNet
from epam_core.profile import profile_model


def test_paper_figures() -> None:
    p = profile_model(build_config("paper", 60))
    assert p.params_total == 2_538_717
    assert p.params_without_heads == 2_538_717 - 25_980 - 13_020
    assert p.params_attention == 107
    assert p.gmac == pytest.approx(7.618, abs=5e-4)
    assert p.gmac_rgb == pytest.approx(4.262, abs=5e-4)
    assert p.gmac_pose == pytest.approx(3.356, abs=5e-4)
    assert p.gmac_with_bn == pytest.approx(7.939, abs=2e-3)  # fvcore's count, conv 7.618 + BN 0.321
    assert p.gmac_bn == pytest.approx(0.321, abs=1e-3)
    assert 0 < p.gmac_attention < 1e-4


def test_params_scale_with_classes() -> None:
    assert sum(p.numel() for p in EPAMNet(build_config("paper", 120)).parameters()) == 2_577_717


def test_profile_command_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "--preset", "demo", "--num-classes", "5", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {
        "params_total",
        "params_without_heads",
        "params_attention",
        "gmac",
        "gmac_rgb",
        "gmac_pose",
    } <= set(data)
    assert data["num_classes"] == 5 and data["params_attention"] == 107
    assert data["gmac"] == pytest.approx(data["gmac_rgb"] + data["gmac_pose"], abs=1e-4)


def test_profile_command_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "--preset", "demo"]) == 0
    out = capsys.readouterr().out
    assert "GMAC (conv + linear)" in out and "GMAC with BatchNorm" in out


def test_bench_quick_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--quick"]) == 0
    out = capsys.readouterr().out
    assert (
        "| reference (Conv3d, NCTHW) b1 |" in out
        and "| EPAMNet CPU inference b1 |" in out
        and "| EPAMNet plain b1 |" in out
    )
