"""Search an index: query text -> query vector encoded as the index says -> Lucene -> hits.

Everything needed to encode a query like the documents (model, mode, scale, IDF, tokenizer,
max length) is read from the index folder, never passed again by hand.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, overload

from splade_lite import metadata as md
from splade_lite.encoders.base import TOKENIZER_LOCK
from splade_lite.feedback import Feedback, rocchio
from splade_lite.fusion import Hybrid
from splade_lite.index_folder import (
    IndexChangedError,
    identity,
    load_query_encoder,
    open_forward,
    read_documents,
)
from splade_lite.indexer.limits import bm25_query_problem, check_threads
from splade_lite.pruning import Pruning, default_pruning
from splade_lite.vectors import SparseVector, quantize_to_terms


class Hit(NamedTuple):
    """One ranked document: its id and its score (the integer dot product, for impact search).

    A named tuple (``docid, score = hit`` works): it is made for every hit of every query.
    """

    docid: str
    score: float


class TextHit(NamedTuple):
    """A :class:`Hit` with its document's title and the start of its text."""

    docid: str
    score: float
    title: str
    text: str


def _query_pair(pair: Any) -> tuple[str, str]:
    """One ``(qid, text)`` of a batch, checked (a clear error instead of an unpacking one)."""
    if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
        raise TypeError(f"expected query texts or (query id, text) pairs, got {pair!r:.80}")
    return pair


