from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from splade_lite.encoders import (
    IdfQueryEncoder,
    InferenceFreeEncoder,
    ModelNotFoundError,
    SpladeEncoder,
    idf_from_df,
    load_encoder,
    resolve_model,
    vocab_terms,
)
from splade_lite.encoders.splade import splade_pool

TEXTS = [
    "Vitamin D deficiency weakens bones in older adults.",
    "aurora",
    "The quick brown fox jumps over the lazy dog, twice, and then sleeps for a while.",
    "",
    "Café naïve résumé",
]


def _dense(vec, size):
    out = np.zeros(size, dtype=np.float32)
    out[vec.indices] = vec.values
    return out


def test_pool_by_hand():
    tokens = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    weight = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0], [2.0, 2.0]])
    bias = torch.tensor([0.0, 0.0, 0.0, -1.0])
    # logits: token 1 -> [1, 0, -1, 1], token 2 -> [0, 1, -1, 1]; max -> [1, 1, -1, 1]
    ln2 = math.log(2.0)
    for block in (1, 3, 4096):
        got = splade_pool(tokens, weight, bias, "max", block)
        assert got.tolist() == pytest.approx([ln2, ln2, 0.0, ln2])
    # sum pooling: log1p(relu) per token then sum -> [ln2, ln2, 0, 2 ln2]
    got = splade_pool(tokens, weight, bias, "sum", 2)
    assert got.tolist() == pytest.approx([ln2, ln2, 0.0, 2 * ln2])


