"""An index in several Lucene shard folders, read through Lucene's MultiReader, ranks and
scores exactly as one index over the same documents: impact search (no global statistics)
and BM25 (whose document frequencies and average length must be the shards' sums).

Shards are uneven and their documents interleaved, so neither Lucene's internal document
numbers nor the shard order can make two rankings agree by accident.
"""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.jvm

VOCAB = [f"t{i}" for i in range(120)]
WORDS = "apple banana cherry river stone cloud light music paper window garden ocean".split()
NUM_DOCS = 900
# document i goes to shard SHARD_OF(i): three shards of unequal size, interleaved
SHARDS = 3


def shard_of(i: int) -> int:
    return 0 if i % 5 < 3 else (1 if i % 5 == 3 else 2)


def _write(path, records) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Impact and BM25 indexes of the whole corpus and of each shard's documents."""
    from splade_lite.indexer import build_bm25_index, build_impact_index

    rng = random.Random(5)
    zipf = [1 / (rank + 1) for rank in range(len(VOCAB))]
    vectors, texts = [], []
    for i in range(NUM_DOCS):
        terms = set(rng.choices(VOCAB, zipf, k=rng.randint(3, 40)))
        vectors.append(
            {"id": f"d{i:04d}", "contents": "", "vector": {t: rng.randint(1, 9) for t in terms}}
        )
        words = rng.choices(WORDS, k=rng.randint(2, 30))  # lengths vary: BM25's norms matter
        texts.append({"id": f"d{i:04d}", "contents": " ".join(words)})
    root = tmp_path_factory.mktemp("shards")
    built: dict[str, list] = {"impact": [], "bm25": []}
    for name, select in [("whole", lambda i: True)] + [
        (f"shard{s}", lambda i, s=s: shard_of(i) == s) for s in range(SHARDS)
    ]:
        keep = [i for i in range(NUM_DOCS) if select(i)]
        _write(root / name / "vectors" / "part-00000.jsonl", [vectors[i] for i in keep])
        _write(root / name / "text" / "docs.jsonl", [texts[i] for i in keep])
        build_impact_index(root / name / "vectors", root / name / "impact")
        build_bm25_index(root / name / "text", root / name / "bm25")
        if name != "whole":
            built["impact"].append(root / name / "impact")
            built["bm25"].append(root / name / "bm25")
    return root, built


@pytest.fixture(scope="module")
def searchers(corpus):
    from splade_lite.indexer import BM25Index, ImpactIndex

    root, shards = corpus
    opened = {
        "impact": ImpactIndex(root / "whole" / "impact"),
        "impact shards": ImpactIndex(shards["impact"]),
        "bm25": BM25Index(root / "whole" / "bm25"),
        "bm25 shards": BM25Index(shards["bm25"]),
    }
    yield opened
    for searcher in opened.values():
        searcher.close()


IMPACT_QUERIES = st.dictionaries(st.sampled_from(VOCAB), st.integers(1, 500), max_size=25)
TEXT_QUERIES = st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join)


@settings(max_examples=40, deadline=None)
@given(query=IMPACT_QUERIES, k=st.sampled_from([1, 5, 10, 100, 2000]))
def test_sharded_impact_search_equals_one_index(searchers, query, k):
    whole = searchers["impact"].search(query, k)
    assert searchers["impact shards"].search(query, k) == whole
    assert searchers["impact shards"].batch_search([query, query], k, threads=2) == [whole] * 2


@settings(max_examples=40, deadline=None)
@given(text=TEXT_QUERIES, k=st.sampled_from([1, 10, 1000]))
def test_sharded_bm25_uses_the_statistics_of_all_shards(searchers, text, k):
    """Same ids and float scores as one BM25 index: global df and average length."""
    assert searchers["bm25 shards"].search(text, k) == searchers["bm25"].search(text, k)


def test_one_shard_alone_scores_bm25_with_its_own_statistics(corpus, searchers):
    """The check above can fail: a shard on its own gives other BM25 scores."""
    from splade_lite.indexer import BM25Index

    root, shards = corpus
    with BM25Index(shards["bm25"][1]) as alone:
        mine = dict(alone.search("apple river", 1000))
    whole = dict(searchers["bm25"].search("apple river", 1000))
    assert mine and set(mine) <= set(whole)
    assert any(abs(mine[d] - whole[d]) > 1e-6 for d in mine)


def test_counts_terms_and_vectors_read_across_shards(corpus):
    from splade_lite.indexer import count_documents, index_terms_df, read_document_vectors

    root, shards = corpus
    whole = root / "whole" / "impact"
    assert count_documents(shards["impact"]) == count_documents(whole) == NUM_DOCS
    assert index_terms_df(shards["impact"]) == index_terms_df(whole)
    assert dict(read_document_vectors(shards["impact"])) == dict(read_document_vectors(whole))
    # in shard order: each shard's documents, one shard after the other
    ids = [docid for docid, _ in read_document_vectors(shards["impact"])]
    assert [shard_of(int(docid[1:])) for docid in ids] == sorted(
        shard_of(i) for i in range(NUM_DOCS)
    )


def test_a_shard_given_twice_or_none_is_refused(corpus):
    from splade_lite.errors import BadValueError
    from splade_lite.indexer import ImpactIndex

    _, shards = corpus
    with pytest.raises(BadValueError, match="twice"):
        ImpactIndex([shards["impact"][0], shards["impact"][0]])
    with pytest.raises(BadValueError, match="no Lucene index folder"):
        ImpactIndex([])


def test_a_missing_shard_folder_is_named(corpus, tmp_path):
    from splade_lite.errors import MissingFileError
    from splade_lite.indexer import ImpactIndex

    _, shards = corpus
    with pytest.raises(MissingFileError, match="nowhere"):
        ImpactIndex([shards["impact"][0], tmp_path / "nowhere"])
