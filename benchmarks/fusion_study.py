"""Which fusion of the learned sparse and BM25 lists holds its gain where it was not tuned?

Every fusion setting is chosen on SciFact alone; the other collections are held out. Ranked
lists are searched once per collection and system at depth 1000 through the Python API and
cached in the work folder (``lists-<system>.json``); every fusion is then applied to them
with :mod:`splade_lite.fusion` at the depth the searcher uses for that mode, exactly what
``Searcher(hybrid=...)`` does, and scored with ir-measures (nDCG@10). Compared: min-max (the
default), max-scaled (theoretical minimum 0) and z-score interpolation at each alpha,
reciprocal rank fusion, and a query-dependent alpha from each list's confidence in its top.

Indexes come from ``<work>/<collection>/vectors`` (``splade-lite encode`` output with the
default model; encoded here when missing) and are built here when missing, both modes, with
BM25 beside them.

    python benchmarks/fusion_study.py [--work runs/collections] [--collections ...]
        [--out benchmarks/results/fusion_study.json]
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from common import collection_parser, ndcg_at_10, write_report

MODES = {"splade": "index-splade", "inference-free": "index-if"}
ALPHAS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
DEPTH = 1000


def ensure_indexes(data: Path, work: Path, name: str, log) -> None:
    """Vectors, then both indexes (BM25 beside each), each made only when missing."""
    from splade_lite.encode import encode_corpus
    from splade_lite.index import build_index

    corpus = data / name / "corpus.jsonl"
    vectors = work / name / "vectors"
    if not (vectors / "vectors.json").is_file():
        log(f"{name}: encoding {corpus}")
        encode_corpus(corpus, vectors, progress=False)
    for mode, folder in MODES.items():
        if not (work / name / folder / "splade_lite.json").is_file():
            log(f"{name}: building {folder}")
            build_index(vectors, work / name / folder, bm25_corpus=corpus, mode=mode)


def cached_lists(work: Path, name: str, system: str, texts: list[str]) -> list:
    """The depth-1000 list of every query for `system` (bm25 or a mode), searched once."""
    from splade_lite.search import Searcher

    path = work / name / f"lists-{system}.json"
    if path.is_file():
        return json.loads(path.read_text())
    index = work / name / MODES.get(system, "index-splade")
    searcher = Searcher(index, bm25=system == "bm25")
    started = time.perf_counter()
    hits = searcher.batch_search(texts, k=DEPTH, threads=2)
    lists = [[(h.docid, h.score) for h in q] for q in hits]
    path.write_text(json.dumps(lists))
    print(f"{name} {system}: searched in {time.perf_counter() - started:.1f} s")
    return lists


def fusions() -> dict[str, dict]:
    """Every setting compared, by a short name: interpolation with each normalisation and
    alpha, and reciprocal rank fusion."""
    from splade_lite.fusion import NORMALISATIONS

    settings: dict[str, dict] = {}
    for norm in NORMALISATIONS:
        for alpha in ALPHAS:
            settings[f"{norm} a={alpha}"] = {"method": "interpolate", "norm": norm, "alpha": alpha}
    for k in (10, 60):
        settings[f"rrf k={k}"] = {"method": "rrf", "rrf_k": k}
    for norm in NORMALISATIONS:
        for n in (5, 10, 20):
            for mix in (0.5, 1.0):
                settings[f"{norm} confidence n={n} mix={mix}"] = {
                    "method": "confidence",
                    "norm": norm,
                    "n": n,
                    "mix": mix,
                }
    return settings


def confidence(ranked: list, n: int) -> float:
    """How sure a list is of its top: the relative drop from its best score to its n-th."""
    if len(ranked) < 2 or ranked[0][1] <= 0:
        return 0.0
    return (ranked[0][1] - ranked[min(n, len(ranked)) - 1][1]) / ranked[0][1]


def query_alpha(a: list, b: list, n: int, mix: float) -> float:
    """A per-query weight of the sparse list: `mix` of its share of the two confidences,
    the rest 0.5 (a candidate tried here only; not in splade-lite)."""
    ca, cb = confidence(a, n), confidence(b, n)
    share = ca / (ca + cb) if ca + cb > 0 else 0.5
    return (1 - mix) * 0.5 + mix * share


def fused_lists(sparse: list, bm25: list, setting: dict, depth: int) -> list:
    from splade_lite.fusion import interpolate, rrf

    out = []
    for a, b in zip(sparse, bm25):
        a, b = a[:depth], b[:depth]
        if setting["method"] == "rrf":
            out.append(rrf(a, b, k=setting["rrf_k"]))
        elif setting["method"] == "confidence":
            alpha = query_alpha(a, b, setting["n"], setting["mix"])
            out.append(interpolate(a, b, alpha, setting["norm"]))
        else:
            out.append(interpolate(a, b, setting["alpha"], setting["norm"]))
    return out


def main() -> None:
    from splade_lite.fusion import DEFAULT_DEPTHS
    from splade_lite.trec import read_qrels, read_queries

    parser = collection_parser(__doc__, "fusion_study.json")
    args = parser.parse_args()
    results = []
    for name in args.collections:
        ensure_indexes(args.data, args.work, name, print)
        queries = read_queries(args.data / name / "queries.jsonl")
        qrels = read_qrels(args.data / name / "qrels" / "test.tsv")
        ids, texts = [q.id for q in queries], [q.text for q in queries]

        def ndcg(lists: list, ids=ids, qrels=qrels) -> float:
            return ndcg_at_10(ids, qrels, lists, DEPTH)

        bm25 = cached_lists(args.work, name, "bm25", texts)
        row: dict = {"collection": name, "bm25": ndcg(bm25)}
        for mode in MODES:
            sparse = cached_lists(args.work, name, mode, texts)
            row[mode] = ndcg(sparse)
            depth = DEFAULT_DEPTHS[mode]
            row[f"fused {mode}"] = {
                label: ndcg(fused_lists(sparse, bm25, setting, depth))
                for label, setting in fusions().items()
            }
        results.append(row)
        print(json.dumps({k: v for k, v in row.items() if not k.startswith("fused")}))
    write_report(args.out, results, command="python benchmarks/fusion_study.py")


if __name__ == "__main__":
    main()
