"""What a training run is: every setting in one frozen dataclass, normalised and checked once.

Defaults are the paper's vanilla set-up (Sec. 4): Adam, lr 1e-4, batch 100, 100 epochs, pixels
in [0, 1], Xavier init, on the released code's ResNet without BatchNorm. Accuracy on the LFC and
HFC of the training and test images is tracked at radii 4, 8, 12 and 16 on fixed seeded subsets
of 1,000 training and 1,000 test images (0 means all images).

Speed settings (:mod:`hfc_classify.engine.device`): ``eval_batch_size`` (None: per device, 100
on the CPU, 2,000 on a GPU), ``channels_last`` and ``precision`` (fp32, bf16 or fp16 autocast);
the last two are off by default because they change the numbers.

The CLI builds its ``train`` options from these fields and their defaults, a sweep file's
``base``/``runs``/``grid`` name them, and a run folder's ``config.json`` is :meth:`to_dict`.
This module imports no torch, so that the CLI can read it when it starts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from hfc_detect.frequency.variant import KINDS
from hfc_detect.utils.errors import InputError

OPTIMIZERS = ("sgd", "adam", "adagrad", "adadelta", "rmsprop")
TRAIN_ON = KINDS
PRECISIONS = ("fp32", "bf16", "fp16")
#: The architecture when none is named: the paper's model (also the CLI's, for every command).
DEFAULT_ARCH = "released_resnet"
#: Settings that may change between a run's checkpoint and its resumption.
RESUMABLE = ("epochs", "device", "cache_dir", "eval_batch_size", "tensorboard", "channels_last")
#: How errors spell each setting while :meth:`TrainConfig.from_dict` builds one (default: the
#: field name, as a sweep file writes it; the CLI passes the options the user typed).
_SPELLING: ContextVar[Mapping[str, str] | None] = ContextVar("spelling", default=None)


def _name(setting: str) -> str:
    return (_SPELLING.get() or {}).get(setting, setting)


@contextmanager
def _spelled(names: Mapping[str, str] | None) -> Iterator[None]:
    token = _SPELLING.set(names)
    try:
        yield
    finally:
        _SPELLING.reset(token)


@dataclass(frozen=True)
class TrainConfig:
    """One training run, checked when built (a bad value raises :class:`InputError`).

    Normalised once: ``test_data`` defaults to ``train_data`` when that names a set with both
    splits (a CIFAR-10 folder, mnist:ROOT; an ``.npz`` file needs its own ``test_data``),
    ``optimizer`` is lower-cased, radii are floats (``track_radii`` a tuple)."""

    train_data: str = ""
    test_data: str = ""
    arch: str = DEFAULT_ARCH
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
    track_radii: tuple[float, ...] = (4.0, 8.0, 12.0, 16.0)
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

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        if not self.train_data:
            raise InputError(f"no training data given ({_name('train_data')})")
        if not self.test_data and str(self.train_data).endswith(".npz"):
            # An .npz file is one split: defaulting to it would test on the training images.
            raise InputError(
                f"{_name('train_data')} {self.train_data}: an .npz file holds one split; "
                f"give {_name('test_data')} too"
            )
        put("test_data", self.test_data or self.train_data)
        put("optimizer", str(self.optimizer).lower())
        _check(self)
        put("track_radii", tuple(float(r) for r in self.track_radii))
        if self.train_radius is not None:
            put("train_radius", float(self.train_radius))

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
        """The settings as JSON values (``track_radii`` a list), in field order."""
        return {**dataclasses.asdict(self), "track_radii": list(self.track_radii)}

    @classmethod
    def from_dict(
        cls, values: dict[str, Any], where: str = "config", names: Mapping[str, str] | None = None
    ) -> TrainConfig:
        """Build from settings by name; an unknown name or a bad value raises
        :class:`InputError` that starts with ``where``. ``names`` maps a setting to what the
        user typed for it (a command-line option), for the errors; the rest keep field names."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise InputError(f"{where}: unknown setting(s) {', '.join(unknown)}")
        try:
            with _spelled(names):
                return cls(**values)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None

    def changed_settings(self, saved: dict[str, Any]) -> list[str]:
        """Settings that differ from ``saved`` (a run's stored :meth:`to_dict`), except the
        :data:`RESUMABLE` ones; a setting that older runs lack counts as its default."""
        now, default = self.to_dict(), default_settings()
        return sorted(
            k
            for k in set(saved) | set(now)
            if k not in RESUMABLE and saved.get(k, default.get(k)) != now.get(k)
        )


