"""Peak memory of `splade-lite encode` on a corpus and on the same corpus repeated N times.

The corpus (SciFact by default) is written once as it is and once repeated `--repeat` times
with unique ids (``<id>#<k>``), then each is encoded by ``splade-lite encode`` in its own
subprocess, as a user runs it. The subprocess's peak resident memory comes from
``os.wait4`` (its own ``ru_maxrss``, not that of any other child), and its resident memory is
sampled from ``/proc/<pid>/status`` every `--interval` seconds, so the table also shows the
peak over the first tenth of the run against the peak over the rest: flat memory means the
same figure everywhere, whatever the corpus size.

Documents are truncated to `--max-length` tokens (64 by default) so the repeated corpus
(about 52,000 documents for SciFact × 10) encodes in minutes; memory depends on the batch
(batch × max length) and not on the number of documents, which is what is measured.

    python benchmarks/memory.py [--corpus ../shared/data/scifact/corpus.jsonl] [--repeat 10]
        [--max-length 64] [--out benchmarks/results/memory.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "scifact" / "corpus.jsonl"


def repeat_corpus(source: Path, times: int, target: Path) -> int:
    """`source` written `times` times with ids made unique; returns the document count."""
    count = 0
    with target.open("w", encoding="utf-8") as out:
        for k in range(times):
            with source.open(encoding="utf-8") as lines:
                for line in lines:
                    if not line.strip():
                        continue
                    record = json.loads(line)
                    key = "_id" if "_id" in record else "id"
                    record[key] = f"{record[key]}#{k}" if times > 1 else record[key]
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                    count += 1
    return count


def _rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def encode_measured(corpus: Path, out: Path, args: argparse.Namespace) -> dict:
    """Run `splade-lite encode` on `corpus`; its wall time, peak RSS and RSS samples."""
    command = [
        sys.executable,
        "-m",
        "splade_lite.cli",
        "encode",
        str(corpus),
        "--out",
        str(out),
        "--max-length",
        str(args.max_length),
        "--overwrite",
        "--quiet",
    ]
    samples: list[tuple[float, int]] = []
    started = time.perf_counter()
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            rss = _rss_kb(proc.pid)
            if rss is not None:
                samples.append((time.perf_counter() - started, rss))
            done.wait(args.interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    stderr = proc.stderr.read() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"encode failed ({proc.returncode}):\n{stderr}")
    meta = json.loads((out / "vectors.json").read_text())
    # the run's own phases: model loading first, then encoding (the last 90% of the samples)
    cut = samples[0][0] + 0.1 * (samples[-1][0] - samples[0][0]) if samples else 0.0
    early = [kb for t, kb in samples if t <= cut]
    late = [kb for t, kb in samples if t > cut]
    return {
        "docs": meta["num_docs"],
        "seconds": round(seconds, 1),
        "docs_per_s": meta["docs_per_second"],
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "peak_rss_first_tenth_mb": round(max(early) / 1024, 1) if early else None,
        "peak_rss_rest_mb": round(max(late) / 1024, 1) if late else None,
        "rss_samples_mb": [(round(t, 1), round(kb / 1024, 1)) for t, kb in samples],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DATA)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between samples")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/memory.json")
    args = parser.parse_args()

    results = {}
    with tempfile.TemporaryDirectory(prefix="splade-memory-") as tmp:
        for times in (1, args.repeat):
            corpus = Path(tmp) / f"corpus-x{times}.jsonl"
            docs = repeat_corpus(args.corpus, times, corpus)
            print(f"x{times}: {docs} documents ...", flush=True)
            result = encode_measured(corpus, Path(tmp) / f"vectors-x{times}", args)
            results[f"x{times}"] = result
            print(
                f"x{times}: {result['docs']} docs in {result['seconds']} s, "
                f"peak RSS {result['peak_rss_mb']} MB",
                flush=True,
            )

    small, large = results["x1"], results[f"x{args.repeat}"]
    growth = large["peak_rss_mb"] - small["peak_rss_mb"]
    extra_docs = large["docs"] - small["docs"]
    report = {
        "command": " ".join(["python benchmarks/memory.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d"),
        "corpus": str(args.corpus),
        "settings": {
            "repeat": args.repeat,
            "max_length": args.max_length,
            "batch_size": 32,
            "model": "splade-tiny",
        },
        "cores": len(os.sched_getaffinity(0)),
        "results": results,
        "peak_growth_mb": round(growth, 1),
        "peak_growth_bytes_per_extra_doc": round(growth * 2**20 / extra_docs, 1),
    }
    print("\n| corpus | docs | seconds | docs/s | peak RSS MB | first tenth | rest |")
    print("|---|---|---|---|---|---|---|")
    for name, row in results.items():
        print(
            f"| {name} | {row['docs']:,} | {row['seconds']} | {row['docs_per_s']} "
            f"| {row['peak_rss_mb']} | {row['peak_rss_first_tenth_mb']} "
            f"| {row['peak_rss_rest_mb']} |"
        )
    print(
        f"\npeak grows by {growth:+.1f} MB for {extra_docs:,} more documents "
        f"({report['peak_growth_bytes_per_extra_doc']} bytes per document)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
