"""Tests of splade_lite.evaluate, splade_lite.compare and `splade-lite evaluate` against
numbers worked out by hand."""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from splade_lite.cli import main
from splade_lite.compare import compare, format_comparison, paired_test, run_names
from splade_lite.evaluate import (
    DEFAULT_MEASURES,
    EvalReport,
    MissingQueriesWarning,
    coverage_notes,
    evaluate,
    evaluate_report,
    format_per_query,
    format_table,
)
from splade_lite.trec import read_qrels, write_trec_run

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# q1 has three relevant documents (d1 grade 2, d2 and d4 grade 1) and one judged non-relevant
# (d3); q2 has one relevant document.
QRELS = {"q1": {"d1": 2, "d2": 1, "d3": 0, "d4": 1}, "q2": {"d5": 1}}

# Scores strictly decrease within a query, so no tie-breaking is involved. d9 is unjudged
# (counts as non-relevant), d4 is never retrieved, and q3 has no judgements (ignored).
RUN = {
    "q1": {"d3": 3.0, "d1": 2.5, "d9": 2.0, "d2": 1.5},
    "q2": {"d6": 1.0, "d7": 0.9, "d5": 0.8},
    "q3": {"d1": 5.0},
}


def hand_computed() -> dict[str, float]:
    """The four default measures for RUN and QRELS, worked out step by step.

    q1 ranking: d3 (grade 0), d1 (2), d9 (unjudged, 0), d2 (1); d4 (1) never retrieved.
    q2 ranking: d6, d7, d5 (1).
    nDCG uses the grade itself as the gain (trec_eval style) and log2(rank + 1) discounts.
    """
    # nDCG@10
    dcg_q1 = 2 / math.log2(3) + 1 / math.log2(5)  # d1 at rank 2, d2 at rank 4
    ideal_q1 = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)  # grades 2, 1, 1
    ndcg_q1 = dcg_q1 / ideal_q1  # 1.69254 / 3.13093 = 0.54059
    ndcg_q2 = (1 / math.log2(4)) / (1 / math.log2(2))  # d5 at rank 3: 0.5
    # RR@10: 1 / rank of the first relevant document
    rr_q1, rr_q2 = 1 / 2, 1 / 3
    # AP: precision at each relevant document retrieved, divided by the number relevant
    ap_q1 = (1 / 2 + 2 / 4) / 3  # d1 at rank 2 (1 of 2), d2 at rank 4 (2 of 4); 3 relevant
    ap_q2 = (1 / 3) / 1
    # R@100: relevant retrieved in the top 100 / relevant
    r_q1, r_q2 = 2 / 3, 1 / 1
    return {
        "nDCG@10": (ndcg_q1 + ndcg_q2) / 2,  # 0.52029
        "R@100": (r_q1 + r_q2) / 2,  # 0.83333
        "RR@10": (rr_q1 + rr_q2) / 2,  # 0.41667
        "AP": (ap_q1 + ap_q2) / 2,  # 0.33333
    }


def test_default_measures_match_hand_computation() -> None:
    scores = evaluate(RUN, QRELS)
    assert list(scores) == list(DEFAULT_MEASURES)  # keys as ir-measures writes them, in order
    expected = hand_computed()
    for name in DEFAULT_MEASURES:
        assert scores[name] == pytest.approx(expected[name], abs=1e-9), name
    assert scores["nDCG@10"] == pytest.approx(0.520293, abs=1e-6)


def test_cutoffs_apply() -> None:
    # The only relevant document sits at rank 11: outside nDCG@10 and RR@10, inside R@100.
    run = {"q": {f"n{i}": 100.0 - i for i in range(10)} | {"rel": 1.0}}
    scores = evaluate(run, {"q": {"rel": 1}})
    assert scores["nDCG@10"] == 0.0 and scores["RR@10"] == 0.0
    assert scores["R@100"] == 1.0
    assert scores["AP"] == pytest.approx(1 / 11)


def test_missing_queries_count_as_zero_and_are_reported() -> None:
    qrels = QRELS | {"q4": {"d1": 1}}  # judged, but absent from the run
    report = evaluate_report(RUN, qrels)
    assert report.queries_evaluated == 3
    assert report.queries_missing == ("q4",)
    assert report.queries_unjudged == 1  # q3
    expected = hand_computed()
    for name in DEFAULT_MEASURES:  # the two answered queries' sum over three queries
        assert report.scores[name] == pytest.approx(expected[name] * 2 / 3), name
    with pytest.warns(MissingQueriesWarning, match="1 of 3 judged queries"):
        assert evaluate(RUN, qrels) == report.scores


