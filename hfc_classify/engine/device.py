"""How a run uses its device: eval batch sizes, data kept on the device, precision, layout.

- :func:`eval_batch_size`: the batch for evaluation and tracking when none is set. On the CPU
  a batch of 100 evaluates the released ResNet ~1.4x faster than 1,000 (measured here, one
  thread: 2.5 vs 3.4 ms an image; cache-sized batches); on a GPU large batches fill the device.
- :func:`fits_on_device`: whether tensors of that many bytes may be kept on the device for a
  whole run (CUDA: half of the free memory; the CPU holds everything anyway).
- :class:`Runtime`: autocast (``precision`` fp32, bf16 or fp16), the memory format
  (``channels_last``) and the eval batch. Autocast and channels_last are off by default: they
  change results in the last bits (fp32 kernels differ) or more (bf16/fp16).
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

#: Eval/tracking batch per device type when none is set (others: the CUDA value).
EVAL_BATCH = {"cpu": 100, "cuda": 2000}
#: Share of the free CUDA memory a run may fill with its data sets.
DEVICE_DATA_SHARE = 0.5


def eval_batch_size(device: torch.device, requested: int | None = None) -> int:
    """``requested`` when set, else the device type's default (:data:`EVAL_BATCH`)."""
    if requested:
        return int(requested)
    return EVAL_BATCH.get(device.type, EVAL_BATCH["cuda"])


def fits_on_device(nbytes: int, device: torch.device) -> bool:
    """True when ``nbytes`` of data may live on ``device`` for a run (always on the CPU)."""
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return nbytes <= DEVICE_DATA_SHARE * free


def nbytes(*tensors: torch.Tensor) -> int:
    """Bytes held by ``tensors``."""
    return sum(t.numel() * t.element_size() for t in tensors)


def pinned(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``t`` on the CPU, in pinned memory when it is to be copied to a CUDA ``device``."""
    t = t.cpu()
    return t.pin_memory() if device.type == "cuda" else t


def keep(tensors: list[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    """``tensors`` moved to ``device`` when they fit together, else left on the CPU (pinned
    for a CUDA device) to go there batch by batch."""
    if fits_on_device(nbytes(*tensors), device):
        return [t.to(device) for t in tensors]
    return [pinned(t, device) for t in tensors]


class Runtime:
    """Autocast, memory format and eval batch (:func:`eval_batch_size` of ``eval_batch``) of
    one run on ``device``."""

    def __init__(
        self,
        device: torch.device,
        precision: str = "fp32",
        channels_last: bool = False,
        eval_batch: int | None = None,
    ):
        self.device, self.precision, self.channels_last = device, precision, channels_last
        self.eval_batch = eval_batch_size(device, eval_batch)

    @property
    def dtype(self) -> torch.dtype | None:
        """The autocast dtype, None for fp32."""
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)

    def autocast(self) -> contextlib.AbstractContextManager:
        """Autocast to the run's precision (a no-op context for fp32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A loss scaler, enabled for fp16 only (a pass-through otherwise)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")

    def layout(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` in the run's memory format (unchanged unless channels_last)."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def prepare(self, model: nn.Module) -> nn.Module:
        """``model`` on the device, in the run's memory format."""
        model = model.to(self.device)
        return model.to(memory_format=torch.channels_last) if self.channels_last else model
