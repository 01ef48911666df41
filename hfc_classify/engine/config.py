"""What a training run is: every setting in one dataclass, validated, saved with the run.

Defaults are the paper's vanilla set-up (Sec. 4): Adam, lr 1e-4, batch 100, 100 epochs, pixels
in [0, 1], Xavier init, on the released code's ResNet without BatchNorm. Accuracy on the LFC and
HFC of the training and test images is tracked at radii 4, 8, 12 and 16 on fixed seeded subsets
of 1,000 training and 1,000 test images (0 means all images).

Speed settings (:mod:`hfc_classify.engine.device`): ``eval_batch_size`` (None: per device, 100
on the CPU, 2,000 on a GPU), ``channels_last`` and ``precision`` (fp32, bf16 or fp16 autocast);
the last two are off by default because they change the numbers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hfc_classify.data.frequency_sets import PIXEL_MODES
from hfc_classify.engine.device import PRECISIONS
from hfc_detect.utils.errors import InputError

OPTIMIZERS = ("sgd", "adam", "adagrad", "adadelta", "rmsprop")
TRAIN_ON = ("original", "lfc", "hfc")
#: Settings that may change between a run's checkpoint and its resumption.
RESUMABLE = ("epochs", "device", "cache_dir", "eval_batch_size", "tensorboard", "channels_last")


@dataclass
class TrainConfig:
    """One training run. ``test_data`` defaults to ``train_data`` when that names a set with both
    splits (a CIFAR-10 folder, mnist:ROOT); an ``.npz`` file needs its own ``test_data``."""

    train_data: str = ""
    test_data: str = ""
    arch: str = "released_resnet"
    num_classes: int = 10
    epochs: int = 100
    batch_size: int = 100
    optimizer: str = "adam"
    lr: float = 1e-4
    momentum: float = 0.0
    weight_decay: float = 0.0
    mixup_alpha: float = 0.0
    batch_norm: bool | None = None
    dropout: float = 0.0
    shuffle_labels: bool = False
    train_on: str = "original"
    train_radius: float | None = None
    augment: bool = False
    adversarial: bool = False
    adv_eps: float = 8 / 255
    adv_steps: int = 10
    adv_step_size: float | None = None
    adv_random_start: bool = False
    normalize: str = "max"
    inclusive: bool = False
    track_radii: list[float] = field(default_factory=lambda: [4.0, 8.0, 12.0, 16.0])
    track_train: int = 1000
    track_test: int = 1000
    seed: int = 0
    device: str = "auto"
    eval_batch_size: int | None = None
    channels_last: bool = False
    precision: str = "fp32"
    cache_dir: str | None = None
    download: bool = False
    tensorboard: bool = False

    @property
    def step_size(self) -> float:
        """The PGD step: ``adv_step_size`` or eps/10 (the released code's choice)."""
        return self.adv_step_size if self.adv_step_size is not None else self.adv_eps / 10

    def model_options(self) -> dict[str, Any]:
        """Builder keyword arguments for the switches that were set."""
        opts: dict[str, Any] = {}
        if self.batch_norm is not None:
            opts["batch_norm"] = self.batch_norm
        if self.dropout:
            opts["dropout"] = self.dropout
        return opts

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(
        cls, values: dict[str, Any], where: str = "config", names: Mapping[str, str] | None = None
    ) -> TrainConfig:
        """Build and validate; unknown keys raise :class:`InputError` naming them. ``names``
        maps a setting to what the user typed for it (a command-line option) in errors."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise InputError(f"{where}: unknown setting(s) {', '.join(unknown)}")
        config = cls(**values)
        config.validate(where, names)
        return config

    def validate(
        self, where: str = "config", names: Mapping[str, str] | None = None
    ) -> TrainConfig:
        """Raise :class:`InputError` on the first bad value, naming the setting as ``names``
        spells it (default: the field name, as in a sweep file); normalise types; return self."""

        def bad(msg: str) -> InputError:
            return InputError(f"{where}: {msg}")

        def n(setting: str) -> str:
            return (names or {}).get(setting, setting)

        if not self.train_data:
            raise bad(f"no training data given ({n('train_data')})")
        if not self.test_data and str(self.train_data).endswith(".npz"):
            # An .npz file is one split: defaulting to it would test on the training images.
            raise bad(
                f"{n('train_data')} {self.train_data}: an .npz file holds one split; "
                f"give {n('test_data')} too"
            )
        self.test_data = self.test_data or self.train_data
        self.optimizer = str(self.optimizer).lower()
        if self.optimizer not in OPTIMIZERS:
            raise bad(
                f"unknown {n('optimizer')} {self.optimizer!r}; "
                f"choose one of {', '.join(OPTIMIZERS)}"
            )
        if self.train_on not in TRAIN_ON:
            raise bad(
                f"{n('train_on')} must be one of {', '.join(TRAIN_ON)}, got {self.train_on!r}"
            )
        if self.train_on != "original" and not (self.train_radius or 0) > 0:
            raise bad(f"training on {self.train_on} needs {n('train_radius')} > 0")
        if self.normalize not in PIXEL_MODES:
            modes = ", ".join(PIXEL_MODES)
            raise bad(f"{n('normalize')} must be one of {modes}, got {self.normalize!r}")
        if self.precision not in PRECISIONS:
            kinds = ", ".join(PRECISIONS)
            raise bad(f"{n('precision')} must be one of {kinds}, got {self.precision!r}")
        for name in ("epochs", "batch_size", "eval_batch_size", "num_classes"):
            if getattr(self, name) is not None and int(getattr(self, name)) < 1:
                raise bad(f"{n(name)} must be >= 1, got {getattr(self, name)}")
        for name in ("track_train", "track_test", "adv_steps"):
            if int(getattr(self, name)) < 0:
                raise bad(f"{n(name)} must be >= 0, got {getattr(self, name)}")
        if not self.lr > 0:
            raise bad(f"{n('lr')} must be > 0, got {self.lr}")
        if self.mixup_alpha < 0:
            raise bad(f"{n('mixup_alpha')} must be >= 0 (0: off), got {self.mixup_alpha}")
        if not 0 <= self.dropout < 1:
            raise bad(f"{n('dropout')} must be in [0, 1), got {self.dropout}")
        if self.adversarial and not self.adv_eps > 0:
            raise bad(f"{n('adv_eps')} must be > 0, got {self.adv_eps}")
        if self.adversarial and not (self.adv_steps >= 1 and self.step_size > 0):
            raise bad(
                f"adversarial training needs {n('adv_steps')} >= 1 and {n('adv_step_size')} > 0, "
                f"got {self.adv_steps} and {self.step_size:g}"
            )
        if self.adversarial and self.train_on != "original" and self.normalize != "clip":
            # max/raw components leave [0, 1] (negative ringing, HFC's negative half), which the
            # attack refuses: fail here, not at the first batch.
            raise bad(
                f"adversarial training on {self.train_on} needs pixels in [0, 1]: "
                f"use {n('normalize')} clip"
            )
        if self.adversarial and self.mixup_alpha:
            raise bad(f"{n('adversarial')} and {n('mixup_alpha')} cannot be combined")
        if any(not float(r) > 0 for r in self.track_radii):
            raise bad(f"{n('track_radii')} must all be > 0, got {self.track_radii}")
        self.track_radii = [float(r) for r in self.track_radii]
        if self.train_radius is not None:
            self.train_radius = float(self.train_radius)
        return self
