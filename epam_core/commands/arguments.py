"""Argument types for the command line: numbers in range and devices, checked when the arguments are parsed
(argparse prints ``epam CMD: error: argument --flag: ...`` and exits 2, before anything is loaded)."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable


def int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """An integer ``low <= n`` (``<= high`` when given)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low or (high is not None and value > high):
            limit = f"at least {low}" if high is None else f"in {low}..{high}"
            raise argparse.ArgumentTypeError(f"must be {limit}, got {value}")
        return value

    parse.__name__ = "integer"  # argparse names the type in "invalid integer value" messages
    return parse


def float_in(low: float, high: float | None = None, low_open: bool = False) -> Callable[[str], float]:
    """A finite number ``low <= x`` (``low < x`` when ``low_open``; ``<= high`` when given)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        too_low = value <= low if low_open else value < low
        if not math.isfinite(value) or too_low or (high is not None and value > high):
            bound = f"greater than {low:g}" if low_open else f"at least {low:g}"
            limit = bound if high is None else f"{bound} and at most {high:g}"
            raise argparse.ArgumentTypeError(f"must be a finite number {limit}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


positive_int = int_in(1)
non_negative_int = int_in(0)
positive_float = float_in(0.0, low_open=True)


def workers(text: str) -> int | str:
    """``auto`` (this process's share of the CPUs less one, ``distributed.data_workers``) or a count >= 0."""
    if text == "auto":
        return text
    try:
        int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give auto or a number of processes (0 or more)"
        ) from None
    return non_negative_int(text)


WORKERS_HELP = (
    "data-loading processes per process, or auto (the default): the CPUs this process may use, divided by "
    "the processes torchrun starts on the node (LOCAL_WORLD_SIZE), less one for the process itself"
)


def add_precision(parser: argparse.ArgumentParser) -> None:
    """``--precision fp32|bf16|fp16`` (the forward pass under autocast; ``epam_core.precision``)."""
    parser.add_argument(
        "--precision",
        choices=("fp32", "bf16", "fp16"),
        default="fp32",
        help="the model's forward pass in float32 (default) or under autocast in bfloat16 or float16 "
        "(fp16: CUDA only); the logits are stored as float32 and the run records the precision",
    )


def device(text: str) -> str:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N``; CUDA ones only where CUDA is available."""
    if text in ("auto", "cpu"):
        return text
    if not re.fullmatch(r"cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a device; choose auto, cpu, cuda or cuda:N")
    import torch

    if not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text} was asked for, but CUDA is not available on this machine")
    if ":" in text and int(text.split(":")[1]) >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(
            f"{text}: this machine has {torch.cuda.device_count()} CUDA device(s)"
        )
    return text
