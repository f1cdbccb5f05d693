"""Search Lucene indexes and read them back, in-process through pyjnius.

Results are plain Python ``(docid, score)`` tuples; no Java object leaves this module.

Thread safety: one :class:`ImpactIndex` / :class:`BM25Index` may be shared by Python
threads. Searching only reads the underlying Lucene ``IndexSearcher`` (safe for concurrent
use; Anserini's own ``batch_search`` runs one searcher on a pool of threads), and pyjnius
releases the GIL during Java calls, so threads do overlap. Do not change settings on a
searcher while others search with it, and do not ``close()`` it while in use.
"""

from __future__ import annotations

import functools
import operator
from array import array
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from splade_lite.indexer.jvm import autoclass
from splade_lite.vectors import EMPTY_DOC_TOKEN

#: Lucene field holding the impact (or BM25) terms, and the stored document id field.
CONTENTS_FIELD = "contents"
ID_FIELD = "id"
#: BM25 parameters of Pyserini's BEIR "flat" baselines (also Anserini's defaults).
BM25_K1 = 0.9
BM25_B = 0.4

# Lucene refuses a query of more than 1,024 terms by default; a SPLADE document used as a
# query, or a long inference-free query, can exceed that. The limit is global to the JVM.
_MAX_QUERY_TERMS = 1 << 16
_INT_MAX = 2**31 - 1

Hits = list[tuple[str, float]]


@functools.lru_cache(maxsize=1)
def _java() -> SimpleNamespace:
    """The Java classes used here, loaded once (this is what starts the JVM)."""
    index_searcher = autoclass("org.apache.lucene.search.IndexSearcher")
    if index_searcher.getMaxClauseCount() < _MAX_QUERY_TERMS:
        index_searcher.setMaxClauseCount(_MAX_QUERY_TERMS)
    postings = autoclass("org.apache.lucene.index.PostingsEnum")
    return SimpleNamespace(
        File=autoclass("java.io.File"),
        FSDirectory=autoclass("org.apache.lucene.store.FSDirectory"),
        DirectoryReader=autoclass("org.apache.lucene.index.DirectoryReader"),
        FREQS=postings.FREQS,
        NO_MORE_DOCS=autoclass("org.apache.lucene.search.DocIdSetIterator").NO_MORE_DOCS,
        TopHits=autoclass("splade_lite.TopHits"),
        IdfQueries=autoclass("splade_lite.IdfQueries"),
    )


class LuceneError(RuntimeError):
    """A Lucene index that cannot be opened (damaged, or written by another Lucene)."""


def _opened(path: Path, open_it: Any) -> Any:
    """``open_it()``, with Java's exception turned into a one-line :class:`LuceneError`."""
    try:
        return open_it()
    except Exception as err:  # jnius.JavaException, which subclasses nothing more precise
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise LuceneError(
            f"cannot open the Lucene index in {path} ({first}); it is damaged or was written "
            "by another Lucene version: rebuild it (`splade-lite index ... --overwrite`)"
        ) from None


def _check_index_dir(index_dir: str | Path) -> Path:
    """Fail early, in Python terms, when a folder holds no Lucene index."""
    path = Path(index_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"index folder {path} does not exist")
    if not any(path.glob("segments_*")):
        raise FileNotFoundError(f"{path} holds no Lucene index (no segments_N file)")
    return path


def _parse_hits(rendered: str, integer: bool) -> Hits:
    """Hits from TopHits' "docid<TAB>score" lines (integer: impact scores, exact sums)."""
    hits: Hits = []
    for line in rendered.splitlines():
        docid, _, score = line.rpartition("\t")
        value = float(score)
        hits.append((docid, float(round(value)) if integer else value))
    return hits


