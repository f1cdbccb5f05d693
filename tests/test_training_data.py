"""Training data: pseudo-queries, qrels pairs, hard negatives, IDF, and the teachers (the
product's BM25 through Lucene, the encoder's dot products, fused as hybrid search fuses)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from training_helpers import DOCS, QUERIES, make_beir

from splade_lite.io import Doc
from splade_lite.training import teacher as teachers
from splade_lite.training.data import (
    CLOZE_MARK,
    TITLE_CLOZE_MARK,
    TrainExample,
    cloze_positives,
    cloze_texts,
    corpus_idf,
    find_train_qrels,
    load_corpus,
    pseudo_queries,
    qrels_pairs,
    read_examples,
    sample_negatives,
    without_span,
    write_examples,
)
from splade_lite.vectors import SparseVector


def test_pseudo_queries_are_titles_and_spans_of_the_document():
    docs = [
        Doc("a", "one two three four five six seven eight nine ten eleven twelve", "A long title"),
        Doc("b", "short body", "No"),  # title too short, body shorter than a span
        Doc("c", "", "Title without any body"),  # no body: nothing to match a title to
    ]
    made = pseudo_queries(docs, np.random.default_rng(1), spans=3, span_words=(3, 5))
    kinds = [(doc, kind) for _, doc, kind in made]
    assert (
        kinds == [("a", "title"), ("a", "span"), ("a", "span"), ("a", "span")] + [("b", "span")] * 3
    )
    body = docs[0].text
    for text, doc, kind in made:
        if kind == "span" and doc == "a":
            assert 3 <= len(text.split()) <= 5 and f" {text} " in f" {body} "
    assert [t for t, d, _ in made if d == "b"] == ["short body"] * 3
    again = pseudo_queries(docs, np.random.default_rng(1), spans=3, span_words=(3, 5))
    assert again == made  # seeded
    with pytest.raises(ValueError):
        pseudo_queries(docs, np.random.default_rng(1), span_words=(5, 3))


def test_inverse_cloze_positives_lose_their_span():
    doc = Doc("a", "one two three four five  six", "The title")
    assert without_span(doc, "three four") == "The title one two five six"
    assert without_span(doc, "four three") is None  # not a run of the body's words
    assert without_span(Doc("b", "only these words", ""), "only these words") is None
    docs = {"a": doc, "n": Doc("n", "seven eight", "")}
    examples = [
        TrainExample("three four", ["a", "n"], [1.0, 0.2], "span:a"),
        TrainExample("The title", ["a", "n"], [1.0, 0.1], "title:a"),  # titles stay whole
        TrainExample("not in it", ["a", "n"], [1.0, 0.1], "span:a"),  # cannot be cut: whole
    ]
    cut = cloze_positives(examples, docs, 1.0, np.random.default_rng(0))
    assert [ex.docs[0] for ex in cut] == ["a" + CLOZE_MARK, "a", "a"]
    assert cut[0].docs[1:] == ["n"] and cut[0].scores == [1.0, 0.2]
    assert cloze_texts(cut, docs) == {"a" + CLOZE_MARK: "The title one two five six"}
    assert cloze_positives(examples, docs, 0.0, np.random.default_rng(0)) == examples
    half = cloze_positives([examples[0]] * 200, docs, 0.5, np.random.default_rng(1))
    assert 60 < sum(ex.docs[0].endswith(CLOZE_MARK) for ex in half) < 140


def test_title_cloze_positives_are_the_body_alone():
    doc = Doc("a", "one two three", "The title")
    docs = {"a": doc, "u": Doc("u", "no title here", ""), "n": Doc("n", "seven eight", "")}
    examples = [
        TrainExample("The title", ["a", "n"], [1.0, 0.1], "title:a"),
        TrainExample("two three", ["a", "n"], [1.0, 0.2], "span:a"),  # share 0: stays whole
        TrainExample("The title", ["u", "n"], [1.0, 0.1], "title:u"),  # no title to take out
    ]
    cut = cloze_positives(examples, docs, 0.0, np.random.default_rng(0), title_share=1.0)
    assert [ex.docs[0] for ex in cut] == ["a" + TITLE_CLOZE_MARK, "a", "u"]
    assert cut[0].scores == [1.0, 0.1] and cut[0].docs[1:] == ["n"]
    assert cloze_texts(cut, docs) == {"a" + TITLE_CLOZE_MARK: "one two three"}
    # a document cut both ways has two texts, under two ids
    both = cloze_positives(examples[:2], docs, 1.0, np.random.default_rng(0), title_share=1.0)
    assert cloze_texts(both, docs) == {
        "a" + TITLE_CLOZE_MARK: "one two three",
        "a" + CLOZE_MARK: "The title one",
    }
    # without title_share, titles draw nothing: the span draws are those of before
    spans = [examples[1]] * 50
    mixed = [examples[0], *spans]
    alone = cloze_positives(spans, docs, 0.5, np.random.default_rng(3))
    with_title = cloze_positives(mixed, docs, 0.5, np.random.default_rng(3))
    assert [ex.docs[0] for ex in with_title[1:]] == [ex.docs[0] for ex in alone]


def test_qrels_pairs_and_missing_train_qrels(tmp_path):
    beir = make_beir(tmp_path / "beir")
    docs = load_corpus(beir)
    pairs = qrels_pairs(beir / "queries.jsonl", find_train_qrels(beir), docs)
    assert [(q, p) for q, _, p in pairs] == [(q, [d]) for q, (_, d) in QUERIES.items()]
    assert pairs[0][1] == QUERIES["q1"][0]
    (beir / "qrels" / "train.tsv").unlink()
    with pytest.raises(FileNotFoundError, match="adapt"):
        find_train_qrels(beir)


def test_sample_negatives():
    rng = np.random.default_rng(0)
    ranking = ["p", "a", "b", "c", "d"]
    for _ in range(20):
        negs = sample_negatives(ranking, {"p"}, 2, rng, skip=1)
        assert len(set(negs)) == 2 and set(negs) <= {"b", "c", "d"}
    topped = sample_negatives(["p", "a"], {"p"}, 3, rng, all_ids=["p", "a", "x", "y", "z"])
    assert topped[0] == "a" and len(set(topped)) == 3 and "p" not in topped
    with pytest.raises(ValueError, match="too few"):
        sample_negatives(["a"], {"p"}, 3, rng, all_ids=["p", "a", "x"])


def test_examples_round_trip(tmp_path):
    examples = [
        TrainExample("q one", ["d1", "d2"], [1.0, 0.25], "q1"),
        TrainExample("q two", ["d3", "d4", "d5"], None, "q2"),
    ]
    assert write_examples(tmp_path / "ex.jsonl", examples) == 2
    assert read_examples(tmp_path / "ex.jsonl") == examples


def test_corpus_idf_counts_each_document_once(tmp_path):
    from training_helpers import make_tiny_model

    from splade_lite.encoders.models import load_tokenizer, resolve_model

    tokenizer = load_tokenizer(resolve_model(make_tiny_model(tmp_path / "m")))
    idf = corpus_idf(tokenizer, ["bees bees moon", "moon tides", "glaciers"], max_length=16)
    assert idf["bees"] == pytest.approx(math.log(4 / 2))
    assert idf["moon"] == pytest.approx(math.log(4 / 3))
    assert "[CLS]" not in idf and "[SEP]" not in idf
    # truncation: tokens after max_length (special tokens included) are not counted
    short = corpus_idf(tokenizer, ["bees moon tides"], max_length=3)
    assert set(short) == {"bees", "moon"}


@pytest.mark.jvm
def test_bm25_teacher_is_lucenes_bm25():
    from splade_lite.indexer import BM25Index

    docs = [
        Doc("a", "bees pollinate flowers"),
        Doc("b", "the bees, bees sting"),
        Doc("c", "moon tides"),
        Doc("d", "", ""),  # no word: not indexed, never found
    ]
    with teachers.BM25Teacher(docs) as bm25:
        folder = bm25.folder
        assert isinstance(bm25.index, BM25Index) and bm25.index.num_docs == 3
        hits = bm25.search(["Bee", "moon", "the", "nothing here"], 10)
    assert not folder.exists()  # the temporary index is gone
    # Lucene's BM25 (k1 0.9, b 0.4; no (k1 + 1) factor) over the English analyzer's terms:
    # "Bee" and "bees" stem alike, "the" is a stop word; lengths 3, 3 and 2 terms
    n, df, avg = 3, 2, 8 / 3
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))

    def term(tf, length):
        return idf * tf / (tf + 0.9 * (1 - 0.4 + 0.4 * length / avg))

    assert [d for d, _ in hits[0]] == ["b", "a"]
    assert [s for _, s in hits[0]] == pytest.approx([term(2, 3), term(1, 3)], rel=1e-6)
    assert [d for d, _ in hits[1]] == ["c"]
    assert hits[2] == [] and hits[3] == []


def test_sparse_teacher_search_and_top_candidates():
    class Encoder:  # query vectors by hand: token 0, or tokens 0 and 2
        terms = ["x", "y", "z"]

        def encode_queries(self, texts):
            return [
                SparseVector.from_dict({0: 1.0, 2: 1.0} if t == "xz" else {0: 1.0}) for t in texts
            ]

    docs = [{0: 1.0}, {1: 5.0}, {0: 3.0}, {0: 1.0, 2: 2.0}]
    teacher = teachers.SparseTeacher(
        Encoder(), ["a", "b", "c", "d"], [SparseVector.from_dict(d) for d in docs]
    )
    assert teacher.scores(["x"]).tolist() == [[1.0, 0.0, 3.0, 1.0]]
    # a document that matches nothing is never listed; ties keep the corpus order
    assert teacher.search(["x", "xz"], 10) == [
        [("c", 3.0), ("a", 1.0), ("d", 1.0)],
        [("c", 3.0), ("d", 3.0), ("a", 1.0)],
    ]
    assert teacher.search(["x"], 2) == [[("c", 3.0), ("a", 1.0)]]
    tied = np.array([[0.0, 0.75, 0.75]])
    assert teachers.top_candidates(tied, 2)[0].tolist() == [1, 2]  # tie: lower index first
    assert teachers.top_candidates(np.array([[1.0, 3.0, 2.0]]), 5).tolist() == [[1, 2, 0]]


@pytest.mark.jvm
def test_ensemble_teacher_ranks_the_source_document_first(tmp_path):
    from training_helpers import make_tiny_model

    from splade_lite.training.recipes import EnsembleTeacher, distillation_examples

    docs = load_corpus(make_beir(tmp_path / "beir"))
    model = str(make_tiny_model(tmp_path / "m"))
    with EnsembleTeacher(docs, model, depth=4, progress=False) as teacher:
        folder = teacher.bm25.folder
        rng = np.random.default_rng(0)
        items = [(DOCS["d7"][1], ["d7"], "span"), (DOCS["d11"][1], ["d11"], "span")]
        examples = distillation_examples(teacher, items, 3, rng)
        fused = teacher.rankings([DOCS["d7"][1]])[0]
        lexical = teacher.bm25.search([DOCS["d7"][1]], 4)[0]
        learned = teacher.sparse.search([DOCS["d7"][1]], 4)[0]
    assert not folder.exists()
    for ex, (_, positives, _) in zip(examples, items):
        assert ex.docs[0] == positives[0] and positives[0] not in ex.docs[1:]
        assert len(set(ex.docs)) == 4
        # an exact copy of the document: BM25 and the fused score put it on top
        assert ex.scores[0] == max(ex.scores) and 0.0 <= min(ex.scores) <= 1.0
    # the fused list is the union of the teachers' top 4, each list min-max normalised
    # within itself (a document missing from one list gets 0 from it), weighed equally
    assert {d for d, _ in fused} == {d for d, _ in lexical} | {d for d, _ in learned}
    assert lexical[0][0] == "d7"

    def normalised(hits, doc):
        scores = dict(hits)
        low, high = hits[-1][1], hits[0][1]
        if doc not in scores:
            return 0.0
        return 1.0 if high == low else (scores[doc] - low) / (high - low)  # equal scores: 1

    for doc, value in fused:
        want = 0.5 * normalised(learned, doc) + 0.5 * normalised(lexical, doc)
        assert value == pytest.approx(want)
    assert [v for _, v in fused] == sorted((v for _, v in fused), reverse=True)


def test_teacher_vectors_from_an_encode_folder(tmp_path):
    from training_helpers import make_tiny_model

    from splade_lite.encode import encode_corpus
    from splade_lite.encoders import SpladeEncoder
    from splade_lite.training.recipes import load_teacher_vectors

    beir = make_beir(tmp_path / "beir")
    model = make_tiny_model(tmp_path / "m")
    encode_corpus(beir / "corpus.jsonl", tmp_path / "v", model=model, progress=False)
    encoder = SpladeEncoder(model)
    ids = list(reversed(DOCS))  # any order: vectors are looked up by id
    loaded = load_teacher_vectors(tmp_path / "v", ids, encoder)
    direct = encoder.encode_documents([f"{DOCS[d][0]} {DOCS[d][1]}" for d in ids])
    for got, want in zip(loaded, direct):
        kept = want.values >= 0.005  # what survives rounding to 1/100
        assert set(got.indices) == set(want.indices[kept])
        assert np.allclose([got[i] for i in want.indices[kept]], want.values[kept], atol=0.0051)
    with pytest.raises(ValueError, match="no vector"):
        load_teacher_vectors(tmp_path / "v", ids + ["nope"], encoder)
    other = SpladeEncoder(make_tiny_model(tmp_path / "m2", seed=1))
    with pytest.raises(ValueError, match="weights differ"):
        load_teacher_vectors(tmp_path / "v", ids, other)
