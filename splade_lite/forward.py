"""Forward index: document id -> its integer impact vector ``{term: weight}``.

Lucene's impact index answers "which documents hold this term"; pseudo-relevance feedback and
score explanations need the opposite, a document's whole vector, which this file gives.

One ``.npz`` file (stored, not compressed, so that its arrays can be memory-mapped) holds a
CSR matrix of documents × terms:

- ``indptr`` (int64, documents + 1): row ``i`` is ``indptr[i]:indptr[i + 1]``;
- ``term_ids`` (int32): columns, indices into the term table, sorted within each row;
- ``weights`` (int32): the impacts, as in the vectors shards;
- ``docids`` / ``terms``: the row and column names, each a packed string table
  (:mod:`splade_lite.packed`: one UTF-8 blob, uint8, plus the byte offsets of each string,
  int64, count + 1). The term table is sorted, so equal vectors give equal files;
- ``docid_order`` (format 2): the rows sorted by document id, so an id is found by binary
  search in the mapped file and no id map is built in memory (format 1 files, without it,
  get their order computed when opened).

Nothing is pickled: ``np.load(path, allow_pickle=False)`` reads every array.
"""

from __future__ import annotations

import bisect
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from splade_lite.atomic import atomic_write
from splade_lite.errors import BadValueError, UnknownIdError
from splade_lite.packed import StringTable, load_npz, pack_strings, sort_order
from splade_lite.shards import iter_checked_records
from splade_lite.vectors import EMPTY_DOC_TOKEN

FORMAT_VERSION = 2
#: Formats this module reads (1: no ``docid_order``).
READ_VERSIONS = (1, 2)
_INT32_MAX = np.iinfo(np.int32).max
# Postings are gathered in Python lists and moved into numpy arrays in blocks of this size,
# so that the lists never hold more than a few million Python ints at once.
_BLOCK = 1 << 21
# Postings sorted into place per step (a chunk of whole rows; a longer row is one chunk).
_SORT_CHUNK = 1 << 23


class DuplicateIdError(BadValueError):
    """A document id found in two folders given to :func:`build_forward_index` together."""

    def __init__(self, docid: str, folders: tuple[Path, Path]) -> None:
        where = (
            f"is in both {folders[0]} and {folders[1]}: a document may be in one of the "
            "folders indexed together only (were the same documents encoded twice?)"
            if folders[0] != folders[1]
            else "appears twice in the vectors shards"
        )
        super().__init__(f"document id {docid!r} {where}")
        self.docid, self.folders = docid, folders


