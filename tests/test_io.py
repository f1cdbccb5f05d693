"""Tests of splade_lite.io: every input format, every error message, and the writers."""

from __future__ import annotations

import gzip
import json
import math
import os
import pickle
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from splade_lite.io import (
    Doc,
    InputError,
    Query,
    atomic_write,
    count_records,
    read_corpus,
    read_qrels,
    read_queries,
    read_trec_run,
    write_trec_run,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DATASETS = ("scifact", "nfcorpus", "cranfield", "medline")


def write_lines(path: Path, lines: list[str], *, gz: bool = False) -> Path:
    """Write lines (each followed by a newline) as UTF-8, gzipped when asked."""
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def jsonl(path: Path, records: list[object], *, gz: bool = False) -> Path:
    return write_lines(path, [json.dumps(r) for r in records], gz=gz)


def error_of(call) -> InputError:
    """Run ``call`` (which must fail) and return its InputError."""
    with pytest.raises(InputError) as info:
        call()
    return info.value


# --------------------------------------------------------------------------------------------
# Doc and InputError


def test_full_text_joins_title_and_text_with_one_space() -> None:
    assert Doc("1", "body", "Title").full_text == "Title body"
    assert Doc("1", "body").full_text == "body"
    assert Doc("1", "", "Title").full_text == "Title"
    assert Doc("1", "").full_text == ""


def test_input_error_message_and_pickling() -> None:
    err = InputError("corpus.jsonl", 17, "missing 'id'")
    assert str(err) == "corpus.jsonl:17: missing 'id'"
    assert isinstance(err, ValueError)
    again = pickle.loads(pickle.dumps(err))
    assert (again.path, again.line, again.reason) == ("corpus.jsonl", 17, "missing 'id'")
    assert str(InputError("x.tsv", None, "not found")) == "x.tsv: not found"


# --------------------------------------------------------------------------------------------
# read_corpus: formats


def test_beir_jsonl(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "corpus.jsonl",
        [
            {"_id": "d1", "title": "T1", "text": "one", "metadata": {"url": "x"}},
            {"_id": "d2", "text": "two"},  # the title is optional
            {"_id": "d3", "title": None, "text": ""},  # null title, empty text: kept
        ],
    )
    assert list(read_corpus(path)) == [Doc("d1", "one", "T1"), Doc("d2", "two"), Doc("d3", "")]


@pytest.mark.parametrize(
    ("id_key", "text_key"),
    [("id", "contents"), ("id", "text"), ("docid", "text"), ("doc_id", "body"), ("_id", "content")],
)
def test_other_jsonl_keys(tmp_path: Path, id_key: str, text_key: str) -> None:
    path = jsonl(tmp_path / "c.jsonl", [{id_key: "a", text_key: "x"}, {id_key: "b", text_key: ""}])
    assert list(read_corpus(path)) == [Doc("a", "x"), Doc("b", "")]


def test_json_suffix_is_read_as_json_lines(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "c.json", [{"id": "a", "contents": "x"}])
    assert [d.id for d in read_corpus(path)] == ["a"]


def test_json_array_file_gets_a_hint(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "c.json", ["[", '{"id": "a", "contents": "x"}', "]"])
    err = error_of(lambda: list(read_corpus(path)))
    assert str(err).startswith(f"{path}:1: ")
    assert "one object per line" in str(err)


def test_tsv_two_and_three_columns(tmp_path: Path) -> None:
    two = write_lines(tmp_path / "two.tsv", ["a\tfirst text", "b\t", "c\tthird"])
    assert list(read_corpus(two)) == [Doc("a", "first text"), Doc("b", ""), Doc("c", "third")]
    three = write_lines(tmp_path / "three.tsv", ["a\ttext a\ttitle a", "b\ttext b\t"])
    assert list(read_corpus(three)) == [Doc("a", "text a", "title a"), Doc("b", "text b", "")]


def test_tsv_header_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "c.tsv"
    path.write_bytes(b"id\ttext\r\n1\tone\r\n2\ttwo\r\n")
    assert list(read_corpus(path)) == [Doc("1", "one"), Doc("2", "two")]


def test_tsv_column_count_is_fixed_by_the_first_record(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "c.tsv", ["a\tone", "b\ttwo\twith a stray tab"])
    err = error_of(lambda: list(read_corpus(path)))
    assert str(err) == f"{path}:2: expected 2 tab-separated fields (id, text[, title]), found 3"


@pytest.mark.parametrize("name", ["corpus.jsonl.gz", "corpus.tsv.gz", "corpus.jsonl"])
def test_gzip(tmp_path: Path, name: str) -> None:
    # the last case is gzip under a plain name: recognised by its magic bytes
    if ".tsv" in name:
        path = write_lines(tmp_path / name, ["a\tx", "b\ty"], gz=True)
    else:
        path = jsonl(
            tmp_path / name, [{"_id": "a", "text": "x"}, {"_id": "b", "text": "y"}], gz=True
        )
    assert list(read_corpus(path)) == [Doc("a", "x"), Doc("b", "y")]
    assert count_records(path) == 2


def test_truncated_gzip_is_an_input_error(tmp_path: Path) -> None:
    data = gzip.compress(b"".join(b'{"_id": "%d", "text": "x"}\n' % i for i in range(1000)))
    path = tmp_path / "c.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    err = error_of(lambda: list(read_corpus(path)))
    assert str(err).startswith(f"{path}:") and "cannot read the file" in str(err)


def test_unknown_suffix_is_sniffed(tmp_path: Path) -> None:
    as_json = jsonl(tmp_path / "corpus.txt", [{"id": "a", "contents": "x"}])
    as_tsv = write_lines(tmp_path / "corpus", ["a\tx"])
    neither = write_lines(tmp_path / "corpus.dat", ["", "just words"])
    assert list(read_corpus(as_json)) == list(read_corpus(as_tsv)) == [Doc("a", "x")]
    err = error_of(lambda: read_corpus(neither))  # raised at the call, not on iteration
    assert str(err).startswith(f"{neither}:2: cannot tell the format")


def test_beir_folder(tmp_path: Path) -> None:
    jsonl(tmp_path / "corpus.jsonl", [{"_id": "a", "text": "x"}])
    assert list(read_corpus(tmp_path)) == [Doc("a", "x")]
    assert count_records(tmp_path) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "is a folder without corpus.jsonl" in str(error_of(lambda: read_corpus(empty)))


def test_missing_path_fails_at_the_call(tmp_path: Path) -> None:
    err = error_of(lambda: read_corpus(tmp_path / "nope.jsonl"))
    assert str(err) == f"{tmp_path / 'nope.jsonl'}: corpus file not found"


def test_blank_lines_bom_and_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"_id": "a", "text": "x"}\n\n   \n{"_id": "b", "text": "y"}\n{"_id": 5}\n'
    )
    reader = read_corpus(path)
    assert [next(reader), next(reader)] == [Doc("a", "x"), Doc("b", "y")]
    err = error_of(lambda: next(reader))
    assert str(err) == f"{path}:5: missing 'text'"


