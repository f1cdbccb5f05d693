"""Vector shards: every line checked before Anserini sees it; writing and hashing shards."""

from __future__ import annotations

import gzip
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splade_lite.encode import vector_record
from splade_lite.indexer.limits import MAX_IMPACT_TEXT_CHARS
from splade_lite.io import InputError
from splade_lite.shards import (
    MAX_WEIGHT,
    ShardWriter,
    check_vector_shards,
    file_sha256,
    iter_checked_records,
    parse_vector_line,
    read_vector_shards,
    shard_files,
)
from splade_lite.vectors import EMPTY_DOC_TOKEN, SparseVector, quantize


def line(vector: object, doc_id: object = "d1", **extra: object) -> str:
    return json.dumps({"id": doc_id, "contents": "", "vector": vector, **extra})


def write_shards(folder: Path, *shards: list[str], gz: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n, lines in enumerate(shards):
        path = folder / f"part-{n:05d}.jsonl{'.gz' if gz else ''}"
        text = "".join(f"{x}\n" for x in lines)
        if gz:
            with gzip.open(path, "wt", encoding="utf-8") as handle:
                handle.write(text)
        else:
            path.write_text(text, encoding="utf-8")
    return folder


def test_a_good_line_passes_and_keeps_its_tokens_verbatim():
    vector = {"##ing": 3, "[unused0]": 1, "café": 2, "日本": 7, EMPTY_DOC_TOKEN: 1}
    record = parse_vector_line(line(vector))
    assert record["vector"] == vector and record["id"] == "d1"
    assert parse_vector_line(line({"x": 3}, doc_id=7))["id"] == "7"  # as corpora
    # the heaviest weight let through to Anserini (which writes "x " that many times)
    assert parse_vector_line(line({"x": MAX_IMPACT_TEXT_CHARS // 2}))["vector"]["x"] == 2**27
    assert parse_vector_line(json.dumps({"id": "a", "vector": {"x": 1}}))["id"] == "a"


BAD_LINES = [
    ("{not json", "malformed JSON"),
    ("[1, 2]", "expected a JSON object, got an array"),
    (json.dumps({"vector": {"x": 1}}), "missing 'id'"),
    (line({"x": 1}, doc_id=""), "empty 'id'"),
    (line({"x": 1}, doc_id="a b"), "contains ' '"),
    (line({"x": 1}, doc_id=None), "'id' must be a string, got null"),
    (json.dumps({"id": "a"}), "missing 'vector'"),
    (line([["x", 1]]), "'vector' must be an object"),
    (line({}), "empty 'vector': Lucene would drop the document"),
    (line({"": 3}), "empty token"),
    (line({"two words": 3}), "token 'two words' contains whitespace"),
    (line({"tab\there": 3}), "contains whitespace"),
    (line({"new\nline": 3}), "contains whitespace"),
    (line({"nbsp\u00a0": 3}), "contains whitespace"),
    (line({"bell\x07": 3}), "control character"),
    (line({"x": 1.5}), "weight 1.5 of token 'x' is not an integer"),
    (line({"x": 2.0}), "weight 2.0 of token 'x' is not an integer"),
    (line({"x": True}), "weight True of token 'x' is not an integer"),
    (line({"x": "3"}), "weight '3' of token 'x' is not an integer"),
    (line({"x": None}), "weight None"),
    (line({"x": 0}), "weight 0 of token 'x' is not positive"),
    (line({"x": -4}), "weight -4 of token 'x' is not positive"),
    (line({"x": MAX_WEIGHT + 1}), "above 2147483647"),
    ('{"id": "a", "vector": {"x": NaN}}', "NaN is not a finite number"),
    ('{"id": "a", "vector": {"x": Infinity}}', "Infinity is not a finite number"),
    ('{"id": "a", "vector": {"x": -Infinity}}', "-Infinity is not a finite number"),
    ('{"id": "a", "vector": {"x": 1e999}}', "inf of token 'x' is not a finite number"),
    (line({"x": 1}, contents=None), "'contents' must be a string"),
]


@pytest.mark.parametrize(("text", "reason"), BAD_LINES)
def test_bad_lines_are_refused_with_the_reason(text: str, reason: str):
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_vector_line(text)


@pytest.mark.parametrize(("text", "reason"), BAD_LINES[:: len(BAD_LINES) // 6])
@pytest.mark.parametrize("gz", [False, True])
def test_folder_errors_name_the_file_and_line(tmp_path: Path, text: str, reason: str, gz: bool):
    good = [line({"x": 1}, doc_id=f"g{i}") for i in range(3)]
    folder = write_shards(tmp_path / "v", good, [good[0].replace("g0", "h0"), "", text], gz=gz)
    with pytest.raises(InputError) as caught:
        check_vector_shards(folder)
    assert caught.value.path.endswith("part-00001.jsonl" + (".gz" if gz else ""))
    assert caught.value.line == 3 and reason in caught.value.reason


def test_duplicate_ids_across_shards(tmp_path: Path):
    folder = write_shards(tmp_path / "v", [line({"x": 1}, "a")], [line({"y": 2}, "a")])
    with pytest.raises(InputError, match=r"part-00001\.jsonl:1: duplicate id 'a'"):
        check_vector_shards(folder)


def test_invalid_utf8_and_missing_shards(tmp_path: Path):
    folder = tmp_path / "v"
    folder.mkdir()
    with pytest.raises(InputError, match="no vector shards"):
        check_vector_shards(folder)
    (folder / "part-00000.jsonl").write_bytes(line({"x": 1}).encode() + b"\n\xff\xfe\n")
    with pytest.raises(InputError, match=r"part-00000\.jsonl:2: invalid UTF-8"):
        check_vector_shards(folder)


def test_counts_and_order(tmp_path: Path):
    first = [line({"x": 1, "y": 2}, "a"), line({EMPTY_DOC_TOKEN: 1}, "b")]
    folder = write_shards(tmp_path / "v", first, [line({"z": 9}, "c")])
    (folder / "vectors.json").write_text("{}")  # companions are not shards
    summary = check_vector_shards(folder)
    assert (summary.num_docs, summary.num_empty, summary.num_postings) == (3, 1, 4)
    assert summary.num_shards == 2
    assert [r["id"] for r in iter_checked_records(folder)] == ["a", "b", "c"]
    assert [r["id"] for r in read_vector_shards(folder)] == ["a", "b", "c"]
    assert [p.name for p in shard_files(folder)] == ["part-00000.jsonl", "part-00001.jsonl"]


def test_shard_writer_cuts_and_hash_reads_through_gzip(tmp_path: Path):
    with ShardWriter(tmp_path, 2, ".gz") as writer:
        for i in range(5):
            writer.write(line({"x": 1}, f"d{i}") + "\n")
    assert writer.names == ["part-00000.jsonl.gz", "part-00001.jsonl.gz", "part-00002.jsonl.gz"]
    assert [r["id"] for r in read_vector_shards(tmp_path)] == [f"d{i}" for i in range(5)]
    plain = tmp_path / "plain.jsonl"
    with gzip.open(tmp_path / writer.names[0], "rb") as handle:
        plain.write_bytes(handle.read())
    assert file_sha256(tmp_path / writer.names[0]) == file_sha256(plain)


def test_shard_writer_leaves_no_partial_shard_on_error(tmp_path: Path):
    with pytest.raises(RuntimeError), ShardWriter(tmp_path, 2) as writer:
        for i in range(3):
            writer.write(line({"x": 1}, f"d{i}") + "\n")
        raise RuntimeError("killed")
    assert [p.name for p in tmp_path.iterdir()] == ["part-00000.jsonl"]


# Every vector an encoder can produce makes a line that passes the check, with the weights
# quantize() gives (property-based).
# (up to 1e3: heavier documents are beyond what Anserini indexes, see indexer/limits.py)
weights = st.floats(min_value=0, max_value=1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.integers(0, 99), weights, max_size=30),
    st.sampled_from([1.0, 10.0, 100.0, 1000.0]),
)
def test_every_encoded_vector_passes_the_check(vector: dict[int, float], scale: float):
    terms = [f"t{i}" if i % 3 else f"##t{i}" for i in range(100)]
    sparse = SparseVector.from_dict(vector)
    record = vector_record("doc", sparse, terms, scale)
    checked = parse_vector_line(json.dumps(record, ensure_ascii=False))
    ids, ints = quantize(sparse, scale)
    expected = {terms[i]: int(w) for i, w in zip(ids.tolist(), ints.tolist())}
    assert checked["vector"] == (expected or {EMPTY_DOC_TOKEN: 1})
    for token, weight in expected.items():  # round(w × scale) of the float32 weight
        stored = float(np.float32(vector[int(token.lstrip("#t"))]))
        assert weight == math.floor(stored * scale + 0.5) >= 1
