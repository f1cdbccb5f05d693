"""Hybrid depth: nDCG@10 and latency of a k=10 hybrid search as the depth of each list varies.

A hybrid query fuses the top `depth` of the learned sparse list and of the BM25 list, so its
cost is about that of two depth-`depth` searches. For each collection and mode this script
runs ``Searcher(index, hybrid=Hybrid(depth=d)).batch_search(queries, k=10)`` (as a user
asking for a top 10 does), scores nDCG@10 with ir-measures against the test qrels, and times
single inference-free hybrid queries at each depth against BM25 at k=10 in the same loop
(systems take turns on every query, so load slows all alike). The loop also holds plain
inference-free search, and both with the query tokenized and weighted in Python instead of
Java, to show what building the query in Java saves.

The default depth was chosen on SciFact alone; the other collections are held out.

    python benchmarks/hybrid_depth.py [--collections scifact nfcorpus cranfield medline]
        [--depths 20 30 50 100] [--rounds 3] [--warmup 5] [--work runs/collections]
        [--data ../shared/data]
        [--out benchmarks/results/hybrid_depth.json]

Needs the indexes made by benchmarks/effectiveness.py.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from common import collection_parser, write_report

MODES = {"inference-free": "index-if", "splade": "index-splade"}


def effectiveness(index: Path, ids: list[str], texts: list[str], qrels, depths) -> dict:
    """nDCG@10 of the k=10 hybrid at each depth."""
    from splade_lite.evaluate import evaluate
    from splade_lite.search import Hybrid, Searcher

    out = {}
    for depth in depths:
        searcher = Searcher(index, hybrid=Hybrid(depth=depth))
        lists = searcher.batch_search(texts, k=10, threads=2)
        run = {qid: {h.docid: h.score for h in hits} for qid, hits in zip(ids, lists)}
        out[depth] = round(evaluate(run, qrels, ("nDCG@10",))["nDCG@10"], 4)
    return out


def latency(index: Path, texts: list[str], depths, rounds: int, warmup: int) -> dict:
    """Median ms of one inference-free hybrid query per depth and of BM25, k=10."""
    from splade_lite.fusion import DEFAULT_DEPTHS
    from splade_lite.search import Hybrid, Searcher

    systems = {"bm25": Searcher(index, bm25=True).search}
    for depth in depths:
        systems[f"depth {depth}"] = Searcher(index, hybrid=Hybrid(depth=depth)).search
    # the default depth with the query tokenized and weighted in Python, not Java
    in_python = Searcher(
        index, hybrid=Hybrid(depth=DEFAULT_DEPTHS["inference-free"]), java_queries=False
    )
    systems["default, query in Python"] = in_python.search
    plain = Searcher(index)
    systems["inference-free"] = plain.search
    plain_python = Searcher(index, java_queries=False)
    systems["inference-free, query in Python"] = plain_python.search
    names = list(systems)
    for _ in range(warmup):  # JIT (it keeps speeding Java up over several passes), caches
        for text in texts:
            for name in names:
                systems[name](text, 10)
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        for i, text in enumerate(texts):
            shift = i % len(names)
            for name in names[shift:] + names[:shift]:
                started = time.perf_counter()
                systems[name](text, 10)
                times[name].append((time.perf_counter() - started) * 1000)
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    return {
        name: {"median_ms": round(m, 4), "vs_bm25": round(m / medians["bm25"], 2)}
        for name, m in medians.items()
    }


def main() -> None:
    from splade_lite.trec import read_qrels, read_queries

    parser = collection_parser(__doc__, "hybrid_depth.json")
    parser.add_argument("--depths", nargs="+", type=int, default=[20, 30, 50, 100])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=5, help="passes before timing")
    args = parser.parse_args()

    results = []
    for name in args.collections:
        queries = read_queries(args.data / name / "queries.jsonl")
        qrels = read_qrels(args.data / name / "qrels" / "test.tsv")
        queries = [q for q in queries if q.id in qrels]
        ids, texts = [q.id for q in queries], [q.text for q in queries]
        row = {"collection": name, "queries": len(ids), "nDCG@10": {}}
        for mode, folder in MODES.items():
            row["nDCG@10"][mode] = effectiveness(
                args.work / name / folder, ids, texts, qrels, args.depths
            )
            print(name, mode, row["nDCG@10"][mode], flush=True)
        row["latency_k10"] = latency(
            args.work / name / MODES["inference-free"], texts, args.depths, args.rounds, args.warmup
        )
        print(name, row["latency_k10"], flush=True)
        results.append(row)
    write_report(args.out, results, command="python benchmarks/hybrid_depth.py")
    print(markdown(results, args.depths))


def markdown(results: list[dict], depths: list[int]) -> str:
    head = " | ".join(f"depth {d}" for d in depths)
    lines = [f"| collection, mode | {head} |", "|---" * (len(depths) + 1) + "|"]
    for row in results:
        for mode, scores in row["nDCG@10"].items():
            cells = " | ".join(f"{scores[d]:.3f}" for d in depths)
            lines.append(f"| {row['collection']}, {mode} | {cells} |")
    lines += ["", f"| inference-free hybrid, k=10: median ms (vs BM25) | {head} |"]
    lines.append("|---" * (len(depths) + 1) + "|")
    for row in results:
        lat = row["latency_k10"]
        cells = " | ".join(
            f"{lat[f'depth {d}']['median_ms']:.3f} ({lat[f'depth {d}']['vs_bm25']:.2f}×)"
            for d in depths
        )
        lines.append(f"| {row['collection']} (BM25 {lat['bm25']['median_ms']:.3f}) | {cells} |")
    others = [n for n in results[0]["latency_k10"] if n != "bm25" and not n.startswith("depth")]
    lines += ["", "| same loop, k=10: median ms (vs BM25) | " + " | ".join(others) + " |"]
    lines.append("|---" * (len(others) + 1) + "|")
    for row in results:
        lat = row["latency_k10"]
        cells = " | ".join(f"{lat[n]['median_ms']:.3f} ({lat[n]['vs_bm25']:.2f}×)" for n in others)
        lines.append(f"| {row['collection']} | {cells} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
