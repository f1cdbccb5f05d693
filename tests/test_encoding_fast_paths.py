"""Fast encoding paths give the reference vectors: batching, length sorting, several
processes; the approximate back ends stay within their error bounds and are never the default.

Speed itself is measured by ``benchmarks/encoding.py``, never asserted here.
"""

from __future__ import annotations

import inspect
import json
import random

import numpy as np
import pytest
import torch

from splade_lite.cpu import CpuInfo
from splade_lite.encode import encode_corpus
from splade_lite.encoders import SpladeEncoder, backends, load_encoder
from splade_lite.encoders.backends import BACKENDS, make_projection

TEXTS = [
    "Vitamin D deficiency weakens bones in older adults.",
    "aurora",
    "The quick brown fox jumps over the lazy dog, twice, and then sleeps for a while.",
    "",
    "Café naïve résumé",
    "Short sleep raises the risk of heart disease; long sleep may too. " * 12,
    "time.sleep pauses the program",
]
VOCAB = 30522
#: A CPU on which both approximate back ends are fast (so none falls back to torch).
FAST_FLAGS = frozenset({"avx2", "avx512f", "avx512_vnni", "avx512_bf16"})
VNNI_BF16_CPU = CpuInfo("test CPU", 2, FAST_FLAGS, "test")


def _dense(vec, size=VOCAB):
    out = np.zeros(size, dtype=np.float32)
    out[vec.indices] = vec.values
    return out


def _max_diff(got, ref):
    return max(float(np.abs(_dense(a) - _dense(b)).max()) for a, b in zip(got, ref))


# -- exact paths: same vectors whatever the batching ------------------------------------------
def test_batch_size_and_length_sorting_do_not_change_vectors(splade_tiny):
    reference = [splade_tiny.encode([text])[0] for text in TEXTS]  # one at a time: no padding
    for batch_size in (2, 3, 32):
        assert _max_diff(splade_tiny.encode(TEXTS, batch_size=batch_size), reference) < 1e-4
    splade_tiny.sort_by_length = False
    try:
        assert _max_diff(splade_tiny.encode(TEXTS, batch_size=3), reference) < 1e-4
    finally:
        splade_tiny.sort_by_length = True
    backward = splade_tiny.encode(TEXTS[::-1], batch_size=3)[::-1]
    assert _max_diff(backward, reference) < 1e-4


def test_encoder_projection_is_the_reference_pooling_bit_for_bit(splade_tiny):
    from splade_lite.encoders.splade import splade_pool

    for text in TEXTS:
        tokens = _hidden_states(splade_tiny, text)
        reference = splade_pool(tokens, splade_tiny._weight, splade_tiny._bias, "max")
        vector = splade_tiny._pool(tokens)
        assert np.array_equal(_dense(vector), reference.numpy())


# -- approximate back ends ---------------------------------------------------------------------
def test_exact_is_the_default_everywhere(splade_tiny):
    assert splade_tiny.backend == "torch" and splade_tiny.exact
    for func in (SpladeEncoder.__init__, encode_corpus):
        assert inspect.signature(func).parameters["backend"].default == "torch"
    from splade_lite.cli import encode

    option = next(p for p in encode.params if p.name == "backend")
    assert option.default == "torch"
    assert set(option.type.choices) == set(BACKENDS)


def _hidden_states(encoder, text):
    with torch.inference_mode():
        batch = encoder.tokenizer([text], truncation=True, max_length=256, return_tensors="pt")
        return encoder.model(**batch).logits[0]


@pytest.mark.parametrize("backend", ["int8", "bf16"])
def test_approximate_backends_stay_within_their_error_bound(splade_tiny, backend):
    """Each weight differs from the exact one by at most the bound of its arithmetic.

    int8 rounds each weight row v to a step s_v and the text's states to a step s_x, so a
    product sum moves by at most ||x_t||_1 s_v/2 + ||w_v||_1 s_x/2 + H s_x s_v/4; bf16 keeps 8
    significant bits, so each product moves by at most ~2^-8 of |x_td w_vd|. The max over
    tokens and log(1 + relu) are 1-Lipschitz, so the pooled weight moves by no more than the
    largest such bound over the tokens.
    """
    weight = splade_tiny._weight
    projection = make_projection(backend, weight, "max")
    for text in TEXTS:
        tokens = _hidden_states(splade_tiny, text)
        exact = (tokens @ weight.T).amax(dim=0)
        got = projection.max_logits(tokens)
        if backend == "int8":
            s_x = float(tokens.abs().max()) / 127
            s_v = projection.scale
            bound = (
                tokens.abs().sum(dim=1).max() * s_v / 2
                + weight.abs().sum(dim=1) * s_x / 2
                + weight.shape[1] * s_x * s_v / 4
            )
        else:
            bound = (tokens.abs() @ weight.abs().T).amax(dim=0) * 2.0**-7
        assert torch.all((got - exact).abs() <= bound + 1e-4), text


