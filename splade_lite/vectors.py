"""The one sparse vector type of splade-lite, and its integer quantisation.

Free of torch and Java on purpose: encoders produce `SparseVector`s, the indexer and the
searcher consume them, and users can build or inspect them with numpy alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from splade_lite.errors import BadValueError, UnknownIdError

#: Written for a document whose vector is empty after quantisation. Lucene (through Anserini)
#: skips a document with no term at all, which would lose it silently; this token keeps the
#: document in the index. No tokenizer produces it, so it never matches a query; the forward
#: index and explanations leave it out, and `export` writes it back out so that an exported
#: folder indexes again with every document.
EMPTY_DOC_TOKEN = "[splade-lite:empty]"


@dataclass(frozen=True, eq=False)
class SparseVector(Mapping[int, float]):
    """Token ids with their float weights, sorted by id, weights strictly positive.

    It is also a read-only mapping ``token id -> weight``.
    """

    indices: np.ndarray  # int64, strictly increasing
    values: np.ndarray  # float32, > 0

    def __post_init__(self) -> None:
        indices = np.asarray(self.indices, dtype=np.int64).reshape(-1)
        values = np.asarray(self.values, dtype=np.float32).reshape(-1)
        if indices.shape != values.shape:
            raise BadValueError(
                f"indices ({indices.size}) and values ({values.size}) differ in length"
            )
        if indices.size and np.any(np.diff(indices) <= 0):
            order = np.argsort(indices, kind="stable")
            indices, values = indices[order], values[order]
            if np.any(np.diff(indices) == 0):
                raise BadValueError("duplicate token ids in a sparse vector")
        if values.size and not np.all(np.isfinite(values)):
            raise BadValueError("a sparse vector weight is NaN or infinite")
        keep = values > 0
        if not keep.all():
            indices, values = indices[keep], values[keep]
        object.__setattr__(self, "indices", indices)
        object.__setattr__(self, "values", values)

    @classmethod
    def from_dict(cls, weights: Mapping[int, float]) -> SparseVector:
        """Build from ``{token id: weight}``; non-positive weights are dropped."""
        ids = np.fromiter(weights.keys(), dtype=np.int64, count=len(weights))
        vals = np.fromiter(weights.values(), dtype=np.float32, count=len(weights))
        return cls(ids, vals)

    @classmethod
    def from_dense(cls, dense: Sequence[float] | np.ndarray) -> SparseVector:
        """Build from a dense vocabulary-sized vector, keeping the positive entries."""
        arr = np.asarray(dense, dtype=np.float32).reshape(-1)
        ids = np.flatnonzero(arr > 0)
        return cls(ids, arr[ids])

    # Mapping interface
    def __getitem__(self, token_id: int) -> float:
        pos = int(np.searchsorted(self.indices, token_id))
        if pos < self.indices.size and self.indices[pos] == token_id:
            return float(self.values[pos])
        raise UnknownIdError(token_id)

    def __iter__(self) -> Iterator[int]:
        return (int(i) for i in self.indices)

    def __len__(self) -> int:
        return int(self.indices.size)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SparseVector):
            return np.array_equal(self.indices, other.indices) and np.array_equal(
                self.values, other.values
            )
        return Mapping.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        head = ", ".join(f"{i}: {v:.3g}" for i, v in zip(self.indices[:5], self.values[:5]))
        more = ", ..." if len(self) > 5 else ""
        return f"SparseVector({len(self)} terms: {{{head}{more}}})"

    def dot(self, other: SparseVector) -> float:
        """Dot product with another sparse vector."""
        common, ia, ib = np.intersect1d(self.indices, other.indices, return_indices=True)
        return float(np.dot(self.values[ia].astype(np.float64), other.values[ib]))

    def top(self, n: int) -> SparseVector:
        """The `n` heaviest terms (ties broken by token id)."""
        if n >= len(self):
            return self
        order = np.lexsort((self.indices, -self.values))[:n]
        return SparseVector(self.indices[order], self.values[order])

    def to_tokens(self, vocab: Sequence[str]) -> dict[str, float]:
        """``{token string: weight}`` given the tokenizer's id -> token table."""
        return {vocab[int(i)]: float(v) for i, v in zip(self.indices, self.values)}


#: Lucene stores an impact as a term frequency, a Java int.
MAX_IMPACT = 2**31 - 1
#: The largest scale accepted. Anserini indexes an impact by repeating its token that many
#: times in one text, so indexing time and memory grow with the scale: at this one a typical
#: passage's text is already a few hundred million characters (the most splade-lite lets
#: Anserini take, splade_lite.indexer.limits). A weight of 0.001 still keeps 100 levels.
MAX_SCALE = 100_000


def check_scale(scale: Any) -> Any:
    """`scale` as given when allowed, else a ValueError naming the range (NaN, inf, 0 fail)."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise BadValueError(f"scale {scale!r} is not a number")
    if not (math.isfinite(scale) and 0 < scale <= MAX_SCALE):
        raise BadValueError(f"scale must be a number in (0, {MAX_SCALE:,}], got {scale!r}")
    return scale


def _too_large(weight: float, scale: float) -> ValueError:
    return ValueError(
        f"weight {weight:g} × scale {scale:g} is beyond the largest impact Lucene stores "
        f"({MAX_IMPACT:,}); use a smaller scale"
    )


def quantize_values(weights: np.ndarray, scale: float) -> np.ndarray:
    """Integer impacts ``round(w × scale)`` (halves up) of each weight, in place of it, as
    int64: what a Lucene impact posting stores. Zeros stay; beyond Java's int is refused."""
    exact = np.floor(np.asarray(weights, dtype=np.float64) * scale + 0.5)
    if exact.size and not exact.max() <= MAX_IMPACT:  # NaN fails this test too
        worst = np.argmax(np.nan_to_num(exact, nan=np.inf))
        raise _too_large(float(np.asarray(weights).reshape(-1)[worst]), scale)
    return exact.astype(np.int64)


def quantize(vector: SparseVector, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Integer impacts ``round(w × scale)`` with the zeros dropped: (token ids, int weights)."""
    ints = quantize_values(vector.values, scale)
    keep = ints > 0
    return vector.indices[keep], ints[keep]


def quantize_to_terms(vector: SparseVector, terms: Sequence[str], scale: float) -> dict[str, int]:
    """``{term: integer impact}`` of a vector over the vocabulary `terms` (zeros dropped)."""
    ids, weights = quantize(vector, scale)
    return {terms[i]: w for i, w in zip(ids.tolist(), weights.tolist())}
