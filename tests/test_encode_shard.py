"""``encode --shard I/N``: the N parts of a corpus, encoded each into its own folder, hold
together what one folder of the whole corpus holds: every document once, in corpus order,
with the same vectors, document frequencies, snippets and counts."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from splade_lite.check import OK, check_folder
from splade_lite.cli import main
from splade_lite.encode import encode_corpus, read_vector_shards
from splade_lite.errors import BadValueError
from splade_lite.resume import PROGRESS_FILE

TEXTS = [
    "Vitamin D deficiency weakens bones in older adults.",
    "The aurora borealis is caused by solar wind particles hitting the upper atmosphere.",
    "Short sleep raises the risk of heart disease.",
    "",
    "time.sleep pauses the program for a number of seconds.",
    "Coffee contains caffeine, a stimulant; naive cafe-goers drink it all day long.",
    "Rivers deposit fertile silt on their plains when they flood.",
    "Bread rises because yeast ferments sugars into carbon dioxide.",
    "Glaciers carve valleys as they slowly move downhill.",
    "A prime number has exactly two divisors.",
]
TIMINGS = {"seconds", "docs_per_second"}


def write_corpus(path: Path, count: int, broken: frozenset[int] = frozenset()) -> Path:
    """`count` BEIR records d0, d1, ... (texts cycling through TEXTS); the lines at the
    positions in `broken` are invalid JSON instead."""
    lines = []
    for i in range(count + len(broken)):
        if i in broken:
            lines.append('{"_id": "broken", "text": ')
            continue
        n = len([j for j in range(i) if j not in broken])
        lines.append(json.dumps({"_id": f"d{n}", "title": f"T{n}", "text": TEXTS[n % 10]}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def encode_parts(corpus: Path, root: Path, count: int, encoder, **options) -> list[Path]:
    folders = []
    for index in range(count):
        folder = root / f"part-{index}-of-{count}"
        encode_corpus(
            corpus, folder, encoder=encoder, shard=f"{index}/{count}", progress=False, **options
        )
        folders.append(folder)
    return folders


def records(folder: Path) -> list[dict]:
    return list(read_vector_shards(folder))


def snippets(folder: Path) -> list[dict]:
    with gzip.open(folder / "docs.jsonl.gz", "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def meta_of(folder: Path) -> dict:
    return json.loads((folder / "vectors.json").read_text(encoding="utf-8"))


def df_of(folder: Path) -> dict:
    return json.loads((folder / "df.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("total", "count"),
    [(7, 3), (2, 3), (5, 1)],  # not divisible by N; N larger than the corpus; one part
)
def test_the_parts_together_equal_the_whole(tmp_path, splade_tiny, total, count):
    corpus = write_corpus(tmp_path / "corpus.jsonl", total)
    options = {"batch_size": 1, "shard_size": 2}  # each document alone: the same floats
    whole = tmp_path / "whole"
    encode_corpus(corpus, whole, encoder=splade_tiny, progress=False, **options)
    parts = encode_parts(corpus, tmp_path, count, splade_tiny, **options)

    ids = [f"d{i}" for i in range(total)]
    joined = [r for part in parts for r in records(part)]
    assert [r["id"] for r in joined] == ids  # each document once, none missing, in order
    assert joined == records(whole)
    assert [s for part in parts for s in snippets(part)] == snippets(whole)
    for index, part in enumerate(parts):  # part I holds positions [I*T//N, (I+1)*T//N)
        first, end = index * total // count, (index + 1) * total // count
        assert [r["id"] for r in records(part)] == ids[first:end]
        shard = meta_of(part)["shard"]
        assert (shard["index"], shard["count"], shard["first"], shard["end"]) == (
            index,
            count,
            first,
            end,
        )
        assert shard["corpus_docs"] == total
        # the digest of the whole corpus, as the whole run records it of its documents
        assert shard["corpus_sha256"] == meta_of(whole)["corpus_sha256"]
        assert meta_of(part)["num_docs"] == end - first
        assert {c.name: c.status for c in check_folder(part)} == dict.fromkeys(
            ("finished", "metadata", "shards", "df", "documents file"), OK
        )

    summed: dict[str, int] = {}
    for part in parts:
        for term, n in df_of(part)["df"].items():
            summed[term] = summed.get(term, 0) + n
    assert summed == df_of(whole)["df"]
    assert sum(df_of(p)["num_docs"] for p in parts) == df_of(whole)["num_docs"] == total
    for key in ("num_docs", "num_empty", "num_postings", "num_truncated", "num_skipped"):
        assert sum(meta_of(p)[key] for p in parts) == meta_of(whole)[key], key


def test_an_empty_part_is_a_folder_without_documents(tmp_path, splade_tiny):
    corpus = write_corpus(tmp_path / "corpus.jsonl", 2)
    said: list[str] = []
    summary = encode_corpus(
        corpus, tmp_path / "p", encoder=splade_tiny, shard="0/3", progress=False, log=said.append
    )
    assert summary.num_docs == 0
    assert not list((tmp_path / "p").glob("part-*")) and snippets(tmp_path / "p") == []
    assert meta_of(tmp_path / "p")["shard"]["first"] == meta_of(tmp_path / "p")["shard"]["end"]
    assert any("0/3" in line and "no document" in line for line in said), said
    assert not (tmp_path / "p" / PROGRESS_FILE).exists()


def test_positions_count_valid_records_only_with_skip_invalid(tmp_path, splade_tiny):
    # invalid lines first, inside the parts, on a part boundary and last
    corpus = write_corpus(tmp_path / "corpus.jsonl", 7, frozenset({0, 3, 5, 10}))
    options = {"batch_size": 1, "skip_invalid": True}
    whole = tmp_path / "whole"
    encode_corpus(corpus, whole, encoder=splade_tiny, progress=False, **options)
    parts = encode_parts(corpus, tmp_path, 3, splade_tiny, **options)
    assert [r for p in parts for r in records(p)] == records(whole)
    assert [len(records(p)) for p in parts] == [2, 2, 3]  # 7 valid records: 0-1, 2-3, 4-6
    # each invalid line is counted by one part only
    assert sum(meta_of(p)["num_skipped"] for p in parts) == meta_of(whole)["num_skipped"] == 4


def test_batches_of_other_neighbours_move_a_weight_one_step_at_most(tmp_path, splade_tiny):
    """With batches of several documents a part batches its first documents with other
    neighbours than a whole run does: same ids, same terms almost always, each weight within
    one step of the scale (documented in encode_corpus)."""
    corpus = write_corpus(tmp_path / "corpus.jsonl", 9)
    whole = tmp_path / "whole"
    encode_corpus(corpus, whole, encoder=splade_tiny, progress=False, batch_size=4)
    parts = encode_parts(corpus, tmp_path, 2, splade_tiny, batch_size=4)
    joined = [r for p in parts for r in records(p)]
    assert [r["id"] for r in joined] == [r["id"] for r in records(whole)]
    for mine, theirs in zip(joined, records(whole)):
        for term in mine["vector"].keys() | theirs["vector"].keys():
            assert abs(mine["vector"].get(term, 0) - theirs["vector"].get(term, 0)) <= 1


class StopsAt:
    """The encoder, interrupted (KeyboardInterrupt) at its call number `stop_at`."""

    def __init__(self, encoder, stop_at: int) -> None:
        self._encoder, self._stop_at, self._calls = encoder, stop_at, 0

    def __getattr__(self, name):
        return getattr(self._encoder, name)

    def encode_documents(self, texts):
        self._calls += 1
        if self._calls == self._stop_at:
            raise KeyboardInterrupt
        return self._encoder.encode_documents(texts)


def test_a_part_resumes_to_the_bytes_of_an_uninterrupted_run(tmp_path, splade_tiny):
    corpus = write_corpus(tmp_path / "corpus.jsonl", 9)
    options = {"shard": "1/2", "shard_size": 2, "batch_size": 2, "progress": False}
    encode_corpus(corpus, tmp_path / "straight", encoder=splade_tiny, **options)
    with pytest.raises(KeyboardInterrupt):
        encode_corpus(corpus, tmp_path / "p", encoder=StopsAt(splade_tiny, 2), **options)
    assert (tmp_path / "p" / PROGRESS_FILE).is_file()
    with pytest.raises(BadValueError, match="cannot resume.*shard"):
        other = {**options, "shard": "0/2"}
        encode_corpus(corpus, tmp_path / "p", encoder=splade_tiny, resume=True, **other)
    encode_corpus(corpus, tmp_path / "p", encoder=splade_tiny, resume=True, **options)
    for name in ("part-00000.jsonl", "part-00001.jsonl", "part-00002.jsonl", "df.json"):
        assert (tmp_path / "p" / name).read_bytes() == (tmp_path / "straight" / name).read_bytes()
    assert snippets(tmp_path / "p") == snippets(tmp_path / "straight")
    resumed, straight = (
        {k: v for k, v in meta_of(tmp_path / name).items() if k not in TIMINGS}
        for name in ("p", "straight")
    )
    assert resumed == straight


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("3/3", "I counts from 0"),
        ("4/3", "from 0 to 2"),
        ("0/0", "at least 1"),
        ("-1/3", "is not I/N"),
        ("1 of 3", "is not I/N"),
        ("1/3/4", "is not I/N"),
        ("", "is not I/N"),
    ],
)
def test_a_bad_shard_is_refused_before_any_work(tmp_path, spec, problem):
    corpus = write_corpus(tmp_path / "corpus.jsonl", 3)
    with pytest.raises(BadValueError, match=problem):
        encode_corpus(corpus, tmp_path / "v", shard=spec, model="no-such-model", progress=False)
    assert not (tmp_path / "v").exists()
    args = ["encode", str(corpus), "--out", str(tmp_path / "v"), "--shard", spec]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert problem in result.output and len(result.output.strip().splitlines()) == 1


def test_the_command_line_encodes_a_part(tmp_path, splade_tiny):
    corpus = write_corpus(tmp_path / "corpus.jsonl", 4)
    out = tmp_path / "v"
    result = CliRunner().invoke(
        main, ["encode", str(corpus), "--out", str(out), "--shard", "1/2", "--quiet", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in records(out)] == ["d2", "d3"]
    assert json.loads(result.stdout)["num_docs"] == 2
    shutil.rmtree(out)
