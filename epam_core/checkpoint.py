"""Saving and loading EPAM-Net checkpoints: ours (self-describing) and the authors' released files.

Our format is ``torch.save`` of plain containers::

    {"format": "epam-checkpoint", "format_version": 1, "config": EPAMNetConfig.to_dict(),
     "state_dict": {name: tensor}, "class_names": [str] | None, "meta": {epoch, metrics, git_sha, ...}}

The authors' EPAM-Net files (https://github.com/ahmed-nady/Multimodal-Action-Recognition) hold
``{"model_state_dict": ...}`` (or ``"state_dict"``, or a bare state dict) saved from a DDP model, so keys carry
a ``module.`` prefix; they are the ``paper`` preset and the number of classes follows from the RGB head.
Their single-stream (mmaction2) files hold ``{"state_dict": {"backbone.…", "cls_head.fc_cls.…"}}`` and load
into one stream with ``load_unimodal_weights``. Every load uses ``weights_only=True`` on the CPU and is strict;
every failure is a ``CheckpointError`` naming the file and the problem.
"""

from __future__ import annotations

import logging
import pickle
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from epam_core.config import BRANCHES, EPAMNetConfig, paper_config
from epam_core.errors import CheckpointError
from epam_core.fast import DEFAULT_OPTIONS, CpuInferenceOptions, prepare_cpu_inference
from epam_core.models.epam_net import EPAMNet
from epam_core.outputs import atomic_write_file

log = logging.getLogger(__name__)

FORMAT = "epam-checkpoint"
FORMAT_VERSION = 1
# Prefixes that wrappers add to every key: DistributedDataParallel, torch.compile.
WRAPPER_PREFIXES = ("module.", "_orig_mod.")


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A model (eval mode) with what its checkpoint says about it."""

    model: EPAMNet
    class_names: list[str] | None
    meta: dict[str, Any]


def clean_state_dict(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Strip the wrapper prefixes of ``WRAPPER_PREFIXES`` (repeatedly, in any order) from every key."""
    cleaned = {}
    for key, value in state_dict.items():
        stripped = True
        while stripped:
            stripped = False
            for prefix in WRAPPER_PREFIXES:
                if key.startswith(prefix):
                    key, stripped = key[len(prefix) :], True
        cleaned[key] = value
    return cleaned


def unwrap_model(model: nn.Module) -> EPAMNet:
    """The EPAMNet inside a DistributedDataParallel or torch.compile wrapper."""
    while not isinstance(model, EPAMNet):
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if inner is None:
            raise TypeError(f"expected an EPAMNet (possibly wrapped), got {type(model).__name__}")
        model = inner
    return model


def _plain(value: Any, where: str) -> Any:
    """``value`` as plain Python containers and scalars (what ``weights_only=True`` can load)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"checkpoint {where} must be plain data, got {type(value).__name__}")


def save_checkpoint(
    path: str | Path, model: nn.Module, class_names: list[str] | None = None, **meta: Any
) -> Path:
    """Write ``model`` (EPAMNet, maybe DDP/compiled) with its config, class names and ``meta`` atomically."""
    net = unwrap_model(model)
    if class_names is not None and len(class_names) != net.config.num_classes:
        raise ValueError(f"{len(class_names)} class names for a model with {net.config.num_classes} classes")
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    if (problem := nonfinite_weight(state)) is not None:  # never write a model that gives NaN scores
        raise CheckpointError(path, f"not written: the model's {problem}")
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": net.config.to_dict(),
        "state_dict": state,
        "class_names": None if class_names is None else [str(c) for c in class_names],
        "meta": _plain(meta, "meta"),
    }
    path = Path(path)
    return atomic_write_file(path, lambda tmp: torch.save(payload, tmp))


def read_checkpoint_file(path: str | Path) -> Any:
    """``torch.load(weights_only=True)`` on the CPU, with every failure turned into a ``CheckpointError``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "checkpoint not found" if not path.exists() else "is not a file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            path,
            f"holds objects other than plain tensors and containers; refusing to unpickle them ({first})",
        ) from None
    except (EOFError, zipfile.BadZipFile) as err:
        raise CheckpointError(path, f"is truncated or damaged ({type(err).__name__}: {err})") from None
    except RuntimeError as err:
        raise CheckpointError(path, f"is truncated or not a PyTorch file ({err})") from None
    except Exception as err:
        raise CheckpointError(path, f"is not a readable PyTorch file ({type(err).__name__}: {err})") from None


def load_checkpoint(
    path: str | Path, *, cpu_inference: CpuInferenceOptions | None = DEFAULT_OPTIONS
) -> LoadedCheckpoint:
    """Ours or the authors' EPAM-Net file -> ``LoadedCheckpoint`` with the model in eval mode.

    The model is in its CPU-inference form (``epam_core.fast.prepare_cpu_inference`` with ``cpu_inference``;
    the same state dict, and the plain computation wherever the fast one does not apply); ``None``: plain.
    """
    path = Path(path)
    data = read_checkpoint_file(path)
    if isinstance(data, Mapping) and data.get("format") == FORMAT:
        loaded = _from_ours(path, data)
    else:
        loaded = _from_official(path, data)
    if cpu_inference is None:
        return replace(loaded, model=loaded.model.eval())
    return replace(loaded, model=prepare_cpu_inference(loaded.model, cpu_inference))


def load_model(path: str | Path, *, cpu_inference: CpuInferenceOptions | None = DEFAULT_OPTIONS) -> EPAMNet:
    """The model of a checkpoint (ours or the authors'), in eval mode and CPU-inference form (see
    ``load_checkpoint``)."""
    return load_checkpoint(path, cpu_inference=cpu_inference).model


