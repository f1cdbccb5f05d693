"""Interrupted encode runs: what they leave, and `resume` ending with the files an
uninterrupted run writes, byte for byte.

Most tests use a tiny deterministic stand-in encoder (no model, milliseconds); the last one
kills a real encode (splade-tiny, in a subprocess) with SIGKILL after its first shard.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from splade_lite.encode import encode_corpus
from splade_lite.resume import PROGRESS_FILE, Progress, is_unfinished, lock_folder
from splade_lite.vectors import SparseVector

TIMINGS = {"seconds", "docs_per_second"}


class FakeTokenizer:
    """Words -> ids 2..99 by CRC; [CLS] = 0 and [SEP] = 1 around them."""

    all_special_ids = [0, 1]

    def __call__(self, texts, add_special_tokens=True, verbose=False):
        ids = [[2 + zlib.crc32(w.encode()) % 98 for w in t.lower().split()] for t in texts]
        return {"input_ids": [[0, *x, 1] for x in ids]}


class FakeSource:
    pooling = "max"
    query_idf = None

    def weights_sha256(self) -> str:
        return "f" * 64


class FakeEncoder:
    """Deterministic document vectors; raises KeyboardInterrupt on call number `stop_at`."""

    name, mode, max_length, batch_size, device = "fake", "splade", 6, 2, "cpu"
    terms = ["[CLS]", "[SEP]", *(f"t{i}" for i in range(2, 100))]

    def __init__(self, stop_at: int | None = None) -> None:
        self.tokenizer, self.source = FakeTokenizer(), FakeSource()
        self.stop_at, self.calls = stop_at, 0

    def encode_documents(self, texts):
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        out = []
        for text in texts:
            ids = self.tokenizer([text])["input_ids"][0][1:-1]
            out.append(SparseVector.from_dict({i: 0.1 + (i % 7) / 3 for i in ids}))
        return out


def write_corpus(path: Path, n: int = 10, skip: set[int] = frozenset()) -> Path:
    lines = []
    for i in range(n):
        if i in skip:
            lines.append("{broken json")
        else:
            text = " ".join(f"w{(i * 7 + j) % 13}" for j in range(i % 9))  # doc 0 is empty
            lines.append(json.dumps({"_id": f"d{i}", "title": f"T{i}", "text": text}))
    path.write_text("\n".join(lines) + "\n")
    return path


def encode(corpus: Path, out: Path, encoder=None, **options):
    options = {"shard_size": 3, "progress": False, **options}
    return encode_corpus(corpus, out, encoder=encoder or FakeEncoder(), **options)


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (``tokenizer/`` too) by its path inside it."""
    files = (p for p in sorted(folder.rglob("*")) if p.is_file())
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in files}


def assert_same_output(got: Path, expected: Path) -> None:
    """Every file byte for byte, vectors.json apart from its timings."""
    a, b = files_of(got), files_of(expected)
    assert sorted(a) == sorted(b)
    for name in a:
        if name == "vectors.json":
            meta_a, meta_b = json.loads(a[name]), json.loads(b[name])
            assert {k: v for k, v in meta_a.items() if k not in TIMINGS} == {
                k: v for k, v in meta_b.items() if k not in TIMINGS
            }
        else:
            assert a[name] == b[name], name


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus.jsonl")


@pytest.fixture
def reference(tmp_path: Path, corpus: Path) -> Path:
    encode(corpus, tmp_path / "reference")
    return tmp_path / "reference"


def test_shards_are_cut_every_shard_size_documents(reference: Path):
    names = sorted(p.name for p in reference.glob("part-*"))
    assert names == [f"part-0000{i}.jsonl" for i in range(4)]
    sizes = [len((reference / n).read_text().splitlines()) for n in names]
    assert sizes == [3, 3, 3, 1]
    assert not is_unfinished(reference)
    assert sorted(p.name for p in reference.iterdir()) == sorted(
        [*names, "vectors.json", "df.json", "docs.jsonl.gz"]
    )


@pytest.mark.parametrize("stop_at", [1, 2, 4])
def test_interrupted_then_resumed_equals_uninterrupted(
    tmp_path: Path, corpus: Path, reference: Path, stop_at: int
):
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        encode(corpus, out, FakeEncoder(stop_at=stop_at))
    complete = stop_at - 1  # one encode call per shard here
    if complete == 0:  # nothing was kept: the folder is gone as if never written
        assert not out.exists()
    else:
        assert sorted(p.name for p in out.iterdir()) == [
            PROGRESS_FILE,
            *(f"part-0000{i}.jsonl" for i in range(complete)),
        ]
        assert is_unfinished(out)
        assert Progress.load(out).num_docs == 3 * complete
        with pytest.raises(FileExistsError, match="--overwrite to replace them or --resume"):
            encode(corpus, out)
    encoder = FakeEncoder()
    summary = encode(corpus, out, encoder, resume=True)
    assert encoder.calls == 4 - complete  # the complete shards were not encoded again
    assert summary.num_docs == 10
    assert_same_output(out, reference)