class _TopHitsIndex:
    """A Lucene index searched through splade-lite's ``TopHits`` class (see java/TopHits.java).

    Lucene's own IndexSearcher ranks, ties broken by ascending docid as in Anserini's
    searchers; ids come from the ``id`` doc values, not from loading each hit's stored
    document, and a whole ranking crosses from Java as one string.
    """

    _integer = False

    def __init__(self, index_dir: str | Path, open_it) -> None:
        self.index_dir = _check_index_dir(index_dir)
        _java()  # starts the JVM and raises Lucene's clause limit
        self._searcher = _opened(self.index_dir, open_it)

    @property
    def num_docs(self) -> int:
        """Number of documents in the index."""
        return int(self._searcher.numDocs())

    def _encode(self, query: Any) -> str | None:
        raise NotImplementedError

    def search(self, query: Any, k: int = 10) -> Hits:
        """Top ``k`` ``(docid, score)``; an empty query matches nothing."""
        encoded = self._encode(query)
        if k <= 0 or encoded is None:
            return []
        return _parse_hits(self._searcher.search(encoded, int(k)), self._integer)

    def batch_search(self, queries: Sequence[Any], k: int = 10, threads: int = 1) -> list[Hits]:
        """:meth:`search` for many queries, run in Java on ``threads`` threads."""
        results: list[Hits] = [[] for _ in queries]
        encoded = [self._encode(q) for q in queries]
        todo = [i for i, e in enumerate(encoded) if e is not None]
        if k <= 0 or not todo:
            return results
        if len(todo) == 1:  # a Java String[] costs more to build than one search
            found = [self._searcher.search(encoded[todo[0]], int(k))]
        else:
            found = self._searcher.searchAll(
                [encoded[i] for i in todo], int(k), max(1, int(threads))
            )
        for i, rendered in zip(todo, found):
            results[i] = _parse_hits(rendered, self._integer)
        return results

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

    Score = Σ query weight × stored weight, exactly (an integer, as a float: float32 holds
    every integer up to 2**24); tied documents come in ascending docid order. Unlike Pyserini's
    Python ``LuceneImpactSearcher``, no token is dropped for a low IDF.
    """

    _integer = True

    def __init__(self, index_dir: str | Path) -> None:
        super().__init__(index_dir, lambda: _java().TopHits.impact(str(index_dir), CONTENTS_FIELD))

    def search_text(self, queries: IdfQueries, text: str, k: int = 10) -> Hits | None:
        """Top `k` of an inference-free query text that `queries` tokenizes and weighs in
        Java; None when it does not handle the text (encode it and call :meth:`search`)."""
        if k <= 0:
            return []
        rendered = self._searcher.searchText(queries._java, text, int(k))
        return None if rendered is None else _parse_hits(rendered, self._integer)

    def batch_search_text(
        self, queries: IdfQueries, texts: Sequence[str], k: int = 10, threads: int = 1
    ) -> list[Hits | None]:
        """:meth:`search_text` for many texts, run in Java on `threads` threads."""
        if k <= 0 or not texts:
            return [[] for _ in texts]
        if len(texts) == 1:
            return [self.search_text(queries, texts[0], k)]
        found = self._searcher.searchAllText(queries._java, list(texts), int(k), max(1, threads))
        return [None if r is None else _parse_hits(r, self._integer) for r in found]

    def _encode(self, query: Mapping[str, int]) -> str | None:
        """``"term weight ..."`` of the positive weights (None if none)."""
        parts = []
        for token, weight in query.items():
            w = operator.index(weight)  # refuse floats: impacts are integers
            if w <= 0:
                continue
            if w > _INT_MAX:
                raise ValueError(f"query weight {w} of {token!r} does not fit a Java int")
            parts.append(token)
            parts.append(str(w))
        if not parts:
            return None
        encoded = " ".join(parts)
        if len(encoded.split()) != len(parts):  # one check for all: a bad term splits apart
            bad = next(t for t in parts[::2] if not t or len(t.split()) != 1)
            raise ValueError(f"query term {bad!r} is empty or contains whitespace")
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
            raise ValueError("the word splitter has no WordPiece settings")
        if len(terms) != len(weights):
            raise ValueError(f"{len(terms)} terms but {len(weights)} weights")
        bad = next((t for t, w in zip(terms, weights) if w > 0 and len(t.split()) != 1), None)
        if bad is not None:
            raise ValueError(f"query term {bad!r} is empty or contains whitespace")
        self._java = _java().IdfQueries(
            wordpiece.drop,
            wordpiece.space,
            wordpiece.punct,
            bool(wordpiece.lower),
            list(wordpiece.added),
            list(terms),
            [min(max(0, int(w)), _INT_MAX) for w in weights],
            settings.unk_token,
            settings.prefix,
            int(settings.max_chars),
            int(max_terms or 0),
        )

    def encode(self, text: str) -> str | None:
        """The query of `text` as ``"term weight ..."`` (ascending token id), or None."""
        return self._java.encode(text)


def _fusion_args(depth: int, k: int, fusion: str, alpha: float, rrf_k: int) -> tuple:
    """The fusion settings as TopHits.hybrid* take them (rrfK < 0 asks for interpolation)."""
    if fusion not in ("interpolate", "rrf"):
        raise ValueError(f"unknown fusion {fusion!r}; choose interpolate or rrf")
    return (int(depth), int(k), float(alpha), int(rrf_k) if fusion == "rrf" else -1)


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
        raise ValueError(f"{len(queries)} sparse queries for {len(texts)} texts")
    args = _fusion_args(depth, k, fusion, alpha, rrf_k)
    if k <= 0 or not texts:
        return [[] for _ in texts]
    encoded = [sparse._encode(q) or "" for q in queries]
    tophits = _java().TopHits
    if len(texts) == 1:
        # one query: `concurrent` runs BM25 on a second Java thread beside the sparse search
        found = [
            tophits.hybrid(
                sparse._searcher, encoded[0], lexical._searcher, texts[0], *args, concurrent
            )
        ]
    else:
        found = tophits.hybridAll(
            sparse._searcher, encoded, lexical._searcher, list(texts), *args, max(1, int(threads))
        )
    return [_parse_hits(rendered, integer=False) for rendered in found]


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
    args = _fusion_args(depth, k, fusion, alpha, rrf_k)
    if k <= 0 or not texts:
        return [[] for _ in texts]
    tophits, java = _java().TopHits, queries._java
    if len(texts) == 1:  # a Java String[] costs more to build than one search
        found = [tophits.hybridText(sparse._searcher, java, lexical._searcher, texts[0], *args)]
    else:
        found = tophits.hybridAllText(
            sparse._searcher, java, lexical._searcher, list(texts), *args, max(1, int(threads))
        )
    return [None if r is None else _parse_hits(r, integer=False) for r in found]


class BM25Index(_TopHitsIndex):
    """A Lucene BM25 index (built by :func:`build_bm25_index`), k1=0.9, b=0.4 by default.

    Queries are analysed like the documents (Anserini's default English analyzer: Porter
    stemmer, English stopwords); scores are Lucene's BM25 floats.
    """

    def __init__(self, index_dir: str | Path, k1: float = BM25_K1, b: float = BM25_B) -> None:
        super().__init__(
            index_dir,
            lambda: _java().TopHits.bm25(str(index_dir), CONTENTS_FIELD, float(k1), float(b)),
        )

    def _encode(self, text: str) -> str | None:
        return text if text.strip() else None


class _Reader:
    """A Lucene ``DirectoryReader`` opened on a folder, as a context manager."""

    def __init__(self, index_dir: str | Path) -> None:
        path = _check_index_dir(index_dir)
        java = _java()
        self.java = java
        self._directory = java.FSDirectory.open(java.File(str(path)).toPath())
        try:
            self.reader = _opened(path, lambda: java.DirectoryReader.open(self._directory))
        except BaseException:
            self._directory.close()
            raise

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.reader.close()
        self._directory.close()


def count_documents(index_dir: str | Path) -> int:
    """Number of (live) documents in a Lucene index."""
    with _Reader(index_dir) as r:
        return int(r.reader.numDocs())


def index_terms_df(index_dir: str | Path, field: str = CONTENTS_FIELD) -> dict[str, int]:
    """Document frequency of every term of ``field`` (the empty-document marker left out).

    Counts come from Lucene's term dictionary, so documents deleted but not yet merged
    away would still count; indexes built here have none.
    """
    out: dict[str, int] = {}
    with _Reader(index_dir) as r:
        # per segment, summed: the same as Lucene's merged view, without its overloads
        for leaf_context in r.reader.leaves().toArray():
            terms = leaf_context.reader().terms(field)
            if terms is None:
                continue
            terms_enum = terms.iterator()
            term = terms_enum.next()
            while term is not None:
                token = term.utf8ToString()
                out[token] = out.get(token, 0) + int(terms_enum.docFreq())
                term = terms_enum.next()
    out.pop(EMPTY_DOC_TOKEN, None)
    return out


def read_document_vectors(
    index_dir: str | Path, field: str = CONTENTS_FIELD
) -> Iterator[tuple[str, dict[str, int]]]:
    """Every document of an impact index as ``(docid, {token: impact})``, in index order.

    Impacts are the stored term frequencies, read from the postings, so this works without
    ``-storeDocvectors``. A document whose only term is the empty-document marker comes
    back with an empty dict. Postings are held as three int32 arrays (12 bytes each) for
    one segment at a time, plus the segment's term strings.
    """
    with _Reader(index_dir) as r:
        for leaf_context in r.reader.leaves().toArray():
            yield from _read_leaf(r.java, leaf_context.reader(), field)


def _read_leaf(
    java: SimpleNamespace, leaf: Any, field: str
) -> Iterator[tuple[str, dict[str, int]]]:
    """The documents of one index segment (see :func:`read_document_vectors`)."""
    tokens: list[str] = []
    term_of = array("i")
    doc_of = array("i")
    freq_of = array("i")
    no_more = java.NO_MORE_DOCS
    terms = leaf.terms(field)
    if terms is not None:
        terms_enum = terms.iterator()
        postings = None
        term = terms_enum.next()
        while term is not None:
            term_index = len(tokens)
            tokens.append(term.utf8ToString())
            postings = terms_enum.postings(postings, java.FREQS)
            doc = postings.nextDoc()
            while doc != no_more:
                term_of.append(term_index)
                doc_of.append(doc)
                freq_of.append(postings.freq())
                doc = postings.nextDoc()
            term = terms_enum.next()
    docs = np.frombuffer(doc_of, dtype=np.int32) if doc_of else np.zeros(0, np.int32)
    order = np.argsort(docs, kind="stable")  # stable: a document's terms stay in term order
    docs = docs[order]
    term_ids = (np.frombuffer(term_of, dtype=np.int32) if term_of else docs)[order]
    freqs = (np.frombuffer(freq_of, dtype=np.int32) if freq_of else docs)[order]
    starts = np.searchsorted(docs, np.arange(leaf.maxDoc() + 1))
    live = leaf.getLiveDocs()
    stored = leaf.storedFields()
    for doc in range(leaf.maxDoc()):
        if live is not None and not live.get(doc):
            continue
        docid = stored.document(doc).get(ID_FIELD)
        lo, hi = int(starts[doc]), int(starts[doc + 1])
        vector = {
            tokens[t]: int(f) for t, f in zip(term_ids[lo:hi].tolist(), freqs[lo:hi].tolist())
        }
        vector.pop(EMPTY_DOC_TOKEN, None)
        yield docid, vector
