"""What query-term and document-term pruning cost in effectiveness and save in latency.

For each collection, on the inference-free index that `benchmarks/effectiveness.py` builds
(``WORK/<collection>/index-if``, from ``WORK/<collection>/vectors``):

* query pruning (search time, ``Searcher(pruning=Pruning(...))``): IDF floors and a cap on
  the number of query terms;
* document pruning (index time, ``build_index(doc_pruning=Pruning(...))``): each document's
  heaviest terms only; one index per setting is built into a temporary folder.

For every setting: nDCG@10 and R@100 (a k=1000 run, evaluated with ir-measures against the
collection's test qrels), the median ms per query at k=10 (one query at a time, query
encoding included, all settings and BM25 taking turns on every query so that noise hits all
alike) and its ratio to BM25's median in the same loop, and the index size.

    python benchmarks/pruning.py [--work runs/collections] [--data ../shared/data]
        [--collections scifact nfcorpus cranfield medline] [--out benchmarks/results/pruning.json]
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from common import collection_parser, write_report

QUERY_SETTINGS = [
    {},
    {"min_weight": 0.5},
    {"min_weight": 1.0},
    {"min_weight": 1.5},
    {"min_weight": 2.0},
    {"max_terms": 16},
    {"max_terms": 8},
]
DOC_SETTINGS = [{"max_terms": 128}, {"max_terms": 64}, {"min_weight": 0.5}]


def label(kind: str, setting: dict) -> str:
    if not setting:
        return "none"
    return f"{kind} " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in setting.items())


def bench_collection(name: str, data: Path, work: Path, scratch: Path) -> dict:
    from splade_lite.evaluate import evaluate
    from splade_lite.index import build_index, lucene_size
    from splade_lite.pruning import Pruning
    from splade_lite.search import Searcher
    from splade_lite.trec import read_queries

    index, vectors = work / name / "index-if", work / name / "vectors"
    if not (index / "splade_lite.json").is_file():
        raise SystemExit(f"{index} is missing: run benchmarks/effectiveness.py first")
    queries = [q for q in read_queries(data / name / "queries.jsonl") if q.text.strip()]
    qrels = data / name / "qrels" / "test.tsv"

    systems: dict[str, tuple[Searcher, int]] = {}
    bm25 = Searcher(index, bm25=True)
    for setting in QUERY_SETTINGS:
        searcher = Searcher(index, pruning=Pruning(**setting))
        systems[label("query", setting)] = (searcher, lucene_size(index))
    for setting in DOC_SETTINGS:
        folder = scratch / f"{name}-{label('doc', setting).replace(' ', '-')}"
        build_index(vectors, folder, mode="inference-free", doc_pruning=Pruning(**setting))
        systems[label("doc", setting)] = (Searcher(folder), lucene_size(folder))

    result: dict = {"collection": name, "queries": len(queries), "settings": {}}
    for system, (searcher, size) in systems.items():
        hits = searcher.batch_search([q.text for q in queries], k=1000)
        scores = evaluate({q.id: h for q, h in zip(queries, hits)}, qrels, ["nDCG@10", "R@100"])
        terms = [len(t) for t in searcher.query_terms([q.text for q in queries])]
        result["settings"][system] = {
            "nDCG@10": round(scores["nDCG@10"], 4),
            "R@100": round(scores["R@100"], 4),
            "query_terms": round(statistics.mean(terms), 2),
            "index_mb": round(size / 1e6, 2),
        }

    runners = {"bm25": bm25, **{name: s for name, (s, _) in systems.items()}}
    names = list(runners)
    texts = [q.text for q in queries]
    for text in texts:  # warm-up
        for n in names:
            runners[n].search(text, k=10)
    times: dict[str, list[float]] = {n: [] for n in names}
    for i, text in enumerate(texts * 2):
        shift = i % len(names)
        for n in names[shift:] + names[:shift]:
            started = time.perf_counter()
            runners[n].search(text, k=10)
            times[n].append((time.perf_counter() - started) * 1000)
    base = statistics.median(times["bm25"])
    result["bm25_median_ms"] = round(base, 4)
    for system in systems:
        median = statistics.median(times[system])
        result["settings"][system]["median_ms"] = round(median, 4)
        result["settings"][system]["vs_bm25"] = round(median / base, 2)
    print(json.dumps(result), flush=True)
    return result


def markdown(results: list[dict]) -> str:
    cols = [r["collection"] for r in results]
    lines = [
        "nDCG@10 / R@100 / median ms at k=10 (× BM25's median in the same loop)",
        "",
        "| setting | " + " | ".join(cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for setting in results[0]["settings"]:
        cells = []
        for r in results:
            s = r["settings"][setting]
            cells.append(
                f"{s['nDCG@10']:.3f} / {s['R@100']:.3f} / "
                f"{s['median_ms']:.3f} ({s['vs_bm25']:.2f}×)"
            )
        lines.append(f"| {setting} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    args = collection_parser(__doc__, "pruning.json").parse_args()
    with tempfile.TemporaryDirectory(prefix="splade-lite-pruning-") as scratch:
        results = [
            bench_collection(c, args.data, args.work, Path(scratch)) for c in args.collections
        ]
    write_report(args.out, results)
    print(markdown(results))


if __name__ == "__main__":
    main()
