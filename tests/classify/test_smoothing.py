"""Eq. 3 kernel smoothing against scipy's symmetric-boundary convolution, and its effects on
the real ResNet-20."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy.signal import convolve2d
from torch import nn

from hfc_classify.models import build_model, load_weights
from hfc_classify.smoothing import (
    first_conv,
    high_frequency_energy,
    smooth_kernels,
    smooth_model,
)
from hfc_detect.utils.errors import InputError

RESNET20 = "models/cifar10_resnet20-12fca82f.th"
TEST_SET = "data/cifar10/test_first1000.npz"


def scipy_smooth(weight: np.ndarray, rho: float) -> np.ndarray:
    """Each 2-D slice convolved with [[rho]*3, [rho, 1, rho], [rho]*3], symmetric, same size."""
    filt = np.full((3, 3), rho)
    filt[1, 1] = 1.0
    flat = weight.reshape(-1, *weight.shape[-2:])
    out = [convolve2d(k, filt, mode="same", boundary="symm") for k in flat]
    return np.stack(out).reshape(weight.shape)


@pytest.mark.parametrize("shape", [(16, 3, 3, 3), (4, 2, 5, 5), (3, 1, 7, 4), (2, 2, 1, 1)])
@pytest.mark.parametrize("rho", [0.0, 0.1, 0.5, 1.0, 2.3])
def test_equals_scipy_symmetric_convolution(shape, rho):
    weight = torch.randn(shape, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    ours = smooth_kernels(weight, rho)
    ref = scipy_smooth(weight.numpy(), rho)
    np.testing.assert_allclose(ours.numpy(), ref, rtol=0, atol=1e-12)
    rescaled = smooth_kernels(weight, rho, rescale=True)
    np.testing.assert_allclose(rescaled.numpy(), ref / (1 + 8 * rho), rtol=0, atol=1e-12)


def test_eq3_by_hand_on_one_kernel():
    w = torch.arange(9.0).view(1, 1, 3, 3)
    out = smooth_kernels(w, 0.5)
    # Corner (0, 0): neighbours with the boundary duplicated are 0, 1, 0, 1, 3, 4, 3, 0.
    assert out[0, 0, 0, 0].item() == pytest.approx(0 + 0.5 * (0 + 1 + 0 + 1 + 3 + 4 + 3 + 0))
    # Centre: the 8 true neighbours.
    assert out[0, 0, 1, 1].item() == pytest.approx(4 + 0.5 * (36 - 4))
    assert out.dtype == w.dtype and out.shape == w.shape


def test_float32_and_bad_input():
    w = torch.randn(2, 3, 3, 3)
    assert smooth_kernels(w, 0.3).dtype == torch.float32
    assert torch.equal(smooth_kernels(w, 0.0), w)
    with pytest.raises(InputError, match="rho"):
        smooth_kernels(w, -0.1)
    with pytest.raises(InputError, match="rho"):
        smooth_kernels(w, float("nan"))
    with pytest.raises(InputError, match="dimensions"):
        smooth_kernels(torch.randn(5), 0.3)


def small_net() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3))


def test_smooth_model_copies_and_changes_only_the_chosen_convs():
    net = small_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    first = smooth_model(net, 1.0)
    every = smooth_model(net, 1.0, layers="all")
    assert first is not net and every is not net
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())
    assert torch.equal(first[0].weight, smooth_kernels(net[0].weight, 1.0))
    assert torch.equal(first[2].weight, net[2].weight)
    assert torch.equal(first[0].bias, net[0].bias)
    assert torch.equal(every[2].weight, smooth_kernels(net[2].weight, 1.0))
    with pytest.raises(InputError, match="layers"):
        smooth_model(net, 1.0, layers="second")
    with pytest.raises(InputError, match="no Conv2d"):
        smooth_model(nn.Linear(3, 3), 1.0)


@pytest.fixture(scope="module")
def resnet20(shared_dir) -> nn.Module:
    return load_weights(build_model("resnet20"), shared_dir / RESNET20).eval()


def test_high_frequency_energy_falls_as_rho_grows(resnet20):
    weight = first_conv(resnet20).weight
    assert weight.shape == (16, 3, 3, 3)
    shares = [high_frequency_energy(smooth_kernels(weight, rho)) for rho in (0, 0.1, 0.25, 0.5, 1)]
    assert all(a > b for a, b in itertools.pairwise(shares))
    assert shares[0] > 0.5 and shares[-1] < 0.8 * shares[0]
    # Independent check of the measure: numpy's FFT, energy outside the DC bin.
    spectra = np.abs(np.fft.fft2(weight.detach().double().numpy())) ** 2
    expected = 1 - spectra[..., 0, 0].sum() / spectra.sum()
    assert shares[0] == pytest.approx(expected, rel=1e-12)
    assert high_frequency_energy(torch.ones(2, 3, 3)) == pytest.approx(0.0, abs=1e-15)


def test_smoothing_lowers_clean_accuracy_and_leaves_model_alone(resnet20, shared_dir):
    with np.load(shared_dir / TEST_SET) as npz:
        x = torch.from_numpy(npz["images"][:200]).permute(0, 3, 1, 2).float() / 255
        y = torch.from_numpy(npz["labels"][:200]).long()
    before = first_conv(resnet20).weight.clone()

    def acc(model: nn.Module) -> float:
        with torch.no_grad():
            return (model(x).argmax(1) == y).float().mean().item()

    clean = acc(resnet20)
    raw, rescaled = acc(smooth_model(resnet20, 1.0)), acc(smooth_model(resnet20, 1.0, rescale=True))
    assert clean > 0.85
    assert raw < clean - 0.3  # BatchNorm after conv1 sees 9x larger responses
    assert 0.3 < rescaled < clean - 0.1
    assert torch.equal(first_conv(resnet20).weight, before)
