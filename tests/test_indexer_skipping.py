"""Lucene's skipping of non-competitive documents (block-max WAND/MaxScore) keeps the top k
exact: TopHits with skipping on (the default) against the same search scoring every match.

The corpus is large enough (4,000 documents, Zipf-like term frequencies) for posting lists
to span many of Lucene's 128-document blocks, where skipping changes what is scored.
"""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.jvm

VOCAB = [f"t{i}" for i in range(400)]


@pytest.fixture(scope="module")
def skipping_index(tmp_path_factory):
    from splade_lite.indexer import ImpactIndex, build_impact_index

    rng = random.Random(11)
    weights = [1 / (rank + 1) for rank in range(len(VOCAB))]
    folder = tmp_path_factory.mktemp("skipping")
    vectors = folder / "vectors"
    vectors.mkdir()
    with open(vectors / "part-00000.jsonl", "w") as handle:
        for i in range(4000):
            terms = set(rng.choices(VOCAB, weights, k=rng.randint(5, 60)))
            vector = {t: rng.randint(1, 300) for t in terms}
            handle.write(json.dumps({"id": f"d{i:05d}", "contents": "", "vector": vector}) + "\n")
    build_impact_index(vectors, folder / "index")
    index = ImpactIndex(folder / "index")
    yield index
    index.set_skipping(True)
    index.close()


QUERIES = st.dictionaries(st.sampled_from(VOCAB), st.integers(1, 2000), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(queries=st.lists(QUERIES, min_size=1, max_size=4), k=st.sampled_from([1, 3, 10, 100]))
def test_skipping_search_equals_scoring_every_match(skipping_index, queries, k):
    skipping_index.set_skipping(False)
    try:
        reference = [skipping_index.search(q, k) for q in queries]
    finally:
        skipping_index.set_skipping(True)
    assert [skipping_index.search(q, k) for q in queries] == reference
    assert skipping_index.batch_search(queries, k, threads=2) == reference
