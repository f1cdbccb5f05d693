"""Reading the text files users give: corpora, and the line reading every such file shares.

Corpora are streamed record by record so that a corpus never has to fit in memory. Every
problem with the content of a file is reported as an :class:`InputError` whose message starts
with ``path:line:``, so that the user can open the file at the right place. Queries, qrels and
TREC runs are read (and runs written) by :mod:`splade_lite.trec` with the helpers here.

Decisions callers should know about:

* Ids (documents and queries) must be non-empty strings without whitespace or control
  characters, because the TREC run and qrels formats separate columns with whitespace: an id
  with a space in it would silently corrupt every run written for it. A JSON integer id is
  accepted and converted with ``str`` (``7`` becomes ``"7"``); other non-string ids are errors.
* In texts and titles, control characters other than tab and newline (C0, DEL and C1,
  carriage return included) are replaced by a space, and lone UTF-16 surrogates (possible
  through JSON ``\\ud800`` escapes) by U+FFFD. Nothing else in a text is changed and no
  document is dropped for its text; an empty text is kept.
* Files are read as UTF-8 (a leading BOM is ignored); gzip is recognised by its magic bytes,
  whatever the file is called.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from splade_lite.errors import BadValueError, SpladeLiteError

__all__ = ["Doc", "InputError", "read_corpus"]

PathLike = str | os.PathLike[str]

# Keys tried, in this order, on the first valid JSON record; the keys found there are then
# required on every later record of the file (a mix is almost always a bug).
_DOC_ID_KEYS = ("_id", "id", "docid", "doc_id")
_DOC_TEXT_KEYS = ("text", "contents", "content", "body")

# A first TSV line made only of these names is a header, not a document.
_TSV_ID_HEADERS = frozenset(_DOC_ID_KEYS) | {"pid", "qid", "query_id", "query-id"}
_TSV_TEXT_HEADERS = frozenset(_DOC_TEXT_KEYS) | {"passage", "query", "title"}

_JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")
_TSV_SUFFIXES = (".tsv",)
_GZIP_MAGIC = b"\x1f\x8b"

#: The longest line read as one record: a longer one is an error (or skipped), never read
#: into memory whole. Far beyond any real document (the encoder reads its first tokens only).
MAX_LINE_BYTES = 64 << 20
_TOO_LONG = b"\x00too long\x00"  # stands for a line cut at MAX_LINE_BYTES (compared by identity)
#: The longest document or query id (UTF-8 bytes). Lucene refuses terms over 32,766 bytes,
#: an id is one; run files and tools that read them do better with short ones.
MAX_ID_BYTES = 4096

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
# Anything that would split or corrupt a whitespace-separated column.
_BAD_ID_RE = re.compile(r"[\s\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class InputError(SpladeLiteError, ValueError):
    """A problem with an input file; the message names the file and, for a record, the line."""

    def __init__(self, path: PathLike, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Keeps the error picklable (worker processes send exceptions back to the parent).
        return (type(self), (self.path, self.line, self.reason))


@dataclass(frozen=True)
class Doc:
    """One document of a corpus."""

    id: str
    text: str
    title: str = ""

    @property
    def full_text(self) -> str:
        """Title and text joined by one space (what the encoder sees, as BEIR does for SPLADE)."""
        if self.title and self.text:
            return f"{self.title} {self.text}"
        return self.title or self.text

    def digest_into(self, digest: Any) -> None:
        """Add this document (id, title, text) to a hashlib digest: encode records the
        digest of its whole input, so that a BM25 corpus given to `index` can be compared."""
        record = json.dumps([self.id, self.title, self.text], ensure_ascii=False)
        digest.update(record.encode("utf-8") + b"\n")


# --------------------------------------------------------------------------------------------
# Opening files


@contextlib.contextmanager
def open_binary(path: PathLike) -> Iterator[IO[bytes]]:
    """Open for reading in binary, decompressing when the file starts with the gzip magic.

    The one place splade-lite tells a gzipped input from a plain one: by content, not by
    name, so that ``corpus.jsonl`` holding gzip is read all the same.
    """
    with open(path, "rb") as raw:
        magic = raw.read(2)
        raw.seek(0)
        if magic == _GZIP_MAGIC:
            with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                yield gz
        else:
            yield raw


def _raw_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line number, bytes)`` for every line, split on ``\\n`` only.

    Splitting the bytes (not the decoded text) means characters such as U+2028 inside a JSON
    string never split a record, and an undecodable line does not end the iteration.
    """
    lineno = 0
    with open_binary(path) as f:
        try:
            while True:
                raw = f.readline(MAX_LINE_BYTES + 1)
                if not raw:
                    return
                lineno += 1
                if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                    _skip_rest_of_line(f)
                    raw = _TOO_LONG
                yield lineno, raw
        except (OSError, EOFError, zlib.error) as e:
            # A truncated or corrupt gzip stream only shows up while reading.
            raise InputError(path, lineno + 1, f"cannot read the file: {e}") from None


