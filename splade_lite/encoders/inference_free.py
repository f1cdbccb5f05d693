"""Inference-free sparse retrieval: SPLADE documents, queries from the tokenizer and an IDF table.

A query is tokenized (no special tokens), each distinct token counted once, and weighted by
its IDF. No neural model runs at query time, so a search costs about what BM25 costs.

The IDF table comes, in this order, from: the argument `idf`; the model's own table
(``idf.json``, token -> weight, as OpenSearch and sentence-transformers ship it, or a
``SparseStaticEmbedding`` module); else it must be computed from the indexed corpus (the
indexer does that and stores it in the index).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from splade_lite.encoders.base import TOKENIZER_LOCK, vocab_terms
from splade_lite.encoders.models import (
    DEFAULT_MODEL,
    ModelSource,
    load_tokenizer,
    resolve_model,
)
from splade_lite.errors import BadValueError, StateError
from splade_lite.vectors import SparseVector, quantize_to_terms, quantize_values

#: The largest query weight an IDF table may hold: an IDF is at most log(N + 1), about 20
#: for 10^8 documents; learned weights stay near it. Kept far below what, at the largest
#: scale, would pass a Java int.
MAX_QUERY_WEIGHT = 10_000.0


def idf_from_df(df: Mapping[str, int], num_docs: int) -> dict[str, float]:
    """IDF = log((N + 1) / (df + 1)): positive for any term missing from some document."""
    return {term: math.log((num_docs + 1) / (count + 1)) for term, count in df.items()}


def count_document_frequencies(
    tokenizer, texts: Sequence[str], max_length: int, df: Counter[int]
) -> int:
    """Add each text's distinct token ids to `df` and return how many texts were cut.

    Ids are those the encoder reads (special tokens added, cut after `max_length` ids), the
    special ones left out: the document frequencies an IDF of the corpus is made from, by
    ``splade-lite encode`` (its ``df.json``) and by training (``corpus_idf``).
    """
    if not texts:  # transformers' fast tokenizers fail on an empty batch
        return 0
    special = set(tokenizer.all_special_ids)
    with TOKENIZER_LOCK:
        token_ids = tokenizer(list(texts), add_special_tokens=True, verbose=False)["input_ids"]
    cut = 0
    for ids in token_ids:
        cut += len(ids) > max_length
        df.update({i for i in ids[:max_length] if i not in special})
    return cut


def read_idf_file(path: Path, terms: Sequence[str] | None = None) -> dict[str, float]:
    """Read an IDF table: ``idf.json`` (token -> weight) or a SparseStaticEmbedding weight file.

    The safetensors form holds one weight per token id, so it needs the vocabulary `terms`.
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        try:
            weights = load_file(str(path))["weight"].astype(np.float64).reshape(-1)
        except Exception as err:  # safetensors raises its own error types for a bad file
            raise BadValueError(f"{path}: not a readable IDF weight file ({err})") from None
        if terms is None:
            raise BadValueError(f"{path}: reading per-id weights needs the vocabulary")
        if weights.size and not (np.isfinite(weights).all() and weights.max() <= MAX_QUERY_WEIGHT):
            raise BadValueError(f"{path}: a weight is not finite or beyond {MAX_QUERY_WEIGHT:g}")
        return {terms[i]: float(w) for i, w in enumerate(weights) if w > 0 and i < len(terms)}
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as err:  # JSON and UTF-8 errors included
        raise BadValueError(f"{path}: not a readable IDF table ({err})") from None
    if not isinstance(table, dict):
        raise BadValueError(f"{path}: an IDF table must be a JSON object token -> weight")
    out: dict[str, float] = {}
    for token, weight in table.items():
        bad = isinstance(weight, bool) or not isinstance(weight, (int, float))
        if bad or not math.isfinite(weight):
            raise BadValueError(f"{path}: weight of {token!r} is not a finite number")
        if weight > MAX_QUERY_WEIGHT:
            raise BadValueError(
                f"{path}: weight {weight:g} of {token!r} is beyond {MAX_QUERY_WEIGHT:g}, far "
                "above any IDF (a crafted or broken table?)"
            )
        if weight > 0:
            out[token] = float(weight)
    return out


