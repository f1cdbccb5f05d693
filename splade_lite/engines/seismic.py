"""Seismic (PyPI ``pyseismic-lsr``): an optional engine for integer learned sparse queries.

:func:`build_seismic` makes an engine folder from a vectors folder (or an index folder's
``forward.npz``: the documents as Lucene holds them); :meth:`SeismicIndex.retrieve` ranks
queries ``{term: integer weight}`` as :class:`~splade_lite.indexer.ImpactIndex` does: score =
Σ query weight × impact, ties by ascending docid. The folder holds ``index.seismic``
(Seismic's own bincode file, no pickle; loaded only once its sha256 matches, since Seismic
cannot tell a damaged file), ``forward.npz`` (the integer impacts, to rescore exactly) and
``engine.json`` (pyseismic version, build settings, counts, file hashes).

Seismic stores impacts as float16 and scores in float32. Every integer up to 2048 is a
float16; a term with a larger impact gets extra components, one per base-2048 digit of its
impacts, each queried with weight × 2048^j, so no impact is ever rounded. A score below 2**24
(almost all) is then exact in float32; a larger one is within a relative γ, bounded from the
query's length, and is recomputed from ``forward.npz``. Returned scores are always exact.

:meth:`SeismicSearch.exact` (the default) scans every block of every query term's posting list
(nothing was pruned at build), fetches 2k candidates and widens until the k-th exact score
provably beats any document left out: the ranking is then Lucene's, ties included. Other
settings are Seismic's approximate search: the set may differ, its scores do not. Documents
without a term are counted but not indexed (they match nothing, as in Lucene).
"""

from __future__ import annotations

import contextlib
import json
import operator
import os
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from splade_lite.atomic import atomic_write
from splade_lite.engines import check_number, damaged, file_entry, redirect_fds, staged_folder
from splade_lite.errors import BadValueError, MissingFileError, StateError

ENGINE, FORMAT, FORMAT_VERSION = "seismic", "splade-lite/seismic", 1
ENGINE_FILE, INDEX_FILE, FORWARD_FILE = "engine.json", "index.seismic", "forward.npz"
PACKAGE = "pyseismic-lsr"  # written for 0.5.4
INSTALL_HINT = "pip install 'splade-lite[fast]'"
#: Impacts above ``DIGIT`` are split into base-``DIGIT`` digits (float16 holds 0..2048 exactly).
DIGIT_BITS = 11
DIGIT = 1 << DIGIT_BITS
_F32_EXACT = 2.0**24  # below it, every integer is a float32
_U = 2.0**-24  # float32 unit roundoff
_MAX_WEIGHT = 2**31 - 1  # Lucene's bound on a query weight, kept for equal answers
_U16_COMPONENTS = 1 << 16  # SeismicIndex stores components as u16, SeismicIndexLV as u32
_MAX_DOC_COMPONENTS = 65535  # Seismic packs a document's length into 16 bits
_MAX_CENTROIDS = 65000  # Seismic asserts fewer than 65,536 blocks per posting list
_VARIANTS = ("SeismicIndex", "SeismicIndexLV")
_REBUILD = "rebuild it (splade_lite.engines.seismic.build_seismic)"


def load_seismic() -> Any:
    """The ``seismic`` module of pyseismic-lsr, or a StateError saying how to install it."""
    try:
        metadata.version(PACKAGE)
        import seismic
    except (ImportError, metadata.PackageNotFoundError):
        raise StateError(f"the seismic engine needs {PACKAGE}: {INSTALL_HINT}") from None
    return seismic


@contextlib.contextmanager
def _failing(what: str) -> Iterator[None]:
    """A Rust panic (PanicException, a BaseException) or IOError of Seismic as a StateError."""
    try:
        yield
    except (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError):
        raise
    except BaseException as err:  # noqa: BLE001 - PanicException derives from BaseException
        raise StateError(f"Seismic failed {what}: {err}") from None


