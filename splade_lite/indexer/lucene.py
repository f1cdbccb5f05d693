"""Search Lucene indexes in-process through pyjnius (reading them back: ``reader.py``).

Results are plain Python ``(docid, score)`` tuples; no Java object leaves this module, and
no Java exception either: a refused request is a ``ValueError``, a failure reading the index
a one-line :class:`LuceneError` naming the folder (see :mod:`splade_lite.indexer.errors`).
k, depths and thread counts are capped before Java sees them (at the number of documents
and Java's int), so an absurd k costs what k = the index's size costs.

Thread safety: one :class:`ImpactIndex` / :class:`BM25Index` may be shared by Python
threads. Searching only reads the underlying Lucene ``IndexSearcher`` (safe for concurrent
use; Anserini's own ``batch_search`` runs one searcher on a pool of threads), and pyjnius
releases the GIL during Java calls, so threads do overlap. Do not change settings on a
searcher while others search with it, and do not ``close()`` it while in use.
"""

from __future__ import annotations

import functools
import math
import operator
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from splade_lite.errors import BadValueError
from splade_lite.indexer.errors import (
    LuceneError,
    LuceneFolders,
    folders_name,
    guarded,
    java_errors,
    java_folders,
    lucene_folders,
    opened,
    remedy,
)
from splade_lite.indexer.jvm import autoclass
from splade_lite.indexer.limits import JAVA_INT_MAX, MAX_QUERY_TERMS

#: Lucene field holding the impact (or BM25) terms, and the stored document id field.
CONTENTS_FIELD = "contents"
ID_FIELD = "id"
#: BM25 parameters of Pyserini's BEIR "flat" baselines (also Anserini's defaults).
BM25_K1 = 0.9
BM25_B = 0.4

# Lucene refuses a query of more than 1,024 terms by default; a SPLADE document used as a
# query, or a long inference-free query, can exceed that. The limit is global to the JVM.
# Impact queries with more terms still work (scored exactly without Lucene's BooleanQuery,
# see ImpactQuery.java); a BM25 text with more distinct terms is refused as a ValueError.
_INT_MAX = JAVA_INT_MAX
# Python floats hold every integer up to 2**53; larger exact scores stay Python ints.
_EXACT_FLOAT = 2**53

Hits = list[tuple[str, float]]


@functools.lru_cache(maxsize=1)
def java_classes() -> SimpleNamespace:
    """The Java classes used here, loaded once (this is what starts the JVM)."""
    index_searcher = autoclass("org.apache.lucene.search.IndexSearcher")
    if index_searcher.getMaxClauseCount() < MAX_QUERY_TERMS:
        index_searcher.setMaxClauseCount(MAX_QUERY_TERMS)
    postings = autoclass("org.apache.lucene.index.PostingsEnum")
    return SimpleNamespace(
        File=autoclass("java.io.File"),
        FSDirectory=autoclass("org.apache.lucene.store.FSDirectory"),
        DirectoryReader=autoclass("org.apache.lucene.index.DirectoryReader"),
        FREQS=postings.FREQS,
        NO_MORE_DOCS=autoclass("org.apache.lucene.search.DocIdSetIterator").NO_MORE_DOCS,
        TopHits=autoclass("splade_lite.TopHits"),
        IdfQueries=autoclass("splade_lite.IdfQueries"),
        IndexCheck=autoclass("splade_lite.IndexCheck"),
    )


def _parse_hits(rendered: str, integer: bool, index_dir: Path | str = "the index") -> Hits:
    """Hits from TopHits' "docid<TAB>score" lines (integer: impact scores, exact sums).

    An exact score is a float while floats hold it exactly (below 2**53), else an int.
    """
    hits: Hits = []
    line = rendered
    try:
        if rendered and not rendered.endswith("\n"):  # cut short, or decoded wrongly
            raise BadValueError(rendered)
        for line in rendered.split("\n")[:-1]:  # ids never hold a newline; a damaged one might
            docid, tab, score = line.rpartition("\t")
            if not tab:
                raise BadValueError(line)
            if integer:
                exact = int(score)
                hits.append((docid, float(exact) if abs(exact) <= _EXACT_FLOAT else exact))
            else:
                hits.append((docid, float(score)))
    except ValueError:
        raise LuceneError(
            f"unreadable hit {line[:60]!r} from {index_dir}: its ids or scores are damaged; "
            f"{remedy(index_dir)}"
        ) from None
    return hits


def java_int(value: int, cap: int = _INT_MAX) -> int:
    """`value` capped to what a Java int (and the caller's cap) holds."""
    return max(0, min(operator.index(value), cap, _INT_MAX))


