"""Layers shared by the model definitions."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from hfc_classify.models.xavier import norm_layer

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Normalize(nn.Module):
    """Per-channel ``(x - mean) / std`` inside the model, so that attacks work on [0, 1] pixels.

    The statistics are non-persistent buffers: checkpoints keep the layout of the original code.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def conv_norm_relu(
    cin: int, cout: int, k: int, batch_norm: bool, *, padding: int | None = None
) -> list[nn.Module]:
    """A k x k convolution (biased only without BatchNorm), BatchNorm or identity, ReLU; padding
    ``k // 2`` (same size) unless given."""
    return [
        nn.Conv2d(
            cin, cout, k, padding=k // 2 if padding is None else padding, bias=not batch_norm
        ),
        norm_layer(cout, batch_norm),
        nn.ReLU(inplace=True),
    ]


def dense_head(sizes: Sequence[int], num_classes: int, dropout: float) -> nn.Sequential:
    """Dense layers ``sizes[0] -> sizes[1] -> ... -> num_classes``, each hidden one followed by
    ReLU and dropout ``p``."""
    layers: list[nn.Module] = []
    for cin, cout in itertools.pairwise(sizes):
        layers += [nn.Linear(cin, cout), nn.ReLU(inplace=True), nn.Dropout(dropout)]
    return nn.Sequential(*layers, nn.Linear(sizes[-1], num_classes))
