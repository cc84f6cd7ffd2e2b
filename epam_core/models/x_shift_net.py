"""X-ShiftNet: X3D without temporal convolutions, with a temporal shift in every residual block.

EPAM-Net: Abdelkawy, Ali, Farag, https://arxiv.org/abs/2408.05421 (RGB and pose backbones);
X3D: Feichtenhofer, https://arxiv.org/abs/2004.04730; TSM: https://arxiv.org/abs/1811.08383.

Activations flow as (N*T, C, H, W) in channels_last memory and every convolution is a 2-D one (the kernels
are (1, k, k)); the parameters keep the authors' Conv3d / BatchNorm3d shapes and names, so the official
state dicts load strictly. In eval without autograd on CPU a block runs in chunks of frames and writes its
output over its input (frame_chunks.py), unless forward hooks are registered. Block::

    x ─┬─ shift ─ conv1 1x1 BN ReLU ─ conv2 3x3 dw /s BN ─ [SE] ─ swish ─ conv3 1x1 BN ─┐
       └───────────────────── [downsample 1x1 /s BN] ─────────────────────────────────(+)─ ReLU
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules import module as module_hooks

from epam_core.config import StreamConfig
from epam_core.layers.conv_bn import ConvBN
from epam_core.layers.squeeze_excite import SqueezeExcite
from epam_core.layers.temporal_shift import TemporalShift, temporal_shift_window
from epam_core.models.frame_chunks import frame_chunks

# Eval fast path: a block runs a few frames at a time, so that the shift and conv1's output (the block's widest
# activation: 2.25x its input channels at its input resolution) take at most this many bytes per chunk and stay
# in the cache until the depthwise conv2 has read them. Measured on the 2-core development VM (1 MiB L2 per core,
# 32 MiB shared L3) at paper size, interleaved in one process: against no chunking, 8 MiB is 6-8% faster at
# batch 1 and 30% faster at batch 8; 4 MiB was about as good at batch 8 but 8% slower at batch 1; 1 MiB is
# slower than no chunking (more, smaller calls; each oneDNN call costs ~60 us before it computes anything).
CHUNK_BYTES = 8 << 20


def has_forward_hooks(module: nn.Module) -> bool:
    """Whether a forward hook is registered on ``module``, on one of its submodules, or globally.

    Hooks see every call and may keep the tensors they get, so the eval fast path steps aside for them: a block
    with a hook inside runs whole (not chunk by chunk), and no block writes over an output a hook may have kept.
    """
    if module_hooks._global_forward_hooks or module_hooks._global_forward_pre_hooks:
        return True
    pending = [module]  # a plain walk: Module.modules() costs ~2 us per module, on every forward pass here
    while pending:
        m = pending.pop()
        if m._forward_hooks or m._forward_pre_hooks:
            return True
        pending.extend(child for child in m._modules.values() if child is not None)
    return False


class XShiftBlock(nn.Module):
    """One residual block; forward: (N*T, C_in, H, W), T -> (N*T, C_out, H / stride, W / stride)."""

    def __init__(
        self,
        in_channels: int,
        planes: int,
        out_channels: int,
        *,
        stride: int,
        shift_div: int,
        se_ratio: float | None,
        use_swish: bool,
    ) -> None:
        super().__init__()
        # registration order = the authors' state_dict order: downsample, conv1, conv2, conv3, se_module
        if stride != 1 or in_channels != out_channels:
            self.downsample = ConvBN(in_channels, out_channels, 1, stride=stride, relu=False)
        else:
            self.downsample = None
        self.shift = TemporalShift(shift_div)
        self.conv1 = ConvBN(in_channels, planes, 1)
        self.conv2 = ConvBN(planes, planes, 3, stride=stride, groups=planes, relu=False)
        self.conv3 = ConvBN(planes, out_channels, 1, relu=False)
        self.se_module = SqueezeExcite(planes, se_ratio) if se_ratio is not None else None
        self.use_swish = use_swish

    def forward(self, x: Tensor, num_segments: int, *, reuse_input: bool = False) -> Tensor:
        """``reuse_input``: the caller no longer needs ``x``; the eval fast path then writes the output over it."""
        if self.conv1.can_fuse(x) and not has_forward_hooks(self):  # eval, no autograd, CPU, no hooks
            return self._forward_chunked(x, num_segments, reuse_input)
        out = self.conv1(self.shift(x, num_segments))
        if self.se_module is None and self.use_swish:
            out = self.conv2(out, silu=True)
        else:
            out = self.conv2(out)
            inplace = not torch.is_grad_enabled()  # no backward pass needs conv2's output: scale it in place
            if self.se_module is not None:
                out = self.se_module(out, num_segments, inplace=inplace)
            if self.use_swish:
                out = F.silu(out, inplace=inplace)
        identity = x if self.downsample is None else self.downsample(x)  # the unshifted input
        return self.conv3.forward_add_relu(out, identity)  # relu(conv3(out) + identity)

    def _forward_chunked(self, x: Tensor, num_segments: int, reuse_input: bool) -> Tensor:
        """The same block, a chunk of frames at a time (``CHUNK_BYTES``), every conv one fused oneDNN call.

        1. per chunk: shift (reading the neighbouring frames from ``x``), conv1 + BN + ReLU, conv2 + BN
           (+ swish when there is no SE), and the chunk's SE sums while it is still in the cache;
        2. SE: one gate per clip from the sums;
        3. per chunk: SE scale and swish in place, then relu(conv3(chunk) + identity) written in place into
           the identity (``x`` itself when ``reuse_input`` and there is no downsample: step 1 has read all of
           ``x`` by then).
        """
        nt, c, h, w = x.shape
        n, t = nt // num_segments, num_segments
        planes = self.conv1.conv.out_channels
        chunks = frame_chunks(n, t, 4 * planes * h * w, CHUNK_BYTES)
        x5 = x.permute(0, 2, 3, 1).view(n, t, h, w, c)  # (N, T, H, W, C): the channels_last memory of x
        se, swish_in_conv2 = self.se_module, self.se_module is None and self.use_swish
        sums = x.new_zeros(n, planes) if se is not None else None  # (N, planes) sums over (T, h, w)
        mids = []  # per chunk: conv2's output, (k*F, planes, h/s, w/s) channels_last
        for chunk in chunks:
            shifted = temporal_shift_window(x5, chunk.clips, chunk.frames, self.shift.fold_div)
            mid = self.conv2(self.conv1(shifted), silu=swish_in_conv2)
            if sums is not None:
                sums[chunk.clips] += mid.unflatten(0, (-1, chunk.num_frames)).sum(dim=(1, 3, 4))
            mids.append(mid)
        if se is not None:
            gate = se.gate(sums / (t * mids[0].shape[2] * mids[0].shape[3]))  # (N, planes)
        if self.downsample is not None:
            identity = self.downsample(x)
        else:
            identity = x if reuse_input else x.clone(memory_format=torch.channels_last)
        for chunk, mid in zip(chunks, mids, strict=True):
            if se is not None:
                mid.unflatten(0, (-1, chunk.num_frames)).mul_(gate[chunk.clips, None, :, None, None])
                if self.use_swish:
                    F.silu(mid, inplace=True)
            self.conv3.add_relu_into(identity[chunk.rows], mid)
        return identity


class XShiftStage(nn.ModuleList):
    """The blocks of one stage (``layer1``, ``layer2``, ...); the first one strides and widens."""

    def __init__(self, cfg: StreamConfig, in_channels: int, width: int, stride: int, depth: int) -> None:
        planes = int(width * cfg.bottleneck_factor)
        super().__init__(
            XShiftBlock(
                in_channels if i == 0 else width,
                planes,
                width,
                stride=stride if i == 0 else 1,
                shift_div=cfg.shift_div,
                se_ratio=cfg.se_ratio if i % cfg.se_every == 0 else None,
                use_swish=cfg.use_swish,
            )
            for i in range(depth)
        )

    def forward(self, x: Tensor, num_segments: int, *, reuse_input: bool = False) -> Tensor:
        """``reuse_input``: ``x`` may be overwritten (eval fast path); so may each later block's input, which is
        the previous block's output, unless a hook may have kept it."""
        reuse_outputs = not has_forward_hooks(self)
        for i, block in enumerate(self):
            x = block(x, num_segments, reuse_input=reuse_input if i == 0 else reuse_outputs)
        return x


