"""Training a tiny randomly initialised model for a few steps: the loss falls, the saved model
reloads to the same vectors everywhere, FLOPS makes vectors sparser, and an interrupted run
resumes to exactly the weights of an uninterrupted one."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from training_helpers import DOCS, make_beir, make_tiny_model  # noqa: E402

from splade_lite.training.recipes import adapt_corpus, train_supervised  # noqa: E402
from splade_lite.training.trainer import RunExistsError, TrainConfig  # noqa: E402

#: Every run here builds its teacher's BM25 index with Lucene.
pytestmark = pytest.mark.jvm


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("training")
    return make_tiny_model(root / "model"), make_beir(root / "beir")


def _config(model, **changes) -> TrainConfig:
    base = TrainConfig(
        base=str(model),
        max_steps=30,
        batch_size=4,
        negatives=2,
        lr=3e-3,
        warmup_steps=0,
        max_length=32,
        query_max_length=16,
        flops_doc=0.0,
        flops_query=0.0,
        flops_warmup=0,
        checkpoint_every=10,
        seed=7,
    )
    return replace(base, **changes)


class Stop(Exception):
    """Stands for an interruption (Ctrl-C, a killed job) in the middle of a run."""


def stop_at(stop_step: int):
    """An `on_step` callback that interrupts the run after step `stop_step`."""

    def on_step(step: int, loss: float) -> None:
        if step == stop_step:
            raise Stop

    return on_step


def _weights(folder) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(folder / "model.safetensors"))


@pytest.mark.slow  # a 30-step training run
def test_supervised_loss_falls(tiny, tmp_path):
    model, beir = tiny
    result = train_supervised(beir, tmp_path / "out", _config(model), progress=False)
    assert result.steps == 30 and len(result.losses) == 30
    first, last = np.mean(result.losses[:5]), np.mean(result.losses[-5:])
    assert last < 0.85 * first, (first, last)
    run = json.loads((tmp_path / "out" / "training" / "run.json").read_text())
    assert run["options"]["command"] == "train"
    assert not (tmp_path / "out" / "training" / "checkpoint.safetensors").exists()


def test_saved_model_reloads_to_identical_vectors(tiny, tmp_path):
    from splade_lite.encoders import load_encoder, resolve_model
    from splade_lite.training.trainer import Trainer

    model, beir = tiny
    config = _config(model, mode="inference-free", loss="margin-mse", max_steps=6)
    config = replace(config, doc_regularizer="idf-flops", flops_doc=1e-3)
    out = tmp_path / "adapted"
    adapt_corpus(beir / "corpus.jsonl", out, config, depth=5, progress=False)

    source = resolve_model(out)
    assert source.query_idf == out / "idf.json" and source.max_length == 32
    meta = json.loads((out / "splade_lite_model.json").read_text())
    assert meta["mode"] == "inference-free" and meta["base"] == str(model)
    assert meta["recipe"]["config"]["loss"] == "margin-mse"

    texts = [f"{title} {body}" for title, body in DOCS.values()]
    reloaded = load_encoder(out, mode="inference-free")
    vectors = reloaded.encode_documents(texts)
    # the trained weights, loaded into the training module, give the same vectors
    idf = json.loads((out / "training" / "idf.json").read_text())
    trained = Trainer(replace(config, base=str(out)), [], {}, idf=idf, check=False).model.eval()
    with torch.no_grad():
        dense = trained.encode(texts, 32).numpy()
    for vec, row in zip(vectors, dense):
        assert np.array_equal(vec.indices, np.flatnonzero(row > 0))
        assert np.allclose(vec.values, row[row > 0], atol=1e-5)
    # and the weights differ from the base model's: training changed them
    base_vectors = load_encoder(model, mode="splade").encode_documents(texts[:1])
    assert not np.array_equal(base_vectors[0].values, vectors[0].values)
    # queries use the saved IDF table
    (query,) = reloaded.encode_queries(["bees pollinate"])
    terms = [reloaded.terms[i] for i in query.indices]
    assert sorted(terms) == ["bees", "pollinate"]
    assert np.allclose(query.values, [idf[t] for t in terms])
    # reloading twice gives the same vectors (nothing random at encoding time)
    again = load_encoder(out, mode="splade").encode_documents(texts)
    assert all(np.array_equal(a.values, b.values) for a, b in zip(vectors, again))


@pytest.mark.slow  # two 15-step training runs
def test_flops_makes_vectors_sparser(tiny, tmp_path):
    from splade_lite.encoders import SpladeEncoder

    model, beir = tiny
    counts = {}
    for weight in (0.0, 3.0):
        out = tmp_path / f"flops-{weight}"
        train_supervised(
            beir, out, _config(model, max_steps=15, flops_doc=weight, flops_query=weight),
            progress=False,
        )  # fmt: skip
        vectors = SpladeEncoder(out).encode_documents([b for _, b in DOCS.values()])
        counts[weight] = np.mean([len(v) for v in vectors])
    assert counts[3.0] < 0.5 * counts[0.0], counts


@pytest.mark.slow  # four training runs
def test_interrupted_run_resumes_to_the_same_weights(tiny, tmp_path):
    model, beir = tiny
    config = _config(model, max_steps=4, checkpoint_every=2)
    train_supervised(beir, tmp_path / "straight", config, progress=False)

    out = tmp_path / "resumed"
    with pytest.raises(Stop):
        train_supervised(beir, out, config, progress=False, on_step=stop_at(2))
    assert (out / "training" / "checkpoint.safetensors").is_file()
    assert not (out / "config.json").exists()
    with pytest.raises(RunExistsError, match="--resume"):
        train_supervised(beir, out, config, progress=False)
    with pytest.raises(ValueError, match="lr"):
        train_supervised(beir, out, replace(config, lr=0.5), progress=False, resume=True)
    seen = []
    result = train_supervised(
        beir, out, config, progress=False, resume=True, on_step=lambda s, _: seen.append(s)
    )
    assert seen == [3, 4] and result.steps == 4
    straight, resumed = _weights(tmp_path / "straight"), _weights(out)
    assert straight.keys() == resumed.keys()
    for name in straight:
        assert np.array_equal(straight[name], resumed[name]), name
    # a different seed gives different weights: the comparison above can fail
    train_supervised(beir, tmp_path / "other", replace(config, seed=8), progress=False)
    other = _weights(tmp_path / "other")
    assert any(not np.array_equal(straight[n], other[n]) for n in straight)


def test_finished_model_is_not_overwritten_without_asking(tiny, tmp_path):
    model, beir = tiny
    config = _config(model, max_steps=1)
    train_supervised(beir, tmp_path / "out", config, progress=False)
    with pytest.raises(RunExistsError, match="--overwrite"):
        train_supervised(beir, tmp_path / "out", config, progress=False)
    train_supervised(beir, tmp_path / "out", config, progress=False, overwrite=True)


def test_cli_train_and_adapt(tiny, tmp_path):
    from click.testing import CliRunner

    from splade_lite.cli import main

    model, beir = tiny
    common = ["--base", str(model), "--max-steps", "2", "--batch-size", "4", "--negatives", "1",
              "--max-length", "32", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(main, ["train", str(beir), "--out", str(tmp_path / "t"), *common])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t" / "config.json").is_file()
    assert not (tmp_path / "t" / "idf.json").exists()
    args = ["adapt", str(beir / "corpus.jsonl"), "--out", str(tmp_path / "a"), "--mode",
            "inference-free", "--depth", "5", *common]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a" / "idf.json").is_file()
    meta = json.loads((tmp_path / "a" / "splade_lite_model.json").read_text())
    assert meta["recipe"]["config"]["doc_regularizer"] == "idf-flops"
    assert meta["recipe"]["config"]["anchor"] == 0.0
    anchored = ["adapt", str(beir / "corpus.jsonl"), "--out", str(tmp_path / "an"), "--mode",
                "inference-free", "--depth", "5", "--anchor", "2.5", *common]  # fmt: skip
    result = CliRunner().invoke(main, anchored)
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "an" / "splade_lite_model.json").read_text())
    assert meta["recipe"]["config"]["anchor"] == 2.5
    cloze = ["adapt", str(beir / "corpus.jsonl"), "--out", str(tmp_path / "c"), "--cloze", "1",
             "--title-cloze", "0.5", "--depth", "5", *common]  # fmt: skip
    result = CliRunner().invoke(main, cloze)
    assert result.exit_code == 0, result.output
    from splade_lite.training.data import CLOZE_MARK, read_examples

    made = read_examples(tmp_path / "c" / "training" / "examples.jsonl")
    assert any(ex.docs[0].endswith(CLOZE_MARK) for ex in made)
    assert (
        json.loads((tmp_path / "c" / "splade_lite_model.json").read_text())["recipe"]["data"][
            "cloze"
        ]
        == 1.0
    )
    run = json.loads((tmp_path / "c" / "training" / "run.json").read_text())["options"]
    assert (
        run["title_cloze"] == 0.5
        and "title_cloze"
        not in json.loads((tmp_path / "a" / "training" / "run.json").read_text())["options"]
    )  # recorded only when used, so older runs still resume
    result = CliRunner().invoke(main, args)  # a second time: refused, one line
    assert result.exit_code != 0 and "--overwrite" in result.output


def test_hard_negatives_from_the_projects_search(tiny, tmp_path):
    """--negatives-index: negatives are mined by searching a splade-lite index."""
    from splade_lite.encode import encode_corpus
    from splade_lite.index import build_index
    from splade_lite.search import Searcher
    from splade_lite.training.data import read_examples

    model, beir = tiny
    encode_corpus(beir / "corpus.jsonl", tmp_path / "vectors", model=model, progress=False)
    build_index(tmp_path / "vectors", tmp_path / "index")
    config = _config(model, max_steps=1, negatives=2)
    out = tmp_path / "out"
    train_supervised(beir, out, config, negatives_index=tmp_path / "index", depth=5, progress=False)
    examples = read_examples(out / "training" / "examples.jsonl")
    searcher = Searcher(tmp_path / "index")
    for ex in examples:
        top = [h.docid for h in searcher.search(ex.query, k=5)]
        positive, negatives = ex.docs[0], ex.docs[1:]
        assert ex.scores is None and positive not in negatives and len(negatives) == 2
        assert set(negatives) <= set(top) - {positive}


def test_learned_query_weights_are_saved_as_the_idf_table(tiny, tmp_path):
    """--query-weight-lr: the same query tokens, learned weights, saved in idf.json and used
    by the reloaded encoder; an interrupted run resumes to the same table."""
    from splade_lite.encoders import load_encoder

    model, beir = tiny
    config = _config(model, mode="inference-free", loss="margin-mse", max_steps=6)
    config = replace(config, query_weight_lr=0.05, checkpoint_every=3)
    out = tmp_path / "learned"
    adapt_corpus(beir / "corpus.jsonl", out, config, depth=5, progress=False)
    corpus_idf = json.loads((out / "training" / "idf.json").read_text())
    saved = json.loads((out / "idf.json").read_text())
    assert saved.keys() == corpus_idf.keys()  # no token gains or loses a weight
    assert all(w > 0 for w in saved.values())
    moved = [t for t in saved if abs(saved[t] - corpus_idf[t]) > 1e-4]
    assert moved and len(moved) < len(saved)  # only tokens seen in training queries move
    encoder = load_encoder(out, mode="inference-free")
    (query,) = encoder.encode_queries(["bees pollinate"])
    assert np.allclose(query.values, [saved[encoder.terms[i]] for i in query.indices])

    resumed = tmp_path / "resumed"
    with pytest.raises(Stop):
        adapt_corpus(beir / "corpus.jsonl", resumed, config, depth=5, progress=False,
                     on_step=stop_at(4))  # fmt: skip
    adapt_corpus(beir / "corpus.jsonl", resumed, config, depth=5, progress=False, resume=True)
    assert json.loads((resumed / "idf.json").read_text()) == saved
    # the encoder too (adapt distils teacher scores: both runs train on them as saved)
    straight, again = _weights(out), _weights(resumed)
    assert all(np.array_equal(straight[n], again[n]) for n in straight)
    with pytest.raises(ValueError, match="inference-free"):
        replace(config, mode="splade")


def _shortfall(trained, base, texts) -> float:
    """Mean summed squared fall of the trained model's document weights below the base's."""
    from splade_lite.training.losses import shortfall
    from splade_lite.training.model import load_trainable

    with torch.no_grad():
        new = load_trainable(trained, "cpu").eval().encode(texts, 32)
        old = load_trainable(base, "cpu").eval().encode(texts, 32)
    return shortfall(new, old).item()


@pytest.mark.slow  # two 15-step training runs
def test_anchor_keeps_the_documents_near_the_starting_model(tiny, tmp_path):
    """--anchor: under a FLOPS weight that strips the documents, the anchored run keeps
    its starting model's term weights far better; run.json records it only when set."""
    model, beir = tiny
    texts = [f"{title} {body}" for title, body in DOCS.values()]
    falls = {}
    for anchor in (0.0, 5.0):
        out = tmp_path / f"anchor-{anchor}"
        config = _config(model, max_steps=15, flops_doc=3.0, flops_query=3.0, anchor=anchor)
        train_supervised(beir, out, config, progress=False)
        falls[anchor] = _shortfall(out, model, texts)
        options = json.loads((out / "training" / "run.json").read_text())["options"]
        assert ("anchor" in options) == (anchor > 0)
        recipe = json.loads((out / "splade_lite_model.json").read_text())["recipe"]
        assert recipe["config"]["anchor"] == anchor
    assert falls[0.0] > 0 and falls[5.0] < 0.5 * falls[0.0], falls


def test_anchor_must_not_be_negative(tiny):
    from splade_lite.errors import BadValueError

    model, _ = tiny
    for bad in (-1.0, float("nan")):
        with pytest.raises(BadValueError, match="anchor"):
            _config(model, anchor=bad)
