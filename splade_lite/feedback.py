"""Sparse pseudo-relevance feedback: Rocchio on the integer impact vectors.

The query is moved toward the centroid of its top-ranked documents:

    q' = q + beta × (|q|₁ / |c_T|₁) × c_T

where c is the mean of the feedback documents' vectors and c_T keeps its `terms` heaviest
terms (pruning: expanding with every term of a 250-term SPLADE document drowns the query).
The centroid is rescaled to the query's L1 mass so that `beta` means the same thing for
SPLADE queries (weights up to ~300) and IDF queries (~100-1,000), whatever the scale.
Weights stay positive integers and terms are only ever index terms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from splade_lite.errors import BadValueError
from splade_lite.vectors import MAX_IMPACT

#: Beyond this the query is all feedback (and weights would leave the range of a Java int).
MAX_BETA = 100.0


@dataclass(frozen=True)
class Feedback:
    """Pseudo-relevance feedback settings."""

    docs: int = 3  # feedback documents taken from the first round
    terms: int = 10  # centroid terms kept (the heaviest)
    beta: float = 0.1  # weight of the (rescaled) centroid against the query

    def __post_init__(self) -> None:
        for name, least in (("docs", 1), ("terms", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise BadValueError(
                    f"feedback {name} must be a whole number >= {least}, got {value!r}"
                )
        if not (isinstance(self.beta, (int, float)) and 0 <= self.beta <= MAX_BETA):
            raise BadValueError(
                f"feedback beta must be a number in [0, {MAX_BETA:g}], got {self.beta!r}"
            )


def centroid(vectors: Sequence[Mapping[str, int]]) -> dict[str, float]:
    """Mean of the vectors, term by term (a missing term counts 0)."""
    total: dict[str, float] = {}
    for vector in vectors:
        for term, weight in vector.items():
            total[term] = total.get(term, 0.0) + weight
    n = len(vectors)
    return {term: weight / n for term, weight in total.items()} if n else {}


def rocchio(
    query: Mapping[str, int],
    feedback_vectors: Sequence[Mapping[str, int]],
    settings: Feedback = Feedback(),  # noqa: B008 - frozen, so sharing the default is safe
) -> dict[str, int]:
    """The expanded query ``{term: positive int}`` (see the module docstring)."""
    expanded = {t: int(w) for t, w in query.items() if w > 0}
    cent = centroid(feedback_vectors)
    if not cent or not expanded or settings.beta == 0 or settings.terms == 0:
        return expanded
    kept = sorted(cent.items(), key=lambda item: (-item[1], item[0]))[: settings.terms]
    mass = sum(w for _, w in kept)
    if mass <= 0:
        return expanded
    factor = settings.beta * sum(expanded.values()) / mass
    for term, weight in kept:
        add = int(round(weight * factor))
        if add > 0:  # a Lucene impact query weight is a Java int
            expanded[term] = min(expanded.get(term, 0) + add, MAX_IMPACT)
    return expanded