def test_no_warning_when_every_judged_query_is_answered() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluate(RUN, QRELS)


def test_run_and_qrels_from_files_in_both_qrels_formats(tmp_path: Path) -> None:
    run_file = tmp_path / "run.trec"
    write_trec_run(run_file, [(q, sorted(d.items(), key=lambda x: -x[1])) for q, d in RUN.items()])
    rows = [(q, d, g) for q, docs in QRELS.items() for d, g in docs.items()]
    beir = tmp_path / "test.tsv"
    beir.write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{g}\n" for q, d, g in rows)
    )
    trec = tmp_path / "qrels.trec"
    trec.write_text("".join(f"{q} 0 {d} {g}\n" for q, d, g in rows))
    assert read_qrels(beir) == read_qrels(trec) == QRELS
    from_beir = evaluate(run_file, beir)
    from_trec = evaluate(str(run_file), str(trec))
    assert from_beir == from_trec == evaluate(RUN, QRELS)


@dataclass(frozen=True)
class FakeHit:
    docid: str
    score: float


def test_run_as_ranked_lists() -> None:
    as_pairs = {q: sorted(d.items(), key=lambda x: -x[1]) for q, d in RUN.items()}
    as_hits = {q: [FakeHit(d, s) for d, s in hits] for q, hits in as_pairs.items()}
    assert evaluate(as_pairs, QRELS) == evaluate(as_hits, QRELS) == evaluate(RUN, QRELS)


def test_no_shared_query_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="share no query id") as info:
        evaluate({"1": {"d1": 1.0}}, {"PLAIN-1": {"d1": 1}})
    assert "'1'" in str(info.value) and "'PLAIN-1'" in str(info.value)
    with pytest.raises(ValueError, match="share no query id"):
        evaluate({"q1": {}}, QRELS)  # a query without results does not count


def test_measure_choice_and_errors() -> None:
    assert evaluate(RUN, QRELS, "P@2") == {"P@2": pytest.approx((1 / 2 + 0) / 2)}
    assert list(evaluate(RUN, QRELS, ["AP", "nDCG@10", "AP"])) == ["AP", "nDCG@10"]
    with pytest.raises(ValueError, match="unknown measure 'Bogus@3'"):
        evaluate(RUN, QRELS, ["Bogus@3"])


def test_format_table() -> None:
    table = format_table({"nDCG@10": 0.52029, "R@100": 0.8333333})
    assert table.splitlines() == ["measure  value", "nDCG@10  0.5203", "R@100    0.8333"]
    report = EvalReport({"AP": 0.25}, 3, ("q4",), 0)
    assert (
        format_table(report).splitlines()[-1] == "(3 judged queries, 1 without results (scored 0))"
    )


@pytest.mark.data
@pytest.mark.parametrize("name", ["scifact", "nfcorpus", "cranfield", "medline"])
def test_perfect_run_from_the_qrels(name: str) -> None:
    qrels_file = DATA / name / "qrels" / "test.tsv"
    if not qrels_file.is_file():
        pytest.skip(f"{qrels_file} is not available")
    qrels = read_qrels(qrels_file)
    # Rank each query's relevant documents by grade: the ideal ranking.
    run = {
        q: {d: g + 1 / (i + 2) for i, (d, g) in enumerate(sorted(docs.items())) if g > 0}
        for q, docs in qrels.items()
    }
    scores = evaluate(run, qrels_file)
    assert scores["nDCG@10"] == pytest.approx(1.0)
    assert scores["RR@10"] == pytest.approx(1.0)
    assert scores["AP"] == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------
# Per-query values, coverage counts, several runs and paired significance tests.

# QRELS plus q4, judged but absent from RUN: three judged queries, one run query (q3) unjudged.
QRELS3 = QRELS | {"q4": {"d1": 1}}


