"""Writing a file so that readers see its old content or the whole new one, never a part.

Every file splade-lite writes (shards, metadata, run files, the forward index) goes through
:func:`atomic_write`: a temporary file beside the target, fsynced, renamed over it.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

from splade_lite.errors import BadValueError

PathLike = str | os.PathLike[str]


@contextlib.contextmanager
def atomic_write(
    path: PathLike, mode: Literal["w", "wt", "wb"] = "w", *, compresslevel: int = 6
) -> Iterator[IO[Any]]:
    """Write a file so that readers only ever see the old content or the complete new one.

    Writes to a temporary file in the same folder, fsyncs it and renames it over ``path``; on
    an exception the temporary file is removed and ``path`` is untouched. Text mode is UTF-8
    with ``\\n`` line ends. A name ending in ``.gz`` is gzip-compressed (with a zero timestamp,
    so that equal content gives equal bytes). The folder must exist. Do not close the yielded
    file yourself.

    The temporary file goes even when writing, flushing, syncing or closing it fails (a full
    disk fails all of them), and such a failure is raised as an ``OSError`` that names `path`
    and the cause (``cannot write vectors/part-00000.jsonl: No space left on device``), since
    the operating system's own message names no file.
    """
    if mode not in ("w", "wt", "wb"):
        raise BadValueError(f"mode must be 'w', 'wt' or 'wb', not {mode!r}")
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        # "x": created here or failing, with the permissions the umask gives a plain open()
        disk = _TempFile(_open_temp(tmp))
    except OSError as err:
        raise _cannot_write(target, err) from err
    raw = io.BufferedWriter(disk, buffer_size=1 << 16)
    gz: gzip.GzipFile | None = None
    in_block, done = True, False
    try:
        stream: IO[bytes] = raw
        if target.name.lower().endswith(".gz"):
            gz = gzip.GzipFile(
                filename=target.name[:-3],
                mode="wb",
                fileobj=raw,
                compresslevel=compresslevel,
                mtime=0,
            )
            stream = gz
        if mode == "wb":
            yield stream
            in_block = False
        else:
            text = io.TextIOWrapper(stream, encoding="utf-8", newline="\n")
            yield text
            in_block = False
            # Detaching flushes without closing what lies below, which must stay open.
            text.detach()
        if gz is not None:
            gz.close()  # writes the gzip trailer; leaves raw open
        raw.flush()
        os.fsync(disk.fileno())
        raw.close()
        os.replace(tmp, target)
        done = True
    except BaseException as err:
        # Close every layer, each failure ignored (a full disk makes each flush fail again):
        # a layer left open would try to write from its finaliser later. A text layer over a
        # closed one counts as closed, so it needs nothing.
        for layer in (gz, raw, disk):
            with contextlib.suppress(Exception):
                if layer is not None:
                    layer.close()
        # an error of the caller's own block is not ours to rename, unless our file failed
        ours = not in_block or disk.failure is not None
        if ours and isinstance(err, OSError) and not hasattr(err, "unwritten"):
            raise _cannot_write(target, err) from err
        raise
    finally:
        if not done:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    fsync_folder(target.parent)


def fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; not possible on every platform, hence best effort."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _open_temp(path: Path) -> IO[bytes]:
    """The temporary file of :func:`atomic_write`, newly created (never an existing one)."""
    return io.FileIO(path, "xb")


class _TempFile(io.RawIOBase):
    """The lowest layer of :func:`atomic_write`'s file: passes writes on and keeps the first
    one that failed, so that an error raised inside the caller's block can be told apart: a
    failed write of this file, or the caller's own (reading a corrupt input, say)."""

    def __init__(self, file: IO[bytes]) -> None:
        super().__init__()
        self.file = file
        self.failure: OSError | None = None

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.file.fileno()

    def write(self, data: Any) -> int:
        try:
            return self.file.write(data)  # type: ignore[return-value]
        except OSError as err:
            self.failure = self.failure or err
            raise

    def close(self) -> None:
        if not self.closed:
            try:
                self.file.close()
            finally:
                super().close()


def _cannot_write(target: Path, err: OSError) -> OSError:
    """`err` as raised by writing `target`, with a message that names the file."""
    cause = err.strerror or str(err) or type(err).__name__
    # the same class (PermissionError stays one), unless a library's own subclass
    kind = type(err) if type(err).__module__ == "builtins" else OSError
    new = kind(f"cannot write {target}: {cause}")
    new.errno = err.errno  # not passed to the constructor, which would add "[Errno N]"
    new.unwritten = str(target)  # type: ignore[attr-defined]
    return new


def sha256_file(path: PathLike) -> str:
    """The sha256 of a file's bytes, read in blocks (model weights run to gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
