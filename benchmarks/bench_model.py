"""EPAMNet vs the reference transcription, eval latency: the same as ``epam bench`` (``make bench``).

Usage: ``.venv/bin/python benchmarks/bench_model.py [--compile] [--batches 1 8] [--rounds 5] [--quick]``.
Results and the exact command: benchmarks/RESULTS.md, section "Model".
"""

from __future__ import annotations

import sys

from epam_core.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
