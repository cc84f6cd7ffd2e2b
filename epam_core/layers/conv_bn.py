"""Conv + BatchNorm (+ ReLU) with mmcv ``ConvModule`` parameter names (``conv``, ``bn``), computed in 2-D.

X-ShiftNet (EPAM-Net, https://arxiv.org/abs/2408.05421) has no temporal convolution, so every Conv3d of the
authors' code has a (1, k, k) kernel. The parameters keep their official 5-D shapes (state dicts load as they
are) while the computation runs as ``F.conv2d`` on an (N*T, C, H, W) batch, which is several times faster on CPU.
In eval mode the BatchNorm is folded into the convolution (cached while the weights stay the same) and, under
``torch.no_grad`` on CPU, the convolution, bias, activation (and the residual add, in place) run as one oneDNN call.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# oneDNN's fused convolution (what torch.compile's CPU backend emits); used in eval mode when present.
_HAS_POINTWISE = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")


def fold_bn(weight: Tensor, bn: nn.modules.batchnorm._BatchNorm) -> tuple[Tensor, Tensor]:
    """(weight * gamma / sqrt(var + eps), beta - mean * gamma / sqrt(var + eps)) of an eval-mode BN."""
    scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)  # (C_out,)
    return weight * scale.view(-1, *([1] * (weight.dim() - 1))), bn.bias - bn.running_mean * scale


def batch_norm_2d(bn: nn.modules.batchnorm._BatchNorm, x: Tensor) -> Tensor:
    """``bn`` (a BatchNorm3d) applied to (N*T, C, H, W); the same statistics as on (N, C, T, H, W)."""
    if isinstance(bn, nn.SyncBatchNorm):
        return bn(x)
    momentum = 0.0
    if bn.training and bn.track_running_stats:
        bn.num_batches_tracked.add_(1)
        momentum = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked)
    return F.batch_norm(
        x,
        bn.running_mean,
        bn.running_var,
        bn.weight,
        bn.bias,
        bn.training or not bn.track_running_stats,
        momentum,
        bn.eps,
    )


class ConvBN(nn.Module):
    """Conv3d with a (1, k, k) kernel, BatchNorm3d and an optional ReLU, computed as conv2d.

    forward: (N*T, C_in, H, W) -> (N*T, C_out, H / stride, W / stride).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        *,
        stride: int = 1,
        groups: int = 1,
        relu: bool = True,
        bn_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.conv = nn.Conv3d(
            in_channels,
            out_channels,
            (1, kernel_size, kernel_size),
            stride=(1, stride, stride),
            padding=(0, pad, pad),
            groups=groups,
            bias=False,
        )
        self.bn = nn.BatchNorm3d(out_channels, momentum=bn_momentum)
        self.relu = relu
        self._folded: tuple[tuple[tuple[int, int], ...], Tensor, Tensor] | None = None

    def _conv2d(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        c = self.conv
        return F.conv2d(x, weight, bias, c.stride[1:], c.padding[1:], c.dilation[1:], c.groups)

    def _folded_weights(self) -> tuple[Tensor, Tensor]:
        """Folded (weight, bias), recomputed only when a parameter or statistic changed (version counters)."""
        tensors = (self.conv.weight, self.bn.weight, self.bn.bias, self.bn.running_mean, self.bn.running_var)
        key = tuple((t._version, t.data_ptr()) for t in tensors)
        if self._folded is None or self._folded[0] != key:
            with torch.no_grad():
                weight, bias = fold_bn(self.conv.weight.squeeze(2), self.bn)
            self._folded = (key, weight.contiguous(memory_format=torch.channels_last), bias)
        return self._folded[1], self._folded[2]

    def forward(self, x: Tensor, *, silu: bool = False) -> Tensor:
        """relu(conv_bn(x)) or conv_bn(x) by ``self.relu``; ``silu=True``: silu(conv_bn(x)) instead.

        Eval under ``no_grad`` on a channels_last CPU input: one fused oneDNN call (conv, folded BN, activation).
        """
        if self.can_fuse(x):
            return self._fused(x, "swish" if silu else "relu" if self.relu else "none")
        out = self._conv_bn(x)
        if silu:
            return F.silu(out, inplace=not torch.is_grad_enabled())
        return F.relu(out, inplace=True) if self.relu else out

    def _fused(self, x: Tensor, activation: str) -> Tensor:
        weight, bias = self._folded_weights()
        c = self.conv
        return torch.ops.mkldnn._convolution_pointwise(
            x, weight, bias, c.padding[1:], c.stride[1:], c.dilation[1:], c.groups, activation, [], ""
        )

    def forward_add_relu(self, x: Tensor, residual: Tensor) -> Tensor:
        """relu(conv_bn(x) + residual): the end of a residual block (training and autograd path)."""
        return F.relu(self._conv_bn(x).add_(residual), inplace=True)

    def add_relu_into(self, out: Tensor, x: Tensor) -> Tensor:
        """out = relu(conv_bn(x) + out), in place; one fused oneDNN call in eval without autograd on CPU."""
        if self.can_fuse(x) and out.is_contiguous(memory_format=torch.channels_last):
            weight, bias = self._folded_weights()
            c = self.conv
            return torch.ops.mkldnn._convolution_pointwise_.binary(
                out, x, weight, bias, c.padding[1:], c.stride[1:], c.dilation[1:], c.groups,
                "add", 1.0, "relu", [], "",
            )  # fmt: skip
        return out.add_(self._conv_bn(x)).relu_()

    def can_fuse(self, x: Tensor) -> bool:
        """Eval, no autograd, plain BN, a channels_last float32 CPU input: conv + BN + ReLU as one oneDNN op."""
        return (
            _HAS_POINTWISE
            and not (self.training or torch.is_grad_enabled() or torch.compiler.is_compiling())
            and not isinstance(self.bn, nn.SyncBatchNorm)
            and x.device.type == "cpu"
            and x.dtype == torch.float32
            and x.dim() == 4
            and x.is_contiguous(memory_format=torch.channels_last)
        )

    def _conv_bn(self, x: Tensor) -> Tensor:
        if self.training or isinstance(self.bn, nn.SyncBatchNorm):
            return batch_norm_2d(self.bn, self._conv2d(x, self.conv.weight.squeeze(2), None))
        if torch.is_grad_enabled() or torch.compiler.is_compiling():
            # fold on the fly (cheap: weights only): differentiable, and constant-folded by torch.compile
            return self._conv2d(x, *fold_bn(self.conv.weight.squeeze(2), self.bn))
        return self._conv2d(x, *self._folded_weights())

    def train(self, mode: bool = True) -> ConvBN:
        self._folded = None
        return super().train(mode)
