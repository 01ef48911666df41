"""L-infinity adversarial attacks (FGSM, PGD) on images in [0, 1], batched on the model's device.

``fgsm`` and ``pgd`` give the same adversarial images as torchattacks' ``FGSM`` and ``PGD``
(random start off): mean cross-entropy loss, the sign of its input gradient, clamping to the
eps-ball and to [0, 1] after every step. Any input normalisation must live inside the model.

The paper's Table 2 came from foolbox v1, whose attacks *search* for the smallest successful
perturbation instead of attacking at one eps. ``fgsm_min_eps`` and ``pgd_min_eps`` give that
view: per image, the smallest eps of a grid at which the attack succeeds, so that the accuracy
at ``eps`` is ``(min_eps > eps).mean()``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hfc_detect.utils.errors import InputError
from hfc_detect.utils.torch_tools import eval_mode

#: foolbox v1 FGSM's default search: 1000 evenly spaced eps in (0, 1].
FOOLBOX_FGSM_STEPS = 1000


def _device(model: nn.Module) -> torch.device:
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _prepare(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | float]:
    if x.ndim != 4:
        raise InputError(f"images must be a batch (N, C, H, W), got shape {tuple(x.shape)}")
    if y.shape != (x.shape[0],):
        raise InputError(f"labels must have shape ({x.shape[0]},), got {tuple(y.shape)}")
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise InputError("images must lie in [0, 1] (put any normalisation inside the model)")
    device = _device(model)
    x = x.detach().to(device)
    if not x.is_floating_point():
        raise InputError(f"images must be floating point, got {x.dtype}")
    if isinstance(eps, torch.Tensor):
        if (eps < 0).any():
            raise InputError("eps must be >= 0")
        eps = eps.to(device=device, dtype=x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
    elif eps < 0:
        raise InputError(f"eps must be >= 0, got {eps}")
    return x, y.detach().to(device), eps


def _loss_grad_sign(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sign of the input gradient of the mean cross-entropy, and the logits at ``x``."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        (grad,) = torch.autograd.grad(F.cross_entropy(logits, y), x)
    return grad.sign(), logits.detach()


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """Fast gradient sign method: ``clamp(x + eps * sign(grad), 0, 1)`` (Goodfellow et al.)."""
    x, y, eps = _prepare(model, x, y, eps)
    with eval_mode(model):
        return (x + eps * _loss_grad_sign(model, x, y)[0]).clamp(0, 1).detach()


def _pgd_step(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    x_adv: torch.Tensor,
    eps: float | torch.Tensor,
    alpha: float | torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One PGD step from ``x_adv``: the next iterate, and the logits at ``x_adv``."""
    sign, logits = _loss_grad_sign(model, x_adv, y)
    x_adv = x_adv.detach() + alpha * sign
    delta = torch.clamp(x_adv - x, min=-eps, max=eps)
    return torch.clamp(x + delta, min=0, max=1).detach(), logits


def _per_image(value: float | torch.Tensor, like: torch.Tensor) -> float | torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.to(device=like.device, dtype=like.dtype).reshape(-1, 1, 1, 1)
    return value


def pgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float | torch.Tensor,
    alpha: float | torch.Tensor,
    steps: int,
    random_start: bool = False,
) -> torch.Tensor:
    """Projected gradient descent (Madry et al.): ``steps`` signed-gradient steps of ``alpha``,
    each projected onto the eps-ball around ``x`` and onto [0, 1].

    ``eps`` and ``alpha`` may be tensors of shape (N,) to give each image its own budget.
    ``random_start`` starts from a uniform draw in the eps-ball (torch's global generator).
    """
    if steps < 0:
        raise InputError(f"steps must be >= 0, got {steps}")
    x, y, eps = _prepare(model, x, y, eps)
    alpha = _per_image(alpha, x)
    x_adv = x.clone()
    if random_start:
        x_adv = torch.clamp(x_adv + (torch.rand_like(x) * 2 - 1) * eps, min=0, max=1)
    with eval_mode(model):
        for _ in range(steps):
            x_adv, _ = _pgd_step(model, x, y, x_adv, eps, alpha)
    return x_adv


