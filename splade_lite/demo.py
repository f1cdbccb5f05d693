"""`splade-lite demo`: index the Python standard library's docstrings, compare SPLADE with BM25.

The demo needs no download: its corpus is the docstrings of the interpreter's own standard
library (:mod:`splade_lite.stdlib_corpus`).

A run builds ``corpus.jsonl``, encodes it with splade-tiny into ``vectors/``, indexes it into
``index/`` (with a BM25 index beside it) and then, for a few queries, shows the top hits of
SPLADE next to those of BM25, with the terms each SPLADE hit matched and what each term added
to its score. Everything is cached in the work folder; a second run only searches.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click

from splade_lite.outputs import claim_demo_workdir, lock_folder, read_demo_state
from splade_lite.stdlib_corpus import (
    CORPUS_VERSION,
    build_stdlib_corpus,
    stdlib_dir,
    write_corpus,
)

__all__ = [
    "DEMO_QUERIES",
    "DemoHit",
    "DemoQuery",
    "DemoResult",
    "MatchedTerm",
    "QueryResult",
    "default_workdir",
    "format_matches",
    "match_terms",
    "render_result",
    "run_demo",
]

Echo = Callable[[str], object]

MODEL = "splade-tiny"
MAX_LENGTH = 128
TOP_K = 5
#: Matched terms adding less than this share of a hit's score are summed, not listed: a
#: small model gives many documents faint expansions that say little about the match.
MIN_SHARE = 0.05
#: How deep BM25 is searched to report where it ranks the document a built-in query wants.
BM25_DEPTH = 100

@dataclass(frozen=True)
class MatchedTerm:
    """A term shared by the query and a document, and what it adds to the document's score."""

    term: str
    query_weight: int
    doc_weight: int
    expansion: bool  # True when the term is not one of the query text's own tokens

    @property
    def contribution(self) -> int:
        return self.query_weight * self.doc_weight


def match_terms(
    query_terms: dict[str, int], doc_terms: dict[str, int], query_tokens: Iterable[str]
) -> list[MatchedTerm]:
    """The terms a query and a document share, largest contribution first.

    With integer impacts the hit's score is exactly the sum of the contributions.
    """
    literal = set(query_tokens)
    matched = [
        MatchedTerm(term, weight, doc_terms[term], term not in literal)
        for term, weight in query_terms.items()
        if term in doc_terms
    ]
    return sorted(matched, key=lambda m: (-m.contribution, m.term))


def format_matches(
    matches: Sequence[MatchedTerm], limit: int = 6, min_share: float = MIN_SHARE
) -> str:
    """``term QxD=C`` for the terms that carry the match (at most `limit`, each adding at
    least `min_share` of the score, the largest always shown), expansions styled and marked
    ``+``; the rest summed in one ``N more=C``, so the numbers shown add up to the score."""
    total = sum(m.contribution for m in matches)
    carrying = [m for m in matches[:limit] if m.contribution >= min_share * total]
    shown = carrying or list(matches[:1])
    parts = []
    for m in shown:
        # quote punctuation terms, which would read as separators otherwise
        term = m.term if m.term.strip("#").isalnum() else json.dumps(m.term, ensure_ascii=False)
        label = f"{term} {m.query_weight}x{m.doc_weight}={m.contribution}"
        if m.expansion:
            label = click.style("+" + label, fg="yellow", bold=True)
        parts.append(label)
    rest = matches[len(shown) :]
    if rest:
        parts.append(f"{len(rest)} more={sum(m.contribution for m in rest)}")
    return ", ".join(parts) if parts else "(no shared term)"


# --------------------------------------------------------------------------------------------
# The demo


@dataclass(frozen=True)
class DemoQuery:
    """A built-in query and the documents it is after (any one of them counts as found)."""

    text: str
    wanted: tuple[str, ...] = ()


#: Natural questions that avoid the identifiers they are after: BM25 needs those exact words,
#: SPLADE's expansion can find the document without them. Chosen by running them on the demo
#: corpora of Pythons 3.10 to 3.13, where splade-tiny ranks the document first or second and
#: BM25 not in its top 5 (many other phrasings fail with a model this small).
DEMO_QUERIES: tuple[DemoQuery, ...] = (
    DemoQuery("pause the program for a few seconds", ("time.sleep",)),
    DemoQuery("tally occurrences of items", ("collections.Counter",)),
    DemoQuery("mix a list randomly", ("random.shuffle",)),
)


@dataclass(frozen=True)
class DemoHit:
    """One hit as shown: rank, id, score, title, and for SPLADE the matched terms."""

    rank: int
    docid: str
    score: float
    title: str = ""
    matches: tuple[MatchedTerm, ...] = ()


