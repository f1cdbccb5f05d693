"""Java's exceptions turned into one-line Python errors, at the boundary of every Java call.

pyjnius raises ``jnius.JavaException`` for whatever Java throws, with the Java stack trace in
its message. Two kinds reach us: a request Java refuses (``IllegalArgumentException``, e.g.
a query beyond Lucene's clause limit), shown as :class:`ValueError`; and anything else while
reading an index (a checksum or decoding failure, a missing or truncated file, an
out-of-bounds read of damaged postings), shown as :class:`LuceneError` naming the folder and
saying what to do. Both are errors the CLI prints as one line (see ``cli_errors``).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from splade_lite.errors import BadValueError, MissingFileError, SpladeLiteError

T = TypeVar("T")

# Lucene names a file as (resource=Wrapper(Wrapper(path="..."))): only the path matters to us
_RESOURCE = re.compile(r'\(resource=[^"]*"([^"]+)"\)+')

#: Java exceptions that mean the request was wrong, not the index.
REQUEST_ERRORS = frozenset(
    {"java.lang.IllegalArgumentException", "java.lang.NumberFormatException"}
)


class LuceneError(SpladeLiteError, RuntimeError):
    """A Lucene index that cannot be opened or read (damaged, or written by another Lucene)."""


def remedy(path: Path | str) -> str:
    """What to do about a damaged index folder (the same words everywhere)."""
    return (
        f"run `splade-lite check {path}` to see what is damaged, and rebuild it "
        "(`splade-lite index ... --overwrite`)"
    )


def check_index_dir(index_dir: str | Path) -> Path:
    """Fail early, in Python terms, when a folder holds no Lucene index."""
    path = Path(index_dir)
    if not path.is_dir():
        raise MissingFileError(f"index folder {path} does not exist")
    if not any(path.glob("segments_*")):
        raise MissingFileError(
            f"{path} holds no Lucene index (no segments_N file); if it was an index, it is "
            f"damaged: {remedy(path)}"
        )
    return path


#: One Lucene index folder, or the shard folders of one index, in order.
LuceneFolders = str | os.PathLike | Sequence[str | os.PathLike]


def lucene_folders(index_dirs: LuceneFolders) -> list[Path]:
    """The folder(s) of a Lucene index, each checked to hold one (:func:`check_index_dir`).

    Several folders are the shards of one index, read together in the order given.
    """
    if isinstance(index_dirs, (str, os.PathLike)):
        return [check_index_dir(index_dirs)]
    folders = [check_index_dir(folder) for folder in index_dirs]
    if not folders:
        raise BadValueError("no Lucene index folder given")
    if len(set(map(os.path.realpath, folders))) != len(folders):
        raise BadValueError(f"a Lucene shard folder is given twice: {', '.join(map(str, folders))}")
    return folders


def java_folders(folders: Sequence[Path]) -> str:
    """The one string that Java's ``TopHits`` opens: the folders, one per line."""
    bad = next((str(f) for f in folders if "\n" in str(f)), None)
    if bad is not None:
        raise BadValueError(f"a Lucene index folder's name may not hold a line break: {bad!r}")
    return "\n".join(str(f) for f in folders)


def folders_name(folders: Sequence[Path]) -> Path:
    """The folder that names `folders` in messages: the one folder, or the shards' parent."""
    if len(folders) == 1:
        return folders[0]
    return Path(os.path.commonpath([str(f.resolve()) for f in folders]))


def _java_exception_type() -> type[BaseException]:
    import jnius  # the JVM runs already: every caller went through lucene.java_classes()

    return jnius.JavaException


def short_resources(message: str) -> str:
    """A Lucene message with each ``(resource=...(path="P"))`` shortened to ``(in P)``."""
    return _RESOURCE.sub(r"(in \1)", message)


def describe(err: BaseException) -> str:
    """``ClassName: first line of the message`` of a Java exception (or any exception)."""
    classname = getattr(err, "classname", None) or type(err).__name__
    message = getattr(err, "innermessage", None)
    if message is None:
        message = str(err).removeprefix("JVM exception occurred: ")
    first = short_resources((str(message).strip().splitlines() or [""])[0])
    short = classname.rsplit(".", 1)[-1]
    return f"{short}: {first}" if first and first != classname else short


def from_java(err: BaseException, path: Path | str | None, doing: str = "reading") -> Exception:
    """The Python error for a Java exception raised while `doing` something with the index in
    `path` (None: no index involved)."""
    classname = getattr(err, "classname", "")
    if classname in REQUEST_ERRORS:
        message = (getattr(err, "innermessage", None) or describe(err)).strip()
        return BadValueError(message.splitlines()[0] if message else describe(err))
    if path is None:
        return LuceneError(f"Java failed {doing} ({describe(err)})")
    return LuceneError(
        f"Lucene failed {doing} the index in {path} ({describe(err)}); it may be damaged: "
        f"{remedy(path)}"
    )


@contextmanager
def java_errors(path: Path | str | None, doing: str = "reading") -> Iterator[None]:
    """Run Java calls on the index in `path`, turning their exceptions into Python errors."""
    java_exception = _java_exception_type()
    try:
        yield
    except java_exception as err:
        raise from_java(err, path, doing) from None


def opened(path: Path, open_it: Callable[[], T]) -> T:
    """``open_it()``, a Java exception turned into a one-line :class:`LuceneError`."""
    java_exception = _java_exception_type()
    try:
        return open_it()
    except java_exception as err:
        raise LuceneError(
            f"cannot open the Lucene index in {path} ({describe(err)}); it is damaged or was "
            f"written by another Lucene version: {remedy(path)}"
        ) from None


def guarded(method: Callable[..., T]) -> Callable[..., T]:
    """A method of an object with an ``index_dir`` whose Java exceptions become Python errors."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
        with java_errors(self.index_dir, "searching"):
            return method(self, *args, **kwargs)

    return wrapper
