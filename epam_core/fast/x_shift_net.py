"""X-ShiftNet for CPU inference: every block a frame chunk at a time, writing its output over its input.

``ChunkedXShiftBlock`` computes ``XShiftBlock`` in chunks of frames (``frame_chunks.py``) with fused
convolutions (``FusedConvBN``); ``CpuXShiftNet`` lets each block write its output over its input, which no
one else holds. Both step aside for forward hooks: hooks see every call and may keep the tensors they get,
so a block with a hook inside runs whole (``XShiftBlock.forward``), and nothing is written over.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules import module as module_hooks

from epam_core.fast.conv_bn import FusedConvBN
from epam_core.fast.frame_chunks import frame_chunks, temporal_shift_window
from epam_core.layers.conv_bn import ConvBN
from epam_core.models.x_shift_net import XShiftBlock, XShiftNet, to_frames


def has_forward_hooks(module: nn.Module) -> bool:
    """Whether a forward hook is registered on ``module``, on one of its submodules, or globally."""
    if module_hooks._global_forward_hooks or module_hooks._global_forward_pre_hooks:
        return True
    pending = [module]  # a plain walk: Module.modules() costs ~2 us per module, on every forward pass here
    while pending:
        m = pending.pop()
        if m._forward_hooks or m._forward_pre_hooks:
            return True
        pending.extend(child for child in m._modules.values() if child is not None)
    return False


def _fused(conv: ConvBN | None) -> FusedConvBN | None:
    return conv if conv is None or isinstance(conv, FusedConvBN) else FusedConvBN(conv)


class ChunkedXShiftBlock(XShiftBlock):
    """The submodules of the ``XShiftBlock`` it is made from, in the same order (the same state-dict keys)."""

    def __init__(self, block: XShiftBlock, chunk_bytes: int) -> None:
        nn.Module.__init__(
            self
        )  # not XShiftBlock.__init__: adopt block's submodules instead of making new ones
        self.downsample = _fused(block.downsample)
        self.shift = block.shift
        self.conv1 = _fused(block.conv1)
        self.conv2 = _fused(block.conv2)
        self.conv3 = _fused(block.conv3)
        self.se_module = block.se_module
        self.use_swish = block.use_swish
        self.chunk_bytes = chunk_bytes

    def forward(self, x: Tensor, num_segments: int, *, reuse_input: bool = False) -> Tensor:
        """``reuse_input``: the caller no longer needs ``x``; the output may then be written over it."""
        if self.conv1.can_fuse(x) and not has_forward_hooks(self):  # eval, no autograd, CPU, no hooks
            return self._forward_chunked(x, num_segments, reuse_input)
        return super().forward(x, num_segments)

    def _forward_chunked(self, x: Tensor, num_segments: int, reuse_input: bool) -> Tensor:
        """The block a chunk of frames at a time (``chunk_bytes``), every conv one fused oneDNN call.

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
        chunks = frame_chunks(n, t, 4 * planes * h * w, self.chunk_bytes)
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


class CpuXShiftNet(XShiftNet):
    """The submodules of the ``XShiftNet`` it is made from, in the same order (the same state-dict keys)."""

    def __init__(self, net: XShiftNet) -> None:
        nn.Module.__init__(self)  # not XShiftNet.__init__: adopt net's submodules instead of making new ones
        self.cfg = net.cfg
        self.out_channels = net.out_channels
        for name, child in net.named_children():
            self.add_module(name, child)

    def forward(self, x: Tensor) -> Tensor:
        if has_forward_hooks(self):  # a hook may keep any block's output: no block writes over its input
            return super().forward(x)
        n, t = x.shape[0], x.shape[2]
        x = self.conv1_s(to_frames(x))  # (N*T, C, H, W), channels_last
        for stage in self.stages():
            for block in stage:
                # the stem's and every block's output is ours alone: the next block may write over it
                x = block(x, t, reuse_input=isinstance(block, ChunkedXShiftBlock))
        x = self.conv5(x)
        return x.view(n, t, *x.shape[1:])  # (N*T, C', h, w) -> (N, T, C', h, w)
