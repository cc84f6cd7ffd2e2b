"""Hostile and careless input: every case ends in one clear message naming the file or flag, exit status 2,
and leaves the user's files byte for byte as they were (nothing created, deleted or half-written)."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from server_process import free_port, listening, sigterm_frees_the_port
from test_dashboard_fixture import make_run

from epam_core.checkpoint import FORMAT, FORMAT_VERSION, load_checkpoint, save_checkpoint
from epam_core.cli import main
from epam_core.config import build_config
from epam_core.data.pyskl import load_annotations, save_annotations
from epam_core.data.synth.generate import (
    ClipSettings,
    generate_synthactions,
    is_synthactions_dir,
    regeneration_refusal,
)
from epam_core.distributed import DistContext
from epam_core.errors import CheckpointError, DataError, EpamError, OutputError
from epam_core.models import build_model
from epam_core.outputs import atomic_dir, atomic_write_file
from epam_core.runs.evaluate import check_scores_finite, predict
from epam_core.runs.format import RUN_KIND, is_run_dir, read_run
from epam_core.typed_paths import HOST_ENV, check_typed_path, is_loopback

BIN = Path(sys.executable).parent
CLASSES = ["a", "b", "c"]


# --- fixtures and helpers ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Tiny SynthActions data (3 classes x 4 clips: 9 train, 3 test), a random checkpoint, an evaluated run."""
    root = tmp_path_factory.mktemp("world")
    settings = ClipSettings(width=80, height=60, num_frames=24)
    annotation = generate_synthactions(
        root / "synth", num_classes=3, per_class=4, seed=5, settings=settings, workers=1, progress=False
    )
    torch.manual_seed(0)
    checkpoint = save_checkpoint(root / "model.pt", build_model("demo", 3), class_names=CLASSES)
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(checkpoint),
                "--data",
                str(annotation),
                "--out",
                str(root / "run"),
                "--workers",
                "0",
            ]
        )
        == 0
    )
    return {"root": root, "annotation": annotation, "checkpoint": checkpoint, "run": root / "run"}


@pytest.fixture(scope="module")
def fixture_run(tmp_path_factory) -> Path:
    """The dashboard tests' run (5 classes, a robustness sweep) for `epam export`."""
    return make_run(tmp_path_factory.mktemp("fixture"))


def user_folder(root: Path) -> Path:
    """A folder of the user's own work (what --out might name by mistake)."""
    folder = root / "thesis"
    (folder / "chapters").mkdir(parents=True)
    (folder / "main.tex").write_text("\\documentclass{article}\n")
    (folder / "chapters" / "intro.tex").write_bytes(os.urandom(256))
    (folder / "data.pkl").write_bytes(b"not a pickle of ours")
    return folder


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under ``root``, hidden ones included."""
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))
    }


def cli(argv: list[str], capsys) -> tuple[int, str]:
    """(exit status, stderr) of `epam ARGV`, argparse's refusals included."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def evaluate_args(world, out, *extra) -> list:
    return [
        "evaluate",
        "--checkpoint",
        world["checkpoint"],
        "--data",
        world["annotation"],
        "--out",
        out,
        "--workers",
        "0",
        *extra,
    ]


def score_pickles(world, folder: Path, labels=None) -> tuple[Path, Path]:
    """RGB and pose result pickles for the test split (mmaction2 dicts when ``labels`` is given)."""
    ids = load_annotations(world["annotation"]).split["test"]
    rng = np.random.default_rng(0)
    paths = []
    for stream in ("rgb", "pose"):
        scores = rng.normal(size=(len(ids), 3)).astype(np.float32)
        entries = (
            list(scores)
            if labels is None
            else [{"pred_score": s, "gt_label": lab} for s, lab in zip(scores, labels, strict=True)]
        )
        path = folder / f"{stream}.pkl"
        path.write_bytes(pickle.dumps(entries))
        paths.append(path)
    return paths[0], paths[1]


# --- data loss: --overwrite replaces only what is recognisably ours ----------------------------------------


