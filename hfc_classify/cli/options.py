"""Command-line options that the classifier commands share (Typer option defaults), and options
generated from a config dataclass (:func:`config_parameters`)."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Sequence
from typing import NamedTuple

import typer

CHECKPOINT = typer.Option(..., "--checkpoint", "-c", help="Trained weights (.th/.pt).")
DATA = typer.Option(..., "--data", "-d", help="Test images: .npz, CIFAR-10 folder, mnist:ROOT, ...")
OUTPUT = typer.Option(..., "--output", "-o", metavar="DIR", help="Folder to write.")
ARCH = typer.Option("resnet20", "--arch", "-a", help="Registered architecture.")
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
