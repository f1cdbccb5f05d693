"""The parts a :class:`~splade_lite.search.Searcher` is composed of.

- :class:`QueryTerms`: query texts -> integer ``{index term: weight}`` queries, weighted as the
  index's documents were (its query encoder, scale and query pruning).
- :class:`LearnedSparse`: those queries on the impact index, after a round of pseudo-relevance
  feedback when asked; inference-free texts are tokenized and weighted in Java where the
  Java builder handles them.
- :class:`Lexical`: the BM25 index built beside the impact index.
- :class:`Fused`: a learned sparse and a BM25 ranking fused (in Java, one call per query).
- :class:`Dense`: query texts embedded by a dense model, searched by dot product in ``dense/``.
- :class:`ThreeWay`: learned sparse, BM25 and dense rankings fused (in Python).

Every retriever answers one call, ``retrieve(texts, k, threads)``, for one text or many (the
texts are non-blank; the Searcher answers blank ones). Results are plain ``(docid, score)``
lists; the Searcher makes them hits.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from splade_lite.errors import BadValueError
from splade_lite.feedback import Feedback, rocchio
from splade_lite.fusion import Hybrid, fuse, rrf, weighted
from splade_lite.pruning import Pruning
from splade_lite.vectors import SparseVector, quantize_to_terms

Ranked = list[tuple[str, float]]


class Retriever(Protocol):
    """Ranks non-blank query texts: the top `k` of each, searched by `threads` Java threads."""

    def retrieve(self, texts: Sequence[str], k: int, threads: int) -> list[Ranked]: ...


class QueryTerms:
    """Query texts -> the integer queries Lucene is given, as the index says.

    The encoder is loaded on first use through `load` (which checks that the index is still
    the one opened). With `java` on, an inference-free index's queries are also built in Java
    (:func:`~splade_lite.indexer.checked_idf_queries`, probed against this Python encoding
    when made); :attr:`java_builder` is None where that does not apply.
    """

    def __init__(
        self,
        load: Callable[[], Any],
        *,
        mode: str,
        scale: float,
        pruning: Pruning | None,
        java: bool = True,
        where: object = "the index",
    ) -> None:
        self._load = load
        self.mode = mode
        self.scale = scale
        self.pruning = pruning if pruning is not None and pruning.active else None
        self.java = java
        self._where = where
        self._lock = threading.RLock()  # one load of the encoder and of the Java builder
        self._encoder: Any = None
        self._builder: Any = False  # False: not made yet

    @property
    def encoder(self):
        """The query encoder the index asks for (loaded on first use)."""
        with self._lock:
            if self._encoder is None:
                self._encoder = self._load()
        return self._encoder

    def vectors(self, texts: Sequence[str]) -> list[SparseVector]:
        """Float query vectors, as the encoder gives them."""
        return self.encoder.encode_queries(list(texts))

    def terms(self, texts: Sequence[str]) -> list[dict[str, int]]:
        """Quantised queries ``{index term: integer weight}``, after pruning."""
        out = self.unpruned(texts)
        if self.pruning is not None:
            out = [self.pruning.apply(q, self.scale) for q in out]
        return out

    def pruned(self, text: str) -> dict[str, int]:
        """The terms of `text`'s query that pruning drops (none without pruning)."""
        if self.pruning is None:
            return {}
        (full,) = self.unpruned([text])
        kept = self.pruning.apply(full, self.scale)
        return {t: w for t, w in full.items() if t not in kept}

    def unpruned(self, texts: Sequence[str]) -> list[dict[str, int]]:
        """Quantised queries before pruning."""
        fast = getattr(self.encoder, "quantized_terms", None)
        if fast is not None:  # inference-free: a table lookup per token
            return fast(list(texts), self.scale)
        terms = self.encoder.terms
        return [quantize_to_terms(v, terms, self.scale) for v in self.vectors(texts)]

    @property
    def java_builder(self):
        """The Java builder of these queries (made on first use), or None: switched off,
        another mode, a tokenizer it cannot copy, or a disagreement on the probe texts."""
        with self._lock:
            if self._builder is False:
                self._builder = self._make_builder()
        return self._builder

    def _make_builder(self):
        if not self.java or self.mode != "inference-free":
            return None
        encoder = self.encoder
        wordpiece = getattr(encoder, "wordpiece", None)
        if wordpiece is None or wordpiece.wordpiece is None:
            return None
        from splade_lite.encoders.fast_wordpiece import PROBES
        from splade_lite.indexer import checked_idf_queries

        floor = self.pruning.floor(self.scale) if self.pruning else 0
        weights = [w if w >= floor else 0 for w in encoder.quantized_table(self.scale)]
        max_terms = self.pruning.max_terms if self.pruning else None
        if max_terms is not None:  # a Java int; no query has more terms than the vocabulary
            max_terms = min(max_terms, len(weights))
        return checked_idf_queries(
            wordpiece,
            encoder.terms[: len(weights)],
            weights,
            max_terms,
            PROBES + [p.lower() for p in PROBES],
            lambda probe: self.terms([probe])[0],
            self._where,
        )