@dataclass(frozen=True)
class SeismicSettings:
    """How the Seismic index is built (Seismic's ``build_from_dataset`` parameters).

    `n_postings` None (the default) keeps every posting, as exact search needs; a number
    prunes each term's list to about that many of its highest impacts (Seismic's global
    threshold, at most `n_postings` × `max_fraction` a list), for approximate search only.
    The rest shape blocks and summaries: speed, never an exact ranking. A `centroid_fraction`
    giving a list more blocks than Seismic allows is lowered (engine.json records it).
    """

    n_postings: int | None = None
    max_fraction: float = 1.5
    centroid_fraction: float = 0.1
    min_cluster_size: int = 2
    summary_energy: float = 0.4
    doc_cut: int = 15

    def __post_init__(self) -> None:
        if self.n_postings is not None:
            check_number("n_postings", self.n_postings, 1, whole=True)
        check_number("max_fraction", self.max_fraction, 1e-6)
        check_number("centroid_fraction", self.centroid_fraction, 1e-9, 1.0)
        check_number("summary_energy", self.summary_energy, 1e-9, 1.0)
        for name in ("min_cluster_size", "doc_cut"):
            check_number(name, getattr(self, name), 1, whole=True)


@dataclass(frozen=True)
class SeismicSearch:
    """Query-time settings; the defaults are a fast approximate search, :meth:`exact` exact.

    `query_cut`: the heaviest query components whose posting lists are scanned (None: all).
    `heap_factor`: a block is skipped when its summary's score is below `heap_factor` × the
    current k-th score (0: none is). `candidates`: how many documents Seismic returns to be
    rescored and cut to k (None: k, or 2k for exact search, which widens as needed).
    """

    query_cut: int | None = 10
    heap_factor: float = 0.9
    candidates: int | None = None

    def __post_init__(self) -> None:
        for name in ("query_cut", "candidates"):
            if getattr(self, name) is not None:
                check_number(name, getattr(self, name), 1, whole=True)
        check_number("heap_factor", self.heap_factor, 0.0, 1e6)

    @classmethod
    def exact(cls, candidates: int | None = None) -> SeismicSearch:
        """Every posting of every query term scanned: Lucene's exact ranking."""
        return cls(query_cut=None, heap_factor=0.0, candidates=candidates)

    @property
    def is_exact(self) -> bool:
        return self.query_cut is None and self.heap_factor == 0.0


def _components(indptr: np.ndarray, term_ids: np.ndarray, weights: np.ndarray, num_terms: int):
    """Seismic's rows for the forward CSR: ``(indptr, components, values, splits)``.

    A term whose largest impact is above ``DIGIT`` gets ``digits - 1`` more components, at
    ``first`` onwards (``splits[term] = (digits, first)``): each posting becomes its nonzero
    base-``DIGIT`` digits, all exact float16 integers. Rows stay sorted by component.
    """
    indptr, term_ids, weights = (a.astype(np.int64) for a in (indptr, term_ids, weights))
    big = weights > DIGIT
    if not big.any():
        return indptr, term_ids, weights, {}
    split_terms, inverse = np.unique(term_ids[big], return_inverse=True)
    largest = np.zeros(len(split_terms), dtype=np.int64)
    np.maximum.at(largest, inverse, weights[big])
    digits = (np.array([int(m).bit_length() for m in largest]) + DIGIT_BITS - 1) // DIGIT_BITS
    firsts = num_terms + np.concatenate([[0], np.cumsum(digits - 1)[:-1]])
    splits = {int(t): (int(d), int(f)) for t, d, f in zip(split_terms, digits, firsts)}
    rows = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))
    where = np.searchsorted(split_terms, term_ids).clip(0, len(split_terms) - 1)
    split = split_terms[where] == term_ids
    parts = [(rows[~split], term_ids[~split], weights[~split])]
    s_rows, s_terms, s_w = rows[split], term_ids[split], weights[split]
    s_digits, s_first = digits[where[split]], firsts[where[split]]
    for j in range(int(digits.max())):
        value = (s_w >> (DIGIT_BITS * j)) & (DIGIT - 1)
        keep = (value > 0) & (j < s_digits)
        comps = s_terms[keep] if j == 0 else s_first[keep] + j - 1
        parts.append((s_rows[keep], comps, value[keep]))
    rows, comps, values = (np.concatenate(p) for p in zip(*parts))
    order = np.lexsort((comps, rows))
    counts = np.bincount(rows, minlength=len(indptr) - 1)
    return np.concatenate([[0], np.cumsum(counts)]), comps[order], values[order], splits


