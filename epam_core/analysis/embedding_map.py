"""2-D maps of a run's clip embeddings (per stream and of the two concatenated), cached next to the run.

Projection: the unit-length embeddings (``Embeddings.space``, so Euclidean distances order pairs as cosine
similarity does) are reduced to at most ``PCA_DIMS`` dimensions with scikit-learn's PCA, then to 2 with
``method``:

* ``umap`` (default): UMAP through umap-learn (McInnes et al. 2018), ``n_neighbors=15``, ``min_dist=0.1``;
  seeded, so single-threaded and reproducible (same input and seed, same map).
* ``pca``: the first two principal components (instant; linear, so clusters overlap more).
* ``tsne``: scikit-learn's t-SNE (``init="pca"``, perplexity 30); slower than UMAP on large runs.

The maps of one method are cached in ``embedding_map_<method>.npz`` inside the run directory (``sample_id``,
one (S, 2) float32 array per space, and ``key``: a JSON string with the SHA-256 of ``embeddings.npz`` and the
projection settings). A cache whose key differs from the run's current one is recomputed and replaced
atomically; a run directory that cannot be written gets its maps computed in memory only.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from epam_core.analysis.embeddings import SPACES, Embeddings, embeddings_path, read_embeddings
from epam_core.errors import RunError
from epam_core.outputs import atomic_write_file
from epam_core.runs.format import EvalRun
from epam_core.runs.manifest import sha256

log = logging.getLogger(__name__)

METHODS = ("umap", "pca", "tsne")
PCA_DIMS = 50
UMAP_SETTINGS = {"n_neighbors": 15, "min_dist": 0.1}
TSNE_PERPLEXITY = 30.0
Progress = Callable[[int, int, str], None]  # (maps done, maps in all, space being computed)


@dataclass(frozen=True)
class EmbeddingMaps:
    """The 2-D maps of one run and method: ``xy[space]`` is (S, 2) float32, rows in the run's order."""

    method: str
    key: dict[str, Any]
    sample_ids: np.ndarray  # (S,) str
    xy: dict[str, np.ndarray]


def map_path(run: EvalRun, method: str) -> Path:
    return run.path / f"embedding_map_{method}.npz"


def cache_key(run: EvalRun, method: str, seed: int = 0) -> dict[str, Any]:
    """What a cached map depends on: the embeddings file's SHA-256 and every projection setting."""
    _check_method(method)
    settings: dict[str, Any] = {"pca_dims": PCA_DIMS}
    if method == "umap":  # the version from the package metadata: importing umap (numba) takes seconds
        settings |= {**UMAP_SETTINGS, "umap_learn": importlib.metadata.version("umap-learn")}
    elif method == "tsne":
        settings |= {"perplexity": TSNE_PERPLEXITY}
    return {"embeddings_sha256": sha256(embeddings_path(run)), "method": method, "seed": seed, **settings}


def project(x: np.ndarray, method: str = "umap", seed: int = 0) -> np.ndarray:
    """(S, D) features -> (S, 2) float32 map with ``method`` (see the module docstring); seeded."""
    from sklearn.decomposition import PCA

    _check_method(method)
    x = np.asarray(x, dtype=np.float32)
    if len(x) < 3:
        raise ValueError(f"a 2-D map needs at least 3 samples, got {len(x)}")
    dims = min(PCA_DIMS if method != "pca" else 2, x.shape[1], len(x))
    reduced = PCA(n_components=dims, random_state=seed).fit_transform(x)  # (S, dims)
    if method == "pca":
        out = reduced if dims == 2 else np.pad(reduced, ((0, 0), (0, 2 - dims)))
    elif method == "umap":
        import umap

        reducer = umap.UMAP(
            n_components=2,
            n_neighbors=min(UMAP_SETTINGS["n_neighbors"], len(x) - 1),
            min_dist=UMAP_SETTINGS["min_dist"],
            random_state=seed,
            n_jobs=1,  # a seeded UMAP runs single-threaded anyway; saying so silences its warning
        )
        out = reducer.fit_transform(reduced)
    else:
        from sklearn.manifold import TSNE

        perplexity = min(TSNE_PERPLEXITY, (len(x) - 1) / 3)
        out = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(
            reduced
        )
    return np.asarray(out, dtype=np.float32)