class _TopHitsIndex:
    """A Lucene index searched through splade-lite's ``TopHits`` class (see java/TopHits.java).

    Lucene's own IndexSearcher ranks, ties broken by ascending docid as in Anserini's
    searchers; ids come from the ``id`` doc values, not from loading each hit's stored
    document, and a whole ranking crosses from Java as one string. `index_dir` may be the
    shard folders of one index: Lucene reads them as one (a ``MultiReader``), so rankings,
    scores and BM25's statistics are those of a single index over the same documents.
    """

    _integer = False

    def __init__(self, index_dir: LuceneFolders, open_it: Callable[[str], Any]) -> None:
        self.shards = lucene_folders(index_dir)
        self.index_dir = folders_name(self.shards)
        java_classes()  # starts the JVM and raises Lucene's clause limit
        folders = java_folders(self.shards)
        self._searcher = opened(self.index_dir, lambda: open_it(folders))
        with java_errors(self.index_dir):
            self._num_docs = int(self._searcher.numDocs())

    @property
    def num_docs(self) -> int:
        """Number of documents in the index."""
        return self._num_docs

    @guarded
    def set_skipping(self, on: bool) -> None:
        """Let Lucene skip documents that cannot enter the top k (on by default: block-max
        WAND/MaxScore, still exact), or score every match (off: the reference the skipping
        search is tested equal to). The setting belongs to the folder's Lucene searcher,
        which every searcher of the folder in this process shares."""
        self._searcher.setSkipping(bool(on))

    def _k(self, k: int) -> int:
        """k capped at the number of documents (0: nothing to search for)."""
        return java_int(k, self._num_docs)

    def _parse(self, rendered: str) -> Hits:
        return _parse_hits(rendered, self._integer, self.index_dir)

    def _encode(self, query: Any) -> str | None:
        raise NotImplementedError

    @guarded
    def search(self, query: Any, k: int = 10) -> Hits:
        """Top ``k`` ``(docid, score)``; an empty query matches nothing."""
        encoded = self._encode(query)
        k = self._k(k)
        if k <= 0 or encoded is None:
            return []
        return self._parse(self._searcher.search(encoded, k))

    @guarded
    def batch_search(self, queries: Sequence[Any], k: int = 10, threads: int = 1) -> list[Hits]:
        """:meth:`search` for many queries, run in Java on ``threads`` threads."""
        results: list[Hits] = [[] for _ in queries]
        encoded = [self._encode(q) for q in queries]
        todo = [i for i, e in enumerate(encoded) if e is not None]
        k = self._k(k)
        if k <= 0 or not todo:
            return results
        if len(todo) == 1:  # a Java String[] costs more to build than one search
            found = [self._searcher.search(encoded[todo[0]], k)]
        else:
            workers = max(1, java_int(threads, len(todo)))
            found = self._searcher.searchAll([encoded[i] for i in todo], k, workers)
        for i, rendered in zip(todo, found):
            results[i] = self._parse(rendered)
        return results

    @guarded
    def close(self) -> None:
        """Release the Lucene reader (the object is unusable afterwards)."""
        self._searcher.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ImpactIndex(_TopHitsIndex):
    """A Lucene impact index (built by :func:`build_impact_index`), searched with
    integer ``{token: weight}`` queries.

    Score = Σ query weight × stored weight, exactly, at any scale: Lucene's float32 scores
    are used only where they are exact (below 2**24), else Java sums in 64-bit integers (see
    ImpactQuery.java); the score is a float up to 2**53 and an int beyond. Tied documents
    come in ascending docid order. Unlike Pyserini's Python ``LuceneImpactSearcher``, no
    token is dropped for a low IDF, and a query may have more terms than Lucene's clause limit.
    """

    _integer = True

    def __init__(self, index_dir: LuceneFolders) -> None:
        super().__init__(
            index_dir, lambda folders: java_classes().TopHits.impact(folders, CONTENTS_FIELD)
        )

    @guarded
    def search_text(self, queries: IdfQueries, text: str, k: int = 10) -> Hits | None:
        """Top `k` of an inference-free query text that `queries` tokenizes and weighs in
        Java; None when it does not handle the text (encode it and call :meth:`search`)."""
        k = self._k(k)
        if k <= 0:
            return []
        rendered = self._searcher.searchText(queries._java, text, k)
        return None if rendered is None else self._parse(rendered)

    @guarded
    def batch_search_text(
        self, queries: IdfQueries, texts: Sequence[str], k: int = 10, threads: int = 1
    ) -> list[Hits | None]:
        """:meth:`search_text` for many texts, run in Java on `threads` threads."""
        k = self._k(k)
        if k <= 0 or not texts:
            return [[] for _ in texts]
        if len(texts) == 1:
            return [self.search_text(queries, texts[0], k)]
        workers = max(1, java_int(threads, len(texts)))
        found = self._searcher.searchAllText(queries._java, list(texts), k, workers)
        return [None if r is None else self._parse(r) for r in found]

    def _encode(self, query: Mapping[str, int]) -> str | None:
        return impact_query(query)


