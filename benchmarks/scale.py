"""Scale: every cost of the pipeline measured at growing corpus sizes, and how it grows.

For each size N (``--sizes``, default 10k, 100k and 1M documents):

1. **corpus**: real text (``real_corpus.py``: WordNet, GCIDE, the Python documentation, man
   pages and the shared collections) up to ``--real-max`` documents; above it the vectors
   are synthesised (``synthesize.py``) from the largest real size's vectors, keeping their
   term statistics: a 2-core CPU cannot encode a million documents in a session.
2. **encode** (real text only): ``splade-lite encode`` in a subprocess: docs/s and peak RSS.
3. **index**: ``splade-lite index`` in a subprocess, twice over the same vectors: an
   inference-free index with its BM25 index beside it (where there is text) and a SPLADE
   one: build seconds, peak RSS of the process tree (Python and Java), bytes per document of
   the Lucene impact files, of BM25's and of what splade-lite keeps beside them.
4. **search**, in a fresh subprocess per N (so memory figures are this N's alone):
   ``Searcher`` open seconds and RSS; per-query latency (one query at a time, the systems
   taking turns on every query, median and p99) at k=10 and k=1000 of BM25, inference-free
   queries (text in, query building included), SPLADE-mode query vectors (encoded before
   timing: the index search alone) and the inference-free hybrid; batch queries/s with 2
   threads. Queries: the SciFact and NFCorpus test queries (their documents are in every
   real corpus).

Results go to ``--out`` (merged by N, so sizes can be run one at a time); ``--report``
renders the markdown tables, the fitted growth (latency ∝ N^a, least squares in log-log)
and ``docs/scale-latency.png``. Every result records the CPU and its vector instructions.

    python benchmarks/scale.py --sizes 10000 100000 [--work runs/scale]
    python benchmarks/scale.py --sizes 1000000
    python benchmarks/scale.py --report
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import ROOT, write_report

RESULTS = ROOT / "benchmarks" / "results" / "scale.json"
PLOT = ROOT / "docs" / "scale-latency.png"
DATA = ROOT.parent / "shared" / "data"
QUERY_SETS = ("scifact", "nfcorpus")
OUR_FILES = {"splade_lite.json", "idf.json", "docs.jsonl.gz", "forward.npz", "vectors.json"}


# -- measuring subprocesses ------------------------------------------------------------------
def _tree_rss_kb(root: int) -> int:
    """Resident memory of `root` and all its descendants (Python and the Java it starts)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            status = (entry / "status").read_text()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss[pid] = int(line.split()[1])
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def run_measured(command: list[str], interval: float = 0.5) -> dict:
    """Run `command`; wall seconds, peak RSS of its process tree, and its JSON stdout."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_kb(proc.pid))
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({proc.returncode}):\n{err[-3000:]}")
    return {
        "seconds": round(seconds, 2),
        "peak_tree_rss_mb": round(peak[0] / 1024, 1),
        "json": json.loads(out) if out.strip() else None,
    }


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "splade_lite.cli", *args]


def _bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def index_sizes(index: Path, docs: int) -> dict:
    """Bytes per document of the Lucene impact files, the BM25 index and our own files."""
    lucene = sum(
        p.stat().st_size for p in index.iterdir() if p.is_file() and p.name not in OUR_FILES
    )
    ours = sum((index / name).stat().st_size for name in OUR_FILES if (index / name).is_file())
    bm25 = _bytes(index / "bm25") if (index / "bm25").is_dir() else 0
    return {
        "impact_bytes_per_doc": round(lucene / docs, 1),
        "bm25_bytes_per_doc": round(bm25 / docs, 1) if bm25 else None,
        "beside_bytes_per_doc": round(ours / docs, 1),
        "impact_mb": round(lucene / 2**20, 1),
        "disk_mb": round(_bytes(index) / 2**20, 1),
    }


# -- the stages ------------------------------------------------------------------------------
def build_inputs(n: int, work: Path, real_max: int) -> dict:
    """Corpus and vectors of size `n` (real text and encoded, or synthesised)."""
    folder = work / f"n{n}"
    folder.mkdir(parents=True, exist_ok=True)
    vectors = folder / "vectors"
    result: dict = {"docs": n, "text": n <= real_max}
    if n <= real_max:
        import real_corpus

        corpus = folder / "corpus.jsonl"
        if not corpus.is_file():
            result["corpus_sources"] = real_corpus.build_corpus(corpus, n)
        if not (vectors / "vectors.json").is_file():
            shutil.rmtree(vectors, ignore_errors=True)
            run = run_measured(
                _cli("encode", str(corpus), "--out", str(vectors), "--quiet", "--json")
            )
            result["encode"] = {
                "seconds": run["seconds"],
                "docs_per_s": round(run["json"]["num_docs"] / run["json"]["seconds"], 1),
                "postings_per_doc": round(run["json"]["num_postings"] / run["json"]["num_docs"], 1),
                "peak_rss_mb": run["peak_tree_rss_mb"],
            }
    elif not (vectors / "vectors.json").is_file():
        import synthesize

        source = work / f"n{real_max}" / "vectors"
        if not (source / "vectors.json").is_file():
            raise SystemExit(f"synthesising {n} documents needs the real vectors {source} first")
        shutil.rmtree(vectors, ignore_errors=True)
        started = time.perf_counter()
        summary = synthesize.synthesize(source, vectors, n, seed=0)
        result["synthesis"] = {"seconds": round(time.perf_counter() - started, 1), **summary}
    return result


def link_with_mode(source: Path, target: Path, mode: str) -> None:
    """`source` index hard-linked into `target` with its query mode switched: all that
    ``index --mode`` changes over the same vectors is the mode in ``splade_lite.json`` (the
    real builds at the smaller sizes differ in nothing else), which saves a second hour-long
    build at a million documents."""
    shutil.copytree(source, target, copy_function=os.link)
    meta_path = target / "splade_lite.json"
    meta = json.loads(meta_path.read_text())
    meta_path.unlink()  # a linked file: write a new one, leave the source's alone
    meta["mode"] = mode
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")


def build_indexes(n: int, work: Path, text: bool, engine_max: int, link_above: int) -> dict:
    """The inference-free index (with BM25 where there is text, with Seismic up to
    `engine_max` documents) and the SPLADE one, built or linked."""
    folder = work / f"n{n}"
    built: dict = {}
    for name, mode in (("index-if", "inference-free"), ("index-splade", "splade")):
        index = folder / name
        if (index / "splade_lite.json").is_file():
            continue
        if mode == "splade" and (not text or n > link_above):
            link_with_mode(folder / "index-if", index, mode)
            built[name] = {"linked_from": "index-if", **index_sizes(index, n)}
            continue
        args = ["index", str(folder / "vectors"), "--out", str(index), "--mode", mode]
        if text and mode == "inference-free":
            args += ["--bm25-corpus", str(folder / "corpus.jsonl")]
        if n <= engine_max:
            args += ["--engine", "seismic"]
        run = run_measured(_cli(*args, "--quiet", "--json"))
        meta = run["json"] or {}
        built[name] = {
            "seconds": run["seconds"],
            "impact_build_seconds": meta.get("build_seconds"),
            "bm25_build_seconds": (meta.get("bm25") or {}).get("seconds"),
            "engine": meta.get("engine"),
            "peak_tree_rss_mb": run["peak_tree_rss_mb"],
            **index_sizes(index, n),
        }
    return built


def read_query_texts(data: Path) -> list[str]:
    from splade_lite.trec import read_queries

    texts: list[str] = []
    for name in QUERY_SETS:
        qrels = data / name / "qrels" / "test.tsv"
        wanted = {line.split("\t")[0] for line in qrels.read_text().splitlines()[1:] if line}
        texts += [q.text for q in read_queries(data / name / "queries.jsonl") if q.id in wanted]
    return texts


def search_child(folder: Path, data: Path, rounds: int) -> dict:
    """Open the searchers of one size and time them (run in its own process)."""
    from search import single, throughput

    from splade_lite.search import Searcher

    def rss_mb() -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
        return 0.0

    texts = read_query_texts(data)
    out: dict = {"queries": len(texts), "rss_before_open_mb": rss_mb()}
    opened: dict[str, Searcher] = {}
    from splade_lite.engines.seismic import SeismicSearch

    text = (folder / "index-if" / "bm25").is_dir()
    lucene = {"engine": "lucene"}
    plan = [("inference-free", folder / "index-if", lucene)]
    if text:
        plan += [("bm25", folder / "index-if", {"bm25": True})]
        plan += [("hybrid", folder / "index-if", {"hybrid": True, **lucene})]
    plan += [("splade", folder / "index-splade", lucene)]
    seismic = (folder / "index-splade" / "seismic").is_dir()
    if seismic:
        plan += [("inference-free, seismic", folder / "index-if", {})]
        plan += [("seismic", folder / "index-splade", {})]
        exact = {"engine_search": SeismicSearch.exact()}
        plan += [("seismic exact", folder / "index-splade", exact)]
    opening = {}
    for name, index, options in plan:
        before, started = rss_mb(), time.perf_counter()
        opened[name] = Searcher(index, **options)
        opening[name] = {
            "seconds": round(time.perf_counter() - started, 3),
            "rss_added_mb": round(rss_mb() - before, 1),
        }
    out["open"] = opening
    splade_terms = opened["splade"].query_terms(texts)  # the model runs here, untimed
    by_text = dict(zip(texts, splade_terms))
    vector_searchers = {"splade": "splade vectors"}
    if seismic:
        vector_searchers |= {
            "seismic": "splade vectors, seismic",
            "seismic exact": "splade vectors, seismic exact",
        }
    systems = {
        name: (lambda s: lambda q, k: s.search(q, k))(searcher)
        for name, searcher in opened.items()
        if name not in vector_searchers
    }
    for name, label in vector_searchers.items():
        systems[label] = (lambda s: lambda q, k: s.batch_search_terms([by_text[q]], k))(
            opened[name]
        )
    splade = opened["splade"]
    # the same searches scoring every match: what Lucene's skipping (block-max WAND) saves
    for name, index in (("splade vectors", splade), ("inference-free", opened["inference-free"])):
        systems[f"{name}, no skipping"] = _without_skipping(index, systems[name])
    for name in systems:  # warm-up: the JVM's compiler, the term dictionary's pages
        for q in texts[:20]:
            systems[name](q, 10)
    out["latency"] = {str(k): single(systems, texts, k) for k in (10, 1000)}
    out["batch_qps_2_threads"] = {
        name: throughput(
            lambda s=searcher: s.batch_search(texts, 10, threads=2), len(texts), rounds
        )
        for name, searcher in opened.items()
        if name not in vector_searchers
    }
    for name, label in vector_searchers.items():
        out["batch_qps_2_threads"][label] = throughput(
            lambda s=opened[name]: s.batch_search_terms(splade_terms, 10, threads=2),
            len(texts),
            rounds,
        )
    if seismic:  # how close the fast settings come to the exact ranking (Lucene's)
        reference = [[h.docid for h in hits] for hits in splade.batch_search_terms(splade_terms)]
        fast = opened["seismic"].batch_search_terms(splade_terms)
        free = opened["inference-free"].batch_search(texts)
        free_fast = opened["inference-free, seismic"].batch_search(texts)
        out["top10_overlap_with_lucene"] = {
            "splade vectors, seismic": _overlap(reference, fast),
            "inference-free, seismic": _overlap([[h.docid for h in x] for x in free], free_fast),
        }
    out["rss_after_mb"] = rss_mb()
    return out


def _overlap(reference: list[list[str]], hits: list) -> float:
    """Mean share of each reference top 10 found in the other top 10."""
    pairs = [(ref, {h.docid for h in got}) for ref, got in zip(reference, hits) if ref]
    shares = [len(set(ref) & got) / len(ref) for ref, got in pairs]
    return round(statistics.fmean(shares), 4) if shares else 1.0


def _without_skipping(searcher, search):
    """`search` with Lucene's skipping off for its duration (the folder's searcher is shared)."""
    from splade_lite.indexer import ImpactIndex

    impact = ImpactIndex(searcher.index_dir)

    def run(q: str, k: int):
        impact.set_skipping(False)
        try:
            return search(q, k)
        finally:
            impact.set_skipping(True)

    return run


def measure_search(n: int, work: Path, data: Path, rounds: int) -> dict:
    command = [sys.executable, __file__, "--search-child", str(work / f"n{n}")]
    command += ["--data", str(data), "--rounds", str(rounds)]
    run = run_measured(command)
    return {"peak_tree_rss_mb": run["peak_tree_rss_mb"], **run["json"]}


# -- report ----------------------------------------------------------------------------------
def fit_exponent(points: list[tuple[int, float]]) -> float | None:
    """a in cost ∝ N^a, least squares over log N and log cost (None below two points)."""
    points = [(n, c) for n, c in points if c and c > 0]
    if len(points) < 2:
        return None
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(c) for _, c in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return round(sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den, 3) if den else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--real-max", type=int, default=100_000)
    parser.add_argument(
        "--engine-max", type=int, default=100_000, help="largest N with a Seismic engine built"
    )
    parser.add_argument(
        "--link-above",
        type=int,
        default=50_000,
        help="above this N the SPLADE index is the inference-free one with its mode switched",
    )
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "scale")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--stages", default="inputs,index,search")
    parser.add_argument("--search-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--report", action="store_true", help="render tables and the plot")
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "unused")  # pyserini's import needs it set
    if args.search_child:
        print(json.dumps(search_child(args.search_child, args.data, args.rounds)))
        return
    if args.report:
        import scale_report

        scale_report.render(args.out, PLOT)
        return
    previous = json.loads(args.out.read_text())["results"] if args.out.is_file() else []
    by_size = {r["docs"]: r for r in previous}
    stages = set(args.stages.split(","))
    for n in sorted(args.sizes):
        result = by_size.setdefault(n, {"docs": n})
        print(f"N={n}: {sorted(stages)}", file=sys.stderr)
        if "inputs" in stages:
            result.update(build_inputs(n, args.work, args.real_max))
        result.setdefault("text", n <= args.real_max)
        if "index" in stages:
            built = build_indexes(n, args.work, result["text"], args.engine_max, args.link_above)
            result.setdefault("index", {}).update(built)
        if "search" in stages:
            result["search"] = measure_search(n, args.work, args.data, args.rounds)
        result["measured_at"] = time.strftime("%Y-%m-%d %H:%M")
        result["load_average"] = os.getloadavg()
        write_report(args.out, [by_size[k] for k in sorted(by_size)])


if __name__ == "__main__":
    main()