def test_per_query_values_match_hand_computation() -> None:
    report = evaluate_report(RUN, QRELS3, ["RR@10", "nDCG@10"])
    assert list(report.per_query) == ["q1", "q2", "q4"]  # every judged query, in qrels order
    ndcg_q1 = (2 / math.log2(3) + 1 / math.log2(5)) / (2 + 1 / math.log2(3) + 1 / 2)
    expected = {
        "q1": {"RR@10": 1 / 2, "nDCG@10": ndcg_q1},  # d1 (grade 2) at rank 2, d2 at rank 4
        "q2": {"RR@10": 1 / 3, "nDCG@10": 0.5},  # d5 at rank 3: (1/log2 4) / (1/log2 2)
        "q4": {"RR@10": 0.0, "nDCG@10": 0.0},  # no results: 0 (trec_eval -c)
    }
    for qid, values in expected.items():
        assert report.per_query[qid] == pytest.approx(values, abs=1e-12), qid
    assert report.scores["RR@10"] == pytest.approx((1 / 2 + 1 / 3) / 3)
    assert report.scores["nDCG@10"] == pytest.approx((ndcg_q1 + 0.5) / 3)
    lines = format_per_query(report).splitlines()
    assert lines[0].split() == ["query", "RR@10", "nDCG@10"]
    assert lines[1].split() == ["q1", "0.5000", f"{ndcg_q1:.4f}"]
    assert lines[3].split() == ["q4", "0.0000", "0.0000"]
    assert lines[4].split() == ["mean", f"{(1 / 2 + 1 / 3) / 3:.4f}", f"{(ndcg_q1 + 0.5) / 3:.4f}"]


def test_counts_and_warnings() -> None:
    report = evaluate_report(RUN, QRELS3)
    assert (report.queries_answered, report.queries_in_run) == (2, 3)
    summary, warns = coverage_notes(report)
    assert summary == (
        "3 judged queries scored, 1 of them without results (scored 0); "
        "1 run query without judgements (ignored)"
    )
    assert len(warns) == 2 and all(w.startswith("warning: ") for w in warns)
    assert "1 of 3 judged queries have no results" in warns[0] and "'q4'" in warns[0]
    assert "only 2 of the run's 3 queries" in warns[1]
    # full coverage: the counts, and no warning
    summary, warns = coverage_notes(evaluate_report({q: RUN[q] for q in QRELS}, QRELS))
    assert summary.startswith("2 judged queries scored, 0 of them") and warns == []


def ten_query_run(rank_of_relevant: int | list[int]) -> dict[str, dict[str, float]]:
    """Ten queries q0..q9, each with ten non-relevant docs and its relevant doc ``r`` inserted
    at the given rank (one rank for all queries, or one per query)."""
    ranks = rank_of_relevant if isinstance(rank_of_relevant, list) else [rank_of_relevant] * 10
    run = {}
    for i, rank in enumerate(ranks):
        docs = [f"n{j}" for j in range(10)]
        docs.insert(rank - 1, "r")
        run[f"q{i}"] = {d: 100.0 - k for k, d in enumerate(docs)}
    return run


def test_qrels_judging_one_of_ten_queries_is_warned(tmp_path: Path) -> None:
    # The case: the one judged query is answered perfectly, so every mean is 1.0 ...
    report = evaluate_report(ten_query_run(1), {"q3": {"r": 1}})
    assert all(v == 1.0 for v in report.scores.values())
    summary, warns = coverage_notes(report)
    # ... and the counts and a warning say it describes 1 query of 10
    assert summary.startswith("1 judged query scored") and "9 run queries without" in summary
    assert warns == [w for w in warns if w.startswith("warning: ")]
    assert len(warns) == 1 and "only 1 of the run's 10 queries" in warns[0]
    # the command prints the same, the counts and warning on stderr
    run, qrels = write_run(tmp_path / "run.trec", ten_query_run(1)), tmp_path / "qrels.txt"
    qrels.write_text("q3 0 r 1\n")
    out, err = evaluate_cli(run, "--qrels", qrels)
    assert out.splitlines()[1:] == [f"{m:<7}  1.0000" for m in DEFAULT_MEASURES]
    assert err.splitlines() == [summary, *warns]


