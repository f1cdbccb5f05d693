"""The vectors folder's one owner: names, shard patterns, records, metadata, df and tokenizer."""

from __future__ import annotations

import fnmatch
import gzip
import json
from pathlib import Path

import pytest

from splade_lite import metadata as md
from splade_lite import outputs, shards
from splade_lite import vectors_folder as vf
from splade_lite.index_folder import load_index_tokenizer, read_documents
from splade_lite.indexer import build
from splade_lite.vectors import EMPTY_DOC_TOKEN


def test_every_module_takes_the_shard_patterns_from_the_owner():
    assert build.VECTOR_SHARD_PATTERNS is vf.SHARD_GLOBS
    assert outputs.SHARD_RE is vf.SHARD_RE
    assert shards.SHARD_GLOBS is vf.SHARD_GLOBS
    assert outputs.VECTORS_NAMES is vf.FILE_NAMES
    assert md.read_df is vf.read_df and md.read_vectors_meta is vf.read_vectors_meta


@pytest.mark.parametrize("number", [0, 7, 99999, 123456])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_the_names_encode_writes_are_read_and_owned(number, suffix):
    name = vf.shard_name(number, suffix)
    assert any(fnmatch.fnmatchcase(name, pattern) for pattern in vf.SHARD_GLOBS)
    assert vf.SHARD_RE.fullmatch(name)
    assert outputs.written_by_encode(name)


def test_shard_names_are_numbered_in_document_order():
    assert vf.shard_name(3) == "part-00003.jsonl"
    assert vf.shard_name(12, ".gz") == "part-00012.jsonl.gz"


def test_an_unnumbered_shard_is_read_but_never_taken_for_ours(tmp_path):
    (tmp_path / "part-mine.jsonl").write_text("")
    assert [p.name for p in vf.shard_files(tmp_path)] == ["part-mine.jsonl"]
    assert not vf.SHARD_RE.fullmatch("part-mine.jsonl")
    assert not outputs.written_by_encode("part-mine.jsonl")


def test_shard_files_are_plain_and_gzipped_files_in_name_order(tmp_path):
    for name in ("part-00001.jsonl.gz", "part-00000.jsonl", "notes.jsonl", "part-00002.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "part-00003.jsonl").mkdir()
    assert [p.name for p in vf.shard_files(tmp_path)] == ["part-00000.jsonl", "part-00001.jsonl.gz"]


def test_a_record_line_is_byte_exact():
    line = vf.record_line(vf.document_record("d1", {"café": 3, "##s": 1}))
    assert line == '{"id": "d1", "contents": "", "vector": {"café": 3, "##s": 1}}\n'


def test_a_document_without_terms_keeps_the_placeholder():
    record = vf.document_record("d2", {})
    assert record == {"id": "d2", "contents": "", "vector": {EMPTY_DOC_TOKEN: 1}}
    assert shards.parse_vector_line(vf.record_line(record))["vector"] == {EMPTY_DOC_TOKEN: 1}


def test_a_record_does_not_share_the_callers_dict():
    impacts = {"a": 2}
    vf.document_record("d", impacts)["vector"]["b"] = 1
    assert impacts == {"a": 2}


def test_snippet_line_keeps_the_start_of_the_text():
    data = json.loads(vf.snippet_line("d", "Café", "x" * 400))
    assert data == {"id": "d", "title": "Café", "text": "x" * 300}
    assert "Café" in vf.snippet_line("d", "Café", "")  # UTF-8 kept as it is


def test_df_round_trip_and_refusals(tmp_path):
    vf.write_df(tmp_path, {"b": 2, "a": 1}, 3)
    assert json.loads((tmp_path / "df.json").read_text()) == {"num_docs": 3, "df": {"b": 2, "a": 1}}
    assert vf.read_df(tmp_path) == ({"b": 2, "a": 1}, 3)
    vf.write_df(tmp_path, {"a": 4}, 3)
    with pytest.raises(md.MetadataError, match=r"the count of 'a' is 4, not a whole number"):
        vf.read_df(tmp_path)


def test_vectors_meta_round_trip_and_refusals(tmp_path):
    meta = {
        "format": "splade-lite/vectors",
        "model": "m",
        "mode": "splade",
        "scale": 100.0,
        "max_length": 8,
        "num_docs": 2,
    }
    vf.write_vectors_meta(tmp_path, meta)
    assert vf.read_vectors_meta(tmp_path) == meta
    vf.write_vectors_meta(tmp_path, {**meta, "format": "other"})
    with pytest.raises(md.MetadataError, match="format 'other' is not 'splade-lite/vectors'"):
        vf.read_vectors_meta(tmp_path)


def test_the_query_side_is_carried_only_when_complete(tmp_path):
    assert not vf.carries_query_side(tmp_path, {"idf_source": "corpus"})
    (tmp_path / "tokenizer").mkdir()
    assert vf.carries_query_side(tmp_path, {"idf_source": "corpus"})
    assert not vf.carries_query_side(tmp_path, {"idf_source": "model"})  # its table is missing
    (tmp_path / "idf.json").write_text("{}")
    assert vf.carries_query_side(tmp_path, {"idf_source": "model"})


def test_copy_tokenizer_copies_plain_files_and_refuses_folders(tmp_path):
    source = tmp_path / "tokenizer"
    source.mkdir()
    (source / "tokenizer.json").write_text("{}")
    vf.copy_tokenizer(source, tmp_path / "copy")
    assert [p.name for p in (tmp_path / "copy").iterdir()] == ["tokenizer.json"]
    (source / "nested").mkdir()
    with pytest.raises(ValueError, match="plain files only"):
        vf.copy_tokenizer(source, tmp_path / "again")
    assert not (tmp_path / "again").exists()


def test_a_vectors_folder_may_hold_its_tokenizer(tmp_path):
    (tmp_path / "vectors.json").write_text('{"format": "splade-lite/vectors"}')
    (tmp_path / "tokenizer").mkdir()
    (tmp_path / "tokenizer" / "vocab.txt").write_text("a\n")
    assert outputs.foreign_entries(tmp_path, outputs.VECTORS) == []
    (tmp_path / "tokenizer" / "inner").mkdir()
    assert outputs.foreign_entries(tmp_path, outputs.VECTORS) == ["tokenizer/inner/"]


def test_an_encoder_without_a_model_folder_stores_no_tokenizer(tmp_path):
    vf.store_query_side(tmp_path, object())
    assert list(tmp_path.iterdir()) == []


def test_store_query_side_saves_a_tokenizer_that_search_loads(tmp_path):
    from splade_lite.encoders.models import ModelNotFoundError, load_tokenizer, resolve_model

    try:
        source = resolve_model("splade-tiny")
    except ModelNotFoundError as err:
        pytest.skip(str(err))
    vf.store_query_side(tmp_path, source)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokenizer"]  # no IDF of its own
    kept = load_index_tokenizer(tmp_path)  # as inference-free searches load it
    model = load_tokenizer(source)
    text = "Vitamin D deficiency; naïve café-goers"
    assert kept.tokenize(text) == model.tokenize(text)
    assert len(kept) == len(model)


def test_snippets_read_back_as_the_index_reads_them(tmp_path):
    path: Path = tmp_path / vf.DOCS_FILE
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(vf.snippet_line("d1", "T", "text"))
    assert read_documents(tmp_path, {"d1"}) == {"d1": {"id": "d1", "title": "T", "text": "text"}}
