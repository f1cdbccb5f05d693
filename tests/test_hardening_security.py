"""Hardening, security: nothing read from a model, index or corpus runs code, reaches the
model hub in place of a local file, or drives the terminal.

Each test reproduces one finding of the adversarial run (or one of its class) and asserts
what the user sees now.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from splade_lite.cli import main
from splade_lite.encoders.models import (
    ModelNotFoundError,
    builtin_model_dir,
    load_options,
    resolve_model,
)


def invoke(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, env=env)


@pytest.fixture()
def tiny_copy(tmp_path) -> Path:
    """A private copy of the splade-tiny folder, to be altered by the test."""
    try:
        source = builtin_model_dir("splade-tiny")
    except ModelNotFoundError as err:
        pytest.skip(str(err))
    folder = tmp_path / "model"
    shutil.copytree(source, folder)
    return folder


def _with_remote_code(folder: Path, marker: Path, model_type: str | None = None) -> None:
    """Make `folder` ask transformers to import a module that writes `marker`."""
    (folder / "evil.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "from transformers import BertConfig, BertForMaskedLM\n"
        "class EvilConfig(BertConfig):\n    model_type = 'evil'\n"
        "class EvilModel(BertForMaskedLM):\n    config_class = EvilConfig\n"
    )
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {
        "AutoConfig": "evil.EvilConfig",
        "AutoModelForMaskedLM": "evil.EvilModel",
    }
    if model_type is not None:
        config["model_type"] = model_type
    (folder / "config.json").write_text(json.dumps(config))


# -- finding 2: trust_remote_code is never left to transformers' default --------------------
@pytest.mark.parametrize("model_type", [None, "evil"])
def test_a_model_folder_with_remote_code_never_runs_it(tiny_copy, tmp_path, model_type):
    from splade_lite.encoders import SpladeEncoder

    marker = tmp_path / "ran-remote-code"
    _with_remote_code(tiny_copy, marker, model_type)
    try:
        encoder = SpladeEncoder(tiny_copy)
    except OSError as err:  # an unknown model type cannot be loaded without its code
        assert model_type == "evil"
        assert "custom Python code" in str(err) and "SPLADE_LITE_TRUST_REMOTE_CODE" in str(err)
    else:  # a known model type loads with the library's own class
        assert model_type is None
        assert len(encoder.encode_queries(["vitamin d"])[0]) > 0
    assert not marker.exists()


def test_remote_code_needs_the_explicit_switch(tiny_copy, monkeypatch):
    source = resolve_model(tiny_copy)
    assert load_options(source)["trust_remote_code"] is False
    monkeypatch.setenv("SPLADE_LITE_TRUST_REMOTE_CODE", "1")
    assert load_options(source)["trust_remote_code"] is True


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_pickled_weights_file_that_runs_code_is_refused(tiny_copy, tmp_path):
    from splade_lite.encoders import SpladeEncoder

    marker = tmp_path / "unpickled"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (tiny_copy / "model.safetensors").unlink()
    with open(tiny_copy / "pytorch_model.bin", "wb") as handle:
        pickle.dump({"weight": Payload()}, handle)
    with pytest.raises(OSError, match="refused|cannot load"):
        SpladeEncoder(tiny_copy)
    assert not marker.exists()


# -- finding 3: local paths are never taken as hub ids ---------------------------------------
def test_local_folders_are_read_from_disk_only(tiny_copy):
    assert load_options(resolve_model(tiny_copy))["local_files_only"] is True


def test_a_relative_model_folder_is_recorded_as_an_absolute_path(
    tiny_copy, tmp_path, monkeypatch, tiny_corpus
):
    from splade_lite.encode import encode_corpus

    monkeypatch.chdir(tmp_path)
    encode_corpus(tiny_corpus, tmp_path / "v", model="model", progress=False)
    recorded = json.loads((tmp_path / "v" / "vectors.json").read_text())["model"]
    assert Path(recorded).is_absolute() and Path(recorded) == tiny_copy.resolve()
    monkeypatch.chdir("/")  # read again from elsewhere: the same folder
    assert Path(resolve_model(recorded).mlm) == tiny_copy.resolve()


def test_a_missing_model_folder_is_not_looked_up_on_the_hub(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model(str(tmp_path / "gone" / "model"))


@pytest.mark.jvm
def test_an_index_without_its_tokenizer_is_refused_not_fetched(tiny_built, tmp_path, monkeypatch):
    from splade_lite.search import Searcher

    index = tmp_path / "index"
    shutil.copytree(tiny_built / "index-if", index)
    shutil.rmtree(index / "tokenizer")

    def no_hub(*args, **kwargs):  # any hub request is a failure of this test
        raise AssertionError(f"the hub was asked for {args}")

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_hub)
    with pytest.raises(FileNotFoundError, match="no tokenizer/"):
        Searcher(index).search("coffee")


# -- finding 4: nothing printed from a file drives the terminal ------------------------------
_ESCAPES = "\x1b]0;owned\x07\x1b[2J"
_BIDI = "\u202e"


def _crafted_titles(index: Path) -> None:
    path = index / "docs.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    for record in records:
        record["title"] = f"{_ESCAPES}title{_BIDI}txt.exe"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in records)
    from splade_lite.snippets import SNIPPETS_FILE, build_snippets

    build_snippets(path, index / SNIPPETS_FILE)  # what search reads titles from


def _assert_clean(output: str) -> None:
    assert "\x1b]" not in output and "\x1b[2J" not in output and "\x07" not in output
    assert _BIDI not in output


@pytest.mark.jvm
@pytest.mark.parametrize("as_json", [False, True])
def test_search_escapes_titles_from_the_index(tiny_built, tmp_path, as_json):
    index = tmp_path / "index"
    shutil.copytree(tiny_built / "index", index)
    _crafted_titles(index)
    result = invoke("search", index, "aurora borealis", *(["--json"] if as_json else []))
    assert result.exit_code == 0, result.output
    _assert_clean(result.output)
    if as_json:  # the same data, written as JSON escapes
        titles = {hit["title"] for hit in json.loads(result.output)}
        assert titles == {f"{_ESCAPES}title{_BIDI}txt.exe"}
    else:
        assert "\\x1b]0;owned\\x07" in result.output and "\\u202e" in result.output


@pytest.mark.jvm
def test_explain_escapes_titles_and_terms(tiny_built, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(tiny_built / "index", index)
    _crafted_titles(index)
    result = invoke("explain", index, "aurora borealis", "d2")
    assert result.exit_code == 0, result.output
    _assert_clean(result.output)
    assert "\\x1b" in result.output


@pytest.mark.jvm
def test_error_messages_quoting_a_crafted_metadata_value_are_escaped(tiny_built, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(tiny_built / "index", index)
    meta = json.loads((index / "splade_lite.json").read_text())
    meta["mode"] = _ESCAPES + _BIDI
    (index / "splade_lite.json").write_text(json.dumps(meta))
    result = invoke("search", index, "coffee")
    assert result.exit_code == 1
    assert "mode" in result.output
    _assert_clean(result.output)


def test_printable_shows_every_control_and_reordering_character():
    from splade_lite.terminal import json_safe, printable, safe_output

    unsafe = "".join(map(chr, [*range(0, 9), *range(10, 32), *range(0x7F, 0xA0)]))
    unsafe += "\u061c\u200b\u200e\u200f\u2028\u2029\u202a\u202e\u2066\u2069\ufeff"
    shown = printable(unsafe)
    assert all(ch.isprintable() and ch.isascii() for ch in shown)
    assert printable("naïve café\tok") == "naïve café\tok"
    styled = "\x1b[1mbold\x1b[0m\nline two"
    assert safe_output(styled) == styled  # our own styles and line breaks pass
    assert json.loads(json_safe(json.dumps(unsafe, ensure_ascii=False))) == unsafe
