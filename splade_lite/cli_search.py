"""``splade-lite search`` and ``splade-lite explain``: parse options, call the Searcher."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

import click

from splade_lite.cli_errors import echo as _echo
from splade_lite.cli_errors import friendly as _friendly
from splade_lite.cli_errors import log as _log
from splade_lite.cli_options import (
    feature_settings,
    json_option,
    print_json,
    quiet_option,
    renamed,
)
from splade_lite.cli_render import MAX_WIDTH, MIN_WIDTH
from splade_lite.feedback import Feedback
from splade_lite.fusion import (
    DEFAULT_ALPHA,
    DEFAULT_DEPTHS,
    DEFAULT_FUSION,
    DENSE_DEPTH,
    DENSE_NORM,
    DENSE_WEIGHTS,
    FUSIONS,
    NORMALISATIONS,
    Hybrid,
)
from splade_lite.indexer.limits import MAX_THREADS
from splade_lite.metadata import ENGINES
from splade_lite.pruning import IDF_FLOOR
from splade_lite.runs import RUN_K
from splade_lite.terminal import printable

_FEEDBACK = Feedback()  # the defaults of --fb-docs, --fb-terms, --fb-beta
#: Hits shown for one query: the default k of `Searcher.search` (a test keeps them equal).
SHOWN_K = 10


def _weights(mode: str) -> str:
    """The default three-way weights of `mode`, as --weights takes them."""
    return " ".join(f"{w:g}" for w in DENSE_WEIGHTS[mode])


def _pruning_options(default_help: str):
    """--query-min-weight and --query-max-terms, as search and explain take them."""
    options = [
        click.option(
            "--query-min-weight",
            type=click.FloatRange(0),
            default=None,
            help="Drop query terms weighing less (IDF for inference-free queries)" + default_help,
        ),
        click.option(
            "--query-max-terms",
            type=click.IntRange(1),
            default=None,
            help="Keep the query's N heaviest terms (with the index's default floor unless "
            "--query-min-weight is given) [default: every term].",
        ),
    ]

    def decorate(func):
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def _query_pruning(index_dir: Path, min_weight, max_terms, bm25: bool = False):
    """The Pruning asked for (None: the index's default), refused for BM25 rankings."""
    if min_weight is None and max_terms is None:
        return None
    if bm25:
        raise click.UsageError("--query-min-weight/--query-max-terms prune learned sparse queries")
    from splade_lite.pruning import query_pruning

    return query_pruning(index_dir, min_weight, max_terms)


@click.command()
@click.argument("index_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("query", required=False)
@click.option(
    "--queries", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Queries file (BEIR queries.jsonl or TSV qid<TAB>text): search each into --run.",
)  # fmt: skip
@click.option(
    "--run", "run_file", type=click.Path(dir_okay=False, path_type=Path),
    help="TREC run file to write the hits of --queries to.",
)  # fmt: skip
@renamed("--out", "--run", "run_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-k", "--k", "k", default=None, type=click.IntRange(1),
    help=f"Hits per query [default: {SHOWN_K} for one query, {RUN_K} with --queries].",
)  # fmt: skip
@click.option(
    "--threads", default=1, show_default=True, type=click.IntRange(1, MAX_THREADS),
    help="Java threads searching the queries of --queries.",
)  # fmt: skip
@click.option("--bm25", is_flag=True, help="Rank with the BM25 index built beside it.")
@click.option(
    "--engine", type=click.Choice(ENGINES), default=None,
    help="What answers learned sparse queries: lucene (exact, in every index) or the "
    "accelerated engine the index was built with [default: the index's].",
)  # fmt: skip
@click.option(
    "--engine-exact", is_flag=True,
    help="Search the accelerated engine exhaustively (Lucene's ranking) rather than fast.",
)  # fmt: skip
@click.option(
    "--device",
    default=None,
    help="For SPLADE and dense query encoding: cpu or cuda [default: cuda when present].",
)
@click.option("--hybrid", is_flag=True, help="Fuse the learned sparse ranking with BM25's.")
@click.option(
    "--dense", is_flag=True,
    help="Rank with the dense index built beside it (index --dense-model); with --hybrid, "
    "fuse it as a third list.",
)  # fmt: skip
@click.option(
    "--fusion", type=click.Choice(FUSIONS), default=None,
    help="interpolate: alpha x minmax(sparse) + (1-alpha) x minmax(BM25); rrf: reciprocal rank "
    f"fusion [default: {DEFAULT_FUSION}].",
)  # fmt: skip
@click.option(
    "--alpha", type=click.FloatRange(0, 1), default=None,
    help=f"Weight of the sparse scores when interpolating [default: {DEFAULT_ALPHA:g}].",
)  # fmt: skip
@click.option(
    "--depth", type=click.IntRange(1), default=None,
    help="Hits of each list fused, k if larger [default: "
    f"{DEFAULT_DEPTHS['inference-free']} inference-free, {DEFAULT_DEPTHS['splade']} SPLADE; "
    f"{DENSE_DEPTH} with --dense].",
)  # fmt: skip
@click.option(
    "--weights", type=click.FloatRange(0), nargs=3, default=None,
    metavar="SPARSE BM25 DENSE",
    help="Weights of the three lists of --hybrid --dense [default: "
    f"{_weights('inference-free')} inference-free, {_weights('splade')} SPLADE].",
)  # fmt: skip
@click.option(
    "--norm", type=click.Choice(list(NORMALISATIONS)), default=None,
    help=f"How --hybrid --dense scales each list's scores before weighing [default: {DENSE_NORM}].",
)  # fmt: skip
@click.option("--feedback", is_flag=True, help="Add a round of sparse pseudo-relevance feedback.")
@click.option(
    "--fb-docs", type=click.IntRange(1), default=None,
    help=f"First-round top documents the feedback is taken from [default: {_FEEDBACK.docs}].",
)  # fmt: skip
@click.option(
    "--fb-terms", type=click.IntRange(0), default=None,
    help=f"Heaviest terms of the feedback documents' centroid kept [default: {_FEEDBACK.terms}].",
)  # fmt: skip
@click.option(
    "--fb-beta", type=click.FloatRange(0), default=None,
    help=f"Weight of the expansion against the query [default: {_FEEDBACK.beta:g}].",
)  # fmt: skip
@_pruning_options(
    ": faster, slightly less exact (the README's Pruning section has the measured cost) "
    f"[default: {IDF_FLOOR:g} for inference-free queries weighted by the corpus's IDF, else 0; "
    "0 keeps every term].",
)
@quiet_option
@json_option
@_friendly
def search(
    index_dir, query, queries, run_file, k, threads, bm25, engine, engine_exact, device, hybrid,
    dense, fusion, alpha, depth, weights, norm, feedback, fb_docs, fb_terms, fb_beta,
    query_min_weight, query_max_terms, quiet, as_json,
):  # fmt: skip
    """Search INDEX_DIR for QUERY, or for every query of --queries into a TREC run."""
    from splade_lite.search import Searcher

    if (query is None) == (queries is None):
        raise click.UsageError("give either a QUERY or --queries FILE")
    if queries is not None and run_file is None:  # before the searcher starts Java
        raise click.UsageError("--queries needs --run RUN_FILE")
    if query is not None and run_file is not None:
        raise click.UsageError("--run writes the run of --queries; one QUERY prints its hits")
    three = {"--weights": tuple(weights) if weights else None, "--norm": norm}
    hybrid_settings = feature_settings(
        Hybrid,
        hybrid,
        "--hybrid",
        {"--fusion": fusion, "--alpha": alpha, "--depth": depth, **three},
    )
    if dense and alpha is not None:
        raise click.UsageError(
            "--alpha weighs the two lists of --hybrid; with --dense give --weights"
        )
    if dense and bm25:
        raise click.UsageError("--bm25 and --dense each rank alone; fuse them with --hybrid")
    if dense and not hybrid and engine is not None:
        raise click.UsageError("--engine answers learned sparse queries: not with --dense alone")
    feedback_settings = feature_settings(
        Feedback,
        feedback,
        "--feedback",
        {"--fb-docs": fb_docs, "--fb-terms": fb_terms, "--fb-beta": fb_beta},
    )
    engine_search = None
    if engine_exact:
        if engine == "lucene" or bm25:
            raise click.UsageError("--engine-exact sets the accelerated engine: not with lucene")
        from splade_lite.engines.seismic import SeismicSearch

        engine_search = SeismicSearch.exact()
    searcher = Searcher(
        index_dir,
        bm25=bm25,
        hybrid=hybrid_settings,
        feedback=feedback_settings,
        pruning=_query_pruning(
            index_dir, query_min_weight, query_max_terms, bm25 or (dense and not hybrid)
        ),
        device=device,
        engine=engine,
        engine_search=engine_search,
        dense=dense,
    )
    if queries is not None:
        from splade_lite.runs import search_queries_file

        done = search_queries_file(
            searcher, queries, run_file, k=k or RUN_K, threads=threads, progress=not quiet
        )
        if as_json:
            print_json({"run": str(run_file), **asdict(done)})
        else:
            _log(done.report(run_file))
        return
    from splade_lite.cli_render import hit_lines, hits_json

    hits = searcher.search(query, k=k or SHOWN_K, text=True)
    if as_json:
        print_json(hits_json(hits))
    else:
        _echo("\n".join(hit_lines(hits)))


@click.command()
@click.argument("index_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("query")
@click.argument("docid")
@click.option("--feedback", is_flag=True, help="Explain the score after pseudo-relevance feedback.")
@click.option(
    "--top", default=20, show_default=True, type=click.IntRange(1), help="Term rows shown."
)
@click.option(
    "--width", default=None, type=click.IntRange(MIN_WIDTH, MAX_WIDTH),
    help="Characters per line [default: the terminal's, at most 120].",
)  # fmt: skip
@_pruning_options(", as search does [default: the index's, as for search].")
@quiet_option
@json_option
@_friendly
def explain(
    index_dir, query, docid, feedback, top, width, query_min_weight, query_max_terms, quiet,
    as_json,
):  # fmt: skip
    """Show how DOCID's score for QUERY adds up, term by term."""
    from splade_lite.cli_render import explanation_json, hit_text, render_explanation
    from splade_lite.index_folder import require_document
    from splade_lite.search import Searcher

    _kept = require_document(index_dir, docid)  # before a model or Java; the searcher shares it
    pruning = _query_pruning(index_dir, query_min_weight, query_max_terms)
    searcher = Searcher(index_dir, feedback=feedback, pruning=pruning)
    explanation = searcher.explain(query, docid)
    doc = searcher.documents([docid]).get(docid) or {}
    dropped = searcher.pruned_terms(query) if searcher.pruning else {}
    rule = searcher.pruning.describe() if searcher.pruning else None
    if as_json:
        print_json(
            {
                **explanation_json(explanation),
                "title": doc.get("title", ""),
                "pruning": rule,
                "pruned_terms": dict(sorted(dropped.items(), key=lambda tw: (-tw[1], tw[0]))),
            }
        )
        return
    width = width or min(shutil.get_terminal_size((100, 24)).columns, 120)
    title = doc.get("title") or hit_text(doc, width - 20)
    _echo(render_explanation(explanation, title=title, width=width, top=top))
    if dropped:
        shown = ", ".join(map(printable, sorted(dropped)))
        _echo(f"query terms dropped by pruning ({rule}): {shown}")
