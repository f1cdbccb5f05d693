"""Encoding throughput on Ray: one process against a pool of 1 and of 2 Ray actors.

The first `--docs` SciFact documents are written to a corpus of their own, then encoded by
``encode_corpus`` (as ``splade-lite encode`` does: parse, encode, count document
frequencies, write the shard) with splade-tiny, max length 256, batch size 32, in four
configurations:

* ``one process``: the driver's own encoder, with as many torch threads as cores (what
  ``splade-lite encode`` does);
* ``one process, 1 thread``: the same with one torch thread, which is what each of two
  actors has (and which stands up far better when another process holds a core);
* ``ray, 1 actor``: :class:`RayEncoder` with one actor of all the cores' threads;
* ``ray, 2 actors``: two actors splitting the cores.

Ray is started once, locally, over this machine's cores (timed apart); each pool is started
before its run and closed after (the two pools cannot both hold the cores), and its start-up
(actors loading the model) is timed apart from its encoding. Every configuration runs once
per round, in an order that rotates every round, so a noisy neighbour slows all alike; the
table has median docs/s of the encoding alone, the ratio of medians to ``one process``, the
driver's CPU seconds per run, and whether each run's shards and df.json are byte for byte
those of an untimed one-process run made first. The load average is recorded before the
first round and after each.

    python benchmarks/ray_encode.py [--docs 2000] [--rounds 3]
        [--corpus ../shared/data/scifact/corpus.jsonl] [--work runs/ray_encode]
        [--out benchmarks/results/ray_encode.json]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
from pathlib import Path

from common import ROOT, write_report

DATA = ROOT.parent / "shared" / "data" / "scifact" / "corpus.jsonl"
#: name -> (Ray actors, torch threads per process; None: all the cores)
CONFIGS = {
    "one process": (0, None),
    "one process, 1 thread": (0, 1),
    "ray, 1 actor": (1, None),
    "ray, 2 actors": (2, None),
}
BASELINE = "one process"
#: The untimed run all others are compared with (threads do not change the vectors).
REFERENCE = "one process, 1 thread"


def sample_corpus(source: Path, docs: int, target: Path) -> int:
    """The first `docs` lines of `source` (one document a line) into `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open(encoding="utf-8") as lines, target.open("w", encoding="utf-8") as out:
        count = 0
        for line in itertools.islice((line for line in lines if line.strip()), docs):
            out.write(line)
            count += 1
    return count


def output_files(folder: Path) -> dict[str, bytes]:
    """The bytes that must not depend on how the documents were encoded."""
    files = {p.name: p.read_bytes() for p in sorted(folder.glob("part-*.jsonl"))}
    files["df.json"] = (folder / "df.json").read_bytes()
    return files


def run_once(name: str, encoder, corpus: Path, out: Path, options: dict) -> dict:
    """One encode run of configuration `name`: timings and its output files."""
    import torch

    from splade_lite.encode import encode_corpus
    from splade_lite.encoders.ray_pool import RayEncoder

    actors, threads = CONFIGS[name]
    started = time.perf_counter()
    pool = RayEncoder(encoder, actors=actors) if actors else None
    startup = time.perf_counter() - started
    cores = torch.get_num_threads()
    torch.set_num_threads(threads or cores)
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        summary = encode_corpus(corpus, out, encoder=pool or encoder, overwrite=True, **options)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        torch.set_num_threads(cores)
        if pool is not None:
            pool.close()
    return {
        "docs_per_s": summary.num_docs / wall,
        "startup_s": startup if actors else 0.0,
        "driver_cpu_s": cpu,
        "files": output_files(out),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DATA)
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "ray_encode")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "ray_encode.json"
    )
    args = parser.parse_args()

    import ray
    import torch

    from splade_lite.encoders import SpladeEncoder
    from splade_lite.encoders.parallel import available_cores
    from splade_lite.encoders.ray_pool import connect

    load_before = os.getloadavg()
    cores = available_cores()
    torch.set_num_threads(cores)
    corpus = args.work / "corpus.jsonl"
    docs = sample_corpus(args.corpus, args.docs, corpus)
    encoder = SpladeEncoder("splade-tiny", max_length=256, batch_size=32, device="cpu")
    options = {"batch_size": 32, "progress": False}
    started = time.perf_counter()
    connect(num_cpus=cores)
    ray_start_s = time.perf_counter() - started

    # untimed: the files every run must write, and the driver's first calls warmed up
    reference = run_once(REFERENCE, encoder, corpus, args.work / "reference", options)["files"]
    names = list(CONFIGS)
    rates: dict[str, list[float]] = {n: [] for n in names}
    startups: dict[str, list[float]] = {n: [] for n in names}
    driver_cpu: dict[str, list[float]] = {n: [] for n in names}
    same: dict[str, bool] = {n: True for n in names}
    load_by_round: list[list[float]] = []
    for r in range(args.rounds):
        shift = r % len(names)
        order = names[shift:] + names[:shift]
        if r % 2:
            order.reverse()
        for name in order:
            folder = args.work / name.replace(", ", "-").replace(" ", "-")
            got = run_once(name, encoder, corpus, folder, options)
            rates[name].append(got["docs_per_s"])
            startups[name].append(got["startup_s"])
            driver_cpu[name].append(got["driver_cpu_s"])
            same[name] = same[name] and got["files"] == reference
        load_by_round.append([round(x, 2) for x in os.getloadavg()])
        print(
            f"round {r + 1}/{args.rounds} (load {load_by_round[-1][0]}): "
            + ", ".join(f"{n} {rates[n][-1]:.1f}" for n in names)
        )

    medians = {n: statistics.median(v) for n, v in rates.items()}
    results = [
        {
            "config": name,
            "actors": CONFIGS[name][0],
            "threads_per_process": CONFIGS[name][1] or cores // max(1, CONFIGS[name][0]),
            "docs_per_s": [round(x, 2) for x in rates[name]],
            "median_docs_per_s": round(medians[name], 2),
            "vs_one_process": round(medians[name] / medians[BASELINE], 3),
            "median_startup_s": round(statistics.median(startups[name]), 2),
            "median_driver_cpu_s": round(statistics.median(driver_cpu[name]), 2),
            "same_files_as_one_process": same[name],
        }
        for name in names
    ]
    write_report(
        args.out,
        results,
        command="python benchmarks/ray_encode.py",
        settings={
            "model": "splade-tiny",
            "max_length": 256,
            "batch_size": 32,
            "docs": docs,
            "rounds": args.rounds,
            "cores": cores,
            "corpus": os.path.relpath(args.corpus, ROOT),
            "ray": ray.__version__,
        },
        load_average_before=load_before,
        load_average_after_each_round=load_by_round,
        ray_start_s=round(ray_start_s, 2),
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