OVERWRITE_COMMANDS = {
    "evaluate": lambda w, out: evaluate_args(w, out, "--overwrite"),
    "import-scores": lambda w, out: [
        "import-scores",
        "--scores",
        *score_pickles(w, out.parent),
        "--data",
        w["annotation"],
        "--split",
        "test",
        "--out",
        out,
        "--overwrite",
    ],
    "analyze": lambda w, out: [
        "analyze",
        w["root"] / "missing.mp4",
        "--checkpoint",
        w["checkpoint"],
        "--out",
        out,
        "--overwrite",
    ],
    "synth": lambda w, out: [
        "synth",
        "--out",
        out,
        "--classes",
        "1",
        "--per-class",
        "1",
        "--frames",
        "24",
        "--workers",
        "1",
        "--overwrite",
    ],
    "robustness": lambda w, out: [
        "robustness",
        "--checkpoint",
        w["checkpoint"],
        "--data",
        w["annotation"],
        "--out",
        out,
        "--noise",
        "jitter_px:0",
        "--overwrite",
        "--workers",
        "0",
    ],
}


@pytest.mark.parametrize("command", [*OVERWRITE_COMMANDS, "export"])
@pytest.mark.parametrize("target", ["folder", "file"])
def test_overwrite_refuses_what_is_not_ours(command, target, world, fixture_run, tmp_path, capsys):
    area = tmp_path / "area"
    area.mkdir()
    out = user_folder(area) if target == "folder" else area / "notes.txt"
    if target == "file":
        out.write_text("my notes\n")
    if command == "export":
        argv = ["export", "--run", fixture_run, "--out", out, "--overwrite"]
    else:
        argv = OVERWRITE_COMMANDS[command](world, out)
    before = snapshot(area)
    code, err = cli(argv, capsys)
    assert code == 2
    assert str(out) in err
    assert snapshot(area) == before  # byte for byte, no hidden .old-/.partial- left behind


def test_overwrite_replaces_our_own_outputs(world, fixture_run, tmp_path, capsys):
    run = tmp_path / "run"
    assert cli(evaluate_args(world, run), capsys)[0] == 0
    code, err = cli(evaluate_args(world, run), capsys)
    assert code == 2 and f"{run}: already exists" in err
    assert cli(evaluate_args(world, run, "--overwrite"), capsys)[0] == 0
    assert read_run(run).manifest["num_samples"] == 3
    figures = tmp_path / "figures"
    assert cli(["export", "--run", fixture_run, "--out", figures, "--formats", "svg"], capsys)[0] == 0
    code, err = cli(["export", "--run", fixture_run, "--out", figures, "--formats", "svg"], capsys)
    assert code == 2 and "already exists" in err
    assert (
        cli(["export", "--run", fixture_run, "--out", figures, "--formats", "pdf", "--overwrite"], capsys)[0]
        == 0
    )
    assert {p.suffix for p in figures.iterdir() if not p.name.startswith(".")} == {".pdf", ".csv", ".tex"}
    empty = tmp_path / "empty"
    empty.mkdir()  # an empty folder loses nothing: --overwrite may use it
    assert cli(["export", "--run", fixture_run, "--out", empty, "--formats", "svg"], capsys)[0] == 2
    assert (
        cli(["export", "--run", fixture_run, "--out", empty, "--formats", "svg", "--overwrite"], capsys)[0]
        == 0
    )


