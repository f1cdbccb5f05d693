"""Hardening, silent wrong results: inputs that used to give a result that looked right.

Each test reproduces one finding of the adversarial run (or one of its class): the result is
now right, or the input is refused with a message that says why.
"""

from __future__ import annotations

import json
import math
import os
import shutil

import pytest
from click.testing import CliRunner

from splade_lite.cli import main
from splade_lite.vectors import MAX_IMPACT, MAX_SCALE, SparseVector, check_scale, quantize


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


# -- finding 8: scales that empty every vector ----------------------------------------------
@pytest.mark.parametrize("scale", [math.nan, math.inf, -math.inf, 1e300, 0.0, -5.0, True, "100"])
def test_scales_that_cannot_be_stored_are_refused_before_any_work(scale, tmp_path, tiny_corpus):
    from splade_lite.encode import encode_corpus

    with pytest.raises(ValueError, match="scale"):
        encode_corpus(tiny_corpus, tmp_path / "v", scale=scale, progress=False)
    assert not (tmp_path / "v").exists()


@pytest.mark.parametrize("value", ["nan", "inf", "1e300", "0", "100001"])
def test_the_scale_option_refuses_them_in_one_line(value, tmp_path, tiny_corpus):
    result = invoke("encode", tiny_corpus, "--out", tmp_path / "v", "--scale", value, "--quiet")
    assert result.exit_code != 0
    assert "scale" in result.output.lower() and "Traceback" not in result.output
    assert not (tmp_path / "v").exists()


def test_the_largest_scale_keeps_every_weight():
    vector = SparseVector([1, 5, 9], [0.004, 1.5, 3.25])
    ids, impacts = quantize(vector, check_scale(MAX_SCALE))
    assert ids.tolist() == [1, 5, 9]
    assert impacts.tolist() == [400, 150_000, 325_000]


def test_an_impact_beyond_a_java_int_is_an_error_not_a_wrapped_number():
    vector = SparseVector([1], [30_000.0])
    with pytest.raises(ValueError, match="largest impact"):
        quantize(vector, MAX_SCALE)  # 3e9 > 2^31 - 1
    assert MAX_IMPACT == 2**31 - 1


# -- finding 10: a BM25 corpus that is not the encoded one ---------------------------------
def _corpus_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return path


@pytest.mark.jvm
@pytest.mark.parametrize("change", ["other-id", "missing", "duplicate"])
def test_a_bm25_corpus_with_other_ids_is_refused_before_java(
    change, tiny_built, tiny_corpus, tmp_path, monkeypatch
):
    import splade_lite.indexer as indexer
    from splade_lite.index import IndexError_, build_index
    from splade_lite.io import InputError

    records = _corpus_lines(tiny_corpus)
    if change == "other-id":
        records[0]["_id"] = "not-encoded"
    elif change == "missing":
        records = records[1:]
    else:
        records.append(records[0])
    corpus = _write(tmp_path / "other.jsonl", records)

    def no_java(*args, **kwargs):
        raise AssertionError("the impact index was built before the corpus was checked")

    monkeypatch.setattr(indexer, "build_impact_index", no_java)
    with pytest.raises((IndexError_, InputError), match="BM25 corpus|duplicate id|not in the"):
        build_index(tiny_built / "vectors", tmp_path / "index", bm25_corpus=corpus)
    assert not (tmp_path / "index").exists()


@pytest.mark.jvm
@pytest.mark.slow
def test_a_bm25_corpus_with_other_texts_is_built_with_a_warning(tiny_built, tiny_corpus, tmp_path):
    from splade_lite.index import build_index

    records = _corpus_lines(tiny_corpus)
    records[1]["text"] = "an entirely different text about volcanoes"
    corpus = _write(tmp_path / "edited.jsonl", records)
    said: list[str] = []
    build_index(tiny_built / "vectors", tmp_path / "index", bm25_corpus=corpus, log=said.append)
    assert any("other titles or texts" in line for line in said)
    said.clear()
    build_index(tiny_built / "vectors", tmp_path / "same", bm25_corpus=tiny_corpus, log=said.append)
    assert not any("warning" in line for line in said)


# -- finding 11: a searcher whose folder is replaced under it -------------------------------
@pytest.mark.jvm
def test_a_searcher_refuses_to_mix_an_index_replaced_under_it(tiny_built, tmp_path):
    from splade_lite.index_folder import IndexChangedError
    from splade_lite.search import Searcher

    index, other = tmp_path / "index", tmp_path / "other"
    shutil.copytree(tiny_built / "index", index)
    shutil.copytree(tiny_built / "index-if", other)
    searcher = Searcher(index)
    before = searcher.search("aurora borealis", k=3)
    # what `index --overwrite` does: the new folder renamed onto the old one's path
    os.replace(index, tmp_path / "old")
    os.replace(other, index)
    shutil.rmtree(tmp_path / "old")
    assert searcher.search("aurora borealis", k=3) == before  # Lucene kept its files
    for read_more in (
        lambda: searcher.documents(["d2"]),
        lambda: searcher.explain("aurora borealis", "d2"),
        lambda: searcher.forward,
    ):
        with pytest.raises(IndexChangedError, match="open it again"):
            read_more()
    assert Searcher(index).documents(["d2"])  # a new searcher reads the new index


