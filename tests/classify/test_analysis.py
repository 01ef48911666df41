"""Classifier frequency analyses against naive independent computations: Fourier heat maps
(a per-frequency loop with the literal ifft2 basis), cue conflict and perturbation spectra
(plain numpy), and their CLIs on the real ResNet-20."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from hfc_classify.analysis.cue_conflict import conflict_partners, cue_conflict
from hfc_classify.analysis.heatmap import (
    HeatmapConfig,
    centred_frequencies,
    fourier_heatmap,
    perturbation_signs,
)
from hfc_classify.analysis.spectrum import power_spectrum, radial_profile, share_outside
from hfc_classify.attacks import fgsm
from hfc_classify.cli.app import app
from hfc_classify.robustness import RobustnessConfig, evaluate_robustness
from hfc_detect.utils.errors import InputError
from tests.classify.reference import numpy_split, tiny_model

RESNET20 = "models/cifar10_resnet20-12fca82f.th"
TEST_SET = "data/cifar10/test_first1000.npz"
runner = CliRunner()
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def literal_pair(h: int, w: int, u: int, v: int) -> tuple[int, int]:
    """The Hermitian partner in the centred layout: the issue's ((H - u) mod H, (W - v) mod W)
    for even sizes; H - 1 - u for odd H (the frequency's negation)."""
    return (h - u) % h if h % 2 == 0 else h - 1 - u, (w - v) % w if w % 2 == 0 else w - 1 - v


def literal_basis(h: int, w: int, u: int, v: int) -> np.ndarray:
    """The issue's definition: D is 1 at (u, v) and its Hermitian partner, centred layout."""
    d = np.zeros((h, w))
    d[u, v] = 1
    d[literal_pair(h, w, u, v)] = 1
    assert np.abs(np.fft.ifft2(np.fft.ifftshift(d)).imag).max() < 1e-12  # a real basis
    basis = np.fft.ifft2(np.fft.ifftshift(d)).real
    return basis / np.linalg.norm(basis)


def naive_heatmap(model, x: torch.Tensor, y: torch.Tensor, eps: float, signs: np.ndarray):
    n, _, h, w = x.shape
    out = np.zeros((h, w))
    with torch.no_grad():
        for u in range(h):
            for v in range(w):
                basis = literal_basis(h, w, u, v)
                for i in range(n):
                    pert = eps * signs[i][:, None, None] * basis[None]
                    xi = np.clip(x[i].double().numpy() + pert, 0, 1)
                    pred = model(torch.from_numpy(xi).float()[None]).argmax(1).item()
                    out[u, v] += pred != int(y[i])
    return out / n


@pytest.fixture(scope="module")
def small_data() -> tuple[torch.Tensor, torch.Tensor]:
    """Odd-by-even random images labelled by the tiny model, a few labels changed."""
    x = torch.rand(5, 3, 5, 6, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        y = tiny_model()(x).argmax(1)
    y[:2] = (y[:2] + 3) % 10
    return x, y


@pytest.mark.parametrize("sign", ["positive", "random"])
def test_heatmap_equals_per_frequency_loop(small_data, sign):
    x, y = small_data
    model = tiny_model()
    config = HeatmapConfig(eps=2.5, sign=sign, seed=4, batch_size=7)
    done = []
    got = fourier_heatmap(model, x, y, config, progress=done.append)
    signs = perturbation_signs(len(y), 3, sign, 4)
    np.testing.assert_allclose(got, naive_heatmap(model, x, y, 2.5, signs), atol=1e-12)
    assert sum(done) == len(y) * len(centred_frequencies(5, 6)[0])
    assert got.std() > 0  # the perturbations matter on this model
    if sign == "random":
        assert set(np.unique(signs)) == {-1.0, 1.0}


def test_half_plane_and_basis_match_the_literal_definition():
    for h, w in ((4, 4), (5, 6), (32, 32)):
        freqs, mapping = centred_frequencies(h, w)
        points = [(u, v) for u in range(h) for v in range(w)]
        self_paired = sum(literal_pair(h, w, *p) == p for p in points)
        assert len(freqs) == (h * w + self_paired) // 2
        assert mapping.shape == (h, w) and mapping.max() == len(freqs) - 1
    from hfc_detect.frequency.basis import fourier_bases

    freqs, mapping = centred_frequencies(5, 6)
    bases = fourier_bases(5, 6, freqs)
    for u in range(5):
        for v in range(6):
            np.testing.assert_allclose(bases[mapping[u, v]], literal_basis(5, 6, u, v), atol=1e-12)


def test_heatmap_rejects_bad_config():
    with pytest.raises(InputError, match="sign"):
        HeatmapConfig(sign="negative")
    with pytest.raises(InputError, match="eps"):
        HeatmapConfig(eps=-1)


def test_conflict_partners_naive():
    labels = np.array([3, 3, 1, 1, 1, 3, 2, 3, 3])
    expected = []
    for k in range(len(labels)):
        j = (k + 1) % len(labels)
        while labels[j] == labels[k]:
            j = (j + 1) % len(labels)
        expected.append(j)
    assert conflict_partners(labels).tolist() == expected
    with pytest.raises(InputError, match="two different labels"):
        conflict_partners(np.array([1, 1, 1]))


def test_cue_conflict_equals_numpy_hybrids():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (9, 8, 8, 3), dtype=np.uint8)
    model = tiny_model()
    with torch.no_grad():
        labels = model(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255).argmax(1)
    labels = labels.numpy().copy()
    labels[::3] = (labels[::3] + 1) % 10
    partner = conflict_partners(labels)
    rows = cue_conflict(model, images, labels, [2, 3.5], batch_size=4)
    for row, r in zip(rows, (2, 3.5), strict=True):
        low, _ = numpy_split(images, r)
        _, high = numpy_split(images[partner], r)
        hybrid = np.clip(low + high, 0, 255) / 255
        with torch.no_grad():
            pred = model(torch.from_numpy(hybrid).permute(0, 3, 1, 2).float()).argmax(1).numpy()
        assert row.radius == r
        assert row.follows_low == pytest.approx(np.mean(pred == labels))
        assert row.follows_high == pytest.approx(np.mean(pred == labels[partner]))
        assert row.follows_low + row.follows_high + row.neither == pytest.approx(1)


def numpy_power(delta: np.ndarray) -> np.ndarray:
    spec = np.fft.fftshift(np.fft.fft2(delta, axes=(-2, -1)), axes=(-2, -1))
    return (np.abs(spec) ** 2).sum(axis=(0, 1))


def test_spectrum_equals_numpy():
    delta = np.random.default_rng(1).normal(size=(3, 2, 5, 6))
    power = power_spectrum(torch.from_numpy(delta)).numpy()
    np.testing.assert_allclose(power, numpy_power(delta), rtol=1e-12)
    radii, shares = share_outside(power)
    yy, xx = np.meshgrid(np.arange(5) - 2, np.arange(6) - 3, indexing="ij")
    dist = np.hypot(yy, xx)
    for r, share in zip(radii, shares, strict=True):
        assert share == pytest.approx(power[dist >= r].sum() / power.sum())
    assert shares[0] == 1 and shares[-1] == 0 and radii[-1] > dist.max()
    _, ring_mean = radial_profile(power)
    assert ring_mean[0] == pytest.approx(power[2, 3])  # ring [0, 1) holds only the zero bin
    assert ring_mean[1] == pytest.approx(power[(dist >= 1) & (dist < 2)].mean())


def test_robustness_spectra_are_the_perturbations_power():
    x = torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(5))
    model = tiny_model()
    with torch.no_grad():
        y = model(x).argmax(1)
    for mode in ("fixed", "search"):
        config = RobustnessConfig(
            rhos=(0,), attacks=("fgsm",), epsilons=(0.05,), mode=mode, batch_size=4
        )
        table = evaluate_robustness(model, x, y, config)
        delta = (fgsm(model, x, y, 0.05) - x).double().numpy()
        np.testing.assert_allclose(table.spectra[(0.0, "fgsm", 0.05)], numpy_power(delta))


