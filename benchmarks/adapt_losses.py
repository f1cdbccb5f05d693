"""Loss curves of ``splade-lite adapt`` runs: one line per run, the mean of every 25 steps.

Reads each run's ``training/losses.json`` (every step's loss, written by the trainer) and
draws them on one chart (matplotlib, an optional dependency of this script only); the
per-window means are printed too, for the tables in docs/benchmarks.md.

    python benchmarks/adapt_losses.py runs/adapt/RUN [RUN ...] --out docs/adapt_losses.png
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

WINDOW = 25


def losses(run: Path) -> list[float]:
    data = json.loads((run / "training" / "losses.json").read_text())["losses"]
    return [float(x["loss"] if isinstance(x, dict) else x) for x in data]


def windows(values: list[float], size: int = WINDOW) -> list[float]:
    return [statistics.fmean(values[i : i + size]) for i in range(0, len(values), size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/adapt_losses.png"))
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for run in args.runs:
        means = windows(losses(run))
        steps = [WINDOW * (i + 1) for i in range(len(means))]
        ax.plot(steps, means, marker="o", markersize=3, label=run.name)
        print(run.name, [round(m, 1) for m in means])
    ax.set_yscale("log")  # runs on different query sets differ tenfold in size
    ax.set_xlabel("step")
    ax.set_ylabel(f"loss (mean of {WINDOW} steps)")
    ax.set_title("splade-lite adapt: distillation + regulariser loss")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)


if __name__ == "__main__":
    main()
