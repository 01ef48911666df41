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
from typing import NamedTuple

import typer

from hfc_detect.utils.errors import InputError

#: The architecture everywhere when neither -a nor the checkpoint names one: the paper's model.
DEFAULT_ARCH = "released_resnet"
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
    help="Architecture (released_resnet, resnet18, resnet20/32/44/56, lenet, alexnet, vgg11, "
    f"vgg16). [default: the one a checkpoint of hfc-classify train records, else {DEFAULT_ARCH}]",
    show_default=False,
)
RADII = typer.Option(
    ..., "--radius", "-r", metavar="X", help="Split radius; repeat or comma-separate."
)
PIXEL_MODE = typer.Option(
    None,
    "--pixel-mode",
    help="How LFC/HFC become model inputs: max (divided by their own maximum, the released "
    "code), clip (clipped to the pixel range) or raw. [default: max]",
    show_default=False,
)
NORMALIZE = typer.Option(None, "--normalize", hidden=True, help="Old name of --pixel-mode.")
LIMIT = typer.Option(None, "--limit", help="First N images only.", show_default=False)
DEVICE = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1, ...")


class ConfigOption(NamedTuple):
    """A command-line option that sets one field of a config dataclass: its type and default
    are the field's (:func:`config_parameters`). ``names``: the option's names, e.g.
    ``--batch-norm/--no-batch-norm``; ``required``: no default (the field's is a placeholder)."""

    field: str
    names: str
    help: str
    required: bool = False


def config_parameters(config: type, options: Sequence[ConfigOption]) -> list[inspect.Parameter]:
    """Typer parameters, one per option, named after their fields. A tuple field (radii) is
    taken as repeated and/or comma-separated text (``--track-radius 4,8 --track-radius 12``),
    its default written that way; the command parses it (``parse_number_list``)."""
    hints = typing.get_type_hints(config)
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    params = []
    for option in options:
        kind, default = hints[option.field], defaults[option.field]
        if typing.get_origin(kind) is tuple:
            kind, default = list[str], [",".join(f"{v:g}" for v in default)]
        info = typer.Option(... if option.required else default, option.names, help=option.help)
        params.append(
            inspect.Parameter(
                option.field, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=kind
            )
        )
    return params


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

    if pixel_mode and normalize and pixel_mode != normalize:
        raise InputError(
            f"--pixel-mode {pixel_mode} and --normalize {normalize} disagree (--normalize is the "
            "old name of --pixel-mode: give one)"
        )
    mode = pixel_mode or normalize or "max"
    flag = "--pixel-mode" if pixel_mode or not normalize else "--normalize"
    if mode not in PIXEL_MODES:
        raise InputError(f"{flag} must be one of {', '.join(PIXEL_MODES)}, got {mode!r}")
    return mode