def test_reading_is_lazy(tmp_path: Path) -> None:
    # The first document comes out before the broken last line is ever parsed.
    path = write_lines(tmp_path / "c.jsonl", ['{"_id": "a", "text": "x"}', "{broken"])
    reader = read_corpus(path)
    assert next(reader) == Doc("a", "x")
    with pytest.raises(InputError):
        next(reader)


def test_integer_ids_become_strings(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "c.jsonl", [{"_id": 7, "text": "x"}, {"_id": 10**20, "text": "y"}])
    assert [d.id for d in read_corpus(path)] == ["7", str(10**20)]


def test_text_cleaning_keeps_tab_and_newline(tmp_path: Path) -> None:
    text = "a\tb\nc\x00d\re\x1ff\x7fg\x85h\u2028i\ud800j"
    path = jsonl(tmp_path / "c.jsonl", [{"_id": "a", "title": "t\x0bt", "text": text}])
    (doc,) = read_corpus(path)
    assert doc.text == "a\tb\nc d e f g h\u2028i\ufffdj"
    assert doc.title == "t t"


def test_u2028_inside_json_does_not_split_a_record(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    record = json.dumps({"_id": "a", "text": "x\u2028y\x85z"}, ensure_ascii=False)
    path.write_text(record + "\n", encoding="utf-8")
    assert [d.text for d in read_corpus(path)] == ["x\u2028y z"]


# --------------------------------------------------------------------------------------------
# read_corpus: errors, each naming the file and the line


BAD_JSON_RECORDS = [
    ('{"_id": "a", "text": ', "malformed JSON"),
    ('["a", "x"]', "expected a JSON object, got an array"),
    ('"just a string"', "expected a JSON object, got a string"),
    ('{"text": "x"}', "missing 'id'"),  # keys fixed by line 1: {id, contents}... see below
    ('{"_id": "b", "title": "t"}', "missing 'text'"),
    ('{"_id": null, "text": "x"}', "'_id' must be a string, got null"),
    ('{"_id": 1.5, "text": "x"}', "'_id' must be a string, got a number"),
    ('{"_id": true, "text": "x"}', "'_id' must be a string, got a boolean"),
    ('{"_id": "", "text": "x"}', "empty '_id'"),
    ('{"_id": "a b", "text": "x"}', "'_id' 'a b' contains ' '"),
    ('{"_id": "a\\tb", "text": "x"}', "contains '\\t'"),
    ('{"_id": "b", "text": null}', "'text' must be a string, got null"),
    ('{"_id": "b", "text": ["x"]}', "'text' must be a string, got an array"),
    ('{"_id": "b", "text": "x", "title": 3}', "'title' must be a string, got a number"),
    ('{"_id": "first", "text": "again"}', "duplicate id 'first'"),
]


@pytest.mark.parametrize(("bad", "reason"), BAD_JSON_RECORDS)
def test_json_record_errors_name_file_and_line(tmp_path: Path, bad: str, reason: str) -> None:
    path = tmp_path / "corpus.jsonl"
    first = '{"_id": "first", "text": "ok"}'
    if reason == "missing 'id'":
        first = '{"id": "first", "contents": "ok"}'  # a file that uses the Pyserini keys
    write_lines(path, [first, "", bad])
    err = error_of(lambda: list(read_corpus(path)))
    assert str(err).startswith(f"{path}:3: "), str(err)
    assert reason in str(err)
    assert (err.path, err.line) == (str(path), 3)


def test_first_record_without_known_keys(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "c.jsonl", [{"name": "a", "text": "x"}])
    err = error_of(lambda: list(read_corpus(path)))
    assert str(err) == f"{path}:1: missing id: expected one of '_id', 'id', 'docid', 'doc_id'"


def test_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"_id": "a", "text": "x"}\n{"_id": "b", "text": "caf\xe9"}\n')
    err = error_of(lambda: list(read_corpus(path)))
    assert str(err).startswith(f"{path}:2: invalid UTF-8 at byte 26 of the line")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("a b\tx", "'id' 'a b' contains ' '"),
        ("\tx", "empty 'id'"),
        ("lonely", "expected 2 tab-separated fields"),
        ("a\tdup", "duplicate id 'a'"),
    ],
)
def test_tsv_errors_name_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    path = write_lines(tmp_path / "c.tsv", ["a\tfirst", line])
    err = error_of(lambda: list(read_corpus(path)))
    assert str(err).startswith(f"{path}:2: ") and reason in str(err), str(err)


