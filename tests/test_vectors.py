from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from splade_lite.vectors import SparseVector, quantize, quantize_values


def test_sorts_and_drops_non_positive():
    vec = SparseVector([5, 1, 3], [0.5, 2.0, 0.0])
    assert vec.indices.tolist() == [1, 5]
    assert vec.values.tolist() == [2.0, 0.5]
    assert dict(vec) == {1: 2.0, 5: 0.5}
    assert 3 not in vec and len(vec) == 2


def test_rejects_duplicates_and_nan():
    with pytest.raises(ValueError, match="duplicate"):
        SparseVector([2, 1, 2], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="NaN"):
        SparseVector([1], [float("nan")])
    with pytest.raises(ValueError, match="differ"):
        SparseVector([1, 2], [1.0])


def test_dense_dict_and_dot():
    a = SparseVector.from_dense([0, 1.5, 0, 2.0])
    b = SparseVector.from_dict({1: 2.0, 2: 7.0, 3: 0.5})
    assert a == {1: 1.5, 3: 2.0}
    assert a.dot(b) == pytest.approx(1.5 * 2.0 + 2.0 * 0.5)
    assert b.top(1) == {2: 7.0}
    assert a.to_tokens(["a", "b", "c", "d"]) == {"b": 1.5, "d": 2.0}


def test_quantize_by_hand():
    vec = SparseVector([1, 2, 3, 4], [0.004, 0.006, 1.234, 2.5])
    ids, ints = quantize(vec, 100)
    # 0.4 rounds to 0 and is dropped; 0.6 rounds to 1
    assert ids.tolist() == [2, 3, 4]
    assert ints.tolist() == [1, 123, 250]
    # exact halves round up (0.125 and 4 are exact in binary)
    assert quantize(SparseVector([0], [0.125]), 4)[1].tolist() == [1]
    # the per-weight form keeps zeros in place (an IDF table quantised per token id)
    assert quantize_values(np.array([0.004, 1.236, 0.0, 0.125 * 8]), 100).tolist() == [
        0,
        124,
        0,
        100,
    ]
    with pytest.raises(ValueError, match="largest impact"):
        quantize_values(np.array([1.0, math.inf]), 100)
    with pytest.raises(ValueError, match="largest impact"):
        quantize_values(np.array([3e9]), 1)


@given(
    st.dictionaries(
        st.integers(0, 30_000),
        st.floats(min_value=1e-6, max_value=50, allow_nan=False, allow_infinity=False),
        max_size=40,
    ),
    st.sampled_from([1.0, 10.0, 100.0, 256.0]),
)
def test_quantize_round_trip(weights, scale):
    vec = SparseVector.from_dict(weights)
    ids, ints = quantize(vec, scale)
    assert np.all(ints > 0)
    back = dict(zip(ids.tolist(), (ints / scale).tolist()))
    for token, weight in dict(vec).items():
        if token in back:  # what is kept is within half a step of the float weight
            assert abs(back[token] - weight) <= 0.5 / scale + 1e-6
        else:  # only weights that round to zero are dropped
            assert weight * scale < 0.5 + 1e-4
    # the sparse form is the per-weight form less its zeros
    every = quantize_values(vec.values, scale)
    assert ints.tolist() == every[every > 0].tolist()
