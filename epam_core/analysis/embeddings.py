"""Clip embeddings: the pooled features EPAM-Net's two classifier heads see, captured during evaluation.

Per sample and stream, the embedding is the global-average-pooled input of that stream's ``fc_cls``: the
attention-guided RGB features (``rgb_feats + rgb_feats * A`` pooled over T, h, w) and the pose features,
as the linear layers see them (dropout is the identity in eval mode). They are stored float16 in the run's
``embeddings.npz`` (``sample_id`` (S,), ``rgb`` (S, C_rgb), ``pose`` (S, C_pose), in the order of the
predictions); ``epam evaluate --embeddings`` writes it, ``epam embeddings --extract`` adds it to a run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from epam_core.config import BRANCHES
from epam_core.errors import RunError
from epam_core.outputs import atomic_write_file
from epam_core.runs.format import EMBEDDINGS, MANIFEST, STREAMS, EvalRun

if TYPE_CHECKING:
    from torch import Tensor, nn

SPACES = ("rgb", "pose", "concat")  # the two streams and the two concatenated
SPACE_LABELS = {"rgb": "RGB", "pose": "Pose", "concat": "RGB + pose"}


@dataclass(frozen=True)
class Embeddings:
    """Per-stream clip embeddings of a run, rows in the order of its predictions."""

    sample_ids: np.ndarray  # (S,) str
    rgb: np.ndarray  # (S, C_rgb) float16
    pose: np.ndarray  # (S, C_pose) float16

    def __len__(self) -> int:
        return len(self.sample_ids)

    @cached_property
    def _unit(self) -> dict[str, np.ndarray]:
        return {"rgb": _l2_normalise(self.rgb), "pose": _l2_normalise(self.pose)}  # kept: (S, C) float32

    def space(self, name: str) -> np.ndarray:
        """(S, D) float32 unit-length rows of ``name`` (rgb, pose or concat); dot products are cosines.

        concat is each stream's unit vector scaled by 1/sqrt(2), side by side: both streams weigh the same
        and rows stay unit length (built on each call, not kept).
        """
        if name not in SPACES:
            raise ValueError(f"unknown embedding space {name!r}; choose one of {SPACES}")
        if name == "concat":
            return np.hstack([self._unit["rgb"], self._unit["pose"]]) / np.float32(np.sqrt(2.0))
        return self._unit[name]

    def similarities(self, name: str, index: int) -> np.ndarray:
        """(S,) float32 cosine similarity of every row to row ``index`` in space ``name``."""
        if name == "concat":  # the mean of the two streams' cosines, without building the (S, D) matrix
            return (self.similarities("rgb", index) + self.similarities("pose", index)) / np.float32(2.0)
        unit = self.space(name)
        return unit @ unit[index]

    @cached_property
    def _index(self) -> dict[str, int]:
        """{sample id: its first row}, built once (a 50k-clip lookup per rerun is then a dict access)."""
        index: dict[str, int] = {}
        for row, sample_id in enumerate(self.sample_ids.tolist()):
            index.setdefault(sample_id, row)
        return index

    def has_sample(self, sample_id: str) -> bool:
        return sample_id in self._index

    def index_of(self, sample_id: str) -> int:
        """The first row of ``sample_id``; ``KeyError`` when there is none."""
        return self._index[sample_id]


def _l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, np.float32(1e-12))


@contextmanager
def capture_head_inputs(model: nn.Module) -> Iterator[list[tuple[str, Tensor]]]:
    """Forward pre-hooks on ``rgb_cls_head.fc_cls`` and ``pose_cls_head.fc_cls`` of an EPAMNet.

    Yields a list that receives ``(stream, features (N, C))`` for every call of either linear layer: the
    pooled features the classifier sees. ``first_head_inputs`` picks a forward pass's embeddings from it; the
    hooks are removed when the block ends.
    """
    calls: list[tuple[str, Tensor]] = []

    def hook(stream: str):
        def keep(_module: nn.Module, inputs: tuple[Tensor, ...]) -> None:
            calls.append((stream, inputs[0].detach()))

        return keep

    handles = [
        getattr(model, f"{stream}_cls_head").fc_cls.register_forward_pre_hook(hook(stream))
        for stream in BRANCHES
    ]
    try:
        yield calls
    finally:
        for handle in handles:
            handle.remove()


def first_head_inputs(calls: list[tuple[str, Tensor]]) -> tuple[Tensor, Tensor]:
    """(rgb (N, C_rgb), pose (N, C_pose)): the first call of each head since ``calls`` was last cleared.

    The first RGB call is the attention-guided one, in ``EPAMNet.forward`` and in the attention measures'
    forward alike (which then calls the RGB head again with uniform and with no attention).
    """
    first = {}
    for stream, features in calls:
        first.setdefault(stream, features)
    missing = [s for s in BRANCHES if s not in first]
    if missing:
        raise RuntimeError(f"the forward pass did not call the {', '.join(missing)} head")
    return first["rgb"], first["pose"]


def embeddings_path(run: EvalRun | str | Path) -> Path:
    return (run.path if isinstance(run, EvalRun) else Path(run)) / EMBEDDINGS


def write_embeddings(run_dir: str | Path, embeddings: Embeddings) -> Path:
    """Add (or replace) ``embeddings.npz`` of an existing run, atomically; returns its path."""
    run_dir = Path(run_dir)
    if not (run_dir / MANIFEST).is_file():
        raise RunError(run_dir, f"not an evaluation run ({MANIFEST} is missing)")

    def write(path: Path) -> None:
        with path.open("wb") as f:
            np.savez(
                f,
                sample_id=np.asarray(embeddings.sample_ids, dtype=str),
                rgb=np.asarray(embeddings.rgb, dtype=np.float16),
                pose=np.asarray(embeddings.pose, dtype=np.float16),
            )

    return atomic_write_file(run_dir / EMBEDDINGS, write)


def read_embeddings(run: EvalRun) -> Embeddings | None:
    """The run's embeddings, or None when it has none (e.g. ``epam import-scores`` runs); raises ``RunError``
    naming the file when it is damaged or does not match the predictions."""
    path = embeddings_path(run)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            emb = Embeddings(npz["sample_id"].astype(str), npz["rgb"], npz["pose"])
    except Exception as err:  # zipfile, KeyError, ValueError: a damaged or foreign file
        raise RunError(path, f"cannot be read ({type(err).__name__}: {err})") from None
    if emb.rgb.ndim != 2 or emb.pose.ndim != 2 or not len(emb.rgb) == len(emb.pose) == len(emb.sample_ids):
        raise RunError(
            path, f"rgb and pose must be (S, C) with S sample ids; got {emb.rgb.shape} and {emb.pose.shape}"
        )
    if not np.array_equal(emb.sample_ids, run.sample_ids):
        raise RunError(path, "sample ids differ from those of the run's predictions (stale embeddings?)")
    if not (np.isfinite(emb.rgb).all() and np.isfinite(emb.pose).all()):
        raise RunError(path, "contains NaN or infinite values")
    return emb


def nearest_neighbours(
    embeddings: Embeddings, space: str, index: int, k: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` samples closest to sample ``index`` in ``space`` by cosine similarity, itself excluded:
    (row indices (k,), cosine similarities (k,)), most similar first."""
    similarity = embeddings.similarities(space, index)  # (S,)
    similarity[index] = -np.inf
    k = min(k, len(similarity) - 1)
    if k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    top = np.argpartition(-similarity, k - 1)[:k]
    top = top[np.lexsort((top, -similarity[top]))]  # by similarity, ties by row
    return top.astype(np.int64), similarity[top].astype(np.float32)