def compute_maps(
    embeddings: Embeddings, method: str = "umap", seed: int = 0, progress: Progress | None = None
) -> dict[str, np.ndarray]:
    """The three maps (rgb, pose, concat) of ``embeddings``, with a tqdm bar (and ``progress`` callbacks)."""
    xy: dict[str, np.ndarray] = {}
    for i, space in enumerate(tqdm(SPACES, desc=f"embedding maps ({method})", unit="map")):
        if progress is not None:
            progress(i, len(SPACES), space)
        xy[space] = project(embeddings.space(space), method, seed)
    if progress is not None:
        progress(len(SPACES), len(SPACES), "")
    return xy


def cached_maps(run: EvalRun, method: str = "umap", seed: int = 0) -> EmbeddingMaps | None:
    """The cached maps of ``run`` if they were computed from its current embeddings with these settings."""
    path = map_path(run, method)
    if not path.is_file() or not embeddings_path(run).is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            key = json.loads(str(npz["key"]))
            maps = EmbeddingMaps(method, key, npz["sample_id"].astype(str), {s: npz[s] for s in SPACES})
    except Exception as err:  # a damaged cache is recomputed, not an error
        log.warning("ignoring the unreadable map cache %s (%s: %s)", path, type(err).__name__, err)
        return None
    if key != cache_key(run, method, seed) or not np.array_equal(maps.sample_ids, run.sample_ids):
        return None
    return maps


def load_or_compute_maps(
    run: EvalRun, method: str = "umap", seed: int = 0, progress: Progress | None = None
) -> EmbeddingMaps:
    """The run's maps: from the cache when it is current, else computed (once) and cached atomically."""
    maps = cached_maps(run, method, seed)
    if maps is not None:
        return maps
    embeddings = read_embeddings(run)
    if embeddings is None:
        raise RunError(
            embeddings_path(run),
            "does not exist: this run has no embeddings (`epam evaluate --embeddings` writes them, "
            "`epam embeddings --extract` adds them)",
        )
    key = cache_key(run, method, seed)
    maps = EmbeddingMaps(method, key, embeddings.sample_ids, compute_maps(embeddings, method, seed, progress))
    if os.access(run.path, os.W_OK):
        atomic_write_file(map_path(run, method), lambda p: _write_maps(p, maps))
    else:
        log.warning("%s is read-only: the embedding maps are not cached", run.path)
    return maps


def _write_maps(path: Path, maps: EmbeddingMaps) -> None:
    with path.open("wb") as f:
        np.savez(
            f, key=np.asarray(json.dumps(maps.key, sort_keys=True)), sample_id=maps.sample_ids, **maps.xy
        )


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown projection {method!r}; choose one of {METHODS}")


# --- what the points are coloured by, and which points a selection holds -----------------------------------

COLOUR_BY = ("true class", "predicted class", "right / wrong", "stream agreement")
AGREEMENT = (
    "both right",
    "only RGB right",
    "only pose right",
    "both wrong, same class",
    "both wrong, differ",
)
AGREEMENT_UNLABELLED = ("RGB and pose agree", "RGB and pose differ")


def colour_groups(
    colour_by: str,
    labels: np.ndarray,
    preds: dict[str, np.ndarray],
    class_names: list[str],
    stream: str = "fused",
) -> tuple[np.ndarray, list[str]]:
    """(group code per sample (S,) int64, group names): what the map colours by.

    ``labels`` (S,) with -1 for unknown, ``preds`` {rgb, pose, fused: (S,)} predicted classes; ``stream``
    is the one "predicted class" and "right / wrong" look at. Unknown labels form an "unknown" group.
    """
    labels = np.asarray(labels, dtype=np.int64)
    known = labels >= 0
    if colour_by == "true class":
        return np.where(known, labels, len(class_names)), [*class_names, "unknown"]
    if colour_by == "predicted class":
        return np.asarray(preds[stream], dtype=np.int64), list(class_names)
    if colour_by == "right / wrong":
        right = preds[stream] == labels
        return np.where(known, np.where(right, 0, 1), 2), ["right", "wrong", "unknown"]
    if colour_by == "stream agreement":
        rgb, pose = preds["rgb"], preds["pose"]
        if not known.any():
            return np.where(rgb == pose, 0, 1), list(AGREEMENT_UNLABELLED)
        rgb_right, pose_right = rgb == labels, pose == labels
        code = np.select(
            [rgb_right & pose_right, rgb_right, pose_right, rgb == pose], [0, 1, 2, 3], default=4
        )
        return np.where(known, code, 5), [*AGREEMENT, "unknown"]
    raise ValueError(f"unknown colouring {colour_by!r}; choose one of {COLOUR_BY}")


