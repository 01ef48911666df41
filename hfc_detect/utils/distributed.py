"""torch.distributed glue: works under ``torchrun``, Detectron2's ``launch`` or a single process.

Work is sharded across ranks (``eval``: images; the heat maps, cue conflict and robustness:
batches or chunks, :func:`shard`); each rank contributes its results to a gather, and rank 0
writes them. With one process everything degenerates to local calls.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


def init_from_env() -> bool:
    """Join the process group that ``torchrun`` describes in the environment, if any.

    Returns whether this call created the group (so the caller destroys it at the end). Under
    Detectron2's ``launch`` the group already exists and is left alone.
    """
    if not dist.is_available() or dist.is_initialized():
        return False
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    backend = "nccl" if torch.cuda.is_available() and dist.is_nccl_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank())
    dist.init_process_group(backend=backend)
    return True


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def is_main_rank() -> bool:
    """Whether this process writes: rank 0, or the only process."""
    return rank() == 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def default_device() -> str | None:
    """The GPU this rank should use when several ranks share a machine (None: backend default)."""
    if is_distributed() and torch.cuda.is_available():
        if "LOCAL_RANK" in os.environ:  # torchrun
            return f"cuda:{local_rank()}"
        return f"cuda:{torch.cuda.current_device()}"  # Detectron2's launch sets the device
    return None


def gather(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order (on all ranks)."""
    if not is_distributed():
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def shard(items: Sequence[T]) -> list[T]:
    """This rank's share of ``items``: every ``world_size``-th, from its rank on. Sharding
    whole batches keeps each batch as a one-process run makes it."""
    return list(items[rank() :: world_size()])


def sum_over_ranks(value: Any) -> Any:
    """The sum of every rank's ``value`` (numbers, numpy arrays), added in rank order."""
    parts = gather(value)
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def shutdown(created: bool) -> None:
    """Destroy the process group if :func:`init_from_env` created it."""
    if created and dist.is_initialized():
        dist.destroy_process_group()