def test_leftovers_of_an_interrupted_write_are_cleaned(tmp_path, caplog):
    out = tmp_path / "run"
    dead = 2**22 + 12345  # above pid_max on Linux: no such process
    for name in (f".run.partial-{dead}-0123abcd", f".run.old-{dead}-0123abcd"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text("{}")
    live = tmp_path / f".run.partial-{os.getpid()}-89abcdef"  # a write of this very process still going on
    live.mkdir()
    (tmp_path / ".run.partial-notes").write_text("the user's, not ours")  # not a name our writes produce
    with atomic_dir(out, False, is_run_dir, RUN_KIND) as tmp:
        (tmp / "manifest.json").write_text("{}")
    assert {p.name for p in tmp_path.iterdir()} == {".run.partial-notes", live.name, "run"}
    assert f".run.partial-{dead}-0123abcd" in caplog.text and f".run.old-{dead}-0123abcd" in caplog.text
    stale = tmp_path / f".model.pt.partial-{dead}-0123abcd.pt"
    stale.write_bytes(b"half")
    atomic_write_file(tmp_path / "model.pt", lambda p: p.write_bytes(b"whole"))
    assert not stale.exists() and (tmp_path / "model.pt").read_bytes() == b"whole"


@pytest.mark.parametrize("overwrite", [False, True])
def test_extract_poses_never_replaces_a_file_silently(overwrite, tmp_path, capsys):
    out = tmp_path / "poses.pkl"
    out.write_bytes(b"the user's file, not an annotation pickle")
    (tmp_path / "clip.mp4").write_bytes(b"x")
    before = snapshot(tmp_path)
    code, err = cli(
        ["extract-poses", tmp_path / "clip.mp4", "--out", out, *(["--overwrite"] * overwrite)], capsys
    )
    assert code == 2 and str(out) in err
    assert ("already exists" in err) != overwrite and ("not a pyskl annotation file" in err) == overwrite
    assert snapshot(tmp_path) == before


def test_robustness_subset_zero_writes_nothing(world, tmp_path, capsys):
    from epam_core.runs.robustness import run_robustness

    with pytest.raises(DataError, match="--subset must be at least 1"):
        run_robustness(
            world["checkpoint"], world["annotation"], tmp_path / "run", [("jitter_px", [0.0])], subset=0
        )
    code, err = cli(
        [
            "robustness",
            "--checkpoint",
            world["checkpoint"],
            "--data",
            world["annotation"],
            "--out",
            tmp_path / "run",
            "--noise",
            "jitter_px",
            "--subset",
            "0",
        ],
        capsys,
    )
    assert code == 2 and "argument --subset: must be at least 1" in err
    assert list(tmp_path.iterdir()) == []


def test_an_empty_split_is_an_error_naming_the_splits(world, tmp_path, capsys):
    anns = load_annotations(world["annotation"])
    annotation = save_annotations(tmp_path / "ann.pkl", anns.annotations, {**anns.split, "val": []}, CLASSES)
    before = snapshot(tmp_path)
    code, err = cli(
        [
            "evaluate",
            "--checkpoint",
            world["checkpoint"],
            "--data",
            annotation,
            "--split",
            "val",
            "--out",
            tmp_path / "run",
            "--workers",
            "0",
        ],
        capsys,
    )
    assert code == 2
    assert (
        f"{annotation}: split 'val' has no samples; its splits are 'test' (3 samples), 'train' (9 samples)"
        in err
    )
    assert snapshot(tmp_path) == before


# --- data loss: the dashboard regenerates the demo data only where it is safe ------------------------------


@pytest.mark.parametrize(
    ("layout", "allowed"),
    [
        ("absent", True),
        ("empty", True),
        ("synth", True),  # a SynthActions folder we wrote, its videos gone
        ("user", False),
        ("synth+user", False),  # ours, plus a file of the user's
        ("other_name", False),  # the manifest names another annotation file
        ("other_videos", False),  # the videos are elsewhere
    ],
)
def test_regeneration_only_into_an_empty_or_synthactions_folder(layout, allowed, tmp_path):
    folder = tmp_path / "data"
    annotation, videos = folder / "synthactions.pkl", folder / "videos"
    if layout == "empty":
        folder.mkdir()
    if layout.startswith("synth"):
        folder.mkdir()
        (folder / "synthactions.pkl").write_bytes(b"\x80\x04]\x94.")
        (folder / "class_names.txt").write_text("wave\n")
    if "user" in layout:
        user_folder(tmp_path)
        folder = tmp_path / "thesis" if layout == "user" else folder
        if layout == "synth+user":
            (folder / "notes.txt").write_text("mine")
        annotation, videos = folder / "synthactions.pkl", folder / "videos"
    if layout == "other_name":
        annotation = folder / "ann.pkl"
    if layout == "other_videos":
        videos = tmp_path / "elsewhere"
    refusal = regeneration_refusal(annotation, videos)
    assert (refusal is None) == allowed, refusal
    if not allowed:
        assert "not regenerating" in refusal


@pytest.mark.parametrize(
    ("synth", "message"),
    [
        ({"num_classes": 2, "per_class": 3, "seed": 0}, None),
        ({"num_classes": 2, "colour": "red"}, "unknown generator argument 'colour'"),
        ({"per_class": 10**9}, "dataset.synth.per_class must be an integer in 1..200"),
        ({"num_classes": "12"}, "dataset.synth.num_classes must be an integer"),
        ([12, 40], "must be a mapping"),
    ],
)
def test_regeneration_only_with_known_bounded_arguments(synth, message, tmp_path):
    refusal = regeneration_refusal(
        tmp_path / "data" / "synthactions.pkl", tmp_path / "data" / "videos", synth
    )
    assert refusal is None if message is None else message in refusal


def test_opening_a_page_never_regenerates_into_a_users_folder(tmp_path):
    """A run copied elsewhere whose manifest points into a folder of the user's: the Sample page's loader
    refuses with a message naming the run's manifest, and the folder keeps every file."""
    from dashboard import loaders

    run_dir = make_run(tmp_path / "fixture")
    manifest = json.loads((run_dir / "manifest.json").read_text())
    folder = user_folder(tmp_path)
    manifest["dataset"].update(
        annotation=str(folder / "synthactions.pkl"),
        videos=str(folder / "videos"),
        synth={"num_classes": 1, "per_class": 1, "seed": 0},
    )
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    before = snapshot(tmp_path / "thesis")
    with pytest.raises(DataError, match="holds files that SynthActions does not write") as err:
        loaders.ensure_videos(read_run(run_dir))
    assert str(run_dir / "manifest.json") in str(err.value)
    assert snapshot(tmp_path / "thesis") == before
    with pytest.raises(OutputError, match="is not a SynthActions folder"):  # and the library refuses alike
        generate_synthactions(folder, num_classes=1, per_class=1, workers=1, overwrite=True, progress=False)
    assert snapshot(tmp_path / "thesis") == before


def test_synthactions_folders_are_recognised(world, tmp_path):
    assert is_synthactions_dir(world["annotation"].parent)
    assert not is_synthactions_dir(user_folder(tmp_path))
    assert not is_synthactions_dir(tmp_path / "absent")


# --- silent wrong results: NaN stops the command -----------------------------------------------------------


def nan_checkpoint(path: Path, key_part: str = "rgb_backbone") -> tuple[Path, str]:
    """A checkpoint in our format whose first ``key_part`` weight holds a NaN (save_checkpoint refuses)."""
    torch.manual_seed(0)
    model = build_model("demo", 3)
    state = model.state_dict()
    key = next(k for k, v in state.items() if key_part in k and v.is_floating_point() and v.dim() > 1)
    state[key].view(-1)[0] = float("nan")
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "state_dict": state,
        "class_names": CLASSES,
        "meta": {},
    }
    torch.save(payload, path)
    return path, key


