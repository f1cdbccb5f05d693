from __future__ import annotations

import gzip
import json

import pytest

from splade_lite.encode import encode_corpus, read_vector_shards, vector_record
from splade_lite.vectors import EMPTY_DOC_TOKEN, SparseVector


def test_vector_record_quantises_and_never_empties():
    terms = ["[PAD]", "a", "##b", "c"]
    rec = vector_record("x", SparseVector([1, 2, 3], [0.004, 1.236, 2.0]), terms, 100)
    assert rec == {"id": "x", "contents": "", "vector": {"##b": 124, "c": 200}}
    empty = vector_record("y", SparseVector([1], [0.001]), terms, 100)
    assert empty["vector"] == {EMPTY_DOC_TOKEN: 1}


@pytest.fixture(scope="module")
def encoded(tmp_path_factory, tiny_corpus, splade_tiny):
    out = tmp_path_factory.mktemp("vectors")
    summary = encode_corpus(
        tiny_corpus, out, encoder=splade_tiny, shard_size=4, batch_size=2, progress=False
    )
    return out, summary


def test_writes_json_vector_collection(encoded, tiny_corpus, splade_tiny):
    out, summary = encoded
    records = list(read_vector_shards(out))
    ids = [json.loads(line)["_id"] for line in tiny_corpus.read_text().splitlines()]
    assert [r["id"] for r in records] == ids  # every document, in corpus order
    assert sorted(p.name for p in out.glob("part-*.jsonl")) == [
        "part-00000.jsonl",
        "part-00001.jsonl",
    ]
    for rec in records:
        assert rec["contents"] == ""
        assert rec["vector"], rec["id"]
        for term, weight in rec["vector"].items():
            assert isinstance(weight, int) and weight > 0
            assert term and not any(ch.isspace() for ch in term)
    # the document with an empty text is kept (its vector holds the special tokens' expansion)
    assert "d4" in {r["id"] for r in records}
    assert summary.num_docs == 6 and summary.num_skipped == 0


def test_weights_are_the_rounded_encoder_weights(encoded, splade_tiny):
    out, _ = encoded
    records = {r["id"]: r["vector"] for r in read_vector_shards(out)}
    vec = splade_tiny.encode(["Sleep Short sleep raises the risk of heart disease."])[0]
    expected = {
        splade_tiny.terms[i]: round(float(w) * 100)
        for i, w in zip(vec.indices, vec.values)
        if round(float(w) * 100) > 0
    }
    got = records["d3"]
    assert got.keys() == expected.keys()
    # batching may move a float weight across a rounding boundary: at most one step
    assert all(abs(got[t] - expected[t]) <= 1 for t in expected)


def test_metadata_df_and_snippets(encoded, splade_tiny):
    out, _ = encoded
    meta = json.loads((out / "vectors.json").read_text())
    assert meta["model"] == "splade-tiny" and meta["mode"] == "splade"
    assert meta["scale"] == 100 and meta["max_length"] == splade_tiny.max_length
    assert meta["num_docs"] == 6 and meta["shards"] == ["part-00000.jsonl", "part-00001.jsonl"]
    assert meta["model_sha256"].startswith("96e1dd8d")
    df = json.loads((out / "df.json").read_text())
    assert df["num_docs"] == 6
    # "sleep" occurs in d3 and d5 (counted once per document), "[CLS]" never counts
    assert df["df"]["sleep"] == 2
    assert "[CLS]" not in df["df"]
    with gzip.open(out / "docs.jsonl.gz", "rt") as handle:
        snippets = [json.loads(line) for line in handle]
    assert snippets[0] == {
        "id": "d1",
        "title": "Vitamin D",
        "text": "Vitamin D deficiency weakens bones in older adults.",
    }


def test_truncation_is_counted(tmp_path, splade_tiny):
    corpus = tmp_path / "c.tsv"
    corpus.write_text("a\t" + "word " * 400 + "\nb\tshort\n")
    summary = encode_corpus(corpus, tmp_path / "v", encoder=splade_tiny, progress=False)
    assert summary.num_truncated == 1 and summary.num_docs == 2


def test_empty_corpus_is_an_error(tmp_path, splade_tiny):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("")
    with pytest.raises(ValueError, match="no documents"):
        encode_corpus(corpus, tmp_path / "v", encoder=splade_tiny, progress=False)


def test_bad_record_names_file_and_line(tmp_path, splade_tiny):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"_id": "a", "text": "ok"}\n{"_id": "b", "text": \n')
    with pytest.raises(ValueError, match=r"c\.jsonl:2"):
        encode_corpus(corpus, tmp_path / "v", encoder=splade_tiny, progress=False)
    assert not list((tmp_path / "v").glob("part-*"))  # no shard left behind half-written
    summary = encode_corpus(
        corpus, tmp_path / "v", encoder=splade_tiny, progress=False, skip_invalid=True
    )
    assert summary.num_docs == 1 and summary.num_skipped == 1
