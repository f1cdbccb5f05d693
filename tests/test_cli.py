"""The command line through click's CliRunner: each command, and errors shown as one line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from splade_lite.cli import main


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


def invoke(runner, *args):
    result = runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result


def test_help_lists_the_commands(runner):
    result = invoke(runner, "--help")
    assert result.exit_code == 0
    for command in ("encode", "index", "search", "evaluate", "export", "check", "demo"):
        assert command in result.output


def test_missing_vectors_metadata_is_one_line(runner, tmp_path):
    (tmp_path / "v").mkdir()
    result = invoke(runner, "index", tmp_path / "v", "--out", tmp_path / "i")
    assert result.exit_code == 1
    assert "no vectors.json" in result.output and "Traceback" not in result.output


def test_bad_corpus_line_is_named(runner, tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"_id": "a", "text": "fine"}\nnot json\n')
    result = invoke(runner, "encode", corpus, "--out", tmp_path / "v", "--quiet")
    assert result.exit_code == 1
    assert "c.jsonl:2" in result.output and "Traceback" not in result.output


def test_evaluate_json_and_table(runner, tmp_path):
    run = tmp_path / "run.trec"
    run.write_text("q1 Q0 a 1 2.0 t\nq1 Q0 b 2 1.0 t\n")
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\tb\t1\n")
    result = invoke(runner, "evaluate", run, "--qrels", qrels, "--json")
    scores = json.loads(result.output)
    assert set(scores) == {"nDCG@10", "R@100", "RR@10", "AP"}
    assert scores["RR@10"] == pytest.approx(0.5)  # the one relevant document is ranked 2nd
    assert scores["AP"] == pytest.approx(0.5)
    table = invoke(runner, "evaluate", run, "--qrels", qrels).output
    assert "nDCG@10" in table and "0.5" in table


@pytest.mark.jvm
def test_encode_index_search_evaluate_export(runner, tmp_path, tiny_corpus):
    vectors, index, run = tmp_path / "vectors", tmp_path / "index", tmp_path / "run.trec"
    result = invoke(runner, "encode", tiny_corpus, "--out", vectors, "--quiet", "--batch-size", "4")
    assert result.exit_code == 0, result.output
    assert "encoded 6 documents" in result.output
    result = invoke(runner, "index", vectors, "--out", index, "--bm25-corpus", tiny_corpus)
    assert result.exit_code == 0, result.output
    assert json.loads((index / "splade_lite.json").read_text())["num_docs"] == 6

    result = invoke(runner, "search", index, "the northern lights in the sky", "--k", "3")
    assert result.exit_code == 0
    first = result.output.splitlines()[0].split()
    assert first[0] == "1" and first[2] == "d2"  # rank, score, docid, then the text start
    assert "aurora" in result.output

    hits = json.loads(invoke(runner, "search", index, "aurora", "--json", "--bm25").output)
    assert hits[0]["docid"] == "d2" and hits[0]["rank"] == 1

    queries = tmp_path / "q.tsv"
    queries.write_text("q1\tnorthern lights\nq2\theart disease and sleep\n")
    result = invoke(runner, "search", index, "--queries", queries, "--out", run, "--k", "5")
    assert result.exit_code == 0, result.output
    lines = run.read_text().splitlines()
    assert lines[0].split()[:4] == ["q1", "Q0", "d2", "1"]
    assert {line.split()[0] for line in lines} == {"q1", "q2"}

    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q1 0 d2 1\nq2 0 d3 1\n")
    scores = json.loads(invoke(runner, "evaluate", run, "--qrels", qrels, "--json").output)
    assert scores["RR@10"] == pytest.approx(1.0)

    result = invoke(runner, "export", index, "--out", tmp_path / "exported")
    assert result.exit_code == 0
    exported = (tmp_path / "exported" / "part-00000.jsonl").read_text().splitlines()
    original = (vectors / "part-00000.jsonl").read_text().splitlines()
    by_id = lambda lines: {json.loads(x)["id"]: json.loads(x)["vector"] for x in lines}  # noqa: E731
    assert by_id(exported) == by_id(original)

    again = invoke(runner, "index", vectors, "--out", index)
    assert again.exit_code == 1 and "--overwrite" in again.output
    usage = invoke(runner, "search", index)
    assert usage.exit_code == 2 and "QUERY or --queries" in usage.output


@pytest.mark.jvm
def test_hybrid_feedback_and_explain_commands(runner, tmp_path, tiny_corpus):
    vectors, index = tmp_path / "vectors", tmp_path / "index"
    invoke(runner, "encode", tiny_corpus, "--out", vectors, "--quiet", "--mode", "inference-free")
    invoke(runner, "index", vectors, "--out", index, "--bm25-corpus", tiny_corpus)

    hybrid = json.loads(invoke(runner, "search", index, "aurora", "--json", "--hybrid").output)
    assert hybrid[0]["docid"] == "d2"
    assert 0 < hybrid[0]["score"] <= 1  # interpolated min-max scores
    rrf = invoke(runner, "search", index, "aurora", "--hybrid", "--fusion", "rrf", "--depth", "3")
    assert rrf.exit_code == 0 and "d2" in rrf.output
    wrong = invoke(runner, "search", index, "aurora", "--alpha", "0.3")
    assert wrong.exit_code == 2 and "--alpha only applies with --hybrid" in wrong.output
    fb = invoke(runner, "search", index, "aurora", "--feedback", "--fb-docs", "2")
    assert fb.exit_code == 0 and "d2" in fb.output

    result = invoke(runner, "explain", index, "aurora borealis", "d2", "--width", "80")
    assert result.exit_code == 0, result.output
    assert "aurora" in result.output and "score" in result.output
    assert all(len(line) <= 80 for line in result.output.splitlines())
    missing = invoke(runner, "explain", index, "aurora", "nope")
    assert missing.exit_code == 1 and "not in" in missing.output


def test_query_pruning_options_keep_the_index_default_floor(runner, tmp_path, tiny_corpus):
    from splade_lite.cli import _pruning
    from splade_lite.pruning import Pruning

    vectors = tmp_path / "vectors"
    invoke(runner, "encode", tiny_corpus, "--out", vectors, "--quiet")
    for mode in ("inference-free", "splade"):
        invoke(runner, "index", vectors, "--out", tmp_path / mode, "--mode", mode)
    assert _pruning(tmp_path / "inference-free", None, None) is None  # the Searcher's default
    assert _pruning(tmp_path / "inference-free", None, 16) == Pruning(0.5, 16)
    assert _pruning(tmp_path / "inference-free", 0.0, None) == Pruning(0.0, None)
    assert _pruning(tmp_path / "splade", None, 16) == Pruning(0.0, 16)
    every = invoke(runner, "search", tmp_path / "inference-free", "the aurora", "--json",
                   "--query-min-weight", "0")  # fmt: skip
    assert every.exit_code == 0 and json.loads(every.output)[0]["docid"] == "d2"
    capped = invoke(runner, "explain", tmp_path / "splade", "aurora borealis", "d2",
                    "--query-max-terms", "1")  # fmt: skip
    assert capped.exit_code == 0, capped.output
    assert "query terms dropped by pruning (beyond the 1 heaviest): " in capped.output
    plain = invoke(runner, "explain", tmp_path / "splade", "aurora borealis", "d2")
    assert "dropped" not in plain.output
