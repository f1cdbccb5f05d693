"""Search an index: query text -> query vector encoded as the index says -> Lucene -> hits.

Everything needed to encode a query like the documents (model, mode, scale, IDF, tokenizer,
max length) is read from the index folder, never passed again by hand.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from splade_lite import metadata as md
from splade_lite.vectors import SparseVector, quantize


@dataclass(frozen=True)
class Hit:
    """One ranked document: its id and its score (the integer dot product, for impact search)."""

    docid: str
    score: float


class Searcher:
    """Searches one splade-lite index.

    ``Searcher(index_dir)`` ranks by the learned sparse vectors (mode as built);
    ``Searcher(index_dir, bm25=True)`` ranks with the BM25 index built beside it
    (``splade-lite index ... --bm25-corpus``).
    """

    def __init__(
        self, index_dir: str | Path, *, bm25: bool = False, device: str | None = None
    ) -> None:
        self.index_dir = Path(index_dir)
        self.meta = md.read_index_meta(self.index_dir)
        self.mode = "bm25" if bm25 else self.meta["mode"]
        self.scale = float(self.meta["scale"])
        self._device = device
        self._encoder = None
        if bm25:
            from splade_lite.indexer import BM25Index

            bm25_dir = self.index_dir / md.BM25_DIR
            if not self.meta.get("bm25") or not bm25_dir.is_dir():
                raise FileNotFoundError(
                    f"{self.index_dir} has no BM25 index; rebuild it with "
                    "`splade-lite index VECTORS --out INDEX --bm25-corpus CORPUS`"
                )
            self._lucene = BM25Index(bm25_dir, k1=self.meta["bm25"]["k1"], b=self.meta["bm25"]["b"])
        else:
            from splade_lite.indexer import ImpactIndex

            self._lucene = ImpactIndex(self.index_dir)

    # -- query encoding -----------------------------------------------------------------------
    @property
    def encoder(self):
        """The query encoder the index asks for (loaded on first use)."""
        if self._encoder is None:
            self._encoder = self._load_query_encoder()
        return self._encoder

    def _load_query_encoder(self):
        if self.mode == "inference-free":
            from splade_lite.encoders.inference_free import IdfQueryEncoder, read_idf_file
            from splade_lite.encoders.models import ModelSource, load_tokenizer

            tokenizer_dir = self.index_dir / md.TOKENIZER_DIR
            tokenizer = load_tokenizer(ModelSource(name="index", mlm=str(tokenizer_dir)))
            return IdfQueryEncoder(tokenizer, read_idf_file(self.index_dir / md.IDF_FILE))
        if self.mode == "splade":
            from splade_lite.encoders.splade import SpladeEncoder

            encoder = SpladeEncoder(
                self.meta["model"], max_length=self.meta["max_length"], device=self._device
            )
            recorded = self.meta.get("model_sha256")
            actual = encoder.source.weights_sha256()
            if recorded and actual and recorded != actual:
                raise ValueError(
                    f"{self.index_dir} was built with model {self.meta['model']!r} whose weights "
                    f"had sha256 {recorded[:12]}…, but those found now have {actual[:12]}…; "
                    "queries would not match the documents. Re-encode, or install the same model."
                )
            return encoder
        raise ValueError(f"{self.index_dir}: unknown mode {self.mode!r} in {md.INDEX_META}")

    def query_vectors(self, texts: Sequence[str]) -> list[SparseVector]:
        """Float query vectors, as the encoder gives them."""
        return self.encoder.encode_queries(list(texts))

    def query_terms(self, texts: Sequence[str]) -> list[dict[str, int]]:
        """Quantised queries ``{index term: integer weight}``, what Lucene is given."""
        terms = self.encoder.terms
        out = []
        for vector in self.query_vectors(texts):
            ids, weights = quantize(vector, self.scale)
            out.append({terms[i]: w for i, w in zip(ids.tolist(), weights.tolist())})
        return out

    # -- search ---------------------------------------------------------------------------------
    def search(self, query: str, k: int = 10) -> list[Hit]:
        """The top `k` documents for one query text (a blank query is an error)."""
        if not query.strip():
            raise ValueError("the query is empty")
        return self.batch_search([query], k=k)[0]

    def batch_search(
        self, queries: Sequence[str], k: int = 10, threads: int = 1
    ) -> list[list[Hit]]:
        """The top `k` documents for each query text, searched by `threads` Java threads.

        A blank query matches nothing (an empty list): encoding it would only rank documents
        by the model's expansion of the special tokens.
        """
        _check_k(k)
        queries = list(queries)
        if self.mode == "bm25":  # blank texts match nothing in BM25Index
            return _as_hits(self._lucene.batch_search(queries, k, threads))
        blank = [not q.strip() for q in queries]
        encoded = iter(self.query_terms([q for q, b in zip(queries, blank) if not b]))
        return self.batch_search_terms([{} if b else next(encoded) for b in blank], k, threads)

    def batch_search_terms(
        self, queries: Sequence[dict[str, int]], k: int = 10, threads: int = 1
    ) -> list[list[Hit]]:
        """Search with already quantised queries ``{index term: integer weight}``.

        For callers that look at the query terms too (explanations, feedback), so that a
        query is encoded once. An empty query matches nothing.
        """
        if self.mode == "bm25":
            raise ValueError("a BM25 searcher takes query texts, not term weights")
        _check_k(k)
        return _as_hits(self._lucene.batch_search(list(queries), k, threads))

    # -- showing hits ---------------------------------------------------------------------------
    def documents(self, docids: Iterable[str]) -> dict[str, dict]:
        """Title and start of text of the given documents, from ``docs.jsonl.gz`` (one scan)."""
        wanted = set(docids)
        found: dict[str, dict] = {}
        path = self.index_dir / md.DOCS_FILE
        if not wanted or not path.is_file():
            return found
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                if record["id"] in wanted:
                    found[record["id"]] = record
                    if len(found) == len(wanted):
                        break
        return found


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def _as_hits(results: list[list[tuple[str, float]]]) -> list[list[Hit]]:
    return [[Hit(docid, float(score)) for docid, score in hits] for hits in results]
