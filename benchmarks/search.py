"""Query latency and throughput: splade-lite against Lucene BM25 and Pyserini, same indexes.

For each collection, on the indexes `benchmarks/effectiveness.py` builds
(``WORK/<collection>/index-if`` and ``index-splade``, each with its BM25 index beside it):

* **single**: one query at a time, query encoding included, median and p99 ms at k=10 and
  k=1000. The systems take turns on every query (their order rotating), so a noisy
  neighbour slows all of them alike and the ratios stay fair. Systems:
  - ``bm25``: Lucene BM25 through splade-lite (the baseline of every ratio);
  - ``pyserini bm25``: Pyserini's ``LuceneSearcher.search`` on the same BM25 index;
  - ``inference-free``, ``hybrid inference-free``, ``splade``: ``splade_lite.Searcher``;
  - ``pyserini impact``: Pyserini's Python ``LuceneImpactSearcher.search`` on the
    inference-free index, given splade-lite's own query weights (so it ranks identically and
    only the search path differs), with ``min_idf=-1`` so it drops no term.
* **batch**: queries/s over all queries at k=10 (median of `--rounds` passes):
  splade-lite ``batch_search`` on 1..N Java threads against Pyserini's Python ``search``
  loop and Pyserini's own ``batch_search``.

Pyserini results are read the way a user reads them (each hit's ``docid`` and ``score``).

    python benchmarks/search.py [--work runs/collections] [--data ../shared/data]
        [--collections scifact nfcorpus cranfield medline] [--threads 1 2]
        [--out benchmarks/results/search.json]
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from common import collection_parser, write_report

KS = (10, 1000)


def percentile(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def single(systems: dict[str, Callable[[str, int], object]], texts: list[str], k: int) -> dict:
    """Median and p99 ms per query of each system, taking turns on every query."""
    names = list(systems)
    for text in texts:  # warm-up at this k: JIT, caches, lazily loaded encoders
        for name in names:
            systems[name](text, k)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i, text in enumerate(texts):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            systems[name](text, k)
            times[name].append((time.perf_counter() - started) * 1000)
    return {
        name: {
            "median_ms": round(statistics.median(ts), 4),
            "p99_ms": round(percentile(ts, 0.99), 4),
        }
        for name, ts in times.items()
    }


def throughput(run: Callable[[], object], n: int, rounds: int) -> float:
    """Queries per second of `run()` (which searches `n` queries), median of `rounds`."""
    run()  # warm-up
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        rates.append(n / (time.perf_counter() - started))
    return round(statistics.median(rates), 1)


def bench_collection(name: str, data: Path, work: Path, threads: list[int], rounds: int) -> dict:
    from pyserini.search.lucene import LuceneImpactSearcher, LuceneSearcher

    from splade_lite.search import Searcher
    from splade_lite.trec import read_queries

    idx_if, idx_splade = work / name / "index-if", work / name / "index-splade"
    for index in (idx_if, idx_splade):
        if not (index / "splade_lite.json").is_file():
            raise SystemExit(f"{index} is missing: run benchmarks/effectiveness.py first")
    texts = [q.text for q in read_queries(data / name / "queries.jsonl") if q.text.strip()]

    ours_bm25 = Searcher(idx_if, bm25=True)
    ours_if = Searcher(idx_if)
    ours_hybrid = Searcher(idx_if, hybrid=True)
    ours_splade = Searcher(idx_splade)

    class SpladeLiteQueries:
        """Pyserini query encoder that hands over splade-lite's own query weights."""

        def encode(self, text: str) -> dict[str, int]:
            return ours_if.query_terms([text])[0]

    their_bm25 = LuceneSearcher(str(idx_if / "bm25"))
    their_bm25.set_bm25(0.9, 0.4)
    their_impact = LuceneImpactSearcher(str(idx_if), SpladeLiteQueries(), min_idf=-1)

    def pyserini(searcher) -> Callable[[str, int], object]:
        return lambda text, k: [(h.docid, h.score) for h in searcher.search(text, k=k)]

    systems = {
        "bm25": lambda text, k: ours_bm25.search(text, k=k),
        "pyserini bm25": pyserini(their_bm25),
        "inference-free": lambda text, k: ours_if.search(text, k=k),
        "pyserini impact": pyserini(their_impact),
        "hybrid inference-free": lambda text, k: ours_hybrid.search(text, k=k),
        "splade": lambda text, k: ours_splade.search(text, k=k),
    }
    # same rankings on both paths: a check that the comparison is like for like
    for text in texts[:20]:
        mine = [h.docid for h in ours_if.search(text, k=10)]
        theirs = [h.docid for h in their_impact.search(text, k=10)]
        if mine != theirs:
            raise SystemExit(f"{name}: rankings differ for {text!r}: {mine} vs {theirs}")

    result: dict = {"collection": name, "queries": len(texts), "single": {}, "batch": {}}
    for k in KS:
        result["single"][f"k{k}"] = single(systems, texts, k)
        print(name, f"k={k}", result["single"][f"k{k}"], flush=True)

    ids = [str(i) for i in range(len(texts))]
    batch = {
        "pyserini impact, Python search loop": lambda: [
            [(h.docid, h.score) for h in their_impact.search(t, k=10)] for t in texts
        ],
        "pyserini impact, batch_search 2 threads": lambda: {
            q: [(h.docid, h.score) for h in hits]
            for q, hits in their_impact.batch_search(texts, ids, k=10, threads=2).items()
        },
    }
    for n in threads:
        batch[f"inference-free, batch_search {n} thread(s)"] = lambda n=n: ours_if.batch_search(
            texts, k=10, threads=n
        )
        batch[f"hybrid inference-free, batch_search {n} thread(s)"] = lambda n=n: (
            ours_hybrid.batch_search(texts, k=10, threads=n)
        )
        batch[f"bm25, batch_search {n} thread(s)"] = lambda n=n: ours_bm25.batch_search(
            texts, k=10, threads=n
        )
    for label, run in batch.items():
        result["batch"][label] = throughput(run, len(texts), rounds)
        print(name, label, result["batch"][label], "queries/s", flush=True)
    return result


