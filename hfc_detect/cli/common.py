"""What every Typer app of the toolkit shares: one-line errors with exit code 2, ``--version``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer
from typer.core import TyperGroup

from hfc_detect import __version__
from hfc_detect.utils.errors import InputError


class FriendlyErrorGroup(TyperGroup):
    """Turn :class:`InputError` raised by any command into ``error: ...`` on stderr and exit 2."""

    def invoke(self, ctx):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except InputError as exc:
            typer.echo(f"error: {exc}", err=True)
            sys.stderr.flush()
            raise typer.Exit(code=2) from None


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


def print_failed_images(console, failed: Sequence[str]) -> None:
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


def _show_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


def make_app(help_text: str) -> typer.Typer:
    """A Typer app with rich help, ``--version`` and the toolkit's error handling."""
    app = typer.Typer(
        cls=FriendlyErrorGroup,
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

    return app
