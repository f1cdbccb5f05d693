"""Where an encode run's documents are encoded: in this process, in spawned worker
processes (:mod:`splade_lite.encoders.parallel`) or in Ray actors
(:mod:`splade_lite.encoders.ray_pool`).

Whatever the pool, the run's own process reads the corpus and writes every file; a pool only
turns chunks of texts into vectors, in order, so its output is a single process's.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from typing import Any

from splade_lite.errors import BadValueError
from splade_lite.io import Doc

#: The `ray` value that starts a local Ray cluster on this machine.
LOCAL_RAY = "local"
#: What `ray` may be: ``local``, ``auto``, or a cluster's ``[ray://]host:port``.
_RAY_ADDRESS = re.compile(r"local|auto|(ray://)?[\w.\-]+:\d+|(ray://)?\[[0-9a-fA-F:]+\]:\d+")


def open_pool(
    stack: ExitStack,
    encoder: Any,
    *,
    workers: int = 1,
    ray: str | None = None,
    ray_actors: int | None = None,
    ray_gpus: float | None = None,
    log=None,
) -> Any:
    """`encoder`, or a pool over it that `stack` closes: `workers` > 1 spawned processes, or
    Ray actors when `ray` is given (``"local"``: a local cluster; else a cluster's address)."""
    check_pool(workers, ray, ray_actors, ray_gpus)
    if ray is None:
        if workers == 1:
            return encoder
        from splade_lite.encoders.parallel import ParallelEncoder

        return stack.enter_context(ParallelEncoder(encoder, workers))
    from splade_lite.encoders.ray_pool import RayEncoder

    address = None if ray == LOCAL_RAY else ray.strip()
    if log:
        log(f"starting the Ray pool ({'a local cluster' if address is None else address})")
    pool = stack.enter_context(
        RayEncoder(encoder, actors=ray_actors, address=address, num_gpus=ray_gpus)
    )
    if log:
        record = pool.record
        log(
            f"Ray: {record['actors']} actor(s) of {record['threads']} thread(s)"
            + (f" and {record['num_gpus']:g} GPU" if record["num_gpus"] else "")
            + f" on {', '.join(record['hosts'])}"
        )
    return pool


def check_pool(
    workers: int = 1,
    ray: str | None = None,
    ray_actors: int | None = None,
    ray_gpus: float | None = None,
) -> None:
    """Refuse, before anything starts, what :func:`open_pool` could not open: both kinds of
    pool at once, Ray settings without Ray, a blank address."""
    if workers < 1:
        raise BadValueError(f"workers must be at least 1, got {workers}")
    if ray is None:
        if ray_actors is not None or ray_gpus is not None:
            raise BadValueError("ray_actors and ray_gpus set the Ray pool: they need ray")
        return
    if workers > 1:
        raise BadValueError("encode either in worker processes or on Ray, not both")
    if not isinstance(ray, str) or not _RAY_ADDRESS.fullmatch(ray.strip()):
        raise BadValueError(
            f"ray must be {LOCAL_RAY!r}, 'auto' or a Ray cluster's address (host:port, "
            f"ray://host:port), got {ray!r}"
        )


def pool_record(encoder: Any) -> dict:
    """What ``vectors.json`` records of the pool that ran (never compared on resume)."""
    from splade_lite.encoders.ray_pool import RayEncoder  # cheap: Ray itself loads on use

    return {"ray": encoder.record} if isinstance(encoder, RayEncoder) else {}


def chunks(docs: Iterable[Doc], size: int) -> Iterator[list[Doc]]:
    """`docs` in lists of `size` (the last one shorter)."""
    chunk: list[Doc] = []
    for doc in docs:
        chunk.append(doc)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def encoded(encoder: Any, doc_chunks: Iterable[list[Doc]]) -> Iterator[tuple[list[Doc], list]]:
    """Each chunk with its vectors, in order; a pool (an encoder with ``encode_chunks``) is
    given the next chunks while this process writes the earlier ones."""
    encode_chunks = getattr(encoder, "encode_chunks", None)
    if encode_chunks is None:
        for chunk in doc_chunks:
            yield chunk, encoder.encode_documents([d.full_text for d in chunk])
        return
    given: deque[list[Doc]] = deque()

    def texts() -> Iterator[list[str]]:
        for chunk in doc_chunks:
            given.append(chunk)
            yield [d.full_text for d in chunk]

    for vectors in encode_chunks(texts()):
        yield given.popleft(), vectors
