"""AlexNet, CIFAR variant: five convolutions (64/192/384/256/256; 5x5 then 3x3 kernels, stride
1) with three 3x3/2 max poolings, then dense layers 1024-1024-classes.

Sized for 32x32 inputs (the ImageNet original's 11x11/4 stem and 4096-wide layers do not fit
them); the features are average-pooled to 3x3, so 28x28 inputs work too. Dropout acts on the
hidden dense layers; BatchNorm (after each convolution) is off by default. Xavier init.
"""

from __future__ import annotations

import torch
from torch import nn

from hfc_classify.models.layers import conv_norm_relu
from hfc_classify.models.registry import register_model
from hfc_classify.models.xavier import check_dropout, xavier_init


@register_model("alexnet")
class AlexNet(nn.Module):
    """AlexNet for 32x32 images."""

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        batch_norm: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        p = check_dropout(dropout)
        self.features = nn.Sequential(
            *conv_norm_relu(in_channels, 64, 5, batch_norm),
            nn.MaxPool2d(3, 2),
            *conv_norm_relu(64, 192, 5, batch_norm),
            nn.MaxPool2d(3, 2),
            *conv_norm_relu(192, 384, 3, batch_norm),
            *conv_norm_relu(384, 256, 3, batch_norm),
            *conv_norm_relu(256, 256, 3, batch_norm),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.AdaptiveAvgPool2d(3),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(p),
            nn.Linear(256 * 3 * 3, 1024),
            nn.ReLU(inplace=True),
            nn.Dropout(p),
            nn.Linear(1024, 1024),
            nn.ReLU(inplace=True),
            nn.Linear(1024, num_classes),
        )
        xavier_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))
