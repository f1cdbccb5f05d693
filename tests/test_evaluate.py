"""Tests of splade_lite.evaluate against numbers worked out by hand."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from splade_lite.evaluate import (
    DEFAULT_MEASURES,
    EvalReport,
    MissingQueriesWarning,
    evaluate,
    evaluate_report,
    format_table,
)
from splade_lite.io import read_qrels, write_trec_run

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
