"""`splade-lite demo`: index the Python standard library's docstrings, compare SPLADE with BM25.

The demo needs no download: its corpus is the docstrings of the interpreter's own standard
library (:mod:`splade_lite.stdlib_corpus`).

A run builds ``corpus.jsonl``, encodes it with splade-tiny into ``vectors/``, indexes it into
``index/`` (with a BM25 index beside it) and then, for a few queries, ranks the documents
with a :class:`~splade_lite.search.Searcher` by SPLADE and by BM25, each SPLADE hit with its
:class:`~splade_lite.explain.Explanation` (what each shared term added to its score, from
the index's forward index). Everything is cached in the work folder; a second run only
searches. :func:`run_demo` returns the results; the command line draws them
(:mod:`splade_lite.cli_demo`).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from splade_lite.encoders.models import DEFAULT_MODEL
from splade_lite.explain import Explanation
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
    "QueryResult",
    "default_workdir",
    "run_demo",
]

Log = Callable[[str], object]

MODEL = DEFAULT_MODEL
MAX_LENGTH = 128
DEFAULT_MAX_DOCS = 2000
TOP_K = 5
#: How deep BM25 is searched to report where it ranks the document a built-in query wants.
BM25_DEPTH = 100


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
    """One hit: rank, id, score, title, and for SPLADE why it got its score."""

    rank: int
    docid: str
    score: float
    title: str = ""
    explanation: Explanation | None = None  # SPLADE hits: the score split by term


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
    max_docs: int = DEFAULT_MAX_DOCS,
    queries: list[str] | None = None,
    rebuild: bool = False,
    log: Log | None = None,
    progress: bool = False,
) -> DemoResult:
    """Build (or reuse) the stdlib demo index in `workdir` and search it.

    `queries` replaces the built-in queries. What the build does is told to `log` (one line
    a step); `progress` shows the encoding's progress bar on stderr.
    """
    say: Log = log or (lambda _line: None)
    default = workdir is None
    workdir = default_workdir() if default else Path(workdir)
    claim_demo_workdir(workdir, default)  # a new, empty or demo-made folder; others refused
    signature = corpus_signature(max_docs)
    state = read_demo_state(workdir)
    cached = not rebuild and _cache_valid(workdir, state, signature)
    started = time.perf_counter()
    if cached:
        num_docs = int(state["num_docs"])
        say(f"Using the demo index built earlier in {workdir} (--rebuild builds it again).")
        build_seconds = 0.0
    else:
        with lock_folder(workdir):  # one build at a time in a work folder
            num_docs = _build(workdir, max_docs, signature, say, progress)
        build_seconds = time.perf_counter() - started
        say(f"Ready in {build_seconds:.0f} s.")

    demo_queries = [DemoQuery(q) for q in queries] if queries else list(DEMO_QUERIES)
    results = _search(workdir, demo_queries)
    return DemoResult(workdir, num_docs, results, cached, build_seconds)


def _cache_valid(workdir: Path, state: dict, signature: dict) -> bool:
    from splade_lite.metadata import INDEX_META, VECTORS_META

    return (
        state.get("signature") == signature
        and isinstance(state.get("num_docs"), int)
        and (workdir / "index" / INDEX_META).is_file()
        and (workdir / "vectors" / VECTORS_META).is_file()
    )


def _build(workdir: Path, max_docs: int, signature: dict, say: Log, progress: bool) -> int:
    """Corpus -> vectors -> index in `workdir`; returns the number of documents."""
    from splade_lite.encode import encode_corpus
    from splade_lite.encoders import load_encoder
    from splade_lite.index import build_index
    from splade_lite.metadata import write_json

    # forget the old build first, so an interrupted rebuild is never taken for a cached one
    (workdir / "demo.json").unlink(missing_ok=True)
    say(f"Building the demo in {workdir} (first run only; later runs reuse it).")
    started = time.perf_counter()
    docs = build_stdlib_corpus(max_docs)
    corpus = workdir / "corpus.jsonl"
    write_corpus(docs, corpus)
    say(
        f"  corpus: {len(docs)} docstrings of the standard library in {stdlib_dir()}, "
        f"read with ast ({time.perf_counter() - started:.1f} s)"
    )
    encoder = load_encoder(MODEL, "splade", max_length=MAX_LENGTH)
    say(f"  encoding them with {MODEL}: {_estimate(encoder, docs)}")
    summary = encode_corpus(
        corpus, workdir / "vectors", encoder=encoder, overwrite=True, progress=progress
    )
    say(
        f"  encoded {summary.num_docs} documents in {summary.seconds:.1f} s "
        f"({summary.docs_per_second:.0f} docs/s)"
    )
    started = time.perf_counter()
    build_index(workdir / "vectors", workdir / "index", bm25_corpus=corpus, overwrite=True)
    say(f"  indexed them twice, SPLADE impacts and BM25 ({time.perf_counter() - started:.1f} s)")
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
    """Both rankings of each query, the SPLADE hits explained term by term."""
    from splade_lite.search import Searcher

    index_dir = workdir / "index"
    splade = Searcher(index_dir)
    bm25 = Searcher(index_dir, bm25=True)
    texts = [q.text for q in demo_queries]
    splade_hits = splade.batch_search(texts, k=TOP_K)
    bm25_hits = bm25.batch_search(texts, k=BM25_DEPTH)
    shown = {h.docid for hits in splade_hits for h in hits}
    shown |= {h.docid for hits in bm25_hits for h in hits[:TOP_K]}
    titles = {d: r.get("title") or d for d, r in splade.documents(shown).items()}

    results = []
    for query, s_hits, b_hits in zip(demo_queries, splade_hits, bm25_hits):
        s_rows = [
            DemoHit(
                rank,
                hit.docid,
                hit.score,
                titles.get(hit.docid, hit.docid),
                splade.explain(query.text, hit.docid),  # from the forward index
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
