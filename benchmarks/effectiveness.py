"""Effectiveness and cost of BM25, SPLADE and inference-free search on BEIR-layout collections.

Every step runs through the `splade-lite` command line, as a user would run it:

    encode -> index (SPLADE queries, with the BM25 index beside it) -> index --mode
    inference-free (same vectors) -> search --queries -> evaluate --json

then query latency is measured in one process per index with the Python API (median and p99
over the collection's queries, one query at a time, query encoding included, after one
warm-up pass over the same queries at the same k).

    python benchmarks/effectiveness.py [--data ../shared/data] [--work runs/collections]
        [--collections scifact nfcorpus ...] [--out benchmarks/results/collections.json]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import collection_parser, write_report

CLI = [sys.executable, "-m", "splade_lite.cli"]


def run(args: list[str], capture: bool = False) -> tuple[float, str]:
    """Run a splade-lite command; return its wall time and (if asked) its stdout."""
    started = time.perf_counter()
    proc = subprocess.run(CLI + args, check=True, text=True, capture_output=capture)
    return time.perf_counter() - started, proc.stdout if capture else ""


def SYSTEMS(idx_splade: Path, idx_if: Path) -> list[tuple[str, Path, list[str]]]:
    """(name, index, search flags) of every system compared, all with default settings."""
    return [
        ("bm25", idx_splade, ["--bm25"]),
        ("splade", idx_splade, []),
        ("inference-free", idx_if, []),
        ("hybrid splade", idx_splade, ["--hybrid"]),
        ("hybrid inference-free", idx_if, ["--hybrid"]),
        ("feedback splade", idx_splade, ["--feedback"]),
        ("feedback inference-free", idx_if, ["--feedback"]),
        ("hybrid+feedback splade", idx_splade, ["--hybrid", "--feedback"]),
        ("hybrid+feedback inference-free", idx_if, ["--hybrid", "--feedback"]),
    ]


def latency(index: Path, queries: list[str], flags: list[str], ks=(10, 1000)) -> dict:
    """Per-query latency in ms (median, p99) at each k, with the Python API, after warm-up."""
    from splade_lite.search import Searcher

    searcher = Searcher(
        index, bm25="--bm25" in flags, hybrid="--hybrid" in flags, feedback="--feedback" in flags
    )
    out = {}
    for k in ks:
        for q in queries:  # warm-up pass at this k: Java's JIT, model load, caches
            searcher.search(q, k=k)
        times = []
        for q in queries:
            t = time.perf_counter()
            searcher.search(q, k=k)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        out[f"k{k}_median_ms"] = round(statistics.median(times), 3)
        out[f"k{k}_p99_ms"] = round(times[min(len(times) - 1, int(0.99 * len(times)))], 3)
    return out


def bench_collection(name: str, data: Path, work: Path) -> dict:
    from splade_lite.trec import read_queries

    src, dst = data / name, work / name
    corpus, queries, qrels = src / "corpus.jsonl", src / "queries.jsonl", src / "qrels/test.tsv"
    dst.mkdir(parents=True, exist_ok=True)
    vectors, idx_splade, idx_if = dst / "vectors", dst / "index-splade", dst / "index-if"
    result: dict = {"collection": name}

    if not (vectors / "vectors.json").is_file():
        # --resume: a run killed part-way carries on where it stopped
        command = ["encode", str(corpus), "--out", str(vectors), "--resume"]
        result["encode_wall_s"] = round(run(command)[0], 1)
    vmeta = json.loads((vectors / "vectors.json").read_text())
    result["docs"] = vmeta["num_docs"]
    result["encode_docs_per_s"] = vmeta["docs_per_second"]
    result["postings_per_doc"] = round(vmeta["num_postings"] / vmeta["num_docs"], 1)

    wall, _ = run(
        [
            "index",
            str(vectors),
            "--out",
            str(idx_splade),
            "--overwrite",
            "--bm25-corpus",
            str(corpus),
        ]
    )
    meta = json.loads((idx_splade / "splade_lite.json").read_text())
    result["index_wall_s"] = round(wall, 1)
    result["impact_build_s"] = meta["build_seconds"]
    result["bm25_build_s"] = meta["bm25"]["seconds"]
    result["impact_index_mb"] = round(meta["lucene_bytes"] / 1e6, 2)
    result["bm25_index_mb"] = round(meta["bm25"]["bytes"] / 1e6, 2)
    run(["index", str(vectors), "--out", str(idx_if), "--overwrite", "--mode", "inference-free",
         "--bm25-corpus", str(corpus)])  # fmt: skip

    systems = {name: (idx, flags) for name, idx, flags in SYSTEMS(idx_splade, idx_if)}
    texts = [q.text for q in read_queries(queries)]
    for system, (index, flags) in systems.items():
        run_file = dst / f"{system}.trec"
        wall, _ = run(
            [
                "search",
                str(index),
                "--queries",
                str(queries),
                "--run",
                str(run_file),
                "--k",
                "1000",
                *flags,
            ]
        )
        _, scores = run(["evaluate", str(run_file), "--qrels", str(qrels), "--json"], capture=True)
        result[system] = {
            **{m: round(v, 4) for m, v in json.loads(scores).items()},
            "search_wall_s": round(wall, 2),
            **latency(index, texts, flags),
        }
        print(name, system, result[system], flush=True)
    return result


def main() -> None:
    args = collection_parser(__doc__, "collections.json").parse_args()
    results = [bench_collection(c, args.data, args.work) for c in args.collections]
    write_report(args.out, results)
    print(markdown(results))


def markdown(results: list[dict]) -> str:
    lines = [
        "| collection | system | nDCG@10 | R@100 | RR@10 | AP | ms/query k=10 (p99) | "
        "ms/query k=1000 (p99) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for system in [name for name, _, _ in SYSTEMS(Path(), Path())]:
            if system not in r:
                continue
            s = r[system]
            lines.append(
                f"| {r['collection']} | {system} | {s['nDCG@10']:.3f} | {s['R@100']:.3f} | "
                f"{s['RR@10']:.3f} | {s['AP']:.3f} | {s['k10_median_ms']:.2f} "
                f"({s['k10_p99_ms']:.1f}) | {s['k1000_median_ms']:.2f} ({s['k1000_p99_ms']:.1f}) |"
            )
    lines += [
        "",
        "| collection | docs | encode docs/s | postings/doc | impact build s | impact MB | "
        "impact bytes/doc | BM25 build s | BM25 MB | BM25 bytes/doc | impact / BM25 size |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        impact, bm25 = r["impact_index_mb"] * 1e6, r["bm25_index_mb"] * 1e6
        lines.append(
            f"| {r['collection']} | {r['docs']} | {r['encode_docs_per_s']} | "
            f"{r['postings_per_doc']} | {r['impact_build_s']} | {r['impact_index_mb']} | "
            f"{impact / r['docs']:.0f} | {r['bm25_build_s']} | {r['bm25_index_mb']} | "
            f"{bm25 / r['docs']:.0f} | {impact / bm25:.1f}× |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
