"""The CPU-inference form of EPAM-Net: one explicit conversion, ``prepare_cpu_inference(model, options)``."""

from epam_core.fast.convert import prepare_cpu_inference
from epam_core.fast.options import DEFAULT_OPTIONS, CpuInferenceOptions

__all__ = ["DEFAULT_OPTIONS", "CpuInferenceOptions", "prepare_cpu_inference"]
