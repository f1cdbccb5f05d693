"""Torch's CPU threads on a machine that is not idle: encoding throughput and query latency.

Each configuration runs in a fresh process (OpenMP reads its wait policy once, at start):

* ``2 threads`` (torch's default here: one per core, OpenMP's default wait policy, which
  spins a while before sleeping);
* ``2 threads, passive`` (``OMP_WAIT_POLICY=PASSIVE``: waiting threads sleep at once);
* ``1 thread``.

and under two loads: ``idle`` (nothing started by this script) and ``one core busy`` (a
process of ours spinning on one core for the whole measurement, as another program on a
laptop would). Measured: documents/s of ``SpladeEncoder.encode`` over the first `--docs`
SciFact documents (batch 32), and the median and 90th percentile of one SPLADE query's
encoding, over `--queries` SciFact queries, one at a time. Configurations rotate within
each round; the table has medians over rounds and ratios to ``2 threads`` in the same load.

    python benchmarks/torch_threads.py [--docs 256] [--queries 60] [--rounds 3]
        [--out benchmarks/results/torch_threads.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, write_report

DATA = ROOT.parent / "shared" / "data" / "scifact"
CONFIGS = {
    "2 threads": (2, None),
    "2 threads, passive": (2, "PASSIVE"),
    "1 thread": (1, None),
}
LOADS = ("idle", "one core busy")

#: What each measuring process runs: encode documents, then time queries one by one.
CHILD = r"""
import json, statistics, sys, time
import torch
threads, docs_n, queries_n = map(int, sys.argv[1:4])
torch.set_num_threads(threads)
from splade_lite.encoders import SpladeEncoder
docs, queries = [], []
with open(sys.argv[4]) as f:
    for line in f:
        d = json.loads(line); docs.append((d.get("title", "") + " " + d["text"]).strip())
        if len(docs) == docs_n: break
with open(sys.argv[5]) as f:
    for line in f:
        queries.append(json.loads(line)["text"])
        if len(queries) == queries_n: break
enc = SpladeEncoder("splade-tiny", batch_size=32)
enc.encode(docs[:32]); enc.encode_queries(queries[:4])  # warm-up
began = time.perf_counter(); enc.encode(docs); seconds = time.perf_counter() - began
latencies = []
for q in queries:
    t = time.perf_counter(); enc.encode_queries([q]); latencies.append(time.perf_counter() - t)
latencies.sort()
print(json.dumps({"docs_per_s": docs_n / seconds,
                  "query_p50_ms": 1000 * statistics.median(latencies),
                  "query_p90_ms": 1000 * latencies[int(0.9 * (len(latencies) - 1))]}))
"""


def measure(threads: int, policy: str | None, args) -> dict:
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(threads), str(args.docs), str(args.queries),
         str(DATA / "corpus.jsonl"), str(DATA / "queries.jsonl")],
        check=True, capture_output=True, text=True, env=env,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=256)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/torch_threads.json")
    args = parser.parse_args()
    runs: dict[tuple[str, str], list[dict]] = {}
    loads_seen = []
    for round_ in range(args.rounds):
        for load in LOADS:
            spinner = None
            if load == "one core busy":
                spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
                time.sleep(1)
            try:
                names = list(CONFIGS)
                names = names[round_ % len(names) :] + names[: round_ % len(names)]
                for name in names:
                    got = measure(*CONFIGS[name], args)
                    runs.setdefault((load, name), []).append(got)
                    print(round_, load, name, json.dumps(got), flush=True)
            finally:
                if spinner is not None:
                    spinner.kill()
                    spinner.wait()
            loads_seen.append(os.getloadavg()[0])
    results = []
    for load in LOADS:
        base = statistics.median(r["docs_per_s"] for r in runs[(load, "2 threads")])
        base_q = statistics.median(r["query_p50_ms"] for r in runs[(load, "2 threads")])
        for name in CONFIGS:
            some = runs[(load, name)]
            row = {
                "load": load,
                "config": name,
                **{k: round(statistics.median(r[k] for r in some), 2) for k in some[0]},
                "rounds": some,
            }
            row["docs_vs_2_threads"] = round(row["docs_per_s"] / base, 2)
            row["query_p50_vs_2_threads"] = round(row["query_p50_ms"] / base_q, 2)
            results.append(row)
    write_report(
        args.out,
        results,
        command="python benchmarks/torch_threads.py",
        settings=vars(args) | {"out": str(args.out)},
        load_average_after_rounds=loads_seen,
    )


if __name__ == "__main__":
    main()
