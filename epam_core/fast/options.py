"""The knobs of the CPU-inference form of EPAM-Net (``prepare_cpu_inference``), in one frozen object."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class CpuInferenceOptions:
    """How the converted model runs on the CPU; the defaults are what ``epam bench`` measured best.

    chunk_bytes: a block runs its shift, conv1 and depthwise conv2 a few frames at a time, so that conv1's
        output (the block's widest activation: 2.25x its input channels at its input resolution) takes at
        most this many bytes per chunk and stays in the cache until conv2 has read it. Measured on the 2-core
        development VM (1 MiB L2 per core, 32 MiB shared L3) at paper size, interleaved in one process:
        against no chunking, 8 MiB is 6-8% faster at batch 1 and 30% faster at batch 8; 4 MiB was about as
        good at batch 8 but 8% slower at batch 1; 1 MiB is slower than no chunking (more, smaller calls;
        each oneDNN call costs ~60 us before it computes anything).
    parallel_streams: run the RGB and pose backbones side by side, on half of the threads each.
    threads: intra-op threads for each forward pass (restored afterwards); None keeps the caller's setting.
    """

    chunk_bytes: int = 8 << 20
    parallel_streams: bool = True
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.chunk_bytes < 1:
            raise ValueError(f"chunk_bytes must be >= 1 (got {self.chunk_bytes})")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1 or None (got {self.threads})")

    @classmethod
    def for_interactive_server(cls) -> CpuInferenceOptions:
        """For a server whose sessions each run forward passes (the dashboard): half of the cores, 1 to 4
        threads per pass, so that a few passes at once do not oversubscribe a small machine."""
        return cls(threads=max(1, min(4, (os.cpu_count() or 2) // 2)))


DEFAULT_OPTIONS = CpuInferenceOptions()