@pytest.mark.parametrize("command", ["evaluate", "robustness"])
def test_a_checkpoint_with_nan_weights_is_refused(command, world, tmp_path, capsys):
    checkpoint, key = nan_checkpoint(tmp_path / "nan.pt")
    with pytest.raises(CheckpointError, match=f"weight {key} holds 1 NaN"):
        load_checkpoint(checkpoint)
    argv = (
        evaluate_args(world, tmp_path / "run")
        if command == "evaluate"
        else [
            "robustness",
            "--checkpoint",
            checkpoint,
            "--data",
            world["annotation"],
            "--out",
            tmp_path / "run",
            "--noise",
            "jitter_px:0",
            "--workers",
            "0",
        ]
    )
    argv[argv.index("--checkpoint") + 1] = checkpoint
    before = snapshot(tmp_path)
    code, err = cli(argv, capsys)
    assert code == 2 and f"{checkpoint}: weight {key} holds 1 NaN" in err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("stream", ["rgb_backbone", "pose_backbone", "attention", "cls_head"])
def test_the_eval_path_does_not_hide_nan_weights(stream, world):
    """Whatever the eval fast path makes of a NaN weight, evaluation stops with the weight's name."""
    torch.manual_seed(0)
    model = build_model("demo", 3).eval()
    key = next(k for k, v in model.state_dict().items() if stream in k and v.is_floating_point())
    with torch.no_grad():
        model.state_dict()[key].view(-1)[0] = float("nan")
    from epam_core.data.dataset import PoseRGBDataset

    dataset = PoseRGBDataset(
        world["annotation"], world["annotation"].parent / "videos", model.config.input, split="test"
    )
    with pytest.raises(CheckpointError, match=f"weight {key} holds 1 NaN"):
        predict(model, dataset, DistContext(), batch_size=2, model_path="m.pt")


