"""Choose the hybrid and feedback defaults on ONE development collection.

Ranked lists are computed once per system at depth 1000 through the Python API, then every
fusion setting is applied to them with `splade_lite.fusion.fuse` (exactly what
`Searcher(hybrid=...)` does with lists of that depth) and scored with ir-measures. Feedback
settings each need a second Lucene round and are searched for real.

    python benchmarks/tune_fusion.py --collection scifact [--work runs/collections]

Needs the indexes made by benchmarks/effectiveness.py. Prints tables and writes
benchmarks/results/tune_<collection>.json. Report the chosen defaults on the OTHER
collections only as held-out results.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALPHAS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
DEPTHS = (50, 100, 200, 1000)
RRF_KS = (10, 60, 100)
FEEDBACK = [
    {"docs": d, "terms": t, "beta": b}
    for d in (3, 5, 10)
    for t in (5, 10, 20, 50)
    for b in (0.1, 0.25, 0.5, 1.0)
]


def main() -> None:
    from splade_lite.evaluate import evaluate
    from splade_lite.feedback import Feedback
    from splade_lite.fusion import fuse
    from splade_lite.search import Searcher
    from splade_lite.trec import read_qrels, read_queries

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--collection", default="scifact")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "collections")
    parser.add_argument("--skip-feedback", action="store_true")
    args = parser.parse_args()

    name = args.collection
    queries = read_queries(args.data / name / "queries.jsonl")
    qrels = read_qrels(args.data / name / "qrels" / "test.tsv")
    ids, texts = [q.id for q in queries], [q.text for q in queries]
    indexes = {
        "splade": args.work / name / "index-splade",
        "inference-free": args.work / name / "index-if",
    }

    def score(lists) -> dict:
        run = {qid: dict(hits) for qid, hits in zip(ids, lists)}
        got = evaluate(run, qrels, ("nDCG@10", "R@100"))
        return {m: round(v, 4) for m, v in got.items()}

    bm25 = [
        [(h.docid, h.score) for h in hits]
        for hits in Searcher(indexes["splade"], bm25=True).batch_search(texts, k=1000)
    ]
    results: dict = {"collection": name, "bm25": score(bm25), "modes": {}}
    print(name, "bm25", results["bm25"])
    for mode, index in indexes.items():
        searcher = Searcher(index)
        sparse = [[(h.docid, h.score) for h in hits] for hits in searcher.batch_search(texts, 1000)]
        rows = {"alone": score(sparse)}
        for depth in DEPTHS:
            for alpha in ALPHAS:
                fused = [
                    fuse(s[:depth], b[:depth], "interpolate", alpha=alpha)[:1000]
                    for s, b in zip(sparse, bm25)
                ]
                rows[f"interpolate alpha={alpha} depth={depth}"] = score(fused)
            for k in RRF_KS:
                fused = [fuse(s[:depth], b[:depth], "rrf", rrf_k=k) for s, b in zip(sparse, bm25)]
                rows[f"rrf k={k} depth={depth}"] = score(fused)
        if not args.skip_feedback:
            for setting in FEEDBACK:
                fb = Searcher(index, feedback=Feedback(**setting))
                started = time.perf_counter()
                found = fb.batch_search(texts, 100)  # enough for nDCG@10 and R@100
                lists = [[(h.docid, h.score) for h in hits] for hits in found]
                label = "feedback docs={docs} terms={terms} beta={beta}".format(**setting)
                rows[label] = score(lists) | {"s": round(time.perf_counter() - started, 1)}
                # interpolating after feedback: with the first round, and with BM25 (hybrid)
                rows[label + " +first-round"] = score(
                    [fuse(f, s[:100], alpha=0.5) for f, s in zip(lists, sparse)]
                )
                rows[label + " +bm25"] = score(
                    [fuse(f, b[:100], alpha=0.5) for f, b in zip(lists, bm25)]
                )
        results["modes"][mode] = rows
        best = sorted(rows.items(), key=lambda kv: -kv[1]["nDCG@10"])[:12]
        print(f"\n{name} {mode}: alone {rows['alone']}")
        for label, values in best:
            print(f"  {values['nDCG@10']:.4f}  R@100 {values['R@100']:.4f}  {label}")
    out = ROOT / "benchmarks" / "results" / f"tune_{name}.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nwritten {out}")


if __name__ == "__main__":
    main()
