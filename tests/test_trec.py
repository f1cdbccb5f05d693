"""Tests of splade_lite.trec: queries, qrels and TREC runs, read and written."""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from io_helpers import cleaned, error_of, ids, jsonl, roundtrip_settings, tsv_text, write_lines

from splade_lite.io import read_corpus
from splade_lite.trec import Query, read_qrels, read_queries, read_trec_run, write_trec_run

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DATASETS = ("scifact", "nfcorpus", "cranfield", "medline")


# --------------------------------------------------------------------------------------------
# read_queries


def test_queries_formats(tmp_path: Path) -> None:
    beir = jsonl(tmp_path / "queries.jsonl", [{"_id": "1", "text": "q one", "metadata": {}}])
    other = jsonl(tmp_path / "q.jsonl", [{"qid": 1, "query": "q one"}])
    tsv = write_lines(tmp_path / "q.tsv", ["1\tq one"])
    tsv_gz = write_lines(tmp_path / "q.tsv.gz", ["qid\tquery", "1\tq one"], gz=True)
    for path in (beir, other, tsv, tsv_gz, tmp_path):
        assert read_queries(path) == [Query("1", "q one")], path


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        (['{"_id": "1", "text": "a"}', '{"_id": "1", "text": "b"}'], "duplicate id '1'"),
        (['{"_id": "1", "text": "a"}', '{"_id": "2"}'], "missing 'text'"),
        (['{"_id": "1", "text": "a"}', "oops"], "malformed JSON"),
    ],
)
def test_queries_errors(tmp_path: Path, lines: list[str], reason: str) -> None:
    path = write_lines(tmp_path / "q.jsonl", lines)
    err = error_of(lambda: read_queries(path))
    assert str(err).startswith(f"{path}:2: ") and reason in str(err)


def test_queries_tsv_needs_two_columns(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "q.tsv", ["1\tone", "2\ttwo\tthree"])
    assert str(error_of(lambda: read_queries(path))).startswith(f"{path}:2: expected 2")


# Queries round trip as corpora do: any text, empty and whitespace-only ones included, comes
# back cleaned and in order (property-based).
query_texts = st.one_of(st.text(), st.sampled_from(["", " ", "\t", "the of", "?!.", "\x00\x07"]))


@roundtrip_settings
@given(
    queries=st.lists(st.tuples(ids, query_texts), max_size=20, unique_by=lambda t: t[0]),
    gz=st.booleans(),
)
def test_queries_jsonl_round_trip(queries: list[tuple[str, str]], gz: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "queries.jsonl"
        write_lines(path, [json.dumps({"_id": i, "text": t}) for i, t in queries], gz=gz)
        assert read_queries(path) == [Query(i, cleaned(t)) for i, t in queries]


@roundtrip_settings
@given(
    queries=st.lists(st.tuples(ids, tsv_text), min_size=1, max_size=20, unique_by=lambda t: t[0])
)
def test_queries_tsv_round_trip(queries: list[tuple[str, str]]) -> None:
    header_like = {"id", "_id", "docid", "doc_id", "pid", "qid", "query_id", "query-id"}
    if queries[0][0].lower() in header_like:  # "qid<TAB>query" would be a header, by design
        queries = [(queries[0][0] + "x", queries[0][1]), *queries[1:]]
        if len({q[0] for q in queries}) != len(queries):
            return
    with tempfile.TemporaryDirectory() as folder:
        path = write_lines(Path(folder) / "q.tsv", [f"{i}\t{t}" for i, t in queries])
        assert read_queries(path) == [Query(i, cleaned(t)) for i, t in queries]


# --------------------------------------------------------------------------------------------
# read_qrels

EXPECTED_QRELS = {"q1": {"d1": 2, "d2": 0}, "q2": {"d3": 1, "d4": -1}}


@pytest.mark.parametrize(
    "lines",
    [
        ["query-id\tcorpus-id\tscore", "q1\td1\t2", "q1\td2\t0", "q2\td3\t1", "q2\td4\t-1"],
        ["q1\td1\t2", "q1\td2\t0", "q2\td3\t1", "q2\td4\t-1"],  # BEIR without header
        ["q1 0 d1 2", "q1 0 d2 0", "", "q2 0 d3 1", "q2\t0\td4\t-1"],  # TREC
        ["q1 Q0 d1 2.0", "q1 Q0 d2 0", "q2 Q0 d3 1", "q2 Q0 d4 -1", "q2 Q0 d3 1"],  # repeat ok
    ],
)
def test_qrels_formats(tmp_path: Path, lines: list[str]) -> None:
    assert read_qrels(write_lines(tmp_path / "qrels.txt", lines)) == EXPECTED_QRELS
    assert read_qrels(write_lines(tmp_path / "qrels.txt.gz", lines, gz=True)) == EXPECTED_QRELS


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("q1 d9", "expected 3 columns"),
        ("q1 0 d9 1", "expected 3 columns"),  # TREC line in a BEIR file
        ("q1 d9 high", "relevance 'high' is not an integer"),
        ("q1 d9 0.5", "relevance '0.5' is not an integer"),
        ("q1 d1 1", "judged twice: 2 and 1"),
    ],
)
def test_qrels_errors(tmp_path: Path, bad: str, reason: str) -> None:
    path = write_lines(tmp_path / "test.tsv", ["query-id\tcorpus-id\tscore", "q1\td1\t2", bad])
    err = error_of(lambda: read_qrels(path))
    assert str(err).startswith(f"{path}:3: ") and reason in str(err), str(err)


