"""The architectures: shapes, BatchNorm/dropout switches, Xavier init, the released ResNet."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hfc_classify.models import build_model, list_models
from hfc_detect.utils.errors import InputError

OURS = ["released_resnet", "resnet18", "lenet", "alexnet", "vgg11", "vgg16"]


def test_registered():
    assert {*OURS, "resnet20", "resnet32", "resnet44", "resnet56"} <= set(list_models())
    with pytest.raises(InputError, match="unknown architecture 'resnet999'"):
        build_model("resnet999")


@pytest.mark.parametrize("name", OURS)
def test_shapes_switches_and_init(name):
    torch.manual_seed(0)
    for size, channels in ((32, 3), (28, 1)):
        model = build_model(name, num_classes=7, in_channels=channels).eval()
        assert model(torch.rand(2, channels, size, size)).shape == (2, 7)
    plain = build_model(name)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    assert all(m.p == 0 for m in plain.modules() if isinstance(m, nn.Dropout))
    with_bn = build_model(name, batch_norm=True, dropout=0.5)
    assert any(isinstance(m, nn.BatchNorm2d) for m in with_bn.modules())
    drops = [m for m in with_bn.modules() if isinstance(m, nn.Dropout)]
    assert drops and all(m.p == 0.5 for m in drops)
    for m in plain.modules():  # Xavier (Glorot) uniform: |w| <= sqrt(6 / (fan_in + fan_out))
        if isinstance(m, nn.Conv2d | nn.Linear):
            fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(m.weight)
            bound = math.sqrt(6 / (fan_in + fan_out))
            assert m.weight.abs().max() <= bound and m.weight.abs().max() > 0.8 * bound
            assert m.bias is None or not m.bias.any()
    with pytest.raises(InputError, match="dropout"):
        build_model(name, dropout=1.5)


def test_released_resnet_layout():
    model = build_model("released_resnet")
    stages = list(model.stages)
    assert [len(s) for s in stages] == [5, 5, 5]
    assert [s[0].conv2.out_channels for s in stages] == [16, 32, 64]
    assert model.fc.in_features == 64
    # downsampling shortcut: 2x2 average pooling, then the new channels padded with zeros
    block = stages[1][0]
    x = torch.rand(2, 16, 8, 8)
    out = block.shortcut(x)
    assert out.shape == (2, 32, 4, 4)
    pooled = F.avg_pool2d(x, 2)
    assert torch.allclose(out[:, 8:24], pooled) and not out[:, :8].any() and not out[:, 24:].any()