def test_nan_scores_are_blamed_on_the_model_and_the_sample():
    class Out:
        rgb_logits = torch.zeros(2, 3)
        pose_logits = torch.tensor([[0.0, 0.0, 0.0], [0.0, float("inf"), 0.0]])
        fused_logits = torch.zeros(2, 3)

    with pytest.raises(CheckpointError) as err:
        check_scores_finite(Out(), ["s0", "s1"], "ckpt.pt")
    assert str(err.value).startswith("ckpt.pt: gives NaN or infinite scores for sample 's1'")
    check_scores_finite(
        type(
            "Fine",
            (),
            {
                "rgb_logits": torch.zeros(1, 3),
                "pose_logits": torch.zeros(1, 3),
                "fused_logits": torch.zeros(1, 3),
            },
        )(),
        ["s0"],
        "ckpt.pt",
    )


def test_a_diverging_training_stops_and_saves_nothing(world, tmp_path, capsys):
    out = tmp_path / "train"
    code, err = cli(
        [
            "train",
            "--stage",
            "pose",
            "--data",
            world["annotation"],
            "--out",
            out,
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--lr",
            "1e37",
            "--workers",
            "0",
        ],
        capsys,
    )
    assert code == 2 and "training loss became" in err and "lower --lr" in err
    assert not out.exists() or not any(out.iterdir())
    model = build_model("demo", 3)
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = float("nan")
    with pytest.raises(CheckpointError, match="not written"):
        save_checkpoint(tmp_path / "nan.pt", model)
    assert not (tmp_path / "nan.pt").exists()


# --- resource exhaustion: inputs cannot ask for unbounded memory -------------------------------------------


BOMBS = {
    "bytearray": b"\x80\x02cbuiltins\nbytearray\nJ\x00\x00\x00\xc0\x85R.",  # bytearray(3 GB)
    "ndarray": b"\x80\x02cnumpy\nndarray\nJ\x00\x00\x00\x7f\x85R.",  # ndarray((2**31,))
    "reconstruct": b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nJ\x00\x00\x00\x7f\x85U\x01b"
    b"\x87R.",  # _reconstruct(ndarray, (2**31,), b"b")
    "codecs": b"\x80\x02c_codecs\nencode\nX\x02\x00\x00\x00abX\x04\x00\x00\x00zlib\x86R.",
}


@pytest.mark.parametrize("bomb", BOMBS)
def test_pickle_bombs_are_refused_before_allocating(bomb, world, tmp_path, capsys):
    path = tmp_path / "ann.pkl"
    path.write_bytes(BOMBS[bomb])
    with pytest.raises(DataError, match="refusing"):
        load_annotations(path)
    code, err = cli([*evaluate_args(world, tmp_path / "run")[:4], path, "--out", tmp_path / "run"], capsys)
    assert code == 2 and str(path) in err and "refusing" in err
    assert not (tmp_path / "run").exists()


def sample(**change) -> dict:
    ann = {
        "frame_dir": "v0",
        "label": 0,
        "img_shape": (60, 80),
        "total_frames": 2,
        "keypoint": np.full((1, 2, 17, 2), 10.0, np.float32),
        "keypoint_score": np.ones((1, 2, 17), np.float32),
    }
    return {**ann, **change}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"total_frames": 0, "keypoint": np.zeros((1, 0, 17, 2))},
            "total_frames must be in 1..200000, got 0",
        ),
        ({"total_frames": 10**9}, "total_frames must be in 1..200000, got 1000000000"),
        ({"keypoint": np.full((1, 2, 17, 2), "10")}, "keypoint is not an array of numbers"),
        ({"keypoint": [[[[1.0, 2.0]] * 17, [[1.0, 2.0]] * 16]]}, "keypoint is not an array of numbers"),
        ({"keypoint_score": [["high"] * 17] * 2}, "keypoint_score is not an array of numbers"),
        ({"keypoint": np.full((1, 2, 17, 2), np.inf, np.float32)}, "NaN keypoints \\(or infinite"),
        ({"total_frames": "many"}, "are not numbers"),
    ],
)
def test_annotations_are_validated_on_load(change, message, world, tmp_path, capsys):
    path = tmp_path / "ann.pkl"
    path.write_bytes(pickle.dumps({"split": {"test": ["v0"]}, "annotations": [sample(**change)]}))
    with pytest.raises(DataError, match=message) as err:
        load_annotations(path)
    assert str(err.value).startswith(f"{path}: sample 'v0'")
    code, err_text = cli(
        ["evaluate", "--checkpoint", world["checkpoint"], "--data", path, "--out", tmp_path / "run"], capsys
    )
    assert code == 2 and f"{path}: sample 'v0'" in err_text
    assert not (tmp_path / "run").exists()


