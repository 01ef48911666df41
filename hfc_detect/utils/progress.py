"""A progress bar on stderr for long analyses (shown only on a terminal, and under torchrun
only by rank 0)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def progress_columns(description: str, *extra: Any) -> tuple:
    """The columns of every bar of both CLIs: the description, the bar, done/total, ``extra``
    columns (e.g. a rate), elapsed time and ETA."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return (TextColumn(f"[bold]{description}[/bold]"), BarColumn(), MofNCompleteColumn(), *extra,
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())  # fmt: skip


@contextmanager
def progress_bar(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A rich bar of ``total`` steps with ETA; yields ``advance(k)``."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    with Progress(
        *progress_columns(description),
        console=console,
        transient=True,
        disable=not console.is_terminal or os.environ.get("RANK", "0") != "0",  # torchrun: rank 0
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda k: bar.advance(task, k)