# --------------------------------------------------------------------------------------------
# TREC runs


@dataclass(frozen=True)
class FakeHit:
    docid: str
    score: float


def test_trec_run_write_read_round_trip(tmp_path: Path) -> None:
    results = [
        ("q1", [("d1", 3.5), ("d2", 1 / 3), ("d3", 1 / 3), ("d4", -2e-9)]),
        ("q2", [FakeHit("d9", np.float32(12.25)), FakeHit("d1", 7)]),
        ("q3", []),  # no hits: no lines
    ]
    path = tmp_path / "run.trec"
    assert write_trec_run(path, iter(results), tag="test-tag") == 6
    lines = path.read_text().splitlines()
    assert lines[0] == "q1 Q0 d1 1 3.5 test-tag"
    assert lines[4] == "q2 Q0 d9 1 12.25 test-tag"
    assert lines[5] == "q2 Q0 d1 2 7.0 test-tag"
    assert read_trec_run(path) == {
        "q1": {"d1": 3.5, "d2": 1 / 3, "d3": 1 / 3, "d4": -2e-9},  # scores exact
        "q2": {"d9": 12.25, "d1": 7.0},
    }


@settings(deadline=None, max_examples=50)
@given(
    st.lists(
        st.tuples(
            ids,
            st.lists(
                st.tuples(ids, st.floats(allow_nan=False, allow_infinity=False)),
                unique_by=lambda h: h[0],
                max_size=10,
            ),
        ),
        unique_by=lambda r: r[0],
        max_size=5,
    )
)
def test_trec_run_round_trip_property(results: list[tuple[str, list[tuple[str, float]]]]) -> None:
    ranked = [(q, sorted(hits, key=lambda h: -h[1])) for q, hits in results]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.txt.gz"
        write_trec_run(path, ranked)
        assert read_trec_run(path) == {q: dict(h) for q, h in ranked if h}


@pytest.mark.parametrize(
    ("results", "reason"),
    [
        ([("q1", [("d1", 1.0), ("d2", 2.0)])], "not in descending order at rank 2"),
        ([("q1", [("d1", 2.0), ("d1", 1.0)])], "doc 'd1' appears twice"),
        ([("q1", [("d1", 1.0)]), ("q1", [("d2", 1.0)])], "query 'q1' appears twice"),
        ([("q 1", [("d1", 1.0)])], "without whitespace"),
        ([("q1", [("d\n1", 1.0)])], "without whitespace"),
        ([("q1", [("d1", math.nan)])], "not finite"),
    ],
)
def test_write_trec_run_rejects_bad_results_and_keeps_the_old_file(
    tmp_path: Path, results: list, reason: str
) -> None:
    path = tmp_path / "run.trec"
    path.write_text("old\n")
    with pytest.raises(ValueError, match=reason):
        write_trec_run(path, results)
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["run.trec"]  # no temporary file left behind


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("q1 Q0 d2 2 1.0", "expected 6 columns"),
        ("q1 Q0 d2 two 1.0 tag", "rank 'two' must be an integer"),
        ("q1 Q0 d2 2 high tag", "score 'high' a number"),
        ("q1 Q0 d2 2 nan tag", "not finite"),
        ("q1 Q0 d1 2 1.0 tag", "doc 'd1' appears twice"),
    ],
)
def test_read_trec_run_errors(tmp_path: Path, line: str, reason: str) -> None:
    path = write_lines(tmp_path / "run.trec", ["q1 Q0 d1 1 2.0 tag", line])
    err = error_of(lambda: read_trec_run(path))
    assert str(err).startswith(f"{path}:2: ") and reason in str(err), str(err)


# --------------------------------------------------------------------------------------------
# The shared data sets


@pytest.mark.data
@pytest.mark.parametrize("name", DATASETS)
def test_shared_datasets(name: str) -> None:
    folder = DATA / name
    if not (folder / "corpus.jsonl").is_file():
        pytest.skip(f"{folder} is not available")
    docs = list(read_corpus(folder))  # raises at the first invalid record
    assert docs
    doc_ids = {d.id for d in docs}
    queries = read_queries(folder)
    qrels = read_qrels(folder / "qrels" / "test.tsv")
    assert set(qrels) <= {q.id for q in queries}
    assert all(docid in doc_ids for judged in qrels.values() for docid in judged)
