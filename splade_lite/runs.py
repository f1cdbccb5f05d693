"""A queries file searched into a TREC run: what ``splade-lite search --queries`` does.

Every query is read and checked before the first search (a bad line or an oversized query
fails at once, not after hours), the run file is never written over an input, and blank
queries stay in the count, matching nothing, so that no query goes missing.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from splade_lite.io import InputError, read_queries, write_trec_run

#: Queries handed to one `batch_search` call (progress is shown between calls).
STEP = 256


@dataclass(frozen=True)
class RunSummary:
    """What a queries-file search did."""

    queries: int
    blank: int  # queries with no text (kept in the run's count, matching nothing)
    unmatched: int  # other queries that matched no document
    seconds: float


def search_queries_file(
    searcher,
    queries_path: str | Path,
    out_file: str | Path,
    *,
    k: int = 1000,
    threads: int = 1,
    progress: bool = True,
) -> RunSummary:
    """Search every query of `queries_path` with `searcher` and write the TREC run `out_file`."""
    from tqdm.auto import tqdm

    from splade_lite.outputs import refuse_overlap

    queries_path, out_file = Path(queries_path), Path(out_file)
    refuse_overlap(out_file, [queries_path, searcher.index_dir])  # before the searches
    queries = read_queries(queries_path)
    if not queries:
        raise InputError(queries_path, None, "no queries in the file")
    try:
        searcher.check_queries([q.text for q in queries], [q.id for q in queries])
    except ValueError as err:
        raise InputError(queries_path, None, str(err)) from None
    started = time.perf_counter()
    results = []
    bar = tqdm(
        total=len(queries), unit="query", desc="searching", file=sys.stderr, disable=not progress
    )
    with bar:
        for start in range(0, len(queries), STEP):
            part = queries[start : start + STEP]
            hits = searcher.batch_search([q.text for q in part], k=k, threads=threads)
            results.extend((q.id, h) for q, h in zip(part, hits))
            bar.update(len(part))
    seconds = time.perf_counter() - started
    write_trec_run(out_file, results, tag=f"splade-lite-{searcher.mode}")
    blank = sum(1 for q in queries if not q.text.strip())
    unmatched = sum(1 for q, (_, hits) in zip(queries, results) if q.text.strip() and not hits)
    return RunSummary(len(queries), blank, unmatched, seconds)
