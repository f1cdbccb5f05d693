"""Long documents and the dense partner: embed the whole text in windows, not its first 256 tokens.

all-MiniLM-L6-v2 reads at most 256 word pieces, and most SciFact and NFCorpus documents are
longer, so the dense index sees only their start. Here each document is cut into windows of
the model's length (254 pieces between [CLS] and [SEP]) starting every 127 pieces, at the
tokenizer's character offsets, and every window is embedded (cached in
``<work>/<collection>/dense-minilm-windows.npy`` with the owner of each row). Compared, as
the dense partner alone and in the product's three-way fusion (max-scaled, 0.1/0.4/0.5 for
inference-free, 0.2/0.3/0.5 for SPLADE, depth 100) with the cached BM25 and learned lists:

- ``first``: the first window only, the way documents are embedded today (the cache of
  ``benchmarks/dense_hybrid.py``);
- ``mean-disjoint`` / ``mean-overlap``: the normalised mean of the windows' embeddings,
  windows every 254 / 127 pieces (one vector per document, as the index holds now);
- ``max-disjoint`` / ``max-overlap``: the best window's score (MaxP; one vector per window).

    python benchmarks/dense_chunks.py [--work runs/collections] [--collections ...]
        [--out benchmarks/results/dense_chunks.json]
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from common import collection_parser, ndcg_at_10, ranked, write_report

MODEL = "minilm"
DEPTH = 1000
WINDOW, STRIDE = 254, 127
THREE_WAY = {"inference-free": (0.1, 0.4, 0.5), "splade": (0.2, 0.3, 0.5)}


def windows(tokenizer, text: str) -> list[tuple[int, str]]:
    """(start piece, text) of each window of `text`: WINDOW pieces every STRIDE pieces."""
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)[
        "offset_mapping"
    ]
    if not offsets:
        return [(0, text)]
    out = []
    for start in range(0, len(offsets), STRIDE):  # tails too: each stride's windows cover all
        end = min(start + WINDOW, len(offsets))
        out.append((start, text[offsets[start][0] : offsets[end - 1][1]]))
    return out


def embedded_windows(data: Path, work: Path, name: str, model) -> tuple[list, np.ndarray, dict]:
    """Document ids, window embeddings and, per window, its document's row and start."""
    from splade_lite.encoders.dense import embed
    from splade_lite.io import read_corpus

    cache = work / name / f"dense-{MODEL}-windows.npy"
    facts_file = work / name / f"dense-{MODEL}-windows.json"
    if cache.is_file() and facts_file.is_file():
        facts = json.loads(facts_file.read_text())
        return facts["ids"], np.load(cache), facts
    docs = list(read_corpus(data / name / "corpus.jsonl"))
    owner, starts, texts = [], [], []
    for row, doc in enumerate(docs):
        for start, text in windows(model.tokenizer, doc.full_text):
            owner.append(row)
            starts.append(start)
            texts.append(text)
    began = time.perf_counter()
    parts = []
    for first in range(0, len(texts), 512):
        parts.append(embed(model, texts[first : first + 512], "document", 32))
        print(f"{name}: {first + len(parts[-1])}/{len(texts)} windows embedded", flush=True)
    facts = {
        "ids": [d.id for d in docs],
        "owner": owner,
        "start": starts,
        "seconds": time.perf_counter() - began,
        "windows": len(texts),
    }
    matrix = np.concatenate(parts)
    np.save(cache, matrix)
    facts_file.write_text(json.dumps(facts))
    return facts["ids"], matrix, facts


def variants(ids, matrix, facts, queries: np.ndarray) -> dict[str, list]:
    """Each way of turning window embeddings into a document ranking, for every query."""
    owner, start = np.asarray(facts["owner"]), np.asarray(facts["start"])
    n = len(ids)
    out = {}
    for label, keep in (
        ("first", start == 0),
        ("disjoint", start % (2 * STRIDE) == 0),
        ("overlap", np.ones(len(start), dtype=bool)),
    ):
        rows, mat = owner[keep], matrix[keep]
        window_scores = queries @ mat.T
        if label == "first":
            out["first"] = ranked(ids, window_scores[:, np.argsort(rows)], DEPTH)
            continue
        best = np.full((len(queries), n), -np.inf, dtype=np.float32)
        np.maximum.at(best.T, rows, window_scores.T)
        out[f"max-{label}"] = ranked(ids, best, DEPTH)
        mean = np.zeros((n, matrix.shape[1]), dtype=np.float32)
        np.add.at(mean, rows, mat)
        mean /= np.linalg.norm(mean, axis=1, keepdims=True)
        out[f"mean-{label}"] = ranked(ids, queries @ mean.T, DEPTH)
    return out


def main() -> None:
    from splade_lite.encoders.dense import embed, load_dense_model
    from splade_lite.fusion import weighted
    from splade_lite.trec import read_qrels, read_queries

    args = collection_parser(__doc__, "dense_chunks.json").parse_args()
    model = load_dense_model(MODEL, "cpu")
    results = []
    for name in args.collections:
        ids, matrix, facts = embedded_windows(args.data, args.work, name, model)
        queries = read_queries(args.data / name / "queries.jsonl")
        qrels = read_qrels(args.data / name / "qrels" / "test.tsv")
        qids = [q.id for q in queries]
        q = embed(model, [x.text for x in queries], "query", 32)

        def ndcg(lists: list, qids=qids, qrels=qrels) -> float:
            return ndcg_at_10(qids, qrels, lists, DEPTH)

        cached = {
            system: json.loads((args.work / name / f"lists-{system}.json").read_text())
            for system in ("bm25", "splade", "inference-free")
        }
        row: dict = {
            "collection": name,
            "docs": len(ids),
            "windows": facts["windows"],
            "embed_seconds": round(facts["seconds"], 1),
        }
        for label, dense in variants(ids, matrix, facts, q).items():
            row[label] = {"dense": ndcg(dense)}
            for mode, weights in THREE_WAY.items():
                fused = [
                    weighted([s[:100], b[:100], d[:100]], weights, "max")
                    for s, b, d in zip(cached[mode], cached["bm25"], dense)
                ]
                row[label][f"{mode}+bm25+dense"] = ndcg(fused)
        results.append(row)
        print(json.dumps(row), flush=True)
    write_report(args.out, results, command="python benchmarks/dense_chunks.py", model=MODEL)


if __name__ == "__main__":
    main()
