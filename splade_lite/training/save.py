"""Write a trained model as a folder that every splade-lite command accepts as --model.

The folder is a Hugging Face masked-LM (config.json, model.safetensors, tokenizer files),
plus ``splade_lite_model.json`` (base model, mode, max length, pooling, training recipe) and,
for an inference-free model, ``idf.json`` (token -> query weight), which the encoders and the
indexer read. (Not ``splade_lite.json``: that name marks an index folder.)
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from splade_lite import metadata as md
from splade_lite.training.model import TrainableSplade

MODEL_META = "splade_lite_model.json"


def save_model(
    model: TrainableSplade,
    out_dir: str | Path,
    info: Mapping,
    idf: Mapping[str, float] | None = None,
) -> Path:
    """Save `model` into `out_dir` (other files there are left alone); returns the folder.

    Files are written to a staging folder first and moved in with config.json last, so a
    half-written folder is never taken for a model.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    staging = out / ".saving"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    with model.restored_mlm() as mlm:
        mlm.save_pretrained(staging)
    model.tokenizer.save_pretrained(staging)
    meta = {
        "format": "splade-lite/model",
        "format_version": 1,
        "pooling": "max",
        **dict(info),
        "software": md.software_versions(),
    }
    md.write_json(staging / MODEL_META, meta)
    if idf is not None:
        md.write_json(staging / md.IDF_FILE, dict(idf))
    elif (out / md.IDF_FILE).exists():
        (out / md.IDF_FILE).unlink()  # a stale table from an earlier model would be used
    names = sorted(p.name for p in staging.iterdir())
    for name in [n for n in names if n != "config.json"] + ["config.json"]:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(staging / name, target)
    staging.rmdir()
    return out


def read_model_meta(folder: str | Path) -> dict:
    """The splade-lite metadata of a saved model folder ({} when it has none)."""
    path = Path(folder) / MODEL_META
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))