def test_identical_runs_give_p_one() -> None:
    for test in ("t-test", "wilcoxon"):
        c = compare([RUN, dict(RUN)], QRELS3, test=test)
        assert c.names == ("run1", "run2") and c.query_ids == ("q1", "q2", "q4")
        assert all(p == 1.0 for p in c.p_values["run2"].values())
        assert not any(c.significant("run2", m) for m in c.measures)
    # scipy alone would return nan for all-zero differences
    assert paired_test(np.array([0.5, 0.2]), np.array([0.5, 0.2]), "t-test") == 1.0
    # some tied queries, some not: a p-value, no crash
    p = paired_test(np.array([0.5, 0.2, 0.1, 0.0]), np.array([0.5, 0.2, 0.3, 0.4]), "wilcoxon")
    assert p is not None and 0 < p <= 1


def test_run_better_on_every_query_is_significant() -> None:
    # baseline: the relevant doc at rank 2, 3, ..., 11 (RR@10 1/2 ... 1/10, then 0);
    # better: at rank 1 on every query (RR@10 = 1)
    qrels = {f"q{i}": {"r": 1} for i in range(10)}
    baseline, better = ten_query_run(list(range(2, 12))), ten_query_run(1)
    diffs = np.array([1 - 1 / r for r in range(2, 11)] + [1.0])  # ten distinct positive gains
    # Wilcoxon, exact: all 10 signed ranks positive has probability 2^-10 each side
    c = compare({"base": baseline, "better": better}, qrels, ["RR@10"], test="wilcoxon")
    assert c.per_query["better"]["RR@10"] - c.per_query["base"]["RR@10"] == pytest.approx(diffs)
    assert c.p_values["better"]["RR@10"] == pytest.approx(2 / 2**10)
    assert c.significant("better", "RR@10")
    # paired t-test: t = mean / (sd / sqrt(n)) with n - 1 degrees of freedom, two-sided
    from scipy.stats import t as student_t

    t = diffs.mean() / (diffs.std(ddof=1) / math.sqrt(10))
    c = compare({"base": baseline, "better": better}, qrels, ["RR@10", "R@100"])
    assert c.p_values["better"]["RR@10"] == pytest.approx(2 * student_t.sf(t, 9))
    assert c.significant("better", "RR@10") and c.p_values["better"]["RR@10"] < 1e-4
    assert c.p_values["better"]["R@100"] == 1.0  # both find r in the top 100 every time
    assert c.means["better"] == {"RR@10": 1.0, "R@100": 1.0}
    text = format_comparison(c)
    assert "paired t-test against base over 10 judged queries" in text
    rows = {line.split()[0]: line.split() for line in text.splitlines()[1:3]}
    assert rows["RR@10"][-1] == "*" and rows["R@100"][-1] == "1.0000"


def test_fewer_than_two_queries_means_no_test() -> None:
    c = compare([RUN, ten_query_run(1)], {"q1": {"d1": 1}}, ["RR@10"])
    assert c.p_values["run2"] == {"RR@10": None} and not c.significant("run2", "RR@10")
    assert "no significance test: fewer than 2 judged queries" in format_comparison(c)
    assert paired_test(np.array([1.0]), np.array([0.0])) is None


def test_run_names_and_errors(tmp_path: Path) -> None:
    assert run_names(["a/run.trec", "b/run.trec", "c/x.trec", "c/x.trec", {}]) == [
        "a/run.trec",
        "b/run.trec",
        "c/x.trec",
        "c/x.trec [2]",
        "run5",
    ]
    with pytest.raises(ValueError, match="^run2: the run and the qrels share no query id"):
        compare([RUN, {"zz": {"d1": 1.0}}], QRELS)
    with pytest.raises(ValueError, match="unknown test"):
        compare([RUN, RUN], QRELS, test="sign")


# --- the command line --------------------------------------------------------------------------


def write_run(path: Path, run: dict[str, dict[str, float]]) -> Path:
    write_trec_run(path, [(q, sorted(d.items(), key=lambda x: -x[1])) for q, d in run.items()])
    return path


