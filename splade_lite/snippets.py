"""``snippets.npz``: the titles and text starts of an index's documents, found by id in place.

``docs.jsonl.gz`` (written by ``encode``) can only be scanned, so showing ten hits of a
million-document index would read the whole file. At index time its lines are packed into
this file instead (a stored ``.npz``, memory-mapped by :mod:`splade_lite.packed`):

- ``blocks`` (uint8) with ``block_offsets`` (int64, blocks + 1): the ``docs.jsonl.gz`` lines
  in their order, :data:`BLOCK` lines per zlib-compressed block;
- ``docids`` / ``docid_offsets`` / ``docid_order``: the ids as a packed string table, sorted
  for binary search.

Looking up k documents reads k blocks; no id map is built in memory.
"""

from __future__ import annotations

import gzip
import json
import zipfile
import zlib
from collections.abc import Set
from pathlib import Path

import numpy as np

from splade_lite.atomic import atomic_write
from splade_lite.errors import BadValueError
from splade_lite.metadata import SNIPPETS_FILE as SNIPPETS_FILE
from splade_lite.packed import StringTable, load_npz, pack_strings, sort_order

FORMAT_VERSION = 1
#: Lines per compressed block: a lookup decompresses one block (tens of kilobytes).
BLOCK = 64


class SnippetsError(BadValueError):
    """A ``snippets.npz`` or ``docs.jsonl.gz`` that cannot be read."""


def build_snippets(docs_file: Path, out: Path) -> int:
    """Pack a ``docs.jsonl.gz`` into ``snippets.npz`` at `out` (atomically); its line count."""
    docids: list[str] = []
    blocks: list[bytes] = []
    pending: list[bytes] = []
    lineno = 0
    try:
        with gzip.open(docs_file, "rb") as handle:
            for lineno, line in enumerate(handle, 1):  # noqa: B007 - named in errors
                if not line.strip():
                    continue
                docid = json.loads(line)["id"]
                if not isinstance(docid, str):
                    raise TypeError("id is not a string")
                docids.append(docid)
                pending.append(line.rstrip(b"\n"))
                if len(pending) == BLOCK:
                    blocks.append(zlib.compress(b"\n".join(pending), 6))
                    pending.clear()
    except (OSError, EOFError, zlib.error) as err:
        raise SnippetsError(f"{docs_file}: unreadable after line {lineno} ({err})") from None
    except (ValueError, KeyError, TypeError) as err:
        raise SnippetsError(f"{docs_file}:{lineno}: not a document record ({err})") from None
    if pending:
        blocks.append(zlib.compress(b"\n".join(pending), 6))
    block_offsets = np.zeros(len(blocks) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, blocks), np.int64, len(blocks)), out=block_offsets[1:])
    blob, offsets = pack_strings(docids)
    if len(set(docids)) != len(docids):
        raise SnippetsError(f"{docs_file}: a document id appears twice")
    docids.clear()
    with atomic_write(out, "wb") as handle:
        np.savez(
            handle,
            format_version=np.array(FORMAT_VERSION, dtype=np.int64),
            block_size=np.array(BLOCK, dtype=np.int64),
            blocks=np.frombuffer(b"".join(blocks), dtype=np.uint8),
            block_offsets=block_offsets,
            docids=blob,
            docid_offsets=offsets,
            docid_order=sort_order(blob, offsets),
        )
    return len(offsets) - 1


class Snippets:
    """Read side of ``snippets.npz``: the records of the documents asked for."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            arrays = load_npz(self.path)
            version = int(arrays["format_version"])
            if version != FORMAT_VERSION:
                raise SnippetsError(
                    f"{self.path}: snippets format {version}, this splade-lite reads "
                    f"{FORMAT_VERSION}; rebuild the index"
                )
            self.block_size = int(arrays["block_size"])
            self.blocks, self.block_offsets = arrays["blocks"], arrays["block_offsets"]
            self.ids = StringTable(arrays["docids"], arrays["docid_offsets"], arrays["docid_order"])
        except SnippetsError:
            raise
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as err:
            raise SnippetsError(
                f"{self.path}: not a readable snippets file ({err or type(err).__name__}); "
                "rebuild the index"
            ) from None
        expected = -(-len(self.ids) // self.block_size) if self.block_size > 0 else -1
        if len(self.block_offsets) != expected + 1:
            raise SnippetsError(f"{self.path}: its blocks do not match its ids; rebuild the index")

    def __len__(self) -> int:
        return len(self.ids)

    def get(self, wanted: Set[str]) -> dict[str, dict]:
        """``{id: record}`` of the `wanted` ids found (text fields only; others as "")."""
        rows = {docid: row for docid in wanted if (row := self.ids.find(docid)) is not None}
        found: dict[str, dict] = {}
        cache: dict[int, list[bytes]] = {}
        for docid, row in rows.items():
            block = row // self.block_size
            if block not in cache:
                cache[block] = self._block(block)
            lines = cache[block]
            position = row % self.block_size
            try:
                record = json.loads(lines[position])
                if record["id"] != docid:
                    raise ValueError("the record is another document's")
            except (IndexError, ValueError, KeyError, TypeError) as err:
                raise SnippetsError(
                    f"{self.path}: document {docid!r}: damaged record ({err}); rebuild the index"
                ) from None
            found[docid] = {k: v if isinstance(v, str) else "" for k, v in record.items()}
        return found

    def _block(self, block: int) -> list[bytes]:
        start, end = int(self.block_offsets[block]), int(self.block_offsets[block + 1])
        try:
            return zlib.decompress(self.blocks[start:end].tobytes()).split(b"\n")
        except zlib.error as err:
            raise SnippetsError(
                f"{self.path}: block {block} is damaged ({err}); rebuild the index"
            ) from None
