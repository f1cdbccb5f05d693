"""Why an inference-free query costs more than BM25's at scale: a per-query profile.

For every test query of SciFact and NFCorpus, on one index folder (the inference-free impact
index with its BM25 index beside it, as ``benchmarks/scale.py`` builds them):

* the query terms each side gives Lucene (inference-free: ``Searcher.query_terms``, after the
  IDF floor; BM25: Anserini's ``DefaultEnglishAnalyzer``, as its searcher analyses the text);
* the postings those terms open: the sum of their document frequencies in the index searched
  (impact index: counted from ``forward.npz``; BM25: Lucene's ``docFreq``);
* each query's median latency at k=10 over `rounds` (the two systems take turns), for the
  whole call from text (``Searcher.search``) and, for inference-free, for the Lucene search
  of the integer query alone (``batch_search_terms``), so query building is separated out;
* a least-squares fit, latency = fixed + per_posting × postings, for each system.

    python benchmarks/query_profile.py --index runs/scale/n100000/index-if
        [--rounds 5] [--out benchmarks/results/query_profile.json]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from common import ROOT, write_report

from splade_lite.forward import ForwardIndex
from splade_lite.search import Searcher

K = 10


def read_query_texts() -> list[str]:
    from splade_lite.trec import read_qrels, read_queries

    texts = []
    for name in ("scifact", "nfcorpus"):
        data = ROOT.parent / "shared" / "data" / name
        qrels = read_qrels(data / "qrels" / "test.tsv")
        texts += [q.text for q in read_queries(data / "queries.jsonl") if q.id in qrels]
    return [t for t in texts if t.strip()]


def impact_df(index: Path) -> dict[str, int]:
    """Document frequency of each term in the impact index, from its forward index."""
    forward = ForwardIndex.load(index / "forward.npz")
    counts = np.bincount(np.asarray(forward.term_ids), minlength=len(forward.terms))
    return {term: int(n) for term, n in zip(forward.terms, counts.tolist()) if n}


def bm25_terms(index: Path, texts: list[str]) -> tuple[list[list[str]], list[list[int]]]:
    """Each text's analysed terms (as Anserini's BM25 searcher sees them) and their df."""
    from pyserini.analysis import Analyzer, get_lucene_analyzer
    from pyserini.index.lucene import LuceneIndexReader

    analyzer = Analyzer(get_lucene_analyzer())
    reader = LuceneIndexReader(str(index / "bm25"))
    terms, dfs = [], []
    for text in texts:
        words = list(dict.fromkeys(analyzer.analyze(text)))
        counts = [reader.get_term_counts(w, analyzer=None)[0] for w in words]
        terms.append(words)
        dfs.append(counts)
    return terms, dfs


def per_query_ms(systems: dict, texts: list, rounds: int) -> dict[str, list[float]]:
    """Median ms of each query on each system over `rounds`, systems taking turns."""
    names = list(systems)
    for text in texts[:50]:
        for name in names:
            systems[name](text)
    times = {name: [[] for _ in texts] for name in names}
    for r in range(rounds):
        for i, text in enumerate(texts):
            shift = (i + r) % len(names)
            for name in names[shift:] + names[:shift]:
                started = time.perf_counter()
                systems[name](text)
                times[name][i].append((time.perf_counter() - started) * 1000)
    return {name: [statistics.median(t) for t in ts] for name, ts in times.items()}


def fit(postings: list[int], ms: list[float]) -> dict:
    """latency = fixed + per_posting × postings, least squares; with R²."""
    x, y = np.asarray(postings, float), np.asarray(ms, float)
    slope, fixed = np.polyfit(x, y, 1)
    predicted = fixed + slope * x
    r2 = 1 - float(((y - predicted) ** 2).sum() / ((y - y.mean()) ** 2).sum())
    return {
        "fixed_ms": round(float(fixed), 4),
        "us_per_1000_postings": round(float(slope) * 1e6, 2),
        "r2": round(r2, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "query_profile.json"
    )
    args = parser.parse_args()
    texts = read_query_texts()
    free = Searcher(args.index, engine="lucene")
    bm25 = Searcher(args.index, bm25=True)
    num_docs = len(free.forward)
    free_terms = free.query_terms(texts)
    df = impact_df(args.index)
    free_postings = [sum(df.get(t, 0) for t in q) for q in free_terms]
    words, word_dfs = bm25_terms(args.index, texts)
    bm25_postings = [sum(d) for d in word_dfs]
    by_text = dict(zip(texts, free_terms))
    ms = per_query_ms(
        {
            "inference-free": lambda q: free.search(q, K),
            "inference-free, Lucene call only": lambda q: free.batch_search_terms([by_text[q]], K),
            "bm25": lambda q: bm25.search(q, K),
        },
        texts,
        args.rounds,
    )

    def med(values: list) -> float:
        return round(float(statistics.median(values)), 4)

    summary = {
        "inference-free": {
            "terms_median": med([len(q) for q in free_terms]),
            "postings_median": med(free_postings),
            "df_per_term_median": med([df.get(t, 0) for q in free_terms for t in q]),
            "median_ms": med(ms["inference-free"]),
            "lucene_call_median_ms": med(ms["inference-free, Lucene call only"]),
            "fit": fit(free_postings, ms["inference-free"]),
        },
        "bm25": {
            "terms_median": med([len(w) for w in words]),
            "postings_median": med(bm25_postings),
            "df_per_term_median": med([d for ds in word_dfs for d in ds]),
            "median_ms": med(ms["bm25"]),
            "fit": fit(bm25_postings, ms["bm25"]),
        },
    }
    ratio = [a / b for a, b in zip(free_postings, bm25_postings) if b]
    summary["postings_ratio_median"] = med(ratio)
    summary["latency_ratio_median"] = med(
        [a / b for a, b in zip(ms["inference-free"], ms["bm25"]) if b]
    )
    # the postings of the impact index a document holds, against BM25's distinct words
    summary["impact_postings_per_doc"] = round(sum(df.values()) / num_docs, 1)
    print(summary, flush=True)
    write_report(
        args.out,
        {"index": str(args.index), "num_docs": num_docs, "queries": len(texts), **summary},
        k=K,
    )


if __name__ == "__main__":
    main()
