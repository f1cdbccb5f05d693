"""Search an index: query text -> query vector encoded as the index says -> Lucene -> hits.

Everything needed to encode a query like the documents (model, mode, scale, IDF, tokenizer,
max length) is read from the index folder, never passed again by hand.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, overload

from splade_lite import metadata as md
from splade_lite.encoders.base import TOKENIZER_LOCK
from splade_lite.errors import BadValueError, MissingFileError, UnknownIdError
from splade_lite.feedback import Feedback
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
from splade_lite.retrievers import (
    Dense,
    EngineImpact,
    Fused,
    LearnedSparse,
    Lexical,
    QueryTerms,
    Retriever,
    ThreeWay,
)
from splade_lite.vectors import SparseVector
from splade_lite.vectors_folder import SNIPPET_CHARS


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
    pseudo-relevance feedback to the learned sparse search. ``dense=True`` ranks with the
    dense index built beside it (``index ... --dense-model``), by exact dot product of the
    model's query embedding; with `hybrid`, the dense list is the third one fused (weights and
    normalisation of the :class:`Hybrid`). The dense model loads on the first query.
    `pruning` shortens queries (default: :func:`default_pruning` of the index; ``Pruning()``
    keeps every term).

    An index whose metadata disagrees with how its documents were encoded (model, weights'
    hash, scale, max length), or whose model's weights changed since, is refused.

    One searcher may be shared by threads: results are those of serial calls. Query encoding
    is serialised where the tokenizer needs it; the Lucene searches run in parallel.

    Inference-free queries are tokenized and weighted in Java, in the same call as the
    search (:class:`~splade_lite.indexer.IdfQueries`, checked against the Python encoder
    when it is made); texts it does not take (non-ASCII, added tokens such as ``[CLS]``) are
    encoded in Python. Rankings are the same.

    `engine` answers the learned sparse queries: by default the one the index was built with
    (``index --engine``), ``"lucene"`` for Lucene's exact search in any index. `engine_search`
    holds the engine's query-time settings (Seismic: a
    :class:`~splade_lite.engines.seismic.SeismicSearch`; default its fast approximate one,
    ``SeismicSearch.exact()`` ranks as Lucene does).
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
        java_queries: bool = True,
        engine: str | None = None,
        engine_search: Any = None,
        dense: bool = False,
    ) -> None:
        self.index_dir = Path(index_dir)
        self._identity = identity(self.index_dir)
        self.meta = md.read_index_meta(self.index_dir)
        self._check_meta()
        if bm25 and (hybrid or feedback):
            raise BadValueError(
                "bm25 ranks with BM25 alone; hybrid and feedback need the sparse index"
            )
        if dense and (bm25 or (feedback and not hybrid)):
            raise BadValueError(
                "dense ranks alone or as the third list of a hybrid: not with bm25, and "
                "feedback needs the learned sparse list (hybrid=True)"
            )
        #: How the index's documents (and so its queries) are encoded.
        self.mode: str = self.meta["mode"]
        #: Whether the dense list ranks (alone) or is fused (with `hybrid`).
        self.dense: bool = bool(dense)
        #: What ranks: ``"bm25"``, ``"dense"`` or :attr:`mode`.
        self.ranking: str = "bm25" if bm25 else "dense" if dense and not hybrid else self.mode
        #: What answers learned sparse queries: ``"lucene"`` or an engine of ``md.ENGINES``.
        self.engine: str = "lucene"
        self.hybrid = Hybrid() if hybrid is True else (hybrid or None)
        self.feedback = Feedback() if feedback is True else (feedback or None)
        if self.hybrid is not None:
            self.hybrid.check_partners(self.dense)
        if pruning is None and not bm25:
            pruning = default_pruning(self.meta)
        self.scale = float(self.meta["scale"])
        self._lazy_lock = threading.Lock()  # one load of the forward index
        self._forward = None
        #: Query texts -> integer queries (``java_queries=False``: always built in Python).
        self.queries = QueryTerms(
            lambda: self._while_unchanged(
                lambda: load_query_encoder(self.index_dir, self.meta, self.mode, device)
            ),
            mode=self.mode,
            scale=self.scale,
            pruning=pruning,
            java=java_queries,
            where=self.index_dir,
        )
        self._retriever: Retriever
        self._sparse: LearnedSparse | None = None
        self._dense = self._open_dense(device) if dense else None
        lexical = Lexical(self._open_bm25()) if (bm25 or self.hybrid) else None
        if bm25:
            self._retriever = lexical  # type: ignore[assignment]
        elif self.ranking == "dense":
            self._retriever = self._dense  # type: ignore[assignment]
        else:
            self._sparse = LearnedSparse(
                self._open_impact(engine, engine_search),
                self.queries,
                self.feedback,
                lambda: self.forward,
            )
            self._retriever = self._sparse
            if self.hybrid is not None and self._dense is not None:
                self._retriever = ThreeWay(self._sparse, lexical, self._dense, self.hybrid)  # type: ignore[arg-type]
            elif self.hybrid is not None:
                self._retriever = Fused(self._sparse, lexical, self.hybrid)  # type: ignore[arg-type]
        self._lexical = lexical
        self._unchanged()  # the metadata read above belong to the Lucene index opened

    @property
    def pruning(self) -> Pruning | None:
        """How queries are shortened (None: every term kept)."""
        return self.queries.pruning

    def check_queries(self, texts: Sequence[str], names: Sequence[str] | None = None) -> None:
        """Refuse, before any search, a text this searcher could not take (a BM25 query past
        Lucene's clause limit); `names` (query ids) go into the message."""
        if self._lexical is None:
            return  # learned sparse queries of any length are searched
        for i, text in enumerate(texts):
            problem = bm25_query_problem(text)
            if problem:
                name = repr(names[i]) if names is not None else f"number {i + 1}"
                raise BadValueError(f"query {name}: {problem}")

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

    def _while_unchanged(self, read: Callable[[], Any]) -> Any:
        """`read()` of files of the index folder, refused if the folder was replaced."""
        self._unchanged()
        found = read()
        self._unchanged()
        return found

    def _check_meta(self) -> None:
        """Refuse metadata that is malformed or disagrees with the documents' encoding."""
        where = self.index_dir / md.INDEX_META
        problems = md.index_meta_problems(self.meta)
        if problems:
            raise md.MetadataError(f"{where}: {'; '.join(problems)}")
        encoded = self.index_dir / md.VECTORS_META
        if not encoded.is_file():
            raise md.MetadataError(
                f"{self.index_dir} has no {md.VECTORS_META}: the index is incomplete; rebuild "
                f"it with `splade-lite index VECTORS --out {self.index_dir} --overwrite`"
            )
        mismatches = md.encoding_mismatches(self.meta, md.read_json(encoded, "index"))
        if mismatches:
            raise md.MetadataError(
                f"{self.index_dir}: {'; '.join(mismatches)}. Queries would not be weighted "
                "like the documents; rebuild the index with `splade-lite index VECTORS "
                f"--out {self.index_dir} --overwrite`"
            )

    def _open_impact(self, engine: str | None, settings: Any):
        """The index that answers learned sparse queries: Lucene's, or the engine's."""
        built = (self.meta.get("engine") or {}).get("name", "lucene")
        self.engine = engine or built
        if self.engine not in md.ENGINES:
            raise BadValueError(
                f"unknown engine {self.engine!r}; choose one of {', '.join(md.ENGINES)}"
            )
        if self.engine == "lucene":
            if settings is not None:
                raise BadValueError("engine_search sets an accelerated engine, not Lucene")
            from splade_lite.indexer import ImpactIndex

            return ImpactIndex(md.lucene_folders(self.index_dir, self.meta))
        if self.engine != built:
            raise MissingFileError(
                f"{self.index_dir} has no {self.engine} engine; rebuild it with "
                f"`splade-lite index VECTORS --out INDEX --engine {self.engine}`"
            )
        from splade_lite.engines.seismic import SeismicIndex, SeismicSearch

        engine_dir = self.index_dir / md.ENGINE_DIRS[self.engine]
        index = self._while_unchanged(lambda: SeismicIndex.open(engine_dir))
        return EngineImpact(index, settings if settings is not None else SeismicSearch())

    def _open_bm25(self):
        from splade_lite.indexer import BM25Index

        bm25_dir = self.index_dir / md.BM25_DIR
        if not self.meta.get("bm25") or not bm25_dir.is_dir():
            raise MissingFileError(
                f"{self.index_dir} has no BM25 index; rebuild it with "
                "`splade-lite index VECTORS --out INDEX --bm25-corpus CORPUS`"
            )
        return BM25Index(bm25_dir, k1=self.meta["bm25"]["k1"], b=self.meta["bm25"]["b"])

    def _open_dense(self, device: str | None) -> Dense:
        from splade_lite.index_dense import dense_record, load_index_dense_model
        from splade_lite.indexer.dense import DenseIndex

        record = dense_record(self.index_dir, self.meta)
        index = DenseIndex(self.index_dir / md.DENSE_DIR)

        def load():
            return self._while_unchanged(
                lambda: load_index_dense_model(self.index_dir, record, device)
            )

        return Dense(index, load, record["dim"])

    def take_dense_seconds(self) -> list[float]:
        """Seconds each dense query encoding took since the last call (empty without dense)."""
        return self._dense.timings.take() if self._dense is not None else []

    @property
    def forward(self):
        """Document id -> impact vector (``forward.npz``), for feedback and explanations."""
        with self._lazy_lock:
            if self._forward is None:  # memory-mapped: stays the file opened
                self._forward = self._while_unchanged(lambda: open_forward(self.index_dir))
        return self._forward

    # -- query encoding -----------------------------------------------------------------------
    @property
    def encoder(self):
        """The query encoder the index asks for (loaded on first use)."""
        return self.queries.encoder

    def query_vectors(self, texts: Sequence[str]) -> list[SparseVector]:
        """Float query vectors, as the encoder gives them."""
        return self.queries.vectors(texts)

    def query_terms(self, texts: Sequence[str]) -> list[dict[str, int]]:
        """Quantised queries ``{index term: integer weight}``, what Lucene is given."""
        return self.queries.terms(texts)

    def pruned_terms(self, text: str) -> dict[str, int]:
        """The terms of `text`'s query that :attr:`pruning` drops (none without pruning)."""
        return self.queries.pruned(text)

    # -- search ---------------------------------------------------------------------------------
    def search(self, query: str, k: int = 10, *, text: bool = False) -> list[Hit] | list[TextHit]:
        """The top `k` documents for one query text (a blank query is an error).

        `text`: hits carry the document's title and the start of its text (:class:`TextHit`).
        """
        if not query.strip():
            raise BadValueError("the query is empty")
        hits = self._batch_search([query], k, 1)[0]
        return self.with_text(hits) if text else hits

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
            raise BadValueError("a query id appears twice")
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
        """The one search path: checks, blank texts answered, the rest to the retriever."""
        _check_k(k)  # a k beyond the index is cut to it where Java is called (indexer/)
        queries = list(queries)
        threads = check_threads(threads, len(queries))
        self.check_queries(queries)
        todo = [i for i, q in enumerate(queries) if q.strip()]
        if len(todo) == len(queries):
            return _as_hits(self._retriever.retrieve(queries, k, threads))
        results: list[list[Hit]] = [[] for _ in queries]
        if todo:
            found = self._retriever.retrieve([queries[i] for i in todo], k, threads)
            for i, hits in zip(todo, found):
                results[i] = list(map(Hit._make, hits))
        return results

    def batch_search_terms(
        self, queries: Sequence[dict[str, int]], k: int = 10, threads: int = 1
    ) -> list[list[Hit]]:
        """Learned sparse search with quantised queries ``{index term: integer weight}``.

        For callers that look at the query terms too (explanations, feedback), so that a
        query is encoded once. An empty query matches nothing. With feedback on, each query
        is expanded from its first-round top documents and searched again.
        """
        _check_k(k)  # a k beyond the index is cut to it where Java is called (indexer/)
        threads = check_threads(threads, len(queries))
        return _as_hits(self._learned_sparse("term weights").search_terms(queries, k, threads))

    def expand(self, queries: Sequence[dict[str, int]], threads: int = 1) -> list[dict[str, int]]:
        """The queries after pseudo-relevance feedback (first round on the impact index)."""
        return self._learned_sparse("term weights").expand(queries, threads)

    def _learned_sparse(self, what: str) -> LearnedSparse:
        if self._sparse is None:
            ranker = "BM25" if self.ranking == "bm25" else "dense"
            raise BadValueError(f"a {ranker} searcher takes query texts, not {what}")
        return self._sparse

    # -- explaining --------------------------------------------------------------------------
    def explain(self, query: str, docid: str):
        """Why `docid` gets its learned sparse score for `query`: an ``explain.Explanation``.

        Each matched term's contribution is query weight × document weight; they add up to
        the score of :meth:`search` (after feedback, when it is on).
        """
        from splade_lite.explain import explain

        if self._sparse is None:
            raise BadValueError(
                f"explain shows learned sparse scores; open the index without {self.ranking}"
            )
        if not query.strip():
            raise BadValueError("the query is empty")
        try:  # before the query encoder loads
            doc_terms = self.forward.vector(docid)
        except KeyError:
            raise UnknownIdError(f"document {docid!r} is not in {self.index_dir}") from None
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
        return self._while_unchanged(lambda: read_documents(self.index_dir, wanted))


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int):
        raise BadValueError(f"k must be a whole number, got {k!r}")
    if k < 1:
        raise BadValueError(f"k must be at least 1, got {k}")


def _as_hits(results: list[list[tuple[str, float]]]) -> list[list[Hit]]:
    return [list(map(Hit._make, hits)) for hits in results]
