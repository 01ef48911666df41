"""He et al.'s CIFAR ResNets (20/32/44/56) with zero-padding ("option A") shortcuts.

The layer names match the widely used checkpoints by Y. Idelbayev (``conv1, bn1,
layer{1,2,3}.{i}.{conv1,bn1,conv2,bn2}, linear``), so those load as they are. Inputs are
pixels in [0, 1]; the ImageNet mean/std normalisation those checkpoints expect is inside.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hfc_classify.models.blocks import BasicBlock, PadShortcut
from hfc_classify.models.layers import IMAGENET_MEAN, IMAGENET_STD, Normalize
from hfc_classify.models.registry import register_model


class CifarResNet(nn.Module):
    """A 6n+2-layer CIFAR ResNet with widths 16/32/64."""

    def __init__(self, depth: int, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"depth must be 6n+2, got {depth}")
        n = (depth - 2) // 6
        self.normalize = Normalize(IMAGENET_MEAN[:in_channels], IMAGENET_STD[:in_channels])
        self.conv1 = nn.Conv2d(in_channels, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, in_planes = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(n):
                s = stride if i == 0 else 1
                shortcut = PadShortcut(planes - in_planes, s)
                blocks.append(BasicBlock(in_planes, planes, s, True, shortcut))
                in_planes = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(self.normalize(x))))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


def _register(depth: int) -> None:
    @register_model(f"resnet{depth}")
    def build(num_classes: int = 10, in_channels: int = 3) -> nn.Module:
        return CifarResNet(depth, num_classes=num_classes, in_channels=in_channels)

    build.__doc__ = f"He et al.'s CIFAR ResNet-{depth} (option-A shortcuts)."


for _depth in (20, 32, 44, 56):
    _register(_depth)
