"""ResNet-18 for 32x32 inputs (the paper's Sec. 4 model): a 3x3 stem without max pooling, four
stages of two basic blocks (64/128/256/512), global average pooling, one dense layer.

BatchNorm is off by default, as in the paper's vanilla set-up (Sec. 5 adds it as a heuristic);
``batch_norm=True`` switches it on.
Xavier initialisation; inputs are pixels in [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hfc_classify.models.blocks import BasicBlock
from hfc_classify.models.registry import register_model
from hfc_classify.models.xavier import check_dropout, norm_layer, xavier_init


def _block(in_planes: int, planes: int, stride: int, batch_norm: bool) -> BasicBlock:
    """A basic block with a 1x1-convolution shortcut where the shape changes."""
    shortcut: nn.Module = nn.Identity()
    if stride != 1 or in_planes != planes:
        shortcut = nn.Sequential(
            nn.Conv2d(in_planes, planes, 1, stride, bias=not batch_norm),
            norm_layer(planes, batch_norm),
        )
    return BasicBlock(in_planes, planes, stride, batch_norm, shortcut)


@register_model("resnet18")
class ResNet18(nn.Module):
    """CIFAR-style ResNet-18."""

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        batch_norm: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=not batch_norm)
        self.bn1 = norm_layer(64, batch_norm)
        stages, in_planes = [], 64
        for planes, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            stages.append(
                nn.Sequential(
                    _block(in_planes, planes, stride, batch_norm),
                    _block(planes, planes, 1, batch_norm),
                )
            )
            in_planes = planes
        self.stages = nn.Sequential(*stages)
        self.dropout = nn.Dropout(check_dropout(dropout))
        self.fc = nn.Linear(512, num_classes)
        xavier_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.stages(F.relu(self.bn1(self.conv1(x))))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.fc(self.dropout(out))