def impact_query(query: Mapping[str, int]) -> str | None:
    """The ``"term weight ..."`` string that TopHits searches for `query`'s positive integer
    weights (None if none): what :meth:`ImpactIndex.search` sends to Java."""
    parts = []
    for token, weight in query.items():
        w = operator.index(weight)  # refuse floats: impacts are integers
        if w <= 0:
            continue
        if w > _INT_MAX:
            raise BadValueError(f"query weight {w} of {token!r} does not fit a Java int")
        parts.append(token)
        parts.append(str(w))
    if not parts:
        return None
    encoded = " ".join(parts)
    if len(encoded.split()) != len(parts):  # one check for all: a bad term splits apart
        bad = next(t for t in parts[::2] if not t or len(t.split()) != 1)
        raise BadValueError(f"query term {bad!r} is empty or contains whitespace")
    return encoded


class IdfQueries:
    """Inference-free queries tokenized and weighted in Java (see java/IdfQueries.java).

    Made from the ASCII word splitter of the query encoder (`wordpiece`, a
    :class:`~splade_lite.encoders.fast_wordpiece.FastWordPiece`), the vocabulary and the
    integer weight of each token id (0: left out), keeping at most `max_terms` terms of a
    query, the heaviest (as :class:`~splade_lite.pruning.Pruning` does). It handles what that
    splitter handles
    (ASCII text without an added token); for any other text its methods return None and
    the caller encodes the query in Python.
    """

    def __init__(
        self,
        wordpiece: Any,
        terms: Sequence[str],
        weights: Sequence[int],
        max_terms: int | None = None,
    ) -> None:
        settings = wordpiece.wordpiece
        if settings is None:
            raise BadValueError("the word splitter has no WordPiece settings")
        if len(terms) != len(weights):
            raise BadValueError(f"{len(terms)} terms but {len(weights)} weights")
        bad = next((t for t, w in zip(terms, weights) if w > 0 and len(t.split()) != 1), None)
        if bad is not None:
            raise BadValueError(f"query term {bad!r} is empty or contains whitespace")
        java = java_classes()
        with java_errors(None, "building the Java query encoder"):
            self._java = java.IdfQueries(
                wordpiece.drop,
                wordpiece.space,
                wordpiece.punct,
                bool(wordpiece.lower),
                list(wordpiece.added),
                list(terms),
                [min(max(0, int(w)), _INT_MAX) for w in weights],
                settings.unk_token,
                settings.prefix,
                java_int(settings.max_chars),
                java_int(max_terms or 0),
            )

    def encode(self, text: str) -> str | None:
        """The query of `text` as ``"term weight ..."`` (ascending token id), or None."""
        with java_errors(None, "encoding a query"):
            return self._java.encode(text)

    def disagreement(
        self, probes: Sequence[str], reference: Callable[[str], Mapping[str, int]]
    ) -> str | None:
        """The first probe text whose Java query differs from `reference`'s (the Python
        encoder's integer terms of the same text), or None: every probe agrees."""
        for probe in probes:
            in_java = self.encode(probe)
            if in_java is not None and in_java != (impact_query(reference(probe)) or ""):
                return probe
        return None


def checked_idf_queries(
    wordpiece: Any,
    terms: Sequence[str],
    weights: Sequence[int],
    max_terms: int | None,
    probes: Sequence[str],
    reference: Callable[[str], Mapping[str, int]],
    where: object,
) -> IdfQueries | None:
    """:class:`IdfQueries` made from these tables, or None if its queries differ from the
    Python encoder's (`reference`: text -> integer terms) on any probe text: a RuntimeWarning
    names `where` (the index) and the probe, and the caller encodes queries in Python."""
    built = IdfQueries(wordpiece, terms, weights, max_terms)
    probe = built.disagreement(probes, reference)
    if probe is None:
        return built
    warnings.warn(
        f"{where}: the Java query builder disagrees with the Python encoder on {probe!r}; "
        "queries are encoded in Python (same results, slower). Please report this.",
        RuntimeWarning,
        stacklevel=4,
    )
    return None


