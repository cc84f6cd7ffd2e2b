"""Classification head of EPAM-Net's streams (mmaction2 ``I3DHead``; https://arxiv.org/abs/2408.05421):
global average pool over (T, h, w) -> dropout -> linear (``fc_cls``)."""

from __future__ import annotations

from torch import Tensor, nn


class ClsHead(nn.Module):
    """forward: features (N, T, C, h, w) -> logits (N, K)."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc_cls = nn.Linear(in_channels, num_classes)

    def forward(self, feats: Tensor) -> Tensor:
        pooled = feats.mean(dim=(1, 3, 4))  # (N, T, C, h, w) -> (N, C)
        return self.fc_cls(self.dropout(pooled))
