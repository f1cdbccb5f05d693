"""Qdrant: a named sparse vector per point, loaded in batches, searched with the query API.

Qdrant's sparse vectors take integer indices, so each index term becomes the id the index's
tokenizer gives it (``[id:N]`` terms, written so for tokens with whitespace, become N): the
ids queries get from the same tokenizer, one id per term and distinct ids for distinct terms
(lossless; a term outside the vocabulary is refused). Weights are float32 floats (integer
impact / scale), which Qdrant keeps as they are, so its dot products are splade-lite's
integer scores divided by scale² (up to float32 rounding).

Points are numbered 0..N-1 in export order (Qdrant ids are integers or UUIDs, not strings);
each point's payload holds its ``docid`` (and ``title``, ``text`` where the index keeps them).
A document without a term is a point without a vector: counted, never found.

Modifier: ``none`` by default. splade-lite's queries already carry their weights: learned ones
in SPLADE mode, IDF in inference-free mode (the model's own table or the corpus's
log((N + 1) / (df + 1))). Qdrant's ``idf`` modifier would multiply them by its own IDF (of
another formula, ln(1 + (N - n + 0.5) / (n + 0.5)), over the points that have the vector), so
the ranking would no longer be splade-lite's. ``--qdrant-modifier idf`` (inference-free indexes
only) hands the IDF to Qdrant instead: queries then carry weight 1 per distinct token, and
Qdrant's IDF replaces splade-lite's (close, not equal).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from splade_lite.clusters.common import ClusterError, Document, Settings, require, shown_url
from splade_lite.errors import BadValueError

MODIFIERS = ("none", "idf")


def config(settings: Settings, has_text: bool) -> dict[str, Any]:
    """``PUT /collections/NAME`` body: one sparse vector named after the field."""
    return {"sparse_vectors": {settings.field: {"modifier": settings.modifier}}}


def sparse(weights: dict[str, float], settings: Settings, what: str) -> dict[str, list]:
    """``{"indices", "values"}`` of a term -> weight map, by vocabulary id (sorted)."""
    try:
        pairs = sorted((settings.term_ids[term], weight) for term, weight in weights.items())
    except KeyError as err:
        raise BadValueError(
            f"{what} has the term {err.args[0]!r}, which is not in the index's tokenizer "
            "vocabulary: Qdrant's sparse vectors need its integer id (was the index built "
            "from vectors of another model?)"
        ) from None
    return {"indices": [i for i, _ in pairs], "values": [w for _, w in pairs]}


def bulk_record(doc: Document, number: int, settings: Settings, has_text: bool) -> str:
    """One point as a JSON line: ``{"id", "vector": {FIELD: {indices, values}}, "payload"}``."""
    payload: dict[str, Any] = {"docid": doc.docid}
    if has_text:
        payload.update(title=doc.title, text=doc.text)
    vector = {settings.field: sparse(doc.weights, settings, f"document {doc.docid!r}")}
    point = {"id": number, "vector": vector if doc.weights else {}, "payload": payload}
    return json.dumps(point, ensure_ascii=False) + "\n"


def request(settings: Settings) -> dict[str, str]:
    return {"method": "POST", "path": f"/collections/{settings.name}/points/query"}


def query_body(weights: dict[str, float], settings: Settings, k: int) -> dict[str, Any]:
    """``POST /collections/NAME/points/query`` body: the query's sparse vector."""
    if settings.modifier == "idf":  # Qdrant weighs each token by its own IDF
        weights = dict.fromkeys(weights, 1.0)
    query = sparse(weights, settings, "the query")
    return {"query": query, "using": settings.field, "limit": k, "with_payload": True}


def weights_at(settings: Settings) -> list[str]:
    """Where in the body the ``{indices, values}`` of the query go."""
    return ["query"]


