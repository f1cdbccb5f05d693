"""Scoring runs against relevance judgements with ir-measures.

Semantics callers should know about (they are those of ir-measures / trec_eval):

* Scores are averaged over every query in the qrels. A judged query with no results in the
  run scores 0 (like ``trec_eval -c``); BEIR's own evaluation instead averages only over the
  queries present in the run, so it reports higher numbers when queries are missing. Queries
  in the run without judgements are ignored. Both counts are in :class:`EvalReport`, and
  :func:`evaluate` warns when judged queries are missing.
* Documents are ranked by score, ties broken by doc id, whatever rank a run file gives them.
* Graded relevance counts linearly in nDCG (gain = grade, not 2^grade - 1); grades <= 0 are
  not relevant.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import ir_measures
from ir_measures import Measure

from splade_lite.io import read_qrels, read_trec_run

__all__ = [
    "DEFAULT_MEASURES",
    "EvalReport",
    "MissingQueriesWarning",
    "evaluate",
    "evaluate_report",
    "format_table",
    "parse_measures",
]

#: nDCG@10 is BEIR's headline measure; the others are the usual companions.
DEFAULT_MEASURES: tuple[str, ...] = ("nDCG@10", "R@100", "RR@10", "AP")

RunLike = str | os.PathLike[str] | Mapping[str, Any]
QrelsLike = str | os.PathLike[str] | Mapping[str, Mapping[str, int]]


class MissingQueriesWarning(UserWarning):
    """Some judged queries have no results in the run; they count as 0 in every measure."""


@dataclass(frozen=True)
class EvalReport:
    """Aggregate scores and which queries they cover."""

    #: measure name as ir-measures writes it (e.g. ``"nDCG@10"``) -> mean over judged queries
    scores: dict[str, float]
    #: number of judged queries averaged over (all queries of the qrels)
    queries_evaluated: int
    #: judged queries without any result in the run (each scored 0), sorted
    queries_missing: tuple[str, ...]
    #: number of run queries without judgements (ignored)
    queries_unjudged: int


def parse_measures(measures: str | Measure | Iterable[str | Measure]) -> list[Measure]:
    """Parse measure names (or pass Measure objects through), dropping repeats, keeping order."""
    if isinstance(measures, (str, Measure)):
        measures = [measures]
    parsed: list[Measure] = []
    for m in measures:
        if isinstance(m, Measure):
            measure = m
        else:
            try:
                measure = ir_measures.parse_measure(m)
            except Exception as e:  # ir-measures raises ValueError, NameError, ...
                raise ValueError(f"unknown measure {m!r} ({e})") from None
        if measure not in parsed:
            parsed.append(measure)
    if not parsed:
        raise ValueError("no measure given")
    return parsed


def _load_run(run: RunLike) -> dict[str, dict[str, float]]:
    """``{qid: {docid: score}}`` from a run file or from one of the in-memory forms."""
    if isinstance(run, (str, os.PathLike)):
        return read_trec_run(run)
    out: dict[str, dict[str, float]] = {}
    for qid, hits in run.items():
        if isinstance(hits, Mapping):
            ranking = {str(d): float(s) for d, s in hits.items()}
        else:
            # a ranked list of (docid, score) pairs or of hits with .docid and .score
            ranking = {}
            for hit in hits:
                if hasattr(hit, "docid") and hasattr(hit, "score"):
                    docid, score = hit.docid, hit.score
                else:
                    docid, score = hit
                ranking.setdefault(str(docid), float(score))
        bad = [d for d, s in ranking.items() if not math.isfinite(s)]
        if bad:
            raise ValueError(f"run query {qid!r}: doc {bad[0]!r} has a non-finite score")
        out[str(qid)] = ranking
    return out


def _load_qrels(qrels: QrelsLike) -> dict[str, dict[str, int]]:
    if isinstance(qrels, (str, os.PathLike)):
        return read_qrels(qrels)
    return {str(q): {str(d): int(g) for d, g in docs.items()} for q, docs in qrels.items()}


def _examples(ids: Iterable[str], n: int = 3) -> str:
    shown = []
    for i, qid in enumerate(ids):
        if i == n:
            shown.append("...")
            break
        shown.append(repr(qid))
    return ", ".join(shown)


def evaluate_report(
    run: RunLike,
    qrels: QrelsLike,
    measures: str | Measure | Iterable[str | Measure] = DEFAULT_MEASURES,
) -> EvalReport:
    """Score ``run`` against ``qrels`` and say which queries the scores cover.

    ``run`` is a TREC run file, ``{qid: {docid: score}}``, or ``{qid: [hits]}`` with hits as
    ``(docid, score)`` or objects with ``.docid``/``.score``. ``qrels`` is a qrels file (BEIR
    or TREC) or ``{qid: {docid: grade}}``. Raises ``ValueError`` when the run and the qrels
    have no query id in common, which usually means a wrong file or split.
    """
    parsed = parse_measures(measures)
    run_dict = _load_run(run)
    qrels_dict = _load_qrels(qrels)
    if not qrels_dict:
        raise ValueError("the qrels hold no judgements")
    answered = {qid for qid, ranking in run_dict.items() if ranking}
    if not answered & qrels_dict.keys():
        raise ValueError(
            "the run and the qrels share no query id: the run has "
            f"{len(answered)} queries with results ({_examples(answered)}), the qrels "
            f"{len(qrels_dict)} ({_examples(qrels_dict)}). Are they from the same dataset "
            "and split, and are the query ids written the same way?"
        )
    missing = tuple(sorted(q for q in qrels_dict if q not in answered))
    unjudged = sum(1 for q in answered if q not in qrels_dict)
    run_dict = {q: run_dict[q] for q in run_dict if q in answered}
    aggregate = ir_measures.calc_aggregate(parsed, qrels_dict, run_dict)
    scores = {str(m): float(aggregate[m]) for m in parsed}
    return EvalReport(scores, len(qrels_dict), missing, unjudged)


def evaluate(
    run: RunLike,
    qrels: QrelsLike,
    measures: str | Measure | Iterable[str | Measure] = DEFAULT_MEASURES,
) -> dict[str, float]:
    """Mean of each measure over the judged queries, keyed by its ir-measures name.

    Same inputs as :func:`evaluate_report`; issues a :class:`MissingQueriesWarning` when some
    judged queries have no results (they count as 0).
    """
    report = evaluate_report(run, qrels, measures)
    if report.queries_missing:
        warnings.warn(
            f"{len(report.queries_missing)} of {report.queries_evaluated} judged queries have "
            f"no results in the run ({_examples(report.queries_missing)}); they count as 0",
            MissingQueriesWarning,
            stacklevel=2,
        )
    return report.scores


def format_table(scores: Mapping[str, float] | EvalReport, digits: int = 4) -> str:
    """Two aligned columns, measure and value, for a terminal (no trailing newline)."""
    report = scores if isinstance(scores, EvalReport) else None
    values = report.scores if report is not None else scores
    width = max([len("measure"), *(len(name) for name in values)])
    lines = [f"{'measure':<{width}}  value"]
    lines += [f"{name:<{width}}  {value:.{digits}f}" for name, value in values.items()]
    if report is not None:
        note = f"{report.queries_evaluated} judged queries"
        if report.queries_missing:
            note += f", {len(report.queries_missing)} without results (scored 0)"
        lines.append(f"({note})")
    return "\n".join(lines)