def _check_grid(epsilons: Sequence[float]) -> list[float]:
    grid = sorted(float(e) for e in epsilons)
    if not grid or grid[0] <= 0:
        raise InputError(f"the eps grid must be non-empty and positive, got {list(epsilons)}")
    return grid


def foolbox_fgsm_grid(max_eps: float) -> list[float]:
    """foolbox v1 FGSM's eps grid (steps of 1/1000) up to ``max_eps``: searching it gives the
    same verdict at every eps >= 0.02 as foolbox's search up to 1.0 (its refinement below 0.02
    only moves successes to smaller eps)."""
    count = math.floor(max_eps * FOOLBOX_FGSM_STEPS + 1e-9)
    return [k / FOOLBOX_FGSM_STEPS for k in range(1, count + 1)]


@torch.no_grad()
def _predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return model(x).argmax(1)


def fgsm_min_eps(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, epsilons: Sequence[float]
) -> torch.Tensor:
    """Per image, the smallest eps of ``epsilons`` at which FGSM misleads the model, as foolbox
    v1's FGSM searches (one gradient at ``x``, increasing eps); 0 where ``x`` itself is
    misclassified, ``inf`` where no eps of the grid succeeds. Shape (N,), on the CPU."""
    grid = _check_grid(epsilons)
    x, y, _ = _prepare(model, x, y, 0.0)
    with eval_mode(model):
        sign, logits = _loss_grad_sign(model, x, y)
        min_eps = torch.full((x.shape[0],), float("inf"), device=x.device)
        min_eps[logits.argmax(1) != y] = 0.0
        for eps in grid:
            left = torch.isinf(min_eps).nonzero().flatten()
            if left.numel() == 0:
                break
            x_adv = torch.clamp(x[left] + eps * sign[left], min=0, max=1)
            fooled = _predict(model, x_adv) != y[left]
            min_eps[left[fooled]] = eps
    return min_eps.cpu()


def pgd_min_eps(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epsilons: Sequence[float],
    *,
    steps: int,
    alpha: float | None = None,
    rel_alpha: float | None = None,
) -> torch.Tensor:
    """Per image, the smallest eps of ``epsilons`` at which PGD misleads the model at *any* of
    its ``steps`` steps (of ``alpha``, or of ``rel_alpha * eps``; no random start), as foolbox
    v1's PGD counts success (``return_early``); 0 where ``x`` is misclassified, ``inf`` where no
    eps of the grid succeeds. Shape (N,), on the CPU. foolbox itself bisects eps; a grid is
    the batched, bounded-cost version of that search."""
    grid = _check_grid(epsilons)
    if (alpha is None) == (rel_alpha is None):
        raise InputError("give exactly one of alpha and rel_alpha")
    step = alpha if alpha is not None else rel_alpha
    if steps < 1 or not step > 0:
        raise InputError(f"PGD needs steps >= 1 and a positive step, got {steps}, {step}")
    x, y, _ = _prepare(model, x, y, 0.0)
    with eval_mode(model):
        min_eps = torch.full((x.shape[0],), float("inf"), device=x.device)
        min_eps[_predict(model, x) != y] = 0.0
        for eps in grid:
            left = torch.isinf(min_eps).nonzero().flatten()
            if left.numel() == 0:
                break
            xs, ys = x[left], y[left]
            fooled = torch.zeros(left.numel(), dtype=torch.bool, device=x.device)
            x_adv = xs
            for _ in range(steps):
                x_adv, logits = _pgd_step(model, xs, ys, x_adv, eps, alpha or rel_alpha * eps)
                fooled |= logits.argmax(1) != ys
            fooled |= _predict(model, x_adv) != ys
            min_eps[left[fooled]] = eps
    return min_eps.cpu()
