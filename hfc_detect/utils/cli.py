"""What both command lines (``hfc-detect``, ``hfc-classify``) share: one-line errors with exit
code 2, plain help, ``--version`` from package metadata, option lists."""

from __future__ import annotations

import functools
import os
import re
import signal
import sys
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import typer
from typer.core import TyperGroup

from hfc_detect.utils.errors import InputError

# Help placeholders by type: plain words instead of typer's ``<list[float]>`` or ``<bool>``.
_METAVARS = {"int": "N", "int range": "N", "float": "X", "float range": "X", "str": "TEXT"}


def tidy_help(command: Any, ctx: Any) -> Any:
    """Make ``command``'s help say what it means, once.

    - Plain placeholders: none for a flag (``--resume`` reads as a switch, not
      ``--resume <bool>``), ``N``/``X`` for numbers, ``PATH``, ``TEXT``; options with their own
      metavar keep it; arguments show no type. Typer (0.2x) vendors its own click and draws
      ``<type>`` labels; older typer draws click's words and is left alone.
    - Square brackets in help texts (``[default: ...]``, ``[0, 1]``) are escaped: rich markup
      would otherwise take them for style tags and drop them silently.
    - Words longer than the help column (a model-zoo path, a default folder name) are folded
      onto the next line instead of cut with "…" (:func:`_fold_long_words`).
    """
    from rich.markup import escape

    if getattr(command, "_help_tidied", False):
        return command
    render = command.format_help

    def format_help(ctx: Any, formatter: Any) -> Any:
        _fold_long_words()  # only when help is drawn: typer's help module costs ~0.1 s to load
        return render(ctx, formatter)

    command.format_help = format_help
    command._help_tidied = True
    command.help = escape(command.help) if command.help else command.help
    for param in [*command.params, command.get_help_option(ctx)]:
        if getattr(param, "help", None):
            param.help = escape(param.help)
        kind = getattr(param, "param_type_name", "")
        if kind == "argument" and hasattr(param, "display_type"):  # its name is its placeholder
            param.display_type_rich = lambda ctx: None
        if kind != "option" or param.metavar is not None:
            continue
        if param.is_flag:
            param.metavar = ""
        elif hasattr(param, "display_type"):
            label = param.display_type(ctx).strip("<>")
            label = re.sub(r"^list\[(.*)\]$", r"\1", label)
            param.metavar = _METAVARS.get(label, label.upper())
    return command


def _fold_long_words() -> None:
    """Make typer's rich help fold an option's words that are wider than their column.

    Typer (0.12 to 0.2x) draws each option's help as texts in a table column whose overflow is
    "ellipsis", so at 80 columns (also the width of piped output) a long word loses its end.
    Its ``_get_parameter_help`` is wrapped once to mark those texts "fold"; a typer without it
    keeps its own behaviour.
    """
    from typer import rich_utils

    build = getattr(rich_utils, "_get_parameter_help", None)
    if build is None or getattr(build, "_folds", False):
        return

    def folding(*args: Any, **kwargs: Any) -> Any:
        columns = build(*args, **kwargs)
        for item in getattr(columns, "renderables", ()):
            if hasattr(item, "overflow"):
                item.overflow = "fold"
        return columns

    folding._folds = True  # type: ignore[attr-defined]
    rich_utils._get_parameter_help = folding


class FriendlyErrorGroup(TyperGroup):
    """Turn :class:`InputError` raised by any command, and click's usage errors (a missing
    option, a bad value), into ``error: ...`` on one line of stderr and exit 2;
    plain help placeholders (:func:`tidy_help`) for the group and every command."""

    program = ""  # set by make_app
    shares_work: frozenset[str] = frozenset()

    def get_command(self, ctx, cmd_name):  # type: ignore[override]
        command = super().get_command(ctx, cmd_name)
        if command is None:
            return None
        once_per_job(command, f"{self.program} {cmd_name}", cmd_name in self.shares_work)
        return tidy_help(command, ctx)

    def format_help(self, ctx, formatter):  # type: ignore[override]
        tidy_help(self, ctx)
        _fold_long_words()
        return super().format_help(ctx, formatter)

    def invoke(self, ctx):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except InputError as exc:
            typer.echo(f"error: {exc}", err=True)
            sys.stderr.flush()
            raise typer.Exit(code=2) from None
        except typer.TyperException as exc:  # click's usage errors: a missing option, a typo
            if getattr(exc, "exit_code", None) != 2 or type(exc).__name__ == "NoArgsIsHelpError":
                raise
            typer.echo(f"error: {exc.format_message()}", err=True)
            raise typer.Exit(code=2) from None