def default_settings() -> dict[str, Any]:
    """Every setting's default, as :meth:`TrainConfig.to_dict` writes it."""
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    return {**defaults, "track_radii": list(defaults["track_radii"])}


def _check(c: TrainConfig) -> None:
    """Raise :class:`InputError` on the first bad value of ``c``."""
    from hfc_detect.frequency import PIXEL_MODES  # numpy: not when the CLI only starts

    if c.optimizer not in OPTIMIZERS:
        raise InputError(
            f"unknown {_name('optimizer')} {c.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}"
        )
    if c.train_on not in TRAIN_ON:
        raise InputError(
            f"{_name('train_on')} must be one of {', '.join(TRAIN_ON)}, got {c.train_on!r}"
        )
    if c.train_on != "original" and not (c.train_radius or 0) > 0:
        raise InputError(f"training on {c.train_on} needs {_name('train_radius')} > 0")
    if c.normalize not in PIXEL_MODES:
        modes = ", ".join(PIXEL_MODES)
        raise InputError(f"{_name('normalize')} must be one of {modes}, got {c.normalize!r}")
    if c.precision not in PRECISIONS:
        kinds = ", ".join(PRECISIONS)
        raise InputError(f"{_name('precision')} must be one of {kinds}, got {c.precision!r}")
    for name in ("epochs", "batch_size", "eval_batch_size", "num_classes"):
        if getattr(c, name) is not None and int(getattr(c, name)) < 1:
            raise InputError(f"{_name(name)} must be >= 1, got {getattr(c, name)}")
    for name in ("track_train", "track_test", "adv_steps"):
        if int(getattr(c, name)) < 0:
            raise InputError(f"{_name(name)} must be >= 0, got {getattr(c, name)}")
    if not c.lr > 0:
        raise InputError(f"{_name('lr')} must be > 0, got {c.lr}")
    if c.mixup_alpha < 0:
        raise InputError(f"{_name('mixup_alpha')} must be >= 0 (0: off), got {c.mixup_alpha}")
    if not 0 <= c.dropout < 1:
        raise InputError(f"{_name('dropout')} must be in [0, 1), got {c.dropout}")
    if c.adversarial:
        _check_adversarial(c)
    if any(not float(r) > 0 for r in c.track_radii):
        raise InputError(f"{_name('track_radii')} must all be > 0, got {list(c.track_radii)}")


def _check_adversarial(c: TrainConfig) -> None:
    if not c.adv_eps > 0:
        raise InputError(f"{_name('adv_eps')} must be > 0, got {c.adv_eps}")
    if not (c.adv_steps >= 1 and c.step_size > 0):
        raise InputError(
            f"adversarial training needs {_name('adv_steps')} >= 1 and "
            f"{_name('adv_step_size')} > 0, got {c.adv_steps} and {c.step_size:g}"
        )
    if c.train_on != "original" and c.normalize != "clip":
        # max/raw components leave [0, 1] (negative ringing, HFC's negative half), which the
        # attack refuses: fail here, not at the first batch.
        raise InputError(
            f"adversarial training on {c.train_on} needs pixels in [0, 1]: "
            f"use {_name('normalize')} clip"
        )
    if c.mixup_alpha:
        raise InputError(f"{_name('adversarial')} and {_name('mixup_alpha')} cannot be combined")
