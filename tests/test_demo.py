"""The bundled demo: the committed checkpoint and run load, and the run's own predictions back the claims
of the README (fused >= 90 %, each stream far above chance and below fused, pose accuracy falls with jitter)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from epam_core.checkpoint import load_checkpoint
from epam_core.config import EPAMNetConfig
from epam_core.runs.demo import NOISE, SEEDS, SYNTH, summarize
from epam_core.runs.format import read_run
from epam_core.runs.manifest import sha256

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT = REPO / "checkpoints" / "epam_demo.pt"
RUN = REPO / "checkpoints" / "runs" / "demo_synthactions"


@pytest.fixture(scope="module")
def run():
    return read_run(RUN)


def test_checkpoint_matches_the_run(run):
    loaded = load_checkpoint(CHECKPOINT)
    assert loaded.model.config.preset == "demo"
    assert loaded.class_names == run.class_names and len(run.class_names) == SYNTH["num_classes"]
    assert sum(p.numel() for p in loaded.model.parameters()) < 300_000
    model = run.manifest["model"]
    assert run.resolve(model["checkpoint"]) == CHECKPOINT.resolve()
    assert model["checkpoint_sha256"] == sha256(CHECKPOINT)
    assert EPAMNetConfig.from_dict(model["config"]) == loaded.model.config


def test_manifest_lets_the_dashboard_regenerate_the_data(run):
    dataset = run.manifest["dataset"]
    assert dataset["synth"] == SYNTH and dataset["split"] == "test"
    for key in ("annotation", "videos"):
        assert not Path(dataset[key]).is_absolute()
        assert run.resolve(dataset[key]).is_relative_to(REPO / "data" / "synthactions")
    assert run.attention is not None and run.attention.spatial.shape[1:] == (8, 6, 6)
    assert run.num_classes * 10 == len(run.labels)  # 40 clips per class, every fourth is a test clip
    assert sum(p.stat().st_size for p in RUN.iterdir()) < 4_000_000


def test_the_demo_model_has_learned(run):
    numbers = summarize(RUN)
    top1, chance = numbers["top1"], numbers["chance"]
    assert top1["fused"] >= 0.9, top1
    for stream in ("rgb", "pose"):
        assert top1[stream] >= 4 * chance, (stream, top1)
        assert top1[stream] < top1["fused"], (stream, top1)


def test_pose_accuracy_falls_as_joint_jitter_grows(run):
    table = run.robustness
    assert table is not None
    assert sorted(table["seed"].unique().tolist()) == list(SEEDS)
    assert sorted(table["noise"].unique()) == sorted(name for name, _ in NOISE)
    pose = summarize(RUN)["jitter_px"]["pose"]  # level -> top-1
    levels = sorted(pose)
    assert levels == list(dict(NOISE)["jitter_px"])
    assert pose[levels[-1]] < pose[levels[0]] - 0.2, pose
    assert all(pose[b] <= pose[a] + 0.05 for a, b in itertools.pairwise(levels)), pose
    level0 = table[(table["noise"] == "jitter_px") & (table["level"] == 0)]
    clean = run.predictions.set_index("sample_id").loc[level0["sample_id"], "pose_pred"].to_numpy()
    assert (level0["pose_pred"].to_numpy() == clean).all()  # level 0 is the plain evaluation


def test_the_attention_claims_of_the_checkpoints_readme(run):
    """checkpoints/README.md: the demo's attention is not on the body more than chance, and the RGB stream
    with it is no worse than without. Skips until the run carries attention_measures.parquet (`epam attention
    --run checkpoints/runs/demo_synthactions` adds it)."""
    from epam_core.analysis.attention_report import attention_report

    section = attention_report(run)
    if section is None:
        pytest.skip("the committed demo run has no attention_measures.parquet yet")
    assert section["on_body"] < section["on_body_chance"], section
    top1 = section["rgb_top1"]
    assert top1["model"] == pytest.approx(summarize(RUN)["top1"]["rgb"])
    assert top1["model"] >= top1["uniform"] >= top1["none"], top1
    assert section["temporal_motion_corr"] < 0.1, section


def test_the_demo_run_carries_embeddings_and_their_current_map(run):
    from epam_core.analysis.embedding_map import cached_maps
    from epam_core.analysis.embeddings import nearest_neighbours, read_embeddings

    emb = read_embeddings(run)
    assert emb is not None, (
        "regenerate with: epam embeddings --run checkpoints/runs/demo_synthactions --extract"
    )
    assert emb.rgb.shape == (len(run.labels), 144) and emb.pose.shape == (len(run.labels), 72)
    assert cached_maps(run, "umap") is not None  # computed from this very embeddings.npz
    # the concatenated embedding groups clips by class: most clips' nearest neighbour shares their class
    same = [
        run.labels[nearest_neighbours(emb, "concat", i, 1)[0][0]] == run.labels[i] for i in range(len(emb))
    ]
    assert sum(same) / len(same) >= 0.8
