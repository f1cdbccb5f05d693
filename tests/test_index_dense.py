"""``index --dense-model``: the corpus embedded into ``dense/`` inside the index, recorded in
``splade_lite.json``, checked by ``check``, replaced by ``--overwrite``, left out of ``export``."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from splade_lite.check import FAIL, OK, check_index
from splade_lite.cli import main
from splade_lite.encoders.dense import (
    dense_weight_files,
    dense_weights_sha256,
    embed,
    resolve_dense_model,
)
from splade_lite.encoders.models import ModelNotFoundError
from splade_lite.errors import BadValueError
from splade_lite.index import build_index, export_index
from splade_lite.index_dense import DenseBuildError, build_dense
from splade_lite.io import read_corpus
from splade_lite.outputs import INDEX, claim_output, foreign_entries

pytestmark = pytest.mark.jvm


def _meta(index) -> dict:
    return json.loads((index / "splade_lite.json").read_text())


def _edit_dense(index, **changes) -> None:
    meta = _meta(index)
    meta["dense"].update(changes)
    (index / "splade_lite.json").write_text(json.dumps(meta))


def _statuses(index) -> dict[str, str]:
    return {c.name: c.status for c in check_index(index)}


def test_meta_records_the_dense_index(dense_built):
    for name in ("index-if", "index"):
        dense = _meta(dense_built / name)["dense"]
        weights = resolve_dense_model("minilm") + "/model.safetensors"
        with open(weights, "rb") as handle:
            sha = hashlib.sha256(handle.read()).hexdigest()
        assert dense["model"] == "minilm"
        assert dense["resolved"] == resolve_dense_model("minilm")
        assert dense["model_sha256"] == sha
        assert (dense["dim"], dense["num_docs"]) == (384, 30)
        assert dense["seconds"] >= dense["embed_seconds"] > 0
        assert dense["docs_per_second"] == pytest.approx(30 / dense["embed_seconds"], rel=0.01)
        assert dense["bytes"] > 30 * 384 * 4  # the float32 vectors at least
        assert (dense_built / name / "dense").is_dir()


def test_the_dense_index_holds_each_document_embedding(dense_built, minilm):
    """Each document's own embedding (of its title and text, as BM25 reads them) finds it
    first, with a dot product of 1."""
    from splade_lite.indexer.dense import DenseIndex

    docs = list(read_corpus(dense_built / "corpus.jsonl"))
    matrix = embed(minilm, [d.full_text for d in docs], "document", 32)
    with DenseIndex(dense_built / "index-if" / "dense") as index:
        for doc, hits in zip(docs, index.batch_search(matrix, k=3)):
            assert hits[0][0] == doc.id
            assert hits[0][1] == pytest.approx(1.0, abs=1e-5)


def test_dense_model_without_bm25_corpus_is_refused_before_any_work(dense_built, tmp_path):
    with pytest.raises(BadValueError, match="--dense-model needs --bm25-corpus CORPUS"):
        build_index(dense_built / "vectors", tmp_path / "out", dense_model="minilm")
    result = CliRunner().invoke(
        main,
        ["index", str(dense_built / "vectors"), "--out", str(tmp_path / "out"), "--dense-model",
         "minilm"],
    )  # fmt: skip
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "--dense-model needs --bm25-corpus CORPUS" in lines[0]
    assert not (tmp_path / "out").exists()


def test_a_dense_model_that_is_not_there_is_refused_before_any_work(dense_built, tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        build_index(
            dense_built / "vectors",
            tmp_path / "out",
            bm25_corpus=dense_built / "corpus.jsonl",
            dense_model="./no-such-model",
        )
    assert not (tmp_path / "out").exists()


def test_a_count_other_than_the_impact_index_is_refused(dense_built, tmp_path):
    staged = tmp_path / "docs.jsonl"
    docs = list(read_corpus(dense_built / "corpus.jsonl"))[:29]
    staged.write_text(
        "".join(json.dumps({"id": d.id, "contents": d.full_text}) + "\n" for d in docs)
    )
    where = resolve_dense_model("minilm")
    with pytest.raises(
        DenseBuildError, match="29 documents to embed but the impact index holds 30"
    ):
        build_dense("minilm", where, staged, tmp_path, 30)
    assert not (tmp_path / "dense").exists() and not (tmp_path / ".dense-vectors").exists()


def test_check_passes_a_whole_dense_index(dense_built):
    checks = {c.name: c for c in check_index(dense_built / "index-if")}
    assert checks["dense index"].status == OK
    assert checks["dense index"].detail.startswith("30 documents of 384 dimensions")
    assert checks["dense model"].status == OK and "as recorded" in checks["dense model"].detail
    assert [c for c in checks.values() if c.status == FAIL] == []


def test_an_index_without_dense_has_no_dense_rows(dense_built, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(dense_built / "index-if", index)
    shutil.rmtree(index / "dense")
    meta = _meta(index)
    meta["dense"] = None
    (index / "splade_lite.json").write_text(json.dumps(meta))
    statuses = _statuses(index)
    assert "dense index" not in statuses and "dense model" not in statuses
    assert FAIL not in statuses.values()


@pytest.mark.parametrize(
    ("damage", "failing", "detail"),
    [
        (lambda i: _edit_dense(i, model_sha256="0" * 64), "dense model", "now has weights"),
        (lambda i: _edit_dense(i, dim=128), "dense index", "vectors of 384 dimensions"),
        (lambda i: _edit_dense(i, num_docs=31), "dense index", "30 documents; splade_lite.json"),
        (lambda i: shutil.rmtree(i / "dense"), "dense index", "dense/ is missing"),
        (
            lambda i: next((i / "dense").glob("*.vec")).write_bytes(b"x"),
            "dense index",
            "CheckIndex",
        ),
    ],
)
def test_check_fails_a_damaged_dense_index(dense_built, tmp_path, damage, failing, detail):
    index = tmp_path / "index"
    shutil.copytree(dense_built / "index-if", index)
    damage(index)
    checks = {c.name: c for c in check_index(index)}
    assert [c.name for c in checks.values() if c.status == FAIL] == [failing]
    assert detail in checks[failing].detail


def test_overwrite_replaces_an_index_with_a_dense_part_but_not_foreign_files(dense_built, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(dense_built / "index-if", index)
    assert foreign_entries(index, INDEX) == []
    claim_output(index, INDEX, overwrite=True)  # refused if dense/ looked foreign
    (index / "dense" / "notes.txt").write_text("mine")
    assert foreign_entries(index, INDEX) == ["dense/notes.txt"]
    with pytest.raises(FileExistsError, match="dense/notes.txt"):
        claim_output(index, INDEX, overwrite=True)


def test_export_leaves_the_dense_index_out_and_says_so(dense_built, tmp_path):
    said: list[str] = []
    count = export_index(dense_built / "index-if", tmp_path / "exported", log=said.append)
    assert count == 30 and not (tmp_path / "exported" / "dense").exists()
    assert any("dense index" in line and "not exported" in line for line in said), said
    assert "--dense-model minilm" in said[-1]


def test_the_weights_hash_covers_every_module_folder(tmp_path):
    """A model with weights in a module folder hashes them all; other formats are left out."""
    model = tmp_path / "model"
    (model / "2_Dense").mkdir(parents=True)
    (model / "onnx").mkdir()
    (model / "modules.json").write_text(
        json.dumps([{"path": "", "type": "x"}, {"path": "2_Dense", "type": "y"}])
    )
    (model / "model.safetensors").write_bytes(b"body")
    (model / "pytorch_model.bin").write_bytes(b"same weights, other format")
    (model / "2_Dense" / "model.safetensors").write_bytes(b"head")
    (model / "onnx" / "model.safetensors").write_bytes(b"not loaded")
    files = dense_weight_files(str(model))
    assert [f.relative_to(model).as_posix() for f in files] == [
        "model.safetensors",
        "2_Dense/model.safetensors",
    ]
    before = dense_weights_sha256(str(model))
    (model / "2_Dense" / "model.safetensors").write_bytes(b"head, changed")
    assert dense_weights_sha256(str(model)) != before
    shutil.rmtree(model / "2_Dense")
    assert dense_weights_sha256(str(model)) == hashlib.sha256(b"body").hexdigest()
    assert dense_weights_sha256(str(tmp_path / "empty")) is None


def test_the_embeddings_match_the_model(dense_built, minilm):
    """The stored vectors are the model's: a query's dot products with the stored vectors
    equal numpy's over the embeddings computed here."""
    from splade_lite.indexer.dense import DenseIndex

    docs = list(read_corpus(dense_built / "corpus.jsonl"))
    matrix = embed(minilm, [d.full_text for d in docs], "document", 32)
    query = embed(minilm, ["honey bees"], "query", 1)[0]
    with DenseIndex(dense_built / "index" / "dense") as index:
        hits = dict(index.search(query, k=30))
    expected = {d.id: float(s) for d, s in zip(docs, matrix @ query)}
    assert hits.keys() == expected.keys()
    assert [hits[d] for d in expected] == pytest.approx(list(expected.values()), abs=1e-5)
    assert np.isclose(sorted(hits.values())[-1], max(expected.values()), atol=1e-5)