def build_seismic(
    source: str | Path,
    out_dir: str | Path,
    settings: SeismicSettings | None = None,
    progress: bool = True,
    *,
    overwrite: bool = False,
) -> dict:
    """Build a Seismic engine folder at `out_dir`; return what ``engine.json`` records.

    `source` is a vectors folder (every shard line checked, see :mod:`splade_lite.shards`)
    or an index folder, whose ``forward.npz`` is taken as it is. The folder is built beside
    `out_dir` and renamed onto it when complete; an existing `out_dir` is replaced only when
    empty, or with `overwrite` when it is a Seismic engine folder. `progress`: messages
    (Seismic's too) go to stderr, else nowhere; never to stdout.
    """
    from splade_lite.forward import ForwardIndex, build_forward_index
    from splade_lite.vectors_folder import VECTORS_META, shard_files

    seismic = load_seismic()
    settings = SeismicSettings() if settings is None else settings
    if not isinstance(settings, SeismicSettings):
        raise BadValueError(f"settings must be SeismicSettings, not {type(settings).__name__}")
    source = Path(source)
    from_index = (source / FORWARD_FILE).is_file()
    if not from_index and not (source.is_dir() and shard_files(source)):
        raise MissingFileError(f"{source}: neither a vectors folder nor an index folder")
    with staged_folder(Path(out_dir), ENGINE_FILE, FORMAT, overwrite) as stage:
        if progress:
            print(f"seismic: reading the documents of {source}", file=sys.stderr)
        if from_index:
            shutil.copyfile(source / FORWARD_FILE, stage / FORWARD_FILE)
        else:
            build_forward_index(source, stage / FORWARD_FILE)
        forward = ForwardIndex.load(stage / FORWARD_FILE)
        meta = _build(seismic, forward, stage, settings, progress)
        meta["source"] = {"path": str(source), "kind": "index" if from_index else "vectors"}
        with contextlib.suppress(OSError, ValueError):
            meta["source"]["vectors_meta"] = json.loads((source / VECTORS_META).read_text())
        with atomic_write(stage / ENGINE_FILE) as handle:
            handle.write(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    return meta


def _build(seismic: Any, forward: Any, stage: Path, settings: SeismicSettings, progress: bool):
    """Build and save the Seismic index of `forward` in `stage`; return engine.json's fields."""
    num_docs, num_terms = len(forward), len(forward.terms)
    arrays = (np.asarray(forward.indptr), np.asarray(forward.term_ids), forward.weights)
    indptr, comps, values, splits = _components(*arrays, num_terms)
    lengths = np.diff(indptr)
    if len(lengths) and lengths.max() > _MAX_DOC_COMPONENTS:
        row = int(np.argmax(lengths))
        raise BadValueError(
            f"document {forward.docids[row]!r} has {int(lengths[row])} components; Seismic "
            f"holds at most {_MAX_DOC_COMPONENTS} a document: use the Lucene engine"
        )
    num_components = num_terms + sum(d - 1 for d, _ in splits.values())
    wide = num_components > _U16_COMPONENTS
    rows = np.flatnonzero(lengths > 0)
    longest = int(np.bincount(comps).max()) if len(comps) else 0
    lossless = settings.n_postings is None
    used = asdict(settings)
    if lossless:  # Seismic keeps n_postings × the number of lists, at most × max_fraction each
        used |= {"n_postings": max(longest, 1), "max_fraction": max(settings.max_fraction, 1.0)}
    kept = min(longest, int(used["n_postings"] * used["max_fraction"]))
    used["centroid_fraction"] = min(settings.centroid_fraction, _MAX_CENTROIDS / max(kept, 1))
    files = {FORWARD_FILE: file_entry(stage / FORWARD_FILE)}
    if len(rows):
        dataset = (seismic.SeismicDatasetLV if wide else seismic.SeismicDataset)(dim=num_components)
        offsets = np.concatenate([[0], np.cumsum(lengths[rows])])
        ids = [str(r) for r in rows.tolist()]  # Seismic's docid: the row, mapped back here
        with _failing("reading the documents"):
            added = dataset.add_documents_by_id(ids, comps, values.astype(np.float32), offsets)
        if added != len(rows):
            raise StateError(f"Seismic took {added} of {len(rows)} documents")
        variant = getattr(seismic, _VARIANTS[wide])
        with redirect_fds((1,), 2) if progress else redirect_fds((1, 2), None):
            with _failing("building the index"):
                index = variant.build_from_dataset(dataset, **used)
            if lossless:  # the proof that nothing was pruned: every posting in its list
                listed = sum(len(index.get_doc_ids_in_postings(c)) for c in range(index.dim))
                if listed != len(comps):
                    raise StateError(f"Seismic kept {listed} of {len(comps)} postings")
            with _failing("saving the index"):
                index.save(str(stage / "index"))
        os.replace(stage / "index.index.seismic", stage / INDEX_FILE)
        files[INDEX_FILE] = file_entry(stage / INDEX_FILE)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "engine": ENGINE,
        "pyseismic_version": metadata.version(PACKAGE),
        "variant": _VARIANTS[wide],
        "settings": used,
        "lossless": lossless,
        "num_docs": num_docs,
        "num_indexed": len(rows),
        "num_empty": num_docs - len(rows),
        "num_terms": num_terms,
        "num_components": num_components,
        "num_postings": int(forward.num_postings),
        "longest_posting_list": longest,
        "max_impact": int(np.max(forward.weights)) if forward.num_postings else 0,
        "splits": {str(t): list(v) for t, v in sorted(splits.items())},
        "files": files,
    }


