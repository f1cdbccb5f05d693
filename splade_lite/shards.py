"""Vector shards: the ``part-NNNNN.jsonl[.gz]`` files of a vectors folder, read, written and
checked (their names and records are :mod:`splade_lite.vectors_folder`'s).

Each line is one Anserini JsonVectorCollection document,
``{"id": str, "contents": str, "vector": {token: int}}``. Anserini indexes what it is given
without complaint even where Lucene then loses data: a token with a space becomes two terms, an
empty token none, a float weight is truncated (0.4 becomes nothing), a zero or negative weight
is dropped, and a document left with no term disappears. So every shard is checked here, line by
line, before Java sees it, and a problem is reported as ``file:line: reason``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splade_lite.atomic import atomic_write
from splade_lite.errors import BadValueError
from splade_lite.indexer.limits import record_problem
from splade_lite.io import InputError, check_id, json_type
from splade_lite.vectors import EMPTY_DOC_TOKEN

# the shard names are the vectors folder's (here too for the callers that found them here)
from splade_lite.vectors_folder import SHARD_GLOBS as SHARD_GLOBS
from splade_lite.vectors_folder import SHARD_PATTERN as SHARD_PATTERN
from splade_lite.vectors_folder import open_as_anserini, shard_name
from splade_lite.vectors_folder import shard_files as shard_files

#: Lucene stores an impact as a Java int.
MAX_WEIGHT = 2**31 - 1

_BAD_TOKEN = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def _open_text(path: Path):
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", newline="\n")
    return open(path, encoding="utf-8", newline="\n")


def read_vector_shards(vectors_dir: str | Path) -> Iterator[dict]:
    """Every record of a vectors folder's shards, in order, parsed but not checked."""
    for shard in shard_files(vectors_dir):
        with _open_text(shard) as handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line)


def file_sha256(path: Path) -> str:
    """sha256 of a shard's content (of the uncompressed text for a ``.gz`` shard)."""
    digest = hashlib.sha256()
    with open_as_anserini(path) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Checking


def _refuse_constant(name: str) -> Any:
    # json.loads reads NaN and Infinity as floats unless told otherwise
    raise BadValueError(f"weight {name} is not a finite number")


_FIELDS = frozenset({"id", "contents", "vector"})


