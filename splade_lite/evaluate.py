"""Scoring runs against relevance judgements with ir-measures.

Semantics callers should know about (they are those of ir-measures / trec_eval):

* Scores are averaged over every query in the qrels. A judged query with no results in the
  run scores 0 (like ``trec_eval -c``); BEIR's own evaluation instead averages only over the
  queries present in the run, so it reports higher numbers when queries are missing. Queries
  in the run without judgements are ignored. Both counts are in :class:`EvalReport`, and
  :func:`evaluate` warns when judged queries are missing; :func:`coverage_notes` words the
  counts and warns when the qrels judge only part of the run (the means then describe only
  those queries).
* Per-query values come from ``ir_measures.iter_calc`` (:attr:`EvalReport.per_query`); the
  means are ir-measures' own aggregates of them. Several runs side by side, with paired
  significance tests, are in :mod:`splade_lite.compare`.
* Documents are ranked by score, ties broken by doc id, whatever rank a run file gives them.
* Graded relevance counts linearly in nDCG (gain = grade, not 2^grade - 1); grades <= 0 are
  not relevant.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import ir_measures
from ir_measures import Measure

from splade_lite.errors import BadValueError
from splade_lite.terminal import printable
from splade_lite.trec import read_qrels, read_trec_run

__all__ = [
    "DEFAULT_MEASURES",
    "EvalReport",
    "MissingQueriesWarning",
    "coverage_notes",
    "evaluate",
    "evaluate_report",
    "format_columns",
    "format_per_query",
    "format_table",
    "load_qrels",
    "load_run",
    "parse_measures",
    "report_json",
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
    #: judged query id (in qrels order) -> measure name -> value; missing queries score 0
    per_query: Mapping[str, Mapping[str, float]] = field(default_factory=dict, compare=False)

    @property
    def queries_answered(self) -> int:
        """Judged queries that have results in the run."""
        return self.queries_evaluated - len(self.queries_missing)

    @property
    def queries_in_run(self) -> int:
        """Run queries that have results, judged or not."""
        return self.queries_answered + self.queries_unjudged


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
                raise BadValueError(f"unknown measure {m!r} ({e})") from None
        if measure not in parsed:
            parsed.append(measure)
    if not parsed:
        raise BadValueError("no measure given")
    return parsed


def load_run(run: RunLike) -> dict[str, dict[str, float]]:
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
            raise BadValueError(f"run query {qid!r}: doc {bad[0]!r} has a non-finite score")
        out[str(qid)] = ranking
    return out


def load_qrels(qrels: QrelsLike) -> dict[str, dict[str, int]]:
    """``{qid: {docid: grade}}`` from a qrels file or a mapping."""
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
    run_dict = load_run(run)
    qrels_dict = load_qrels(qrels)
    if not qrels_dict:
        raise BadValueError("the qrels hold no judgements")
    answered = {qid for qid, ranking in run_dict.items() if ranking}
    if not answered & qrels_dict.keys():
        raise BadValueError(
            "the run and the qrels share no query id: the run has "
            f"{len(answered)} queries with results ({_examples(answered)}), the qrels "
            f"{len(qrels_dict)} ({_examples(qrels_dict)}). Are they from the same dataset "
            "and split, and are the query ids written the same way?"
        )
    missing = tuple(sorted(q for q in qrels_dict if q not in answered))
    unjudged = sum(1 for q in answered if q not in qrels_dict)
    run_dict = {q: run_dict[q] for q in run_dict if q in answered}
    values: dict[str, dict[str, float]] = {q: {} for q in qrels_dict}
    for metric in ir_measures.iter_calc(parsed, qrels_dict, run_dict):
        if metric.query_id in values:
            values[metric.query_id][str(metric.measure)] = float(metric.value)
    scores: dict[str, float] = {}
    for m in parsed:
        aggregator = m.aggregator()  # what ir_measures.calc_aggregate does, but once
        for by_measure in values.values():
            aggregator.add(by_measure.setdefault(str(m), 0.0))  # trec_eval -c: absent is 0
        scores[str(m)] = float(aggregator.result())
    per_query = {q: {str(m): scored[str(m)] for m in parsed} for q, scored in values.items()}
    return EvalReport(scores, len(qrels_dict), missing, unjudged, per_query)


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


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def coverage_notes(report: EvalReport) -> tuple[str, list[str]]:
    """A line with the query counts, and warnings (``"warning: ..."``) where coverage is partial.

    Warns when judged queries have no results (they count as 0) and when the qrels judge only
    some of the run's queries (the means then describe only those; expected when the queries
    file also holds other splits, a wrong qrels file or split otherwise).
    """
    missing, unjudged = len(report.queries_missing), report.queries_unjudged
    summary = (
        f"{_count(report.queries_evaluated, 'judged query', 'judged queries')} scored, "
        f"{missing} of them without results (scored 0); "
        f"{_count(unjudged, 'run query', 'run queries')} without judgements (ignored)"
    )
    warns = []
    if missing:
        warns.append(
            f"warning: {missing} of {report.queries_evaluated} judged queries have no results "
            f"in the run ({_examples(report.queries_missing)}); they count as 0 in every measure"
        )
    if unjudged:
        judged, total = report.queries_answered, report.queries_in_run
        warns.append(
            f"warning: the qrels judge only {judged} of the run's {total} queries, so the "
            f"scores describe {'that one' if judged == 1 else f'those {judged}'} alone (fine "
            "if the queries file holds other splits too; otherwise check the qrels file)"
        )
    return summary, warns


def report_json(report: EvalReport, per_query: bool = False) -> dict[str, Any]:
    """The scores keyed by measure name, or with ``per_query``: means, per-query values, counts."""
    if not per_query:
        return dict(report.scores)
    return {
        "mean": dict(report.scores),
        "per_query": {q: dict(v) for q, v in report.per_query.items()},
        "queries": {
            "judged": report.queries_evaluated,
            "without_results": list(report.queries_missing),
            "unjudged_in_run": report.queries_unjudged,
        },
    }


def format_columns(rows: list[list[str]], right_from: int = 1) -> str:
    """Rows of cells as columns two spaces apart; columns from ``right_from`` on flush right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(w) if i >= right_from else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def format_per_query(report: EvalReport, digits: int = 4) -> str:
    """One row per judged query (id, then each measure), then the mean row (no trailing newline)."""
    names = list(report.scores)
    rows = [["query", *names]]
    rows += [
        [printable(q), *(f"{values[n]:.{digits}f}" for n in names)]
        for q, values in report.per_query.items()
    ]
    rows.append(["mean", *(f"{report.scores[n]:.{digits}f}" for n in names)])
    return format_columns(rows)


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
