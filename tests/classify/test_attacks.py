"""FGSM/PGD against torchattacks, the foolbox-style searches against brute force, and the real
ResNet-20's accuracy under attack."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hfc_classify.attacks import fgsm, fgsm_min_eps, foolbox_fgsm_grid, pgd, pgd_min_eps
from hfc_classify.models import build_model, load_weights
from hfc_detect.utils.errors import InputError
from tests.classify.reference import tiny_model

torchattacks = pytest.importorskip("torchattacks")

RESNET20 = "models/cifar10_resnet20-12fca82f.th"
TEST_SET = "data/cifar10/test_first1000.npz"


@pytest.fixture(scope="module")
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.rand(16, 3, 12, 12, generator=gen), torch.randint(0, 10, (16,), generator=gen)


@pytest.fixture(scope="module")
def labelled_batch(batch) -> tuple[torch.Tensor, torch.Tensor]:
    """The tiny model's own predictions as labels, two of them changed: 14 correct, 2 not."""
    x = batch[0]
    with torch.no_grad():
        y = tiny_model()(x).argmax(1)
    y[:2] = (y[:2] + 1) % 10
    return x, y


@pytest.fixture(scope="module")
def resnet20(shared_dir) -> nn.Module:
    model = build_model("resnet20")
    return load_weights(model, shared_dir / RESNET20).eval()


@pytest.fixture(scope="module")
def cifar(shared_dir) -> tuple[torch.Tensor, torch.Tensor]:
    with np.load(shared_dir / TEST_SET) as npz:
        images, labels = npz["images"][:80], npz["labels"][:80]
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    return x, torch.from_numpy(labels).long()


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


@pytest.mark.parametrize("eps", [0.0, 2 / 255, 0.1])
def test_fgsm_equals_torchattacks_on_small_model(batch, eps):
    model, (x, y) = tiny_model(), batch
    ours = fgsm(model, x, y, eps)
    ref = torchattacks.FGSM(model, eps=eps)(x, y)
    assert torch.allclose(ours, ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize(("eps", "alpha", "steps"), [(8 / 255, 2 / 255, 7), (0.05, 0.02, 4)])
def test_pgd_equals_torchattacks_on_small_model(batch, eps, alpha, steps):
    model, (x, y) = tiny_model(), batch
    ours = pgd(model, x, y, eps, alpha, steps)
    ref = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=False)(x, y)
    assert torch.allclose(ours, ref, atol=1e-6, rtol=0)
    assert (ours - x).abs().max() <= eps + 1e-6
    assert ours.min() >= 0 and ours.max() <= 1


def test_attacks_equal_torchattacks_on_resnet20(resnet20, cifar):
    x, y = cifar[0][:16], cifar[1][:16]
    ours = fgsm(resnet20, x, y, 8 / 255)
    assert torch.allclose(ours, torchattacks.FGSM(resnet20, eps=8 / 255)(x, y), atol=1e-6, rtol=0)
    ours = pgd(resnet20, x, y, 8 / 255, 2 / 255, 3)
    ref = torchattacks.PGD(resnet20, eps=8 / 255, alpha=2 / 255, steps=3, random_start=False)(x, y)
    assert torch.allclose(ours, ref, atol=1e-6, rtol=0)


def test_per_image_eps_matches_separate_runs(batch):
    model, (x, y) = tiny_model(), batch
    eps = torch.linspace(0.01, 0.1, len(y))
    joint = pgd(model, x, y, eps, eps / 4, 3)
    for i in (0, 7, 15):
        alone = pgd(model, x[i : i + 1], y[i : i + 1], eps[i].item(), eps[i].item() / 4, 3)
        assert torch.allclose(joint[i : i + 1], alone, atol=1e-6, rtol=0)


def test_model_mode_and_statistics_are_restored(batch):
    model, (x, y) = tiny_model(), batch
    model.train()
    model[1].eval()  # a mixed-mode model must come back exactly as it was
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pgd(model, x, y, 0.03, 0.01, 2)
    fgsm(model, x, y, 0.03)
    assert model.training and not model[1].training and model[0].training
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in model.parameters())


def test_bad_inputs_raise_input_error(batch):
    model, (x, y) = tiny_model(), batch
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        fgsm(model, x * 255, y, 0.03)
    with pytest.raises(InputError, match="eps"):
        fgsm(model, x, y, -0.1)
    with pytest.raises(InputError, match="labels"):
        pgd(model, x, y[:3], 0.03, 0.01, 2)
    with pytest.raises(InputError, match="grid"):
        fgsm_min_eps(model, x, y, [])


def test_fgsm_search_equals_brute_force(labelled_batch):
    model, (x, y) = tiny_model(), labelled_batch
    grid = [0.01, 0.02, 0.05, 0.1, 0.2, 0.4]
    expected = torch.full((len(y),), float("inf"))
    with torch.no_grad():
        expected[model(x).argmax(1) != y] = 0.0
    for eps in grid:
        with torch.no_grad():
            fooled = model(fgsm(model, x, y, eps)).argmax(1) != y
        expected[fooled & torch.isinf(expected)] = eps
    assert torch.equal(fgsm_min_eps(model, x, y, grid), expected)
    assert (expected == 0).sum() == 2 and torch.isfinite(expected[2:]).any()


def test_pgd_search_counts_success_at_any_step(labelled_batch):
    model, (x, y) = tiny_model(), labelled_batch
    grid, steps = [0.01, 0.03], 3
    expected = torch.full((len(y),), float("inf"))
    for eps in grid:
        for k in range(steps + 1):  # the k-step attack is the k-th iterate
            with torch.no_grad():
                fooled = model(pgd(model, x, y, eps, eps / 3, k)).argmax(1) != y
            expected[fooled & torch.isinf(expected)] = eps if k else 0.0
    found = pgd_min_eps(model, x, y, grid, steps=steps, rel_alpha=1 / 3)
    assert torch.equal(found, expected)
    assert (expected == 0).sum() == 2 and (expected > 0).any()


def test_foolbox_grid():
    grid = foolbox_fgsm_grid(0.09)
    assert len(grid) == 90 and grid[0] == 0.001 and grid[29] == 0.03 and grid[-1] == 0.09


def test_fgsm_and_pgd_break_resnet20(resnet20, cifar):
    x, y = cifar
    clean = accuracy(resnet20, x, y)
    after_fgsm = accuracy(resnet20, fgsm(resnet20, x, y, 8 / 255), y)
    after_pgd = accuracy(resnet20, pgd(resnet20, x, y, 8 / 255, 2.5 * 8 / 255 / 3, 3), y)
    assert clean > 0.85
    assert after_fgsm < 0.4 * clean
    assert after_pgd < after_fgsm and after_pgd < 0.05
