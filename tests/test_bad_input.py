"""Bad input, end to end through the command line: a clear `file:line: problem` by default,
or with --skip-invalid a counted skip, and every valid document in the index.

The model is loaded once for the module (load_encoder is pointed at the session's encoder).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from splade_lite.cli import main

GOOD = [
    {"_id": "ok-1", "title": "Vitamin D", "text": "Vitamin D deficiency weakens bones."},
    {"_id": "empty", "title": "", "text": ""},  # kept and indexed
    {"_id": "ctrl", "title": "Bell\x07", "text": "aurora\x00borealis\x1b lights"},  # -> spaces
    {"_id": "long", "title": "", "text": "coffee " * 600},  # beyond max length: truncated
    {"_id": 42, "text": "an integer id becomes '42'"},
]
# (line, what the error says); each is line 2 of its corpus, after one good record
BAD = [
    (b'{"_id": "x", "text": "no closing brace"', "malformed JSON"),
    (b'["_id", "text"]', "expected a JSON object, got an array"),
    (b'{"text": "no id"}', "missing '_id'"),
    (b'{"_id": ["a"], "text": "list id"}', "'_id' must be a string, got an array"),
    (b'{"_id": "has space", "text": "t"}', "ids cannot hold whitespace"),
    (b'{"_id": "no-text"}', "missing 'text'"),
    (b'{"_id": "ok-1", "text": "the same id again"}', "duplicate id 'ok-1'"),
    (b'{"_id": "latin1", "text": "caf\xe9"}', "invalid UTF-8"),
]


def jsonl(records: list[dict]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def invoke(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture(autouse=True)
def shared_model(monkeypatch, splade_tiny):
    monkeypatch.setattr("splade_lite.encoders.load_encoder", lambda *a, **k: splade_tiny)


@pytest.mark.parametrize(("line", "reason"), BAD)
def test_each_bad_line_stops_with_file_line_and_reason(tmp_path: Path, line: bytes, reason: str):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_bytes(jsonl(GOOD[:1]) + line + b"\n" + jsonl(GOOD[1:2]))
    code, output = invoke("encode", corpus, "--out", tmp_path / "v", "--quiet")
    assert code == 1
    assert "corpus.jsonl:2: " in output and reason in output, output
    assert "Traceback" not in output
    assert not (tmp_path / "v").exists()  # nothing left that looks like vectors


def test_empty_corpus(tmp_path: Path):
    for name, content in (("empty.jsonl", b""), ("blank.tsv", b"\n  \n"), ("e.jsonl.gz", b"")):
        corpus = tmp_path / name
        corpus.write_bytes(gzip.compress(content) if name.endswith(".gz") else content)
        code, output = invoke("encode", corpus, "--out", tmp_path / "v", "--quiet")
        assert code == 1 and f"{name}: the corpus is empty" in output


def test_all_lines_invalid(tmp_path: Path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_bytes(b"".join(line + b"\n" for line, _ in BAD[:3]))
    code, output = invoke("encode", corpus, "--out", tmp_path / "v", "--quiet", "--skip-invalid")
    assert code == 1 and "no valid documents to encode (3 invalid lines skipped)" in output


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    """Good records and bad lines in turn (bad ones on lines 2, 4, ..., 10, 11, 12, 13), gzipped."""
    lines: list[bytes] = []
    for i, (bad, _) in enumerate(BAD):
        if i < len(GOOD):
            lines.append(jsonl([GOOD[i]]).rstrip(b"\n"))
        lines.append(bad)
    corpus = tmp_path_factory.mktemp("mixed") / "corpus.jsonl.gz"
    corpus.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    return corpus


@pytest.mark.jvm
def test_skip_invalid_indexes_every_valid_document(tmp_path: Path, mixed: Path):
    from splade_lite.forward import ForwardIndex
    from splade_lite.search import Searcher

    vectors, index = tmp_path / "vectors", tmp_path / "index"
    code, output = invoke("encode", mixed, "--out", vectors, "--quiet", "--skip-invalid")
    assert code == 0, output
    assert "8 invalid lines skipped:" in output
    assert "corpus.jsonl.gz:2: malformed JSON" in output and "... and 3 more" in output
    assert "1 document longer than 256 tokens was truncated" in output
    assert "encoded 5 documents" in output

    code, output = invoke(
        "index", vectors, "--out", index, "--bm25-corpus", mixed, "--skip-invalid"
    )
    assert code == 0, output
    assert "8 invalid lines of" in output
    meta = json.loads((index / "splade_lite.json").read_text())
    assert meta["num_docs"] == len(GOOD) and meta["bm25"]["num_docs"] == len(GOOD) - 1
    ids = {"ok-1", "empty", "ctrl", "long", "42"}
    assert set(ForwardIndex.load(index / "forward.npz").docids) == ids
    hits = Searcher(index, bm25=True).search("aurora borealis", k=1)
    assert hits[0].docid == "ctrl"  # the control characters became word breaks
    code, output = invoke("check", index)
    assert code == 0, output

    # without --skip-invalid the BM25 corpus stops the build, and no index appears
    code, output = invoke("index", vectors, "--out", tmp_path / "i2", "--bm25-corpus", mixed)
    assert code == 1 and "corpus.jsonl.gz:2: malformed JSON" in output
    assert not (tmp_path / "i2").exists()
    assert not list(tmp_path.glob(".i2.building-*"))


# --------------------------------------------------------------------------------------------
# Vectors written by hand or by another tool


BAD_VECTORS = [
    ('{"id": "b", "contents": "", "vector": {"two words": 3}}', "token 'two words' contains"),
    ('{"id": "b", "contents": "", "vector": {"": 3}}', "empty token"),
    ('{"id": "b", "contents": "", "vector": {"x": NaN}}', "NaN is not a finite number"),
    ('{"id": "b", "contents": "", "vector": {"x": Infinity}}', "Infinity is not a finite"),
    ('{"id": "b", "contents": "", "vector": {"x": -3}}', "weight -3 of token 'x' is not positive"),
    ('{"id": "b", "contents": "", "vector": {"x": 0}}', "weight 0 of token 'x' is not positive"),
    ('{"id": "b", "contents": "", "vector": {"x": 0.7}}', "weight 0.7 of token 'x' is not an int"),
    ('{"id": "b", "contents": "", "vector": {}}', "empty 'vector'"),
    ('{"id": "a", "contents": "", "vector": {"x": 1}}', "duplicate id 'a'"),
    ('{"id": "b c", "contents": "", "vector": {"x": 1}}', "ids cannot hold whitespace"),
]


@pytest.mark.jvm
@pytest.mark.parametrize(("line", "reason"), BAD_VECTORS)
def test_bad_vector_shards_are_refused_before_anserini(tmp_path: Path, line: str, reason: str):
    vectors = tmp_path / "vectors"
    vectors.mkdir()
    good = '{"id": "a", "contents": "", "vector": {"x": 5, "##y": 2}}'
    (vectors / "part-00000.jsonl").write_text(f"{good}\n{line}\n")
    meta = {"model": "splade-tiny", "model_sha256": None, "mode": "splade", "scale": 100}
    (vectors / "vectors.json").write_text(json.dumps({**meta, "max_length": 8, "num_docs": 2}))
    code, output = invoke("index", vectors, "--out", tmp_path / "index")
    assert code == 1
    assert "part-00000.jsonl:2: " in output and reason in output, output
    assert not (tmp_path / "index").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["vectors"]  # no staging folder left


# --------------------------------------------------------------------------------------------
# Queries


@pytest.fixture(scope="module")
def index(tiny_built) -> Path:
    return tiny_built / "index"  # the session's small index (conftest.py), read only


@pytest.mark.jvm
def test_empty_and_stopword_queries_in_a_file(tmp_path: Path, index: Path):
    queries = tmp_path / "q.jsonl"
    records = [
        {"_id": "q1", "text": "aurora borealis"},
        {"_id": "q2", "text": ""},
        {"_id": "q3", "text": "   \t "},
        {"_id": "q4", "text": "the of and"},
        {"_id": "q5", "text": "?!..."},
    ]
    queries.write_bytes(jsonl(records))
    run = tmp_path / "run.trec"
    code, output = invoke("search", index, "--queries", queries, "--out", run, "--bm25")
    assert code == 0, output
    assert "5 queries in" in output
    assert "(2 queries were empty; 2 queries matched no document)" in output
    assert {line.split()[0] for line in run.read_text().splitlines()} == {"q1"}
    code, output = invoke("search", index, "--queries", queries, "--out", run)
    assert code == 0 and "2 queries were empty" in output  # SPLADE expands the others


@pytest.mark.jvm
def test_single_blank_or_stopword_query(index: Path):
    code, output = invoke("search", index, "  ")
    assert code == 1 and "the query is empty" in output
    code, output = invoke("search", index, "the of", "--bm25")
    assert code == 0 and output.strip() == "no document matches this query"


@pytest.mark.jvm
def test_empty_or_bad_queries_file(tmp_path: Path, index: Path):
    empty = tmp_path / "q.tsv"
    empty.write_text("")
    code, output = invoke("search", index, "--queries", empty, "--out", tmp_path / "r")
    assert code == 1 and "q.tsv: no queries in the file" in output
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"_id": "1", "text": "a"}\n{"_id": "1", "text": "b"}\n')
    code, output = invoke("search", index, "--queries", bad, "--out", tmp_path / "r")
    assert code == 1 and "q.jsonl:2: duplicate id '1'" in output
    assert not (tmp_path / "r").exists()
