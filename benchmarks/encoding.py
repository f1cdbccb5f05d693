"""Document encoding speed and fidelity: splade-lite against sentence-transformers.

**speed** (in one process): the same `--docs` SciFact documents, max length 256, batch size
32, the same torch thread count, encoded by

* ``sentence-transformers``: ``SparseEncoder(folder).encode_document`` on the same model
  folder (MLM + SPLADE max pooling), the baseline of the issue's target;
* ``splade-lite``: ``SpladeEncoder`` with its defaults (exact);
* ablations, each one change from ``splade-lite``: no length sorting, batch 8 / 64, one torch
  thread, the ``bf16`` and ``int8`` back ends, int8 also for the transformer body
  (``quantize_dynamic`` on its Linear layers), the body run by ONNX Runtime (when ``onnx``
  is installed), and 2 spawned processes × 1 thread (:class:`ParallelEncoder`, chunks of
  docs/4, worker start-up timed apart).

Every configuration runs once per round, in an order that rotates every round, so a noisy
neighbour slows all alike; the table has median docs/s, the ratio of medians to the
sentence-transformers and splade-lite rows, and the largest absolute difference of any
vector weight from the exact splade-lite vectors (dense, over the whole vocabulary).

**sorting**: length sorting alone (on against off) on the first `--docs` documents of
`--sort-collection` (Cranfield: lengths vary, where SciFact's abstracts are nearly all cut
at 256 tokens), in the same way.

**fidelity**: the whole collection encoded through ``encode_corpus`` (as ``splade-lite
encode`` does) with each back end, and once with ``workers=2`` (its files compared with
the one-process ones, byte for byte); then every test query is ranked by brute-force
integer dot products over the integer impacts the index would hold, with SPLADE queries
(exact model) and inference-free queries (IDF from the corpus, as the indexer computes it).
Reported: nDCG@10 (ir-measures) and its change against ``torch``, the mean overlap of each
query's top 10 / top 100 with ``torch``'s, and how many impacts differ.

    python benchmarks/encoding.py [--docs 600] [--rounds 3] [--threads 2]
        [--sections speed sorting fidelity] [--collection ../shared/data/scifact]
        [--sort-collection ../shared/data/cranfield]
        [--work runs/encoding] [--out benchmarks/results/encoding.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "scifact"
VOCAB = 30522


# -- what runs ---------------------------------------------------------------------------------
def read_texts(corpus: Path, limit: int) -> list[str]:
    """The first `limit` documents as the encoder sees them (title and text)."""
    from splade_lite.io import read_corpus

    return [doc.full_text for doc in itertools.islice(read_corpus(corpus), limit)]


def dense_rows(vectors) -> np.ndarray:
    """[N, V] float32 of SparseVectors or of a sentence-transformers sparse tensor."""
    if hasattr(vectors, "to_dense"):
        return vectors.to_dense().float().numpy()
    out = np.zeros((len(vectors), VOCAB), dtype=np.float32)
    for row, vec in enumerate(vectors):
        out[row, vec.indices] = vec.values
    return out


def max_abs_diff(a, b) -> float:
    return float(np.abs(dense_rows(a) - dense_rows(b)).max())


class _OrtBody:
    """Stands in for the torch body: the same inputs, the hidden states from ONNX Runtime."""

    def __init__(self, session, names: list[str]) -> None:
        self.session, self.names = session, names

    def __call__(self, **batch):
        feeds = {k: v.numpy() for k, v in batch.items() if k in self.names}
        import torch

        return SimpleNamespace(logits=torch.from_numpy(self.session.run(None, feeds)[0]))


def onnx_body(encoder, work: Path, threads: int):
    """Export the encoder's body (the projection is already bypassed) and load it in ORT."""
    import onnxruntime as ort
    import torch

    class Body(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.logits

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = encoder.tokenizer(["a short text", "and a longer one here"], padding=True)
    args = tuple(torch.tensor(sample[n]) for n in names)
    path = work / "body.onnx"
    work.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Body(encoder.model),
            args,
            str(path),
            dynamo=False,
            input_names=names,
            output_names=["hidden"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]},
            opset_version=17,
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return _OrtBody(session, names)


