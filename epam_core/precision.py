"""``--precision fp32|bf16|fp16``: the model's forward pass under ``torch.autocast``, its outputs in float32.

``fp32`` runs the model as it is, in IEEE float32 also on CUDA (TF32, which PyTorch allows for cuDNN
convolutions by default, is turned off for the forward pass: fp32 is the reference). ``bf16`` and ``fp16`` run the forward pass under ``torch.autocast`` with that
dtype (convolutions and matrix products in 16 bits, reductions and normalisations as autocast decides);
what a command stores is cast back to float32 first (``float_output``), so runs, tables and files have the
same types whatever the precision. ``fp16`` needs CUDA: on a CPU, PyTorch emulates it without any gain, and
its range (65504) is the narrower one; ``bf16`` autocast runs on both (on CPUs without AVX512-BF16 or AMX it
is emulated too, and slower than fp32: measured in ``benchmarks/RESULTS.md``).

The CPU-inference form of the model (``epam_core.fast``) computes in float32 only; under autocast its modules
take the plain path, and the two backbones still run side by side (the worker thread gets the caller's
autocast state, ``fast.stream_parallel``).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import torch

from epam_core.errors import EpamError

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16", "fp16")
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_precision(precision: str, device: torch.device | str) -> None:
    """An ``EpamError`` naming ``--precision`` when ``precision`` is unknown or cannot run on ``device``."""
    if precision not in PRECISIONS:
        raise EpamError(None, f"--precision {precision}: choose one of {', '.join(PRECISIONS)}")
    if precision == "fp16" and torch.device(device).type != "cuda":
        raise EpamError(
            None,
            f"--precision fp16 needs a CUDA device (this process runs on {torch.device(device).type}); "
            "use --precision bf16 or fp32 on the CPU",
        )
    if precision == "bf16" and torch.device(device).type == "cpu":
        _warn_if_bf16_emulated()


@functools.cache
def _warn_if_bf16_emulated() -> None:
    """Once per process: bf16 on a CPU without bf16 instructions is emulated, many times slower than fp32."""
    supported = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    if supported is not None and not supported():
        log.warning(
            "--precision bf16: this CPU has no bf16 instructions (AVX512-BF16 / AMX), so PyTorch emulates "
            "them; expect it to be several times slower than fp32 (8-30x measured, benchmarks/RESULTS.md)"
        )


def autocast(precision: str, device: torch.device | str) -> AbstractContextManager:
    """The context to run the model's forward pass in: ``torch.autocast`` for bf16 / fp16; for fp32 nothing
    on the CPU, and on CUDA TF32 turned off (``ieee_fp32``)."""
    check_precision(precision, device)
    if precision == "fp32":
        return ieee_fp32() if torch.device(device).type == "cuda" else nullcontext()
    return torch.autocast(torch.device(device).type, dtype=DTYPES[precision])


@contextmanager
def ieee_fp32() -> Iterator[None]:
    """cuDNN convolutions and CUDA matrix products in full float32 (no TF32) for the block, then as before."""
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


def float_output(out, cpu: bool = False):
    """A model output (``EPAMOutput``, ``AttentionForward``: a dataclass of tensors, dataclasses nested) with
    every floating tensor in float32 (float32 ones as they are, no copy); with ``cpu``, moved to the CPU too
    (one copy per tensor of the batch, rather than one per sample and stream when rows are taken apart)."""

    def cast(value):
        if isinstance(value, torch.Tensor):
            value = value.float() if value.is_floating_point() else value
            return value.cpu() if cpu else value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return float_output(value, cpu)
        return value

    return dataclasses.replace(out, **{f.name: cast(getattr(out, f.name)) for f in dataclasses.fields(out)})
