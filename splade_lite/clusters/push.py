"""An export folder -> the cluster it was made for, checked by count.

``push`` trusts the folder only as far as its manifest (``export.json``) goes: the target,
the index or collection name, the field, and every bulk file with the documents it holds,
each read and counted again on the way. The index or collection is created (an existing one is
refused, or with `replace` deleted first), the documents go in batches through the client's
own bulk helper with its retries, and the count the cluster then holds must be the manifest's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splade_lite.clusters import layout
from splade_lite.clusters.common import ClusterError, shown_url
from splade_lite.clusters.export import target_module
from splade_lite.errors import BadValueError

DEFAULT_BATCH_SIZE = 500
DEFAULT_RETRIES = 3


@dataclass(frozen=True)
class PushResult:
    """What a push loaded, where, and the count the cluster holds afterwards."""

    target: str
    name: str
    where: str
    num_docs: int
    count: int
    seconds: float


def push_export(
    folder: str | Path,
    url: str | None = None,
    *,
    local: str | Path | None = None,
    api_key: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    retries: int = DEFAULT_RETRIES,
    replace: bool = False,
    client: Any = None,
    log: Callable[[str], None] | None = None,
) -> PushResult:
    """Load the export in `folder` into the cluster at `url` (or, for Qdrant, into
    qdrant-client's local mode in the folder `local`).

    `client`: a client made by the caller (its own authentication, TLS or transport),
    used instead of one made from `url`. `batch_size` documents go per bulk request, each
    retried `retries` times. Raises :class:`ClusterError` when the cluster then holds another
    number of documents than the export.
    """
    say = log or (lambda _msg: None)
    folder = Path(folder)
    manifest = layout.read_manifest(folder)
    target = manifest["target"]
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise BadValueError(f"batch size must be a whole number >= 1, got {batch_size!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise BadValueError(f"retries must be a whole number >= 0, got {retries!r}")
    if local is not None and target != "qdrant":
        raise BadValueError(f"{folder} is an export for {target}: a local folder is Qdrant's only")
    if local is not None and url is not None:
        raise BadValueError("give a URL or a local Qdrant folder, not both")
    if url is None and local is None and client is None:
        raise BadValueError("give the URL of the cluster to load into")
    where = f"local Qdrant in {local}" if local is not None else shown_url(url or "the client")
    module = target_module(target)
    say(f"loading {manifest['num_docs']} documents into {target} {manifest['name']!r} at {where}")
    started = time.perf_counter()
    options: dict[str, Any] = dict(client=client, api_key=api_key, batch_size=batch_size,
                                   retries=retries, replace=replace, log=say)  # fmt: skip
    if target == "qdrant":
        options["local"] = None if local is None else str(local)
    count = module.push(manifest, folder, url or "the client's cluster", **options)
    if count != manifest["num_docs"]:
        raise ClusterError(
            f"{target} {manifest['name']!r} at {where} holds {count} documents after the load, "
            f"but the export has {manifest['num_docs']}: another writer, or documents refused "
            "without an error; load it again with --replace"
        )
    seconds = time.perf_counter() - started
    say(f"{count} documents in {target} {manifest['name']!r} at {where} ({seconds:.1f} s)")
    return PushResult(target, manifest["name"], where, manifest["num_docs"], count, seconds)