def test_a_checkpoint_config_cannot_ask_for_a_billion_frames(tmp_path):
    config = build_config("demo", 3).to_dict()
    config["input"]["pose_frames"] = 10**9
    torch.save(
        {"format": FORMAT, "format_version": FORMAT_VERSION, "config": config, "state_dict": {}},
        tmp_path / "big.pt",
    )
    with pytest.raises(CheckpointError, match=r"InputConfig\.pose_frames must be in 1\.\.1024"):
        load_checkpoint(tmp_path / "big.pt")


# --- bad flags: argparse refuses them in one line, before anything runs ------------------------------------

FLAGS = [
    ("evaluate", "--batch-size", "0"),
    ("evaluate", "--workers", "-1"),
    ("evaluate", "--device", "tpu"),
    ("robustness", "--subset", "-3"),
    ("robustness", "--seeds", "-1"),
    ("robustness", "--batch-size", "0"),
    ("train", "--epochs", "0"),
    ("train", "--epochs", "-2"),
    ("train", "--batch-size", "0"),
    ("train", "--lr", "-1"),
    ("train", "--lr", "nan"),
    ("train", "--lr", "inf"),
    ("export", "--width", "-3"),
    ("export", "--dpi", "0"),
    ("export", "--dpi", "20000"),
    ("export", "--height", "nan"),
    ("extract-poses", "--max-side", "0"),
    ("analyze", "--max-side", "-5"),
    ("synth", "--size", "100000"),
    ("synth", "--frames", "1000000"),
    ("dashboard", "--port", "0"),
    ("import-scores", "--fusion-weights", "nan"),
]
REQUIRED = {
    "evaluate": ["--checkpoint", "c.pt", "--data", "a.pkl", "--out", "OUT"],
    "robustness": ["--checkpoint", "c.pt", "--data", "a.pkl", "--out", "OUT", "--noise", "jitter_px"],
    "train": ["--stage", "pose", "--data", "a.pkl", "--out", "OUT"],
    "export": ["--run", "r", "--out", "OUT"],
    "extract-poses": ["v.mp4", "--out", "OUT"],
    "analyze": ["v.mp4", "--checkpoint", "c.pt", "--out", "OUT"],
    "synth": ["--out", "OUT"],
    "dashboard": [],
    "import-scores": ["--scores", "r.pkl", "p.pkl", "--data", "a.pkl", "--out", "OUT"],
}


@pytest.mark.parametrize(("command", "flag", "value"), FLAGS)
def test_bad_flags_are_refused_in_one_line(command, flag, value, tmp_path, capsys):
    values = [value, value] if flag in ("--size", "--fusion-weights") else [value]
    argv = [command, *[str(tmp_path / "out") if a == "OUT" else a for a in REQUIRED[command]], flag, *values]
    code, err = cli(argv, capsys)
    assert code == 2
    assert err.strip().splitlines()[-1].startswith(f"epam {command}: error: argument {flag}: ")
    assert list(tmp_path.iterdir()) == []


