from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from splade_lite.fusion import fuse, interpolate, min_max, rrf


def test_min_max_by_hand():
    assert min_max([("a", 10.0), ("b", 6.0), ("c", 2.0)]) == {"a": 1.0, "b": 0.5, "c": 0.0}
    assert min_max([("a", 3.0), ("b", 3.0)]) == {"a": 1.0, "b": 1.0}
    assert min_max([]) == {}


def test_interpolate_by_hand_keeps_documents_of_one_list():
    splade = [("a", 100.0), ("b", 50.0), ("c", 0.0)]  # -> a 1, b 0.5, c 0
    bm25 = [("b", 8.0), ("d", 4.0)]  # -> b 1, d 0
    got = dict(interpolate(splade, bm25, alpha=0.5))
    assert got == pytest.approx({"a": 0.5, "b": 0.75, "c": 0.0, "d": 0.0})
    assert [d for d, _ in interpolate(splade, bm25, 0.5)] == ["b", "a", "c", "d"]  # ties by id
    assert [d for d, _ in interpolate(splade, bm25, 1.0)][:2] == ["a", "b"]


def test_rrf_by_hand():
    got = dict(rrf([("a", 9), ("b", 8)], [("b", 1), ("c", 0.5)], k=60))
    assert got["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert got["a"] == pytest.approx(1 / 61)
    assert got["c"] == pytest.approx(1 / 62)
    assert [d for d, _ in rrf([("a", 9), ("b", 8)], [("b", 1), ("c", 0.5)])] == ["b", "a", "c"]


def test_empty_lists_and_bad_arguments():
    assert interpolate([], []) == []
    assert rrf([], []) == []
    assert [d for d, _ in fuse([("x", 1.0)], [], "interpolate")] == ["x"]
    assert [d for d, _ in fuse([], [("y", 2.0)], "rrf")] == ["y"]
    with pytest.raises(ValueError):
        interpolate([], [], alpha=1.5)
    with pytest.raises(ValueError, match="unknown fusion"):
        fuse([], [], "max")


ranked = st.lists(
    st.tuples(st.sampled_from("abcdefghij"), st.floats(-5, 5, allow_nan=False)),
    max_size=10,
    unique_by=lambda t: t[0],
).map(lambda xs: sorted(xs, key=lambda t: -t[1]))


@given(ranked, ranked, st.floats(0, 1), st.sampled_from(["interpolate", "rrf"]))
def test_fusion_never_loses_or_duplicates_a_document(first, second, alpha, method):
    fused = fuse(first, second, method, alpha=alpha)
    ids = [d for d, _ in fused]
    assert len(ids) == len(set(ids))
    assert set(ids) == {d for d, _ in first} | {d for d, _ in second}
    scores = [s for _, s in fused]
    assert scores == sorted(scores, reverse=True)


def test_max_scaled_and_z_scores_by_hand():
    from splade_lite.fusion import max_scaled, z_scores

    ranked = [("a", 10.0), ("b", 6.0), ("c", 2.0)]
    assert max_scaled(ranked) == pytest.approx({"a": 1.0, "b": 0.6, "c": 0.2})  # 0 stays 0
    assert max_scaled([("a", 0.0)]) == {"a": 1.0} and max_scaled([]) == {}
    std = (32 / 3) ** 0.5  # of 10, 6, 2 (mean 6)
    assert z_scores(ranked) == pytest.approx({"a": 8 / std, "b": 4 / std, "c": 0.0})
    assert z_scores([("a", 3.0), ("b", 3.0)]) == {"a": 1.0, "b": 1.0} and z_scores([]) == {}


scores = st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=20)


@given(scores, st.floats(0.01, 100), st.floats(0, 100))
def test_normalisations_ignore_what_they_should(values, factor, shift):
    from splade_lite.fusion import max_scaled, z_scores

    ranked = [(f"d{i}", v) for i, v in enumerate(values)]
    scaled = [(d, v * factor) for d, v in ranked]
    moved = [(d, v * factor + shift) for d, v in ranked]
    # max: the unit of the scores does not matter; z-score and min-max: neither does an offset
    assert max_scaled(scaled) == pytest.approx(max_scaled(ranked), abs=1e-6)
    if max(values) - min(values) > 1e-3:  # a spread well above rounding
        assert z_scores(moved) == pytest.approx(z_scores(ranked), abs=1e-6)
        assert min_max(moved) == pytest.approx(min_max(ranked), abs=1e-6)


