"""What the collection benchmarks share: their command-line arguments, how a report is written,
and how a score matrix becomes ranked lists and ranked lists an nDCG@10.

Each script is run as ``python benchmarks/<name>.py``, so this module is imported as
``common`` (the script's own folder is first on ``sys.path``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from splade_lite.cpu import cpu_info

ROOT = Path(__file__).resolve().parents[1]
COLLECTIONS = ["scifact", "nfcorpus", "cranfield", "medline"]


def collection_parser(doc: str, out_name: str) -> argparse.ArgumentParser:
    """A parser with --data, --work, --collections and --out (``benchmarks/results/out_name``),
    described by the first line of the script's docstring."""
    os.environ.setdefault("OPENAI_API_KEY", "unused")  # pyserini's import needs it set
    parser = argparse.ArgumentParser(description=doc.strip().split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "collections")
    parser.add_argument("--collections", nargs="+", default=COLLECTIONS)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / out_name)
    return parser


def write_report(out: Path, results: list, **extra: object) -> None:
    """``{"machine", "cpu", "date", **extra, "results"}`` as JSON into `out`; ``cpu`` names the
    model and its vector instruction sets, which decide how fast the back ends are."""
    info = cpu_info()
    report = {
        "machine": f"{info.describe()}, Python {platform.python_version()}",
        "cpu": info.as_dict(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load_average": os.getloadavg(),
        **extra,
        "results": results,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")


def ranked(ids: list[str], scores, depth: int = 1000) -> list[list[tuple[str, float]]]:
    """Each row of `scores` [queries, documents] as its top `depth` (doc id, score), best
    first, ties by position: the exact ranking Lucene's flat dense search gives."""
    import numpy as np

    out = []
    for row in scores:
        top = np.argpartition(-row, min(depth, len(row) - 1))[:depth]
        top = top[np.lexsort((top, -row[top]))]
        out.append([(ids[i], float(row[i])) for i in top])
    return out


def ndcg_at_10(qids: list[str], qrels: dict, lists: list, depth: int = 1000) -> float:
    """nDCG@10 (ir-measures, through splade_lite.evaluate) of one ranked list of (doc id,
    score) per query, in the order of `qids`, each cut at `depth`; 4 decimals."""
    from splade_lite.evaluate import evaluate

    run = {qid: dict(hits[:depth]) for qid, hits in zip(qids, lists)}
    return round(evaluate(run, qrels, ("nDCG@10",))["nDCG@10"], 4)