def parse_vector_line(line: str) -> dict:
    """Parse and check one shard line; raises ``ValueError`` with the reason.

    Returns the record with its id as a string (a JSON integer id is accepted, as in corpora).
    """
    try:
        record = json.loads(line, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:
        raise BadValueError(f"malformed JSON: {err.msg} (column {err.colno})") from None
    except RecursionError:
        raise BadValueError("malformed JSON: nested too deeply") from None
    if not isinstance(record, dict):
        raise BadValueError(f"expected a JSON object, got {json_type(record)}")
    for key, value in record.items():  # Anserini's JSON reader refuses deep nesting
        if key not in _FIELDS and isinstance(value, (dict, list)):
            raise BadValueError(
                f"field {key!r} holds {json_type(value)}: a shard line holds "
                "only 'id', 'contents', 'vector' and plain values"
            )
    if "id" not in record:
        raise BadValueError("missing 'id'")
    record["id"] = check_id(record["id"], "id")
    contents = record.get("contents", "")
    if not isinstance(contents, str):
        raise BadValueError(f"'contents' must be a string, got {json_type(contents)}")
    if "vector" not in record:
        raise BadValueError("missing 'vector'")
    vector = record["vector"]
    if not isinstance(vector, dict):
        raise BadValueError(f"'vector' must be an object token -> weight, got {json_type(vector)}")
    if not vector:
        raise BadValueError(
            f"empty 'vector': Lucene would drop the document; give it {{{EMPTY_DOC_TOKEN!r}: 1}} "
            "to keep it in the index"
        )
    _check_tokens(vector)
    _check_weights(vector)
    problem = record_problem(record)  # what Lucene/Anserini cannot hold (indexer/limits.py)
    if problem:
        raise BadValueError(problem)
    return record


def _check_tokens(vector: dict[str, Any]) -> None:
    if "" in vector:
        raise BadValueError("empty token in 'vector' (Lucene would drop it)")
    if _BAD_TOKEN.search("".join(vector)):  # one scan of all tokens; find the culprit after
        token = next(t for t in vector if _BAD_TOKEN.search(t))
        raise BadValueError(
            f"token {token!r} contains whitespace or a control character (Lucene's "
            "pretokenized analyzer would split it into other terms)"
        )


def _check_weights(vector: dict[str, Any]) -> None:
    values = vector.values()
    if set(map(type, values)) == {int} and min(values) >= 1 and max(values) <= MAX_WEIGHT:
        return  # the usual case, checked at C speed
    for token, weight in vector.items():
        if isinstance(weight, float) and not math.isfinite(weight):
            raise BadValueError(f"weight {weight!r} of token {token!r} is not a finite number")
        if type(weight) is not int:  # a float, a bool, a string, null...
            raise BadValueError(
                f"weight {weight!r} of token {token!r} is not an integer (impacts are "
                "round(weight × scale))"
            )
        if weight < 1:
            raise BadValueError(
                f"weight {weight} of token {token!r} is not positive (Lucene drops zero and "
                "negative impacts)"
            )
        if weight > MAX_WEIGHT:
            raise BadValueError(f"weight {weight} of token {token!r} is above {MAX_WEIGHT}")


@dataclass
class ShardSummary:
    """What the shards of a vectors folder hold."""

    num_docs: int = 0
    num_empty: int = 0
    num_postings: int = 0
    num_shards: int = 0


def iter_checked_records(vectors_dir: str | Path) -> Iterator[dict]:
    """Every record of the shards, checked (see :func:`parse_vector_line`), in order.

    Raises :class:`~splade_lite.io.InputError` (``file:line: reason``) at the first bad line,
    for a document id seen before, and for a folder without shards.
    """
    shards = shard_files(vectors_dir)
    if not shards:
        raise InputError(vectors_dir, None, f"no vector shards ({' or '.join(SHARD_GLOBS)})")
    seen: set[str] = set()
    for shard in shards:
        lineno = 0
        try:
            with open_as_anserini(shard) as handle:
                for lineno, raw in enumerate(handle, start=1):
                    if not raw.strip():
                        continue
                    try:
                        record = parse_vector_line(_decode(raw))
                        if record["id"] in seen:
                            raise BadValueError(f"duplicate id {record['id']!r}")
                    except ValueError as err:
                        raise InputError(shard, lineno, str(err)) from None
                    seen.add(record["id"])
                    yield record
        except (OSError, EOFError) as err:  # a truncated or corrupt gzip stream
            raise InputError(shard, lineno + 1, f"cannot read the file: {err}") from None


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadValueError(f"invalid UTF-8 at byte {err.start + 1} of the line") from None


def check_vector_shards(vectors_dir: str | Path) -> ShardSummary:
    """Check every line of every shard; return the counts (raises ``InputError``)."""
    summary = ShardSummary(num_shards=len(shard_files(vectors_dir)))
    for record in iter_checked_records(vectors_dir):
        summary.num_docs += 1
        summary.num_postings += len(record["vector"])
        if EMPTY_DOC_TOKEN in record["vector"]:
            summary.num_empty += 1
    return summary


# --------------------------------------------------------------------------------------------
# Writing


class ShardWriter:
    """Writes lines into ``part-NNNNN.jsonl[.gz]`` files of at most `shard_size` lines each.

    Each shard is written atomically: it appears under its name only once complete. When a
    write fails (a full disk), the open shard's temporary file is removed at once, not when
    the ``with`` block ends, and the error names the shard (see :func:`atomic_write`).
    """

    def __init__(self, folder: Path, shard_size: int, suffix: str = "") -> None:
        self.folder, self.shard_size, self.suffix = folder, shard_size, suffix
        self.names: list[str] = []
        self._stack = ExitStack()
        self._handle = None
        self._lines = 0

    def write(self, line: str) -> None:
        try:
            if self._handle is None or self._lines == self.shard_size:
                self._handle = None
                self._stack.close()  # commits the previous shard
                name = shard_name(len(self.names), self.suffix)
                self._handle = self._stack.enter_context(atomic_write(self.folder / name))
                self.names.append(name)
                self._lines = 0
            self._handle.write(line)
        except BaseException as err:
            self._handle = None
            # hands the error to the open shard's atomic_write, which drops its temporary
            # file and raises the error again, naming the shard when the write failed
            self._stack.__exit__(type(err), err, err.__traceback__)
            raise
        self._lines += 1

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        # on an error the open shard's temporary file is removed, never renamed into place
        self._stack.__exit__(*exc_info)
