"""One check of a recorded model's weights, used by index, search, check and training."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from splade_lite.encoders.models import (
    ModelNotFoundError,
    ModelSource,
    check_weights,
    resolve_recorded,
)
from splade_lite.errors import MissingFileError, SpladeLiteError

WEIGHTS = b"not really a tensor file"
SHA = hashlib.sha256(WEIGHTS).hexdigest()


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (folder / "model.safetensors").write_bytes(WEIGHTS)
    return folder


def source_of(folder: Path) -> ModelSource:
    return ModelSource(name=str(folder), mlm=str(folder))


def test_the_same_weights(model_dir):
    found = check_weights(source_of(model_dir), SHA)
    assert (found.status, found.actual, found.changed) == ("same", SHA, False)


def test_changed_weights(model_dir):
    (model_dir / "model.safetensors").write_bytes(WEIGHTS + b"!")
    found = check_weights(source_of(model_dir), SHA)
    assert found.status == "changed" and found.changed
    assert found.actual == hashlib.sha256(WEIGHTS + b"!").hexdigest()


@pytest.mark.parametrize("recorded", [None, ""])
def test_no_recorded_hash_is_not_a_change_and_hashes_nothing(model_dir, monkeypatch, recorded):
    def refuse(self):
        raise AssertionError("hashed although nothing was recorded")

    monkeypatch.setattr(ModelSource, "weights_sha256", refuse)
    found = check_weights(source_of(model_dir), recorded)
    assert (found.status, found.recorded, found.changed) == ("unrecorded", None, False)


@pytest.mark.parametrize("recorded", [SHA, None])
def test_weights_not_on_this_machine(model_dir, recorded):
    (model_dir / "model.safetensors").unlink()
    found = check_weights(source_of(model_dir), recorded)
    assert (found.status, found.changed) == ("absent", False)


def test_resolve_recorded_refuses_changed_weights(model_dir):
    assert resolve_recorded(str(model_dir), SHA, "vectors").mlm == str(model_dir.resolve())
    with pytest.raises(
        ModelNotFoundError, match=r"vectors was encoded with model .* sha256 0{12}…"
    ):
        resolve_recorded(str(model_dir), "0" * 64, "vectors")


def test_model_errors_are_splade_lite_errors():
    assert issubclass(ModelNotFoundError, SpladeLiteError)
    assert issubclass(ModelNotFoundError, MissingFileError)
    assert issubclass(ModelNotFoundError, FileNotFoundError)
