"""Seismic against Lucene on the same integer queries: latency, top-10 overlap and nDCG@10.

For each index (SPLADE queries, and inference-free queries: two indexes of the same vectors
folder), the test queries are encoded once (``Searcher.query_terms``, the queries Lucene is
given, pruning included) and then searched, so query encoding is in no timing:

* ``lucene exact``: ``Searcher.batch_search_terms([query], 10)``, splade-lite's exact Lucene
  impact search, the reference of every overlap;
* ``seismic ...``: :class:`splade_lite.engines.seismic.SeismicIndex` built from the index
  folder's ``forward.npz`` (the documents as Lucene holds them), exact and approximate;
* ``seismic exact, bare call``: the Seismic call alone (no query mapping, rescoring or
  tie check), to show what the Python layer costs.

Per query: median and p99 ms, one thread, same process, after a warm-up pass; the systems
take turns on every query (order rotating) so that a noisy neighbour slows all alike.
Overlap: |top 10 ∩ Lucene's top 10| / |Lucene's top 10|; identical: the whole (docid, score)
list equals Lucene's. nDCG@10 with ir_measures (splade_lite.evaluate) on the qrels. Batch:
queries/s of one call for all queries on 1 and 2 threads. The report records the CPU.

    python benchmarks/engines.py --index INDEX --index-if INDEX_IF
        [--queries ../shared/data/scifact/queries.jsonl]
        [--qrels ../shared/data/scifact/qrels/test.tsv] [--work /tmp/engines]
        [--rounds 3] [--out benchmarks/results/engines.json]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from common import ROOT, write_report

from splade_lite.engines.seismic import (
    SeismicIndex,
    SeismicSearch,
    SeismicSettings,
    build_seismic,
)
from splade_lite.evaluate import evaluate
from splade_lite.search import Searcher
from splade_lite.trec import read_qrels, read_queries

K = 10
CONFIGS = {
    "seismic exact": SeismicSearch.exact(),
    "seismic all terms, heap 1.0": SeismicSearch(query_cut=None, heap_factor=1.0),
    "seismic cut 20, heap 0.9": SeismicSearch(query_cut=20, heap_factor=0.9),
    "seismic cut 10, heap 0.9 (default)": SeismicSearch(),
    "seismic cut 10, heap 0.7": SeismicSearch(query_cut=10, heap_factor=0.7),
    "seismic cut 5, heap 0.8": SeismicSearch(query_cut=5, heap_factor=0.8),
}


def percentile(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latencies(systems: dict[str, Callable], queries: list, rounds: int) -> dict[str, list]:
    """ms per query of each system, the systems taking turns on every query."""
    names = list(systems)
    for query in queries:  # warm-up: JIT, caches, page faults of the mapped files
        for name in names:
            systems[name](query)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for i, query in enumerate(queries):
            shift = (i + r) % len(names)
            for name in names[shift:] + names[:shift]:
                started = time.perf_counter()
                systems[name](query)
                times[name].append((time.perf_counter() - started) * 1000)
    return times


def bench_index(
    index_dir: Path,
    work: Path,
    qids: list,
    texts: list,
    qrels,
    rounds: int,
    n_postings: int | None = None,
) -> dict:
    searcher = Searcher(index_dir, engine="lucene")
    started = time.perf_counter()
    terms = searcher.query_terms(texts)
    encode_s = time.perf_counter() - started
    cut = "" if n_postings is None else f"-n{n_postings}"
    engine_dir = work / f"seismic-{index_dir.name}{cut}"
    started = time.perf_counter()
    settings = SeismicSettings(n_postings=n_postings)
    meta = build_seismic(index_dir, engine_dir, settings, progress=False, overwrite=True)
    build_s = time.perf_counter() - started
    engine = SeismicIndex.open(engine_dir)

    def bare(query: dict[str, int]) -> object:
        prepared = engine._prepare(query)  # outside the timing below, which is the call alone
        return lambda: engine._index.search(
            "0", prepared.comps, prepared.vals, 2 * K, len(prepared.comps), 0.0
        )

    bare_calls = {id(q): bare(q) for q in terms}
    systems: dict[str, Callable] = {
        "lucene exact": lambda q: searcher.batch_search_terms([q], K)[0],
        **{
            name: (lambda q, s=s: engine.retrieve([q], K, search=s)[0])
            for name, s in CONFIGS.items()
        },
        "seismic exact, bare call": lambda q: bare_calls[id(q)](),
    }
    times = latencies(systems, terms, rounds)
    lucene = [
        [(h.docid, int(h.score)) for h in hits] for hits in searcher.batch_search_terms(terms, K)
    ]
    results: dict[str, dict] = {}
    for name, ts in times.items():
        row = {
            "median_ms": round(statistics.median(ts), 4),
            "p99_ms": round(percentile(ts, 0.99), 4),
        }
        if name in CONFIGS or name == "lucene exact":
            ranked = (
                lucene
                if name == "lucene exact"
                else engine.retrieve(terms, K, search=CONFIGS[name])
            )
            overlaps = [
                len({d for d, _ in a} & {d for d, _ in b}) / len(b)
                for a, b in zip(ranked, lucene)
                if b
            ]
            run = {qid: hits for qid, hits in zip(qids, ranked)}
            row |= {
                "overlap@10": round(statistics.mean(overlaps), 4),
                "identical_rankings": sum(a == b for a, b in zip(ranked, lucene)),
                "nDCG@10": round(evaluate(run, qrels, "nDCG@10")["nDCG@10"], 4),
            }
        results[name] = row
        print(index_dir.name, name, row, flush=True)
    batch = {}
    for n in (1, 2):
        for name, run in (
            ("lucene exact", lambda n=n: searcher.batch_search_terms(terms, K, threads=n)),
            ("seismic exact", lambda n=n: engine.retrieve(terms, K, threads=n)),
            (
                "seismic default",
                lambda n=n: engine.retrieve(terms, K, threads=n, search=SeismicSearch()),
            ),
        ):
            run()
            rates = []
            for _ in range(rounds):
                started = time.perf_counter()
                run()
                rates.append(len(terms) / (time.perf_counter() - started))
            batch[f"{name}, {n} thread(s)"] = round(statistics.median(rates), 1)
    print(index_dir.name, "batch queries/s", batch, flush=True)
    return {
        "index": str(index_dir),
        "mode": searcher.mode,
        "queries": len(terms),
        "query_terms_mean": round(statistics.mean(len(q) for q in terms), 1),
        "query_encoding_s": round(encode_s, 2),
        "seismic_build_s": round(build_s, 2),
        "seismic_bytes": sum(f["bytes"] for f in meta["files"].values()),
        "seismic": {
            k: meta[k]
            for k in (
                "num_docs",
                "num_indexed",
                "num_components",
                "longest_posting_list",
                "max_impact",
                "settings",
            )
        },
        "single": results,
        "batch_qps": batch,
    }


def main() -> None:
    data = ROOT.parent / "shared" / "data" / "scifact"
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    parser.add_argument("--index", type=Path, required=True, help="index of SPLADE queries")
    parser.add_argument("--index-if", type=Path, help="index of inference-free queries")
    parser.add_argument("--queries", type=Path, default=data / "queries.jsonl")
    parser.add_argument("--qrels", type=Path, default=data / "qrels" / "test.tsv")
    parser.add_argument("--work", type=Path, default=Path("/tmp/engines"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--n-postings",
        type=int,
        nargs="*",
        default=[],
        help="also build Seismic with each term's list cut to about this many postings "
        "(approximate only; the default build keeps every posting)",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "engines.json"
    )
    args = parser.parse_args()
    qrels = read_qrels(args.qrels)
    queries = [q for q in read_queries(args.queries) if q.id in qrels and q.text.strip()]
    qids, texts = [q.id for q in queries], [q.text for q in queries]
    results = [
        bench_index(i, args.work, qids, texts, qrels, args.rounds, n)
        for i in (args.index, args.index_if)
        if i
        for n in [None, *args.n_postings]
    ]
    write_report(
        args.out,
        results,
        k=K,
        pyseismic_lsr=metadata.version("pyseismic-lsr"),
        queries=str(args.queries),
        qrels=str(args.qrels),
    )


if __name__ == "__main__":
    main()