def test_matches_full_masked_lm_computation(splade_tiny):
    """The blocked max-first computation equals log1p(relu(logits)) max-pooled over real tokens."""
    from transformers import AutoModelForMaskedLM

    model = AutoModelForMaskedLM.from_pretrained(splade_tiny.source.mlm).eval()
    tok = splade_tiny.tokenizer
    batch = tok(TEXTS, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    mask = batch["attention_mask"].unsqueeze(-1).bool()
    reference = torch.log1p(torch.relu(logits)).masked_fill(~mask, 0).amax(dim=1).numpy()
    got = splade_tiny.encode_documents(TEXTS)
    for vec, ref in zip(got, reference):
        np.testing.assert_allclose(_dense(vec, ref.size), ref, atol=1e-5)


def test_batch_equals_one_by_one(splade_tiny):
    together = splade_tiny.encode(TEXTS, batch_size=5)
    for text, vec in zip(TEXTS, together):
        alone = splade_tiny.encode([text])[0]
        np.testing.assert_allclose(_dense(vec, 30522), _dense(alone, 30522), atol=1e-4)
    # queries and documents go through the same model in SPLADE mode
    assert splade_tiny.encode_queries(TEXTS[:1])[0] == splade_tiny.encode(TEXTS[:1])[0]


def test_output_order_and_empty_input(splade_tiny):
    forward = splade_tiny.encode(TEXTS)
    backward = splade_tiny.encode(TEXTS[::-1])
    assert [len(v) for v in forward] == [len(v) for v in backward[::-1]]
    assert splade_tiny.encode([]) == []


def test_vocab_terms_never_contain_whitespace(splade_tiny):
    class Fake:
        def __len__(self):
            return 4

        def convert_ids_to_tokens(self, ids):
            return ["a", "b c", "", "##d"][: len(ids)]

    assert vocab_terms(Fake()) == ["a", "[id:1]", "[id:2]", "##d"]
    assert not any(any(ch.isspace() for ch in t) for t in splade_tiny.terms)
    assert len(splade_tiny.terms) == splade_tiny.vocab_size


def test_idf_query_encoder(splade_tiny):
    tok = splade_tiny.tokenizer
    idf = {"vitamin": 3.0, "d": 1.5, "deficiency": 4.0, "[CLS]": 9.0}
    enc = IdfQueryEncoder(tok, idf, splade_tiny.terms)
    (vec,) = enc.encode_queries(["Vitamin D vitamin deficiency? xylophone"])
    got = vec.to_tokens(splade_tiny.terms)
    # each token once, weight = idf, special tokens and tokens without idf dropped
    assert got == {"vitamin": 3.0, "d": 1.5, "deficiency": 4.0}
    assert enc.encode_queries([""])[0] == {}


DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _reference_terms(enc: IdfQueryEncoder, texts: list[str], scale: float) -> list[dict]:
    """encode_queries then quantize: the general path quantized_terms must agree with."""
    from splade_lite.vectors import quantize

    out = []
    for vec in enc.encode_queries(texts):
        ids, weights = quantize(vec, scale)
        out.append({enc.terms[i]: w for i, w in zip(ids.tolist(), weights.tolist())})
    return out


def test_idf_fast_path_equals_reference(splade_tiny):
    tok = splade_tiny.tokenizer
    rng = np.random.default_rng(0)
    idf = {
        t: float(w) for t, w in zip(splade_tiny.terms, rng.uniform(0, 8, len(splade_tiny.terms)))
    }
    idf["the"] = 0.004  # rounds to zero at scale 100: dropped on both paths
    enc = IdfQueryEncoder(tok, idf, splade_tiny.terms)
    texts = TEXTS + ["the [CLS] [SEP] [MASK] tokens", "  \t ", "émigré 東京 🙂 x" * 50]
    for scale in (100.0, 1.0, 1000.0):
        got = enc.quantized_terms(texts, scale)
        assert got == _reference_terms(enc, texts, scale)
    assert "the" not in enc.quantized_terms(["the"], 100.0)[0]
    assert enc.quantized_terms([], 100.0) == []


@pytest.mark.data
def test_idf_fast_path_equals_reference_on_every_shared_query(splade_tiny):
    idf = {t: 1.0 + (i % 97) / 10 for i, t in enumerate(splade_tiny.terms)}
    enc = IdfQueryEncoder(splade_tiny.tokenizer, idf, splade_tiny.terms)
    for path in sorted(DATA.glob("*/queries.jsonl")):
        texts = [json.loads(line)["text"] for line in path.open(encoding="utf-8")]
        assert enc.quantized_terms(texts, 100.0) == _reference_terms(enc, texts, 100.0), path


def test_idf_from_df():
    idf = idf_from_df({"a": 9, "b": 0}, num_docs=9)
    assert idf["a"] == pytest.approx(0.0)
    assert idf["b"] == pytest.approx(math.log(10))


def test_inference_free_needs_idf_then_uses_it(splade_tiny):
    enc = InferenceFreeEncoder("splade-tiny")
    with pytest.raises(RuntimeError, match="idf"):
        enc.encode_queries(["x"])
    enc.set_idf({"aurora": 2.0})
    assert enc.encode_queries(["aurora borealis"])[0].to_tokens(enc.terms) == {"aurora": 2.0}
    assert enc.encode_documents(TEXTS[:1])[0] == splade_tiny.encode(TEXTS[:1])[0]


def test_model_with_idf_json(tmp_path, splade_tiny):
    folder = tmp_path / "model"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_bytes(
            (resolve_model("splade-tiny").weights_file().parent / name).read_bytes()
        )
    (folder / "idf.json").write_text(json.dumps({"aurora": 5.5, "borealis": 0.0}))
    enc = load_encoder(folder, "inference-free")
    assert enc.idf_source == "model"
    assert enc.encode_queries(["aurora borealis"])[0].to_tokens(enc.terms) == {"aurora": 5.5}


def test_resolve_errors(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model(str(tmp_path / "missing" / "model"))
    (tmp_path / "file.bin").write_text("x")
    with pytest.raises(ModelNotFoundError, match="is a file"):
        resolve_model(str(tmp_path / "file.bin"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="config.json"):
        resolve_model(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="unknown mode"):
        load_encoder("splade-tiny", "dense")


def test_hub_weights_are_hashed_from_the_local_cache(tmp_path, monkeypatch):
    import hashlib

    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    source = resolve_model("someone/sparse-model")
    assert source.weights_file() is None and source.weights_sha256() is None  # not cached yet
    repo = tmp_path / "models--someone--sparse-model"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "snapshots" / "abc123" / "model.safetensors").write_bytes(b"weights")
    assert source.weights_sha256() == hashlib.sha256(b"weights").hexdigest()


def test_builtin_weights_are_the_expected_ones():
    source = resolve_model("splade-tiny")
    assert source.weights_sha256().startswith("96e1dd8d")


st = pytest.importorskip("sentence_transformers", reason="sentence-transformers not installed")


@pytest.fixture(scope="module")
def st_folders(tmp_path_factory, splade_tiny):
    from sentence_transformers import SparseEncoder

    try:  # where newer sentence-transformers releases keep them
        from sentence_transformers.sparse_encoder.modules import (
            MLMTransformer,
            Router,
            SparseStaticEmbedding,
            SpladePooling,
        )
    except ImportError:  # older releases
        from sentence_transformers.models import Router
        from sentence_transformers.sparse_encoder.models import (
            MLMTransformer,
            SparseStaticEmbedding,
            SpladePooling,
        )

    root = tmp_path_factory.mktemp("st")
    path = splade_tiny.source.mlm
    plain = SparseEncoder(modules=[MLMTransformer(path, max_seq_length=256), SpladePooling("max")])
    plain.save(str(root / "plain"))
    mlm = MLMTransformer(path, max_seq_length=256)
    weights = {"aurora": 4.0, "sleep": 2.5}
    static = SparseStaticEmbedding(tokenizer=mlm.tokenizer, frozen=True)
    with torch.no_grad():
        static.weight.zero_()
        for token, w in weights.items():
            static.weight[mlm.tokenizer.convert_tokens_to_ids(token)] = w
    router = Router.for_query_document(
        query_modules=[static], document_modules=[mlm, SpladePooling("max")]
    )
    SparseEncoder(modules=[router]).save(str(root / "router"))
    return root, plain, weights


def test_sentence_transformers_folder_same_vectors(st_folders, splade_tiny):
    root, plain, _ = st_folders
    enc = SpladeEncoder(root / "plain")
    ours = enc.encode_documents(TEXTS)
    assert ours == splade_tiny.encode_documents(TEXTS)
    theirs = plain.encode_document(TEXTS, convert_to_tensor=True).to_dense().numpy()
    for vec, ref in zip(ours, theirs):
        np.testing.assert_allclose(_dense(vec, ref.size), ref, atol=1e-4)


def test_sentence_transformers_router_inference_free(st_folders, splade_tiny):
    root, _, weights = st_folders
    enc = InferenceFreeEncoder(root / "router")
    assert enc.idf_source == "model"
    got = enc.encode_queries(["Aurora and sleep, aurora"])[0].to_tokens(enc.terms)
    assert got == weights
    assert enc.encode_documents(TEXTS[:2]) == splade_tiny.encode(TEXTS[:2])