class LearnedSparse:
    """Learned sparse search: `queries` on the impact index, with `feedback` when given.

    `forward` gives the forward index (document vectors) that feedback expands queries from.
    """

    def __init__(
        self,
        impact: Any,
        queries: QueryTerms,
        feedback: Feedback | None = None,
        forward: Callable[[], Any] | None = None,
    ) -> None:
        self.impact = impact
        self.queries = queries
        self.feedback = feedback
        self._forward = forward

    @property
    def java_builder(self):
        """Where texts may go to Java whole (no feedback: its first round needs the terms;
        a Lucene index: an engine searches integer queries only)."""
        if self.feedback is not None or not hasattr(self.impact, "batch_search_text"):
            return None
        return self.queries.java_builder

    def expand(self, terms: Sequence[dict[str, int]], threads: int = 1) -> list[dict[str, int]]:
        """The queries after pseudo-relevance feedback (first round on the impact index)."""
        settings = self.feedback or Feedback()
        first = self.impact.batch_search(list(terms), settings.docs, threads)
        forward = self._forward() if any(first) and self._forward is not None else None
        return [
            rocchio(q, forward.vectors([d for d, _ in hits]), settings) if hits else dict(q)
            for q, hits in zip(terms, first)
        ]

    def final_terms(self, texts: Sequence[str], threads: int = 1) -> list[dict[str, int]]:
        """The queries searched for `texts`: encoded, pruned, then expanded with feedback."""
        terms = self.queries.terms(texts)
        return self.expand(terms, threads) if self.feedback is not None else terms

    def search_terms(self, terms: Sequence[dict[str, int]], k: int, threads: int) -> list[Ranked]:
        """Search integer queries (expanded first when feedback is on)."""
        terms = list(terms)
        if self.feedback is not None:
            terms = self.expand(terms, threads)
        return self.impact.batch_search(terms, k, threads)

    def retrieve(self, texts: Sequence[str], k: int, threads: int) -> list[Ranked]:
        builder = self.java_builder

        def in_java(some: list[str]) -> list[Ranked | None]:
            return self.impact.batch_search_text(builder, some, k, threads)

        def in_python(some: list[str]) -> list[Ranked]:
            return self.search_terms(self.queries.terms(some), k, threads)

        return _java_first(texts, None if builder is None else in_java, in_python)


class EngineImpact:
    """An accelerated engine's index (``engines/``) searched as the Lucene impact index is:
    ``batch_search(integer queries, k, threads)``, scores as floats below 2**53 as Lucene
    gives them. `search` holds the engine's query-time settings."""

    def __init__(self, index: Any, search: Any = None) -> None:
        self.index = index
        self.settings = search

    def batch_search(
        self, queries: Sequence[dict[str, int]], k: int, threads: int = 1
    ) -> list[Ranked]:
        k = min(k, self.index.num_docs)
        if k <= 0:
            return [[] for _ in queries]
        found = self.index.retrieve(list(queries), k, threads, self.settings)
        return [[(d, float(s) if s < _FLOAT_EXACT else s) for d, s in hits] for hits in found]

    def search(self, query: dict[str, int], k: int) -> Ranked:
        return self.batch_search([query], k)[0]


_FLOAT_EXACT = 2**53


class Lexical:
    """BM25 search on the index built beside the impact index."""

    def __init__(self, index: Any) -> None:
        self.index = index

    def retrieve(self, texts: Sequence[str], k: int, threads: int) -> list[Ranked]:
        return self.index.batch_search(list(texts), k, threads)


class Fused:
    """The fusion of a learned sparse and a BM25 ranking (settings: a :class:`Hybrid`).

    Both searches and the fusion are one call into Java per query; the depth fused is the
    hybrid's, for the index's mode and k.
    """

    def __init__(self, sparse: LearnedSparse, lexical: Lexical, hybrid: Hybrid) -> None:
        self.sparse = sparse
        self.lexical = lexical
        self.hybrid = hybrid

    def settings(self, k: int) -> dict[str, Any]:
        """How the top `k` are fused (the hybrid settings, depth resolved)."""
        h = self.hybrid
        depth = h.depth_for(self.sparse.queries.mode, k)
        return {"depth": depth, "k": k, "fusion": h.fusion, "alpha": h.alpha, "rrf_k": h.rrf_k}

    def retrieve(self, texts: Sequence[str], k: int, threads: int) -> list[Ranked]:
        from splade_lite.indexer import hybrid_search, hybrid_text_search

        impact, bm25, settings = self.sparse.impact, self.lexical.index, self.settings(k)
        builder = self.sparse.java_builder

        def in_java(some: list[str]) -> list[Ranked | None]:
            return hybrid_text_search(impact, builder, bm25, some, threads=threads, **settings)

        def in_python(some: list[str]) -> list[Ranked]:
            terms = self.sparse.final_terms(some, threads)
            if isinstance(impact, EngineImpact):  # two searches, fused here
                return self._fused_here(terms, some, threads, settings)
            return hybrid_search(impact, bm25, terms, some, threads=threads, **settings)

        return _java_first(texts, None if builder is None else in_java, in_python)

    def _fused_here(self, terms, texts, threads, settings) -> list[Ranked]:
        """The fusion of an engine's sparse lists with BM25's, in Python: the arithmetic
        Java's fusion is tested equal to (:func:`splade_lite.fusion.fuse`)."""
        depth, k = settings["depth"], settings["k"]
        sparse = self.sparse.impact.batch_search(terms, depth, threads)
        lexical = self.lexical.index.batch_search(list(texts), depth, threads)
        return [
            fuse(s, b, settings["fusion"], alpha=settings["alpha"], rrf_k=settings["rrf_k"])[:k]
            for s, b in zip(sparse, lexical)
        ]


