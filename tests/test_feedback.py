from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from splade_lite.feedback import Feedback, centroid, rocchio


def test_centroid_by_hand():
    assert centroid([{"a": 2, "b": 4}, {"a": 4}]) == {"a": 3.0, "b": 2.0}
    assert centroid([]) == {}


def test_rocchio_by_hand():
    query = {"a": 10, "b": 30}  # L1 mass 40
    docs = [{"a": 6, "c": 8, "d": 1}, {"c": 4, "e": 2}]
    # centroid: a 3, c 6, d 0.5, e 1 -> top 2 terms: c 6, a 3 (mass 9)
    # factor = 0.5 * 40 / 9; c += round(6 * 2.222) = 13, a += round(3 * 2.222) = 7
    got = rocchio(query, docs, Feedback(docs=2, terms=2, beta=0.5))
    assert got == {"a": 17, "b": 30, "c": 13}


def test_rocchio_leaves_the_query_alone_without_feedback():
    assert rocchio({"a": 3}, [], Feedback()) == {"a": 3}
    assert rocchio({"a": 3}, [{"b": 5}], Feedback(beta=0)) == {"a": 3}
    assert rocchio({"a": 3}, [{"b": 5}], Feedback(terms=0)) == {"a": 3}
    with pytest.raises(ValueError):
        Feedback(docs=0)


terms = st.text(alphabet=st.characters(blacklist_categories=("Z", "C")), min_size=1, max_size=8)
vectors = st.dictionaries(terms, st.integers(1, 1000), max_size=30)


@given(vectors, st.lists(vectors, max_size=5), st.integers(0, 50), st.floats(0, 3))
def test_rocchio_keeps_index_terms_and_positive_integer_weights(query, docs, n_terms, beta):
    got = rocchio(query, docs, Feedback(docs=max(1, len(docs)), terms=n_terms, beta=beta))
    known = set(query).union(*docs) if docs else set(query)
    assert set(got) <= known
    assert all(isinstance(w, int) and w > 0 for w in got.values())
    assert not any(any(ch.isspace() for ch in t) for t in got)
    assert all(got[t] >= w for t, w in query.items())  # feedback only adds weight
    assert len(set(got) - set(query)) <= n_terms
