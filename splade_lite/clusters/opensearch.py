"""OpenSearch: a ``rank_features`` field, loaded in bulk, searched with ``neural_sparse``.

Feature names are the index terms as they are, dots included: OpenSearch's ``rank_features``
mapper takes any feature name (its ``RankFeaturesFieldMapper`` reads the object's keys as
they are), and a query made by OpenSearch's own sparse tokenizer model has the raw tokens too.
Weights are floats (integer impact / scale); ``rank_features`` keeps 9 significant bits of
each (a relative error of about 0.4%, OpenSearch's docs say), so scores are close to
splade-lite's, and near ties may swap.

The query is ``neural_sparse`` with ``query_tokens``: the token -> weight map splade-lite
searches with (:meth:`~splade_lite.clusters.common.IndexSource.query_weights`), raw tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from splade_lite.clusters import ndjson
from splade_lite.clusters.common import Document, Settings, require
from splade_lite.errors import BadValueError

FIELD_TYPE = "rank_features"


def feature_name(term: str) -> str:
    """The feature name of an index term: the term itself."""
    return term


def config(settings: Settings, has_text: bool) -> dict[str, Any]:
    return ndjson.index_body(FIELD_TYPE, settings, has_text)


def bulk_record(doc: Document, number: int, settings: Settings, has_text: bool) -> str:
    """The bulk lines of one document (`number`: its place in the export, unused here)."""
    return ndjson.bulk_record(doc, settings, has_text, feature_name)


def request(settings: Settings) -> dict[str, str]:
    return {"method": "POST", "path": f"/{settings.name}/_search"}


def query_body(weights: dict[str, float], settings: Settings, k: int) -> dict[str, Any]:
    """``POST /NAME/_search`` body: ``neural_sparse`` with the query's raw tokens."""
    tokens = {feature_name(term): weight for term, weight in weights.items()}
    return {"size": k, "query": {"neural_sparse": {settings.field: {"query_tokens": tokens}}}}


def weights_at(settings: Settings) -> list[str]:
    """Where in the body the token -> weight map goes."""
    return ["query", "neural_sparse", settings.field, "query_tokens"]


def connect(url: str, api_key: str | None = None, *, retries: int = 3, timeout: float = 60):
    """An ``opensearchpy.OpenSearch`` client of `url` (credentials in the URL), which itself
    retries refused connections, timeouts and 502/503/504 answers `retries` times."""
    opensearchpy = require("opensearchpy", "opensearch-py")
    if api_key:
        raise BadValueError(
            "OpenSearch takes a user and password, not an API key: put them in the URL "
            "(https://USER:PASSWORD@HOST:9200)"
        )
    return opensearchpy.OpenSearch(
        hosts=[url],
        timeout=timeout,
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
    """Load an export into OpenSearch at `url`; the count it then holds."""
    require("opensearchpy", "opensearch-py")
    from opensearchpy import exceptions, helpers

    with ndjson.reaching(url, exceptions):
        client = client if client is not None else connect(url, api_key, retries=retries)
        return ndjson.load(
            client,
            helpers,
            manifest,
            folder,
            create=lambda name, body: client.indices.create(index=name, body=body),
            batch_size=batch_size,
            retries=retries,
            replace=replace,
            log=log,
        )