def markdown(results: list[dict]) -> str:
    """The tables of docs/benchmarks.md: medians, p99 and ratios to BM25 / Pyserini."""
    lines = []
    for k in KS:
        lines += [
            f"Single queries, k={k}: median ms (p99), and the median's ratio to BM25",
            "",
            "| collection | bm25 | pyserini bm25 | inference-free | pyserini impact "
            "| hybrid inference-free | splade |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in results:
            row = r["single"][f"k{k}"]
            base = row["bm25"]["median_ms"]
            cells = [
                f"{v['median_ms']:.3f} ({v['p99_ms']:.2f}) {v['median_ms'] / base:.2f}×"
                for v in row.values()
            ]
            lines.append(f"| {r['collection']} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["Batches, k=10: queries/s (ratio to Pyserini's Python search loop)", ""]
    labels = list(results[0]["batch"])
    lines += ["| system | " + " | ".join(r["collection"] for r in results) + " |"]
    lines += ["|---|" + "---|" * len(results)]
    for label in labels:
        cells = []
        for r in results:
            base = r["batch"]["pyserini impact, Python search loop"]
            cells.append(f"{r['batch'][label]:.0f} ({r['batch'][label] / base:.1f}×)")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = collection_parser(__doc__, "search.json")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from splade_lite.indexer import start_jvm

    start_jvm()  # before pyserini is imported (see ../shared/notes/pyserini-1.6.md)
    results = [
        bench_collection(c, args.data, args.work, args.threads, args.rounds)
        for c in args.collections
    ]
    write_report(args.out, results)
    print(markdown(results))


if __name__ == "__main__":
    main()