def once_per_job(command: Any, name: str, shares_work: bool) -> None:
    """Under torchrun (``WORLD_SIZE`` > 1), a command that shares its work across ranks runs
    in the process group (created here, destroyed at its end); any other runs on rank 0 alone,
    which says so on stderr, and the other ranks exit at once with code 0."""
    callback = command.callback
    if callback is None or getattr(callback, "_once_per_job", False):
        return

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return callback(*args, **kwargs)
        if not shares_work:
            if int(os.environ.get("RANK", "0")) != 0:
                return None
            typer.echo(f"note: {name} does not share its work across ranks: rank 0 of {world} "
                       "runs it alone", err=True)  # fmt: skip
            return callback(*args, **kwargs)
        from hfc_detect.utils import distributed

        created = distributed.init_from_env()
        try:
            return callback(*args, **kwargs)
        finally:
            distributed.shutdown(created)

    run._once_per_job = True  # type: ignore[attr-defined]
    command.callback = run


EXIT_INTERRUPTED = 130  # as a shell reports a command ended by Ctrl-C (128 + SIGINT)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@contextmanager
def interruptible(how_to_continue: Callable[[], str]) -> Iterator[None]:
    """Run a long command's work so that Ctrl-C (or SIGTERM, e.g. from a scheduler) ends it with
    one line on stderr, ``interrupted: <how_to_continue()>``, and exit code 130, no traceback.
    ``how_to_continue`` is called only then, so it can count what was saved."""
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    except KeyboardInterrupt:
        typer.echo(f"interrupted: {how_to_continue()}", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def start_over(output: Any) -> Callable[[], str]:
    """The line after an interruption for a command that does not resume (see interruptible)."""
    return lambda: (
        f"nothing was written to {output} (this command does not resume); run the same command "
        "again to start over"
    )


def split_option_list(values: Sequence[str]) -> list[str]:
    """Items of repeated and/or comma-separated option values (``--x a,b --x c``), stripped."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def parse_number_list(values: Sequence[str], option: str) -> list[float]:
    """Numbers from repeated and/or comma-separated option values (``--rho 0,0.1 --rho 1``)."""
    numbers = []
    for item in split_option_list(values):
        try:
            numbers.append(float(item))
        except ValueError:
            raise InputError(f"{option}: not a number: {item!r}") from None
    return numbers


def name_column(names: Sequence[str], header: str = "variant") -> int:
    """The width of a plain-text table's first column: its longest name or header, plus a
    space (a transform's name or ``jpeg_compression_s3`` is longer than ``hfc_r128``)."""
    return max(len(header), *map(len, names)) + 1


def print_failed_images(console: Any, failed: Sequence[str]) -> None:
    """Say, last and in bold red, that the run is partial: each failed image on one line."""
    from rich.markup import escape

    if not failed:
        return
    console.print(
        f"[bold red]{len(failed)} image(s) failed in this run and are in none of its numbers:[/]",
        highlight=False,
    )
    for line in failed:
        console.print(f"[red]  {escape(line)}[/]", highlight=False, soft_wrap=True)


DISTRIBUTION = "hfc-toolkit"  # the distribution (pyproject name) that ships both packages


def package_version(package: str) -> str:
    """The version of the installed distribution that ships the import package ``package``
    (package metadata: :data:`DISTRIBUTION`, when its ``top_level.txt`` or file list holds
    ``package``),
    else the package's own ``__version__`` (e.g. a source tree on ``sys.path``)."""
    from importlib import import_module, metadata

    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        dist = None
    if dist is not None and (
        package in (dist.read_text("top_level.txt") or "").split()
        or any(f.parts[0] == package for f in dist.files or [])
    ):
        return dist.version
    return str(getattr(import_module(package), "__version__", "unknown"))


class Command(NamedTuple):
    """A command of a CLI: its name, the plain function (its docstring is the long help) and
    the one line that the command list shows."""

    name: str
    function: Callable[..., Any]
    short_help: str


def make_app(
    help_text: str, package: str, commands: Sequence[Command], shares_work: Collection[str] = ()
) -> typer.Typer:
    """A Typer app with rich help, ``--version`` (the version of the distribution that ships
    ``package``), the toolkit's error handling, and ``commands`` registered in their order.
    Under torchrun the commands named in ``shares_work`` share their work across ranks; the
    others run once (:func:`once_per_job`).
    """
    group = type("Group", (FriendlyErrorGroup,), {
        "program": package.replace("_", "-"), "shares_work": frozenset(shares_work)
    })  # fmt: skip

    def _show_version(value: bool) -> None:
        if value:
            typer.echo(package_version(package))
            raise typer.Exit()

    app = typer.Typer(
        cls=group,
        help=help_text,
        rich_markup_mode="rich",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_show_locals=False,
    )

    @app.callback()
    def _root(
        version: bool = typer.Option(
            False, "--version", callback=_show_version, is_eager=True, help="Print the version."
        ),
    ) -> None:
        pass

    for command in commands:
        app.command(command.name, short_help=command.short_help)(command.function)
    return app
