"""ResNet-18 for 32x32 inputs (the paper's Sec. 4 model): a 3x3 stem without max pooling, four
stages of two basic blocks (64/128/256/512), global average pooling, one dense layer.

BatchNorm is off by default, as in the paper's vanilla set-up (Sec. 5 adds it as a heuristic);
``batch_norm=True`` switches it on.
Xavier initialisation; inputs are pixels in [0, 1].
"""

from __future__ import annotations

from torch import nn

from hfc_classify.models.blocks import StagedResNet
from hfc_classify.models.registry import register_model
from hfc_classify.models.xavier import norm_layer


def _conv_shortcut(in_planes: int, planes: int, stride: int, batch_norm: bool) -> nn.Module:
    """A 1x1 convolution (and BatchNorm) where the shape changes, else the identity."""
    if stride == 1 and in_planes == planes:
        return nn.Identity()
    return nn.Sequential(
        nn.Conv2d(in_planes, planes, 1, stride, bias=not batch_norm),
        norm_layer(planes, batch_norm),
    )


@register_model("resnet18")
class ResNet18(StagedResNet):
    """CIFAR-style ResNet-18."""

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        batch_norm: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(
            ((64, 1), (128, 2), (256, 2), (512, 2)),
            2,
            _conv_shortcut,
            num_classes=num_classes,
            in_channels=in_channels,
            batch_norm=batch_norm,
            dropout=dropout,
        )
