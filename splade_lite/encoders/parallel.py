"""Document encoding in several processes, each with its own copy of the model.

Workers start with the *spawn* method, never fork: a forked child inherits a running JVM or
OpenMP thread pool in a broken state and can hang. Each worker loads the model once and uses
cores / workers torch threads. Work is handed out a whole chunk at a time, and a worker
encodes a chunk exactly as :meth:`SpladeEncoder.encode` does in one process (same batches,
same order), so the vectors are the same; chunks come back in the order they were given, with
at most ``2 × workers`` in flight, so memory does not grow with the corpus.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from splade_lite.errors import BadValueError
from splade_lite.vectors import SparseVector

_WORKER_ENCODER: Any = None


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _start_worker(model: str, options: dict, threads: int) -> None:
    """Runs once in each worker: set its threads, load its encoder."""
    global _WORKER_ENCODER
    import torch

    from splade_lite.encoders.splade import SpladeEncoder

    torch.set_num_threads(threads)
    _WORKER_ENCODER = SpladeEncoder(model, **options)


def _encode_in_worker(texts: list[str]) -> list[SparseVector]:
    from splade_lite.encoders.backends import release_free_memory

    try:
        return _WORKER_ENCODER.encode(texts)
    finally:
        release_free_memory()


class ParallelEncoder:
    """Encodes documents like `encoder` does, in `workers` spawned processes.

    `encoder` (a loaded :class:`SpladeEncoder` or :class:`InferenceFreeEncoder`) stays in this
    process for its tokenizer, vocabulary and settings; queries are encoded by it here.
    Use as a context manager, or call :meth:`close`, to stop the workers.
    """

    def __init__(self, encoder: Any, workers: int, threads: int | None = None) -> None:
        if workers < 1:
            raise BadValueError(f"workers must be at least 1, got {workers}")
        documents = getattr(encoder, "documents", encoder)  # the SPLADE side of any mode
        if documents.device.type != "cpu":
            raise BadValueError("workers share out CPU cores; on a GPU encode in one process")
        self.encoder = encoder
        self.workers = workers
        self.threads = threads or max(1, available_cores() // workers)
        for attr in ("name", "source", "mode", "max_length", "batch_size", "device", "terms"):
            setattr(self, attr, getattr(encoder, attr))
        self.tokenizer = encoder.tokenizer
        self.backend = getattr(documents, "backend", "torch")
        options = {
            "max_length": documents.max_length,
            "batch_size": documents.batch_size,
            "device": str(documents.device),
            "vocab_block": documents.vocab_block,
            "backend": self.backend,
        }
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(documents.name, options, self.threads),
        )

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVector]:
        """One chunk, encoded by one worker (use :meth:`encode_chunks` to keep all busy)."""
        return self._pool.submit(_encode_in_worker, list(texts)).result()

    def encode_queries(self, texts: Sequence[str]) -> list[SparseVector]:
        return self.encoder.encode_queries(texts)

    def encode_chunks(self, chunks: Iterable[list[str]]) -> Iterator[list[SparseVector]]:
        """The vectors of each chunk of texts, in order, encoded by the workers in parallel."""
        pending: deque[Future] = deque()
        try:
            for texts in chunks:
                pending.append(self._pool.submit(_encode_in_worker, list(texts)))
                if len(pending) >= 2 * self.workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        """Stop the workers (what was not yet encoded is dropped)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ParallelEncoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