# --------------------------------------------------------------------------------------------
# read_corpus: skipping invalid records


def mixed_corpus(tmp_path: Path) -> Path:
    path = tmp_path / "c.jsonl"
    path.write_bytes(
        b'{"_id": "a", "text": "x"}\n'
        b"not json\n"
        b'{"_id": "b", "text": "caf\xe9"}\n'  # invalid UTF-8
        b'{"_id": "a", "text": "dup"}\n'
        b'{"_id": "c"}\n'
        b'{"_id": "d", "text": ""}\n'
    )
    return path


def test_skip_invalid_counts_through_on_skip(tmp_path: Path) -> None:
    path = mixed_corpus(tmp_path)
    skipped: list[InputError] = []
    docs = list(read_corpus(path, skip_invalid=True, on_skip=skipped.append))
    assert docs == [Doc("a", "x"), Doc("d", "")]  # the first of two duplicates is kept
    assert [e.line for e in skipped] == [2, 3, 4, 5]
    assert all(str(e).startswith(f"{path}:") for e in skipped)


def test_skip_invalid_without_callback_warns_once(tmp_path: Path) -> None:
    path = mixed_corpus(tmp_path)
    with pytest.warns(UserWarning, match="skipped 4 invalid record"):
        assert len(list(read_corpus(path, skip_invalid=True))) == 2