class XShiftNet(nn.Module):
    """A stream's backbone: stem ``conv1_s``, stages ``layer1..layerK``, ``conv5``.

    forward: (N, C_in, T, H, W) -> features (N, T, C_out, H / total_stride, W / total_stride), a view of
    channels_last (N*T, C_out, h, w) memory.
    """

    def __init__(self, cfg: StreamConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.conv1_s = ConvBN(cfg.in_channels, cfg.base_channels, 3, stride=cfg.stem_stride)
        in_channels = cfg.base_channels
        for i, (depth, stride) in enumerate(zip(cfg.stage_blocks, cfg.spatial_strides, strict=True)):
            width = cfg.base_channels * 2**i  # X3D: 24, 48, 96, 192
            self.add_module(f"layer{i + 1}", XShiftStage(cfg, in_channels, width, stride, depth))
            in_channels = width
        self.out_channels = int(in_channels * cfg.conv5_factor)
        self.conv5 = ConvBN(in_channels, self.out_channels, 1)

    def stages(self) -> list[XShiftStage]:
        return [m for m in self.children() if isinstance(m, XShiftStage)]

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, h, w = x.shape
        x = x.permute(0, 2, 3, 4, 1).contiguous().view(n * t, h, w, c)  # (N, C, T, H, W) -> (N*T, H, W, C)
        x = self.conv1_s(x.permute(0, 3, 1, 2))  # (N*T, C, H, W), channels_last
        reuse = not has_forward_hooks(self)  # the stem's and stages' outputs are ours unless a hook kept them
        for stage in self.stages():
            x = stage(x, t, reuse_input=reuse)
        x = self.conv5(x)
        return x.view(n, t, *x.shape[1:])  # (N*T, C', h, w) -> (N, T, C', h, w)
