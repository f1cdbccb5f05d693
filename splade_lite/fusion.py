"""Fusing ranked lists: normalised score interpolation and reciprocal rank fusion.

Pure functions over ``[(docid, score), ...]`` lists (best first), free of Java and torch.
A document found by only one retriever keeps its place in the fused list: it gets the
lowest normalised score (0) from the list that missed it for interpolation, and no
contribution from it for reciprocal rank fusion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from splade_lite.errors import BadValueError

Ranked = Sequence[tuple[str, float]]

FUSIONS = ("interpolate", "rrf")
RRF_K = 60  # Cormack, Clarke & Büttcher (SIGIR 2009)

# Hybrid defaults: chosen on one development collection, see docs/benchmarks.md.
DEFAULT_FUSION = "interpolate"
DEFAULT_ALPHA = 0.5
#: Hits taken from each list before fusing, by mode (chosen on SciFact, docs/benchmarks.md):
#: an inference-free hybrid costs about the two searches at this depth, and depth 30 kept
#: SciFact's nDCG@10 (0.707 against 0.706 at 100) at 0.7× the latency; a SPLADE query spends
#: milliseconds in its encoder, so depth costs it nothing that shows and 100 scored best.
DEFAULT_DEPTHS = {"inference-free": 30, "splade": 100}


#: The three-way hybrid (learned sparse, BM25 and a dense model, ``dense=True``), chosen on
#: SciFact (docs/benchmarks.md, "A dense third partner"): max-scaled interpolation with these
#: weights of (sparse, BM25, dense) by mode, at this depth for both modes.
DENSE_WEIGHTS = {"inference-free": (0.1, 0.4, 0.5), "splade": (0.2, 0.3, 0.5)}
DENSE_NORM = "max"
DENSE_DEPTH = 100


@dataclass(frozen=True)
class Hybrid:
    """How the learned sparse list and the BM25 list are fused, and the dense list with them
    in a three-way hybrid (``Searcher(..., hybrid=..., dense=True)``).

    `alpha` weighs the two lists of a two-way hybrid (min-max scores, fused in Java);
    `weights` (sparse, BM25, dense) and `norm` (one of :data:`NORMALISATIONS`) set the
    three-way interpolation, fused in Python (:func:`weighted`); None takes the defaults
    (:data:`DENSE_WEIGHTS` by mode, :data:`DENSE_NORM`). Only the ratios of the weights
    matter; :meth:`check_partners` refuses settings that do not apply to the lists fused.
    """

    fusion: str = DEFAULT_FUSION  # "interpolate" (min-max normalised scores) or "rrf"
    alpha: float = DEFAULT_ALPHA  # weight of the learned sparse scores when interpolating
    depth: int | None = None  # hits of each list fused (at least k); None: by mode
    rrf_k: int = RRF_K
    weights: tuple[float, float, float] | None = None  # three-way: sparse, BM25, dense
    norm: str | None = None  # three-way: how each list's scores are scaled

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise BadValueError(
                f"unknown fusion {self.fusion!r}; choose one of {', '.join(FUSIONS)}"
            )
        if not 0 <= self.alpha <= 1:
            raise BadValueError(f"alpha must be within [0, 1], got {self.alpha}")
        depth = self.depth
        if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int)):
            raise BadValueError(f"depth must be a whole number, got {depth!r}")
        if depth is not None and depth < 1:
            raise BadValueError(f"depth must be at least 1, got {depth}")
        if isinstance(self.rrf_k, bool) or not isinstance(self.rrf_k, int) or self.rrf_k < 1:
            raise BadValueError(f"rrf_k must be a whole number >= 1, got {self.rrf_k!r}")
        if self.weights is not None:
            object.__setattr__(self, "weights", _three_weights(self.weights))
        if self.norm is not None and self.norm not in NORMALISATIONS:
            raise BadValueError(
                f"unknown normalisation {self.norm!r}; choose one of {', '.join(NORMALISATIONS)}"
            )

    def check_partners(self, dense: bool) -> None:
        """Refuse settings for another number of lists than those fused (`dense`: three)."""
        three = self.weights is not None or self.norm is not None
        if not dense and three:
            raise BadValueError(
                "weights and norm set the three-way hybrid with a dense model (dense=True, "
                "search --dense); the two-way hybrid takes alpha"
            )
        if dense and self.alpha != DEFAULT_ALPHA:
            raise BadValueError(
                "alpha weighs the two lists of a hybrid without dense; with dense, give "
                "weights=(sparse, BM25, dense)"
            )
        if three and self.fusion == "rrf":
            raise BadValueError("weights and norm set an interpolation, not rrf")

    def depth_for(self, mode: str, k: int, dense: bool = False) -> int:
        """Hits of each list fused for the top `k` of an index of `mode` (never fewer than k)."""
        default = DENSE_DEPTH if dense else DEFAULT_DEPTHS[mode]
        return max(k, self.depth if self.depth is not None else default)

    def weights_for(self, mode: str) -> tuple[float, float, float]:
        """The (sparse, BM25, dense) weights of a three-way hybrid of an index of `mode`."""
        return self.weights if self.weights is not None else DENSE_WEIGHTS[mode]

    @property
    def dense_norm(self) -> str:
        """The normalisation of a three-way interpolation."""
        return self.norm if self.norm is not None else DENSE_NORM


def _three_weights(weights: object) -> tuple[float, float, float]:
    """Three finite weights >= 0, not all 0, as a tuple (or a one-line error)."""
    try:
        values = tuple(weights)  # type: ignore[call-overload]
    except TypeError:
        values = ()
    if len(values) != 3 or not all(
        isinstance(w, (int, float)) and not isinstance(w, bool) for w in values
    ):
        raise BadValueError(f"weights must be three numbers (sparse, BM25, dense), got {weights!r}")
    if not all(math.isfinite(w) and w >= 0 for w in values) or not any(values):
        raise BadValueError(f"weights must be finite, >= 0 and not all 0, got {weights!r}")
    return tuple(float(w) for w in values)  # type: ignore[return-value]


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


def max_scaled(ranked: Ranked) -> dict[str, float]:
    """Scores divided by the list's best: the theoretical minimum (0) stays 0.

    BM25 and impact scores are never negative, so 0 is what a document that matched nothing
    would score; min-max instead maps each list's last hit to 0, which stretches a list whose
    scores are close together (a retriever unsure of its ranking) as much as a confident one.
    Called TMM by Bruch, Gai & Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval"
    (TOIS 2023). A list whose best score is 0 or less maps to 1.
    """
    if not ranked:
        return {}
    high = max(s for _, s in ranked)
    if high <= 0:
        return {d: 1.0 for d, _ in ranked}
    return {d: s / high for d, s in ranked}


def z_scores(ranked: Ranked) -> dict[str, float]:
    """Scores as standard scores within the list, shifted so that its lowest is 0 (a missing
    document then counts as the list's minimum, as with min-max); equal scores map to 1."""
    if not ranked:
        return {}
    scores = [s for _, s in ranked]
    mean = sum(scores) / len(scores)
    std = (sum((s - mean) ** 2 for s in scores) / len(scores)) ** 0.5
    if std == 0:
        return {d: 1.0 for d, _ in ranked}
    low = min(scores)
    return {d: (s - low) / std for d, s in ranked}


#: Score normalisations for interpolation, by name.
NORMALISATIONS = {"min-max": min_max, "max": max_scaled, "z-score": z_scores}


def interpolate(
    first: Ranked, second: Ranked, alpha: float = 0.5, norm: str = "min-max"
) -> list[tuple[str, float]]:
    """alpha × norm(first) + (1 − alpha) × norm(second), best first.

    A document missing from one list counts as that list's normalised minimum (0).
    Ties are broken by docid so the output is deterministic.
    """
    if not 0.0 <= alpha <= 1.0:
        raise BadValueError(f"alpha must be within [0, 1], got {alpha}")
    return weighted([first, second], [alpha, 1 - alpha], norm)


def weighted(
    lists: Sequence[Ranked], weights: Sequence[float], norm: str = "min-max"
) -> list[tuple[str, float]]:
    """Σ weight × norm(list) over any number of lists, best first (ties by docid).

    A document missing from a list counts as that list's normalised minimum (0). Two lists
    with weights alpha and 1 − alpha are :func:`interpolate`.
    """
    if norm not in NORMALISATIONS:
        raise BadValueError(
            f"unknown normalisation {norm!r}; choose one of {', '.join(NORMALISATIONS)}"
        )
    if len(weights) != len(lists):
        raise BadValueError(f"{len(lists)} lists but {len(weights)} weights")
    normalised = [NORMALISATIONS[norm](ranked) for ranked in lists]
    docs = {d for scores in normalised for d in scores}
    fused = {d: sum(w * s.get(d, 0.0) for w, s in zip(weights, normalised)) for d in docs}
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def rrf(*lists: Ranked, k: int = RRF_K) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: Σ over lists of 1 / (k + rank), ranks from 1, best first."""
    if k < 0:
        raise BadValueError(f"k must not be negative, got {k}")
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
    raise BadValueError(f"unknown fusion {method!r}; choose one of {', '.join(FUSIONS)}")
