"""No command loses data it did not make: outputs over inputs, foreign folders given to
--overwrite, demo work folders, concurrent writers and full disks (hardening findings 5, 6, 7,
15 and 19)."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import splade_lite.atomic as atomic_module
import splade_lite.indexer as indexer
from splade_lite import outputs
from splade_lite.atomic import atomic_write
from splade_lite.cli import main
from splade_lite.index import build_index, export_index
from splade_lite.outputs import (
    INDEX,
    UNFINISHED,
    VECTORS,
    claim_demo_workdir,
    claim_output,
    folder_kind,
    foreign_entries,
    lock_folder,
)
from splade_lite.shards import ShardWriter

ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# --------------------------------------------------------------------------------------------
# Helpers: folders that look like ours without Java, and byte-for-byte snapshots


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def refused(result, *words: str) -> str:
    """The one-line error of a refused command, checked to contain `words`."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    message = result.output.strip()
    assert message.startswith("Error: ") and "\n" not in message, message
    for word in words:
        assert word in message, message
    return message


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (bytes) and folder (None) under `root`, by relative path."""
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


def thesis_folder(path: Path) -> Path:
    (path / "src").mkdir(parents=True)
    (path / "thesis.txt").write_bytes(b"Chapter 1\n\x00binary\xff")
    (path / "src" / "main.c").write_text("int main(void) { return 0; }\n")
    return path


def fake_vectors(path: Path) -> Path:
    """A vectors folder as encode writes it (one document), for checks that run before Java."""
    path.mkdir(parents=True)
    meta = {
        "format": "splade-lite/vectors",
        "format_version": 1,
        "model": "splade-tiny",
        "model_sha256": None,
        "mode": "splade",
        "scale": 100,
        "max_length": 128,
        "num_docs": 1,
        "shards": ["part-00000.jsonl"],
    }
    (path / "vectors.json").write_text(json.dumps(meta))
    (path / "df.json").write_text('{"num_docs": 1, "df": {"a": 1}}')
    (path / "part-00000.jsonl").write_text('{"id": "d1", "contents": "", "vector": {"a": 5}}\n')
    return path


def fake_index(path: Path) -> Path:
    """An index folder with our names and Lucene's, for checks that run before Java."""
    path.mkdir(parents=True)
    meta = {"format": "splade-lite/index", "format_version": 1, "model": "splade-tiny"}
    meta.update(mode="splade", scale=100, max_length=128, num_docs=1, model_sha256=None)
    (path / "splade_lite.json").write_text(json.dumps(meta))
    for name in ("segments_1", "_0.cfs", "_0_Lucene99_0.doc", "write.lock", "idf.json"):
        (path / name).write_bytes(b"x")
    (path / "vectors.json").write_text('{"format": "splade-lite/vectors"}')
    (path / "tokenizer").mkdir()
    (path / "tokenizer" / "tokenizer.json").write_text("{}")
    (path / "bm25").mkdir()
    (path / "bm25" / "segments_1").write_bytes(b"x")
    return path


@pytest.fixture
def no_java(monkeypatch):
    """Fail the test if anything looks for Java or starts an index build."""

    def boom(*_args, **_kwargs):
        raise AssertionError("Java was looked for: the output should have been refused first")

    for name in ("java_executable", "anserini_jar", "build_impact_index", "read_document_vectors"):
        monkeypatch.setattr(indexer, name, boom)


# --------------------------------------------------------------------------------------------
# 5. --overwrite replaces only what splade-lite made


def test_index_overwrite_refuses_a_thesis_folder(tmp_path, no_java):
    vectors = fake_vectors(tmp_path / "v")
    thesis = thesis_folder(tmp_path / "thesis")
    before = snapshot(thesis)
    result = invoke("index", vectors, "--out", thesis, "--overwrite")
    refused(result, "not made by splade-lite", "thesis.txt", "src/", "nothing was touched")
    assert snapshot(thesis) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis", "v"]  # no staging, no lock


def test_export_overwrite_refuses_a_thesis_folder(tmp_path, no_java):
    index = fake_index(tmp_path / "i")
    thesis = thesis_folder(tmp_path / "thesis")
    before = snapshot(thesis)
    result = invoke("export", index, "--out", thesis, "--overwrite")
    refused(result, "thesis.txt", "nothing was touched")
    assert snapshot(thesis) == before


def test_an_index_with_a_user_file_beside_ours_is_refused(tmp_path, no_java):
    vectors = fake_vectors(tmp_path / "v")
    index = fake_index(tmp_path / "i")
    (index / "notes.txt").write_text("mine")
    (index / "bm25" / "draft.md").write_text("mine too")
    before = snapshot(index)
    result = invoke("index", vectors, "--out", index, "--overwrite")
    refused(result, "notes.txt", "bm25/draft.md", "did not write", "nothing was touched")
    assert snapshot(index) == before