def evaluate_cli(*args: object) -> tuple[str, str]:
    result = CliRunner().invoke(main, ["evaluate", *map(str, args)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text(
        "query-id\tcorpus-id\tscore\n"
        + "".join(f"{q}\t{d}\t{g}\n" for q, docs in QRELS3.items() for d, g in docs.items())
    )
    better = {"q1": {"d1": 3.0, "d2": 2.0, "d4": 1.0}, "q2": {"d5": 1.0}, "q4": {"d1": 1.0}}
    return {
        "qrels": qrels,
        "base": write_run(tmp_path / "base.trec", RUN),
        "better": write_run(tmp_path / "better.trec", better),
    }


def test_cli_one_run_table_json_and_counts(files: dict[str, Path]) -> None:
    out, err = evaluate_cli(files["base"], "--qrels", files["qrels"])
    expected = {k: v * 2 / 3 for k, v in hand_computed().items()}  # q4 scores 0
    assert out.splitlines() == ["measure  value"] + [
        f"{name:<7}  {value:.4f}" for name, value in expected.items()
    ]
    first, *others = err.splitlines()
    assert first.startswith("3 judged queries scored, 1 of them without results")
    assert len(others) == 2 and all(line.startswith("warning: ") for line in others)
    assert "only 2 of the run's 3 queries" in err
    out, err = evaluate_cli(files["base"], "--qrels", files["qrels"], "--json")
    assert json.loads(out) == pytest.approx(expected)  # the same one object keyed by measure
    assert "judged queries scored" not in err and "warning: " in err
    out, _ = evaluate_cli(files["base"], "--qrels", files["qrels"], "--json", "--per-query")
    data = json.loads(out)
    assert data["mean"] == pytest.approx(expected)
    assert data["per_query"]["q2"]["RR@10"] == pytest.approx(1 / 3)
    assert data["per_query"]["q4"] == {"nDCG@10": 0.0, "R@100": 0.0, "RR@10": 0.0, "AP": 0.0}
    assert data["queries"] == {"judged": 3, "without_results": ["q4"], "unjudged_in_run": 1}
    out, _ = evaluate_cli(
        files["base"], "--qrels", files["qrels"], "--per-query", "--measure", "RR@10"
    )
    assert [line.split() for line in out.splitlines()] == [
        ["query", "RR@10"],
        ["q1", "0.5000"],
        ["q2", "0.3333"],
        ["q4", "0.0000"],
        ["mean", f"{(1 / 2 + 1 / 3) / 3:.4f}"],
    ]


def test_cli_several_runs_side_by_side(files: dict[str, Path]) -> None:
    out, err = evaluate_cli(files["base"], files["better"], "--qrels", files["qrels"])
    lines = out.splitlines()
    assert lines[0].split() == ["measure", "base.trec", "better.trec", "p"]
    # better.trec finds every relevant doc at the top: RR@10 1, 1, 1 -> mean 1
    rr = dict(zip(["measure", "base", "better", "p"], lines[3].split()))
    assert rr["measure"] == "RR@10"
    assert rr["base"] == f"{(1 / 2 + 1 / 3) / 3:.4f}" and rr["better"] == "1.0000"
    assert lines[-1].startswith("p: two-sided paired t-test against base.trec over 3 judged")
    assert "base.trec: 3 judged queries scored" in err
    assert "better.trec: 3 judged queries scored, 0 of them without results" in err
    assert "warning: base.trec: 1 of 3 judged queries" in err
    runs = (files["base"], files["better"])
    out, _ = evaluate_cli(*runs, "--qrels", files["qrels"], "--per-query", "--measure", "RR@10")
    lines = out.splitlines()
    assert lines[0].split() == ["base.trec", "better.trec"]
    assert lines[1].split() == ["query", "RR@10", "RR@10"]
    assert lines[2].split() == ["q1", "0.5000", "1.0000"]
    out, _ = evaluate_cli(*runs, "--qrels", files["qrels"], "--json", "--test", "wilcoxon")
    data = json.loads(out)
    assert data["baseline"] == "base.trec" and data["test"] == "Wilcoxon signed-rank test"
    assert list(data["runs"]) == ["base.trec", "better.trec"]
    assert "p" not in data["runs"]["base.trec"]
    assert data["runs"]["better.trec"]["mean"]["RR@10"] == 1.0
    # RR@10 gains 1/2, 2/3, 1 (q1, q2, q4): all three signed ranks positive, p = 2 / 2^3
    assert data["runs"]["better.trec"]["p"]["RR@10"] == pytest.approx(2 / 2**3)


def test_cli_bad_run_is_one_line(files: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.trec"
    bad.write_text("q1 Q0 d1 one 1.0 t\n")
    result = CliRunner().invoke(
        main, ["evaluate", str(files["base"]), str(bad), "--qrels", str(files["qrels"])]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert "bad.trec:1" in result.output
