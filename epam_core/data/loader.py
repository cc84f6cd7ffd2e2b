"""A ``DataLoader`` whose worker processes hand back our errors as they are.

PyTorch re-raises an exception from a worker process as ``RuntimeError: Caught DataError in DataLoader worker
process 0`` with the worker's traceback (it cannot rebuild an ``EpamError`` from its message). Here a sample
that raises an ``EpamError`` is returned as a ``_Failure`` instead; the batch that holds one becomes that
failure, and iterating the loader raises the original ``EpamError`` in the main process, naming the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from torch.utils.data import DataLoader, Dataset
from torch.utils.data._utils.collate import default_collate, default_convert

from epam_core.errors import EpamError


class _Failure:
    """An ``EpamError`` raised while loading a sample, carried back to the main process."""

    def __init__(self, error: EpamError) -> None:
        self.error = error


class _Catching(Dataset):
    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Any:
        try:
            return self.dataset[index]
        except EpamError as err:
            return _Failure(err)


def _collate(batch: Any) -> Any:
    """``default_collate`` of a list of samples, or ``default_convert`` of one (``batch_size=None``)."""
    if isinstance(batch, _Failure):
        return batch
    if isinstance(batch, list):
        failure = next((item for item in batch if isinstance(item, _Failure)), None)
        return failure if failure is not None else default_collate(batch)
    return default_convert(batch)


class EpamLoader:
    """``DataLoader(dataset, **kwargs)`` that raises a sample's ``EpamError`` itself, with or without workers.

    ``batch_size=None`` gives the samples one by one, as ``DataLoader`` does.
    """

    def __init__(self, dataset: Dataset, **kwargs: Any) -> None:
        self.loader = DataLoader(_Catching(dataset), collate_fn=_collate, **kwargs)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        for batch in self.loader:
            if isinstance(batch, _Failure):
                raise batch.error
            yield batch
