"""Optional search engines for learned sparse queries, beside the Lucene impact index.

Each engine answers the same integer queries ``{term: weight}`` that
:class:`~splade_lite.retrievers.LearnedSparse` gives Lucene, from a folder of its own:

- :mod:`splade_lite.engines.seismic`: Seismic (``pip install 'splade-lite[fast]'``), exact
  or approximate, scores always exact integers.

Nothing here imports an engine's package; what follows is what engine folders share: checked
settings, file hashes, a folder built beside its target and renamed onto it, and silencing
native code that prints to the process's own stdout.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from splade_lite.atomic import fsync_folder, sha256_file
from splade_lite.errors import BadValueError, StateError


def check_number(name: str, value: Any, low: float, high: float = float("inf"), whole=False):
    """`value` when a number in [`low`, `high`] (a whole one if `whole`), else BadValueError."""
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        what = "a whole number" if whole else "a number"
        raise BadValueError(f"{name} must be {what} in [{low:g}, {high:g}], got {value!r}")
    return value


def file_entry(path: Path) -> dict[str, Any]:
    """``{"bytes", "sha256"}`` of a file, synced first (native writers rarely sync)."""
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())
    return {"bytes": path.stat().st_size, "sha256": sha256_file(path)}


def damaged(path: Path, entry: Any, verify: bool = True) -> bool:
    """Whether `path` is not the file `entry` (a :func:`file_entry`) describes."""
    entry = entry if isinstance(entry, dict) else {}
    if path.stat().st_size != entry.get("bytes"):
        return True
    return verify and sha256_file(path) != entry.get("sha256")


def read_format(folder: Path, name: str) -> dict | None:
    """The JSON object in `folder`/`name`, None when unreadable."""
    try:
        meta = json.loads((folder / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


@contextlib.contextmanager
def staged_folder(out: Path, marker: str, fmt: str, overwrite: bool) -> Iterator[Path]:
    """A new folder beside `out`, renamed onto it when the block ends without an error
    (removed otherwise). An existing `out` is replaced only when empty, or with `overwrite`
    when its `marker` file names format `fmt` (a folder of this kind)."""
    ours = (read_format(out, marker) or {}).get("format") == fmt
    if out.exists() and not (out.is_dir() and not out.is_symlink()):
        raise StateError(f"{out} exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not (overwrite and ours):
        why = "overwrite=True replaces it" if ours else f"not a folder of format {fmt}"
        raise StateError(f"{out} exists and is not empty ({why})")
    out.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}-{secrets.token_hex(4)}"
    stage, old = out.parent / f".{out.name}.building-{tag}", out.parent / f".{out.name}.old-{tag}"
    stage.mkdir()
    try:
        yield stage
        fsync_folder(stage)
        if out.exists():
            os.rename(out, old)
        try:
            os.rename(stage, out)
        except BaseException:
            if old.exists():
                os.rename(old, out)
            raise
        fsync_folder(out.parent)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def redirect_fds(fds: tuple[int, ...], target: int | None) -> Iterator[None]:
    """Point file descriptors `fds` at `target` (a descriptor; None: /dev/null) meanwhile:
    native code printing to them directly goes past ``sys.stdout``. Process-wide."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    sink = os.open(os.devnull, os.O_WRONLY) if target is None else os.dup(target)
    saved = [os.dup(fd) for fd in fds]
    try:
        for fd in fds:
            os.dup2(sink, fd)
        yield
    finally:
        for fd, kept in zip(fds, saved):
            os.dup2(kept, fd)
            os.close(kept)
        os.close(sink)
