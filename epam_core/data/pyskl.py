"""Pose annotation files in the pyskl / PoseC3D pickle format (the format of mmaction2's ``ntu60_2d.pkl``).

A file holds ``{"split": {name: [frame_dir, ...]}, "annotations": [sample, ...]}`` and, in the files this
project writes, a top-level ``"class_names"`` list. Each sample is a dict::

    frame_dir       str, the sample id (NTU: "S001C001P001R001A001")
    label           int, 0-based class index; -1 when unknown
    img_shape       (h, w) of the frames the keypoints refer to
    original_shape  (h, w) of the original video
    total_frames    int, T
    keypoint        float (M, T, V, 2), pixels (x, y); M persons, V joints (COCO-17)
    keypoint_score  float (M, T, V), 0 where a joint was not detected

Files are unpickled with an allow-list (numpy arrays and scalars, plain containers) so that opening a
pickle from the internet cannot run code; anything else is a ``DataError``. Validation rejects NaN
keypoints (pyskl silently turns them into 0; here they are reported so that a broken pose extraction is
noticed), keypoints far outside the image, zero persons and labels outside the class list.
"""

from __future__ import annotations

import logging
import pickle
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from epam_core.errors import DataError
from epam_core.outputs import atomic_write_file

log = logging.getLogger(__name__)

UNKNOWN_LABEL = -1
REQUIRED_KEYS = ("frame_dir", "label", "img_shape", "total_frames", "keypoint", "keypoint_score")
# How far (as a fraction of the image side) a scored keypoint may lie outside the image: pose estimators
# extrapolate joints just beyond the frame border; anything further out is a coordinate-system mistake.
OUT_OF_IMAGE_TOLERANCE = 0.25

# Bounds on what one sample may ask for, checked before anything is allocated for it (NTU: 300 frames,
# 2 persons, 17 or 25 joints; an hour of video at 30 fps is 108 000 frames).
MAX_TOTAL_FRAMES = 200_000
MAX_PERSONS = 64
MAX_JOINTS = 256


class _NdarrayToken:
    """What ``numpy.ndarray`` unpickles to: numpy's own pickles only pass it to ``_reconstruct`` (below);
    calling it, as a hostile pickle may, to allocate an array of any shape, is refused."""

    def __call__(self, *args: Any) -> Any:
        raise pickle.UnpicklingError("refusing to call numpy.ndarray (only arrays as numpy pickles them)")


_NDARRAY = _NdarrayToken()


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    """numpy's ``_reconstruct`` for the empty array that ``__setstate__`` then fills (numpy always pickles
    shape ``(0,)``); any other shape could allocate without limit, so it is refused."""
    if subtype is not _NDARRAY or not (isinstance(shape, tuple) and 0 in shape):
        raise pickle.UnpicklingError(f"refusing numpy _reconstruct of shape {shape!r} (not a numpy pickle)")
    return np.ndarray.__new__(np.ndarray, (0,), dtype)


def _bytearray(*args: Any) -> bytearray:
    """``bytearray`` of bytes or text from the file; ``bytearray(n)`` would allocate n bytes from 8 in the file."""
    if args and not isinstance(args[0], bytes | bytearray | str):
        raise pickle.UnpicklingError(
            f"refusing bytearray({type(args[0]).__name__}) (it allocates, holds no data)"
        )
    return bytearray(*args)