def load_unimodal_weights(model: EPAMNet, stream: str, path: str | Path) -> None:
    """Load one stream's backbone and head (``rgb`` or ``pose``) from a single-stream or two-stream file.

    Accepts mmaction2-style files (``backbone.…``, ``cls_head.…``), the authors' two-stream files and ours.
    Every parameter and buffer of that stream must be present with the right shape; the rest is left alone.
    """
    if stream not in BRANCHES:
        raise ValueError(f"stream must be one of {BRANCHES}, got {stream!r}")
    path = Path(path)
    data = read_checkpoint_file(path)
    state = data["state_dict"] if isinstance(data, Mapping) and data.get("format") == FORMAT else None
    state = clean_state_dict(_find_state_dict(path, data) if state is None else state)
    backbone, head = f"{stream}_backbone.", f"{stream}_cls_head."
    renames = {"backbone.": backbone, "cls_head.": head, backbone: backbone, head: head}
    picked = {}
    for key, value in state.items():
        for old, new in renames.items():
            if key.startswith(old):
                picked[new + key[len(old) :]] = value
                break
    target = {k: v for k, v in model.state_dict().items() if k.startswith((backbone, head))}
    if not picked:
        raise CheckpointError(path, f"has no {stream} stream weights (no 'backbone.' or '{backbone}' keys)")
    _check_state_dict(path, target, picked)
    if (problem := nonfinite_weight(picked)) is not None:
        raise CheckpointError(path, f"{problem} (a diverged training?); refusing to use it")
    model.load_state_dict({**model.state_dict(), **picked}, strict=True)
    log.info("loaded the %s stream (%d tensors) from %s", stream, len(picked), path)


def _from_ours(path: Path, data: Mapping[str, Any]) -> LoadedCheckpoint:
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(path, f"has format_version {version}; this epam reads {FORMAT_VERSION}")
    try:
        config = EPAMNetConfig.from_dict(data["config"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(path, f"has an invalid model config ({type(err).__name__}: {err})") from None
    model = EPAMNet(config)
    _load_strict(path, model, data.get("state_dict"))
    class_names = data.get("class_names")
    return LoadedCheckpoint(
        model, None if class_names is None else list(class_names), dict(data.get("meta") or {})
    )


def _from_official(path: Path, data: Any) -> LoadedCheckpoint:
    state = clean_state_dict(_find_state_dict(path, data))
    head = state.get("rgb_cls_head.fc_cls.weight")
    if not isinstance(head, Tensor) or head.dim() != 2:
        if any(k.startswith("backbone.") for k in state):
            raise CheckpointError(
                path, "is a single-stream (mmaction2) checkpoint; load it with load_unimodal_weights"
            )
        raise CheckpointError(
            path,
            f"is not an EPAM-Net checkpoint: no 'rgb_cls_head.fc_cls.weight' among its {len(state)} keys "
            f"(first: {', '.join(list(state)[:3]) or 'none'})",
        )
    model = EPAMNet(paper_config(num_classes=int(head.shape[0])))
    _load_strict(path, model, state)
    meta: dict[str, Any] = {"source": "official"}
    if isinstance(data, Mapping) and isinstance(data.get("epoch"), int):
        meta["epoch"] = data["epoch"]
    return LoadedCheckpoint(model, None, meta)


def _find_state_dict(path: Path, data: Any) -> Mapping[str, Any]:
    """The state dict of ``{'model_state_dict': sd}``, ``{'state_dict': sd}`` or a bare ``sd``."""
    if isinstance(data, Mapping):
        for key in ("model_state_dict", "state_dict"):
            if isinstance(data.get(key), Mapping):
                return data[key]
        if data and all(isinstance(v, Tensor) for v in data.values()):
            return data
    raise CheckpointError(
        path,
        "holds no state dict (expected 'model_state_dict', 'state_dict' or a mapping of names to tensors; "
        f"found {type(data).__name__}{' with keys ' + ', '.join(map(str, list(data)[:5])) if isinstance(data, Mapping) else ''})",
    )


def _check_state_dict(path: Path, expected: Mapping[str, Tensor], given: Mapping[str, Any]) -> None:
    """Raise a ``CheckpointError`` listing missing, unexpected, non-tensor and mis-shaped entries."""
    problems = []
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    not_tensors = [k for k in given if k in expected and not isinstance(given[k], Tensor)]
    shapes = [
        f"{k} {tuple(given[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if isinstance(given.get(k), Tensor) and given[k].shape != v.shape
    ]
    for label, items in (
        ("missing", missing),
        ("unexpected", unexpected),
        ("not tensors", not_tensors),
        ("shape mismatch", shapes),
    ):
        if items:
            problems.append(f"{len(items)} {label} (e.g. {'; '.join(items[:3])})")
    if problems:
        foreign = len(missing) == len(expected)
        lead = "is not an EPAM-Net state dict of this shape" if foreign else "does not match the model"
        raise CheckpointError(path, f"{lead}: {', '.join(problems)}")


def nonfinite_weight(state: Mapping[str, Any]) -> str | None:
    """What is wrong when a tensor of ``state`` holds NaN or infinite values (the first such), else None.

    Such weights give NaN scores, which fused kernels may even turn into finite ones, so they are refused.
    """
    for key, value in state.items():
        if isinstance(value, Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            return f"weight {key} holds {int((~torch.isfinite(value)).sum())} NaN or infinite values"
    return None


def _load_strict(path: Path, model: nn.Module, state: Any) -> None:
    if not isinstance(state, Mapping):
        raise CheckpointError(path, f"has no state dict (found {type(state).__name__})")
    _check_state_dict(path, model.state_dict(), state)
    if (problem := nonfinite_weight(state)) is not None:
        raise CheckpointError(path, f"{problem} (a diverged training?); refusing to use it")
    model.load_state_dict(state, strict=True)
