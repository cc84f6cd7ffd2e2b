"""The project's error types. Each names the file (or sample) and says what is wrong with it."""

from __future__ import annotations

from pathlib import Path


class EpamError(Exception):
    """Base class: ``str(err)`` is a message a person can act on, starting with the file it concerns."""

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else Path(path)
        self.problem = problem
        super().__init__(problem if path is None else f"{path}: {problem}")

    def __reduce__(self):  # pickled (DataLoader workers) with both arguments, not the joined message
        return type(self), (self.path, self.problem)


class CheckpointError(EpamError):
    """A checkpoint that cannot be loaded: truncated, foreign, mismatched shapes, unsafe pickle."""


class DataError(EpamError):
    """A dataset file, video or sample that cannot be used as it is."""


class RunError(EpamError):
    """An evaluation-run directory that is missing, partial, foreign or inconsistent."""


class OutputError(EpamError):
    """An output path that cannot be written, or whose replacement would destroy something epam did not write."""
