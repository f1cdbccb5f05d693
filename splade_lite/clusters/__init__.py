"""Exports of an index for search clusters (OpenSearch, Elasticsearch, Qdrant), and their load.

``export_cluster(INDEX, OUT, target)`` writes a folder the cluster loads (``splade-lite export
INDEX --format TARGET --out OUT``); ``push_export(OUT, url)`` loads it with the cluster's
official Python client (``splade-lite push OUT --url URL``; ``pip install
'splade-lite[clusters]'``); ``query_bodies(INDEX, OUT, texts)`` makes search request bodies
weighted as splade-lite weighs its queries. docs/clusters.md shows the files.

Nothing heavy is imported here: :mod:`splade_lite.outputs` reads :mod:`.layout`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_EXPORTS = {
    "export_cluster": "splade_lite.clusters.export",
    "query_bodies": "splade_lite.clusters.export",
    "push_export": "splade_lite.clusters.push",
    "PushResult": "splade_lite.clusters.push",
    "ClusterError": "splade_lite.clusters.common",
    "TARGETS": "splade_lite.clusters.layout",
}
__all__ = ["TARGETS", "ClusterError", "PushResult", "export_cluster", "push_export", "query_bodies"]

if TYPE_CHECKING:
    from splade_lite.clusters.common import ClusterError
    from splade_lite.clusters.export import export_cluster, query_bodies
    from splade_lite.clusters.layout import TARGETS
    from splade_lite.clusters.push import PushResult, push_export


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'splade_lite.clusters' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