DRAW_SEED = 0
MIN_DRAWN_PER_GROUP = 30  # clips of each colour group a sample keeps (all of a smaller group)


def drawn_rows(codes: np.ndarray, limit: int | None, seed: int = DRAW_SEED) -> np.ndarray:
    """The rows of the points a map draws (sorted): every row when ``limit`` is None or there are at most
    ``limit``, else a seeded sample of ``limit`` stratified by ``codes`` (the colour group of each row).

    Each group present keeps ``min(its size, MIN_DRAWN_PER_GROUP)`` rows (fewer when there are too many
    groups for ``limit``, but at least one: every group present is drawn, so a sample may exceed ``limit``
    when there are more groups than ``limit``); the rest of ``limit`` is shared in proportion to the
    groups' remaining sizes (largest remainders). Within a group, the rows of lowest rank in one seeded
    permutation of all rows are drawn: the same codes, limit and seed draw the same points.
    """
    codes = np.asarray(codes)
    n = len(codes)
    if limit is None or n <= limit:
        return np.arange(n, dtype=np.int64)
    present, counts = np.unique(codes, return_counts=True)
    floor = max(1, min(MIN_DRAWN_PER_GROUP, limit // len(present)))
    quota = np.minimum(counts, floor)
    rest = limit - int(quota.sum())
    if rest > 0:
        spare = counts - quota
        share = rest * spare / spare.sum()
        extra = np.floor(share).astype(np.int64)
        left = rest - int(extra.sum())  # to the largest remainders, ties to the earlier group
        extra[np.lexsort((np.arange(len(share)), -(share - extra)))[:left]] += 1
        quota += extra
    rank = np.random.default_rng(seed).permutation(n)  # (n,) the draw order of each row
    order = np.lexsort((rank, codes))  # rows by group, then by rank
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])  # where each group begins in ``order``
    keep = np.concatenate([order[s : s + q] for s, q in zip(start, quota, strict=True)])
    return np.sort(keep).astype(np.int64)


def rows_in_selection(xy: np.ndarray, selection: dict[str, Any]) -> np.ndarray:
    """Rows of ``xy`` (S, 2) inside a plotly box or lasso selection (Streamlit's ``event.selection``: ``box``
    [{"x": [x0, x1], "y": [y0, y1]}], ``lasso`` [{"x": [...], "y": [...]}], the union of all), sorted.

    Without a box or lasso (a click), the rows are the selected points' ``customdata[0]``.
    """
    from matplotlib.path import Path as Polygon

    inside = np.zeros(len(xy), dtype=bool)
    shapes = 0
    for box in selection.get("box") or []:
        (x0, x1), (y0, y1) = sorted(box["x"][:2]), sorted(box["y"][:2])
        inside |= (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
        shapes += 1
    for lasso in selection.get("lasso") or []:
        polygon = Polygon(np.column_stack([lasso["x"], lasso["y"]]))
        inside |= polygon.contains_points(xy)
        shapes += 1
    if shapes:
        return np.flatnonzero(inside)
    rows = [_point_row(p) for p in selection.get("points") or []]
    return np.unique(np.asarray([r for r in rows if r is not None], dtype=np.int64))


def _point_row(point: dict[str, Any]) -> int | None:
    custom = point.get("customdata")
    if isinstance(custom, list | tuple):
        custom = custom[0] if custom else None
    return None if custom is None else int(custom)