def test_device_cuda_without_cuda_is_refused(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, err = cli(["evaluate", *REQUIRED["evaluate"], "--device", "cuda"], capsys)
    assert code == 2 and "argument --device: cuda was asked for, but CUDA is not available" in err


# --- tracebacks that became messages -------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["evaluate", "robustness", "train"])
def test_worker_errors_arrive_as_the_workers_message(command, world, tmp_path, capsys):
    """With data-loading workers, a missing video is reported as itself, not as 'Caught DataError in worker'."""
    data = tmp_path / "data"
    data.mkdir()
    anns = load_annotations(world["annotation"])
    annotation = save_annotations(data / "synthactions.pkl", anns.annotations, anns.split, CLASSES)
    missing = anns.split["test"][1] if command != "train" else anns.split["train"][1]
    (data / "vids").mkdir()
    for video in (world["annotation"].parent / "videos").iterdir():
        if video.stem != missing:
            (data / "vids" / video.name).symlink_to(video)
    common = ["--data", annotation, "--videos", data / "vids", "--out", tmp_path / "out", "--workers", "2"]
    argv = {
        "evaluate": ["evaluate", "--checkpoint", world["checkpoint"], *common],
        "robustness": ["robustness", "--checkpoint", world["checkpoint"], *common, "--noise", "jitter_px:0"],
        "train": [
            "train",
            "--stage",
            "pose",
            "--epochs",
            "1",
            "--batch-size",
            "3",
            *common,
        ],  # no sample dropped
    }[command]
    code, err = cli(argv, capsys)
    assert code == 2
    assert f"{data / 'vids'}: no video for sample {missing!r}" in err and "Caught" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("labels", "message"),
    [(["a", "b", "c"], "entry 0 has label 'a'"), ([[], [], []], "entry 0 has label []")],
)
def test_import_scores_refuses_labels_that_are_not_integers(labels, message, world, tmp_path, capsys):
    rgb, pose = score_pickles(world, tmp_path, labels=labels)
    code, err = cli(
        [
            "import-scores",
            "--scores",
            rgb,
            pose,
            "--data",
            world["annotation"],
            "--split",
            "test",
            "--out",
            tmp_path / "run",
        ],
        capsys,
    )
    assert code == 2 and f"{rgb}: {message}" in err
    assert not (tmp_path / "run").exists()


def test_nan_scores_are_blamed_on_the_score_file(world, tmp_path, capsys):
    rgb, pose = score_pickles(world, tmp_path)
    entries = pickle.loads(pose.read_bytes())
    entries[2][1] = np.nan
    pose.write_bytes(pickle.dumps(entries))
    code, err = cli(["import-scores", "--scores", rgb, pose, "--data", world["annotation"], "--split", "test",
                     "--out", tmp_path / "run"], capsys)  # fmt: skip
    assert code == 2 and f"{pose}: holds NaN or infinite scores (1 entries, first: entry 2)" in err
    assert not (tmp_path / "run").exists()


UNWRITABLE = {
    "under_a_file": lambda tmp: tmp / "notes.txt" / "out",
    "read_only_place": lambda tmp: Path("/sys/epam-test-output/out"),
}
WRITERS = {
    "evaluate": lambda w, out: evaluate_args(w, out),
    "export": lambda w, out: ["export", "--run", w["run"], "--out", out, "--formats", "svg"],
    "synth": lambda w, out: [
        "synth",
        "--out",
        out,
        "--classes",
        "1",
        "--per-class",
        "1",
        "--frames",
        "24",
        "--workers",
        "1",
    ],
    "train": lambda w, out: [
        "train",
        "--stage",
        "pose",
        "--data",
        w["annotation"],
        "--out",
        out,
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--workers",
        "0",
    ],
    "import-scores": lambda w, out: [
        "import-scores",
        "--scores",
        w["root"] / "rgb.pkl",
        w["root"] / "pose.pkl",
        "--data",
        w["annotation"],
        "--split",
        "test",
        "--out",
        out,
    ],
    "extract-poses": lambda w, out: ["extract-poses", w["root"] / "clip.mp4", "--out", out],
}


@pytest.mark.parametrize("place", UNWRITABLE)
@pytest.mark.parametrize("command", WRITERS)
def test_out_that_cannot_be_written_is_named(command, place, world, tmp_path, capsys):
    if place == "read_only_place" and not Path("/sys").is_dir():
        pytest.skip("no /sys here")
    score_pickles(world, world["root"])
    (world["root"] / "clip.mp4").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("mine")
    out = UNWRITABLE[place](tmp_path)
    before = snapshot(tmp_path)
    code, err = cli(WRITERS[command](world, out), capsys)
    assert code == 2 and str(out) in err and "cannot be written" in err  # train names OUT/last.pt
    assert snapshot(tmp_path) == before


