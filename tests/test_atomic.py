"""Tests of splade_lite.atomic: a file is seen whole or not at all, gzip by name."""

from __future__ import annotations

import gzip
import os
import warnings
from pathlib import Path

import pytest

from splade_lite.atomic import atomic_write

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