def _skip_rest_of_line(f: IO[bytes]) -> None:
    while True:
        part = f.readline(1 << 20)
        if not part or part.endswith(b"\n"):
            return


def _decode(raw: bytes, lineno: int) -> str:
    """Decode one line as UTF-8 without its line end (and without a BOM on line 1).

    Returns an empty string for a blank line; raises ``ValueError`` for invalid UTF-8 and
    for a line longer than :data:`MAX_LINE_BYTES`.
    """
    if raw is _TOO_LONG:
        raise BadValueError(
            f"the line is longer than {MAX_LINE_BYTES >> 20} MiB, the most one record may take"
        )
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadValueError(
            f"invalid UTF-8 at byte {e.start + 1} of the line (is the file in another encoding?)"
        ) from None
    if lineno == 1 and line.startswith("\ufeff"):
        line = line[1:]
    line = line.rstrip("\r\n")
    return line if line.strip() else ""


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, text)`` for the non-blank lines; invalid UTF-8 raises
    :class:`InputError` naming the line."""
    for lineno, raw in _raw_lines(path):
        try:
            line = _decode(raw, lineno)
        except ValueError as e:
            raise InputError(path, lineno, str(e)) from None
        if line:
            yield lineno, line


def resolve_input(path: PathLike, folder_names: Sequence[str], what: str) -> Path:
    """Return the file to read: ``path`` itself, or the first of ``folder_names`` in a folder.

    Raises :class:`InputError` for a missing file, or a folder without any of those names.
    """
    p = Path(path)
    if p.is_dir():
        for name in folder_names:
            if (p / name).is_file():
                return p / name
        if folder_names:
            raise InputError(p, None, f"is a folder without {' or '.join(folder_names)}")
        raise InputError(p, None, f"is a folder; give the {what} file itself")
    if not p.exists():
        raise InputError(p, None, f"{what} file not found")
    return p


def detect_format(path: Path) -> Literal["json", "tsv"]:
    """JSON lines or TSV: decided by the name (``.gz`` removed), else by the first line."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith(_JSON_SUFFIXES):
        return "json"
    if name.endswith(_TSV_SUFFIXES):
        return "tsv"
    for lineno, line in text_lines(path):
        if line.lstrip().startswith("{"):
            return "json"
        if "\t" in line:
            return "tsv"
        raise InputError(
            path, lineno, "cannot tell the format: expected a JSON object or tab-separated columns"
        )
    return "json"  # empty file: nothing to read either way


# --------------------------------------------------------------------------------------------
# Field checks shared by corpora and queries


def clean_text(text: str) -> str:
    """Replace control characters (except tab and newline) by spaces, lone surrogates by U+FFFD."""
    if text.isprintable():  # a fast scan that rules out both in most texts
        return text
    text = _CONTROL_RE.sub(" ", text)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # only surrogates make a str unencodable
            text = _SURROGATE_RE.sub("\ufffd", text)
    return text


