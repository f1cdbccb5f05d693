"""Elasticsearch: a ``sparse_vector`` field, loaded in bulk, searched with ``sparse_vector``.

``sparse_vector`` fields (Elasticsearch 8.11 and later) refused feature names with a dot
before 8.16 (a dot means a sub-field there: elastic/elasticsearch#109118, allowed for
``sparse_vector`` by #111981), and a BERT vocabulary has many (``.``, ``##.``, ``...``). So
feature names are the index terms with two characters percent-escaped, ``%`` as ``%25`` and
``.`` as ``%2E`` (:func:`feature_name`): one-to-one, undone by :func:`term_of`, and valid on
every version. Queries must escape their tokens the same way; the query bodies splade-lite
writes already are. Weights are floats (integer impact / scale), kept to 9 significant bits
(about 0.4%, Elasticsearch's docs say).

The query is ``sparse_vector`` with ``query_vector`` (Elasticsearch 8.15 and later) and
``"prune": false``: recent versions turn token pruning on by default for new indices,
which would drop query tokens that splade-lite searches with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote

from splade_lite.clusters import ndjson
from splade_lite.clusters.common import Document, Settings, require

FIELD_TYPE = "sparse_vector"


def feature_name(term: str) -> str:
    """The feature name of an index term: ``%`` -> ``%25``, then ``.`` -> ``%2E``."""
    return term.replace("%", "%25").replace(".", "%2E")


def term_of(feature: str) -> str:
    """The index term of a feature name (the inverse of :func:`feature_name`)."""
    return unquote(feature)


def config(settings: Settings, has_text: bool) -> dict[str, Any]:
    return ndjson.index_body(FIELD_TYPE, settings, has_text)


def bulk_record(doc: Document, number: int, settings: Settings, has_text: bool) -> str:
    """The bulk lines of one document (`number`: its place in the export, unused here)."""
    return ndjson.bulk_record(doc, settings, has_text, feature_name)


def request(settings: Settings) -> dict[str, str]:
    return {"method": "POST", "path": f"/{settings.name}/_search"}


def query_body(weights: dict[str, float], settings: Settings, k: int) -> dict[str, Any]:
    """``POST /NAME/_search`` body: ``sparse_vector`` with the escaped query tokens."""
    vector = {feature_name(term): weight for term, weight in weights.items()}
    query = {"field": settings.field, "query_vector": vector, "prune": False}
    return {"size": k, "query": {"sparse_vector": query}}


def weights_at(settings: Settings) -> list[str]:
    """Where in the body the feature -> weight map goes."""
    return ["query", "sparse_vector", "query_vector"]


def connect(url: str, api_key: str | None = None, *, retries: int = 3, timeout: float = 60):
    """An ``elasticsearch.Elasticsearch`` client of `url`, which itself retries refused
    connections, timeouts and 502/503/504 answers `retries` times."""
    elasticsearch = require("elasticsearch", "elasticsearch")
    return elasticsearch.Elasticsearch(
        url,
        api_key=api_key or None,
        request_timeout=timeout,
        max_retries=retries,
        retry_on_timeout=True,
        retry_on_status=ndjson.RETRY_STATUSES,
    )


def push(
    manifest: dict[str, Any],
    folder: Path,
    url: str,
    *,
    client: Any = None,
    api_key: str | None = None,
    batch_size: int = 500,
    retries: int = 3,
    replace: bool = False,
    log=print,
) -> int:
    """Load an export into Elasticsearch at `url`; the count it then holds."""
    elasticsearch = require("elasticsearch", "elasticsearch")
    from elasticsearch import helpers

    with ndjson.reaching(url, elasticsearch):
        client = client if client is not None else connect(url, api_key, retries=retries)
        return ndjson.load(
            client,
            helpers,
            manifest,
            folder,
            create=lambda name, body: client.indices.create(index=name, **body),
            batch_size=batch_size,
            retries=retries,
            replace=replace,
            log=log,
        )
