"""Tests of splade_lite.io: the corpus formats, every error message, the shared line reading."""

from __future__ import annotations

import gzip
import json
import pickle
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from io_helpers import cleaned, error_of, ids, jsonl, roundtrip_settings, tsv_text, write_lines

from splade_lite.errors import SpladeLiteError
from splade_lite.io import Doc, InputError, open_binary, read_corpus

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
    assert isinstance(err, ValueError) and isinstance(err, SpladeLiteError)
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


@pytest.mark.parametrize("docid", ["\ufeff", "\ufeffd1", "\ufffed1"])
def test_an_id_starting_with_a_byte_order_mark_is_refused_with_its_line(tmp_path, docid):
    # Lucene would give it back changed (see tests/test_java_pairs.py); inside an id it is kept
    rows = [{"_id": "a\ufeffb", "text": "x"}, {"_id": docid, "text": "y"}]
    path = jsonl(tmp_path / "c.jsonl", rows)
    with pytest.raises(InputError, match=r"c\.jsonl:2: .*byte order mark"):
        list(read_corpus(path))
    assert [d.id for d in read_corpus(path, skip_invalid=True)] == ["a\ufeffb"]


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
# Lines and gzip


def test_blank_lines_and_a_last_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"_id": "a", "text": "x"}\n\n  \n{"_id": "b", "text": "y"}')
    assert list(read_corpus(path)) == [Doc("a", "x"), Doc("b", "y")]
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert list(read_corpus(tmp_path / "empty.jsonl")) == []


@pytest.mark.parametrize("name", ["a.txt", "a.txt.gz"])
@pytest.mark.parametrize("gz", [False, True])
def test_open_binary_decides_gzip_by_content_not_name(tmp_path: Path, name: str, gz: bool) -> None:
    data = b"line one\nline two\n"
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if gz else data)
    with open_binary(path) as f:
        assert f.read() == data


# --------------------------------------------------------------------------------------------
# Round trips through read_corpus (property-based)


docs_strategy = st.lists(
    st.tuples(ids, st.text(), st.text()), max_size=20, unique_by=lambda t: t[0]
)
tsv_docs_strategy = st.lists(
    st.tuples(ids, tsv_text, tsv_text), min_size=1, max_size=20, unique_by=lambda t: t[0]
)


@roundtrip_settings
@given(docs=docs_strategy, ascii_only=st.booleans(), gz=st.booleans())
def test_jsonl_round_trip(docs: list[tuple[str, str, str]], ascii_only: bool, gz: bool) -> None:
    records = [{"_id": i, "title": title, "text": text} for i, text, title in docs]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "corpus.jsonl"
        write_lines(path, [json.dumps(r, ensure_ascii=ascii_only) for r in records], gz=gz)
        got = list(read_corpus(path))
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