def read_points(folder: Path, manifest: dict[str, Any]) -> Iterator[Any]:
    """The points of the bulk files as ``models.PointStruct``, counted against the manifest."""
    from qdrant_client import models

    for entry in manifest["bulk"]:
        path = folder / entry["file"]
        opener = gzip.open if path.name.endswith(".gz") else open
        count = 0
        with opener(path, "rt", encoding="utf-8") as handle:  # type: ignore[operator]
            for lineno, line in enumerate(handle, 1):
                try:
                    record = json.loads(line)
                    vectors = {
                        name: models.SparseVector(**vector)
                        for name, vector in record["vector"].items()
                    }
                    point = models.PointStruct(
                        id=record["id"], vector=vectors, payload=record["payload"]
                    )
                except (ValueError, KeyError, TypeError, AttributeError) as err:
                    raise BadValueError(f"{path}:{lineno}: not a point ({err})"[:300]) from None
                count += 1
                yield point
        if count != entry["docs"]:
            raise BadValueError(f"{path} holds {count} points, export.json says {entry['docs']}")


def connect(url: str | None = None, api_key: str | None = None, *, local: str | None = None,
            timeout: float = 60):  # fmt: skip
    """A ``QdrantClient`` of a server at `url`, or of qdrant-client's local mode in the
    folder `local` (``":memory:"``: in memory, gone with the process)."""
    qdrant_client = require("qdrant_client", "qdrant-client")
    if local is not None:
        if local == ":memory:":
            return qdrant_client.QdrantClient(location=":memory:")
        return qdrant_client.QdrantClient(path=str(local))
    return qdrant_client.QdrantClient(
        url=url, api_key=api_key or None, timeout=int(timeout), check_compatibility=False
    )


def push(
    manifest: dict[str, Any],
    folder: Path,
    url: str | None,
    *,
    local: str | None = None,
    client: Any = None,
    api_key: str | None = None,
    batch_size: int = 500,
    retries: int = 3,
    replace: bool = False,
    log=print,
) -> int:
    """Load an export into Qdrant (a server at `url`, or local mode in `local`); the count
    of points the collection then holds."""
    require("qdrant_client", "qdrant-client")
    from qdrant_client import models

    where = f"local Qdrant in {local}" if local is not None else shown_url(url or "")
    name, field = manifest["name"], manifest["field"]
    body = json.loads((folder / manifest["config"]).read_text(encoding="utf-8"))
    with _reaching(where):
        client = client if client is not None else connect(url, api_key, local=local)
        if client.collection_exists(name):
            if not replace:
                raise ClusterError(
                    f"the collection {name!r} already exists in {where}; nothing was changed; "
                    "pass --replace to delete it and load the export instead"
                )
            log(f"deleting the collection {name!r} in {where} (--replace)")
            client.delete_collection(name)
        params = body["sparse_vectors"][field]
        client.create_collection(
            name,
            vectors_config={},
            sparse_vectors_config={
                field: models.SparseVectorParams(modifier=models.Modifier(params["modifier"]))
            },
        )
        client.upload_points(
            name, read_points(folder, manifest), batch_size=batch_size, max_retries=retries,
            wait=True,
        )  # fmt: skip
        return int(client.count(name, exact=True).count)


class _reaching:
    """Qdrant client errors as one line naming where it was reaching."""

    def __init__(self, where: str) -> None:
        self.where = where

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, err, tb) -> bool:
        if err is None or isinstance(err, (ClusterError, BadValueError)):
            return False
        from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

        if isinstance(err, ResponseHandlingException):
            source = getattr(err, "source", err)
            text = (str(source).strip() or type(source).__name__).splitlines()[0][:200]
            raise ClusterError(
                f"cannot reach {self.where} ({text}): is the server running, and is the URL right?"
            ) from None
        if isinstance(err, UnexpectedResponse):
            if err.status_code in (401, 403):
                raise ClusterError(
                    f"{self.where} refused the credentials ({err.status_code}): check --api-key"
                ) from None
            content = err.content.decode("utf-8", "replace").strip()[:200]
            raise ClusterError(f"{self.where} answered {err.status_code}: {content}") from None
        if isinstance(err, RuntimeError) and "already accessed" in str(err):  # local mode's lock
            raise ClusterError(f"{self.where} is open in another process: {err}"[:300]) from None
        return False
