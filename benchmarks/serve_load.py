"""Load on `splade-lite serve` over loopback HTTP, next to the same queries in process.

Starts ``splade-lite serve INDEX...`` as its own process on a free 127.0.0.1 port, then
for each kind of query the indexes answer (learned sparse by their encoding, so
``inference-free`` or ``splade``, and ``hybrid <encoding>`` where BM25 is beside them)
and each number of concurrent clients (1, 8, 32 by default) sends ``POST /api/search``
requests for `--seconds` from asyncio httpx clients, each waiting for its answer before
its next request. Reported per cell: requests, errors (a non-200 answer or a failed
connection), requests/s, p50/p99 latency; and, for the same queries searched one at a
time by an in-process :class:`~splade_lite.search.Searcher`, p50/p99, with the ratio of
the HTTP p50 at one client to it: what the HTTP layer adds.

Client and server share the machine, so at 32 clients the client's own work counts too.

    python benchmarks/serve_load.py INDEX [INDEX ...] [--queries queries.jsonl]
        [--seconds 5] [--concurrency 1 8 32] [--k 10] [--threads 1]
        [--server-concurrency N] [--out benchmarks/results/serve_load.json]

The server runs with ``--threads`` torch threads (and ``--server-concurrency`` searches at
once, else its default: the cores); the in-process searcher with the same torch threads, so
that the ratio is the HTTP layer's cost alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import ROOT, write_report

#: Queries used when no --queries file is given: short and long, common and rare words.
DEFAULT_QUERIES = [
    "vitamin d deficiency and bone density",
    "does sleep deprivation raise the risk of heart disease",
    "coffee caffeine",
    "aurora borealis solar wind",
    "how do vaccines train the immune system",
    "effects of exercise on depression in older adults",
    "gene expression in cancer cells",
    "antibiotic resistance mechanisms",
    "insulin",
    "the role of gut bacteria in obesity",
    "smoking and lung function decline",
    "is red meat linked to colorectal cancer",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def read_queries(path: Path | None, limit: int) -> list[str]:
    if path is None:
        return DEFAULT_QUERIES
    texts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        texts.append(
            json.loads(line)["text"] if line.lstrip().startswith("{") else line.split("\t")[-1]
        )
    return texts[:limit]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(indexes: list[Path], port: int, log: Path, extra: list[str]) -> subprocess.Popen:
    """The server as its own process, its log in `log` (a file: a pipe left unread fills)."""
    script = "import sys; from splade_lite.cli_serve import serve; serve(sys.argv[1:])"
    command = [sys.executable, "-c", script, *map(str, indexes), "--port", str(port), "--quiet"]
    command += extra
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server stopped: {log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("the server did not start within 300 s")


async def load(url: str, bodies: list[dict], clients: int, seconds: float) -> dict:
    """`clients` concurrent loops of requests for `seconds`; latencies and errors."""
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker(offset: int) -> None:
            nonlocal errors
            i = offset
            while time.perf_counter() < stop:
                body = bodies[i % len(bodies)]
                i += clients
                began = time.perf_counter()
                try:
                    answer = await client.post("/api/search", json=body)
                    ok = answer.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - began)
                else:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(clients)))
        elapsed = time.perf_counter() - began
    return {
        "requests": len(latencies) + errors,
        "errors": errors,
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(1000 * percentile(latencies, 50), 2),
        "p99_ms": round(1000 * percentile(latencies, 99), 2),
    }


def in_process(index: Path, hybrid: bool, queries: list[str], k: int, seconds: float) -> dict:
    """The same queries, one at a time, by a Searcher in this process (with the hits' text,
    as the API answers)."""
    from splade_lite.search import Searcher

    searcher = Searcher(index, hybrid=hybrid)  # torch threads: as the server's (main)
    for query in queries[:5]:  # warm: encoder, Java, caches
        searcher.search(query, k=k, text=True)
    latencies = []
    stop = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < stop:
        began = time.perf_counter()
        searcher.search(queries[i % len(queries)], k=k, text=True)
        latencies.append(time.perf_counter() - began)
        i += 1
    return {
        "p50_ms": round(1000 * percentile(latencies, 50), 3),
        "p99_ms": round(1000 * percentile(latencies, 99), 3),
        "searches": len(latencies),
    }


def main() -> None:
    os.environ.setdefault("OPENAI_API_KEY", "unused")  # pyserini's import needs it set
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    parser.add_argument("indexes", nargs="+", type=Path)
    parser.add_argument("--queries", type=Path, default=None, help="BEIR queries.jsonl or TSV")
    parser.add_argument("--max-queries", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5.0, help="per cell")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "serve_load.json"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads, of the server and in process"
    )
    parser.add_argument(
        "--server-concurrency", type=int, default=None, help="serve --concurrency [its default]"
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    extra = ["--threads", str(args.threads)]
    if args.server_concurrency:
        extra += ["--concurrency", str(args.server_concurrency)]
    queries = read_queries(args.queries, args.max_queries)
    from splade_lite.metadata import read_index_meta
    from splade_lite.serve.registry import unique_names

    names = unique_names(args.indexes)
    kinds = []
    for name, index in zip(names, args.indexes):
        meta = read_index_meta(index)
        kinds.append((meta["mode"], name, index, "sparse"))
        if meta.get("bm25"):
            kinds.append((f"hybrid {meta['mode']}", name, index, "hybrid"))
    port = free_port()
    server = start_server(args.indexes, port, Path(tempfile.gettempdir()) / "serve_load.log", extra)
    url = f"http://127.0.0.1:{port}"
    results = []
    try:
        for kind, name, index, mode in kinds:
            bodies = [{"index": name, "query": q, "k": args.k, "mode": mode} for q in queries]
            asyncio.run(load(url, bodies[:5], 1, 1.0))  # warm the server's searchers
            local = in_process(index, mode == "hybrid", queries, args.k, args.seconds)
            for clients in args.concurrency:
                cell = asyncio.run(load(url, bodies, clients, args.seconds))
                row = {
                    "kind": kind,
                    "index": name,
                    "clients": clients,
                    **cell,
                    "in_process_p50_ms": local["p50_ms"],
                    "in_process_p99_ms": local["p99_ms"],
                }
                if clients == 1 and local["p50_ms"] > 0:
                    row["http_over_in_process_p50"] = round(cell["p50_ms"] / local["p50_ms"], 2)
                results.append(row)
                print(json.dumps(row), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=60)
    write_report(
        args.out,
        results,
        queries=len(queries),
        seconds_per_cell=args.seconds,
        k=args.k,
        threads=args.threads,
        server_concurrency=args.server_concurrency,
        indexes=[str(p) for p in args.indexes],
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
