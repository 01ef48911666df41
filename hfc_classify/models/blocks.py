"""The residual block shared by the CIFAR ResNets, with a pluggable shortcut, and the Xavier
ResNet body (stem, stages, head) shared by ResNet-18 and the released code's ResNet.

The block's layer names (``conv1, bn1, conv2, bn2, shortcut``) are the ones of the common
checkpoints, so He et al.'s ResNets load as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hfc_classify.models.xavier import check_dropout, norm_layer, xavier_init

#: ``shortcut(in_planes, planes, stride, batch_norm)``: the shortcut module of one block.
ShortcutFactory = Callable[[int, int, int, bool], nn.Module]


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


class StagedResNet(nn.Module):
    """A 3x3 stem (width of the first stage), stages of ``blocks_per_stage`` basic blocks (the
    first of a stage strided), global average pooling, dropout and one dense layer; BatchNorm
    switchable, Xavier initialisation; inputs are pixels in [0, 1], unnormalised."""

    def __init__(
        self,
        stages: Sequence[tuple[int, int]],
        blocks_per_stage: int,
        shortcut: ShortcutFactory,
        *,
        num_classes: int,
        in_channels: int,
        batch_norm: bool,
        dropout: float,
    ) -> None:
        super().__init__()
        in_planes = stages[0][0]
        self.conv1 = nn.Conv2d(in_channels, in_planes, 3, 1, 1, bias=not batch_norm)
        self.bn1 = norm_layer(in_planes, batch_norm)
        built = []
        for planes, stride in stages:
            blocks = []
            for i in range(blocks_per_stage):
                s = stride if i == 0 else 1
                sc = shortcut(in_planes, planes, s, batch_norm)
                blocks.append(BasicBlock(in_planes, planes, s, batch_norm, sc))
                in_planes = planes
            built.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*built)
        self.dropout = nn.Dropout(check_dropout(dropout))
        self.fc = nn.Linear(in_planes, num_classes)
        xavier_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.stages(F.relu(self.bn1(self.conv1(x))))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.fc(self.dropout(out))
