"""Fusing ranked lists: normalised score interpolation and reciprocal rank fusion.

Pure functions over ``[(docid, score), ...]`` lists (best first), free of Java and torch.
A document found by only one retriever keeps its place in the fused list: it gets the
lowest normalised score (0) from the list that missed it for interpolation, and no
contribution from it for reciprocal rank fusion.
"""

from __future__ import annotations

from collections.abc import Sequence

Ranked = Sequence[tuple[str, float]]

FUSIONS = ("interpolate", "rrf")
RRF_K = 60  # Cormack, Clarke & Büttcher (SIGIR 2009)


def min_max(ranked: Ranked) -> dict[str, float]:
    """Scores scaled to [0, 1] within one list; a list of equal scores maps to 1."""
    if not ranked:
        return {}
    scores = [s for _, s in ranked]
    low, high = min(scores), max(scores)
    if high == low:
        return {d: 1.0 for d, _ in ranked}
    span = high - low
    return {d: (s - low) / span for d, s in ranked}


def interpolate(first: Ranked, second: Ranked, alpha: float = 0.5) -> list[tuple[str, float]]:
    """alpha × minmax(first) + (1 − alpha) × minmax(second), best first.

    A document missing from one list counts as that list's minimum (normalised 0).
    Ties are broken by docid so the output is deterministic.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be within [0, 1], got {alpha}")
    a, b = min_max(first), min_max(second)
    fused = {d: alpha * a.get(d, 0.0) + (1 - alpha) * b.get(d, 0.0) for d in a.keys() | b.keys()}
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def rrf(*lists: Ranked, k: int = RRF_K) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: Σ over lists of 1 / (k + rank), ranks from 1, best first."""
    if k < 0:
        raise ValueError(f"k must not be negative, got {k}")
    fused: dict[str, float] = {}
    for ranked in lists:
        for rank, (docid, _) in enumerate(ranked, start=1):
            fused[docid] = fused.get(docid, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def fuse(
    first: Ranked,
    second: Ranked,
    method: str = "interpolate",
    *,
    alpha: float = 0.5,
    rrf_k: int = RRF_K,
) -> list[tuple[str, float]]:
    """Fuse two ranked lists with `method` (``interpolate`` or ``rrf``)."""
    if method == "interpolate":
        return interpolate(first, second, alpha)
    if method == "rrf":
        return rrf(first, second, k=rrf_k)
    raise ValueError(f"unknown fusion {method!r}; choose one of {', '.join(FUSIONS)}")