def _encode(obj: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode`` for the latin-1 text in which Python 2 / protocol 2 pickles store array bytes."""
    if not isinstance(obj, str) or encoding.lower().replace("-", "") not in ("latin1", "iso88591", "utf8"):
        raise pickle.UnpicklingError(f"refusing _codecs.encode(..., {encoding!r})")
    return obj.encode(encoding, errors)


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): None,  # numpy's own (from the data in the file)
    ("numpy._core.multiarray", "scalar"): None,
    ("numpy.core.numeric", "_frombuffer"): None,  # a view of bytes in the file
    ("numpy._core.numeric", "_frombuffer"): None,
    ("_codecs", "encode"): _encode,
    ("collections", "OrderedDict"): None,
    ("builtins", "set"): None,
    ("builtins", "frozenset"): None,
    ("builtins", "slice"): None,
    ("builtins", "complex"): None,
    ("builtins", "bytearray"): _bytearray,
}


@dataclass(frozen=True)
class PoseAnnotations:
    """A loaded annotation file: splits, samples (in file order) and the class names if the file has them."""

    path: Path | None
    split: dict[str, list[str]]
    annotations: list[dict[str, Any]]
    class_names: list[str] | None = None

    def sample(self, frame_dir: str) -> dict[str, Any]:
        """The annotation of one sample by its ``frame_dir``."""
        for ann in self.annotations:
            if ann["frame_dir"] == frame_dir:
                return ann
        raise DataError(self.path, f"has no sample {frame_dir!r}")


class _SafeUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and builtin containers only; refuses every other global."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            guarded = _ALLOWED_GLOBALS[(module, name)]
            return super().find_class(module, name) if guarded is None else guarded
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only numpy arrays and builtins)")


def safe_load_pickle(path: Path, what: str, hint: str = "") -> Any:
    """Unpickle ``path`` allowing only numpy arrays and builtins; a ``DataError`` names the file otherwise.

    ``what`` names the expected content in the message ("pyskl annotation", "score"); ``hint`` is appended
    to the refusal of a disallowed global.
    """
    try:
        with path.open("rb") as f:
            return _SafeUnpickler(f).load()
    except pickle.UnpicklingError as err:
        raise DataError(path, f"is not a usable {what} pickle ({err}){hint}") from None
    except MemoryError:
        raise DataError(path, f"asks for more memory than there is; not a usable {what} pickle") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, ImportError) as err:
        raise DataError(path, f"is not a pickle or is truncated ({type(err).__name__}: {err})") from None


def load_annotations(path: str | Path, class_names: Sequence[str] | None = None) -> PoseAnnotations:
    """Read and validate a pyskl annotation pickle.

    ``class_names`` (optional) overrides the names stored in the file; labels are checked against it.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "annotation file not found")
    data = safe_load_pickle(path, "pyskl annotation")
    if isinstance(data, list):  # some tools write the annotation list alone, without splits
        data = {"split": {}, "annotations": data}
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise DataError(path, "is not a pyskl annotation file (expected a dict with an 'annotations' list)")
    split = data.get("split", {})
    if not isinstance(split, dict):
        raise DataError(path, "'split' must be a dict of name -> list of frame_dir")
    names = list(class_names) if class_names is not None else data.get("class_names")
    if names is not None:
        names = [str(n) for n in names]
    annotations = [normalize_annotation(ann, path, i) for i, ann in enumerate(data["annotations"])]
    for ann in annotations:
        validate_annotation(ann, path, num_classes=None if names is None else len(names))
    split = {str(k): [str(s) for s in v] for k, v in split.items()}
    _check_split(split, annotations, path)
    log.info("loaded %d samples from %s", len(annotations), path)
    return PoseAnnotations(path, split, annotations, names)


def save_annotations(
    path: str | Path,
    annotations: Sequence[Mapping[str, Any]],
    split: Mapping[str, Sequence[str]],
    class_names: Sequence[str] | None = None,
) -> Path:
    """Validate and write a pyskl annotation pickle atomically (``class_names`` stored when given)."""
    path = Path(path)
    anns = [normalize_annotation(ann, path, i) for i, ann in enumerate(annotations)]
    for ann in anns:
        validate_annotation(ann, path, num_classes=None if class_names is None else len(class_names))
    split_out = {str(k): [str(s) for s in v] for k, v in split.items()}
    _check_split(split_out, anns, path)
    data: dict[str, Any] = {"split": split_out, "annotations": anns}
    if class_names is not None:
        data["class_names"] = [str(n) for n in class_names]

    def write(tmp: Path) -> None:
        with tmp.open("wb") as f:
            pickle.dump(data, f, protocol=4)

    return atomic_write_file(path, write)


def select_split(annotations: PoseAnnotations, split_name: str | None) -> list[dict[str, Any]]:
    """The samples of one split, in the split's order (all samples when ``split_name`` is None).

    An unknown or empty split is a ``DataError`` naming the file, the split and the splits there are.
    """
    splits = ", ".join(f"{k!r} ({len(v)} samples)" for k, v in sorted(annotations.split.items())) or "none"
    if split_name is None:
        if not annotations.annotations:
            raise DataError(annotations.path, "has no samples")
        return list(annotations.annotations)
    if split_name not in annotations.split:
        raise DataError(annotations.path, f"has no split {split_name!r}; its splits are {splits}")
    if not annotations.split[split_name]:
        raise DataError(annotations.path, f"split {split_name!r} has no samples; its splits are {splits}")
    by_id = {ann["frame_dir"]: ann for ann in annotations.annotations}
    return [by_id[s] for s in annotations.split[split_name]]