def build_forward_index(
    vectors_dir: str | Path | Sequence[str | Path], out_path: str | Path
) -> int:
    """Write the forward index of a vectors folder's shards to `out_path`; return the docs.

    `vectors_dir` may be several folders, read one after the other as if their shards were
    one folder's. The placeholder term of empty documents (``EMPTY_DOC_TOKEN``) is dropped, the
    document kept with an empty vector. Every shard line is checked on the way (see
    :func:`splade_lite.shards.parse_vector_line`): a bad one, a document id repeated within a
    folder or a folder without shards raises :class:`~splade_lite.io.InputError`
    (``file:line: reason``), an id in two folders :class:`DuplicateIdError` (found in the
    sorted id table the file needs anyway, so no set of every id is kept), and `out_path` is
    left untouched.

    Postings go to temporary files beside `out_path` as they are read and are sorted into
    place a chunk of rows at a time, so memory holds the ids and the term table, not the
    postings (which grow with the corpus eight bytes at a time).
    """
    out_path = Path(out_path)
    folders = [vectors_dir] if isinstance(vectors_dir, (str, Path)) else list(vectors_dir)
    if not folders:
        raise BadValueError("no vectors folder to read")
    table: dict[str, int] = {}  # term -> id, in order of first sight (sorted at the end)
    lookup = table.__getitem__
    docids: list[str] = []
    ends: list[int] = []  # the rows read when each folder ended

    def records() -> Iterator[dict]:
        for folder in folders:
            yield from iter_checked_records(folder)
            ends.append(len(docids))

    lengths: list[int] = []
    ids_block: list[int] = []
    weights_block: list[int] = []
    with tempfile.TemporaryDirectory(prefix="forward-", dir=out_path.parent) as tmp:
        spill = Path(tmp)
        written = [0]
        with open(spill / "ids", "wb") as ids_out, open(spill / "weights", "wb") as weights_out:

            def flush() -> None:
                checked = _check_weights(weights_block, written[0], docids, lengths)
                checked.tofile(weights_out)
                np.array(ids_block, dtype=np.int32).tofile(ids_out)
                written[0] += checked.size
                ids_block.clear()
                weights_block.clear()

            for record in records():
                docids.append(record["id"])
                vector = record["vector"]
                if EMPTY_DOC_TOKEN in vector:
                    vector = {t: w for t, w in vector.items() if t != EMPTY_DOC_TOKEN}
                try:
                    row = list(map(lookup, vector))
                except KeyError:  # a term not seen before: rare once the vocabulary is covered
                    for term in vector:
                        table.setdefault(term, len(table))
                    row = list(map(lookup, vector))
                ids_block.extend(row)
                weights_block.extend(vector.values())
                lengths.append(len(row))
                if len(ids_block) >= _BLOCK:
                    flush()
            flush()

        indptr = np.zeros(len(docids) + 1, dtype=np.int64)
        np.cumsum(np.array(lengths, dtype=np.int64), out=indptr[1:])
        lengths.clear()
        docid_blob, docid_offsets = pack_strings(docids)
        docids.clear()  # the packed blob holds them from here on
        docid_order = sort_order(docid_blob, docid_offsets)
        repeated = _repeated_id(docid_blob, docid_offsets, docid_order)
        if repeated is not None:
            docid, rows = repeated
            where = [Path(folders[bisect.bisect_right(ends, row)]) for row in rows]
            raise DuplicateIdError(docid, (where[0], where[1]))

        # Renumber the terms in sorted order, then sort each row by term id (canonical CSR).
        terms = list(table)
        order = sorted(range(len(terms)), key=terms.__getitem__)
        renumber = np.empty(len(terms), dtype=np.int32)
        renumber[np.array(order, dtype=np.int64)] = np.arange(len(terms), dtype=np.int32)
        sorted_terms = [terms[i] for i in order]
        term_ids, weights = _sorted_rows(spill, written[0], indptr, renumber)
        term_blob, term_offsets = pack_strings(sorted_terms)
        with atomic_write(out_path, "wb") as handle:
            np.savez(
                handle,
                format_version=np.array(FORMAT_VERSION, dtype=np.int64),
                indptr=indptr,
                term_ids=term_ids,
                weights=weights,
                docids=docid_blob,
                docid_offsets=docid_offsets,
                docid_order=docid_order,
                terms=term_blob,
                term_offsets=term_offsets,
            )
        del term_ids, weights  # the maps close before their files go
    return len(docid_offsets) - 1