def test_overwrite_never_replaces_another_kind(tmp_path, no_java):
    vectors = fake_vectors(tmp_path / "v")
    other_vectors = fake_vectors(tmp_path / "other")
    before = snapshot(other_vectors)
    result = invoke("index", vectors, "--out", other_vectors, "--overwrite")
    refused(result, "vectors folder", "never replaced by an index")
    assert snapshot(other_vectors) == before
    index = fake_index(tmp_path / "i")
    second = fake_index(tmp_path / "i2")
    result = invoke("export", index, "--out", second, "--overwrite")
    refused(result, "index", "never replaced by a vectors folder")
    # an interrupted encode run is not replaced either (it can be resumed)
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "encode-progress.json").write_text('{"format": "splade-lite/encode-progress"}')
    assert folder_kind(unfinished) == UNFINISHED
    refused(invoke("export", index, "--out", unfinished, "--overwrite"), "encode --resume")


def test_without_overwrite_an_index_is_refused_and_metadata_that_only_looks_ours(tmp_path):
    index = fake_index(tmp_path / "i")
    with pytest.raises(FileExistsError, match="already exists.*pass --overwrite"):
        claim_output(index, INDEX)
    claim_output(index, INDEX, overwrite=True)  # ours alone: may be replaced
    (index / "splade_lite.json").write_text('{"format": "something-else"}')
    with pytest.raises(FileExistsError, match="never replaced by an index"):
        claim_output(index, INDEX, overwrite=True)  # by its vectors.json, a vectors folder
    with pytest.raises(
        FileExistsError, match="but also _0.cfs, _0_Lucene99_0.doc, bm25/ and 3 more"
    ):
        claim_output(index, VECTORS, overwrite=True)  # ...holding what no vectors folder has
    (index / "vectors.json").unlink()
    with pytest.raises(FileExistsError, match="not made by splade-lite"):
        claim_output(index, INDEX, overwrite=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    claim_output(empty, INDEX)  # an empty folder needs no flag
    (empty / ".DS_Store").write_bytes(b"\0")
    claim_output(empty, VECTORS)  # nor does file-manager litter


def test_encode_overwrite_keeps_away_from_files_it_did_not_write(tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"_id": "a", "text": "some text"}\n')
    other = tmp_path / "other-tool"  # JsonVectorCollection shards another tool wrote
    other.mkdir()
    (other / "part-00000.jsonl").write_text('{"id": "x", "vector": {"a": 1}}\n')
    (other / "docs.jsonl.gz").write_bytes(b"not ours")
    before = snapshot(other)
    result = invoke("encode", corpus, "--out", other, "--overwrite", "--model", "/no/such/model")
    refused(result, "were not written by `splade-lite encode`", "nothing was touched")
    assert snapshot(other) == before


def test_encode_overwrite_marks_the_folder_unfinished_before_removing(tmp_path, monkeypatch):
    """Killed while it removes the old files, encode leaves a folder still known as ours."""
    import splade_lite.resume as resume

    out = fake_vectors(tmp_path / "v")

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(resume, "_remove", killed)
    with pytest.raises(KeyboardInterrupt):
        resume.start_output(out, {"model": "m"}, resume=False, overwrite=True)
    assert folder_kind(out) == UNFINISHED  # so the next --overwrite (or --resume) may go on


# --------------------------------------------------------------------------------------------
# 7. An output over an input is refused at once


def test_index_out_equal_to_its_vectors_is_refused(tmp_path, no_java):
    vectors = fake_vectors(tmp_path / "v")
    before = snapshot(vectors)
    refused(invoke("index", vectors, "--out", vectors, "--overwrite"), "is the input")
    (tmp_path / "link").symlink_to(vectors)
    refused(invoke("index", vectors, "--out", tmp_path / "link", "--overwrite"), "is the input")
    refused(invoke("index", vectors, "--out", vectors / "index"), "is inside the input")
    refused(invoke("index", vectors, "--out", tmp_path, "--overwrite"), "holds the input")
    assert snapshot(vectors) == before


def test_index_out_holding_the_bm25_corpus_is_refused(tmp_path, no_java):
    vectors = fake_vectors(tmp_path / "v")
    index = fake_index(tmp_path / "i")
    corpus = index / "corpus.jsonl"
    corpus.write_text('{"_id": "d1", "text": "x"}\n')
    before = snapshot(index)
    result = invoke("index", vectors, "--out", index, "--overwrite", "--bm25-corpus", corpus)
    refused(result, "holds the input")
    assert snapshot(index) == before


def test_export_out_over_its_index_is_refused(tmp_path, no_java):
    index = fake_index(tmp_path / "i")
    before = snapshot(index)
    refused(invoke("export", index, "--out", index, "--overwrite"), "is the input")
    refused(invoke("export", index, "--out", index / "sub"), "is inside the input")
    assert snapshot(index) == before


def test_encode_into_an_index_is_refused_before_the_model_loads(tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"_id": "a", "text": "some text"}\n')
    index = fake_index(tmp_path / "i")
    before = snapshot(index)
    # the model does not exist: the refusal must come first
    result = invoke("encode", corpus, "--out", index, "--overwrite", "--model", "/no/such/model")
    refused(result, "is a splade-lite index", "nothing was touched")
    assert snapshot(index) == before
    # and never into the folder that holds its corpus (whose name may be one of encode's)
    data = tmp_path / "data"
    data.mkdir()
    (data / "docs.jsonl.gz").write_bytes(b"")
    shutil.copy(corpus, data / "part-00000.jsonl")
    result = invoke("encode", data / "part-00000.jsonl", "--out", data, "--overwrite")
    refused(result, "holds the input")
    assert (data / "part-00000.jsonl").read_bytes() == corpus.read_bytes()


def test_out_dot_and_dotdot_are_refused_before_any_build(tmp_path, monkeypatch, no_java):
    vectors = fake_vectors(tmp_path / "v")
    here = tmp_path / "a" / "b"
    here.mkdir(parents=True)
    monkeypatch.chdir(here)
    refused(invoke("index", vectors, "--out", "."), "current folder", "nothing was touched")
    refused(invoke("index", vectors, "--out", ".."), "current folder")
    refused(invoke("export", fake_index(tmp_path / "i"), "--out", "."), "current folder")
    refused(invoke("index", vectors, "--out", "/", "--overwrite"), "nothing was touched")
    assert not list(here.iterdir()) and sorted(os.listdir(tmp_path / "a")) == ["b"]


def test_outputs_the_final_rename_could_not_make_are_refused(tmp_path, no_java):
    vectors = fake_vectors(tmp_path / "v")
    (tmp_path / "file").write_text("a file, not a folder")
    refused(invoke("index", vectors, "--out", tmp_path / "file" / "index"), "not a folder")
    if os.path.ismount("/dev/shm") or os.path.ismount("/proc"):
        mount = "/dev/shm" if os.path.ismount("/dev/shm") else "/proc"
        refused(invoke("index", vectors, "--out", mount, "--overwrite"), "mount point")


# --------------------------------------------------------------------------------------------
# 15. One writer at a time


def test_a_second_writer_fails_at_once_while_the_first_holds_the_lock(tmp_path):
    index = fake_index(tmp_path / "i")
    first = claim_output(index, INDEX, overwrite=True)
    staging = first.stage()
    try:
        second = claim_output(index, INDEX, overwrite=True)  # the checks alone pass...
        with pytest.raises(FileExistsError, match="another splade-lite process is writing"):
            second.stage()  # ...the lock does not
        absent = claim_output(tmp_path / "new", VECTORS)
        absent.abandon(absent.stage())  # another target is not locked
    finally:
        first.abandon(staging)
    assert not staging.exists() and index.is_dir()
    again = claim_output(index, INDEX, overwrite=True)
    again.abandon(again.stage())  # free again
    # nothing is left beside the target: no lock file, no staging folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["i"]


def test_export_fails_at_once_while_encode_or_train_writes_the_folder(tmp_path, no_java):
    index = fake_index(tmp_path / "i")
    out = tmp_path / "exported"
    out.mkdir()
    with lock_folder(out):  # as encode and train hold it
        refused(invoke("export", index, "--out", out), "another splade-lite process")
    assert not list(out.iterdir())


def test_a_lock_file_left_by_a_killed_build_does_not_block(tmp_path):
    (tmp_path / ".i.splade-lite-lock").write_bytes(b"")  # nobody holds it
    claim = claim_output(tmp_path / "i", INDEX)
    claim.abandon(claim.stage())
    assert not (tmp_path / ".i.splade-lite-lock").exists()
    (tmp_path / ".i.splade-lite-lock").write_text("a user's file of that name")
    with pytest.raises(ValueError, match="not a lock file of splade-lite"):
        claim_output(tmp_path / "i", INDEX).stage()
    assert (tmp_path / ".i.splade-lite-lock").read_text() == "a user's file of that name"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_leftovers_of_dead_builds_only_ours_and_the_old_output_comes_back(tmp_path):
    dead = _dead_pid()
    moved = fake_index(tmp_path / f".i.old-{dead}-0a1b2c3d")  # died between its two renames
    before = snapshot(moved)
    stale = tmp_path / f".i.building-{dead}-abcd_123"
    stale.mkdir()
    lookalike = tmp_path / ".i.building-by-hand"  # not a name we make
    lookalike.mkdir()
    claim = claim_output(tmp_path / "i", INDEX, overwrite=True)
    claim.abandon(claim.stage())
    assert snapshot(tmp_path / "i") == before  # the old index is back in place
    assert not stale.exists() and not moved.exists() and lookalike.is_dir()


@pytest.mark.jvm
def test_two_index_builds_into_one_target(tmp_path, tiny_built, monkeypatch):
    import splade_lite.index as index_module

    vectors = tiny_built / "vectors"
    out = tmp_path / "index"
    shutil.copytree(tiny_built / "index", out)
    real = index_module.build_forward_index
    seen = []

    def second_build_meanwhile(*args, **kwargs):
        result = invoke("index", vectors, "--out", out, "--overwrite")
        seen.append(refused(result, "another splade-lite process is writing"))
        return real(*args, **kwargs)

    monkeypatch.setattr(index_module, "build_forward_index", second_build_meanwhile)
    meta = build_index(vectors, out, overwrite=True)
    assert seen and meta["num_docs"] == 6
    assert json.loads((out / "splade_lite.json").read_text())["created"] == meta["created"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]


@pytest.mark.jvm
@pytest.mark.slow
def test_real_builds_hold_only_names_we_know(tmp_path, tiny_built):
    """The name lists above must cover what a real build writes, or --overwrite would
    refuse every index."""
    for name, kind in (("index", INDEX), ("index-if", INDEX), ("vectors", VECTORS)):
        assert folder_kind(tiny_built / name) == kind
        assert foreign_entries(tiny_built / name, kind) == []
    exported = tmp_path / "exported"
    export_index(tiny_built / "index", exported, compress=True)
    assert folder_kind(exported) == VECTORS and foreign_entries(exported, VECTORS) == []
    # an index and an export are each replaced by one of their kind; an empty folder is fine
    index = tmp_path / "index"
    shutil.copytree(tiny_built / "index", index)
    build_index(tiny_built / "vectors", index, overwrite=True)
    assert export_index(index, exported, overwrite=True) == 6
    (tmp_path / "empty").mkdir()
    build_index(tiny_built / "vectors", tmp_path / "empty")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "exported", "index"]


