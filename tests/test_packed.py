"""Packed string tables and memory-mapped .npz files (splade_lite.packed)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splade_lite.packed import StringTable, load_npz, mmap_npz, pack_strings, sort_order

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@given(st.lists(TEXT, max_size=40))
@settings(max_examples=150, deadline=None)
def test_table_reads_back_and_finds_every_string(strings):
    blob, offsets = pack_strings(strings)
    table = StringTable(blob, offsets, sort_order(blob, offsets))
    assert list(table) == strings and len(table) == len(strings)
    assert [table[i] for i in range(len(strings))] == strings
    for s in set(strings):
        row = table.find(s)
        assert row is not None and strings[row] == s
    assert table.find("\x00absent\x00") is None or "\x00absent\x00" in strings


def test_strings_holding_the_separator_are_cut_by_offsets():
    strings = ["x\ny", "", "\n", "é", "zz"]
    blob, offsets = pack_strings(strings)
    table = StringTable(blob, offsets, sort_order(blob, offsets))
    assert list(table) == strings
    assert table.find("\n") == 2 and table.find("x") is None


def test_order_is_by_code_point():
    strings = ["b", "a", "é", "Z", "ab", ""]
    blob, offsets = pack_strings(strings)
    assert [strings[i] for i in sort_order(blob, offsets)] == sorted(strings)


def test_bad_tables_are_refused():
    blob, offsets = pack_strings(["a", "b"])
    with pytest.raises(ValueError, match="offsets do not cover"):
        StringTable(blob[:-1], offsets)
    with pytest.raises(ValueError, match="2 strings but 1 sorted rows"):
        StringTable(blob, offsets, np.array([0]))
    with pytest.raises(ValueError, match="no sort order"):
        StringTable(blob, offsets).find("a")
    with pytest.raises(IndexError):
        StringTable(blob, offsets)[2]


def test_stored_npz_is_mapped_and_compressed_is_read(tmp_path):
    stored, packed = tmp_path / "s.npz", tmp_path / "c.npz"
    np.savez(stored, a=np.arange(5), b=np.array([1.5]))
    np.savez_compressed(packed, a=np.arange(5))
    mapped = mmap_npz(stored)
    assert mapped is not None and not mapped["a"].flags.writeable
    assert mapped["a"].tolist() == [0, 1, 2, 3, 4] and mapped["b"].tolist() == [1.5]
    assert mmap_npz(packed) is None and load_npz(packed)["a"].tolist() == [0, 1, 2, 3, 4]


def test_object_arrays_are_refused(tmp_path):
    path = tmp_path / "o.npz"
    np.savez(path, a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match="object arrays"):
        mmap_npz(path)
