"""Index builds and exports are all or nothing: a build killed part-way (SIGKILL, in a
subprocess) leaves the old index untouched and nothing that looks like an index; the next
build cleans up after it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from splade_lite.check import FAIL, check_folder
from splade_lite.index import build_index, export_index

pytestmark = pytest.mark.jvm


@pytest.fixture(scope="module")
def vectors(tiny_built) -> Path:
    return tiny_built / "vectors"  # the session's (conftest.py), read only


def _staging(out: Path) -> list[Path]:
    return list(out.parent.glob(f".{out.name}.building-*"))


def test_killed_build_leaves_the_old_index_and_no_half_index(tmp_path, vectors, tiny_corpus):
    out = tmp_path / "index"
    build_index(vectors, out)
    before = (out / "splade_lite.json").read_bytes()
    command = [sys.executable, "-m", "splade_lite.cli", "index", str(vectors), "--out", str(out)]
    command += ["--overwrite", "--bm25-corpus", str(tiny_corpus)]
    # its own session, so that Java (a child of the build) is killed with it
    child = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "OPENAI_API_KEY": "x"},
    )
    try:
        deadline = time.monotonic() + 120
        while not any((s / "write.lock").exists() for s in _staging(out)):  # Lucene is writing
            assert child.poll() is None, "the build ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        os.killpg(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert (out / "splade_lite.json").read_bytes() == before  # the old index, untouched
    assert not [c for c in check_folder(out) if c.status == FAIL]
    assert len(_staging(out)) == 1  # the half-built index, under a hidden temporary name

    build_index(vectors, out, overwrite=True)  # the next build into it removes the leftover
    assert not _staging(out)
    assert not [c for c in check_folder(out) if c.status == FAIL]


def test_a_staging_folder_of_a_live_build_is_left_alone(tmp_path, vectors):
    out = tmp_path / "index"
    live = tmp_path / f".index.building-{os.getpid()}-abc"
    live.mkdir()
    build_index(vectors, out)
    assert live.is_dir()


def test_an_index_appearing_during_the_build_is_not_replaced(tmp_path, vectors, monkeypatch):
    import splade_lite.index as index_module

    out = tmp_path / "index"
    real = index_module._write_idf

    def racing(*args):  # another build finishes into `out` meanwhile
        out.mkdir()
        (out / "splade_lite.json").write_text("{}")
        return real(*args)

    monkeypatch.setattr(index_module, "_write_idf", racing)
    with pytest.raises(FileExistsError, match="appeared while building"):
        build_index(vectors, out)
    assert (out / "splade_lite.json").read_text() == "{}"
    assert not _staging(out)


def test_export_refuses_to_mix_with_an_old_export(tmp_path, vectors):
    index = tmp_path / "index"
    build_index(vectors, index)
    out = tmp_path / "exported"
    assert export_index(index, out, shard_size=2) == 6
    assert len(list(out.glob("part-*"))) == 3
    with pytest.raises(FileExistsError, match="--overwrite"):
        export_index(index, out)
    assert export_index(index, out, overwrite=True) == 6
    assert [p.name for p in out.glob("part-*")] == ["part-00000.jsonl"]  # no stale shard
    assert json.loads((out / "vectors.json").read_text())["shards"] == ["part-00000.jsonl"]
    shutil.rmtree(index)
    with pytest.raises(ValueError, match="no splade_lite.json"):
        export_index(index, tmp_path / "again")
    assert not (tmp_path / "again").exists()