def test_skip_invalid_locks_keys_on_the_first_valid_record(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "c.jsonl", ["[1]", '{"id": "a", "contents": "x"}'])
    docs = list(read_corpus(path, skip_invalid=True, on_skip=lambda e: None))
    assert docs == [Doc("a", "x")]


def test_skip_invalid_tsv_column_count_comes_from_a_valid_record(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "c.tsv", ["a b\tx\ty", "c\tz", "d\tw\tv"])
    skipped: list[InputError] = []
    assert list(read_corpus(path, skip_invalid=True, on_skip=skipped.append)) == [Doc("c", "z")]
    assert [e.line for e in skipped] == [1, 3]


# --------------------------------------------------------------------------------------------
# count_records


def test_count_records(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"a": 1}\n\n  \n{"b": 2}\n{"c": 3}')  # no newline at the end
    assert count_records(path) == 3
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert count_records(tmp_path / "empty.jsonl") == 0


# --------------------------------------------------------------------------------------------
# Round trips through read_corpus (property-based)

# Ids: anything printable without whitespace (ids of real corpora, and far stranger ones).
ids = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="\ufeff"
    ),
    min_size=1,
    max_size=20,
).filter(lambda s: not any(c.isspace() for c in s))


def cleaned(text: str) -> str:
    """What read_corpus promises to make of a text: controls except tab/newline -> space."""
    return "".join(
        " " if (ord(c) < 32 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F else c for c in text
    )


docs_strategy = st.lists(
    st.tuples(ids, st.text(), st.text()), max_size=20, unique_by=lambda t: t[0]
)
tsv_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\t\n\r")
)
tsv_docs_strategy = st.lists(
    st.tuples(ids, tsv_text, tsv_text), min_size=1, max_size=20, unique_by=lambda t: t[0]
)
roundtrip_settings = settings(
    deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow]
)


@roundtrip_settings
@given(docs=docs_strategy, ascii_only=st.booleans(), gz=st.booleans())
def test_jsonl_round_trip(docs: list[tuple[str, str, str]], ascii_only: bool, gz: bool) -> None:
    records = [{"_id": i, "title": title, "text": text} for i, text, title in docs]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "corpus.jsonl"
        write_lines(path, [json.dumps(r, ensure_ascii=ascii_only) for r in records], gz=gz)
        got = list(read_corpus(path))
        assert count_records(path) == len(docs)
    assert got == [Doc(i, cleaned(text), cleaned(title)) for i, text, title in docs]


@roundtrip_settings
@given(docs=tsv_docs_strategy, with_title=st.booleans())
def test_tsv_round_trip(docs: list[tuple[str, str, str]], with_title: bool) -> None:
    # A first line that reads as a header ("id<TAB>text") would be skipped, by design.
    header_like = {"id", "_id", "docid", "doc_id", "pid", "qid", "query_id", "query-id"}
    if docs[0][0].lower() in header_like:
        docs = [(docs[0][0] + "x", *docs[0][1:]), *docs[1:]]
        if len({d[0] for d in docs}) != len(docs):
            return
    lines = [f"{i}\t{text}" + (f"\t{title}" if with_title else "") for i, text, title in docs]
    with tempfile.TemporaryDirectory() as folder:
        path = write_lines(Path(folder) / "corpus.tsv", lines)
        got = list(read_corpus(path))
    expected = [
        Doc(i, cleaned(text), cleaned(title) if with_title else "") for i, text, title in docs
    ]
    assert got == expected


# --------------------------------------------------------------------------------------------
# read_queries