class Searcher:
    """Searches one splade-lite index.

    ``Searcher(index_dir)`` ranks by the learned sparse vectors (mode as built);
    ``Searcher(index_dir, bm25=True)`` ranks with the BM25 index built beside it
    (``splade-lite index ... --bm25-corpus``); ``hybrid=True`` (or a :class:`Hybrid`) fuses
    the two; ``feedback=True`` (or a :class:`Feedback`) adds a round of sparse
    pseudo-relevance feedback to the learned sparse search. `pruning` shortens queries
    (default: :func:`default_pruning` of the index; ``Pruning()`` keeps every term).

    An index whose metadata disagrees with how its documents were encoded (model, weights'
    hash, scale, max length), or whose model's weights changed since, is refused.

    One searcher may be shared by threads: results are those of serial calls. Query encoding
    is serialised where the tokenizer needs it; the Lucene searches run in parallel.

    Inference-free queries are tokenized and weighted in Java, in the same call as the
    search (:class:`~splade_lite.indexer.IdfQueries`, checked against the Python encoder
    when it is made); texts it does not take (non-ASCII, added tokens such as ``[CLS]``) are
    encoded in Python. Rankings are the same.
    """

    def __init__(
        self,
        index_dir: str | Path,
        *,
        bm25: bool = False,
        hybrid: bool | Hybrid = False,
        feedback: bool | Feedback = False,
        pruning: Pruning | None = None,
        device: str | None = None,
    ) -> None:
        self.index_dir = Path(index_dir)
        self._identity = identity(self.index_dir)
        self.meta = md.read_index_meta(self.index_dir)
        self._check_meta()
        if bm25 and (hybrid or feedback):
            raise ValueError(
                "bm25 ranks with BM25 alone; hybrid and feedback need the sparse index"
            )
        self.mode = "bm25" if bm25 else self.meta["mode"]
        self.hybrid = Hybrid() if hybrid is True else (hybrid or None)
        self.feedback = Feedback() if feedback is True else (feedback or None)
        if pruning is None and not bm25:
            pruning = default_pruning(self.meta)
        self.pruning = pruning if pruning is not None and pruning.active else None
        self.scale = float(self.meta["scale"])
        self._device = device
        self._lazy_lock = threading.Lock()  # one load of the encoder / forward index
        self._encoder = None
        self._forward = None
        self._bm25 = self._open_bm25() if (bm25 or self.hybrid) else None
        self._impact = None
        self._text_queries: Any = False  # IdfQueries, or None where they do not apply
        if not bm25:
            from splade_lite.indexer import ImpactIndex

            self._impact = ImpactIndex(self.index_dir)
        self._unchanged()  # the metadata read above belong to the Lucene index opened

    def check_queries(self, texts: Sequence[str], names: Sequence[str] | None = None) -> None:
        """Refuse, before any search, a text this searcher could not take (a BM25 query past
        Lucene's clause limit); `names` (query ids) go into the message."""
        if self._bm25 is None:
            return  # learned sparse queries of any length are searched
        for i, text in enumerate(texts):
            problem = bm25_query_problem(text)
            if problem:
                name = repr(names[i]) if names is not None else f"number {i + 1}"
                raise ValueError(f"query {name}: {problem}")

    def _unchanged(self) -> None:
        """Refuse to read more files of an index folder replaced since the searcher opened it.

        Lucene keeps the files it opened, but titles, IDF, tokenizer and forward index are
        read later by path: after ``index --overwrite`` they would come from the new index
        and mix with the old one's rankings.
        """
        if identity(self.index_dir) != self._identity:
            raise IndexChangedError(
                f"{self.index_dir} was replaced (rebuilt?) after this searcher opened it; "
                "open it again to search the new index"
            )

    def _check_meta(self) -> None:
        """Refuse metadata that is malformed or disagrees with the documents' encoding."""
        where = self.index_dir / md.INDEX_META
        problems = md.index_meta_problems(self.meta)
        if problems:
            raise md.MetadataError(f"{where}: {'; '.join(problems)}")
        encoded = self.index_dir / md.VECTORS_META
        if encoded.is_file():  # absent in indexes built before it was kept
            mismatches = md.encoding_mismatches(self.meta, md.read_json(encoded, "index"))
            if mismatches:
                raise md.MetadataError(
                    f"{self.index_dir}: {'; '.join(mismatches)}. Queries would not be weighted "
                    "like the documents; rebuild the index with `splade-lite index VECTORS "
                    f"--out {self.index_dir} --overwrite`"
                )

    def _open_bm25(self):
        from splade_lite.indexer import BM25Index

        bm25_dir = self.index_dir / md.BM25_DIR
        if not self.meta.get("bm25") or not bm25_dir.is_dir():
            raise FileNotFoundError(
                f"{self.index_dir} has no BM25 index; rebuild it with "
                "`splade-lite index VECTORS --out INDEX --bm25-corpus CORPUS`"
            )
        return BM25Index(bm25_dir, k1=self.meta["bm25"]["k1"], b=self.meta["bm25"]["b"])

    @property
    def forward(self):
        """Document id -> impact vector (``forward.npz``), for feedback and explanations."""
        with self._lazy_lock:
            if self._forward is None:
                self._unchanged()
                forward = open_forward(self.index_dir)  # memory-mapped: stays the file opened
                self._unchanged()
                self._forward = forward
        return self._forward

    # -- query encoding -----------------------------------------------------------------------
    @property
    def encoder(self):
        """The query encoder the index asks for (loaded on first use)."""
        with self._lazy_lock:
            if self._encoder is None:
                self._unchanged()
                encoder = load_query_encoder(self.index_dir, self.meta, self.mode, self._device)
                self._unchanged()
                self._encoder = encoder
        return self._encoder

    def query_vectors(self, texts: Sequence[str]) -> list[SparseVector]:
        """Float query vectors, as the encoder gives them."""
        return self.encoder.encode_queries(list(texts))

    def query_terms(self, texts: Sequence[str]) -> list[dict[str, int]]:
        """Quantised queries ``{index term: integer weight}``, what Lucene is given."""
        out = self._unpruned_terms(texts)
        if self.pruning is not None:
            out = [self.pruning.apply(q, self.scale) for q in out]
        return out

    def pruned_terms(self, text: str) -> dict[str, int]:
        """The terms of `text`'s query that :attr:`pruning` drops (none without pruning)."""
        if self.pruning is None:
            return {}
        (full,) = self._unpruned_terms([text])
        kept = self.pruning.apply(full, self.scale)
        return {t: w for t, w in full.items() if t not in kept}

    def _unpruned_terms(self, texts: Sequence[str]) -> list[dict[str, int]]:
        fast = getattr(self.encoder, "quantized_terms", None)
        if fast is not None:  # inference-free: a table lookup per token
            return fast(list(texts), self.scale)
        terms = self.encoder.terms
        return [quantize_to_terms(v, terms, self.scale) for v in self.query_vectors(texts)]

    # -- search ---------------------------------------------------------------------------------
    def search(self, query: str, k: int = 10, *, text: bool = False) -> list[Hit] | list[TextHit]:
        """The top `k` documents for one query text (a blank query is an error).

        `text`: hits carry the document's title and the start of its text (:class:`TextHit`).
        """
        hits = self._search(query, k)
        return self.with_text(hits) if text else hits

    def _search(self, query: str, k: int) -> list[Hit]:
        if not query.strip():
            raise ValueError("the query is empty")
        _check_k(k)  # a k beyond the index is cut to it where Java is called (indexer/)
        self.check_queries([query])
        # the common cases straight to Lucene: at a tenth of a millisecond a query, each
        # layer of list wrapping shows
        if self.mode == "bm25":
            return list(map(Hit._make, self._bm25.search(query, k)))
        if self.feedback is None:
            in_java = self._java_queries()
            if in_java is not None:  # inference-free: tokenized and weighted in Java
                if self.hybrid is None:
                    found = self._impact.search_text(in_java, query, k)
                else:
                    found = self._fused_text(in_java, [query], k, threads=1)[0]
                if found is not None:
                    return list(map(Hit._make, found))
            terms = self.query_terms([query])
            if self.hybrid is None:
                return list(map(Hit._make, self._impact.search(terms[0], k)))
            return list(map(Hit._make, self._fused(terms, [query], k, threads=1)[0]))
        return self._batch_search([query], k, 1)[0]

    def _java_queries(self):
        """The Java builder of this index's inference-free queries (made on first use), or
        None: another mode, a tokenizer it cannot copy, or a disagreement with the Python
        encoder on the probe texts."""
        if self._text_queries is False:
            self._text_queries = self._make_java_queries()
        return self._text_queries

    def _make_java_queries(self):
        if self.mode != "inference-free":
            return None
        encoder = self.encoder
        wordpiece = getattr(encoder, "wordpiece", None)
        if wordpiece is None or wordpiece.wordpiece is None:
            return None
        from splade_lite.encoders.fast_wordpiece import PROBES
        from splade_lite.indexer import IdfQueries

        floor = self.pruning.floor(self.scale) if self.pruning else 0
        weights = [w if w >= floor else 0 for w in encoder.quantized_table(self.scale)]
        max_terms = self.pruning.max_terms if self.pruning else None
        if max_terms is not None:  # a Java int; no query has more terms than the vocabulary
            max_terms = min(max_terms, len(weights))
        built = IdfQueries(wordpiece, encoder.terms[: len(weights)], weights, max_terms)
        for probe in PROBES + [p.lower() for p in PROBES]:
            in_java = built.encode(probe)
            if in_java is not None and in_java != (
                self._impact._encode(self.query_terms([probe])[0]) or ""
            ):
                warnings.warn(
                    f"{self.index_dir}: the Java query builder disagrees with the Python "
                    f"encoder on {probe!r}; queries are encoded in Python (same results, "
                    "slower). Please report this.",
                    RuntimeWarning,
                    stacklevel=3,
                )
                return None
        return built

    @overload
    def batch_search(
        self, queries: Sequence[str], k: int = ..., threads: int = ..., *, text: bool = ...
    ) -> list[list[Hit]]: ...

    @overload
    def batch_search(
        self,
        queries: Mapping[str, str] | Sequence[tuple[str, str]],
        k: int = ...,
        threads: int = ...,
        *,
        text: bool = ...,
    ) -> dict[str, list[Hit]]: ...

    def batch_search(self, queries, k: int = 10, threads: int = 1, *, text: bool = False):
        """The top `k` documents for each query, searched by `threads` Java threads.

        `queries` is a list of texts (the result: a list of hit lists, in the same order), or
        query ids with their texts, as a mapping ``{qid: text}`` or ``(qid, text)`` pairs (the
        result: a run ``{qid: hits}``, which :func:`splade_lite.write_trec_run` writes). A
        blank query matches nothing (an empty list): encoding it would only rank documents by
        the model's expansion of the special tokens. `text` as for :meth:`search`.
        """
        if isinstance(queries, Mapping):
            pairs = list(queries.items())
        elif isinstance(queries, str):
            raise TypeError("batch_search takes a list of queries; use search for one")
        else:
            queries = list(queries)
            pairs = queries if queries and not isinstance(queries[0], str) else None
        if pairs is None:
            found = self._batch_search(queries, k, threads)
            return [self.with_text(h) for h in found] if text else found
        ids = [_query_pair(pair)[0] for pair in pairs]
        if len(set(ids)) != len(ids):
            raise ValueError("a query id appears twice")
        found = self._batch_search([_query_pair(pair)[1] for pair in pairs], k, threads)
        return {qid: self.with_text(h) if text else h for qid, h in zip(ids, found)}

    def with_text(self, hits: Sequence[Hit]) -> list[TextHit]:
        """`hits` with each document's title and the start of its text (one scan of
        ``docs.jsonl.gz``; empty strings for an index built without it)."""
        docs = self.documents(h.docid for h in hits)
        shown = [docs.get(h.docid, {}) for h in hits]
        return [
            TextHit(h.docid, h.score, d.get("title", ""), d.get("text", ""))
            for h, d in zip(hits, shown)
        ]

    def _batch_search(self, queries: Sequence[str], k: int, threads: int) -> list[list[Hit]]:
        _check_k(k)  # a k beyond the index is cut to it where Java is called (indexer/)
        queries = list(queries)
        threads = check_threads(threads, len(queries))
        self.check_queries(queries)
        if self.mode == "bm25":  # blank texts match nothing in BM25Index
            return _as_hits(self._bm25.batch_search(queries, k, threads))
        results: list[list[Hit] | None] = [None if q.strip() else [] for q in queries]
        todo = [i for i, r in enumerate(results) if r is None]
        in_java = self._java_queries() if self.feedback is None and todo else None
        if in_java is not None:  # inference-free: tokenized and weighted in Java
            texts = [queries[i] for i in todo]
            if self.hybrid is None:
                found = self._impact.batch_search_text(in_java, texts, k, threads)
            else:
                found = self._fused_text(in_java, texts, k, threads)
            for i, hits in zip(todo, found):
                results[i] = None if hits is None else list(map(Hit._make, hits))
            todo = [i for i in todo if results[i] is None]  # left to Python (non-ASCII...)
        if todo:
            texts = [queries[i] for i in todo]
            terms = self.query_terms(texts)
            if self.hybrid is None:
                found = self.batch_search_terms(terms, k, threads)
            else:
                if self.feedback is not None:
                    terms = self.expand(terms, threads)
                found = _as_hits(self._fused(terms, texts, k, threads))
            for i, hits in zip(todo, found):
                results[i] = hits
        return results  # type: ignore[return-value]  # every entry is filled

    def _fused(
        self, terms: Sequence[dict[str, int]], texts: Sequence[str], k: int, threads: int
    ) -> list[list[tuple[str, float]]]:
        """The hybrid fusion of each query's sparse search (`terms`) and BM25 search (`texts`)."""
        from splade_lite.indexer import hybrid_search

        return hybrid_search(
            self._impact, self._bm25, terms, texts, threads=threads, **self._fusion(k)
        )

    def _fused_text(
        self, in_java, texts: Sequence[str], k: int, threads: int
    ) -> list[list[tuple[str, float]] | None]:
        """:meth:`_fused` of texts whose sparse queries are built in Java (None: not handled)."""
        from splade_lite.indexer import hybrid_text_search

        return hybrid_text_search(
            self._impact, in_java, self._bm25, texts, threads=threads, **self._fusion(k)
        )

    def _fusion(self, k: int) -> dict[str, Any]:
        """How the top `k` of a hybrid search are fused (the hybrid settings, depth resolved)."""
        h = self.hybrid
        assert h is not None
        depth = h.depth_for(self.mode, k)
        return {"depth": depth, "k": k, "fusion": h.fusion, "alpha": h.alpha, "rrf_k": h.rrf_k}

    def batch_search_terms(
        self, queries: Sequence[dict[str, int]], k: int = 10, threads: int = 1
    ) -> list[list[Hit]]:
        """Learned sparse search with quantised queries ``{index term: integer weight}``.

        For callers that look at the query terms too (explanations, feedback), so that a
        query is encoded once. An empty query matches nothing. With feedback on, each query
        is expanded from its first-round top documents and searched again.
        """
        if self._impact is None:
            raise ValueError("a BM25 searcher takes query texts, not term weights")
        _check_k(k)  # a k beyond the index is cut to it where Java is called (indexer/)
        threads = check_threads(threads, len(queries))
        return _as_hits(self._sparse_search(queries, k, threads))

    def _sparse_search(
        self, queries: Sequence[dict[str, int]], k: int, threads: int
    ) -> list[list[tuple[str, float]]]:
        """Impact search (after feedback when it is on), as plain ``(docid, score)`` lists."""
        queries = list(queries)
        if self.feedback is not None:
            queries = self.expand(queries, threads)
        return self._impact.batch_search(queries, k, threads)

    def expand(self, queries: Sequence[dict[str, int]], threads: int = 1) -> list[dict[str, int]]:
        """The queries after pseudo-relevance feedback (first round on the impact index)."""
        settings = self.feedback or Feedback()
        first = self._impact.batch_search(list(queries), settings.docs, threads)
        return [
            rocchio(q, self.forward.vectors([d for d, _ in hits]), settings) if hits else dict(q)
            for q, hits in zip(queries, first)
        ]

    # -- explaining --------------------------------------------------------------------------
    def explain(self, query: str, docid: str):
        """Why `docid` gets its learned sparse score for `query`: an ``explain.Explanation``.

        Each matched term's contribution is query weight × document weight; they add up to
        the score of :meth:`search` (after feedback, when it is on).
        """
        from splade_lite.encode import SNIPPET_CHARS
        from splade_lite.explain import explain

        if self._impact is None:
            raise ValueError("explain shows learned sparse scores; open the index without bm25")
        if not query.strip():
            raise ValueError("the query is empty")
        try:  # before the query encoder loads
            doc_terms = self.forward.vector(docid)
        except KeyError:
            raise KeyError(f"document {docid!r} is not in {self.index_dir}") from None
        terms = self.query_terms([query])[0]
        if self.feedback is not None:
            terms = self.expand([terms])[0]
        tokenizer = self.encoder.tokenizer

        def tokenize(text: str) -> list[str]:
            with TOKENIZER_LOCK:
                return tokenizer.tokenize(text)

        doc = self.documents([docid]).get(docid)
        doc_tokens = None
        if doc is not None and len(doc.get("text", "")) < SNIPPET_CHARS:  # the whole text
            doc_tokens = tokenize(" ".join(x for x in (doc.get("title"), doc.get("text")) if x))
        return explain(terms, doc_terms, docid, tokenize(query), doc_tokens)

    # -- showing hits ---------------------------------------------------------------------------
    def documents(self, docids: Iterable[str]) -> dict[str, dict]:
        """Title and start of text of the given documents, from ``docs.jsonl.gz`` (one scan)."""
        wanted = set(docids)
        if not wanted:
            return {}
        self._unchanged()
        found = read_documents(self.index_dir, wanted)
        self._unchanged()
        return found


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int):
        raise ValueError(f"k must be a whole number, got {k!r}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def _as_hits(results: list[list[tuple[str, float]]]) -> list[list[Hit]]:
    return [list(map(Hit._make, hits)) for hits in results]
