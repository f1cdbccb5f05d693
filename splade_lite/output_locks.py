"""Locks that keep two splade-lite writers off one output: a folder's own lock, and a lock
file beside a folder that a staged build will rename (:mod:`splade_lite.outputs`).

Advisory ``flock`` locks where the OS has them; where it has none (Windows) or a file system
refuses them (some network mounts), commands go on without, one writer at a time then being
up to the user.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from splade_lite.errors import BadValueError

LOCK_SUFFIX = ".splade-lite-lock"


class OutputError(BadValueError):
    """An output path no command may write (an input, the current folder, a mount point)."""


def flock_file(path: Path, flags: int) -> int | None:
    """An fd of `path` that holds an exclusive lock on it; None where the OS has none."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; one writer at a time is up to the user
        return None
    fd = os.open(path, flags, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise FileExistsError(
            f"another splade-lite process is writing into {path}; wait for it to finish"
        ) from None
    except OSError:  # a file system without locks (some network mounts): go on without
        pass
    return fd


@contextlib.contextmanager
def lock_folder(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (where the OS offers one) for one writer at a time."""
    fd = flock_file(Path(folder), os.O_RDONLY)
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)  # releases the lock


def lock_beside(target: Path, out: Path) -> int | None:
    """Lock ``.<name>.splade-lite-lock`` beside `target` (made if missing).

    The file is removed on release; a process that opened it just before then holds a lock
    on a file no longer there, sees it, and tries again on the new one.
    """
    path = target.with_name(f".{target.name}{LOCK_SUFFIX}")
    while True:
        try:
            fd = flock_file(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0))
        except FileExistsError:
            raise FileExistsError(
                f"another splade-lite process is writing {out}; wait for it to finish"
            ) from None
        except OSError as err:
            why = err.strerror or err
            raise OutputError(f"cannot write in {target.parent} (beside {out}): {why}") from None
        if fd is None:
            return None
        held = os.fstat(fd)
        with contextlib.suppress(FileNotFoundError):
            now = os.stat(path, follow_symlinks=False)
            if (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
                if not held.st_size:
                    return fd
                os.close(fd)
                raise OutputError(f"{path} is not a lock file of splade-lite; nothing was touched")
        os.close(fd)  # removed or replaced meanwhile: lock the one there now


def unlock_beside(target: Path, fd: int) -> None:
    """Remove and let go of the lock file :func:`lock_beside` took (if it is still that one)."""
    path = target.with_name(f".{target.name}{LOCK_SUFFIX}")
    with contextlib.suppress(OSError):
        held, now = os.fstat(fd), os.stat(path, follow_symlinks=False)
        if (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
            os.unlink(path)  # while still held, so that no one locks it in between
    os.close(fd)