def speed_configs(texts: list[str], threads: int, work: Path) -> tuple[dict, dict]:
    """name -> function encoding `texts`; and what setting them up measured."""
    import torch
    from sentence_transformers import SparseEncoder

    from splade_lite.encoders import SpladeEncoder
    from splade_lite.encoders.parallel import ParallelEncoder

    folder = SpladeEncoder("splade-tiny").source.mlm
    st = SparseEncoder(folder, device="cpu")
    st.max_seq_length = 256
    default = SpladeEncoder("splade-tiny", max_length=256, batch_size=32, device="cpu")
    unsorted = SpladeEncoder("splade-tiny", max_length=256, device="cpu")
    unsorted.sort_by_length = False
    bf16 = SpladeEncoder(
        "splade-tiny", max_length=256, device="cpu", backend="bf16", check_cpu=False
    )
    int8 = SpladeEncoder(
        "splade-tiny", max_length=256, device="cpu", backend="int8", check_cpu=False
    )
    int8_body = SpladeEncoder(
        "splade-tiny", max_length=256, device="cpu", backend="int8", check_cpu=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notice
        int8_body.model = torch.ao.quantization.quantize_dynamic(
            int8_body.model, {torch.nn.Linear}, dtype=torch.qint8
        )

    def one_thread(encoder) -> Callable[[list[str]], list]:
        def run(batch: list[str]) -> list:
            torch.set_num_threads(1)
            try:
                return encoder.encode(batch)
            finally:
                torch.set_num_threads(threads)

        return run

    configs: dict[str, Callable[[list[str]], object]] = {
        "sentence-transformers": lambda b: st.encode_document(
            b, batch_size=32, show_progress_bar=False
        ),
        "splade-lite": default.encode,
        "no length sorting": unsorted.encode,
        "batch 8": lambda b: default.encode(b, batch_size=8),
        "batch 64": lambda b: default.encode(b, batch_size=64),
        "bf16": bf16.encode,
        "int8": int8.encode,
        "int8 + int8 body": int8_body.encode,
    }
    if threads > 1:
        configs["1 thread"] = one_thread(default)
    setup: dict[str, object] = {}
    try:
        ort_encoder = SpladeEncoder("splade-tiny", max_length=256, device="cpu")
        ort_encoder.model = onnx_body(ort_encoder, work, threads)
        configs["onnx runtime body"] = ort_encoder.encode
    except Exception as err:  # onnx missing, or an export this torch cannot do
        setup["onnx runtime body"] = f"skipped: {type(err).__name__}: {err}"
    if threads > 1:
        started = time.perf_counter()
        parallel = ParallelEncoder(default, workers=threads, threads=1)
        list(parallel.encode_chunks([texts[:2]] * threads))  # all workers up and loaded
        setup["worker_startup_s"] = round(time.perf_counter() - started, 2)

        def in_processes(batch: list[str]) -> list:
            size = -(-len(batch) // (2 * threads))  # two chunks per worker
            chunks = [batch[i : i + size] for i in range(0, len(batch), size)]
            return [v for part in parallel.encode_chunks(chunks) for v in part]

        configs[f"{threads} processes x 1 thread"] = in_processes
        setup["parallel"] = parallel
    return configs, setup


def timed_rounds(configs: dict[str, Callable], texts: list[str], rounds: int):
    """docs/s of each configuration per round (order rotating, reversed every other round),
    and each one's vectors from the first round."""
    names = list(configs)
    for name in names:  # warm-up: first calls allocate, build kernels, load workers
        configs[name](texts[:64])
    rates: dict[str, list[float]] = {name: [] for name in names}
    vectors: dict[str, object] = {}
    for r in range(rounds):
        shift = r % len(names)
        order = names[shift:] + names[:shift]
        if r % 2:
            order.reverse()
        for name in order:
            started = time.perf_counter()
            got = configs[name](texts)
            rates[name].append(len(texts) / (time.perf_counter() - started))
            if r == 0:
                vectors[name] = got
        print(f"round {r + 1}/{rounds}: " + ", ".join(f"{n} {rates[n][-1]:.1f}" for n in names))
    return rates, vectors


def summarise(rates: dict[str, list[float]], vectors: dict, baselines: list[str]) -> dict:
    """Medians, ratios of medians to each baseline, max |difference| from the exact vectors."""
    medians = {name: statistics.median(values) for name, values in rates.items()}
    reference = vectors["splade-lite"]
    return {
        name: {
            "docs_per_s": [round(x, 2) for x in rates[name]],
            "median_docs_per_s": round(medians[name], 2),
            **{
                f"vs_{base.replace('-', '_')}": round(medians[name] / medians[base], 3)
                for base in baselines
            },
            "max_abs_diff_vs_exact": max_abs_diff(vectors[name], reference),
        }
        for name in rates
    }


def bench_speed(texts: list[str], rounds: int, threads: int, work: Path) -> dict:
    import torch

    torch.set_num_threads(threads)
    configs, setup = speed_configs(texts, threads, work)
    parallel = setup.pop("parallel", None)
    try:
        rates, vectors = timed_rounds(configs, texts, rounds)
    finally:
        if parallel is not None:
            parallel.close()
    configs_out = summarise(rates, vectors, ["sentence-transformers", "splade-lite"])
    return {"configs": configs_out, **setup}


def bench_sorting(texts: list[str], rounds: int, threads: int) -> dict:
    """Length sorting alone, on texts of varied length (SciFact's are nearly all truncated)."""
    import torch

    from splade_lite.encoders import SpladeEncoder

    torch.set_num_threads(threads)
    default = SpladeEncoder("splade-tiny", max_length=256, device="cpu")
    unsorted = SpladeEncoder("splade-tiny", max_length=256, device="cpu")
    unsorted.sort_by_length = False
    lengths = [min(len(ids), 256) for ids in default.tokenize(texts)]
    configs = {"splade-lite": default.encode, "no length sorting": unsorted.encode}
    rates, vectors = timed_rounds(configs, texts, rounds)
    return {
        "tokens_per_doc": {
            "mean": round(statistics.mean(lengths), 1),
            "p10": sorted(lengths)[len(lengths) // 10],
            "p90": sorted(lengths)[9 * len(lengths) // 10],
        },
        "configs": summarise(rates, vectors, ["splade-lite"]),
    }


# -- fidelity ----------------------------------------------------------------------------------
def load_impacts(folder: Path, terms: list[str]):
    """(doc ids, CSR [docs, V] of the integer impacts written to the shards)."""
    from scipy import sparse

    from splade_lite.shards import read_vector_shards

    position = {term: i for i, term in enumerate(terms)}
    ids, rows, cols, vals = [], [], [], []
    for row, record in enumerate(read_vector_shards(folder)):
        ids.append(record["id"])
        for term, weight in record["vector"].items():
            if term in position:  # the empty-document marker is in no vocabulary
                rows.append(row)
                cols.append(position[term])
                vals.append(weight)
    matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(len(ids), len(terms)), dtype=np.int64)
    return ids, matrix


def query_matrix(weights: list[dict[str, int]], terms: list[str]):
    from scipy import sparse

    position = {term: i for i, term in enumerate(terms)}
    rows, cols, vals = [], [], []
    for row, query in enumerate(weights):
        for term, weight in query.items():
            rows.append(row)
            cols.append(position[term])
            vals.append(weight)
    return sparse.csr_matrix((vals, (rows, cols)), shape=(len(weights), len(terms)), dtype=np.int64)


def rank(queries, docs, doc_ids: list[str], query_ids: list[str], depth: int = 1000) -> dict:
    """Brute-force integer scores, best first (ties in corpus order), down to `depth`."""
    scores = (queries @ docs.T).toarray()
    run = {}
    for qid, row in zip(query_ids, scores):
        top = np.argsort(-row, kind="stable")[:depth]
        run[qid] = {doc_ids[i]: float(row[i]) for i in top if row[i] > 0}
    return run


def overlap(a: dict, b: dict, k: int) -> float:
    """Mean share of the top `k` documents two runs agree on (of the larger list, when a
    query matches fewer than `k` documents)."""

    def top(run: dict, qid: str) -> set[str]:
        hits = run.get(qid, {})
        return set(sorted(hits, key=lambda d: -hits[d])[:k])

    shares = []
    for qid in a:
        first, second = top(a, qid), top(b, qid)
        shares.append(len(first & second) / max(len(first), len(second), 1))
    return float(np.mean(shares))


def bench_fidelity(collection: Path, work: Path, backends: list[str], threads: int) -> dict:
    import torch

    from splade_lite import metadata as md
    from splade_lite.encode import encode_corpus
    from splade_lite.encoders import SpladeEncoder
    from splade_lite.encoders.inference_free import IdfQueryEncoder, idf_from_df
    from splade_lite.evaluate import evaluate
    from splade_lite.trec import read_qrels, read_queries
    from splade_lite.vectors import quantize

    torch.set_num_threads(threads)
    corpus, qrels_path = collection / "corpus.jsonl", collection / "qrels" / "test.tsv"
    qrels = read_qrels(qrels_path)
    queries = [q for q in read_queries(collection / "queries.jsonl") if q.id in qrels]
    query_ids = [q.id for q in queries]
    exact = SpladeEncoder("splade-tiny", max_length=256, device="cpu")
    terms = list(exact.terms)
    splade_queries = []
    for vec in exact.encode_queries([q.text for q in queries]):
        ids, ints = quantize(vec, 100)
        splade_queries.append({terms[i]: int(w) for i, w in zip(ids.tolist(), ints.tolist())})
    splade_q = query_matrix(splade_queries, terms)

    runs: list[tuple[str, str, int]] = [(b, b, 1) for b in backends]
    if threads > 1:
        runs.append((f"torch, {threads} workers", "torch", threads))
    out: dict[str, dict] = {}
    reference: dict[str, object] = {}
    for label, backend, workers in runs:
        folder = work / label.replace(", ", "-").replace(" ", "-")
        summary = encode_corpus(
            corpus,
            folder,
            max_length=256,
            backend=backend,
            workers=workers,
            overwrite=True,
            progress=False,
        )
        meta = md.read_vectors_meta(folder)
        doc_ids, docs = load_impacts(folder, terms)
        df = json.loads((folder / md.DF_FILE).read_text())
        idf_encoder = IdfQueryEncoder(exact.tokenizer, idf_from_df(df["df"], df["num_docs"]), terms)
        if_q = query_matrix(idf_encoder.quantized_terms([q.text for q in queries], 100), terms)
        result: dict[str, object] = {
            "backend_recorded": meta["backend"],
            "docs_per_s": round(summary.docs_per_second, 2),
            "postings_per_doc": round(summary.num_postings / summary.num_docs, 1),
        }
        for mode, qmatrix in (("splade", splade_q), ("inference-free", if_q)):
            run = rank(qmatrix, docs, doc_ids, query_ids)
            ndcg = evaluate(run, qrels_path, ["nDCG@10"])["nDCG@10"]
            result[f"{mode} nDCG@10"] = round(ndcg, 4)
            if label == "torch":
                reference[mode] = (run, ndcg)
            else:
                ref_run, ref_ndcg = reference[mode]
                result[f"{mode} nDCG@10 change"] = round(ndcg - ref_ndcg, 4)
                result[f"{mode} top-10 overlap"] = round(overlap(ref_run, run, 10), 4)
                result[f"{mode} top-100 overlap"] = round(overlap(ref_run, run, 100), 4)
        if label == "torch":
            reference["docs"] = docs
            reference["folder"] = folder
        else:
            delta = abs(docs - reference["docs"])
            result["impacts_differing"] = int(delta.count_nonzero())
            result["impacts_total"] = int(reference["docs"].count_nonzero())
            result["max_impact_difference"] = int(delta.max())
        if workers > 1:
            same = all(
                (folder / p.name).read_bytes() == p.read_bytes()
                for p in sorted(reference["folder"].glob("part-*.jsonl"))
            )
            result["same_shard_bytes_as_one_process"] = same
        out[label] = result
        print(f"{label}: {result}")
    return out


# -- report ------------------------------------------------------------------------------------
def machine() -> dict:
    import importlib.metadata

    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    versions = {}
    for dist in ("torch", "transformers", "sentence-transformers", "onnxruntime", "onnx"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return {
        "cpu": model,
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        **versions,
    }


def print_speed(result: dict) -> None:
    print(
        "\n| configuration | docs/s (median) | vs sentence-transformers | vs splade-lite "
        "| max abs diff vs exact |"
    )
    print("|---|---|---|---|---|")
    for name, row in result["configs"].items():
        print(
            f"| {name} | {row['median_docs_per_s']:.1f} | {row['vs_sentence_transformers']:.2f}x "
            f"| {row['vs_splade_lite']:.2f}x | {row['max_abs_diff_vs_exact']:.2g} |"
        )


def print_sorting(result: dict) -> None:
    tokens = result["tokens_per_doc"]
    print(
        f"\n{result['collection']}: tokens per document mean {tokens['mean']}, "
        f"p10 {tokens['p10']}, p90 {tokens['p90']}"
    )
    print("| configuration | docs/s (median) | vs splade-lite | max abs diff vs exact |")
    print("|---|---|---|---|")
    for name, row in result["configs"].items():
        print(
            f"| {name} | {row['median_docs_per_s']:.1f} | {row['vs_splade_lite']:.2f}x "
            f"| {row['max_abs_diff_vs_exact']:.2g} |"
        )


def print_fidelity(result: dict) -> None:
    print(
        "\n| run | docs/s | SPLADE nDCG@10 (change) | top-10 overlap "
        "| inference-free nDCG@10 (change) | top-10 overlap | impacts differing |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, row in result.items():
        cells = [label, f"{row['docs_per_s']:.1f}"]
        for mode in ("splade", "inference-free"):
            change = row.get(f"{mode} nDCG@10 change")
            shown = f" ({change:+.4f})" if change is not None else ""
            cells.append(f"{row[f'{mode} nDCG@10']:.4f}{shown}")
            cells.append(f"{row.get(f'{mode} top-10 overlap', 1.0):.3f}")
        total = row.get("impacts_total")
        cells.append(f"{row['impacts_differing'] / total:.1%}" if total else "-")
        print("| " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--collection", type=Path, default=DATA)
    parser.add_argument("--docs", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    sections = ["speed", "sorting", "fidelity"]
    parser.add_argument("--sections", nargs="+", choices=sections, default=sections)
    parser.add_argument("--sort-collection", type=Path, default=DATA.parent / "cranfield")
    parser.add_argument("--backends", nargs="+", default=["torch", "bf16", "int8"])
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "encoding")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/encoding.json")
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "x")  # in case anything imports pyserini

    report: dict[str, object] = {
        "command": " ".join(["python benchmarks/encoding.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "settings": {
            "model": "splade-tiny",
            "max_length": 256,
            "batch_size": 32,
            "threads": args.threads,
            "docs": args.docs,
            "rounds": args.rounds,
            "collection": args.collection.name,
        },
        "load_average_before": os.getloadavg(),
    }
    if "speed" in args.sections:
        texts = read_texts(args.collection / "corpus.jsonl", args.docs)
        report["speed"] = bench_speed(texts, args.rounds, args.threads, args.work)
        print_speed(report["speed"])
    if "sorting" in args.sections:
        texts = read_texts(args.sort_collection / "corpus.jsonl", args.docs)
        report["sorting"] = bench_sorting(texts, args.rounds, args.threads)
        report["sorting"]["collection"] = args.sort_collection.name
        print_sorting(report["sorting"])
    if "fidelity" in args.sections:
        report["fidelity"] = bench_fidelity(args.collection, args.work, args.backends, args.threads)
        print_fidelity(report["fidelity"])
    report["load_average_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
