"""Markdown tables, fitted growth and the latency plot of ``benchmarks/results/scale.json``.

python benchmarks/scale.py --report      # prints the markdown, writes docs/scale-latency.png
"""

from __future__ import annotations

import json
from pathlib import Path

from scale import fit_exponent

SYSTEMS = (
    "bm25",
    "inference-free",
    "inference-free, no skipping",
    "splade vectors",
    "splade vectors, no skipping",
    "hybrid",
    "inference-free, seismic",
    "splade vectors, seismic",
    "splade vectors, seismic exact",
)


#: The searcher each system's row was timed with (``open`` is keyed by searcher).
OPENED_AS = {
    "splade vectors": "splade",
    "splade vectors, seismic": "seismic",
    "splade vectors, seismic exact": "seismic exact",
}


def _cell(value, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _latency(result: dict, system: str, k: str, stat: str = "median_ms") -> float | None:
    return (
        (((result.get("search") or {}).get("latency") or {}).get(k) or {}).get(system, {}).get(stat)
    )


def tables(results: list[dict]) -> str:
    out = ["| N | corpus | encode docs/s | encode peak RSS MB | impact build s (IF / SPLADE) "
           "| index peak RSS MB | impact B/doc | BM25 B/doc | beside B/doc |",
           "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        enc = r.get("encode") or {}
        idx = r.get("index") or {}
        if_, sp = idx.get("index-if") or {}, idx.get("index-splade") or {}
        out.append(
            f"| {r['docs']:,} | {'real text' if r.get('text') else 'synthesised vectors'} "
            f"| {_cell(enc.get('docs_per_s'), 1)} | {_cell(enc.get('peak_rss_mb'), 0)} "
            f"| {_cell(if_.get('impact_build_seconds'), 1)} / "
            f"{_cell(sp.get('impact_build_seconds'), 1)} "
            f"| {_cell(max(if_.get('peak_tree_rss_mb', 0), sp.get('peak_tree_rss_mb', 0)), 0)} "
            f"| {_cell(if_.get('impact_bytes_per_doc'), 0)} "
            f"| {_cell(if_.get('bm25_bytes_per_doc'), 0)} "
            f"| {_cell(if_.get('beside_bytes_per_doc'), 0)} |"
        )
    out += ["", "| N | system | k=10 median / p99 ms | k=1000 median / p99 ms | "
            "batch q/s (2 threads) | open s | RSS added by open MB |",
            "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        search = r.get("search") or {}
        for system in SYSTEMS:
            if _latency(r, system, "10") is None:
                continue
            opened = (search.get("open") or {}).get(OPENED_AS.get(system, system), {})
            out.append(
                f"| {r['docs']:,} | {system} "
                f"| {_cell(_latency(r, system, '10'), 3)} / "
                f"{_cell(_latency(r, system, '10', 'p99_ms'), 3)} "
                f"| {_cell(_latency(r, system, '1000'), 3)} / "
                f"{_cell(_latency(r, system, '1000', 'p99_ms'), 3)} "
                f"| {_cell((search.get('batch_qps_2_threads') or {}).get(system), 1)} "
                f"| {_cell(opened.get('seconds'), 2)} | {_cell(opened.get('rss_added_mb'), 1)} |"
            )
    out += ["", "| N | Seismic top-10 overlap with Lucene (SPLADE / inference-free) "
            "| Seismic MB (Lucene impact MB) | Seismic build s |", "|---|---|---|---|"]  # fmt: skip
    for r in results:
        overlap = (r.get("search") or {}).get("top10_overlap_with_lucene")
        built = (r.get("index") or {}).get("index-if") or {}
        engine = built.get("engine") or {}
        if overlap and engine:
            out.append(
                f"| {r['docs']:,} | {overlap['splade vectors, seismic']:.3f} / "
                f"{overlap['inference-free, seismic']:.3f} | {engine['bytes'] / 2**20:,.0f} "
                f"({built['impact_mb']:,.1f}) | {engine['seconds']:.0f} |"
            )
    out += ["", "Fitted growth, median latency ∝ N^a:", "",
            "| system | a at k=10 | a at k=1000 |", "|---|---|---|"]  # fmt: skip
    for system in SYSTEMS:
        fits = [
            fit_exponent([(r["docs"], _latency(r, system, k)) for r in results])
            for k in ("10", "1000")
        ]
        if any(f is not None for f in fits):
            out.append(f"| {system} | {_cell(fits[0], 2)} | {_cell(fits[1], 2)} |")
    return "\n".join(out)


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, k in zip(axes, ("10", "1000")):
        for system in SYSTEMS:
            points = [(r["docs"], _latency(r, system, k)) for r in results]
            points = [(n, ms) for n, ms in points if ms]
            if points:
                ax.plot(*zip(*points), marker="o", label=system)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("documents (N)")
        ax.set_title(f"median query latency, k={k}")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("ms per query (1 thread)")
    axes[0].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def render(results_path: Path, plot_path: Path) -> None:
    report = json.loads(Path(results_path).read_text())
    results = sorted(report["results"], key=lambda r: r["docs"])
    print(f"Machine: {report['machine']}\n")
    print(tables(results))
    plot(results, plot_path)
    print(f"\n![median latency against N]({plot_path.name})")
