"""Several runs side by side, with paired significance tests against the first (the baseline).

Every run is scored as :func:`splade_lite.evaluate.evaluate_report` scores one: over all the
queries of the qrels, a judged query without results counting 0 (``trec_eval -c``). For each
other run and each measure, a two-sided paired test compares its per-query values with the
baseline's over those same judged queries:

* ``"t-test"`` (the default): Student's paired t-test, ``scipy.stats.ttest_rel``, as ranx
  and most IR papers use;
* ``"wilcoxon"``: the Wilcoxon signed-rank test, ``scipy.stats.wilcoxon`` (zero differences
  dropped), which does not assume normally distributed differences.

Runs identical on every query give p = 1. With fewer than 2 judged queries there is no test
(p is ``None``). The p-values are not corrected for multiple comparisons.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ir_measures import Measure
from scipy import stats

from splade_lite.errors import BadValueError
from splade_lite.evaluate import (
    DEFAULT_MEASURES,
    EvalReport,
    QrelsLike,
    RunLike,
    coverage_notes,
    evaluate_report,
    format_columns,
    format_per_query,
    format_table,
    load_qrels,
    parse_measures,
    report_json,
)
from splade_lite.terminal import printable

__all__ = [
    "ALPHA",
    "TESTS",
    "Comparison",
    "compare",
    "format_comparison",
    "paired_test",
    "render",
    "run_names",
]

#: significance level of the ``*`` marks
ALPHA = 0.05

#: test name accepted by :func:`compare` -> how the output names it
TESTS = {"t-test": "paired t-test", "wilcoxon": "Wilcoxon signed-rank test"}

# per-query differences smaller than this are floating-point noise: counted as ties
_TIE = 1e-12


def paired_test(baseline: np.ndarray, other: np.ndarray, test: str = "t-test") -> float | None:
    """Two-sided p-value of a paired test of ``other`` against ``baseline``; None below 2 pairs."""
    if test not in TESTS:
        raise BadValueError(f"unknown test {test!r}: choose one of {', '.join(TESTS)}")
    baseline, other = np.asarray(baseline, float), np.asarray(other, float)
    if baseline.shape != other.shape:
        raise BadValueError("paired values must be as many for both runs")
    if len(baseline) < 2:
        return None
    diff = other - baseline
    diff[np.abs(diff) < _TIE] = 0.0
    if not diff.any():
        return 1.0  # identical on every query: scipy would give nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # near-constant differences
        if test == "t-test":
            p = stats.ttest_rel(other, baseline).pvalue
        else:
            p = stats.wilcoxon(diff).pvalue
    p = float(p)
    return p if np.isfinite(p) else None


@dataclass(frozen=True)
class Comparison:
    """Runs scored on the same judged queries, and each one's paired test against the first."""

    #: run names, baseline first
    names: tuple[str, ...]
    #: measure names as ir-measures writes them
    measures: tuple[str, ...]
    #: the judged queries, in qrels order: the order of the per-query arrays
    query_ids: tuple[str, ...]
    #: run name -> its report (means, counts, per-query values)
    reports: dict[str, EvalReport]
    #: run name -> measure -> per-query values, aligned with :attr:`query_ids`
    per_query: dict[str, dict[str, np.ndarray]]
    #: each run but the baseline -> measure -> p-value against the baseline (None: no test)
    p_values: dict[str, dict[str, float | None]]
    #: ``"t-test"`` or ``"wilcoxon"`` (see :data:`TESTS`)
    test: str = "t-test"

    @property
    def baseline(self) -> str:
        return self.names[0]

    @property
    def means(self) -> dict[str, dict[str, float]]:
        """Run name -> measure -> mean over the judged queries."""
        return {name: dict(self.reports[name].scores) for name in self.names}

    def significant(self, name: str, measure: str, alpha: float = ALPHA) -> bool:
        """Whether run ``name`` differs from the baseline on ``measure`` with p < ``alpha``."""
        p = self.p_values[name][measure]
        return p is not None and p < alpha

    def to_json(self, per_query: bool = False) -> dict[str, Any]:
        """Plain data: baseline, test, and per run its means, counts and p-values."""
        runs: dict[str, Any] = {}
        for name in self.names:
            entry = report_json(self.reports[name], per_query=True)
            if not per_query:
                del entry["per_query"]
            if name in self.p_values:
                entry["p"] = dict(self.p_values[name])
            runs[name] = entry
        return {"baseline": self.baseline, "test": TESTS[self.test], "alpha": ALPHA, "runs": runs}


def run_names(runs: Sequence[RunLike]) -> list[str]:
    """File names (paths where two share a name; ``run1``... for in-memory runs), made unique."""
    names = [Path(r).name if isinstance(r, (str, os.PathLike)) else "" for r in runs]
    names = [
        str(r) if name and names.count(name) > 1 else name or f"run{i + 1}"
        for i, (r, name) in enumerate(zip(runs, names))
    ]
    unique: list[str] = []
    for name in names:
        candidate, n = name, 1
        while candidate in unique:
            n += 1
            candidate = f"{name} [{n}]"
        unique.append(candidate)
    return unique