def test_heatmap_cli_on_resnet20(shared_dir, tmp_path):
    out = tmp_path / "hm"
    args = ["heatmap", "-a", "resnet20", "-c", str(shared_dir / RESNET20),
            "-d", str(shared_dir / TEST_SET), "--limit", "2", "--eps", "4", "--device", "cpu",
            "-o", str(out)]  # fmt: skip
    plan = runner.invoke(app, [*args, "--dry-run"])
    assert plan.exit_code == 0, plan.output
    assert "32 x 32 cells = 514 bases (one per Hermitian pair) x 2 images = 1,028" in plan.output
    assert not out.exists()  # a dry run writes nothing
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    errors = np.load(out / "heatmap.npy")
    assert errors.shape == (32, 32) and set(np.unique(errors)) <= {0, 0.5, 1}
    np.testing.assert_array_equal(errors, np.roll(errors[::-1, ::-1], (1, 1), (0, 1)))
    assert errors[16, 16] == 0  # a constant shift of 4/32 leaves these two images right
    assert (out / "heatmap.png").stat().st_size > 10_000
    bad = runner.invoke(app, [*args[:-2], "--sign", "negative", "-o", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "error: sign must be" in bad.output
    assert not (tmp_path / "x").exists()


def test_cue_conflict_cli_on_resnet20(shared_dir, tmp_path):
    out = tmp_path / "cc"
    args = ["cue-conflict", "-a", "resnet20", "-c", str(shared_dir / RESNET20),
            "-d", str(shared_dir / TEST_SET), "--limit", "100", "-r", "2,16", "--device", "cpu",
            "-o", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "cue_conflict.csv").open()))
    assert [r["radius"] for r in rows] == ["2", "16"]
    low = [float(r["follows_low"]) for r in rows]
    high = [float(r["follows_high"]) for r in rows]
    assert low[1] > low[0] and high[0] > high[1]  # more of image k kept -> k wins more often
    assert (out / "cue_conflict.png").is_file()
    bad = runner.invoke(app, [*args[:-2], "-r", "0", "-o", str(tmp_path / "y")])
    assert bad.exit_code == 2 and "error:" in bad.output


