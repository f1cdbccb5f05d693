"""``index`` takes what queries need (tokenizer, IDF) from the vectors folder ``encode`` wrote,
never from a model looked up again by name; older folders without them still index, with the
model their ``vectors.json`` names, refused if its weights changed."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest

from splade_lite import index as index_module
from splade_lite.check import OK, check_folder
from splade_lite.encoders.inference_free import read_idf_file
from splade_lite.encoders.models import ModelNotFoundError
from splade_lite.index import build_index
from splade_lite.search import Searcher

pytestmark = pytest.mark.jvm

QUERIES = ["vitamin bones", "coffee stimulant", "sleep and heart disease", "aurora"]


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture
def no_model_lookup(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("index looked the model up by name")

    monkeypatch.setattr(index_module, "resolve_recorded", refuse)


@pytest.fixture
def vectors(tiny_built, tmp_path) -> Path:
    folder = tmp_path / "vectors"
    shutil.copytree(tiny_built / "vectors", folder)
    return folder


def test_encode_keeps_the_tokenizer_and_index_copies_it(vectors, tmp_path, no_model_lookup):
    assert (vectors / "tokenizer" / "tokenizer.json").is_file()
    build_index(vectors, tmp_path / "index", mode="inference-free")
    assert tree(tmp_path / "index" / "tokenizer") == tree(vectors / "tokenizer")
    checks = {c.name: c.status for c in check_folder(tmp_path / "index")}
    assert checks["tokenizer"] == OK and checks["idf"] == OK


def test_an_older_folder_without_a_tokenizer_gives_the_same_index(vectors, tmp_path, monkeypatch):
    build_index(vectors, tmp_path / "new", mode="inference-free")
    shutil.rmtree(vectors / "tokenizer")  # as encode wrote it before it kept one
    looked_up = []
    real = index_module.resolve_recorded
    monkeypatch.setattr(
        index_module, "resolve_recorded", lambda *a: looked_up.append(a) or real(*a)
    )
    build_index(vectors, tmp_path / "old", mode="inference-free")
    assert [name for name, _, _ in looked_up] == ["splade-tiny"]
    assert tree(tmp_path / "old" / "tokenizer") == tree(tmp_path / "new" / "tokenizer")
    for name in ("idf.json", "forward.npz", "docs.jsonl.gz", "vectors.json"):
        assert (tmp_path / "old" / name).read_bytes() == (tmp_path / "new" / name).read_bytes()
    new, old = Searcher(tmp_path / "new"), Searcher(tmp_path / "old")
    assert new.batch_search(QUERIES, k=6) == old.batch_search(QUERIES, k=6)


def test_an_older_folder_whose_model_changed_is_refused(vectors, tmp_path):
    shutil.rmtree(vectors / "tokenizer")
    meta = json.loads((vectors / "vectors.json").read_text())
    meta["model_sha256"] = "0" * 64
    (vectors / "vectors.json").write_text(json.dumps(meta))
    with pytest.raises(ModelNotFoundError, match="was encoded with model 'splade-tiny'"):
        build_index(vectors, tmp_path / "index")
    assert not (tmp_path / "index").exists()


def test_a_damaged_kept_tokenizer_is_refused(vectors, tmp_path, no_model_lookup):
    (vectors / "tokenizer" / "tokenizer.json").write_text('{"model": {"type": "nonsense"')
    with pytest.raises(index_module.IndexError_, match="does not load"):
        build_index(vectors, tmp_path / "index")
    assert not (tmp_path / "index").exists()


def test_a_model_idf_table_travels_through_the_vectors_folder(
    tiny_corpus, tmp_path, no_model_lookup
):
    from splade_lite.encode import encode_corpus
    from splade_lite.encoders.models import builtin_model_dir

    try:
        model = tmp_path / "model"
        shutil.copytree(builtin_model_dir("splade-tiny"), model)
    except ModelNotFoundError as err:
        pytest.skip(str(err))
    (model / "idf.json").write_text(json.dumps({"vitamin": 2.5, "the": 0.0, "coffee": 1.25}))
    encode_corpus(
        tiny_corpus, tmp_path / "vectors", model=model, mode="inference-free", progress=False
    )
    assert read_idf_file(tmp_path / "vectors" / "idf.json") == {"vitamin": 2.5, "coffee": 1.25}
    meta = build_index(tmp_path / "vectors", tmp_path / "index")  # the model is never asked
    assert meta["idf_source"] == "model"
    assert read_idf_file(tmp_path / "index" / "idf.json") == {"vitamin": 2.5, "coffee": 1.25}
    hits = Searcher(tmp_path / "index").search("vitamin", k=1)
    assert [h.docid for h in hits] == ["d1"]


def _full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", str(args[-1]))


def test_a_full_disk_while_copying_the_tokenizer_leaves_nothing(vectors, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(shutil, "copyfile", _full_disk)
    with pytest.raises(OSError, match="No space left on device"):
        build_index(vectors, out / "index")
    assert list(out.iterdir()) == []  # no index, no staging folder


def test_a_full_disk_while_saving_an_older_folders_tokenizer_leaves_nothing(
    vectors, tmp_path, monkeypatch
):
    from transformers import PreTrainedTokenizerBase

    shutil.rmtree(vectors / "tokenizer")  # saved from the model, as before encode kept it
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(PreTrainedTokenizerBase, "save_pretrained", _full_disk)
    with pytest.raises(OSError, match="No space left on device"):
        build_index(vectors, out / "index")
    assert list(out.iterdir()) == []
