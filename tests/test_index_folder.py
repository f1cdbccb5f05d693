"""The index folder's one reader: ``check`` loads the query side as searches load it, and the
typed metadata agree with the dict searches keep."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from splade_lite import metadata as md
from splade_lite.check import FAIL, OK, check_folder
from splade_lite.errors import BadValueError, MissingFileError, SpladeLiteError, StateError
from splade_lite.index_folder import IndexChangedError, load_query_encoder


@pytest.fixture
def index_if(tiny_built, tmp_path) -> Path:
    folder = tmp_path / "index-if"
    shutil.copytree(tiny_built / "index-if", folder)
    return folder


def test_user_errors_of_the_folders_are_splade_lite_errors():
    from splade_lite.index import IndexError_
    from splade_lite.indexer import IndexBuildError
    from splade_lite.outputs import OutputError

    assert issubclass(md.MetadataError, BadValueError) and issubclass(md.MetadataError, ValueError)
    assert issubclass(OutputError, BadValueError)
    for error in (IndexChangedError, IndexError_, IndexBuildError):
        assert issubclass(error, StateError) and issubclass(error, RuntimeError)
        assert issubclass(error, SpladeLiteError)


def test_a_missing_tokenizer_folder_is_refused_by_name(tmp_path):
    with pytest.raises(MissingFileError, match="has no tokenizer/ folder"):
        load_query_encoder(tmp_path, {}, "inference-free")


def test_an_unknown_mode_is_refused(tmp_path):
    with pytest.raises(BadValueError, match="unknown mode 'dense'"):
        load_query_encoder(tmp_path, {}, "dense")


def test_splade_queries_refuse_a_model_whose_weights_changed(tmp_path, splade_tiny):
    meta = {"model": "splade-tiny", "max_length": 32, "model_sha256": "0" * 64}
    with pytest.raises(BadValueError, match=r"whose weights had sha256 0{12}…, but those found"):
        load_query_encoder(tmp_path, meta, "splade", device="cpu")


@pytest.mark.jvm
def test_check_loads_the_tokenizer_as_search_does(index_if, monkeypatch):
    import splade_lite.encoders.models as models

    def no_transformers(*args, **kwargs):
        raise AssertionError("loaded through transformers, which searches do not use")

    monkeypatch.setattr(models, "load_tokenizer", no_transformers)
    checks = {c.name: c for c in check_folder(index_if)}
    assert checks["tokenizer"].status == OK
    assert checks["tokenizer"].detail == "tokenizer/ loads, 30522 tokens"


@pytest.mark.jvm
def test_a_tokenizer_search_cannot_read_fails_check(index_if, monkeypatch):
    from splade_lite.encoders import rust_tokenizer

    def unreadable(self, folder):
        raise ValueError(f"{folder}: not a readable tokenizer (test); rebuild the index")

    monkeypatch.setattr(rust_tokenizer.RustTokenizer, "__init__", unreadable)
    checks = {c.name: c for c in check_folder(index_if)}
    assert checks["tokenizer"].status == FAIL
    assert "does not load" in checks["tokenizer"].detail


@pytest.mark.jvm
def test_typed_metadata_agree_with_the_file(tiny_built):
    raw = json.loads((tiny_built / "index" / "splade_lite.json").read_text())
    info = md.read_index_info(tiny_built / "index")
    assert (info.model, info.mode, info.max_length, info.num_docs) == (
        raw["model"],
        raw["mode"],
        raw["max_length"],
        raw["num_docs"],
    )
    assert info.scale == raw["scale"] and info.model_sha256 == raw["model_sha256"]
    assert info.bm25 is not None and (info.bm25.k1, info.bm25.b) == (
        raw["bm25"]["k1"],
        raw["bm25"]["b"],
    )
    assert info.bm25.num_docs == raw["bm25"]["num_docs"]
    with pytest.raises(AttributeError):
        info.mode = "splade"  # type: ignore[misc]  # frozen


def test_typed_metadata_refuse_what_searches_refuse(tmp_path):
    (tmp_path / "splade_lite.json").write_text(json.dumps({"format": "splade-lite/index"}))
    with pytest.raises(md.MetadataError, match="no model name"):
        md.read_index_info(tmp_path)


@pytest.mark.jvm
def test_the_index_records_how_its_documents_were_encoded(tiny_built):
    vectors = json.loads((tiny_built / "vectors" / "vectors.json").read_text())
    for name in ("index", "index-if"):
        index = json.loads((tiny_built / name / "splade_lite.json").read_text())
        for key in ("model", "model_sha256", "scale", "max_length", "pooling"):
            assert index[key] == vectors[key], key
    assert json.loads((tiny_built / "index-if" / "splade_lite.json").read_text())["mode"] == (
        "inference-free"
    )
