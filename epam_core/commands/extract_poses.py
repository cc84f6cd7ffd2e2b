"""`epam extract-poses`: videos -> 2D COCO-17 poses in a pyskl annotation file (MediaPipe, offline)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from epam_core.commands import arguments
from epam_core.errors import DataError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "extract-poses",
        help="extract 2D poses (COCO-17) from videos with MediaPipe into a pyskl annotation file",
        description=(
            "Runs MediaPipe BlazePose (person detector and model_complexity=1 landmarks, weights inside the "
            "package, no download) on every frame "
            "and writes the pyskl/PoseC3D format: keypoints in pixels, per-keypoint scores (0 in frames "
            "without a person), up to --max-persons people per frame whose identities are kept across frames "
            "(keypoint (M, T, 17, 2), the best-seen person first), sample id = video file name without extension. "
            "MediaPipe lives in its own environment: run `make poses` once."
        ),
    )
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files")
    p.add_argument("--out", required=True, help="annotation pickle to write (atomically)")
    labels = p.add_mutually_exclusive_group()
    labels.add_argument(
        "--labels", nargs="+", metavar="LABEL", help="one label per video (index or class name)"
    )
    labels.add_argument(
        "--label-file", help="text file of 'VIDEO LABEL' lines (file name or stem; index or class name)"
    )
    p.add_argument(
        "--class-names",
        help="a built-in list (ntu60, ...) or a text file, one class name per line (stored in the file)",
    )
    p.add_argument(
        "--max-side",
        type=arguments.int_in(16, 8192),
        default=None,
        help="downscale frames to this longer side (640)",
    )
    p.add_argument(
        "--max-persons",
        type=arguments.positive_int,
        default=None,
        help="people found per frame, at most (2, as in pyskl's NTU)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing annotation file --out")
    p.set_defaults(func=run)


def parse_label(text: str, class_names: Sequence[str] | None, source: str | Path | None) -> int:
    """A label given as an index (-1 = unknown) or as a class name."""
    try:
        return int(text)
    except ValueError:
        if class_names is not None and text in class_names:
            return list(class_names).index(text)
    known = "" if class_names is None else " nor one of the --class-names"
    raise DataError(source, f"label {text!r} is not a class index{known}")


def resolve_labels(
    videos: Sequence[str | Path],
    labels: Sequence[str] | None = None,
    label_file: str | Path | None = None,
    class_names: Sequence[str] | None = None,
) -> list[int]:
    """One label per video from ``--labels`` or ``--label-file``; -1 (unknown) for videos given none."""
    videos = [Path(v) for v in videos]
    if labels is not None:
        if len(labels) != len(videos):
            raise DataError(None, f"--labels gives {len(labels)} labels for {len(videos)} videos")
        return [parse_label(x, class_names, None) for x in labels]
    if label_file is None:
        return [-1] * len(videos)
    label_file = Path(label_file)
    if not label_file.is_file():
        raise DataError(label_file, "label file not found")
    by_name: dict[str, int] = {}
    try:
        text = label_file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(label_file, "is not a text file of 'VIDEO LABEL' lines (not UTF-8 text)") from None
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, label = line.strip().rpartition(" ")
        if not sep:
            raise DataError(label_file, f"line {n} is not 'VIDEO LABEL': {line!r}")
        by_name[name.strip()] = parse_label(label, class_names, label_file)
    return [by_name.get(v.name, by_name.get(v.stem, -1)) for v in videos]


def run(args: argparse.Namespace) -> int:
    from epam_core.data.class_names import class_names_from_arg
    from epam_core.poses.extract import MAX_PERSONS, MAX_SIDE, extract_poses

    class_names = class_names_from_arg(args.class_names)
    labels = resolve_labels(args.videos, args.labels, args.label_file, class_names)
    out = extract_poses(
        args.videos,
        args.out,
        labels=labels,
        class_names=class_names,
        max_side=args.max_side or MAX_SIDE,
        overwrite=args.overwrite,
        max_persons=MAX_PERSONS if args.max_persons is None else args.max_persons,
    )
    print(out)
    return 0
