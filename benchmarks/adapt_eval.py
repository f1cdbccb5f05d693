"""Effectiveness of an adapted model (``splade-lite adapt``) on one collection, as a user gets it.

The adapted model encodes the corpus (``encode --max-length 256``, as the starting point's
vectors were made), the vectors are indexed in both modes with BM25 beside them, and the
collection's test queries are searched at k = 1,000:

- inference-free and SPLADE mode alone, and each fused with BM25 (the default hybrid, at
  the depth ``search --hybrid --k 1000`` fuses);
- inference-free + BM25 + dense (all-MiniLM-L6-v2), the three-way fusion chosen on SciFact
  (max-scaled, weights 0.1 / 0.4 / 0.5, depth 100), with the BM25 and dense lists taken
  from the caches of ``benchmarks/dense_hybrid.py`` (they do not depend on the model).

Scored with ir-measures (``splade_lite.evaluate``). One JSON row per run is appended to
``--out`` (a JSON-lines file), so runs made at different times sit in one table.

    python benchmarks/adapt_eval.py --model runs/adapt/RUN --collection scifact \
        [--name RUN] [--work runs/adapt/eval] [--out benchmarks/results/adapt.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import ndcg_at_10, ranked

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "splade_lite.cli"]
DEPTH = 1000
THREE_WAY = {"norm": "max", "weights": (0.1, 0.4, 0.5), "depth": 100}


def cli(*args: str) -> float:
    began = time.perf_counter()
    subprocess.run([*CLI, *args], check=True)
    return time.perf_counter() - began


def dense_lists(cache: Path, texts: list[str]) -> list:
    """Exact top-1000 of MiniLM over the cached corpus embeddings, for each query."""
    from splade_lite.encoders.dense import embed, load_dense_model

    ids = json.loads((cache / "dense-minilm-ids.json").read_text())
    matrix = np.load(cache / "dense-minilm.npy")
    queries = embed(load_dense_model("minilm", "cpu"), texts, "query", 32)
    return ranked(ids, queries @ matrix.T, DEPTH)


def main() -> None:
    os.environ.setdefault("OPENAI_API_KEY", "unused")
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--collection", required=True)
    parser.add_argument("--name", help="name of the run in the table [the model folder's]")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=ROOT / "runs" / "collections")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "adapt" / "eval")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/adapt.jsonl")
    parser.add_argument("--max-length", type=int, default=256)
    args = parser.parse_args()

    from splade_lite.fusion import interpolate, weighted
    from splade_lite.search import Searcher
    from splade_lite.trec import read_qrels, read_queries

    name = args.name or Path(args.model).name
    src, work = args.data / args.collection, args.work / args.collection / name
    corpus = src / "corpus.jsonl"
    vectors = work / "vectors"
    row: dict = {"run": name, "model": str(args.model), "collection": args.collection}
    if not (vectors / "vectors.json").is_file():
        row["encode_s"] = round(cli("encode", str(corpus), "--model", str(args.model),
                                    "--max-length", str(args.max_length), "--out",
                                    str(vectors), "--resume", "--quiet"), 1)  # fmt: skip
    vmeta = json.loads((vectors / "vectors.json").read_text())
    row["postings_per_doc"] = round(vmeta["num_postings"] / vmeta["num_docs"], 1)
    for mode in ("inference-free", "splade"):
        index = work / f"index-{mode}"
        if not (index / "splade_lite.json").is_file():
            cli("index", str(vectors), "--out", str(index), "--mode", mode,
                "--bm25-corpus", str(corpus), "--overwrite", "--quiet")  # fmt: skip

    queries = read_queries(src / "queries.jsonl")
    qrels = read_qrels(src / "qrels" / "test.tsv")
    qids, texts = [q.id for q in queries], [q.text for q in queries]

    def ndcg(lists: list) -> float:
        return ndcg_at_10(qids, qrels, lists, DEPTH)

    bm25 = json.loads((args.cache / args.collection / "lists-bm25.json").read_text())
    dense = dense_lists(args.cache / args.collection, texts)
    for mode in ("inference-free", "splade"):
        searcher = Searcher(work / f"index-{mode}")
        hits = searcher.batch_search(texts, k=DEPTH, threads=2)
        lists = [[(h.docid, h.score) for h in q] for q in hits]
        row[mode] = ndcg(lists)
        # search --hybrid --k 1000 fuses 1,000 hits of each (the depth is never below k)
        row[f"hybrid {mode}"] = ndcg([interpolate(s, b, 0.5) for s, b in zip(lists, bm25)])
        d = THREE_WAY["depth"]
        row[f"{mode}+bm25+dense"] = ndcg(
            [
                weighted([s[:d], b[:d], e[:d]], THREE_WAY["weights"], THREE_WAY["norm"])
                for s, b, e in zip(lists, bm25, dense)
            ]
        )
    training = Path(args.model) / "training" / "summary.json"
    if training.is_file():
        row["training"] = json.loads(training.read_text())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")
    print(json.dumps({k: v for k, v in row.items() if k != "training"}))


if __name__ == "__main__":
    main()