# -- finding 13: batch and single SPLADE query encoding -------------------------------------
def test_splade_queries_are_encoded_alike_alone_and_in_a_batch(splade_tiny):
    queries = [
        "vitamin d",
        "what causes the aurora borealis and why is it green near the poles",
        "coffee",
        "how long should adults sleep to keep the heart healthy over many years of life",
        "python time sleep",
        "zzzz",
    ]
    together = splade_tiny.encode_queries(queries)
    for query, vector in zip(queries, together):
        (alone,) = splade_tiny.encode_queries([query])
        assert alone.indices.tolist() == vector.indices.tolist()
        assert alone.values.tobytes() == vector.values.tobytes()


@pytest.mark.jvm
def test_a_queries_run_and_explain_agree_in_splade_mode(tiny_built):
    from splade_lite.search import Searcher

    searcher = Searcher(tiny_built / "index")
    queries = ["vitamin d bones", "solar wind", "heart disease and short sleep", "coffee café"]
    for query, hits in zip(queries, searcher.batch_search(queries, k=6)):
        assert hits == searcher.search(query, k=6)
        for hit in hits:
            assert searcher.explain(query, hit.docid).score == hit.score


# -- finding 14: queries with no real token -------------------------------------------------
@pytest.mark.jvm
@pytest.mark.parametrize("index", ["index", "index-if"])
@pytest.mark.parametrize("query", ["🙂🙂", "[CLS] [SEP] [MASK] [PAD]", "[UNK]"])
def test_queries_without_a_real_token_match_nothing_in_both_modes(tiny_built, index, query):
    from splade_lite.search import Searcher

    searcher = Searcher(tiny_built / index)
    assert searcher.search(query, k=5) == []
    assert searcher.batch_search([query, "coffee"], k=5)[0] == []
    result = invoke("search", tiny_built / index, query)
    assert result.exit_code == 0 and "no document matches" in result.output


# -- finding 17: sizes beyond the index ----------------------------------------------------
@pytest.mark.jvm
@pytest.mark.parametrize("k", [10**8, 2**31 - 1, 2**31 + 5, 2**63])
def test_k_beyond_the_index_returns_every_document_once(tiny_built, k):
    from splade_lite.search import Searcher

    searcher = Searcher(tiny_built / "index")
    hits = searcher.search("vitamin d and coffee", k=k)
    assert 0 < len(hits) <= 6 and len({h.docid for h in hits}) == len(hits)
    assert searcher.batch_search(["vitamin d and coffee"], k=k)[0] == hits


@pytest.mark.jvm
def test_depths_and_feedback_sizes_beyond_the_index_are_cut_to_it(tiny_built):
    from splade_lite.feedback import Feedback
    from splade_lite.pruning import Pruning
    from splade_lite.search import Hybrid, Searcher

    huge = 2**40
    plain = Searcher(tiny_built / "index-if").search("vitamin d and coffee", k=6)
    hybrid = Searcher(tiny_built / "index-if", hybrid=Hybrid(depth=huge))
    assert len(hybrid.search("vitamin d and coffee", k=huge)) <= 6
    feedback = Searcher(tiny_built / "index", feedback=Feedback(docs=huge, terms=huge))
    assert len(feedback.search("vitamin d", k=6)) <= 6
    pruned = Searcher(tiny_built / "index-if", pruning=Pruning(max_terms=huge))
    assert [h.docid for h in pruned.search("vitamin d and coffee", k=6)] == [h.docid for h in plain]


@pytest.mark.parametrize("beta", [math.inf, math.nan, 1e300, -1.0])
def test_feedback_weights_that_cannot_be_used_are_refused(beta):
    from splade_lite.feedback import Feedback

    with pytest.raises(ValueError, match="beta"):
        Feedback(beta=beta)


def test_feedback_never_builds_a_weight_beyond_a_java_int():
    from splade_lite.feedback import MAX_BETA, Feedback, rocchio

    query = {"a": MAX_IMPACT - 10, "b": MAX_IMPACT - 10}
    expanded = rocchio(query, [{"a": 5, "c": 7}], Feedback(beta=MAX_BETA))
    assert max(expanded.values()) <= MAX_IMPACT and expanded["c"] > 0


@pytest.mark.jvm
@pytest.mark.parametrize(
    "option", [["--fb-beta", "inf"], ["--fb-beta", "nan"], ["--fb-beta", "1e300"]]
)
def test_feedback_options_out_of_range_are_one_line(tiny_built, option):
    result = invoke("search", tiny_built / "index", "coffee", "--feedback", *option)
    assert result.exit_code != 0 and "beta" in result.output


def test_encode_refuses_a_document_anserini_could_not_index():
    from splade_lite.encode import vector_record

    terms = [f"{'t' * 200}{i}" for i in range(10)]
    vector = SparseVector(list(range(10)), [3.0] * 10)
    assert vector_record("small", vector, terms, 100)["vector"]  # 10 x 300 repetitions: fine
    with pytest.raises(ValueError, match="'big'.*smaller --scale"):
        vector_record("big", vector, terms, MAX_SCALE)  # 10 x 300,000 repetitions of 201 chars
