"""Shared fixtures: the real data in ../shared (skipped cleanly where it is absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("HFC_SHARED_DIR", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout; tests that use it skip where it is absent."""
    if not (SHARED_DIR / "README.md").is_file():
        pytest.skip(f"real data not found at {SHARED_DIR} (only developer and CI machines have it)")
    return SHARED_DIR


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's tiny forward passes on one thread: on a CPU shared with other jobs,
    contended OpenMP threads make them many times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
