"""A queries file searched into a TREC run: what ``splade-lite search --queries`` does.

Every query is read and checked before the first search (a bad line or an oversized query
fails at once, not after hours), the run file is never written over an input, and blank
queries stay in the count, matching nothing, so that no query goes missing. The run is
tagged with the system that made it (:func:`run_tag`), so that runs can be told apart.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splade_lite.fusion import RRF_K
from splade_lite.io import InputError
from splade_lite.pruning import Pruning, default_pruning
from splade_lite.trec import read_queries, write_trec_run

#: Queries handed to one `batch_search` call (progress is shown between calls).
STEP = 256
#: Hits per query in a run file unless told (deep enough for R@100 and reranking).
RUN_K = 1000


@dataclass(frozen=True)
class RunSummary:
    """What a queries-file search did."""

    queries: int
    blank: int  # queries with no text (kept in the run's count, matching nothing)
    unmatched: int  # other queries that matched no document
    seconds: float
    #: The dense model's query encodings (``search --dense``): how many, the median
    #: milliseconds per query and the seconds in all; None without dense.
    dense_encoding: dict | None = None

    def report(self, out_file: str | Path) -> str:
        """The line ``search --queries`` prints when done."""
        notes = []
        if self.dense_encoding:
            enc = self.dense_encoding
            notes.append(
                f"dense query encoding: median {enc['median_ms']:.1f} ms per query, "
                f"{enc['total_s']:.2f} s in all"
            )
        if self.blank:
            notes.append(f"{_count(self.blank, 'query was', 'queries were')} empty")
        if self.unmatched:
            notes.append(f"{_count(self.unmatched, 'query', 'queries')} matched no document")
        return f"{self.queries} queries in {self.seconds:.2f} s -> {out_file}" + (
            f" ({'; '.join(notes)})" if notes else ""
        )


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def run_tag(searcher: Any) -> str:
    """The TREC run tag of `searcher`'s system: what ranks, then what changes the ranking.

    ``splade-lite-`` and the ranking (``splade``, ``inference-free``, ``bm25``); for a learned
    sparse ranking then ``-dmin0.3`` / ``-dmax64`` (documents pruned when indexed),
    ``-qmin1`` / ``-qmax16`` (query pruning other than the index's default: ``-qmin0`` keeps
    the terms the default IDF floor drops) and ``-fb3x10b0.1`` (feedback: documents, terms,
    beta); a hybrid ends with ``+bm25-interpolate-a0.5`` or ``+bm25-rrf`` (and ``-d30`` for a
    depth chosen, ``-k61`` for another RRF constant); a three-way hybrid with
    ``+bm25+dense-interpolate-max-w0.1,0.4,0.5`` (its normalisation and weights) or
    ``+bm25+dense-rrf``. Dense alone is ``splade-lite-dense``. A tag never holds whitespace.
    """
    parts = [str(searcher.ranking)]
    if searcher.ranking not in ("bm25", "dense"):
        doc = searcher.meta.get("doc_pruning")
        doc = doc if isinstance(doc, dict) else {}
        if doc.get("min_weight"):
            parts.append(f"dmin{_number(doc['min_weight'])}")
        if doc.get("max_terms") is not None:
            parts.append(f"dmax{doc['max_terms']}")
        chosen = searcher.pruning or Pruning()
        default = default_pruning(searcher.meta) or Pruning()
        if chosen.min_weight != default.min_weight:
            parts.append(f"qmin{_number(chosen.min_weight)}")
        if chosen.max_terms != default.max_terms:
            parts.append(f"qmax{chosen.max_terms or 'all'}")
        fb = searcher.feedback
        if fb is not None:
            parts.append(f"fb{fb.docs}x{fb.terms}b{_number(fb.beta)}")
    tag = "splade-lite-" + "-".join(parts)
    hybrid = searcher.hybrid
    if hybrid is not None:
        dense = bool(getattr(searcher, "dense", False))
        tag += f"+bm25+dense-{hybrid.fusion}" if dense else f"+bm25-{hybrid.fusion}"
        if hybrid.fusion == "interpolate" and dense:
            weights = ",".join(map(_number, hybrid.weights_for(searcher.mode)))
            tag += f"-{hybrid.dense_norm}-w{weights}"
        elif hybrid.fusion == "interpolate":
            tag += f"-a{_number(hybrid.alpha)}"
        if hybrid.depth is not None:
            tag += f"-d{hybrid.depth}"
        if hybrid.fusion == "rrf" and hybrid.rrf_k != RRF_K:
            tag += f"-k{hybrid.rrf_k}"
    # the metadata may be hand-edited: a tag is one column of the run file, whatever it holds
    return "".join(ch if ch.isprintable() and not ch.isspace() else "_" for ch in tag)


def _number(value: Any) -> str:
    """`value` as short as it reads back exactly (0.5, 1, 1e-05), for a run tag."""
    try:
        short = f"{value:g}"
        return short if float(short) == value else repr(float(value))
    except (TypeError, ValueError):
        return str(value)


def search_queries_file(
    searcher,
    queries_path: str | Path,
    out_file: str | Path,
    *,
    k: int = RUN_K,
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
    take_dense = getattr(searcher, "take_dense_seconds", lambda: [])
    take_dense()  # from here on: this run's encodings only
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
    encodings = take_dense()
    write_trec_run(out_file, results, tag=run_tag(searcher))
    blank = sum(1 for q in queries if not q.text.strip())
    unmatched = sum(1 for q, (_, hits) in zip(queries, results) if q.text.strip() and not hits)
    dense = None
    if encodings:
        dense = {
            "queries": len(encodings),
            "median_ms": round(1000 * statistics.median(encodings), 3),
            "total_s": round(sum(encodings), 3),
        }
    return RunSummary(len(queries), blank, unmatched, seconds, dense)