def test_queries_formats(tmp_path: Path) -> None:
    beir = jsonl(tmp_path / "queries.jsonl", [{"_id": "1", "text": "q one", "metadata": {}}])
    other = jsonl(tmp_path / "q.jsonl", [{"qid": 1, "query": "q one"}])
    tsv = write_lines(tmp_path / "q.tsv", ["1\tq one"])
    tsv_gz = write_lines(tmp_path / "q.tsv.gz", ["qid\tquery", "1\tq one"], gz=True)
    for path in (beir, other, tsv, tsv_gz, tmp_path):
        assert read_queries(path) == [Query("1", "q one")], path


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        (['{"_id": "1", "text": "a"}', '{"_id": "1", "text": "b"}'], "duplicate id '1'"),
        (['{"_id": "1", "text": "a"}', '{"_id": "2"}'], "missing 'text'"),
        (['{"_id": "1", "text": "a"}', "oops"], "malformed JSON"),
    ],
)
def test_queries_errors(tmp_path: Path, lines: list[str], reason: str) -> None:
    path = write_lines(tmp_path / "q.jsonl", lines)
    err = error_of(lambda: read_queries(path))
    assert str(err).startswith(f"{path}:2: ") and reason in str(err)


def test_queries_tsv_needs_two_columns(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "q.tsv", ["1\tone", "2\ttwo\tthree"])
    assert str(error_of(lambda: read_queries(path))).startswith(f"{path}:2: expected 2")


# Queries round trip as corpora do: any text, empty and whitespace-only ones included, comes
# back cleaned and in order (property-based).
query_texts = st.one_of(st.text(), st.sampled_from(["", " ", "\t", "the of", "?!.", "\x00\x07"]))


