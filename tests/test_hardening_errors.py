"""Hardening, errors: damaged files and extreme inputs give one line naming the file (and
line), early, never a traceback from inside a library.

Each test reproduces one finding of the adversarial run (or one of its class). The CLI is
invoked with ``catch_exceptions=False``, so any exception other than click's own one-line
error fails the test.
"""

from __future__ import annotations

import gzip
import json
import shutil

import pytest
from click.testing import CliRunner

from splade_lite.cli import main


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output and "Aborted" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


def _corrupt_gzip(path, records: int = 3000) -> None:
    body = "".join(
        json.dumps({"_id": f"d{i}", "text": f"words of document {i} " * 20}) + "\n"
        for i in range(records)
    )
    data = bytearray(gzip.compress(body.encode()))
    for i in range(300, 360):  # inside the deflate stream, after the header
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


# -- finding 18: damaged corpus and index files ---------------------------------------------
@pytest.mark.parametrize("skip", [False, True])
def test_a_corrupt_gzip_corpus_is_one_line(tmp_path, skip):
    corpus = tmp_path / "corpus.jsonl.gz"
    _corrupt_gzip(corpus)
    args = ["encode", corpus, "--out", tmp_path / "v", "--quiet"]
    result = invoke(*args, *(["--skip-invalid"] if skip else []))
    # the damaged stream may first yield garbage lines (a record error, named with its line);
    # what cannot be skipped is the stream itself
    _one_line_error(result, str(corpus), *(["cannot read the file"] if skip else []))
    assert not (tmp_path / "v").exists()


def _copy(tiny_built, tmp_path, name="index"):
    index = tmp_path / name
    shutil.copytree(tiny_built / name, index)
    return index


@pytest.mark.jvm
@pytest.mark.parametrize("damage", ["truncated", "garbage", "not-records"])
def test_a_damaged_docs_file_is_one_line(tiny_built, tmp_path, damage):
    index = _copy(tiny_built, tmp_path)
    (index / "snippets.npz").unlink()  # as an index built before it: docs.jsonl.gz is read
    docs = index / "docs.jsonl.gz"
    data = docs.read_bytes()
    if damage == "truncated":
        docs.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        docs.write_bytes(data[:10] + bytes(b ^ 0x33 for b in data[10:]))
    else:
        docs.write_bytes(gzip.compress(b'["a list", 1]\n{"no id": true}\n'))
    result = invoke("search", index, "aurora borealis")
    _one_line_error(result, "docs.jsonl.gz")


@pytest.mark.jvm
@pytest.mark.parametrize("damage", ["truncated", "garbage", "block"])
def test_a_damaged_snippets_file_is_one_line(tiny_built, tmp_path, damage):
    import numpy as np

    index = _copy(tiny_built, tmp_path)
    path = index / "snippets.npz"
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(bytes(b ^ 0x33 for b in data))
    else:
        with np.load(path) as npz:
            arrays = {name: npz[name].copy() for name in npz.files}
        arrays["blocks"][4:] = 0
        np.savez(path, **arrays)
    result = invoke("search", index, "aurora borealis")
    _one_line_error(result, "snippets.npz")


