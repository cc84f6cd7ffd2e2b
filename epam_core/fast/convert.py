"""``prepare_cpu_inference``: EPAM-Net's building blocks swapped for their CPU-inference forms.

In the manner of timm's ``reparameterize_model`` and pytorchvideo's ``convert_to_deployable_form``: the
models in ``epam_core.models`` hold the plain computation only; this one explicit conversion gives a copy
whose modules compute the same outputs faster on the CPU in eval mode without autograd, and fall back to
the plain computation otherwise (training, gradients as for Captum, another device, forward hooks).

==================  ====================  ===============================================================
plain               CPU-inference form    what changes
==================  ====================  ===============================================================
``ConvBN``          ``FusedConvBN``       BN folded into the weights; conv + BN + activation one oneDNN call
``XShiftBlock``     ``ChunkedXShiftBlock``  a chunk of frames at a time, the residual add in place
``XShiftNet``       ``CpuXShiftNet``      each block writes its output over its input
``EPAMNet``         ``CpuEPAMNet``        the two backbones side by side; the thread count per call
==================  ====================  ===============================================================

Every replacement adopts the submodules of the module it replaces, so the state-dict keys, their order and
the tensors are those of the plain model; a state dict of one loads strictly into the other.
"""

from __future__ import annotations

import copy

from torch import nn

from epam_core.fast.conv_bn import FusedConvBN
from epam_core.fast.epam_net import CpuEPAMNet
from epam_core.fast.options import DEFAULT_OPTIONS, CpuInferenceOptions
from epam_core.fast.x_shift_net import ChunkedXShiftBlock, CpuXShiftNet
from epam_core.layers.conv_bn import ConvBN
from epam_core.models.epam_net import EPAMNet
from epam_core.models.x_shift_net import XShiftBlock, XShiftNet


def prepare_cpu_inference(model: nn.Module, options: CpuInferenceOptions | None = None) -> nn.Module:
    """A copy of ``model`` (an ``EPAMNet`` or any module holding EPAM-Net blocks) in its CPU-inference form,
    in eval mode; ``model`` itself is left as it was. ``options``: ``DEFAULT_OPTIONS`` when None."""
    return _convert(copy.deepcopy(model), options or DEFAULT_OPTIONS).eval()


def _convert(module: nn.Module, options: CpuInferenceOptions) -> nn.Module:
    """Children first, so that every replacement adopts already converted submodules."""
    for name, child in module.named_children():
        setattr(module, name, _convert(child, options))  # replaces the entry in place: the key order stays
    kind = type(module)  # exact types: a module that is already converted stays as it is
    if kind is ConvBN:
        return FusedConvBN(module)
    if kind is XShiftBlock:
        return ChunkedXShiftBlock(module, options.chunk_bytes)
    if kind is XShiftNet:
        return CpuXShiftNet(module)
    if kind is EPAMNet:
        return CpuEPAMNet(module, options)
    return module