def test_extract_poses_label_file_and_out_folder(tmp_path, capsys):
    (tmp_path / "clip.mp4").write_bytes(b"x")
    (tmp_path / "labels.bin").write_bytes(bytes(range(256)))
    code, err = cli(
        [
            "extract-poses",
            tmp_path / "clip.mp4",
            "--out",
            tmp_path / "p.pkl",
            "--label-file",
            tmp_path / "labels.bin",
        ],
        capsys,
    )
    assert code == 2 and f"{tmp_path / 'labels.bin'}: is not a text file" in err
    code, err = cli(["extract-poses", tmp_path / "clip.mp4", "--out", tmp_path], capsys)
    assert code == 2 and f"{tmp_path}: is a folder" in err


# --- typed paths in a dashboard served beyond this machine ------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.1.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("", False),
        ("example.org", False),
    ],
)
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) == loopback


@pytest.mark.parametrize(
    ("typed", "host", "allowed"),
    [
        ("runs/a", "127.0.0.1", True),
        ("/etc/passwd", "127.0.0.1", True),  # the user's own machine
        ("runs/a", "0.0.0.0", True),
        ("data/clip.mp4", "0.0.0.0", True),
        ("/etc/passwd", "0.0.0.0", False),
        ("/nonexistent/x", "0.0.0.0", False),
        ("runs/../../etc", "0.0.0.0", False),
        ("runs/link/secret", "0.0.0.0", False),  # a symbolic link out of the root
        ("bundled.pt", "0.0.0.0", True),  # a path the page itself offers
    ],
)
def test_typed_paths_are_limited_beyond_loopback(typed, host, allowed, tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "runs" / "link").symlink_to("/etc")
    text = typed if typed.startswith("/") else str(tmp_path / typed)
    roots = [tmp_path / "runs", tmp_path / "data", None]
    if allowed:
        assert check_typed_path(text, host, roots, also=[tmp_path / "bundled.pt"]) == Path(text).resolve()
    else:
        with pytest.raises(EpamError, match=r"not opened: this dashboard is served on 0\.0\.0\.0") as err:
            check_typed_path(text, host, roots)
        assert "exist" not in err.value.problem and str(tmp_path / "runs") in err.value.problem


def test_dashboard_pages_refuse_paths_outside_the_roots(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    app = str(Path(__file__).resolve().parents[1] / "dashboard" / "streamlit_app.py")
    runs = tmp_path / "runs"
    run = make_run(runs)
    outside = make_run(tmp_path / "elsewhere")
    monkeypatch.setenv("EPAM_RUNS_DIR", str(runs))
    monkeypatch.setenv(HOST_ENV, "0.0.0.0")
    at = AppTest.from_file(app, default_timeout=90)
    at.session_state["custom_run"] = str(outside)
    at.run()
    assert not at.exception
    assert any("not opened" in e.value and str(outside) in e.value for e in at.error)
    assert any("Served on 0.0.0.0" in c.value for c in at.caption)
    at = AppTest.from_file(app, default_timeout=90)
    at.session_state["custom_run"] = str(run)  # inside the runs folder: opens
    at.run()
    assert not at.error and at.session_state["run_path"] == str(run.resolve())
    at = AppTest.from_file(app, default_timeout=90)
    at.run()
    at.switch_page("app_pages/analyze.py").run()
    at.radio(key="analyze_source").set_value("Path on this machine").run()
    at.text_input(key="analyze_path").set_value("/etc/hostname").run()
    at.button(key="analyze_go").click().run()
    assert any("not opened" in e.value and "/etc/hostname" in e.value for e in at.error)


# --- the launcher: SIGTERM to `epam dashboard` frees the port ------------------------------------------------


def test_sigterm_to_the_launcher_frees_the_port(tmp_path):
    runs = tmp_path / "runs"
    make_run(runs)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [str(BIN / "epam"), "dashboard", "--runs", str(runs), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not listening(port):
            assert proc.poll() is None, "the dashboard exited before it listened"
            assert time.monotonic() < deadline, "the dashboard did not listen within 120 s"
            time.sleep(0.5)
        assert (
            "streamlit" in Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode()
        )  # the launcher became it
        sigterm_frees_the_port(proc, port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