#: Characters no id may start with (see :func:`check_id`).
BYTE_ORDER_MARKS = "\ufeff\ufffe"


def check_id(value: object, key: str) -> str:
    """Return a valid id or raise ``ValueError`` with the reason (the caller adds path:line)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise BadValueError(f"{key!r} must be a string, got {json_type(value)}")
    if not value:
        raise BadValueError(f"empty {key!r}")
    if len(value) > MAX_ID_BYTES // 4 and len(value.encode("utf-8", "replace")) > MAX_ID_BYTES:
        raise BadValueError(
            f"{key!r} is longer than {MAX_ID_BYTES} bytes (UTF-8), the longest id accepted"
        )
    bad = bad_id_char(value)
    if bad is not None:
        raise BadValueError(
            f"{key!r} {value!r} contains {bad!r}; ids cannot hold whitespace or "
            "control characters (run and qrels files are whitespace-separated)"
        )
    if value[0] in BYTE_ORDER_MARKS:
        # pyjnius reads a Java string that starts with one as UTF-16 with that byte order:
        # such an id would come back from Lucene changed, or not at all
        raise BadValueError(
            f"{key!r} {value!r} starts with a byte order mark ({value[0]!r}), which the "
            "Lucene side would not give back as it is; remove it"
        )
    return value


def bad_id_char(value: str) -> str | None:
    """The first character of ``value`` that no id may hold (whitespace, a control character,
    a lone surrogate), or ``None``: such a character would split a run or qrels column."""
    bad = _BAD_ID_RE.search(value)
    return bad.group() if bad else None


def json_type(value: object) -> str:
    """How an error names the JSON type of a value (``"an array"``, ``"null"``...)."""
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), type(value).__name__)


_ONE_PER_LINE = "JSON files are read as JSON lines: one object per line"


def parse_json_object(line: str) -> dict[str, Any]:
    """Parse one JSON-lines record, or raise ``ValueError`` saying what is wrong with it."""
    try:
        record = json.loads(line)
    except RecursionError:
        raise BadValueError("malformed JSON: nested too deeply") from None
    except json.JSONDecodeError as e:
        # A pretty-printed JSON array is the usual cause of a lone "[" line.
        hint = f" ({_ONE_PER_LINE})" if line.lstrip().startswith("[") else ""
        raise BadValueError(f"malformed JSON: {e.msg} (column {e.colno}){hint}") from None
    if not isinstance(record, dict):
        raise BadValueError(f"expected a JSON object, got {json_type(record)} ({_ONE_PER_LINE})")
    return record


def _pick_key(record: dict[str, Any], keys: Sequence[str], what: str) -> str:
    for key in keys:
        if key in record:
            return key
    raise BadValueError(f"missing {what}: expected one of {', '.join(repr(k) for k in keys)}")


def _text_field(record: dict[str, Any], key: str, *, required: bool) -> str:
    if key not in record:
        if required:
            raise BadValueError(f"missing {key!r}")
        return ""
    value = record[key]
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise BadValueError(f"{key!r} must be a string, got {json_type(value)}")
    return clean_text(value)


class JsonSchema:
    """The id and text keys of a JSON-lines file, fixed by its first valid record."""

    def __init__(self, id_keys: Sequence[str], text_keys: Sequence[str]) -> None:
        self.id_keys = id_keys
        self.text_keys = text_keys
        self.id_key: str | None = None
        self.text_key: str | None = None

    def fields(self, record: dict[str, Any]) -> tuple[str, str, str]:
        """Return ``(id, text, title)`` of a record, or raise ``ValueError``."""
        id_key = self.id_key or _pick_key(record, self.id_keys, "id")
        text_key = self.text_key or _pick_key(record, self.text_keys, "text")
        if id_key not in record:
            raise BadValueError(f"missing {id_key!r}")
        doc_id = check_id(record[id_key], id_key)
        text = _text_field(record, text_key, required=True)
        title = _text_field(record, "title", required=False)
        self.id_key, self.text_key = id_key, text_key  # only once the record is valid
        return doc_id, text, title


def is_tsv_header(fields: Sequence[str]) -> bool:
    """Whether a first TSV line is a header: known column names only (``id``, ``text``...)."""
    return (
        len(fields) >= 2
        and fields[0].strip().lower() in _TSV_ID_HEADERS
        and all(f.strip().lower() in _TSV_TEXT_HEADERS for f in fields[1:])
    )


# --------------------------------------------------------------------------------------------
# Corpus


def read_corpus(
    path: PathLike,
    *,
    skip_invalid: bool = False,
    on_skip: Callable[[InputError], None] | None = None,
) -> Iterator[Doc]:
    """Stream the documents of a corpus file, in file order.

    Formats: JSON lines (``.jsonl``, ``.json``, ``.ndjson``) with BEIR ``{_id, title, text}``
    or Pyserini ``{id, contents}`` records (id key ``_id``/``id``/``docid``/``doc_id``; text
    key ``text``/``contents``/``content``/``body``; optional ``title``; other keys ignored), or
    TSV ``id<TAB>text`` with an optional third column ``title`` (fields taken literally, no
    quoting; a header line of known column names is skipped). Any of these may be gzipped. A
    folder is read through its ``corpus.jsonl`` (BEIR layout). The format is chosen by the file
    name, else by the first line; the keys or column count by the first valid record. A JSON
    ``null`` title reads as ``""``; a ``null`` or non-string text is an error.

    A bad record raises :class:`InputError` (``path:line: reason``), duplicate ids included.
    With ``skip_invalid`` it is skipped instead and passed to ``on_skip``; without ``on_skip``
    a single warning with the number skipped is issued at the end. A missing file or a file of
    unknown format raises at the call, before iteration starts.
    """
    file = resolve_input(path, ("corpus.jsonl", "corpus.jsonl.gz"), "corpus")
    fmt = detect_format(file)
    return _iter_corpus(file, fmt, skip_invalid, on_skip)


def _iter_corpus(
    path: Path,
    fmt: Literal["json", "tsv"],
    skip_invalid: bool,
    on_skip: Callable[[InputError], None] | None,
) -> Iterator[Doc]:
    seen: set[str] = set()  # a set of ids is the one thing kept for the whole corpus
    skipped = 0
    schema = JsonSchema(_DOC_ID_KEYS, _DOC_TEXT_KEYS)
    n_columns: int | None = None
    first = True
    for lineno, raw in _raw_lines(path):
        line = ""
        expected: int | None = None
        try:
            line = _decode(raw, lineno)
            if not line:
                continue
            if fmt == "json":
                doc_id, text, title = schema.fields(parse_json_object(line))
            else:
                fields = line.split("\t")
                if first and is_tsv_header(fields):
                    continue
                # the first valid record fixes the column count, as the keys for JSON
                expected = n_columns or (len(fields) if len(fields) in (2, 3) else None)
                if len(fields) != expected:
                    raise BadValueError(
                        f"expected {expected or '2 or 3'} tab-separated fields "
                        f"(id, text[, title]), found {len(fields)}"
                    )
                doc_id = check_id(fields[0], "id")
                text = clean_text(fields[1])
                title = clean_text(fields[2]) if expected == 3 else ""
            if doc_id in seen:
                raise BadValueError(f"duplicate id {doc_id!r}")
        except ValueError as e:
            err = InputError(path, lineno, str(e))
            if not skip_invalid:
                raise err from None
            skipped += 1
            if on_skip is not None:
                on_skip(err)
            continue
        finally:
            if line:
                first = False
        if fmt == "tsv":
            n_columns = expected
        seen.add(doc_id)
        yield Doc(doc_id, text, title)
    if skipped and on_skip is None:
        warnings.warn(f"{path}: skipped {skipped} invalid record(s)", stacklevel=2)
