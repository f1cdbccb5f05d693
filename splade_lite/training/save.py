"""Write a trained model as a folder that every splade-lite command accepts as --model.

The folder is a Hugging Face masked-LM (config.json, model.safetensors, tokenizer files),
plus ``splade_lite_model.json`` (base model, mode, max length, pooling, training recipe, and
the names of the files saved) and, for an inference-free model, ``idf.json`` (token -> query
weight), which the encoders and the indexer read. (Not ``splade_lite.json``: that name marks
an index folder.)

Saving never deletes or replaces a file it did not write: a name that is already taken in the
folder by something that is not part of an earlier splade-lite model is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from splade_lite import metadata as md
from splade_lite.training.model import TrainableSplade

MODEL_META = "splade_lite_model.json"
MODEL_FORMAT = "splade-lite/model"
#: The folder a model is assembled in before its files are moved into place.
STAGING_DIR = ".splade-lite-saving"
#: Written first into the staging folder: only a folder holding it is ever removed.
STAGING_MARK = ".splade-lite-staging"
#: What a model saved before its metadata listed its files may hold (Hugging Face's names).
_LEGACY_FILES = frozenset(
    {
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "model.safetensors.index.json",
        "pytorch_model.bin",
        "pytorch_model.bin.index.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "vocab.txt",
        "vocab.json",
        "merges.txt",
        "spiece.model",
        "sentencepiece.bpe.model",
        "chat_template.jinja",
        "chat_template.json",
        MODEL_META,
        md.IDF_FILE,
    }
)
_SHARD = re.compile(r"model-\d{5}-of-\d{5}\.safetensors")


def _plain_name(name: object) -> bool:
    """A file name with no folder part (a listed name can never point outside the folder)."""
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and not any(c in name for c in "/\\\0")
    )


def model_files(folder: str | Path) -> set[str]:
    """Names of the files of the splade-lite model saved in `folder` (empty when there is
    none, or when its metadata is not splade-lite's): the only files a later save may
    replace and ``--overwrite`` may remove."""
    path = Path(folder) / MODEL_META
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return set()
    if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
        return set()
    listed = meta.get("files")
    if isinstance(listed, list) and all(_plain_name(n) for n in listed):
        return {*listed, MODEL_META}
    found = {p.name for p in Path(folder).iterdir()}
    return {n for n in found if n in _LEGACY_FILES or _SHARD.fullmatch(n)}


def _check_targets(out: Path, names: list[str]) -> None:
    """Refuse, before anything moves, to replace what is not part of an earlier model here."""
    ours = model_files(out)
    for name in names:
        target = out / name
        if not os.path.lexists(target):
            continue
        if name not in ours:
            raise FileExistsError(
                f"{target} already exists and was not written by splade-lite; save the model "
                "into a new or empty folder"
            )
        if target.is_dir() and not target.is_symlink():
            raise FileExistsError(f"{target} is a folder, not a model file; move it away")


def _fresh_staging(out: Path) -> Path:
    """An empty staging folder, marked as ours; a stale one is removed only if it is ours."""
    staging = out / STAGING_DIR
    if os.path.lexists(staging):
        if staging.is_symlink() or not (staging / STAGING_MARK).is_file():
            raise FileExistsError(
                f"{staging} exists but is not a staging folder of splade-lite; move it away"
            )
        remove_staging(staging)
    staging.mkdir()
    (staging / STAGING_MARK).touch()
    return staging


def remove_staging(staging: Path) -> None:
    """Remove a staging folder of ours: its files one by one (never a whole tree)."""
    for entry in staging.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            raise FileExistsError(f"{entry}: a folder inside the staging folder; move it away")
        entry.unlink()
    staging.rmdir()


def save_model(
    model: TrainableSplade,
    out_dir: str | Path,
    info: Mapping,
    idf: Mapping[str, float] | None = None,
) -> Path:
    """Save `model` into `out_dir` (other files there are left alone); returns the folder.

    Files are written to a staging folder first and moved in, the metadata (which lists
    them) first and config.json last, so a half-written folder is never taken for a model and
    is still recognised as splade-lite's.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    staging = _fresh_staging(out)
    try:
        with model.restored_mlm() as mlm:
            mlm.save_pretrained(staging)
        model.tokenizer.save_pretrained(staging)
        if idf is not None:
            md.write_json(staging / md.IDF_FILE, dict(idf))
        saved = sorted(p.name for p in staging.iterdir() if p.name != STAGING_MARK)
        meta = {
            "format": MODEL_FORMAT,
            "format_version": 1,
            "pooling": "max",
            **dict(info),
            "files": sorted({*saved, MODEL_META}),
            "software": md.software_versions(),
        }
        md.write_json(staging / MODEL_META, meta)
        stale_idf = idf is None and os.path.lexists(out / md.IDF_FILE)
        _check_targets(out, [MODEL_META, *saved] + ([md.IDF_FILE] if stale_idf else []))
        if stale_idf:
            (out / md.IDF_FILE).unlink()  # a stale table from an earlier model would be used
        last = ["config.json"] if "config.json" in saved else []
        order = [MODEL_META] + [n for n in saved if n != "config.json"] + last
        for name in order:
            os.replace(staging / name, out / name)
    except BaseException:
        with contextlib.suppress(OSError):  # ours; anything moved in is listed by the metadata
            remove_staging(staging)
        raise
    remove_staging(staging)
    return out