class IdfQueryEncoder:
    """Queries as distinct tokenizer tokens weighted by IDF; loads only the tokenizer."""

    def __init__(self, tokenizer, idf: Mapping[str, float], terms: Sequence[str] | None = None):
        self.tokenizer = tokenizer
        self.terms = list(terms) if terms is not None else vocab_terms(tokenizer)
        self._special = set(tokenizer.all_special_ids)
        self._rust = False  # not looked for yet
        self._wordpiece = None  # the ASCII shortcut, where it applies (see fast_wordpiece)
        self.set_idf(idf)

    def set_idf(self, idf: Mapping[str, float]) -> None:
        """Replace the IDF table (token -> weight); tokens outside the vocabulary are ignored."""
        weights = np.zeros(len(self.terms), dtype=np.float32)
        position = {term: i for i, term in enumerate(self.terms)}
        for token, weight in idf.items():
            i = position.get(token)
            if i is not None:
                weights[i] = weight
        self.idf = weights
        self._quantized: dict[float, list[int]] = {}  # scale -> integer weight per token id

    def quantized_terms(self, texts: Sequence[str], scale: float) -> list[dict[str, int]]:
        """``{index term: round(IDF × scale)}`` of each text: what :meth:`encode_queries`
        followed by :func:`~splade_lite.vectors.quantize` gives, without the detour.

        This is the per-query work of an inference-free search, so it goes straight to the
        Rust tokenizer (a private copy: no shared truncation state, no lock), through a word
        cache for ASCII text (:mod:`~splade_lite.encoders.fast_wordpiece`), and looks the
        integer weights up in a table made once per scale.
        """
        backend = self._backend()
        if backend is None:  # a slow (Python) tokenizer: the general path
            return [quantize_to_terms(v, self.terms, scale) for v in self.encode_queries(texts)]
        table = self.quantized_table(scale)
        size, terms, fast = len(table), self.terms, self._wordpiece
        out = []
        for text in texts:
            ids = fast.ids(text) if fast is not None else None
            if ids is None:
                ids = backend.encode(text, add_special_tokens=False).ids
            kept = sorted({i for i in ids if i < size and table[i] > 0})
            out.append({terms[i]: table[i] for i in kept})
        return out

    def quantized_table(self, scale: float) -> list[int]:
        """The integer query weight of each token id at `scale` (0 for special tokens)."""
        table = self._quantized.get(scale)
        if table is None:
            ints = quantize_values(self.idf, scale)
            ints[list(self._special & set(range(len(ints))))] = 0
            table = ints.tolist()
            self._quantized[scale] = table
        return table

    @property
    def wordpiece(self):
        """The ASCII word splitter (:class:`~splade_lite.encoders.fast_wordpiece.FastWordPiece`)
        that :meth:`quantized_terms` uses, or None where it does not apply."""
        self._backend()
        return self._wordpiece

    def _backend(self):
        """A private copy of the fast tokenizer's Rust tokenizer, or None for a slow one."""
        if self._rust is False:
            backend = getattr(self.tokenizer, "backend_tokenizer", None)
            if backend is not None:
                from tokenizers import Tokenizer

                from splade_lite.encoders.fast_wordpiece import FastWordPiece

                backend = Tokenizer.from_str(backend.to_str())
                backend.no_truncation()
                backend.no_padding()
                self._wordpiece = FastWordPiece.for_tokenizer(backend)
            self._rust = backend
        return self._rust

    def encode_queries(self, texts: Sequence[str]) -> list[SparseVector]:
        if not texts:  # transformers' fast tokenizers fail on an empty batch
            return []
        with TOKENIZER_LOCK:
            ids_per_text = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        out = []
        for ids in ids_per_text:
            unique = np.unique(np.asarray([i for i in ids if i not in self._special], np.int64))
            unique = unique[unique < len(self.idf)]
            out.append(SparseVector(unique, self.idf[unique]))
        return out


class InferenceFreeEncoder:
    """SPLADE document vectors, IDF-weighted tokenizer-only query vectors.

    `idf` (token -> weight) overrides the model's own table; without either, documents can be
    encoded but queries need an index (whose IDF the indexer computes) or :meth:`set_idf`.
    """

    mode = "inference-free"

    def __init__(
        self,
        name_or_path: str | Path = DEFAULT_MODEL,
        *,
        idf: Mapping[str, float] | None = None,
        max_length: int | None = None,
        batch_size: int = 32,
        device: str | None = None,
        backend: str = "torch",
    ) -> None:
        from splade_lite.encoders.splade import SpladeEncoder

        self.documents = SpladeEncoder(
            name_or_path,
            max_length=max_length,
            batch_size=batch_size,
            device=device,
            backend=backend,
        )
        self.source: ModelSource = self.documents.source
        self.name = self.documents.name
        self.max_length = self.documents.max_length
        self.batch_size = self.documents.batch_size
        self.device = self.documents.device
        self.backend = self.documents.backend  # how documents are encoded
        self.terms = self.documents.terms
        self.tokenizer = self.documents.tokenizer
        self.idf_source = "argument" if idf is not None else None
        if idf is None and self.source.query_idf is not None:
            idf = read_idf_file(self.source.query_idf, self.terms)
            self.idf_source = "model"
        self.queries: IdfQueryEncoder | None = (
            IdfQueryEncoder(self.tokenizer, idf, self.terms) if idf is not None else None
        )

    def set_idf(self, idf: Mapping[str, float]) -> None:
        """Use this IDF table (token -> weight) for queries."""
        self.queries = IdfQueryEncoder(self.tokenizer, idf, self.terms)
        self.idf_source = "argument"

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVector]:
        return self.documents.encode(texts)

    def encode_queries(self, texts: Sequence[str]) -> list[SparseVector]:
        if self.queries is None:
            raise StateError(
                f"model {self.name!r} ships no idf.json: query weights come from an index "
                "(splade_lite.Searcher(INDEX_DIR)) or from set_idf()"
            )
        return self.queries.encode_queries(texts)

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        return self.documents.tokenize(texts)


def load_query_tokenizer(source: ModelSource | str | Path):
    """The tokenizer alone, for IDF queries (no model weights are read)."""
    if not isinstance(source, ModelSource):
        source = resolve_model(source)
    return load_tokenizer(source)