def test_resume_needs_the_same_settings(tmp_path: Path, corpus: Path):
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        encode(corpus, out, FakeEncoder(stop_at=3))
    with pytest.raises(ValueError, match=r"shard_size 3 \(now 4\)"):
        encode(corpus, out, resume=True, shard_size=4)
    with pytest.raises(ValueError, match=r"scale 100 \(now 50\)"):
        encode(corpus, out, resume=True, scale=50)
    assert Progress.load(out).num_docs == 6  # a refused resume changes nothing


def test_resume_refuses_a_changed_corpus(tmp_path: Path, corpus: Path):
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        encode(corpus, out, FakeEncoder(stop_at=3))
    corpus.write_text(corpus.read_text().replace("T1", "Changed title"))
    with pytest.raises(ValueError, match="part-00000.jsonl are not those"):
        encode(corpus, out, resume=True)


def test_a_changed_shard_is_encoded_again(tmp_path: Path, corpus: Path, reference: Path):
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        encode(corpus, out, FakeEncoder(stop_at=4))
    (out / "part-00001.jsonl").write_text("tampered\n")
    (out / ".part-00003.jsonl.0123abcd.tmp").write_text("what a SIGKILL leaves")
    messages: list[str] = []
    encoder = FakeEncoder()
    encode(corpus, out, encoder, resume=True, log=messages.append)
    assert encoder.calls == 3  # shards 1, 2 and 3
    assert any("part-00001.jsonl is missing or changed" in m for m in messages)
    assert_same_output(out, reference)


def test_resume_of_a_finished_or_foreign_folder(tmp_path: Path, corpus: Path, reference: Path):
    with pytest.raises(FileExistsError, match="nothing to resume"):
        encode(corpus, reference, resume=True)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "part-00000.jsonl").write_text((reference / "part-00000.jsonl").read_text())
    with pytest.raises(FileExistsError, match="cannot be resumed"):
        encode(corpus, foreign, resume=True)
    fresh = tmp_path / "fresh"  # nothing there yet: --resume simply starts
    encode(corpus, fresh, resume=True)
    assert_same_output(fresh, reference)