def test_robustness_cli_writes_spectrum(shared_dir, tmp_path):
    out = tmp_path / "rob"
    args = ["robustness", "-a", "resnet20", "-c", str(shared_dir / RESNET20),
            "-d", str(shared_dir / TEST_SET), "--limit", "4", "--rho", "0", "--attack", "fgsm",
            "--eps", "0.03",
            "-o", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "perturbation_spectrum.csv").open()))
    assert {(r["rho"], r["attack"], r["eps"]) for r in rows} == {("0", "fgsm", "0.03")}
    shares = [float(r["share_outside"]) for r in rows]
    assert shares[0] == 1 and shares[-1] == 0 and shares == sorted(shares, reverse=True)
    assert (out / "perturbation_spectrum.png").is_file()


def test_write_heatmap_is_the_api_behind_the_command(tmp_path):
    """A Python user writes the command's three files from a computed map (issue 16)."""
    from hfc_classify.analysis.heatmap import write_heatmap

    errors = np.arange(16, dtype=float).reshape(4, 4) / 16
    paths = write_heatmap(tmp_path / "hm", errors, "a title", {"eps": 4.0})
    assert [p.name for p in paths] == ["heatmap.npy", "heatmap.png", "heatmap.json"]
    np.testing.assert_array_equal(np.load(paths[0]), errors)
    assert paths[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(paths[2].read_text()) == {"eps": 4.0}