@dataclass(frozen=True)
class QueryResult:
    """Both rankings of one query."""

    query: str
    splade: list[DemoHit]
    bm25: list[DemoHit]
    wanted: tuple[str, ...] = ()
    splade_rank: int | None = None  # rank of the first wanted document (None: not in top k)
    bm25_rank: int | None = None  # the same within BM25's top BM25_DEPTH


@dataclass
class DemoResult:
    """What `run_demo` built and found (for tests and for callers of the API)."""

    workdir: Path
    num_docs: int
    queries: list[QueryResult] = field(default_factory=list)
    cached: bool = False
    build_seconds: float = 0.0


def default_workdir() -> Path:
    """``$XDG_CACHE_HOME/splade-lite/demo``, else ``~/.cache/splade-lite/demo``."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "splade-lite" / "demo"


def corpus_signature(max_docs: int) -> dict:
    """What decides the demo corpus and index; a cached index is reused only if it matches."""
    from splade_lite import __version__

    return {
        "corpus_version": CORPUS_VERSION,
        "splade_lite": __version__,
        "python": sys.version,
        "stdlib": str(stdlib_dir()),
        "max_docs": max_docs,
        "model": MODEL,
        "max_length": MAX_LENGTH,
    }


def run_demo(
    workdir: Path | None = None,
    max_docs: int = 2000,
    queries: list[str] | None = None,
    rebuild: bool = False,
    echo: Echo = print,
) -> DemoResult:
    """Build (or reuse) the stdlib demo index in `workdir`, search it, and show the results.

    `queries` replaces the built-in queries. Lines go to `echo`; they may hold ANSI styles
    (``click.echo`` drops them when the output is not a terminal; the default ``print`` is
    routed through ``click.echo`` for that reason).
    """
    if echo is print:
        echo = click.echo
    default = workdir is None
    workdir = default_workdir() if default else Path(workdir)
    claim_demo_workdir(workdir, default)  # a new, empty or demo-made folder; others refused
    signature = corpus_signature(max_docs)
    state = read_demo_state(workdir)
    cached = not rebuild and _cache_valid(workdir, state, signature)
    started = time.perf_counter()
    if cached:
        num_docs = int(state["num_docs"])
        echo(f"Using the demo index built earlier in {workdir} (--rebuild builds it again).")
        build_seconds = 0.0
    else:
        with lock_folder(workdir):  # one build at a time in a work folder
            num_docs = _build(workdir, max_docs, signature, echo)
        build_seconds = time.perf_counter() - started
        echo(f"Ready in {build_seconds:.0f} s.")

    demo_queries = [DemoQuery(q) for q in queries] if queries else list(DEMO_QUERIES)
    results = _search(workdir, demo_queries)
    expansion = click.style("+highlighted", fg="yellow", bold=True)
    echo("")
    echo(f"{num_docs} docstrings of the Python {sys.version.split()[0]} standard library,")
    echo("ranked by SPLADE (learned sparse) and by BM25 (exact words). Under each SPLADE hit,")
    echo("the terms it shares with the query: query weight x document weight = contribution;")
    echo(f"they add up to the score. {expansion} terms are expansions: the model added them,")
    echo("the query text does not contain them.")
    for result in results:
        render_result(result, echo)
    _show_next_steps(workdir, echo)
    return DemoResult(workdir, num_docs, results, cached, build_seconds)


def _cache_valid(workdir: Path, state: dict, signature: dict) -> bool:
    from splade_lite.metadata import INDEX_META, VECTORS_META

    return (
        state.get("signature") == signature
        and isinstance(state.get("num_docs"), int)
        and (workdir / "index" / INDEX_META).is_file()
        and (workdir / "vectors" / VECTORS_META).is_file()
    )


def _build(workdir: Path, max_docs: int, signature: dict, echo: Echo) -> int:
    """Corpus -> vectors -> index in `workdir`; returns the number of documents."""
    from splade_lite.encode import encode_corpus
    from splade_lite.encoders import load_encoder
    from splade_lite.index import build_index
    from splade_lite.metadata import write_json

    # forget the old build first, so an interrupted rebuild is never taken for a cached one
    (workdir / "demo.json").unlink(missing_ok=True)
    echo(f"Building the demo in {workdir} (first run only; later runs reuse it).")
    started = time.perf_counter()
    docs = build_stdlib_corpus(max_docs)
    corpus = workdir / "corpus.jsonl"
    write_corpus(docs, corpus)
    echo(
        f"  corpus: {len(docs)} docstrings of the standard library in {stdlib_dir()}, "
        f"read with ast ({time.perf_counter() - started:.1f} s)"
    )
    encoder = load_encoder(MODEL, "splade", max_length=MAX_LENGTH)
    echo(f"  encoding them with {MODEL}: {_estimate(encoder, docs)}")
    summary = encode_corpus(
        corpus, workdir / "vectors", encoder=encoder, overwrite=True, progress=True
    )
    echo(
        f"  encoded {summary.num_docs} documents in {summary.seconds:.1f} s "
        f"({summary.docs_per_second:.0f} docs/s)"
    )
    started = time.perf_counter()
    build_index(workdir / "vectors", workdir / "index", bm25_corpus=corpus, overwrite=True)
    echo(f"  indexed them twice, SPLADE impacts and BM25 ({time.perf_counter() - started:.1f} s)")
    write_json(workdir / "demo.json", {"signature": signature, "num_docs": len(docs)})
    return len(docs)


def _estimate(encoder, docs: Sequence, sample: int = 48) -> str:
    """How long encoding `docs` will take here, from timing a sample of them (a warm-up that
    the real run then gains from)."""
    chosen = docs[:: max(1, len(docs) // sample)][:sample]
    texts = [" ".join(x for x in (d.title, d.text) if x) for d in chosen]
    encoder.encode_documents(texts[:4])  # the first call pays one-time set-up: not timed
    started = time.perf_counter()
    encoder.encode_documents(texts)
    per_doc = (time.perf_counter() - started) / max(1, len(texts))
    return f"about {per_doc * len(docs):.0f} s on this machine"


def _search(workdir: Path, demo_queries: Sequence[DemoQuery]) -> list[QueryResult]:
    from splade_lite.search import Searcher

    index_dir = workdir / "index"
    splade = Searcher(index_dir)
    bm25 = Searcher(index_dir, bm25=True)
    texts = [q.text for q in demo_queries]
    query_terms = splade.query_terms(texts)
    splade_hits = splade.batch_search_terms(query_terms, k=TOP_K)
    bm25_hits = bm25.batch_search(texts, k=BM25_DEPTH)

    # the document vectors that explain the SPLADE hits, from the index's forward index
    needed = sorted({h.docid for hits in splade_hits for h in hits})
    doc_terms = dict(zip(needed, splade.forward.vectors(needed)))
    shown = set(needed) | {h.docid for hits in bm25_hits for h in hits[:TOP_K]}
    titles = {d: r.get("title") or d for d, r in splade.documents(shown).items()}

    results = []
    for query, terms, s_hits, b_hits in zip(demo_queries, query_terms, splade_hits, bm25_hits):
        tokens = splade.encoder.tokenizer.tokenize(query.text)
        s_rows = [
            DemoHit(
                rank,
                hit.docid,
                hit.score,
                titles.get(hit.docid, hit.docid),
                tuple(match_terms(terms, doc_terms.get(hit.docid, {}), tokens)),
            )
            for rank, hit in enumerate(s_hits, 1)
        ]
        b_rows = [
            DemoHit(rank, hit.docid, hit.score, titles.get(hit.docid, hit.docid))
            for rank, hit in enumerate(b_hits[:TOP_K], 1)
        ]
        results.append(
            QueryResult(
                query.text,
                s_rows,
                b_rows,
                query.wanted,
                _first_rank(s_hits, query.wanted),
                _first_rank(b_hits, query.wanted),
            )
        )
    return results


def _first_rank(hits: Sequence, wanted: Sequence[str]) -> int | None:
    return next((rank for rank, h in enumerate(hits, 1) if h.docid in wanted), None)


def render_result(result: QueryResult, echo: Echo) -> None:
    """Show both rankings of one query, the SPLADE hits with their matched terms."""
    echo("")
    echo(click.style(f'Query: "{result.query}"', bold=True))
    if result.wanted:
        echo(f"  (looking for {' or '.join(result.wanted)})")
    bm25_ids = {h.docid: h.rank for h in result.bm25}
    splade_ids = {h.docid: h.rank for h in result.splade}
    _render_hits(
        echo, "SPLADE (learned sparse, splade-tiny)", result.splade, result.wanted,
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
    hits: Sequence,
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
            echo(f"        {format_matches(hit.matches)}")


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def command_name() -> str:
    """How the user can run splade-lite from their shell: the bare name when it is on PATH,
    else the script beside this Python (a virtual environment that is not activated)."""
    import shutil

    if shutil.which("splade-lite"):
        return "splade-lite"
    beside = Path(sys.executable).parent / "splade-lite"
    return str(beside) if beside.is_file() else "splade-lite"


def _show_next_steps(workdir: Path, echo: Echo) -> None:
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
    echo(f"    {cmd} search INDEX --queries QUERIES --out run.trec")
    echo(f"    {cmd} evaluate run.trec --qrels QRELS")
    echo(f"  The demo's own files are in {workdir} (corpus: corpus.jsonl, index: index/).")
