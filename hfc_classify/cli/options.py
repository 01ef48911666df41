"""The options that ``hfc-classify`` commands share, spelled one way (the vocabulary the README
documents): ``-c/--checkpoint``, ``-d/--data``, ``-a/--arch``, ``-o/--output``, ``-r/--radius``,
``--pixel-mode`` (``--normalize``: a hidden alias kept for old scripts); and options generated
from a config dataclass (:func:`config_parameters`)."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import typer

# The architecture everywhere when neither -a nor a checkpoint names one: TrainConfig's.
from hfc_classify.engine.config import DEFAULT_ARCH as DEFAULT_ARCH
from hfc_detect.utils.errors import InputError

ARCH_HELP = "released_resnet, resnet18, resnet20/32/44/56, lenet, alexnet, vgg11, vgg16"
PIXEL_MODE_HELP = (
    "How LFC/HFC become model inputs: max (divided by their own maximum, the released code), "
    "clip (clipped to the pixel range) or raw."
)
DATA_HELP = ".npz (images, labels), CIFAR-10 folder, mnist:ROOT or fashion-mnist:ROOT"

CHECKPOINT = typer.Option(
    ..., "--checkpoint", "-c", metavar="FILE", help="Trained weights (.th/.pt)."
)
DATA = typer.Option(..., "--data", "-d", metavar="PATH", help=f"Test images: {DATA_HELP}.")
OUTPUT = typer.Option(..., "--output", "-o", metavar="DIR", help="Folder to write.")
ARCH = typer.Option(
    None,
    "--arch",
    "-a",
    help=f"Architecture ({ARCH_HELP}). [default: the one a checkpoint of hfc-classify train "
    f"records, else {DEFAULT_ARCH}]",
    show_default=False,
)
RADII = typer.Option(
    ..., "--radius", "-r", metavar="X", help="Split radius; repeat or comma-separate."
)
PIXEL_MODE = typer.Option(
    None,
    "--pixel-mode",
    help=f"{PIXEL_MODE_HELP} [default: max]",
    show_default=False,
)
NORMALIZE = typer.Option(None, "--normalize", hidden=True, help="Old name of --pixel-mode.")
LIMIT = typer.Option(None, "--limit", help="First N images only.", show_default=False)
DEVICE = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1, ...")


class ConfigOption(NamedTuple):
    """A command-line option that sets one field of a config dataclass: its type and default
    are the field's (:func:`config_parameters`). ``names``: the option's names, e.g.
    ``--batch-norm/--no-batch-norm``; the first one names the parameter and, in errors, the
    setting (:meth:`flag`). ``required``: no default (the field's is a placeholder); ``short``:
    a one-letter name; ``metavar``: the placeholder (default: :func:`tidy_help`'s);
    ``alias``: a hidden old name that still works (both given and different is an error)."""

    field: str
    names: str
    help: str
    required: bool = False
    short: str = ""
    metavar: str | None = None
    alias: str = ""

    @property
    def flag(self) -> str:
        """The option's (first) long name, as errors spell the setting."""
        return self.names.split("/")[0]

    @property
    def param(self) -> str:
        """The command's parameter name: the flag's (``--pixel-mode``: ``pixel_mode``)."""
        return _param(self.flag)


def _param(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def config_parameters(config: type, options: Sequence[ConfigOption]) -> list[inspect.Parameter]:
    """Typer parameters, one per option (and one more, hidden, per alias), named after their
    flags. A tuple field (radii) is taken as repeated and/or comma-separated text
    (``--track-radius 4,8 --track-radius 12``), its default written that way; the command
    parses it (``parse_number_list``). An option with an alias defaults to None, so that
    :func:`config_values` sees which of the two was given."""
    hints = typing.get_type_hints(config)
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    keyword = inspect.Parameter.KEYWORD_ONLY
    params = []
    for option in options:
        kind, default = hints[option.field], defaults[option.field]
        if typing.get_origin(kind) is tuple:
            kind, default = list[str], [",".join(f"{v:g}" for v in default)]
        names = [option.names, *([option.short] if option.short else [])]
        help = option.help
        if option.alias:
            kind, help = kind | None, f"{help} [default: {default}]"
            default = None
        info = typer.Option(
            ... if option.required else default,
            *names,
            metavar=option.metavar,
            help=help,
            show_default=not option.alias,
        )
        params.append(inspect.Parameter(option.param, keyword, default=info, annotation=kind))
        if option.alias:
            old = typer.Option(None, option.alias, hidden=True, help=f"Old name of {option.flag}.")
            params.append(
                inspect.Parameter(_param(option.alias), keyword, default=old, annotation=kind)
            )
    return params


def config_values(
    options: Sequence[ConfigOption], given: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The settings that ``given`` (a command's parameters from :func:`config_parameters`) set,
    by field, and how errors name each (the option typed). An option's value and its alias's
    are merged (:func:`resolve_alias`); neither given leaves the field's default."""
    values, names = {}, {}
    for option in options:
        value, names[option.field] = given[option.param], option.flag
        if option.alias:
            value, names[option.field] = resolve_alias(
                option.flag, value, option.alias, given[_param(option.alias)]
            )
            if value is None:
                continue
        values[option.field] = value
    return values, names


def resolve_alias(flag: str, value: Any, alias: str, old: Any) -> tuple[Any, str]:
    """The value of ``flag`` or of its old name ``alias`` (None when neither is given), and the
    name given; both given and different is an error."""
    if value is not None and old is not None and value != old:
        raise InputError(
            f"{flag} {value} and {alias} {old} disagree ({alias} is the old name of {flag}: "
            "give one)"
        )
    if value is None and old is not None:
        return old, alias
    return value, flag


def resolve_arch(arch: str | None, checkpoint: str | Path | None = None) -> str:
    """``arch`` if given, else the architecture recorded in ``checkpoint`` (a run checkpoint of
    ``hfc-classify train``), else :data:`DEFAULT_ARCH`."""
    if arch:
        return arch
    if checkpoint is not None:
        from hfc_classify.engine.loading import saved_config

        recorded = saved_config(Path(checkpoint)).get("arch")
        if isinstance(recorded, str) and recorded:
            return recorded
    return DEFAULT_ARCH


def resolve_pixel_mode(pixel_mode: str | None, normalize: str | None) -> str:
    """The pixel mode from ``--pixel-mode`` or its old name ``--normalize`` (max when neither),
    checked; both given and different is an error."""
    from hfc_detect.frequency import PIXEL_MODES

    mode, flag = resolve_alias("--pixel-mode", pixel_mode, "--normalize", normalize)
    mode = mode or "max"
    if mode not in PIXEL_MODES:
        raise InputError(f"{flag} must be one of {', '.join(PIXEL_MODES)}, got {mode!r}")
    return mode
