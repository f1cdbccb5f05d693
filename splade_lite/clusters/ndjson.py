"""OpenSearch and Elasticsearch alike: the index body, bulk NDJSON files, and their push.

A bulk file is what ``POST /_bulk`` takes as it is (``curl -H 'Content-Type:
application/x-ndjson' --data-binary @part-00000.jsonl``): per document an action line
``{"index": {"_index": NAME, "_id": DOCID}}`` and a source line ``{"title", "text", FIELD:
{feature: weight}}``. A document without a term has no FIELD: it is in the index (and in the
count) and matches no query. ``push`` sends the same documents through the client's
``helpers.streaming_bulk`` (batches, retries of 429 answers), with the client's own retries of
refused connections, timeouts and 502/503/504, then refreshes and checks the count.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from splade_lite.clusters.common import ClusterError, Document, Settings, shown_url
from splade_lite.errors import BadValueError

#: The longest ``_id`` both take (bytes of UTF-8).
MAX_ID_BYTES = 512
#: Answers retried by the client itself (besides refused connections and timeouts).
RETRY_STATUSES = (502, 503, 504)


def index_body(field_type: str, settings: Settings, has_text: bool) -> dict[str, Any]:
    """``PUT /NAME`` body: the vector field of `field_type`, titles and texts as text."""
    properties: dict[str, Any] = {settings.field: {"type": field_type}}
    if has_text:
        properties.update(title={"type": "text"}, text={"type": "text"})
    return {"mappings": {"properties": properties}}


def bulk_record(
    doc: Document, settings: Settings, has_text: bool, feature: Callable[[str], str]
) -> str:
    """The two bulk lines of one document (`feature` maps a term to its feature name)."""
    if len(doc.docid.encode("utf-8")) > MAX_ID_BYTES:
        raise BadValueError(
            f"document id {doc.docid[:40]!r}... is longer than {MAX_ID_BYTES} bytes, the "
            f"longest _id {settings.target} takes"
        )
    source: dict[str, Any] = {"title": doc.title, "text": doc.text} if has_text else {}
    if doc.weights:
        names = {feature(term): weight for term, weight in doc.weights.items()}
        if len(names) != len(doc.weights):  # the mappings are one-to-one: never happens
            raise BadValueError(f"document {doc.docid!r}: two terms got one feature name")
        source[settings.field] = names
    action = {"index": {"_index": settings.name, "_id": doc.docid}}
    return (
        json.dumps(action, ensure_ascii=False)
        + "\n"
        + json.dumps(source, ensure_ascii=False)
        + "\n"
    )


def read_actions(folder: Path, manifest: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The documents of the bulk files as ``helpers.streaming_bulk`` actions, checked to
    be as many as the manifest says each file holds."""
    for entry in manifest["bulk"]:
        path = folder / entry["file"]
        opener = gzip.open if path.name.endswith(".gz") else open
        count = 0
        with opener(path, "rt", encoding="utf-8") as handle:  # type: ignore[operator]
            for lineno, line in enumerate(handle, 1):
                if lineno % 2:
                    try:
                        meta = json.loads(line)["index"]
                    except (ValueError, KeyError, TypeError):
                        raise BadValueError(f"{path}:{lineno}: not a bulk action line") from None
                    continue
                try:
                    source = json.loads(line)
                except ValueError:
                    raise BadValueError(f"{path}:{lineno}: not a JSON document") from None
                count += 1
                yield {"_op_type": "index", "_index": meta["_index"], "_id": meta["_id"],
                       "_source": source}  # fmt: skip
        if count != entry["docs"]:
            raise BadValueError(f"{path} holds {count} documents, export.json says {entry['docs']}")


def load(
    client: Any,
    helpers: Any,
    manifest: dict[str, Any],
    folder: Path,
    *,
    create: Callable[[str, dict[str, Any]], Any],
    batch_size: int,
    retries: int,
    replace: bool,
    log: Callable[[str], None],
) -> int:
    """Make the index, bulk load the documents, refresh; the count the cluster then holds."""
    name = manifest["name"]
    body = json.loads((folder / manifest["config"]).read_text(encoding="utf-8"))
    if client.indices.exists(index=name):
        if not replace:
            raise ClusterError(
                f"the index {name!r} already exists there; nothing was changed; pass "
                "--replace to delete it and load the export instead"
            )
        log(f"deleting the index {name!r} there (--replace)")
        client.indices.delete(index=name)
    create(name, body)
    sent, failed, first = 0, 0, None
    for ok, item in helpers.streaming_bulk(
        client,
        read_actions(folder, manifest),
        chunk_size=batch_size,
        max_retries=retries,
        initial_backoff=1,
        max_backoff=30,
        raise_on_error=False,
    ):
        sent += 1
        if not ok:
            failed += 1
            first = first or item
        if sent % 10_000 == 0:
            log(f"{sent} of {manifest['num_docs']} documents sent")
    if failed:
        raise ClusterError(
            f"the cluster refused {failed} of {sent} documents; the first: {_item(first)}"
        )
    client.indices.refresh(index=name)
    return int(client.count(index=name)["count"])


def _item(item: Any) -> str:
    """One refused bulk item, as a short line: its id, error type and reason."""
    detail = next(iter(item.values()), {}) if isinstance(item, dict) else {}
    error = detail.get("error") if isinstance(detail, dict) else None
    if isinstance(error, dict):
        error = f"{error.get('type')}: {error.get('reason')}"
    return f"document {detail.get('_id')!r}: {error or detail.get('status')}"[:300]


@contextlib.contextmanager
def reaching(url: str, exceptions: Any) -> Iterator[None]:
    """Client errors as one line naming `url` (`exceptions`: the client's exceptions module)."""
    url = shown_url(url)
    try:
        yield
    except exceptions.AuthenticationException:
        raise ClusterError(f"{url} refused the credentials (401): check --api-key") from None
    except exceptions.AuthorizationException as err:
        raise ClusterError(f"{url} does not allow this (403): {_reason(err)}") from None
    except exceptions.ConnectionError as err:
        raise ClusterError(
            f"cannot reach {url} ({_first_line(err)}): is the server running, and is the URL right?"
        ) from None
    except (
        getattr(exceptions, "ApiError", exceptions.TransportError),
        exceptions.TransportError,
    ) as err:
        raise ClusterError(f"{url} answered with an error: {_reason(err)}") from None


def _reason(err: Any) -> str:
    info = getattr(err, "info", None) or getattr(err, "body", None)
    if isinstance(info, dict) and isinstance(info.get("error"), dict):
        return f"{info['error'].get('type')}: {info['error'].get('reason')}"[:300]
    return _first_line(err)


def _first_line(err: BaseException) -> str:
    """The cause of a client error, short: the system's ``[Errno N] reason`` where it has one."""
    text = str(err).strip() or type(err).__name__
    errno = re.search(r"\[Errno -?\d+\][^)\]'\"]*", " ".join(map(str, (err, *err.args))))
    return errno.group(0).strip() if errno else text.splitlines()[0][:200]