class _Query(NamedTuple):
    """One query as Seismic takes it (`comps`, `vals`) and as exact rescoring takes it."""

    comps: np.ndarray  # component ids as Seismic's fixed-width strings
    vals: np.ndarray  # float32 weights (× DIGIT**j for a split term's digit j)
    term_ids: np.ndarray  # sorted index term ids
    weights: list[int]  # their integer weights
    gamma: float  # |float32 - exact score| <= gamma × exact: γ_{n+2} of n summed products


class SeismicIndex:
    """An engine folder opened for search; threads may share it (a search holds the GIL)."""

    def __init__(self, folder: Path, meta: dict, forward: Any, index: Any, string_type: str):
        self.folder, self.meta, self._forward, self._index = folder, meta, forward, index
        self._string = string_type
        self._term_ids = {term: i for i, term in enumerate(forward.terms)}
        self._splits: dict[int, tuple[int, int]] = meta["splits"]

    @classmethod
    def open(cls, folder: str | Path, *, verify: bool = True) -> SeismicIndex:
        """Open an engine folder; `verify` hashes its files first (a damaged Seismic file
        cannot be loaded safely). MissingFileError or BadValueError say what is wrong."""
        from splade_lite.forward import ForwardIndex

        folder = Path(folder)
        if not (folder / ENGINE_FILE).is_file():
            what = "has no" if folder.is_dir() else "is not a folder with an"
            raise MissingFileError(f"{folder} {what} {ENGINE_FILE}: not a Seismic engine folder")
        try:
            meta = json.loads((folder / ENGINE_FILE).read_text(encoding="utf-8"))
            if (meta["format"], meta["format_version"]) != (FORMAT, FORMAT_VERSION):
                raise ValueError(f"format {meta['format']!r} {meta['format_version']!r}")
            meta["splits"] = {int(t): (int(d), int(f)) for t, (d, f) in meta["splits"].items()}
            for key in ("num_docs", "num_indexed", "num_terms", "num_components", "max_impact"):
                meta[key] = int(meta[key])
            meta["lossless"], files = bool(meta["lossless"]), dict(meta["files"])
            variant = _VARIANTS.index(meta["variant"])
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as err:
            raise BadValueError(f"{folder / ENGINE_FILE}: unreadable, {err}; {_REBUILD}") from None
        seismic = load_seismic()
        built, installed = meta.get("pyseismic_version"), metadata.version(PACKAGE)
        if built != installed:
            raise BadValueError(
                f"{folder} was built with {PACKAGE} {built} and {installed} is installed: "
                f"{_REBUILD}, or pip install '{PACKAGE}=={built}'"
            )
        for name in [FORWARD_FILE] + [INDEX_FILE] * bool(meta["num_indexed"]):
            if not (folder / name).is_file():
                raise MissingFileError(f"{folder / name} is missing; {_REBUILD}")
            if damaged(folder / name, files.get(name), verify):
                raise BadValueError(f"{folder / name} is damaged (not the file built); {_REBUILD}")
        forward = ForwardIndex.load(folder / FORWARD_FILE)
        index = None
        if meta["num_indexed"]:
            with _failing("loading the index"):
                index = getattr(seismic, _VARIANTS[variant]).load(str(folder / INDEX_FILE))
        got = [len(forward), len(forward.terms), 0 if index is None else index.len]
        expected = [meta["num_docs"], meta["num_terms"], meta["num_indexed"]]
        if got != expected or (index is not None and index.dim != meta["num_components"]):
            raise BadValueError(f"{folder}: its files do not match {ENGINE_FILE}; {_REBUILD}")
        return cls(folder, meta, forward, index, seismic.get_seismic_string())

    @property
    def num_docs(self) -> int:
        """Documents in the folder, those without a term included."""
        return self.meta["num_docs"]

    @property
    def num_indexed(self) -> int:
        """Documents Seismic holds (those with at least one term)."""
        return self.meta["num_indexed"]

    def __repr__(self) -> str:
        return f"SeismicIndex({str(self.folder)!r}, {self.num_docs} documents)"

    def retrieve(
        self,
        queries: Sequence[Mapping[str, int]],
        k: int,
        threads: int = 1,
        search: SeismicSearch | None = None,
    ) -> list[list[tuple[str, int]]]:
        """The top `k` ``(docid, exact score)`` of each integer query, best first, ties by
        docid; ``[]`` for a query matching nothing. `search` defaults to
        :meth:`SeismicSearch.exact`. `threads` > 1: Seismic's batch search, on its own thread
        pool (pyseismic 0.5.4 sizes it by the cores or RAYON_NUM_THREADS, whatever is asked).
        Non-positive weights are left out and unknown terms match nothing, as in Lucene.
        """
        check_number("k", k, 1, whole=True)
        check_number("threads", threads, 1, whole=True)
        search = SeismicSearch.exact() if search is None else search
        if not isinstance(search, SeismicSearch):
            raise BadValueError(f"search must be SeismicSearch, not {type(search).__name__}")
        if search.is_exact and not self.meta["lossless"]:
            raise BadValueError(
                f"{self.folder} was built with n_postings={self.meta['settings']['n_postings']}"
                ", which prunes postings: exact search needs a build with n_postings=None"
            )
        if isinstance(queries, (Mapping, str)):
            raise BadValueError("retrieve takes a list of queries {term: weight}")
        prepared = [self._prepare(q) for q in queries]
        results: list[list[tuple[str, int]]] = [[] for _ in prepared]
        todo = {i: q for i, q in enumerate(prepared) if q is not None and self.num_indexed}
        first = search.candidates or (2 * k if search.is_exact else k)
        depth = min(max(first, k), self.num_indexed)
        while todo:
            found = self._search_many(todo, depth, threads, search)
            again = {}
            for i, query in todo.items():
                results[i], final = self._finish(query, found.get(i, []), k, depth, search)
                if not final:
                    again[i] = query
            todo, depth = again, min(depth * 4, self.num_indexed)
        return results

    def _prepare(self, query: Mapping[str, int]) -> _Query | None:
        """`query` mapped onto Seismic's components (None: no term that can match)."""
        if not isinstance(query, Mapping):
            raise BadValueError(f"a query is a mapping term -> weight, not {query!r:.80}")
        pairs = []
        for term, weight in query.items():
            try:
                w = operator.index(weight)
            except TypeError:
                raise BadValueError(f"weight {weight!r} of {term!r} is not an integer") from None
            if w > _MAX_WEIGHT:
                raise BadValueError(f"query weight {w} of {term!r} is above {_MAX_WEIGHT}")
            t = self._term_ids.get(term) if isinstance(term, str) else None
            if w > 0 and t is not None:
                pairs.append((t, w))
        if not pairs:
            return None
        pairs.sort()
        comps, vals = [t for t, _ in pairs], [w for _, w in pairs]
        for t, w in pairs if self._splits else ():  # a split term's digits: w × DIGIT**j
            digits, first = self._splits.get(t, (1, 0))
            comps += range(first, first + digits - 1)
            vals += [w * DIGIT**j for j in range(1, digits)]
        return _Query(
            np.array([str(c) for c in comps], dtype=self._string),
            np.array(vals, dtype=np.float64).astype(np.float32),
            np.array([t for t, _ in pairs], dtype=np.int64),
            [w for _, w in pairs],
            (len(comps) + 2) * _U / (1 - (len(comps) + 2) * _U),
        )

    def _search_many(
        self, todo: dict[int, _Query], depth: int, threads: int, search: SeismicSearch
    ) -> dict[int, list[tuple[float, int]]]:
        """Seismic's top `depth` ``(float score, row)`` of each query in `todo`."""
        heap, cut = float(search.heap_factor), search.query_cut
        if threads == 1 or len(todo) == 1:
            one = self._index.search
            with _failing("searching"):
                got = {
                    i: one(str(i), q.comps, q.vals, depth, cut or len(q.comps), heap)
                    for i, q in todo.items()
                }
            return {i: [(s, int(d)) for _, s, d in hits] for i, hits in got.items()}
        # one call for all, its results in any order, each tagged with its query
        ids = np.array([str(i) for i in todo], dtype=self._string)
        comps, vals = [q.comps for q in todo.values()], [q.vals for q in todo.values()]
        cut = cut or max(map(len, comps))
        quiet = redirect_fds((2,), None) if os.isatty(2) else contextlib.nullcontext()  # its bar
        with _failing("searching"), quiet:
            found = self._index.batch_search(
                ids, comps, vals, depth, cut, heap, num_threads=threads
            )
        return {int(hits[0][0]): [(s, int(d)) for _, s, d in hits] for hits in found if hits}

    def _finish(
        self, q: _Query, hits: list[tuple[float, int]], k: int, depth: int, search: SeismicSearch
    ) -> tuple[list[tuple[str, int]], bool]:
        """The exact top `k` of Seismic's `hits`, and whether they are final: always for an
        approximate search; for an exact one when every document left out provably scores
        below the k-th (else the caller asks for more)."""
        floats, rows = [s for s, _ in hits], [r for _, r in hits]
        exact_below = _F32_EXACT * (1 - q.gamma)  # a float score below it is the exact score
        if all(s < exact_below for s in floats):
            scores = [int(s) for s in floats]
        else:
            scores = self._rescore(q, rows)
            for s, e, r in zip(floats, scores, rows):
                if not (s == e if e < _F32_EXACT else abs(s - e) <= q.gamma * e):
                    raise StateError(
                        f"{self.folder}: Seismic scores document {self._forward.docids[r]!r} "
                        f"{s}, its vector {e}: the engine folder is inconsistent; {_REBUILD}"
                    )
        docids = self._forward.docids
        ranked = sorted(((docids[r], e) for r, e in zip(rows, scores)), key=_rank_key)[:k]
        if not search.is_exact or len(hits) < depth or depth >= self.num_indexed:
            return ranked, True  # exact: fewer than asked means every match was returned
        # a document left out has a float score <= the least returned, m: an exact score
        # <= m, or <= m / (1 - γ) where float scores can be off (from 2**24 on)
        least = min(floats)
        bound = least if least < exact_below else least / (1 - q.gamma) * (1 + 2.0**-40)
        return ranked, ranked[-1][1] > bound

    def _rescore(self, q: _Query, rows: list[int]) -> list[int]:
        """Exact Σ query weight × impact of each row, from ``forward.npz``."""
        f = self._forward
        starts = np.asarray(f.indptr)[rows].tolist()
        ends = np.asarray(f.indptr)[np.asarray(rows, dtype=np.int64) + 1].tolist()
        ids = np.concatenate([f.term_ids[a:b] for a, b in zip(starts, ends)]).astype(np.int64)
        imp = np.concatenate([f.weights[a:b] for a, b in zip(starts, ends)]).astype(np.int64)
        pos = np.searchsorted(q.term_ids, ids).clip(0, len(q.term_ids) - 1)
        hit = q.term_ids[pos] == ids
        bounds = np.concatenate([[0], np.cumsum(np.subtract(ends, starts))]).tolist()
        # int64 while no sum can overflow it, else Python ints (object arrays)
        dtype = np.int64 if sum(q.weights) * self.meta["max_impact"] < 2**63 else object
        contrib = np.where(hit, np.array(q.weights, dtype=dtype)[pos] * imp.astype(dtype), 0)
        return [int(contrib[a:b].sum()) for a, b in zip(bounds[:-1], bounds[1:])]


def _rank_key(hit: tuple[str, int]) -> tuple[int, str]:
    return -hit[1], hit[0]