@pytest.mark.parametrize("backend,tolerance", [("int8", 0.25), ("bf16", 0.05)])
def test_approximate_backends_are_close_to_exact(splade_tiny, backend, tolerance):
    """On whole vectors: SciFact-like texts measured 0.11 (int8) and 0.02 (bf16) at most,
    on weights up to ~3; the tolerance leaves room for other texts, not for a bug (a wrong
    scale or block offset moves weights by whole units)."""
    encoder = SpladeEncoder("splade-tiny", backend=backend, check_cpu=False)
    assert encoder.backend == backend and not encoder.exact
    got, reference = encoder.encode(TEXTS), splade_tiny.encode(TEXTS)
    assert _max_diff(got, reference) < tolerance
    for a, b in zip(got, reference):
        dense_a, dense_b = _dense(a), _dense(b)
        cosine = dense_a @ dense_b / (np.linalg.norm(dense_a) * np.linalg.norm(dense_b))
        assert cosine > 0.999


def test_backend_errors(splade_tiny):
    with pytest.raises(ValueError, match="unknown backend"):
        make_projection("fp8", splade_tiny._weight, "max")
    with pytest.raises(ValueError, match="max pooling only"):
        make_projection("int8", splade_tiny._weight, "sum")


def test_backend_is_recorded_and_reaches_inference_free(tmp_path, tiny_corpus, monkeypatch):
    monkeypatch.setattr(backends, "cpu_info", lambda: VNNI_BF16_CPU)  # whatever CI runs on
    out = tmp_path / "vectors"
    encode_corpus(tiny_corpus, out, mode="inference-free", backend="int8", progress=False)
    meta = json.loads((out / "vectors.json").read_text())
    assert meta["backend"] == "int8" and meta["mode"] == "inference-free"
    assert load_encoder("splade-tiny", "inference-free", backend="bf16").backend == "bf16"


# -- several processes --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus_600(tmp_path_factory):
    """600 short documents of varied length: three chunks of 256, three shards of 250."""
    rng = random.Random(5)
    words = (
        "vitamin bone sleep heart aurora solar wind coffee caffeine python program seconds "
        "cell protein gene risk older adults disease study trial dose effect"
    ).split()
    path = tmp_path_factory.mktemp("corpus600") / "corpus.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for i in range(600):
            text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 40)))
            handle.write(json.dumps({"_id": f"d{i}", "title": "", "text": text}) + "\n")
    return path


def _encoded_files(folder):
    files = {p.name: p.read_bytes() for p in sorted(folder.glob("part-*.jsonl"))}
    files["df.json"] = (folder / "df.json").read_bytes()
    meta = json.loads((folder / "vectors.json").read_text())
    for key in ("seconds", "docs_per_second", "corpus"):
        meta.pop(key)
    return files, meta


@pytest.mark.slow  # two spawned worker processes, each loading torch and the model
def test_workers_write_the_same_files_as_one_process(tmp_path, corpus_600, splade_tiny):
    options = {"batch_size": 4, "shard_size": 250, "progress": False}
    encode_corpus(corpus_600, tmp_path / "one", encoder=splade_tiny, **options)
    encode_corpus(corpus_600, tmp_path / "two", encoder=splade_tiny, workers=2, **options)
    one_files, one_meta = _encoded_files(tmp_path / "one")
    two_files, two_meta = _encoded_files(tmp_path / "two")
    assert list(one_files) == [
        "part-00000.jsonl",
        "part-00001.jsonl",
        "part-00002.jsonl",
        "df.json",
    ]
    assert one_files == two_files  # byte for byte: same order, same vectors
    assert one_meta == two_meta


@pytest.mark.slow  # two spawned worker processes, each loading torch and the model
def test_parallel_encoder_keeps_chunk_order_and_uses_spawn(splade_tiny):
    from splade_lite.encoders.parallel import ParallelEncoder

    chunks = [TEXTS[i:] + TEXTS[:i] for i in range(len(TEXTS))]  # more chunks than the window
    with ParallelEncoder(splade_tiny, workers=2) as parallel:
        assert parallel._pool._mp_context.get_start_method() == "spawn"
        assert parallel.threads >= 1 and parallel.terms == splade_tiny.terms
        got = list(parallel.encode_chunks(iter(chunks)))
        assert parallel.encode_documents(TEXTS) == splade_tiny.encode(TEXTS)
    assert got == [splade_tiny.encode(chunk) for chunk in chunks]
    with pytest.raises(ValueError, match="at least 1"):
        ParallelEncoder(splade_tiny, workers=0)