@roundtrip_settings
@given(
    queries=st.lists(st.tuples(ids, query_texts), max_size=20, unique_by=lambda t: t[0]),
    gz=st.booleans(),
)
def test_queries_jsonl_round_trip(queries: list[tuple[str, str]], gz: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "queries.jsonl"
        write_lines(path, [json.dumps({"_id": i, "text": t}) for i, t in queries], gz=gz)
        assert read_queries(path) == [Query(i, cleaned(t)) for i, t in queries]


@roundtrip_settings
@given(
    queries=st.lists(st.tuples(ids, tsv_text), min_size=1, max_size=20, unique_by=lambda t: t[0])
)
def test_queries_tsv_round_trip(queries: list[tuple[str, str]]) -> None:
    header_like = {"id", "_id", "docid", "doc_id", "pid", "qid", "query_id", "query-id"}
    if queries[0][0].lower() in header_like:  # "qid<TAB>query" would be a header, by design
        queries = [(queries[0][0] + "x", queries[0][1]), *queries[1:]]
        if len({q[0] for q in queries}) != len(queries):
            return
    with tempfile.TemporaryDirectory() as folder:
        path = write_lines(Path(folder) / "q.tsv", [f"{i}\t{t}" for i, t in queries])
        assert read_queries(path) == [Query(i, cleaned(t)) for i, t in queries]


# Lines that are invalid wherever they stand in a JSON-lines corpus.
BAD_LINES = [
    b"{broken",
    b"[1, 2]",
    b'{"title": "no id", "text": "x"}',
    b'{"_id": ["list"], "text": "x"}',
    b'{"_id": "no-text-here"}',
    b'{"_id": "bytes", "text": "caf\xe9"}',
    b'"a string"',
]


@roundtrip_settings
@given(
    docs=docs_strategy,
    bad=st.lists(st.tuples(st.integers(0, 20), st.sampled_from(BAD_LINES)), max_size=8),
)
def test_skip_invalid_keeps_every_valid_record_and_counts_the_rest(
    docs: list[tuple[str, str, str]], bad: list[tuple[int, bytes]]
) -> None:
    docs = [d for d in docs if d[0] not in {"no-text-here", "bytes"}]
    lines = [json.dumps({"_id": i, "title": ti, "text": t}).encode() for i, t, ti in docs]
    for position, line in sorted(bad, reverse=True):
        lines.insert(min(position, len(lines)), line)
    skipped: list[InputError] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "corpus.jsonl"
        path.write_bytes(b"".join(line + b"\n" for line in lines))
        got = list(read_corpus(path, skip_invalid=True, on_skip=skipped.append))
    assert got == [Doc(i, cleaned(t), cleaned(ti)) for i, t, ti in docs]
    assert len(skipped) == len(bad)
    bad_lines = sorted(n for n, line in enumerate(lines, start=1) if line in BAD_LINES)
    assert [e.line for e in skipped] == bad_lines


# --------------------------------------------------------------------------------------------
# read_qrels

EXPECTED_QRELS = {"q1": {"d1": 2, "d2": 0}, "q2": {"d3": 1, "d4": -1}}


@pytest.mark.parametrize(
    "lines",
    [
        ["query-id\tcorpus-id\tscore", "q1\td1\t2", "q1\td2\t0", "q2\td3\t1", "q2\td4\t-1"],
        ["q1\td1\t2", "q1\td2\t0", "q2\td3\t1", "q2\td4\t-1"],  # BEIR without header
        ["q1 0 d1 2", "q1 0 d2 0", "", "q2 0 d3 1", "q2\t0\td4\t-1"],  # TREC
        ["q1 Q0 d1 2.0", "q1 Q0 d2 0", "q2 Q0 d3 1", "q2 Q0 d4 -1", "q2 Q0 d3 1"],  # repeat ok
    ],
)
def test_qrels_formats(tmp_path: Path, lines: list[str]) -> None:
    assert read_qrels(write_lines(tmp_path / "qrels.txt", lines)) == EXPECTED_QRELS
    assert read_qrels(write_lines(tmp_path / "qrels.txt.gz", lines, gz=True)) == EXPECTED_QRELS


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("q1 d9", "expected 3 columns"),
        ("q1 0 d9 1", "expected 3 columns"),  # TREC line in a BEIR file
        ("q1 d9 high", "relevance 'high' is not an integer"),
        ("q1 d9 0.5", "relevance '0.5' is not an integer"),
        ("q1 d1 1", "judged twice: 2 and 1"),
    ],
)
def test_qrels_errors(tmp_path: Path, bad: str, reason: str) -> None:
    path = write_lines(tmp_path / "test.tsv", ["query-id\tcorpus-id\tscore", "q1\td1\t2", bad])
    err = error_of(lambda: read_qrels(path))
    assert str(err).startswith(f"{path}:3: ") and reason in str(err), str(err)


# --------------------------------------------------------------------------------------------
# TREC runs


@dataclass(frozen=True)
class FakeHit:
    docid: str
    score: float


def test_trec_run_write_read_round_trip(tmp_path: Path) -> None:
    results = [
        ("q1", [("d1", 3.5), ("d2", 1 / 3), ("d3", 1 / 3), ("d4", -2e-9)]),
        ("q2", [FakeHit("d9", np.float32(12.25)), FakeHit("d1", 7)]),
        ("q3", []),  # no hits: no lines
    ]
    path = tmp_path / "run.trec"
    assert write_trec_run(path, iter(results), tag="test-tag") == 6
    lines = path.read_text().splitlines()
    assert lines[0] == "q1 Q0 d1 1 3.5 test-tag"
    assert lines[4] == "q2 Q0 d9 1 12.25 test-tag"
    assert lines[5] == "q2 Q0 d1 2 7.0 test-tag"
    assert read_trec_run(path) == {
        "q1": {"d1": 3.5, "d2": 1 / 3, "d3": 1 / 3, "d4": -2e-9},  # scores exact
        "q2": {"d9": 12.25, "d1": 7.0},
    }


@settings(deadline=None, max_examples=50)
@given(
    st.lists(
        st.tuples(
            ids,
            st.lists(
                st.tuples(ids, st.floats(allow_nan=False, allow_infinity=False)),
                unique_by=lambda h: h[0],
                max_size=10,
            ),
        ),
        unique_by=lambda r: r[0],
        max_size=5,
    )
)
def test_trec_run_round_trip_property(results: list[tuple[str, list[tuple[str, float]]]]) -> None:
    ranked = [(q, sorted(hits, key=lambda h: -h[1])) for q, hits in results]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.txt.gz"
        write_trec_run(path, ranked)
        assert read_trec_run(path) == {q: dict(h) for q, h in ranked if h}