def _fusion_args(
    depth: int, k: int, fusion: str, alpha: float, rrf_k: int, indexes: Sequence[_TopHitsIndex]
) -> tuple:
    """The fusion settings as TopHits.hybrid* take them (rrfK < 0 asks for interpolation).

    Depth is capped at the larger index's size and k at both together (what a fusion can
    return at most), each within a Java int.
    """
    if fusion not in ("interpolate", "rrf"):
        raise BadValueError(f"unknown fusion {fusion!r}; choose interpolate or rrf")
    if not math.isfinite(alpha):
        raise BadValueError(f"alpha must be a finite number, got {alpha}")
    if fusion == "rrf" and not 0 <= rrf_k <= _INT_MAX:
        raise BadValueError(f"rrf_k must be in 0 .. {_INT_MAX}, got {rrf_k}")
    sizes = [index.num_docs for index in indexes]
    depth = java_int(depth, max(sizes, default=0))
    k = java_int(k, sum(sizes))
    return (depth, k, float(alpha), int(rrf_k) if fusion == "rrf" else -1)


def hybrid_search(
    sparse: ImpactIndex,
    lexical: BM25Index,
    queries: Sequence[Mapping[str, int]],
    texts: Sequence[str],
    *,
    depth: int,
    k: int,
    fusion: str = "interpolate",
    alpha: float = 0.5,
    rrf_k: int = 60,
    threads: int = 1,
    concurrent: bool = False,
) -> list[Hits]:
    """Fuse the impact search of each query with the BM25 search of its text, in Java.

    The top `depth` of both lists are fused as in :func:`splade_lite.fusion.fuse`
    (``interpolate``: alpha × minmax(sparse) + (1 − alpha) × minmax(BM25); ``rrf``) and the
    top `k` returned. Both searches and the fusion are one call into Java per query (one per
    batch with several), which is what keeps a hybrid query near the cost of two searches.
    With `concurrent`, a single query's two searches run on two Java threads (off by
    default: slower on a busy 2-core machine, see docs/benchmarks.md); a batch is spread
    over `threads` threads instead, one query per thread.
    """
    if len(queries) != len(texts):
        raise BadValueError(f"{len(queries)} sparse queries for {len(texts)} texts")
    args = _fusion_args(depth, k, fusion, alpha, rrf_k, (sparse, lexical))
    if args[1] <= 0 or not texts:
        return [[] for _ in texts]
    encoded = [impact_query(q) or "" for q in queries]
    tophits = java_classes().TopHits
    with java_errors(f"{sparse.index_dir} or {lexical.index_dir}", "searching"):
        if len(texts) == 1:
            # one query: `concurrent` runs BM25 on a second Java thread beside the sparse one
            found = [
                tophits.hybrid(
                    sparse._searcher, encoded[0], lexical._searcher, texts[0], *args, concurrent
                )
            ]
        else:
            workers = max(1, java_int(threads, len(texts)))
            found = tophits.hybridAll(
                sparse._searcher, encoded, lexical._searcher, list(texts), *args, workers
            )
    return [_parse_hits(rendered, False, sparse.index_dir) for rendered in found]


def hybrid_text_search(
    sparse: ImpactIndex,
    queries: IdfQueries,
    lexical: BM25Index,
    texts: Sequence[str],
    *,
    depth: int,
    k: int,
    fusion: str = "interpolate",
    alpha: float = 0.5,
    rrf_k: int = 60,
    threads: int = 1,
) -> list[Hits | None]:
    """:func:`hybrid_search` of texts whose sparse queries `queries` builds in Java (one call
    for tokenizing, both searches and the fusion); None for each text it does not handle."""
    args = _fusion_args(depth, k, fusion, alpha, rrf_k, (sparse, lexical))
    if args[1] <= 0 or not texts:
        return [[] for _ in texts]
    tophits, java = java_classes().TopHits, queries._java
    with java_errors(f"{sparse.index_dir} or {lexical.index_dir}", "searching"):
        if len(texts) == 1:  # a Java String[] costs more to build than one search
            found = [tophits.hybridText(sparse._searcher, java, lexical._searcher, texts[0], *args)]
        else:
            workers = max(1, java_int(threads, len(texts)))
            found = tophits.hybridAllText(
                sparse._searcher, java, lexical._searcher, list(texts), *args, workers
            )
    return [None if r is None else _parse_hits(r, False, sparse.index_dir) for r in found]


class BM25Index(_TopHitsIndex):
    """A Lucene BM25 index (built by :func:`build_bm25_index`), k1=0.9, b=0.4 by default.

    Queries are analysed like the documents (Anserini's default English analyzer: Porter
    stemmer, English stopwords); scores are Lucene's BM25 floats.
    """

    def __init__(self, index_dir: LuceneFolders, k1: float = BM25_K1, b: float = BM25_B) -> None:
        super().__init__(
            index_dir,
            lambda folders: java_classes().TopHits.bm25(
                folders, CONTENTS_FIELD, float(k1), float(b)
            ),
        )

    def _encode(self, text: str) -> str | None:
        return text if text.strip() else None
