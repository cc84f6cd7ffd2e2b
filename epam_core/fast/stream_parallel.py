"""Run EPAM-Net's two backbones side by side, each on its own share of the intra-op threads.

Batch-1 inference is a long chain of small, memory-bound ops (1x1 and depthwise convs on 7x7 to 112x112
maps, the shift copies, SE); splitting each of them over 2 threads pays a fork/join barrier per op and gains
little, and on a shared CPU one descheduled thread stalls the other at every barrier. The RGB and pose
streams are independent until the attention block, so in eval mode (no autograd, CPU) ``CpuEPAMNet`` runs the
pose backbone in a dedicated worker thread while the calling thread runs the RGB backbone, with ``n // 2`` and
``n - n // 2`` of the caller's ``torch.get_num_threads()`` = n. OpenMP's thread count is per thread, so the
caller's own setting is restored afterwards; the results are those of the serial path up to float rounding
(a different thread count changes oneDNN's summation order). Grad mode and CPU autocast are thread-local
too: the worker runs without autograd and under the caller's CPU autocast state (``--precision bf16``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import torch
from torch import Tensor
from torch.utils._python_dispatch import _get_current_dispatch_mode

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _worker() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(1, thread_name_prefix="epam-stream")
        return _pool


def can_split(*inputs: Tensor) -> bool:
    """Two or more intra-op threads, no autograd, not tracing, no dispatch mode (e.g. FlopCounterMode: modes
    are thread-local and would miss the worker's ops), CPU tensors."""
    return (
        torch.get_num_threads() >= 2
        and _get_current_dispatch_mode() is None
        and not torch.is_grad_enabled()
        and not torch.compiler.is_compiling()
        and not torch.jit.is_scripting()
        and all(t.device.type == "cpu" for t in inputs)
    )


def _with_threads(
    n: int, fn: Callable[[Tensor], Tensor], x: Tensor, autocast_dtype: torch.dtype | None = None
) -> Tensor:
    # grad mode and autocast are thread-local: the worker does not inherit the caller's no_grad or autocast
    autocast = torch.autocast("cpu", dtype=autocast_dtype, enabled=autocast_dtype is not None)
    with torch.no_grad(), autocast:
        torch.get_num_threads()  # ATen's lazy per-thread init first, so that it cannot override n later
        torch.set_num_threads(n)
        return fn(x)


def run_split(
    first: Callable[[Tensor], Tensor], x: Tensor, second: Callable[[Tensor], Tensor], y: Tensor
) -> tuple[Tensor, Tensor]:
    """(first(x), second(y)): ``second`` in the worker thread, ``first`` here, the threads split between them."""
    total = torch.get_num_threads()
    autocast_dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None
    future = _worker().submit(_with_threads, total // 2, second, y, autocast_dtype)
    try:
        torch.set_num_threads(total - total // 2)
        out_first = first(x)
    finally:
        try:
            out_second = future.result()  # always wait: the worker must not outlive this call's tensors
        finally:
            torch.set_num_threads(total)  # after the worker's own set_num_threads (ATen keeps a global too)
    return out_first, out_second


@contextmanager
def intra_op_threads(n: int | None) -> Iterator[None]:
    """``torch.set_num_threads(n)`` for the block, the caller's setting restored after it; None: no change."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
