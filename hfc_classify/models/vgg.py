"""VGG-11 and VGG-16, CIFAR variants: the 3x3 convolution stacks of Simonyan and Zisserman with
five 2x2 max poolings (ceil mode, so 28x28 inputs reach 1x1 too), then dense layers
512-512-classes. Dropout acts on the hidden dense layers; BatchNorm (after each convolution) is
off by default. Xavier initialisation; inputs are pixels in [0, 1].
"""

from __future__ import annotations

import torch
from torch import nn

from hfc_classify.models.layers import conv_norm_relu, dense_head
from hfc_classify.models.registry import register_model
from hfc_classify.models.xavier import check_dropout, xavier_init

_CONFIGS = {
    11: (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    16: (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
}


class VGG(nn.Module):
    """VGG for 32x32 images."""

    def __init__(
        self,
        depth: int,
        num_classes: int = 10,
        in_channels: int = 3,
        batch_norm: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        p = check_dropout(dropout)
        layers: list[nn.Module] = []
        cin = in_channels
        for item in _CONFIGS[depth]:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
            else:
                layers += conv_norm_relu(cin, item, 3, batch_norm)
                cin = item
        layers.append(nn.AdaptiveAvgPool2d(1))
        self.features = nn.Sequential(*layers)
        self.classifier = dense_head((512, 512, 512), num_classes, p)
        xavier_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


def _register(depth: int) -> None:
    @register_model(f"vgg{depth}")
    def build(
        num_classes: int = 10, in_channels: int = 3, batch_norm: bool = False, dropout: float = 0.0
    ) -> nn.Module:
        return VGG(depth, num_classes, in_channels, batch_norm, dropout)

    build.__doc__ = f"VGG-{depth}, CIFAR variant (512-512 dense head)."


for _depth in (11, 16):
    _register(_depth)
