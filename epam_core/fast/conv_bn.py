"""``ConvBN`` for CPU inference: BatchNorm folded into the convolution, conv + bias + activation (and the
residual add, in place) as one oneDNN call (``torch.ops.mkldnn._convolution_pointwise``, what torch.compile's
CPU backend emits), in eval mode without autograd on a channels_last float32 CPU batch.

Anything else (training, autograd, another device or layout, tracing, CPU autocast: ``--precision bf16``)
runs ``ConvBN``'s own forward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from epam_core.layers.conv_bn import ConvBN

_HAS_POINTWISE = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")


def fold_bn(weight: Tensor, bn: nn.modules.batchnorm._BatchNorm) -> tuple[Tensor, Tensor]:
    """(weight * gamma / sqrt(var + eps), beta - mean * gamma / sqrt(var + eps)) of an eval-mode BN."""
    scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)  # (C_out,)
    return weight * scale.view(-1, *([1] * (weight.dim() - 1))), bn.bias - bn.running_mean * scale


class FusedConvBN(ConvBN):
    """The same ``conv`` and ``bn`` as the ``ConvBN`` it is made from (the same tensors and state-dict keys)."""

    def __init__(self, plain: ConvBN) -> None:
        nn.Module.__init__(self)  # not ConvBN.__init__: adopt plain's submodules instead of making new ones
        self.conv, self.bn, self.relu = plain.conv, plain.bn, plain.relu
        self._folded: tuple[tuple[tuple[int, int], ...], Tensor, Tensor] | None = None

    def forward(self, x: Tensor, *, silu: bool = False) -> Tensor:
        """ConvBN's output; ``silu=True``: silu(conv_bn(x)) instead (the block's swish, fused in)."""
        if self.can_fuse(x):
            return self._fused(x, "swish" if silu else "relu" if self.relu else "none")
        out = super().forward(x)
        return F.silu(out) if silu else out

    def add_relu_into(self, out: Tensor, x: Tensor) -> Tensor:
        """out = relu(conv_bn(x) + out), in place (the end of a residual block); ``self.relu`` must be False."""
        if self.can_fuse(x) and out.is_contiguous(memory_format=torch.channels_last):
            weight, bias = self._folded_weights()
            c = self.conv
            return torch.ops.mkldnn._convolution_pointwise_.binary(
                out, x, weight, bias, c.padding[1:], c.stride[1:], c.dilation[1:], c.groups,
                "add", 1.0, "relu", [], "",
            )  # fmt: skip
        return out.add_(super().forward(x)).relu_()

    def can_fuse(self, x: Tensor) -> bool:
        """Eval, no autograd, not tracing, no autocast (the fused call would compute in float32), plain BN,
        a channels_last float32 CPU batch."""
        return (
            _HAS_POINTWISE
            and not (self.training or torch.is_grad_enabled() or torch.compiler.is_compiling())
            and not torch.is_autocast_enabled("cpu")
            and not isinstance(self.bn, nn.SyncBatchNorm)
            and x.device.type == "cpu"
            and x.dtype == torch.float32
            and x.dim() == 4
            and x.is_contiguous(memory_format=torch.channels_last)
        )

    def _fused(self, x: Tensor, activation: str) -> Tensor:
        weight, bias = self._folded_weights()
        c = self.conv
        return torch.ops.mkldnn._convolution_pointwise(
            x, weight, bias, c.padding[1:], c.stride[1:], c.dilation[1:], c.groups, activation, [], ""
        )

    def _folded_weights(self) -> tuple[Tensor, Tensor]:
        """Folded (weight, bias), recomputed only when a parameter or statistic changed (version counters)."""
        tensors = (self.conv.weight, self.bn.weight, self.bn.bias, self.bn.running_mean, self.bn.running_var)
        key = tuple((t._version, t.data_ptr()) for t in tensors)
        if self._folded is None or self._folded[0] != key:
            with torch.no_grad():
                weight, bias = fold_bn(self.conv.weight.squeeze(2), self.bn)
            self._folded = (key, weight.contiguous(memory_format=torch.channels_last), bias)
        return self._folded[1], self._folded[2]

    def train(self, mode: bool = True) -> FusedConvBN:
        self._folded = None
        return super().train(mode)
