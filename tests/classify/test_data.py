"""Data loading (npz, CIFAR-10 batches, MNIST via torchvision) and cached LFC/HFC sets."""

from __future__ import annotations

import importlib
import pickle
import struct

import numpy as np
import pytest
import torch

from hfc_classify.data import frequency_sets, load_npz, load_split
from hfc_detect.utils.errors import InputError
from tests.classify.reference import max_scaled, numpy_split

fs_module = importlib.import_module("hfc_classify.data.frequency_sets")


def _images(n: int, size: int = 32, channels: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, channels), dtype=np.uint8)


def _npz(path, images, labels):
    np.savez(path, images=images, labels=labels)
    return path


def test_npz_roundtrip(tmp_path):
    images, labels = _images(5), np.arange(5)
    data = load_split(_npz(tmp_path / "d.npz", images, labels))
    assert np.array_equal(data.images, images) and data.labels.dtype == np.int64
    x = data.tensor()
    assert x.shape == (5, 3, 32, 32) and x.dtype == torch.float32
    assert float(x[1, 2, 3, 4]) == pytest.approx(images[1, 3, 4, 2] / 255)


@pytest.mark.parametrize(
    ("images", "labels", "message"),
    [
        (np.zeros((4, 32, 32, 3), np.float32), np.arange(4), "uint8"),
        (np.zeros((4, 32, 32), np.uint8), np.arange(4), "shape"),
        (np.zeros((4, 32, 32, 3), np.uint8), np.arange(3), "4 images but 3 labels"),
        (np.zeros((4, 32, 32, 3), np.uint8), np.zeros((4, 2), int), "labels"),
        (np.zeros((4, 32, 32, 3), np.uint8), np.full(4, 0.5), "labels"),
    ],
)
def test_npz_bad_arrays(tmp_path, images, labels, message):
    path = _npz(tmp_path / "bad.npz", images, labels)
    with pytest.raises(InputError, match=message) as err:
        load_npz(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_npz_missing_key_and_file(tmp_path):
    np.savez(tmp_path / "x.npz", pixels=np.zeros(3))
    with pytest.raises(InputError, match="missing array"):
        load_npz(tmp_path / "x.npz")
    with pytest.raises(InputError, match="not found"):
        load_split(tmp_path / "nope.npz")
    with pytest.raises(InputError, match="not found"):
        load_split(tmp_path / "no-such-folder")


def _write_cifar(folder, per_batch=2):
    folder.mkdir(parents=True)
    expected = {"train": [], "test": []}
    for k, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        chw = _images(per_batch, seed=k).transpose(0, 3, 1, 2)
        labels = [(k + j) % 10 for j in range(per_batch)]
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": chw.reshape(per_batch, -1), b"labels": labels}, f)
        split = "test" if name == "test_batch" else "train"
        expected[split].append((chw.transpose(0, 2, 3, 1), labels))
    return expected


def test_cifar_folder(tmp_path):
    expected = _write_cifar(tmp_path / "cifar-10-batches-py")
    for root in (tmp_path, tmp_path / "cifar-10-batches-py", f"cifar10:{tmp_path}"):
        for split in ("train", "test"):
            data = load_split(root, split)
            assert np.array_equal(data.images, np.concatenate([i for i, _ in expected[split]]))
            assert data.labels.tolist() == [x for _, lab in expected[split] for x in lab]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no CIFAR-10 batches"):
        load_split(tmp_path / "empty", "train")


def _idx(path, array: np.ndarray):
    code = 0x08
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_through_torchvision(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = _images(6, size=28, channels=1)[..., 0]
    for prefix in ("train", "t10k"):
        _idx(raw / f"{prefix}-images-idx3-ubyte", images)
        _idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(6) % 10)
    data = load_split(f"mnist:{tmp_path}", "train")
    assert data.images.shape == (6, 28, 28, 1) and np.array_equal(data.images[..., 0], images)
    with pytest.raises(InputError, match="FashionMNIST"):
        load_split(f"fashion-mnist:{tmp_path}", "test")


def test_frequency_sets_match_numpy_and_are_cached(tmp_path, monkeypatch):
    images = _images(6)
    sets = frequency_sets(images, [4, 12], cache_dir=tmp_path)
    for r in (4.0, 12.0):
        low, high = map(max_scaled, numpy_split(images, r))
        assert np.allclose(sets[("lfc", r)].permute(0, 2, 3, 1).numpy(), low, atol=1e-5)
        assert np.allclose(sets[("hfc", r)].permute(0, 2, 3, 1).numpy(), high, atol=1e-5)
    assert len(list(tmp_path.glob("*.npy"))) == 4

    def fail(*args, **kwargs):
        raise AssertionError("recomputed despite the cache")

    monkeypatch.setattr(fs_module, "compute_components", fail)
    again = frequency_sets(images, [12, 4], cache_dir=tmp_path)
    assert all(torch.equal(again[k], sets[k]) for k in sets)
    with pytest.raises(AssertionError):  # other pixels: another cache entry
        frequency_sets(images[::-1].copy(), [4], cache_dir=tmp_path)


def test_frequency_sets_modes(tmp_path):
    images = _images(3)
    clip = frequency_sets(images, [8], mode="clip")[("hfc", 8.0)]
    raw = frequency_sets(images, [8], mode="raw")[("hfc", 8.0)]
    assert clip.min() >= 0 and raw.min() < 0
    assert torch.allclose(clip, raw.clamp(0, 1))
    with pytest.raises(InputError, match="pixel"):
        frequency_sets(images, [8], mode="stretch")