def normalize_annotation(ann: Any, path: Path | None, index: int) -> dict[str, Any]:
    """A copy of one sample with the required keys checked and numeric fields given their canonical types.

    Keypoints keep their stored float dtype (mmaction2's files use float16; converting a whole NTU file
    to float32 would double its memory); ``(M, T, V, 3)`` keypoints without ``keypoint_score`` are split
    into coordinates and scores.
    """
    if not isinstance(ann, Mapping):
        raise DataError(path, f"annotation #{index} is a {type(ann).__name__}, not a dict")
    ann = dict(ann)
    sample = ann.get("frame_dir", f"#{index}")
    if "keypoint_score" not in ann and isinstance(ann.get("keypoint"), np.ndarray):
        kp = ann["keypoint"]
        if kp.ndim == 4 and kp.shape[-1] == 3:
            ann["keypoint"], ann["keypoint_score"] = kp[..., :2], kp[..., 2]
    missing = [k for k in REQUIRED_KEYS if k not in ann]
    if missing:
        raise DataError(path, f"sample {sample!r} lacks {', '.join(missing)}")
    ann["frame_dir"] = str(ann["frame_dir"])
    try:
        ann["label"] = int(ann["label"])
        ann["total_frames"] = int(ann["total_frames"])
        ann["img_shape"] = tuple(int(v) for v in ann["img_shape"])
        ann["original_shape"] = tuple(int(v) for v in ann.get("original_shape", ann["img_shape"]))
    except (TypeError, ValueError) as err:
        raise DataError(
            path, f"sample {sample!r}: label/total_frames/img_shape are not numbers ({err})"
        ) from None
    if not 1 <= ann["total_frames"] <= MAX_TOTAL_FRAMES:
        raise DataError(
            path,
            f"sample {sample!r}: total_frames must be in 1..{MAX_TOTAL_FRAMES}, got {ann['total_frames']}",
        )
    for key in ("keypoint", "keypoint_score"):
        ann[key] = _float_array(ann[key], path, sample, key)
    return ann


def _float_array(value: Any, path: Path | None, sample: str, key: str) -> np.ndarray:
    """``value`` as a float array (its own float dtype kept); a ``DataError`` for text, ragged lists, objects."""
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        return value
    try:
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":  # text, objects, dates: np.asarray would parse strings as numbers
            raise ValueError(f"holds {arr.dtype} values")
        return arr.astype(np.float32)
    except (TypeError, ValueError) as err:
        raise DataError(path, f"sample {sample!r}: {key} is not an array of numbers ({err})") from None


def validate_annotation(ann: Mapping[str, Any], path: Path | None, num_classes: int | None = None) -> None:
    """Raise ``DataError`` naming the file and the sample when one normalised sample is unusable."""
    sample = ann["frame_dir"]
    kp, score = ann["keypoint"], ann["keypoint_score"]

    def fail(problem: str) -> None:
        raise DataError(path, f"sample {sample!r}: {problem}")

    if kp.ndim != 4 or kp.shape[-1] != 2:
        fail(f"keypoint must have shape (M, T, V, 2), got {kp.shape}")
    if kp.shape[0] > MAX_PERSONS or kp.shape[2] > MAX_JOINTS:
        fail(
            f"keypoint has {kp.shape[0]} persons and {kp.shape[2]} joints (at most {MAX_PERSONS} and {MAX_JOINTS})"
        )
    if score.shape != kp.shape[:3]:
        fail(f"keypoint_score has shape {score.shape}, expected (M, T, V) = {kp.shape[:3]}")
    if kp.shape[0] == 0:
        fail("has zero persons (M = 0)")
    if kp.shape[1] != ann["total_frames"]:
        fail(f"total_frames is {ann['total_frames']} but keypoint has {kp.shape[1]} frames")
    if len(ann["img_shape"]) != 2 or min(ann["img_shape"]) <= 0:
        fail(f"img_shape must be (h, w) > 0, got {ann['img_shape']}")
    if not (np.isfinite(kp).all() and np.isfinite(score).all()):
        m, t, v = np.argwhere(~np.isfinite(kp).all(-1) | ~np.isfinite(score))[0]
        fail(f"NaN keypoints (or infinite ones; first at person {m}, frame {t}, joint {v})")
    label = ann["label"]
    if label < UNKNOWN_LABEL or (num_classes is not None and label >= num_classes):
        limit = "" if num_classes is None else f" 0..{num_classes - 1}"
        fail(f"label {label} is outside the class list{limit} (-1 = unknown)")
    h, w = ann["img_shape"]
    visible = score > 0
    if visible.any():
        xy = kp[visible]  # (K, 2)
        tol = OUT_OF_IMAGE_TOLERANCE
        low = np.array([-tol * w, -tol * h])
        high = np.array([(1 + tol) * w, (1 + tol) * h])
        bad = ((xy < low) | (xy > high)).any(axis=1)
        if bad.any():
            x, y = xy[np.argmax(bad)]
            fail(
                f"keypoint ({x:.1f}, {y:.1f}) lies far outside the {w}x{h} image "
                f"(more than {tol:.0%} of its size); are the coordinates normalised or from another video?"
            )


def _check_split(split: Mapping[str, Sequence[str]], annotations: list[dict[str, Any]], path: Path) -> None:
    ids = [ann["frame_dir"] for ann in annotations]
    known = set(ids)
    if len(known) != len(ids):
        dup = next(s for s, n in Counter(ids).items() if n > 1)
        raise DataError(path, f"lists sample {dup!r} more than once")
    for name, members in split.items():
        unknown = [s for s in members if s not in known]
        if unknown:
            raise DataError(path, f"split {name!r} names {len(unknown)} unknown samples, e.g. {unknown[0]!r}")