class Timings:
    """Seconds of each query encoding, the latest `keep` kept until :meth:`take` (a searcher
    that serves for days does not grow)."""

    def __init__(self, keep: int = 100_000) -> None:
        self._seconds: deque[float] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def record(self, seconds: float) -> None:
        with self._lock:
            self._seconds.append(seconds)

    def take(self) -> list[float]:
        """The seconds recorded since the last call, in order."""
        with self._lock:
            taken = list(self._seconds)
            self._seconds.clear()
        return taken


class Dense:
    """Dense search: each query text embedded alone by the index's dense model (loaded on
    first use through `load`), then the exact top `k` by dot product over `index`.

    One text per forward pass: a query's embedding, and so its ranking, never depends on the
    texts searched with it, and :attr:`timings` holds the latency a single search sees.
    Encodings take turns (one lock): the model's tokenizer is not safe to share between
    threads, and the searches of a shared searcher stay those of serial calls.
    """

    def __init__(self, index: Any, load: Callable[[], Any], dim: int) -> None:
        self.index = index
        self.dim = dim
        self.timings = Timings()
        self._load = load
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._encode_lock = threading.Lock()

    @property
    def model(self):
        """The dense model (loaded on first use)."""
        with self._load_lock:
            if self._model is None:
                self._model = self._load()
        return self._model

    def embed(self, texts: Sequence[str]):
        """Normalised query embeddings [len(texts), dim], one text at a time."""
        import numpy as np

        from splade_lite.encoders.dense import embed

        model = self.model
        rows = []
        for text in texts:
            with self._encode_lock:
                started = time.perf_counter()
                rows.append(embed(model, [text], "query", 1))
                self.timings.record(time.perf_counter() - started)
        matrix = np.concatenate(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)
        if matrix.shape[1] != self.dim:
            raise BadValueError(
                f"the dense model gives {matrix.shape[1]} dimensions but the index holds "
                f"{self.dim}: it is not the model the index was built with"
            )
        return matrix

    def retrieve(self, texts: Sequence[str], k: int, threads: int) -> list[Ranked]:
        return self.index.batch_search(self.embed(texts), k)


class ThreeWay:
    """The fusion of learned sparse, BM25 and dense rankings (settings: a :class:`Hybrid`).

    Each list is searched to the hybrid's depth as its own retriever ranks, and the three are
    fused in Python: :func:`~splade_lite.fusion.weighted` of their normalised scores, or
    :func:`~splade_lite.fusion.rrf`.
    """

    def __init__(self, sparse: LearnedSparse, lexical: Lexical, dense: Dense, hybrid: Hybrid):
        self.sparse = sparse
        self.lexical = lexical
        self.dense = dense
        self.hybrid = hybrid

    def settings(self, k: int) -> dict[str, Any]:
        """How the top `k` are fused (the hybrid settings, defaults resolved)."""
        h, mode = self.hybrid, self.sparse.queries.mode
        out: dict[str, Any] = {"depth": h.depth_for(mode, k, dense=True), "k": k}
        if h.fusion == "rrf":
            return {**out, "fusion": "rrf", "rrf_k": h.rrf_k}
        return {**out, "fusion": h.fusion, "weights": h.weights_for(mode), "norm": h.dense_norm}

    def retrieve(self, texts: Sequence[str], k: int, threads: int) -> list[Ranked]:
        settings = self.settings(k)
        depth = settings["depth"]
        lists = zip(
            self.sparse.retrieve(texts, depth, threads),
            self.lexical.retrieve(texts, depth, threads),
            self.dense.retrieve(texts, depth, threads),
        )
        if settings["fusion"] == "rrf":
            return [rrf(*three, k=settings["rrf_k"])[:k] for three in lists]
        return [weighted(three, settings["weights"], settings["norm"])[:k] for three in lists]


def _java_first(
    texts: Sequence[str],
    in_java: Callable[[list[str]], list[Ranked | None]] | None,
    in_python: Callable[[list[str]], list[Ranked]],
) -> list[Ranked]:
    """Rankings of `texts`: from `in_java` where it answers (None: a text it does not take,
    such as non-ASCII), the rest from `in_python`."""
    texts = list(texts)
    if in_java is None:
        return in_python(texts)
    found = in_java(texts)
    left = [i for i, hits in enumerate(found) if hits is None]
    if left:
        for i, hits in zip(left, in_python([texts[i] for i in left])):
            found[i] = hits
    return found  # type: ignore[return-value]  # every entry is filled