def test_interpolate_with_each_normalisation():
    splade = [("a", 100.0), ("b", 50.0)]  # max: a 1, b 0.5; min-max: a 1, b 0
    bm25 = [("b", 8.0), ("c", 6.0)]  # max: b 1, c 0.75; min-max: b 1, c 0
    assert dict(interpolate(splade, bm25, 0.5, "max")) == pytest.approx(
        {"a": 0.5, "b": 0.75, "c": 0.375}
    )
    assert dict(interpolate(splade, bm25, 0.5, "min-max")) == pytest.approx(
        {"a": 0.5, "b": 0.5, "c": 0.0}
    )
    with pytest.raises(ValueError, match="unknown normalisation 'l2'"):
        interpolate(splade, bm25, 0.5, "l2")


def test_weighted_fuses_any_number_of_lists():
    from splade_lite.fusion import weighted

    lists = [[("a", 4.0), ("b", 2.0)], [("b", 9.0), ("c", 3.0)], [("c", 1.0), ("a", 0.5)]]
    # max-scaled: a 1, b 0.5 | b 1, c 1/3 | c 1, a 0.5
    got = dict(weighted(lists, [0.5, 0.3, 0.2], "max"))
    assert got == pytest.approx({"a": 0.6, "b": 0.55, "c": 0.3})
    assert weighted(lists[:2], [0.7, 1 - 0.7]) == interpolate(lists[0], lists[1], 0.7)
    with pytest.raises(ValueError, match="3 lists but 2 weights"):
        weighted(lists, [0.5, 0.5])


def test_hybrid_three_way_settings_and_their_defaults():
    from splade_lite.errors import BadValueError
    from splade_lite.fusion import DENSE_WEIGHTS, Hybrid

    default = Hybrid()
    assert (default.weights, default.norm, default.dense_norm) == (None, None, "max")
    assert (
        default.weights_for("inference-free") == DENSE_WEIGHTS["inference-free"] == (0.1, 0.4, 0.5)
    )
    assert default.weights_for("splade") == DENSE_WEIGHTS["splade"] == (0.2, 0.3, 0.5)
    assert default.depth_for("inference-free", 10) == 30  # two lists: as before
    assert default.depth_for("inference-free", 10, dense=True) == 100
    assert default.depth_for("splade", 500, dense=True) == 500
    assert Hybrid(depth=7).depth_for("splade", 5, dense=True) == 7
    given = Hybrid(weights=[1, 2, 3], norm="z-score")
    assert given.weights == (1.0, 2.0, 3.0) and given.weights_for("splade") == (1.0, 2.0, 3.0)
    assert given.dense_norm == "z-score"
    for weights, message in [
        ((1, 2), "three numbers"),
        ("abc", "three numbers"),
        ((1, True, 1), "three numbers"),
        ((0, 0, 0), "not all 0"),
        ((-1, 1, 1), ">= 0"),
        ((float("nan"), 1, 1), "finite"),
    ]:
        with pytest.raises(BadValueError, match=message):
            Hybrid(weights=weights)
    with pytest.raises(BadValueError, match="unknown normalisation 'l2'"):
        Hybrid(norm="l2")
    default.check_partners(dense=False)
    default.check_partners(dense=True)
    with pytest.raises(BadValueError, match="weights and norm set the three-way hybrid"):
        Hybrid(norm="max").check_partners(dense=False)
    with pytest.raises(BadValueError, match="alpha weighs the two lists"):
        Hybrid(alpha=0.2).check_partners(dense=True)
    with pytest.raises(BadValueError, match="not rrf"):
        Hybrid(fusion="rrf", weights=(1, 1, 1)).check_partners(dense=True)
