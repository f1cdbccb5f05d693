"""What ``splade-lite demo`` prints: both rankings of each query, and where to go next.

:func:`splade_lite.demo.run_demo` builds, searches and explains; this module draws its
:class:`~splade_lite.demo.DemoResult` (or writes it as JSON). Lines may hold ANSI styles,
which ``click.echo`` drops when the output is not a terminal.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import click

from splade_lite.demo import BM25_DEPTH, MODEL, TOP_K, DemoHit, DemoResult, QueryResult
from splade_lite.explain import Explanation

Echo = Callable[[str], object]

#: Matched terms adding less than this share of a hit's score are summed, not listed: a
#: small model gives many documents faint expansions that say little about the match.
MIN_SHARE = 0.05


def format_matches(
    explanation: Explanation | None, limit: int = 6, min_share: float = MIN_SHARE
) -> str:
    """``term QxD=C`` for the terms that carry the match (at most `limit`, each adding at
    least `min_share` of the score, the largest always shown), the query's expansions styled
    and marked ``+``; the rest summed in one ``N more=C``, so the numbers shown add up to the
    score."""
    matches = explanation.matched if explanation is not None else []
    total = sum(m.contribution for m in matches)
    carrying = [m for m in matches[:limit] if m.contribution >= min_share * total]
    shown = carrying or list(matches[:1])
    parts = []
    for m in shown:
        # quote punctuation terms, which would read as separators otherwise
        term = m.term if m.term.strip("#").isalnum() else json.dumps(m.term, ensure_ascii=False)
        label = f"{term} {m.query_weight}x{m.doc_weight}={m.contribution}"
        if m.expansion_in_query:
            label = click.style("+" + label, fg="yellow", bold=True)
        parts.append(label)
    rest = matches[len(shown) :]
    if rest:
        parts.append(f"{len(rest)} more={sum(m.contribution for m in rest)}")
    return ", ".join(parts) if parts else "(no shared term)"


def show_demo(result: DemoResult, echo: Echo) -> None:
    """The whole demo output: what is compared, each query's rankings, the next steps."""
    expansion = click.style("+highlighted", fg="yellow", bold=True)
    echo("")
    echo(f"{result.num_docs} docstrings of the Python {sys.version.split()[0]} standard library,")
    echo("ranked by SPLADE (learned sparse) and by BM25 (exact words). Under each SPLADE hit,")
    echo("the terms it shares with the query: query weight x document weight = contribution;")
    echo(f"they add up to the score. {expansion} terms are expansions: the model added them,")
    echo("the query text does not contain them.")
    for query in result.queries:
        render_result(query, echo)
    show_next_steps(result.workdir, echo)


def render_result(result: QueryResult, echo: Echo) -> None:
    """Both rankings of one query, the SPLADE hits with their matched terms."""
    echo("")
    echo(click.style(f'Query: "{result.query}"', bold=True))
    if result.wanted:
        echo(f"  (looking for {' or '.join(result.wanted)})")
    bm25_ids = {h.docid: h.rank for h in result.bm25}
    splade_ids = {h.docid: h.rank for h in result.splade}
    _render_hits(
        echo, f"SPLADE (learned sparse, {MODEL})", result.splade, result.wanted,
        ("BM25", bm25_ids), "no document shares a term with this query", show_matches=True,
    )  # fmt: skip
    _render_hits(
        echo, "BM25 (exact words)", result.bm25, result.wanted,
        ("SPLADE", splade_ids), "no document contains a word of this query", show_matches=False,
    )  # fmt: skip
    if result.wanted:
        found = [
            f"SPLADE ranks it #{result.splade_rank}"
            if result.splade_rank
            else f"SPLADE misses it in its top {TOP_K}",
            f"BM25 ranks it #{result.bm25_rank}"
            if result.bm25_rank
            else f"BM25 does not find it in its top {BM25_DEPTH}",
        ]
        echo("  => " + "; ".join(found) + ".")


def _render_hits(
    echo: Echo,
    heading: str,
    hits: Sequence[DemoHit],
    wanted: Sequence[str],
    other: tuple[str, dict[str, int]],
    nothing: str,
    show_matches: bool,
) -> None:
    """One ranking: each hit, whether it is the wanted one, and its rank in the other list."""
    other_name, other_ranks = other
    echo(click.style(f"  {heading}", underline=True))
    if not hits:
        echo(f"    {nothing}")
    for hit in hits:
        notes = []
        if hit.docid in wanted:
            notes.append(click.style("<- wanted", fg="green", bold=True))
        if hit.docid in other_ranks:
            notes.append(f"({other_name} #{other_ranks[hit.docid]})")
        score = f"{hit.score:.0f}" if show_matches else f"{hit.score:.2f}"
        echo(f"   {hit.rank}. {_short(hit.title)}  score {score} " + " ".join(notes))
        if show_matches:
            echo(f"        {format_matches(hit.explanation)}")


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def demo_json(result: DemoResult) -> dict:
    """The demo's results as ``demo --json`` prints them."""

    def hit(h: DemoHit) -> dict:
        row = {"rank": h.rank, "docid": h.docid, "score": h.score, "title": h.title}
        if h.explanation is not None:
            row["matched"] = [
                {
                    "term": c.term,
                    "query_weight": c.query_weight,
                    "doc_weight": c.doc_weight,
                    "contribution": c.contribution,
                    "expansion": c.expansion_in_query,
                }
                for c in h.explanation.matched
            ]
        return row

    return {
        "workdir": str(result.workdir),
        "num_docs": result.num_docs,
        "cached": result.cached,
        "queries": [
            {
                "query": q.query,
                "wanted": list(q.wanted),
                "splade_rank": q.splade_rank,
                "bm25_rank": q.bm25_rank,
                "splade": [hit(h) for h in q.splade],
                "bm25": [hit(h) for h in q.bm25],
            }
            for q in result.queries
        ],
    }


def command_name() -> str:
    """How the user can run splade-lite from their shell: the bare name when it is on PATH,
    else the script beside this Python (a virtual environment that is not activated)."""
    if shutil.which("splade-lite"):
        return "splade-lite"
    beside = Path(sys.executable).parent / "splade-lite"
    return str(beside) if beside.is_file() else "splade-lite"


def show_next_steps(workdir: Path, echo: Echo) -> None:
    """The commands to try next, on the user's own corpus."""
    cmd = command_name()
    echo("")
    echo(click.style("Where to go next", bold=True))
    if cmd != "splade-lite":
        activate = Path(cmd).parent / "activate"
        echo(f"  (splade-lite is not on your PATH: `. {activate}` puts it there)")
    echo(f'  Try your own question:  {cmd} demo --query "..."')
    echo("  On your own corpus (BEIR corpus.jsonl, JSONL {id, contents} or TSV id<TAB>text):")
    echo(f"    {cmd} encode CORPUS --out VECTORS")
    echo(f"    {cmd} index VECTORS --out INDEX --bm25-corpus CORPUS")
    echo(f'    {cmd} search INDEX "your question"          (add --bm25 to compare)')
    echo(f"    {cmd} search INDEX --queries QUERIES --run run.trec")
    echo(f"    {cmd} evaluate run.trec --qrels QRELS")
    echo(f"  The demo's own files are in {workdir} (corpus: corpus.jsonl, index: index/).")
