"""Forward index: vectors shards -> one .npz -> docid -> {term: weight} again."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from splade_lite.encode import read_vector_shards
from splade_lite.forward import ForwardIndex, build_forward_index
from splade_lite.vectors import EMPTY_DOC_TOKEN

RECORDS = [
    # non-ASCII terms, word pieces, equal weights
    {"id": "d1", "vector": {"café": 120, "##ing": 7, "naïve": 7, "bones": 7, "ß": 1}},
    {"id": "d2", "vector": {EMPTY_DOC_TOKEN: 1}},  # empty after quantisation
    {"id": "é-3", "vector": {"日本": 300, "##ing": 300, "vitamin": 45}},
    # beyond int16 and float32's exact integers, within what Anserini indexes (2^28 chars)
    {"id": "d4", "vector": {"vitamin": 33_000_000, "zz": 5, "a": 5}},
]
# the second shard carries on the first, as encode's ShardWriter does
MORE = [{"id": "d5", "vector": {"bones": 1, "café": 2, "🦴": 3}}]


def write_vectors(folder: Path, shards: list[list[dict]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n, records in enumerate(shards):
        with open(folder / f"part-{n:05d}.jsonl", "w", encoding="utf-8") as handle:
            for record in records:
                line = {"id": record["id"], "contents": "", "vector": record["vector"]}
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    return folder


def expected(record: dict) -> dict[str, int]:
    return {t: w for t, w in record["vector"].items() if t != EMPTY_DOC_TOKEN}


@pytest.fixture
def built(tmp_path) -> Path:
    vectors = write_vectors(tmp_path / "vectors", [RECORDS, MORE])
    out = tmp_path / "forward.npz"
    assert build_forward_index(vectors, out) == 5
    return out


def test_round_trip(built, tmp_path):
    index = ForwardIndex.load(built)
    records = list(read_vector_shards(tmp_path / "vectors"))
    assert len(index) == len(records) == 5
    assert tuple(index.docids) == tuple(r["id"] for r in records)
    for record in records:
        assert record["id"] in index
        vector = index.vector(record["id"])
        assert vector == expected(record)
        assert all(type(w) is int for w in vector.values())
    assert index.vector("d2") == {}  # the placeholder is dropped, the document kept
    assert EMPTY_DOC_TOKEN not in index.terms
    assert index.vectors(["d5", "d1"]) == [expected(MORE[0]), expected(RECORDS[0])]
    assert index.vectors([]) == []


def test_layout_is_sorted_csr(built):
    index = ForwardIndex.load(built)
    assert index.terms == sorted(index.terms)
    assert index.indptr.dtype == np.int64 and index.indptr[0] == 0
    assert index.term_ids.dtype == np.int32 and index.weights.dtype == np.int32
    assert index.indptr[-1] == index.num_postings == 14
    for start, end in zip(index.indptr[:-1], index.indptr[1:]):
        assert np.all(np.diff(index.term_ids[start:end]) > 0)
    ids, weights = index.row("é-3")
    assert dict(zip((index.terms[i] for i in ids), weights.tolist())) == expected(RECORDS[2])


def test_loads_without_pickle_and_in_memory(built):
    with np.load(built, allow_pickle=False) as npz:
        assert {"indptr", "term_ids", "weights", "docids", "terms"} <= set(npz.files)
        assert all(npz[name].dtype != object for name in npz.files)
    mapped = ForwardIndex.load(built)
    assert not mapped.weights.flags.writeable  # a view into the read-only map
    in_memory = ForwardIndex.load(built, mmap_arrays=False)
    assert list(in_memory.docids) == list(mapped.docids)
    assert all(in_memory.vector(d) == mapped.vector(d) for d in mapped.docids)


def test_compressed_file_is_read_into_memory(built, tmp_path):
    with np.load(built, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    packed = tmp_path / "packed.npz"
    np.savez_compressed(packed, **arrays)
    with zipfile.ZipFile(packed) as archive:
        assert archive.infolist()[0].compress_type == zipfile.ZIP_DEFLATED
    assert ForwardIndex.load(packed).vector("d1") == expected(RECORDS[0])


def test_unknown_id(built):
    index = ForwardIndex.load(built)
    assert "nope" not in index
    with pytest.raises(KeyError, match="'nope' is not in the forward index.*5 documents"):
        index.vector("nope")
    with pytest.raises(KeyError, match="nope"):
        index.vectors(["d1", "nope"])


def test_format_1_files_without_an_id_order_still_open(built, tmp_path):
    with np.load(built, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files if name != "docid_order"}
    arrays["format_version"] = np.array(1, dtype=np.int64)
    old = tmp_path / "old.npz"
    np.savez(old, **arrays)
    index = ForwardIndex.load(old)
    assert index.vector("d1") == expected(RECORDS[0]) and "nope" not in index
    assert [index.row_of(d) for d in index.docids] == list(range(len(index)))


def test_a_damaged_id_order_is_refused(built, tmp_path):
    with np.load(built, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    arrays["docid_order"] = arrays["docid_order"] + 10
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    with pytest.raises(ValueError, match="id order points outside"):
        ForwardIndex.load(bad)


def test_only_empty_documents(tmp_path):
    records = [
        {"id": "a", "vector": {EMPTY_DOC_TOKEN: 1}},
        {"id": "b", "vector": {EMPTY_DOC_TOKEN: 1}},
    ]
    out = tmp_path / "f.npz"
    assert build_forward_index(write_vectors(tmp_path / "v", [records]), out) == 2
    index = ForwardIndex.load(out)
    assert index.vectors(["a", "b"]) == [{}, {}]
    assert index.terms == [] and index.num_postings == 0


@pytest.mark.parametrize(
    ("records", "message"),
    [
        (
            [{"id": "a", "vector": {"x": 1}}, {"id": "a", "vector": {"y": 1}}],
            ":2: duplicate id 'a'",
        ),
        ([{"id": "a", "vector": {"x": 1}}, {"id": "b", "vector": {"y": 1.5}}], ":2: weight 1.5"),
        ([{"id": "a", "vector": {"x": 0}}], ":1: weight 0 of token 'x' is not positive"),
        ([{"id": "a", "vector": {"x": 1}}, {"id": "b", "vector": {"y": 2**31}}], ":2: .*above"),
        ([{"id": "a", "vector": {}}], ":1: empty 'vector'"),
        ([{"id": "a", "vector": {"x y": 1}}], ":1: token 'x y' contains whitespace"),
    ],
)
def test_bad_input_leaves_no_file(tmp_path, records, message):
    out = tmp_path / "f.npz"
    with pytest.raises(ValueError, match=message):
        build_forward_index(write_vectors(tmp_path / "v", [records]), out)
    assert not out.exists()
    assert list(tmp_path.glob(".*tmp")) == []


def test_no_shards(tmp_path):
    with pytest.raises(ValueError, match="no vector shards"):
        build_forward_index(tmp_path, tmp_path / "f.npz")


def test_not_a_forward_index(tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, something=np.arange(3))
    with pytest.raises(ValueError, match="not a forward index"):
        ForwardIndex.load(other)


def test_sorting_in_small_chunks_and_spilling_in_small_blocks_change_nothing(tmp_path, monkeypatch):
    import random

    from splade_lite import forward

    rng = random.Random(7)
    vocab = [f"t{i}" for i in range(50)]
    records = [
        {"id": f"doc{i}", "vector": {t: rng.randint(1, 300) for t in rng.sample(vocab, 12)}}
        for i in range(60)
    ]
    vectors = write_vectors(tmp_path / "vectors", [records[:25], records[25:]])
    build_forward_index(vectors, tmp_path / "whole.npz")
    monkeypatch.setattr(forward, "_SORT_CHUNK", 5)  # rows of 12 postings: one row per chunk
    monkeypatch.setattr(forward, "_BLOCK", 7)
    build_forward_index(vectors, tmp_path / "chunked.npz")
    assert (tmp_path / "whole.npz").read_bytes() == (tmp_path / "chunked.npz").read_bytes()
    index = ForwardIndex.load(tmp_path / "chunked.npz")
    assert all(index.vector(r["id"]) == r["vector"] for r in records)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("forward-")]  # spill gone
