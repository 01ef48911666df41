"""File output: check an output path early; a file appears complete under its final name, or not
at all."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hfc_detect.utils.errors import InputError


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path.cwd()


def check_output(path: str | os.PathLike, *, folder: bool = True) -> Path:
    """``path`` as a Path if a command can write its output there, else :class:`InputError`.

    Every command calls this first, before any heavy work (loading a model, reading data), so
    that an ``--output`` that is an existing file (or, with ``folder=False``, an existing
    folder) or lies in a folder the user cannot write to fails with one line and leaves nothing
    behind. Writability is probed, not guessed from mode bits: a nameless temporary file
    (``O_TMPFILE``) is opened and closed in ``path`` or its nearest existing ancestor.
    """
    path = Path(path)
    if folder and path.exists() and not path.is_dir():
        raise InputError(f"{path}: exists and is not a folder; choose another output folder")
    if not folder and path.is_dir():
        raise InputError(f"{path}: is a folder; give a file name")
    where = _nearest_existing(path if folder else path.parent)
    if not where.is_dir():
        raise InputError(f"{path}: cannot be created, {where} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=where):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(f"{path}: cannot write output in {where} ({reason.lower()})") from None
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def default_mode(*, directory: bool = False) -> int:
    """The permissions ``open``/``mkdir`` would give a new file or folder under the umask
    (``tempfile`` makes private 0600/0700 ones, wrong for results people share)."""
    return (0o777 if directory else 0o666) & ~_umask()


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, default_mode())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: str | os.PathLike, *, replace: bool = False) -> Iterator[Path]:
    """Yield a new empty folder beside ``path``; move it onto ``path`` only if the block succeeds.

    The folder gets the umask's permissions (not ``mkdtemp``'s private 0700). With ``replace``
    an existing ``path`` is swapped out and removed only after the new folder is in place;
    without it, an existing non-empty ``path`` makes the rename fail with ``OSError``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, default_mode(directory=True))
        old = None
        if replace and path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / path.name)
        os.rename(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: str | os.PathLike, obj: Any, *, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically and return the path."""
    return write_text_atomic(path, json.dumps(obj, indent=indent) + "\n")