def predicted_classes(run: EvalRun) -> dict[str, np.ndarray]:
    """{rgb, pose, fused: (S,) int64} the run's predicted class per stream."""
    return {s: run.logits(s).argmax(axis=1).astype(np.int64) for s in STREAMS}


def sample_table(
    rows: np.ndarray,
    sample_ids: np.ndarray,
    labels: np.ndarray,
    preds: dict[str, np.ndarray],
    class_names: list[str],
) -> pd.DataFrame:
    """One line per row of ``rows``: sample_id, true class and each stream's prediction (names)."""
    names = np.asarray([*class_names, "unknown"], dtype=object)  # label -1 -> "unknown"
    table = pd.DataFrame({"sample_id": sample_ids[rows], "true": names[labels[rows]]})
    for stream in STREAMS:
        table[f"{stream} prediction"] = names[preds[stream][rows]]
    return table


def neighbour_table(
    run: EvalRun,
    embeddings: Embeddings,
    space: str,
    sample_id: str,
    k: int = 10,
    labels: np.ndarray | None = None,
    preds: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """The ``k`` nearest neighbours of ``sample_id`` in ``space`` (cosine), with their classes."""
    rows, similarity = nearest_neighbours(embeddings, space, embeddings.index_of(sample_id), k)
    labels = run.labels if labels is None else labels
    preds = predicted_classes(run) if preds is None else preds
    table = sample_table(rows, embeddings.sample_ids, labels, preds, run.class_names)
    table.insert(1, "cosine", similarity)
    return table