@pytest.mark.jvm
@pytest.mark.parametrize("damage", ["truncated", "zeros"])
def test_a_damaged_forward_index_is_one_line(tiny_built, tmp_path, damage):
    index = _copy(tiny_built, tmp_path)
    forward = index / "forward.npz"
    data = forward.read_bytes()
    forward.write_bytes(data[: len(data) // 3] if damage == "truncated" else bytes(len(data)))
    result = invoke("explain", index, "aurora borealis", "d2")
    _one_line_error(result, "forward.npz")


@pytest.mark.jvm
def test_a_damaged_tokenizer_is_one_line(tiny_built, tmp_path):
    index = _copy(tiny_built, tmp_path, "index-if")
    (index / "tokenizer" / "tokenizer.json").write_text('{"model": {"type": "nonsense"')
    result = invoke("search", index, "coffee")
    _one_line_error(result, "tokenizer")


@pytest.mark.jvm
@pytest.mark.parametrize(
    "field, value",
    [
        ("scale", "100"),
        ("scale", None),
        ("mode", 5),
        ("max_length", 2.5),
        ("num_docs", "six"),
        ("bm25", "yes"),
        ("model", ["a", "list"]),
    ],
)
def test_a_wrong_type_in_the_index_metadata_is_one_line(tiny_built, tmp_path, field, value):
    index = _copy(tiny_built, tmp_path)
    meta = json.loads((index / "splade_lite.json").read_text())
    meta[field] = value
    (index / "splade_lite.json").write_text(json.dumps(meta))
    result = invoke("search", index, "coffee", "--hybrid")
    _one_line_error(result, "splade_lite.json", field)


@pytest.mark.jvm
@pytest.mark.parametrize("field, value", [("scale", "x"), ("mode", None), ("model", 3)])
def test_a_wrong_type_in_vectors_metadata_is_one_line(tiny_built, tmp_path, field, value):
    vectors = _copy(tiny_built, tmp_path, "vectors")
    meta = json.loads((vectors / "vectors.json").read_text())
    meta[field] = value
    (vectors / "vectors.json").write_text(json.dumps(meta))
    result = invoke("index", vectors, "--out", tmp_path / "i")
    _one_line_error(result, "vectors.json", field)


@pytest.mark.parametrize("text", ["\xff\xfe", "[" * 100_000 + "]" * 100_000])
def test_unreadable_metadata_is_one_line(tmp_path, text):
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "vectors.json").write_bytes(text.encode("latin-1"))
    result = invoke("index", tmp_path / "v", "--out", tmp_path / "i")
    _one_line_error(result, "vectors.json")


# -- finding 19: messages that did not say what was wrong -----------------------------------
def test_a_sentence_transformers_folder_missing_a_key_is_named(tmp_path):
    from splade_lite.encoders.models import ModelNotFoundError, resolve_model

    folder = tmp_path / "st"
    folder.mkdir()
    (folder / "modules.json").write_text(json.dumps([{"idx": 0, "path": ""}]))  # no "type"
    with pytest.raises(ModelNotFoundError, match="modules.json") as caught:
        resolve_model(folder)
    assert "'type'" in str(caught.value)
    result = invoke("encode", tmp_path / "missing.jsonl", "--out", tmp_path / "v")
    assert result.exit_code == 2  # click's own check, for comparison: names the path


# -- finding 20: extremes of size -------------------------------------------------------------
def test_a_deeply_nested_record_is_named_and_can_be_skipped(tmp_path):
    from splade_lite.io import InputError, read_corpus

    corpus = tmp_path / "c.jsonl"
    deep = '{"_id": "x", "text": ' + "[" * 50_000 + "]" * 50_000 + "}"
    corpus.write_text('{"_id": "a", "text": "fine"}\n' + deep + "\n")
    with pytest.raises(InputError, match=r"c\.jsonl:2: .*nested too deeply"):
        list(read_corpus(corpus))
    skipped: list = []
    docs = list(read_corpus(corpus, skip_invalid=True, on_skip=skipped.append))
    assert [d.id for d in docs] == ["a"] and len(skipped) == 1


def test_a_line_beyond_the_record_limit_is_refused_without_reading_it_whole(tmp_path, monkeypatch):
    import splade_lite.io as io_module

    monkeypatch.setattr(io_module, "MAX_LINE_BYTES", 1000)
    corpus = tmp_path / "c.jsonl"
    big = json.dumps({"_id": "big", "text": "word " * 10_000})
    corpus.write_text('{"_id": "a", "text": "fine"}\n' + big + '\n{"_id": "b", "text": "ok"}\n')
    with pytest.raises(io_module.InputError, match=r"c\.jsonl:2: the line is longer"):
        list(io_module.read_corpus(corpus))
    docs = list(io_module.read_corpus(corpus, skip_invalid=True))
    assert [d.id for d in docs] == ["a", "b"]  # the lines after the long one are intact


def test_an_id_beyond_the_limit_is_refused_with_its_line(tmp_path):
    from splade_lite.io import MAX_ID_BYTES, InputError, read_corpus

    corpus = tmp_path / "c.tsv"
    corpus.write_text(f"ok\tfine\n{'é' * MAX_ID_BYTES}\ttoo long an id\n")
    with pytest.raises(InputError, match=r"c\.tsv:2: .*longer than 4096 bytes"):
        list(read_corpus(corpus))
    corpus.write_text(f"{'i' * MAX_ID_BYTES}\tthe longest id accepted\n")
    assert len(next(iter(read_corpus(corpus))).id) == MAX_ID_BYTES


def test_max_length_beyond_the_models_positions_is_refused_before_encoding(tmp_path):
    from splade_lite.encoders import SpladeEncoder

    with pytest.raises(ValueError, match="512 token positions"):
        SpladeEncoder("splade-tiny", max_length=100_000)
    assert SpladeEncoder("splade-tiny", max_length=512).max_length == 512


def test_sizes_that_would_exhaust_memory_are_refused_up_front(tmp_path, tiny_corpus):
    from splade_lite.encoders import SpladeEncoder
    from splade_lite.encoders.base import MAX_BATCH_SIZE
    from splade_lite.explain import explain, render
    from splade_lite.indexer.limits import MAX_THREADS, check_threads

    with pytest.raises(ValueError, match="batch_size"):
        SpladeEncoder("splade-tiny", batch_size=MAX_BATCH_SIZE + 1)
    with pytest.raises(ValueError, match="at most"):
        check_threads(MAX_THREADS + 1)
    assert check_threads(8, work=3) == 3  # never more threads than queries
    with pytest.raises(ValueError, match="width"):
        render(explain({"a": 1}, {"a": 2}, "d"), width=10**9)
    for args in (
        ["encode", tiny_corpus, "--out", tmp_path / "v", "--batch-size", 10**9],
        ["search", tmp_path, "q", "--threads", 10**6],
        ["explain", tmp_path, "q", "d", "--width", 10**9],
    ):
        result = invoke(*args)
        assert result.exit_code == 2 and "range" in result.output  # click's usage error


@pytest.mark.jvm
@pytest.mark.parametrize("where", ["queries", "index"])
def test_a_run_file_is_never_written_over_its_inputs(tiny_built, tmp_path, where):
    index = _copy(tiny_built, tmp_path)
    queries = tmp_path / "queries.tsv"
    queries.write_text("q1\tcoffee\n")
    out = queries if where == "queries" else index / "run.trec"
    result = invoke("search", index, "--queries", queries, "--out", out)
    _one_line_error(result, "nothing was touched")
    assert queries.read_text() == "q1\tcoffee\n" and not (index / "run.trec").exists()


@pytest.mark.jvm
@pytest.mark.parametrize("mode", ["--bm25", "--hybrid"])
def test_a_bm25_query_beyond_lucenes_clause_limit_is_refused_before_any_search(
    tiny_built, tmp_path, mode
):
    from splade_lite.indexer.limits import MAX_QUERY_TERMS

    words = " ".join(f"w{i}" for i in range(MAX_QUERY_TERMS + 10))
    queries = tmp_path / "q.tsv"
    queries.write_text(f"fine\tcoffee\nhuge\t{words}\n")
    run = tmp_path / "run.trec"
    result = invoke("search", tiny_built / "index", "--queries", queries, "--out", run, mode)
    _one_line_error(result, "q.tsv", "'huge'", "distinct words")
    assert not run.exists()
    # a learned sparse search takes it (truncated to the model's length, or Java's exact path)
    result = invoke("search", tiny_built / "index-if", "--queries", queries, "--out", run)
    assert result.exit_code == 0 and run.is_file()


@pytest.mark.jvm
def test_a_full_disk_while_saving_the_tokenizer_is_one_line_and_leaves_nothing(
    tiny_built, tmp_path, monkeypatch
):
    import errno
    from pathlib import Path

    copy = shutil.copyfile

    def full_disk(source, target, *args, **kwargs):
        if Path(target).parent.name == "tokenizer":  # the vectors folder's tokenizer, copied
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        return copy(source, target, *args, **kwargs)

    monkeypatch.setattr(shutil, "copyfile", full_disk)
    out = tmp_path / "out"
    out.mkdir()
    result = invoke("index", tiny_built / "vectors", "--out", out / "index")
    _one_line_error(result, "No space left on device")
    assert sorted(p.name for p in out.iterdir()) == []  # no index, no staging folder


@pytest.mark.parametrize(
    "content",
    [{"num_docs": "6", "df": {}}, {"num_docs": 6, "df": []}, {"num_docs": 6, "df": {"a": 7}},
     {"num_docs": 6, "df": {"a": "2"}}, {"df": {"a": 1}}],
)  # fmt: skip
def test_crafted_document_frequencies_are_named(tmp_path, content):
    from splade_lite.metadata import MetadataError, read_df

    (tmp_path / "df.json").write_text(json.dumps(content))
    with pytest.raises(MetadataError, match="df.json"):
        read_df(tmp_path)
    (tmp_path / "df.json").write_text(json.dumps({"num_docs": 6, "df": {"a": 6, "b": 0}}))
    assert read_df(tmp_path) == ({"a": 6, "b": 0}, 6)


@pytest.mark.parametrize("weight", [1e300, 2e4, True, "3", None])
def test_crafted_idf_tables_are_named(tmp_path, weight):
    from splade_lite.encoders.inference_free import read_idf_file

    path = tmp_path / "idf.json"
    path.write_text(json.dumps({"fine": 2.5, "bad": weight}))
    with pytest.raises(ValueError, match="idf.json"):
        read_idf_file(path)
    path.write_text(json.dumps({"fine": 2.5, "zero": 0}))
    assert read_idf_file(path) == {"fine": 2.5}
