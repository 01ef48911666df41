"""LeNet-5 for small images: two 5x5 convolutions with max pooling, three dense layers.

The convolutional features are average-pooled to 5x5 so that 28x28 (MNIST) and 32x32 (CIFAR)
inputs both work; on 32x32 inputs that pooling is the identity. Dropout acts on the hidden dense
layers; BatchNorm (after each convolution) is off by default. Xavier initialisation.
"""

from __future__ import annotations

import torch
from torch import nn

from hfc_classify.models.layers import conv_norm_relu, dense_head
from hfc_classify.models.registry import register_model
from hfc_classify.models.xavier import check_dropout, xavier_init


@register_model("lenet")
class LeNet(nn.Module):
    """LeNet-5 with ReLU activations."""

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
            *conv_norm_relu(in_channels, 6, 5, batch_norm, padding=0),
            nn.MaxPool2d(2),
            *conv_norm_relu(6, 16, 5, batch_norm, padding=0),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(5),
        )
        self.classifier = dense_head((16 * 5 * 5, 120, 84), num_classes, p)
        xavier_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))
