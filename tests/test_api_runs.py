"""The Python API for runs: queries with ids in, a run out, written and read back; hits with
their text when asked; an explanation that prints as text (issue 16, item 9)."""

from __future__ import annotations

import pytest

import splade_lite

QUERIES = {"q1": "vitamin d and bones", "q2": "aurora borealis", "q3": "", "q4": "coffee"}


@pytest.mark.jvm
@pytest.mark.parametrize("index", ["index", "index-if"])
def test_batch_search_with_ids_returns_a_run_equal_to_the_plain_batch(tiny_built, index):
    searcher = splade_lite.Searcher(tiny_built / index)
    plain = searcher.batch_search(list(QUERIES.values()), k=4)
    run = searcher.batch_search(QUERIES, k=4)
    assert list(run) == list(QUERIES) and list(run.values()) == plain
    assert searcher.batch_search(list(QUERIES.items()), k=4) == run  # (qid, text) pairs
    assert run["q3"] == []  # a blank query keeps its place in the run


@pytest.mark.jvm
def test_a_run_round_trips_through_the_trec_file(tiny_built, tmp_path):
    searcher = splade_lite.Searcher(tiny_built / "index")
    run = searcher.batch_search(QUERIES, k=4)
    lines = splade_lite.write_trec_run(tmp_path / "run.trec", run, tag="test")
    assert lines == sum(len(hits) for hits in run.values())
    back = splade_lite.read_trec_run(tmp_path / "run.trec")
    for qid, hits in run.items():
        assert back.get(qid, {}) == {h.docid: h.score for h in hits}


@pytest.mark.jvm
def test_bad_batches_are_refused_clearly(tiny_built):
    searcher = splade_lite.Searcher(tiny_built / "index-if")
    with pytest.raises(TypeError, match="list of queries"):
        searcher.batch_search("coffee")
    with pytest.raises(TypeError, match=r"\(query id, text\) pairs"):
        searcher.batch_search([("q1", "coffee"), ("q2",)])
    with pytest.raises(ValueError, match="twice"):
        searcher.batch_search([("q1", "coffee"), ("q1", "tea")])


@pytest.mark.jvm
def test_hits_carry_title_and_text_when_asked(tiny_built, tiny_corpus):
    import json

    corpus = {d["_id"]: d for d in map(json.loads, tiny_corpus.read_text().splitlines())}
    searcher = splade_lite.Searcher(tiny_built / "index")
    hits = searcher.search("coffee café", k=3)
    shown = searcher.search("coffee café", k=3, text=True)
    assert [(h.docid, h.score) for h in shown] == [tuple(h) for h in hits]
    for hit in shown:
        assert isinstance(hit, splade_lite.TextHit)
        assert hit.title == corpus[hit.docid]["title"]
        assert corpus[hit.docid]["text"].startswith(hit.text)
    batch = searcher.batch_search({"a": "coffee café"}, k=3, text=True)
    assert batch["a"] == shown


@pytest.mark.jvm
def test_an_explanation_prints_as_a_table(tiny_built):
    searcher = splade_lite.Searcher(tiny_built / "index")
    hit = searcher.search("vitamin d deficiency", k=1)[0]
    explanation = searcher.explain("vitamin d deficiency", hit.docid)
    text = str(explanation)
    assert hit.docid in text and f"{explanation.score:,}" in text
    assert "\x1b[" not in text  # plain text, no terminal styles
    assert len(repr(explanation)) < 200 and str(explanation.score) in repr(explanation)
