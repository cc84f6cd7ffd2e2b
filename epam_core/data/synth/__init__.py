"""SynthActions: a synthetic RGB + 2D-pose action benchmark rendered on the fly (see generate.py)."""

from epam_core.data.synth.generate import generate_synthactions

__all__ = ["generate_synthactions"]
