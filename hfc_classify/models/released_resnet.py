"""The CIFAR ResNet of the authors' released code (TensorFlow 1), rebuilt in torch.

Widths 16/32/64, five residual blocks a stage, BatchNorm off unless asked for, shortcuts that
downsample by 2x2 average pooling and pad the new channels with zeros, global average pooling
and one dense layer; Xavier initialisation. Inputs are pixels in [0, 1], unnormalised.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hfc_classify.models.blocks import BasicBlock, PadShortcut
from hfc_classify.models.registry import register_model
from hfc_classify.models.xavier import check_dropout, norm_layer, xavier_init


@register_model("released_resnet")
class ReleasedResNet(nn.Module):
    """6n+2-layer ResNet (n blocks a stage, widths 16/32/64) of the paper's released code."""

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        blocks_per_stage: int = 5,
        batch_norm: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=not batch_norm)
        self.bn1 = norm_layer(16, batch_norm)
        stages, in_planes = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(blocks_per_stage):
                s = stride if i == 0 else 1
                shortcut = PadShortcut(planes - in_planes, s, pool=True)
                blocks.append(BasicBlock(in_planes, planes, s, batch_norm, shortcut))
                in_planes = planes
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.dropout = nn.Dropout(check_dropout(dropout))
        self.fc = nn.Linear(64, num_classes)
        xavier_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.stages(F.relu(self.bn1(self.conv1(x))))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.fc(self.dropout(out))
