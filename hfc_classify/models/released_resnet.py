"""The CIFAR ResNet of the authors' released code (TensorFlow 1), rebuilt in torch.

Widths 16/32/64, five residual blocks a stage, BatchNorm off unless asked for, shortcuts that
downsample by 2x2 average pooling and pad the new channels with zeros, global average pooling
and one dense layer; Xavier initialisation. Inputs are pixels in [0, 1], unnormalised.
"""

from __future__ import annotations

from torch import nn

from hfc_classify.models.blocks import PadShortcut, StagedResNet
from hfc_classify.models.registry import register_model


def _pool_pad_shortcut(in_planes: int, planes: int, stride: int, batch_norm: bool) -> nn.Module:
    return PadShortcut(planes - in_planes, stride, pool=True)


@register_model("released_resnet")
class ReleasedResNet(StagedResNet):
    """6n+2-layer ResNet (n blocks a stage, widths 16/32/64) of the paper's released code."""

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        blocks_per_stage: int = 5,
        batch_norm: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(
            ((16, 1), (32, 2), (64, 2)),
            blocks_per_stage,
            _pool_pad_shortcut,
            num_classes=num_classes,
            in_channels=in_channels,
            batch_norm=batch_norm,
            dropout=dropout,
        )
