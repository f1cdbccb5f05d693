"""The files of an index folder that searches read beside Lucene, by path.

Lucene keeps the files it opened; what is read later by path (titles, forward index, IDF,
tokenizer) must come from the same build. Which build a folder holds is told by the file
``splade_lite.json`` is (:func:`identity`): every build writes a new one.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Set
from pathlib import Path

from splade_lite import metadata as md


class IndexChangedError(RuntimeError):
    """The index folder was replaced while a searcher had it open."""


def identity(index_dir: Path) -> tuple[int, int] | None:
    """Which file ``splade_lite.json`` is (device, inode): a rebuilt index has a new one."""
    try:
        found = (Path(index_dir) / md.INDEX_META).stat()
    except OSError:
        return None
    return found.st_dev, found.st_ino


def read_documents(index_dir: Path, wanted: Set[str]) -> dict[str, dict]:
    """Title and start of text of the `wanted` documents, from ``docs.jsonl.gz`` (one scan).

    Ids not in the file are left out; an index without the file gives ``{}``. A damaged
    file is a one-line error naming it (and its line where a record is malformed).
    """
    found: dict[str, dict] = {}
    path = Path(index_dir) / md.DOCS_FILE
    if not wanted or not path.is_file():
        return found
    lineno = 0
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, 1):  # noqa: B007 - named in errors
                record = json.loads(line)
                docid = record["id"]
                if docid in wanted:
                    found[docid] = {
                        key: value if isinstance(value, str) else ""
                        for key, value in record.items()
                    }
                    if len(found) == len(wanted):
                        break
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as err:
        raise md.MetadataError(
            f"{path}: unreadable after line {lineno} ({err or type(err).__name__}); "
            "the file is damaged: rebuild the index"
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise md.MetadataError(
            f"{path}:{lineno + 1}: not a document record of splade-lite; rebuild the index"
        ) from None
    return found