# --------------------------------------------------------------------------------------------
# 6. The demo writes only into its own work folder


@pytest.fixture
def no_demo_build(monkeypatch):
    import splade_lite.demo as demo

    def boom(*_args, **_kwargs):
        raise AssertionError("the demo built in a folder it should have refused")

    monkeypatch.setattr(demo, "_build", boom)
    monkeypatch.setattr(demo, "_search", boom)


def test_demo_refuses_a_folder_it_did_not_make(tmp_path, no_demo_build):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "corpus.jsonl").write_text('{"_id": "1", "text": "my own corpus"}\n')
    before = snapshot(mine)
    result = invoke("demo", "--workdir", mine, "--rebuild")
    refused(result, "not a folder the demo made", "corpus.jsonl", "nothing was touched")
    assert snapshot(mine) == before
    # a project laid out as the README shows (corpus, vectors/, index/) is no demo either
    fake_vectors(mine / "vectors")
    fake_index(mine / "index")
    before = snapshot(mine)
    refused(invoke("demo", "--workdir", mine), "not a folder the demo made")
    assert snapshot(mine) == before


def test_demo_work_folders_it_may_use(tmp_path, monkeypatch):
    fresh = tmp_path / "ci" / "splade-lite-ci-demo"  # CI: absent on a fresh machine
    claim_demo_workdir(fresh)
    marker = json.loads((fresh / outputs.DEMO_MARKER).read_text())
    assert marker["format"] == outputs.DEMO_FORMAT
    (fresh / "corpus.jsonl").write_text("{}\n")
    claim_demo_workdir(fresh)  # marked: a repeat run (or --rebuild) may replace its files
    # one an older splade-lite made: its demo.json and the demo's files only
    old = tmp_path / "old"
    (old / "index").mkdir(parents=True)
    (old / "corpus.jsonl").write_text("{}\n")
    (old / "demo.json").write_text('{"signature": {"corpus_version": 1}, "num_docs": 3}')
    claim_demo_workdir(old)
    assert (old / outputs.DEMO_MARKER).is_file()
    # without demo.json (an interrupted rebuild) only the default work folder is taken back
    cache = tmp_path / "cache" / "splade-lite" / "demo"
    (cache / "vectors").mkdir(parents=True)
    (cache / "corpus.jsonl").write_text("{}\n")
    with pytest.raises(FileExistsError, match="not a folder the demo made"):
        claim_demo_workdir(cache)
    claim_demo_workdir(cache, default=True)
    # a user's file beside an old demo's makes it no demo folder
    (tmp_path / "old2").mkdir()
    shutil.copy(old / "demo.json", tmp_path / "old2" / "demo.json")
    (tmp_path / "old2" / "thesis.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="thesis.txt"):
        claim_demo_workdir(tmp_path / "old2")
    assert not (tmp_path / "old2" / outputs.DEMO_MARKER).exists()


# --------------------------------------------------------------------------------------------
# 19. A full disk: the temporary file goes, the error names the file


class FullDisk(io.FileIO):
    """A real temporary file whose writes fail after `room` bytes, and whose close fails
    too when `close_fails` (as a full disk does when the last buffer is flushed)."""

    room = 10
    close_fails = False

    def write(self, data):
        if self.tell() + len(data) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(data)

    def close(self):
        super().close()
        if self.close_fails:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture
def full_disk(monkeypatch):
    monkeypatch.setattr(FullDisk, "room", 10)
    monkeypatch.setattr(FullDisk, "close_fails", False)
    monkeypatch.setattr(atomic_module, "_open_temp", lambda path: FullDisk(path, "xb"))
    return FullDisk


@pytest.mark.parametrize("name", ["a.txt", "a.jsonl.gz"])
def test_atomic_write_on_a_full_disk(tmp_path, full_disk, name):
    target = tmp_path / name
    target.write_bytes(b"old")
    with pytest.raises(OSError) as caught, atomic_write(target) as handle:
        for _ in range(1000):  # more than the buffers hold
            handle.write("0123456789")
    assert caught.value.errno == errno.ENOSPC
    assert str(caught.value) == f"cannot write {target}: No space left on device"
    assert target.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == [name]


def test_atomic_write_when_only_closing_fails(tmp_path, full_disk, monkeypatch):
    full_disk.room, full_disk.close_fails = 1 << 20, True
    with pytest.raises(OSError, match=r"cannot write .*b\.txt: No space left on device"):
        with atomic_write(tmp_path / "b.txt") as handle:
            handle.write("fits, but the close fails")
    assert os.listdir(tmp_path) == []
    full_disk.close_fails = False
    monkeypatch.setattr(atomic_module.os, "fsync", lambda fd: (_ for _ in ()).throw(ENOSPC))
    with pytest.raises(OSError, match=r"cannot write .*c\.txt: No space left"):
        with atomic_write(tmp_path / "c.txt") as handle:
            handle.write("fits, but the sync fails")
    assert os.listdir(tmp_path) == []


def test_atomic_write_leaves_the_callers_own_errors_alone(tmp_path):
    with pytest.raises(FileNotFoundError) as caught, atomic_write(tmp_path / "d.txt") as handle:
        handle.write("x")
        (tmp_path / "no-such-input").read_text()  # an error of the block, not of our file
    assert "cannot write" not in str(caught.value) and os.listdir(tmp_path) == []


def test_a_full_disk_on_the_first_shard(tmp_path, full_disk):
    folder = tmp_path / "vectors"
    folder.mkdir()
    writer = ShardWriter(folder, shard_size=100)
    with pytest.raises(OSError) as caught:
        for i in range(5000):
            writer.write(json.dumps({"id": str(i), "contents": "", "vector": {"a": 1}}) + "\n")
    assert (
        str(caught.value) == f"cannot write {folder / 'part-00000.jsonl'}: No space left on device"
    )
    assert os.listdir(folder) == []  # gone at once, before any `with` block could end


def test_encode_on_a_full_disk_names_the_shard(tmp_path, full_disk, splade_tiny, monkeypatch):
    from splade_lite.encode import encode_corpus

    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(f'{{"_id": "{i}", "text": "text {i}"}}\n' for i in range(40)))
    monkeypatch.setattr(  # only the shards meet the full disk
        atomic_module,
        "_open_temp",
        lambda p: (full_disk if "part-" in p.name else io.FileIO)(p, "xb"),
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OSError, match="cannot write vectors/part-00000.jsonl: No space left"):
        encode_corpus("c.jsonl", "vectors", encoder=splade_tiny, progress=False)
    assert not list(tmp_path.rglob("*.tmp"))  # the run completed no shard: nothing is left
    assert not Path("vectors").exists()