def _sorted_rows(
    spill: Path, total: int, indptr: np.ndarray, renumber: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The spilled postings renumbered and sorted by term within each row, into mapped files."""
    if total == 0:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32)
    raw_ids = np.memmap(spill / "ids", dtype=np.int32, mode="r", shape=(total,))
    raw_weights = np.memmap(spill / "weights", dtype=np.int32, mode="r", shape=(total,))
    term_ids = np.memmap(spill / "term_ids", dtype=np.int32, mode="w+", shape=(total,))
    weights = np.memmap(spill / "sorted_weights", dtype=np.int32, mode="w+", shape=(total,))
    width = max(len(renumber), 1)
    rows, row = len(indptr) - 1, 0
    while row < rows:
        end = int(np.searchsorted(indptr, indptr[row] + _SORT_CHUNK, side="right")) - 1
        end = min(max(end, row + 1), rows)
        lo, hi = int(indptr[row]), int(indptr[end])
        ids = renumber[raw_ids[lo:hi]]
        local = np.repeat(np.arange(end - row, dtype=np.int64), np.diff(indptr[row : end + 1]))
        perm = np.argsort(local * width + ids, kind="stable")
        term_ids[lo:hi] = ids[perm]
        weights[lo:hi] = raw_weights[lo:hi][perm]
        row = end
    del raw_ids, raw_weights
    return term_ids, weights


def _check_weights(weights: list, first: int, docids: list[str], lengths: list[int]) -> np.ndarray:
    """A block of weights as int32, or ``ValueError`` naming the first document at fault.

    `first` is the number of postings before the block, to find the document of a bad one.
    """
    arr = np.array(weights)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int32)
    if arr.dtype.kind in "iu":
        bad_mask = (arr < 1) | (arr > _INT32_MAX)
        if not bad_mask.any():
            return arr.astype(np.int32)
        bad = int(np.argmax(bad_mask))
    else:  # a float, a bool, a string or an integer too large for int64 somewhere
        bad = next(i for i, w in enumerate(weights) if type(w) is not int or w < 1)
    doc = int(np.searchsorted(np.cumsum(lengths), first + bad, side="right"))
    raise BadValueError(
        f"document {docids[doc]!r}: impact {weights[bad]!r} is not an integer in 1..{_INT32_MAX}"
    )


def _repeated_id(
    blob: np.ndarray, offsets: np.ndarray, order: np.ndarray
) -> tuple[str, tuple[int, int]] | None:
    """An id held by two rows, and those rows (the first such pair in sorted order); None
    when every id is unique. Equal ids are neighbours in `order`, so only neighbours of equal
    length and equal last byte (compared as arrays) are compared in full."""
    if len(order) < 2:
        return None
    starts = offsets[:-1][order]
    lengths = np.diff(offsets)[order]  # each with its separator
    last = blob[starts + np.maximum(lengths - 2, 0)]
    alike = (lengths[1:] == lengths[:-1]) & (last[1:] == last[:-1])
    raw = blob.tobytes()
    for i in np.flatnonzero(alike).tolist():
        a, b, size = int(starts[i]), int(starts[i + 1]), int(lengths[i])
        if raw[a : a + size] == raw[b : b + size]:
            rows = sorted((int(order[i]), int(order[i + 1])))
            return raw[a : a + size - 1].decode("utf-8", "surrogatepass"), (rows[0], rows[1])
    return None


class ForwardIndex:
    """Read side of a forward index file: ``docid -> {term: weight}``.

    Open with :meth:`load`. Vectors come back with their terms in sorted order. Document ids
    stay in the mapped file (:class:`~splade_lite.packed.StringTable`): opening costs the
    term table, not the number of documents.
    """

    def __init__(
        self,
        indptr: np.ndarray,
        term_ids: np.ndarray,
        weights: np.ndarray,
        docids: StringTable,
        terms: list[str],
        path: Path | None = None,
    ) -> None:
        if len(indptr) != len(docids) + 1 or len(term_ids) != len(weights):
            raise BadValueError("inconsistent forward index arrays")
        self.indptr, self.term_ids, self.weights = indptr, term_ids, weights
        self.terms = terms
        self.path = path
        self._docids = docids

    @classmethod
    def load(cls, path: str | Path, *, mmap_arrays: bool = True) -> ForwardIndex:
        """Open a forward index file; its large arrays are memory-mapped when it is possible.

        A file whose arrays are compressed (not written by :func:`build_forward_index`) is
        read into memory instead.
        """
        path = Path(path)
        try:
            if mmap_arrays:
                arrays = load_npz(path)
            else:
                with np.load(path, allow_pickle=False) as npz:
                    arrays = {name: npz[name] for name in npz.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as err:
            raise BadValueError(
                f"{path}: not a readable forward index ({err or type(err).__name__}); the file "
                "is damaged: rebuild the index"
            ) from None
        missing = {"format_version", "indptr", "term_ids", "weights", "docids", "terms"} - set(
            arrays
        )
        if missing:
            raise BadValueError(f"{path} is not a forward index (no {', '.join(sorted(missing))})")
        version = int(arrays["format_version"])
        if version not in READ_VERSIONS:
            raise BadValueError(
                f"{path}: forward index format {version}, this splade-lite reads "
                f"{', '.join(map(str, READ_VERSIONS))}; rebuild it"
            )
        try:
            blob, offsets = arrays["docids"], arrays["docid_offsets"]
            order = arrays["docid_order"] if version >= 2 else sort_order(blob, offsets)
            docids = StringTable(blob, offsets, order)
            terms = list(StringTable(arrays["terms"], arrays["term_offsets"]))
            problem = _shape_problem(arrays, len(docids), len(terms)) or _order_problem(order)
        except (KeyError, ValueError, TypeError, IndexError, UnicodeDecodeError) as err:
            problem = f"its arrays are inconsistent ({err or type(err).__name__})"
        if problem:
            raise BadValueError(f"{path}: {problem}; the file is damaged: rebuild the index")
        return cls(arrays["indptr"], arrays["term_ids"], arrays["weights"], docids, terms, path)

    def __len__(self) -> int:
        return len(self._docids)

    def __contains__(self, docid: object) -> bool:
        return docid in self._docids

    def __iter__(self) -> Iterator[str]:
        return iter(self._docids)

    def __repr__(self) -> str:
        return (
            f"ForwardIndex({str(self.path)!r}, {len(self)} documents, "
            f"{len(self.terms)} terms, {len(self.weights)} postings)"
        )

    @property
    def docids(self) -> StringTable:
        """Document ids in index (shard) order (a sequence read from the file on demand)."""
        return self._docids

    @property
    def num_postings(self) -> int:
        return int(len(self.weights))

    def row_of(self, docid: str) -> int:
        """The row number of `docid`; ``KeyError`` saying so when it is not indexed."""
        row = self._docids.find(docid) if isinstance(docid, str) else None
        if row is None:
            where = f" {self.path}" if self.path else ""
            raise UnknownIdError(
                f"document {docid!r} is not in the forward index{where} ({len(self)} documents)"
            )
        return row

    def row(self, docid: str) -> tuple[np.ndarray, np.ndarray]:
        """``(term ids, weights)`` of one document as array views, for vectorised callers."""
        i = self.row_of(docid)
        start, end = int(self.indptr[i]), int(self.indptr[i + 1])
        return self.term_ids[start:end], self.weights[start:end]

    def vector(self, docid: str) -> dict[str, int]:
        """The document's impacts ``{term: weight}`` (``{}`` for an empty document)."""
        ids, weights = self.row(docid)
        terms = self.terms
        return {terms[t]: w for t, w in zip(ids.tolist(), weights.tolist())}

    def vectors(self, docids: Iterable[str]) -> list[dict[str, int]]:
        """`vector` of each id, in the order given."""
        return [self.vector(docid) for docid in docids]


def _order_problem(order: np.ndarray) -> str | None:
    """What is wrong with the sorted rows of the ids (None: a permutation of the rows)."""
    if len(order) and (order.min() < 0 or order.max() >= len(order)):
        return "its id order points outside the documents"
    return None


def _shape_problem(arrays: dict[str, np.ndarray], num_docs: int, num_terms: int) -> str | None:
    """What makes the arrays of a forward index unusable (None when they are consistent):
    every row must lie inside the postings, and every term id inside the vocabulary."""
    indptr, term_ids, weights = arrays["indptr"], arrays["term_ids"], arrays["weights"]
    if indptr.ndim != 1 or len(indptr) != num_docs + 1:
        return f"{num_docs} document ids but {len(indptr)} row offsets"
    if term_ids.shape != weights.shape or term_ids.ndim != 1:
        return "term ids and weights differ in shape"
    if indptr[0] != 0 or indptr[-1] != len(term_ids) or np.any(np.diff(indptr) < 0):
        return "its row offsets do not cover the postings in order"
    if len(term_ids) and (term_ids.min() < 0 or term_ids.max() >= num_terms):
        return "a term id lies outside its vocabulary"
    return None