def compare(
    runs: Sequence[RunLike] | Mapping[str, RunLike],
    qrels: QrelsLike,
    measures: str | Measure | Iterable[str | Measure] = DEFAULT_MEASURES,
    test: str = "t-test",
) -> Comparison:
    """Score each run, then test every run after the first against it, measure by measure.

    ``runs`` is a sequence (named by file name) or a mapping name -> run, in the forms
    :func:`~splade_lite.evaluate.evaluate_report` takes; the first is the baseline. ``test``
    is ``"t-test"`` (paired t-test) or ``"wilcoxon"`` (Wilcoxon signed-rank), two-sided.
    """
    if test not in TESTS:
        raise BadValueError(f"unknown test {test!r}: choose one of {', '.join(TESTS)}")
    if isinstance(runs, Mapping):
        names, items = [str(n) for n in runs], list(runs.values())
    else:
        items = list(runs)
        names = run_names(items)
    if not items:
        raise BadValueError("no run given")
    parsed = parse_measures(measures)
    qrels_dict = load_qrels(qrels)
    reports: dict[str, EvalReport] = {}
    for name, run in zip(names, items):
        try:
            reports[name] = evaluate_report(run, qrels_dict, parsed)
        except ValueError as err:
            message = str(err)
            if len(items) > 1 and not message.startswith(name):
                raise BadValueError(f"{name}: {message}") from None
            raise
    query_ids = tuple(qrels_dict)
    measure_names = tuple(str(m) for m in parsed)
    per_query = {
        name: {
            m: np.array([report.per_query[q][m] for q in query_ids], dtype=float)
            for m in measure_names
        }
        for name, report in reports.items()
    }
    base = per_query[names[0]]
    p_values = {
        name: {m: paired_test(base[m], per_query[name][m], test) for m in measure_names}
        for name in names[1:]
    }
    return Comparison(tuple(names), measure_names, query_ids, reports, per_query, p_values, test)


def _p_cell(p: float | None, digits: int) -> str:
    if p is None:
        return "n/a"
    text = f"<{10**-digits:.{digits}f}" if 0 < p < 10**-digits or p == 0 else f"{p:.{digits}f}"
    return f"{text} *" if p < ALPHA else f"{text}  "


def _group_header(starts: list[int], names: list[str]) -> str:
    """A line with each name starting at its column offset, at least two spaces apart."""
    line = ""
    for start, name in zip(starts, names):
        line += " " * max(start - len(line), 2 if line else 0) + name
    return line


def _per_query_table(c: Comparison, names: list[str], digits: int) -> str:
    rows = [["query", *(m for _ in names for m in c.measures)]]
    for i, q in enumerate(c.query_ids):
        values = (c.per_query[n][m][i] for n in c.names for m in c.measures)
        rows.append([printable(q), *(f"{v:.{digits}f}" for v in values)])
    means = (c.reports[n].scores[m] for n in c.names for m in c.measures)
    rows.append(["mean", *(f"{v:.{digits}f}" for v in means)])
    table = format_columns(rows)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    offsets = np.cumsum([0, *(w + 2 for w in widths)])
    starts = [int(offsets[1 + i * len(c.measures)]) for i in range(len(names))]
    return _group_header(starts, names) + "\n" + table


def format_comparison(comparison: Comparison, digits: int = 4, per_query: bool = False) -> str:
    """The means side by side (a column per run, a p column after each but the baseline) and
    a line naming the test; with ``per_query``, a per-query table (a column group per run)
    before them. No trailing newline."""
    c, names = comparison, [printable(n) for n in comparison.names]
    blocks = [_per_query_table(c, names, digits)] if per_query else []
    rows = [["measure", names[0]]]
    for name in names[1:]:
        rows[0] += [name, "p"]
    for m in c.measures:
        row = [m, f"{c.reports[c.names[0]].scores[m]:.{digits}f}"]
        for name in c.names[1:]:
            row += [f"{c.reports[name].scores[m]:.{digits}f}", _p_cell(c.p_values[name][m], digits)]
        rows.append(row)
    n = len(c.query_ids)
    if n < 2:
        note = f"no significance test: fewer than 2 judged queries ({n})"
    else:
        note = (
            f"p: two-sided {TESTS[c.test]} against {names[0]} over {n} judged queries; "
            f"* p < {ALPHA:g}"
        )
    blocks.append(format_columns(rows) + "\n" + note)
    return "\n\n".join(blocks)


def render(
    comparison: Comparison, as_json: bool = False, per_query: bool = False
) -> tuple[str, list[str]]:
    """What ``splade-lite evaluate`` prints: the stdout text, and the stderr lines.

    stderr: per run its query counts (not with ``as_json``) and its coverage warnings. stdout,
    one run: the measure table, or the per-query table; several: :func:`format_comparison`.
    JSON, one run: :func:`~splade_lite.evaluate.report_json`; several:
    :meth:`Comparison.to_json`.
    """
    c, several = comparison, len(comparison.names) > 1
    log = []
    for name in c.names:
        summary, warns = coverage_notes(c.reports[name])
        for line in ([] if as_json else [summary]) + warns:
            if several:  # "warning: " still starts the line
                warning = "warning: " if line.startswith("warning: ") else ""
                line = f"{warning}{printable(name)}: {line.removeprefix(warning)}"
            log.append(line)
    report = c.reports[c.baseline]
    if as_json:
        data = c.to_json(per_query) if several else report_json(report, per_query)
        return json.dumps(data), log
    if several:
        return format_comparison(c, per_query=per_query), log
    return (format_per_query(report) if per_query else format_table(report.scores)), log