@pytest.mark.parametrize(
    ("results", "reason"),
    [
        ([("q1", [("d1", 1.0), ("d2", 2.0)])], "not in descending order at rank 2"),
        ([("q1", [("d1", 2.0), ("d1", 1.0)])], "doc 'd1' appears twice"),
        ([("q1", [("d1", 1.0)]), ("q1", [("d2", 1.0)])], "query 'q1' appears twice"),
        ([("q 1", [("d1", 1.0)])], "without whitespace"),
        ([("q1", [("d\n1", 1.0)])], "without whitespace"),
        ([("q1", [("d1", math.nan)])], "not finite"),
    ],
)
def test_write_trec_run_rejects_bad_results_and_keeps_the_old_file(
    tmp_path: Path, results: list, reason: str
) -> None:
    path = tmp_path / "run.trec"
    path.write_text("old\n")
    with pytest.raises(ValueError, match=reason):
        write_trec_run(path, results)
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["run.trec"]  # no temporary file left behind


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("q1 Q0 d2 2 1.0", "expected 6 columns"),
        ("q1 Q0 d2 two 1.0 tag", "rank 'two' must be an integer"),
        ("q1 Q0 d2 2 high tag", "score 'high' a number"),
        ("q1 Q0 d2 2 nan tag", "not finite"),
        ("q1 Q0 d1 2 1.0 tag", "doc 'd1' appears twice"),
    ],
)
def test_read_trec_run_errors(tmp_path: Path, line: str, reason: str) -> None:
    path = write_lines(tmp_path / "run.trec", ["q1 Q0 d1 1 2.0 tag", line])
    err = error_of(lambda: read_trec_run(path))
    assert str(err).startswith(f"{path}:2: ") and reason in str(err), str(err)


# --------------------------------------------------------------------------------------------
# atomic_write


def test_atomic_write_text_and_binary(tmp_path: Path) -> None:
    with atomic_write(tmp_path / "a.txt") as f:
        f.write("héllo\n")
        assert not (tmp_path / "a.txt").exists()  # nothing visible before the end
    assert (tmp_path / "a.txt").read_bytes() == "héllo\n".encode()
    with atomic_write(tmp_path / "b.bin", "wb") as f:
        f.write(b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "b.bin"]


def test_atomic_write_uses_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "a.txt") as f:
            f.write("x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644


def test_atomic_write_gzip_is_reproducible(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl.gz"
    written = []
    for _ in range(2):
        with atomic_write(path) as f:
            f.write('{"x": 1}\n' * 100)
        written.append(path.read_bytes())
    assert gzip.decompress(written[0]) == b'{"x": 1}\n' * 100
    assert written[0] == written[1]  # no timestamp in the gzip header


@pytest.mark.parametrize("name", ["a.txt", "a.txt.gz"])
def test_atomic_write_error_keeps_the_old_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"old")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. a ResourceWarning from a leaked handle
        with pytest.raises(RuntimeError), atomic_write(path) as f:
            f.write("new " * 10_000)
            raise RuntimeError("boom")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == [name]


def test_atomic_write_rejects_read_modes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode"), atomic_write(tmp_path / "a", "r"):  # type: ignore[arg-type]
        pass


# --------------------------------------------------------------------------------------------
# The shared data sets


@pytest.mark.data
@pytest.mark.parametrize("name", DATASETS)
def test_shared_datasets(name: str) -> None:
    folder = DATA / name
    if not (folder / "corpus.jsonl").is_file():
        pytest.skip(f"{folder} is not available")
    docs = list(read_corpus(folder))
    assert len(docs) == count_records(folder) > 0
    doc_ids = {d.id for d in docs}
    queries = read_queries(folder)
    qrels = read_qrels(folder / "qrels" / "test.tsv")
    assert set(qrels) <= {q.id for q in queries}
    assert all(docid in doc_ids for judged in qrels.values() for docid in judged)
