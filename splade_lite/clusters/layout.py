"""The folder an export for a search cluster is: its file names and its manifest.

``export.json`` (format ``splade-lite/cluster-export``) is written last, so a folder that has
one is complete. It names the target, the index or collection, the settings, every file the
export wrote (with the documents each bulk file holds) and the counts ``push`` checks the
cluster against. :mod:`splade_lite.outputs` recognises the folder by it, and lets
``export --overwrite`` replace one only while it holds nothing but the files listed.

Kept free of heavy imports: :mod:`splade_lite.outputs` imports it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

from splade_lite.errors import BadValueError, MissingFileError

CLUSTER_MARKER = "export.json"
CLUSTER_FORMAT = "splade-lite/cluster-export"
FORMAT_VERSION = 1
#: What `export --format` can write for a cluster, in the order the docs present them.
TARGETS = ("opensearch", "elasticsearch", "qdrant")
BULK_DIR = "bulk"
QUERY_DIR = "query"
#: The request body that makes the index (OpenSearch, Elasticsearch) or the collection.
CONFIG_FILES = {
    "opensearch": "index.json",
    "elasticsearch": "index.json",
    "qdrant": "collection.json",
}
QUERY_FILE = "query.json"
QUERIES_FILE = "queries.jsonl"


class ManifestError(BadValueError):
    """An export folder whose ``export.json`` is missing, unreadable or inconsistent."""


def cluster_foreign(folder: Path, harmless: Collection[str], temporary: re.Pattern) -> list[str]:
    """What `folder` (an export whose manifest lists its files) holds that it did not write.

    `harmless`: names file managers leave anywhere; `temporary`: the temporaries of
    ``atomic_write`` (``.NAME.HEX.tmp``), ours when NAME is one of the files listed.
    """
    folder = Path(folder)
    try:
        listed = set(json.loads((folder / CLUSTER_MARKER).read_text(encoding="utf-8"))["files"])
    except (OSError, ValueError, KeyError, TypeError):
        listed = set()
    listed.add(CLUSTER_MARKER)
    parents = {str(Path(name).parent) for name in listed}
    foreign = []
    for root, dirs, files in os.walk(folder):
        where = Path(root).relative_to(folder)
        for name in sorted(dirs):
            path = (where / name).as_posix()
            if not any(p == path or p.startswith(path + "/") for p in parents):
                foreign.append(path + "/")
                dirs.remove(name)  # reported once, not walked
        for name in sorted(files):
            tmp = temporary.fullmatch(name)
            path = (where / (tmp.group(1) if tmp else name)).as_posix()
            if name not in harmless and path not in listed:
                foreign.append((where / name).as_posix())
    return foreign


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """``export.json`` of an export folder, checked: the target known, the files there."""
    folder = Path(folder)
    path = folder / CLUSTER_MARKER
    if not path.is_file():
        raise MissingFileError(
            f"{folder}: no {CLUSTER_MARKER}; is this a folder made by "
            "`splade-lite export INDEX --format opensearch|elasticsearch|qdrant`?"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as err:
        raise ManifestError(f"{path}: not readable JSON ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != CLUSTER_FORMAT:
        raise ManifestError(f"{path}: not a manifest of format {CLUSTER_FORMAT!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ManifestError(
            f"{path}: format version {manifest.get('format_version')!r}; this splade-lite "
            f"reads {FORMAT_VERSION}: export again"
        )
    if manifest.get("target") not in TARGETS:
        raise ManifestError(f"{path}: unknown target {manifest.get('target')!r}")
    bulk = manifest.get("bulk")
    if not isinstance(bulk, list) or not all(
        isinstance(b, dict) and isinstance(b.get("file"), str) and _count(b.get("docs"))
        for b in bulk
    ):
        raise ManifestError(f"{path}: its bulk file list is malformed")
    if not _count(manifest.get("num_docs")) or sum(b["docs"] for b in bulk) != manifest["num_docs"]:
        raise ManifestError(f"{path}: its bulk files do not add up to its num_docs")
    files = manifest.get("files")
    named = {b["file"] for b in bulk} | {manifest.get("config")}
    if not isinstance(files, list) or not named <= {f for f in files if isinstance(f, str)}:
        raise ManifestError(f"{path}: its config and bulk files are not among the files it lists")
    for name in files:
        if not isinstance(name, str) or name.startswith("/") or ".." in Path(name).parts:
            raise ManifestError(f"{path}: {name!r} is not a file name inside the folder")
        if not (folder / name).is_file():
            raise MissingFileError(f"{folder}: {name}, listed in {CLUSTER_MARKER}, is missing")
    return manifest


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