def test_overwrite_replaces_and_plain_run_refuses(tmp_path: Path, corpus: Path, reference: Path):
    out = tmp_path / "out"
    encode(write_corpus(tmp_path / "other.jsonl", n=20), out)
    (out / "idf.json").write_text("{}")  # an exported folder's IDF would be wrongly reused
    (out / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="already holds encoded vectors"):
        encode(corpus, out)
    with pytest.raises(ValueError, match="choose one"):
        encode(corpus, out, resume=True, overwrite=True)
    encode(corpus, out, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"  # only encode's own files are replaced
    (out / "notes.txt").unlink()
    assert_same_output(out, reference)


def test_overwrite_and_resume_drop_an_earlier_tokenizer(
    tmp_path: Path, corpus: Path, reference: Path
):
    out = tmp_path / "out"
    encode(corpus, out)
    (out / "tokenizer").mkdir()  # as an encode with a model on disk leaves it
    (out / "tokenizer" / "tokenizer.json").write_text("{}")
    with pytest.raises(FileExistsError, match="already holds encoded vectors"):
        encode(corpus, out)
    encode(corpus, out, overwrite=True)
    assert_same_output(out, reference)  # tokenizer/ went with the rest of encode's files

    with pytest.raises(KeyboardInterrupt):
        encode(corpus, out, FakeEncoder(stop_at=3), overwrite=True)
    leftover = out / ".tokenizer.0123abcd.tmp"  # what a kill while saving it leaves
    leftover.mkdir()
    (leftover / "vocab.txt").write_text("a\n")
    encode(corpus, out, resume=True)
    assert_same_output(out, reference)


def test_skip_invalid_resume_and_report(tmp_path: Path):
    corpus = write_corpus(tmp_path / "c.jsonl", n=12, skip={4, 9})
    out, messages = tmp_path / "out", []
    with pytest.raises(ValueError, match=r"c\.jsonl:5: malformed JSON"):
        encode(corpus, out)
    # the failed run kept shard 0 (documents 0-2): fix nothing, skip the bad lines instead
    summary = encode(corpus, out, resume=True, skip_invalid=True, log=messages.append)
    assert summary.num_docs == 10 and summary.num_skipped == 2
    report = next(m for m in messages if "invalid" in m)
    assert report.splitlines()[0] == "2 invalid lines skipped:"
    assert "c.jsonl:5: malformed JSON" in report and "c.jsonl:10:" in report
    encode(corpus, tmp_path / "straight", skip_invalid=True)
    assert_same_output(out, tmp_path / "straight")
    one, messages = write_corpus(tmp_path / "one.jsonl", n=4, skip={2}), []
    encode(one, tmp_path / "one", skip_invalid=True, log=messages.append)
    assert any(m.startswith("1 invalid line skipped:") for m in messages)


def test_empty_and_all_invalid_corpora(tmp_path: Path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    # refused before any model is loaded (this model does not even exist)
    with pytest.raises(ValueError, match="empty.jsonl: the corpus is empty"):
        encode_corpus(empty, tmp_path / "v", model="/no/such/model", progress=False)
    bad = write_corpus(tmp_path / "bad.jsonl", n=2, skip={0, 1})
    with pytest.raises(ValueError, match=r"no valid documents to encode \(2 invalid lines"):
        encode(bad, tmp_path / "v", skip_invalid=True)
    assert not (tmp_path / "v").exists()


def test_one_writer_at_a_time(tmp_path: Path, corpus: Path):
    out = tmp_path / "out"
    out.mkdir()
    with lock_folder(out), pytest.raises(FileExistsError, match="another splade-lite process"):
        encode(corpus, out)


def test_truncation_is_reported(tmp_path: Path, corpus: Path):
    messages: list[str] = []
    summary = encode(corpus, tmp_path / "v", log=messages.append)
    # max_length 6 = [CLS] + 4 words + [SEP]: the documents of 5 to 9 words are cut
    assert summary.num_truncated == 5
    assert "5 documents longer than 6 tokens were truncated" in messages


def test_snippets_and_df_cover_replayed_shards(tmp_path: Path, corpus: Path, reference: Path):
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        encode(corpus, out, FakeEncoder(stop_at=4))
    encode(corpus, out, resume=True)
    with gzip.open(out / "docs.jsonl.gz", "rt") as handle:
        assert [json.loads(x)["id"] for x in handle] == [f"d{i}" for i in range(10)]
    assert json.loads((out / "df.json").read_text())["num_docs"] == 10


# --------------------------------------------------------------------------------------------
# A real encode killed with SIGKILL after its first shard, then resumed through the CLI.

CHILD = textwrap.dedent(
    """
    import sys, time
    from splade_lite.encode import encode_corpus
    from splade_lite.encoders.splade import SpladeEncoder

    class Slow(SpladeEncoder):  # the second shard never ends: time to kill the process
        calls = 0

        def encode_documents(self, texts):
            Slow.calls += 1
            if Slow.calls > 1:
                time.sleep(60)
            return super().encode_documents(texts)

    encode_corpus(sys.argv[1], sys.argv[2], encoder=Slow("splade-tiny"), shard_size=3,
                  progress=False)
    """
)


def test_sigkill_after_the_first_shard_then_resume(tmp_path: Path, tiny_corpus, splade_tiny):
    from splade_lite.cli import main

    out, reference = tmp_path / "killed", tmp_path / "reference"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tiny_corpus), str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        # the first shard is complete and the second one being written
        while not list(out.glob(".part-00001.jsonl.*.tmp")):
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the second shard never started"
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert not (out / "vectors.json").exists() and is_unfinished(out)
    assert [p.name for p in out.glob("part-*")] == ["part-00000.jsonl"]
    assert list(out.glob(".part-00001.jsonl.*.tmp"))  # killed in the middle of shard 1

    runner = CliRunner()
    refused = runner.invoke(main, ["index", str(out), "--out", str(tmp_path / "index")])
    assert refused.exit_code == 1 and "--resume" in refused.output
    again = runner.invoke(main, ["encode", str(tiny_corpus), "--out", str(out), "--quiet"])
    assert again.exit_code == 1 and "--resume" in again.output

    args = ["encode", str(tiny_corpus), "--out", str(out), "--quiet", "--shard-size", "3"]
    resumed = runner.invoke(main, [*args, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert "resuming: 3 documents in 1 shard(s)" in resumed.output
    encode_corpus(tiny_corpus, reference, encoder=splade_tiny, shard_size=3, progress=False)
    assert_same_output(out, reference)
