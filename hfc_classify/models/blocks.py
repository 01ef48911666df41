"""The residual block shared by the CIFAR ResNets, with a pluggable shortcut.

The block's layer names (``conv1, bn1, conv2, bn2, shortcut``) are the ones of the common
checkpoints, so He et al.'s ResNets load as they are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hfc_classify.models.xavier import norm_layer


class BasicBlock(nn.Module):
    """``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`` with 3x3 convolutions; without
    BatchNorm the convolutions have biases and ``bn1``/``bn2`` are identities."""

    def __init__(
        self, in_planes: int, planes: int, stride: int, batch_norm: bool, shortcut: nn.Module
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=not batch_norm)
        self.bn1 = norm_layer(planes, batch_norm)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=not batch_norm)
        self.bn2 = norm_layer(planes, batch_norm)
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class PadShortcut(nn.Module):
    """Parameter-free shortcut: downsample by ``stride`` (subsampling, or ``pool``: average
    pooling), then zero-pad the ``extra`` new channels, half before and half after."""

    def __init__(self, extra: int, stride: int, *, pool: bool = False) -> None:
        super().__init__()
        self.extra, self.stride, self.pool = extra, stride, pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            if self.pool:
                x = F.avg_pool2d(x, self.stride, self.stride)
            else:
                x = x[:, :, :: self.stride, :: self.stride]
        if self.extra:
            x = F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
        return x
