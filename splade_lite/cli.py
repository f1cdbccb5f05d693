"""The `splade-lite` command: parses arguments and calls the Python API, nothing more."""

from __future__ import annotations

import json
from pathlib import Path

import click

from splade_lite import __version__
from splade_lite.cli_errors import echo as _echo
from splade_lite.cli_errors import friendly as _friendly
from splade_lite.cli_errors import log as _log
from splade_lite.encoders.base import MAX_BATCH_SIZE
from splade_lite.explain import MAX_WIDTH
from splade_lite.feedback import Feedback
from splade_lite.fusion import DEFAULT_ALPHA, DEFAULT_DEPTHS, DEFAULT_FUSION
from splade_lite.indexer.limits import MAX_THREADS
from splade_lite.pruning import IDF_FLOOR
from splade_lite.terminal import json_safe, printable
from splade_lite.vectors import MAX_SCALE

_FEEDBACK = Feedback()  # the defaults of --fb-docs, --fb-terms, --fb-beta


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="splade-lite")
def main() -> None:
    """Learned sparse retrieval on a CPU: encode -> index -> search -> evaluate.

    \b
    Start with `splade-lite demo`, then on your own corpus:
      splade-lite encode corpus.jsonl --out vectors/
      splade-lite index vectors/ --out index/ --bm25-corpus corpus.jsonl
      splade-lite search index/ "your question"
    """


@main.command()
@click.argument("corpus", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out", "out_dir", required=True, type=click.Path(path_type=Path),
    help="Folder for the vector shards and vectors.json.",
)  # fmt: skip
@click.option(
    "--model", default="splade-tiny", show_default=True,
    help="Built-in name, local folder or Hugging Face id of a SPLADE masked-LM.",
)  # fmt: skip
@click.option(
    "--mode", type=click.Choice(["splade", "inference-free"]), default="splade", show_default=True,
    help="How queries will be encoded (documents are the same).",
)  # fmt: skip
@click.option(
    "--batch-size", default=32, show_default=True, type=click.IntRange(1, MAX_BATCH_SIZE),
    help="Documents per call of the model.",
)  # fmt: skip
@click.option(
    "--max-length", default=None, type=click.IntRange(8),
    help="Tokens per document [default: the model's, else 256].",
)  # fmt: skip
@click.option("--device", default=None, help="cpu or cuda [default: cuda when present].")
@click.option(
    "--backend", type=click.Choice(["torch", "bf16", "int8"]), default="torch", show_default=True,
    help="Vocabulary projection: torch is exact; bf16 and int8 are faster on a CPU with "
    "those instructions and approximate (recorded in vectors.json).",
)  # fmt: skip
@click.option(
    "--scale", default=100.0, show_default=True,
    type=click.FloatRange(min=0, max=MAX_SCALE, min_open=True),
    help="Integer impact = round(weight x scale).",
)  # fmt: skip
@click.option(
    "--skip-invalid", is_flag=True, help="Skip and count malformed records instead of stopping."
)
@click.option(
    "--shard-size", default=100_000, show_default=True, type=click.IntRange(1),
    help="Documents per shard file (an interrupted run resumes after the last whole shard).",
)  # fmt: skip
@click.option(
    "--resume", is_flag=True, help="Continue an interrupted run into --out (same options)."
)
@click.option("--overwrite", is_flag=True, help="Replace the vectors already in --out.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@_friendly
def encode(
    corpus, out_dir, model, mode, batch_size, max_length, device, backend, scale, skip_invalid,
    shard_size, resume, overwrite, quiet,
):  # fmt: skip
    """Encode CORPUS (BEIR corpus.jsonl, JSONL {id, contents}, or TSV id<TAB>text)."""
    from splade_lite.encode import encode_corpus

    if resume and overwrite:
        raise click.UsageError("--resume continues a run, --overwrite starts again: choose one")
    summary = encode_corpus(
        corpus,
        out_dir,
        model=model,
        mode=mode,
        batch_size=batch_size,
        max_length=max_length,
        device=device,
        backend=backend,
        scale=scale,
        skip_invalid=skip_invalid,
        shard_size=shard_size,
        resume=resume,
        overwrite=overwrite,
        progress=not quiet,
        log=_log,
    )
    _log(
        f"encoded {summary.num_docs} documents in {summary.seconds:.1f} s "
        f"({summary.docs_per_second:.1f} docs/s, {summary.num_empty} empty) -> {out_dir}"
    )


@main.command()
@click.argument("vectors_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out", "out_dir", required=True, type=click.Path(path_type=Path),
    help="Folder for the index (Lucene files, metadata, forward index, BM25 index).",
)  # fmt: skip
@click.option(
    "--threads", default=1, show_default=True, type=click.IntRange(1, MAX_THREADS),
    help="Java threads indexing the documents.",
)  # fmt: skip
@click.option(
    "--bm25-corpus", type=click.Path(exists=True, path_type=Path), default=None,
    help="Also build a BM25 index of this corpus inside the index folder.",
)  # fmt: skip
@click.option(
    "--mode", type=click.Choice(["splade", "inference-free"]), default=None,
    help="How queries are encoded [default: the mode given to encode].",
)  # fmt: skip
@click.option("--overwrite", is_flag=True, help="Replace an existing index folder.")
@click.option(
    "--skip-invalid", is_flag=True, help="Skip and count malformed records of --bm25-corpus."
)
@click.option(
    "--doc-min-weight", type=click.FloatRange(0), default=None,
    help="Index only document terms of at least this weight: a float, the model's weight "
    "before encode's --scale (0.5 drops impacts below 50 at scale 100); smaller, faster, "
    "less exact.",
)  # fmt: skip
@click.option(
    "--doc-max-terms", type=click.IntRange(1), default=None,
    help="Index only each document's N heaviest terms.",
)  # fmt: skip
@_friendly
def index(
    vectors_dir, out_dir, threads, bm25_corpus, mode, overwrite, skip_invalid, doc_min_weight,
    doc_max_terms,
):  # fmt: skip
    """Build a Lucene impact index from VECTORS_DIR (made by `encode`)."""
    from splade_lite.index import build_index
    from splade_lite.pruning import Pruning

    pruning = None
    if doc_min_weight is not None or doc_max_terms is not None:
        pruning = Pruning(min_weight=doc_min_weight or 0.0, max_terms=doc_max_terms)
    meta = build_index(
        vectors_dir,
        out_dir,
        threads=threads,
        bm25_corpus=bm25_corpus,
        mode=mode,
        overwrite=overwrite,
        skip_invalid=skip_invalid,
        doc_pruning=pruning,
        log=_log,
    )
    size = meta["lucene_bytes"] / 1e6
    _log(
        f"{meta['num_docs']} documents, {size:.1f} MB, mode {meta['mode']}, "
        f"IDF from {meta['idf_source']}"
    )
    if meta.get("doc_pruning"):
        p = meta["doc_pruning"]
        _log(
            f"pruned: {p['postings_after']} of {p['postings_before']} document terms kept"
            + (f", {p['emptied']} documents left without a term" if p["emptied"] else "")
        )


@main.command()
@click.argument("index_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("query", required=False)
@click.option(
    "--queries", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Queries file (BEIR queries.jsonl or TSV qid<TAB>text); writes a TREC run.",
)  # fmt: skip
@click.option(
    "--out", "out_file", type=click.Path(dir_okay=False, path_type=Path),
    help="TREC run file to write (with --queries).",
)  # fmt: skip
@click.option(
    "--k", default=None, type=click.IntRange(1),
    help="Hits per query [default: 10 for one query, 1000 with --queries].",
)  # fmt: skip
@click.option(
    "--threads", default=1, show_default=True, type=click.IntRange(1, MAX_THREADS),
    help="Java threads searching the queries of --queries.",
)  # fmt: skip
@click.option("--bm25", is_flag=True, help="Rank with the BM25 index built beside it.")
@click.option("--json", "as_json", is_flag=True, help="Print hits as JSON.")
@click.option(
    "--device",
    default=None,
    help="For SPLADE query encoding: cpu or cuda [default: cuda when present].",
)
@click.option("--hybrid", is_flag=True, help="Fuse the learned sparse ranking with BM25's.")
@click.option(
    "--fusion", type=click.Choice(["interpolate", "rrf"]), default=None,
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
    f"{DEFAULT_DEPTHS['inference-free']} inference-free, {DEFAULT_DEPTHS['splade']} SPLADE].",
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
@click.option(
    "--query-min-weight", type=click.FloatRange(0), default=None,
    help="Drop query terms weighing less (IDF for inference-free queries): faster, slightly "
    "less exact (the README's Pruning section has the measured cost) [default: "
    f"{IDF_FLOOR:g} for inference-free queries weighted by the corpus's IDF, else 0; 0 keeps "
    "every term].",
)  # fmt: skip
@click.option(
    "--query-max-terms", type=click.IntRange(1), default=None,
    help="Keep the query's N heaviest terms.",
)  # fmt: skip
@_friendly
def search(
    index_dir, query, queries, out_file, k, threads, bm25, as_json, device, hybrid, fusion,
    alpha, depth, feedback, fb_docs, fb_terms, fb_beta, query_min_weight, query_max_terms,
):  # fmt: skip
    """Search INDEX_DIR for QUERY, or for every query of --queries into a TREC run."""
    from splade_lite.search import Searcher

    if (query is None) == (queries is None):
        raise click.UsageError("give either a QUERY or --queries FILE")
    if queries is not None and out_file is None:  # before the searcher starts Java
        raise click.UsageError("--queries needs --out RUN_FILE")
    from splade_lite.search import Hybrid

    hybrid_settings = _settings(
        Hybrid, hybrid, "--hybrid", {"--fusion": fusion, "--alpha": alpha, "--depth": depth}
    )
    feedback_settings = _settings(
        Feedback,
        feedback,
        "--feedback",
        {"--fb-docs": fb_docs, "--fb-terms": fb_terms, "--fb-beta": fb_beta},
    )
    searcher = Searcher(
        index_dir,
        bm25=bm25,
        hybrid=hybrid_settings,
        feedback=feedback_settings,
        pruning=_pruning(index_dir, query_min_weight, query_max_terms, bm25),
        device=device,
    )
    if queries is not None:
        from splade_lite.runs import search_queries_file

        done = search_queries_file(searcher, queries, out_file, k=k or 1000, threads=threads)
        _log(done.report(out_file))
        return
    hits = searcher.search(query, k=k or 10, text=True)
    if as_json:
        payload = [
            {"rank": r, "docid": h.docid, "score": h.score, "title": h.title}
            for r, h in enumerate(hits, 1)
        ]
        _echo(json_safe(json.dumps(payload, ensure_ascii=False, indent=1)))
        return
    if not hits:
        _echo("no document matches this query")
    for rank, hit in enumerate(hits, 1):
        score = _format_score(hit.score)
        _echo(f"{rank:>3}  {score:>10}  {printable(hit.docid)}  {_describe(hit._asdict())}")


def _settings(kind: type, enabled: bool, flag: str, options: dict):
    """Settings of an opt-in feature from its options (``--fb-docs`` -> ``docs``), or False."""
    chosen = {name: value for name, value in options.items() if value is not None}
    if not enabled:
        if chosen:
            verb = "applies" if len(chosen) == 1 else "apply"
            raise click.UsageError(f"{', '.join(chosen)} only {verb} with {flag}")
        return False
    fields = {name.split("-")[-1]: value for name, value in chosen.items()}
    return kind(**fields)


def _pruning(index_dir, min_weight: float | None, max_terms: int | None, bm25: bool = False):
    """Query pruning from --query-min-weight / --query-max-terms (None: the index's default;
    --query-max-terms alone keeps the default floor of the index's mode)."""
    if min_weight is None and max_terms is None:
        return None
    if bm25:
        raise click.UsageError("--query-min-weight/--query-max-terms prune learned sparse queries")
    from splade_lite.metadata import read_index_meta
    from splade_lite.pruning import Pruning, default_pruning

    if min_weight is None:
        default = default_pruning(read_index_meta(Path(index_dir)))
        min_weight = default.min_weight if default is not None else 0.0
    return Pruning(min_weight=min_weight, max_terms=max_terms)


def _format_score(score: float) -> str:
    """Impact scores are integers; BM25 and fused scores are not."""
    return f"{score:.0f}" if float(score).is_integer() else f"{score:.4f}"


def _describe(doc: dict | None, width: int = 90) -> str:
    if not doc:
        return ""
    text = doc.get("title") or doc.get("text") or ""
    text = printable(" ".join(str(text).split()))
    return text if len(text) <= width else text[: width - 1] + "…"


@main.command()
@click.argument("index_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("query")
@click.argument("docid")
@click.option("--feedback", is_flag=True, help="Explain the score after pseudo-relevance feedback.")
@click.option("--top", default=20, show_default=True, type=click.IntRange(1), help="Rows shown.")
@click.option(
    "--width", default=None, type=click.IntRange(40, MAX_WIDTH),
    help="Characters per line [default: the terminal's, at most 120].",
)  # fmt: skip
@click.option(
    "--query-min-weight", type=click.FloatRange(0), default=None,
    help="Drop query terms weighing less, as search does.",
)  # fmt: skip
@click.option(
    "--query-max-terms", type=click.IntRange(1), default=None,
    help="Keep the query's N heaviest terms, as search does.",
)  # fmt: skip
@_friendly
def explain(index_dir, query, docid, feedback, top, width, query_min_weight, query_max_terms):
    """Show how DOCID's score for QUERY adds up, term by term."""
    import shutil

    from splade_lite.explain import render
    from splade_lite.index_folder import require_document
    from splade_lite.search import Searcher

    _kept = require_document(index_dir, docid)  # before a model or Java; the searcher shares it
    searcher = Searcher(
        index_dir, feedback=feedback, pruning=_pruning(index_dir, query_min_weight, query_max_terms)
    )
    explanation = searcher.explain(query, docid)
    doc = searcher.documents([docid]).get(docid) or {}
    width = width or min(shutil.get_terminal_size((100, 24)).columns, 120)
    title = doc.get("title") or _describe(doc, width - 20)
    _echo(render(explanation, title=title, width=width, top=top))
    dropped = searcher.pruning and searcher.pruned_terms(query)
    if dropped:
        p = searcher.pruning
        rule = f"weight below {p.min_weight:g}" if p.min_weight else ""
        if p.max_terms is not None:
            rule += f"{', or ' if rule else ''}beyond the {p.max_terms} heaviest"
        shown = ", ".join(map(printable, sorted(dropped)))
        _echo(f"query terms dropped by pruning ({rule}): {shown}")


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--qrels",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="BEIR qrels TSV (with header) or TREC qrels.",
)
@click.option("--json", "as_json", is_flag=True, help="JSON (one run: keyed by measure name).")
@click.option(
    "--measure",
    "measures",
    multiple=True,
    help="An ir-measures measure name (repeatable) [default: nDCG@10 R@100 RR@10 AP].",
)
@click.option("--per-query", is_flag=True, help="A row per judged query, then the means.")
@click.option(
    "--test",
    type=click.Choice(["t-test", "wilcoxon"]),
    default="t-test",
    show_default=True,
    help="Paired test of each run against the first.",
)
@_friendly
def evaluate(runs, qrels, as_json, measures, per_query, test):
    """Score TREC RUNS against QRELS with ir-measures; the first run is the baseline.

    Judged queries without results score 0 (trec_eval -c). Counts and coverage warnings go
    to stderr (with --json only the warnings). Several runs: side by side, each tested
    against the first (two-sided paired t-test or Wilcoxon signed-rank), * at p < 0.05.
    """
    from splade_lite.compare import compare, render

    c = compare(runs, qrels, **({"measures": measures} if measures else {}), test=test)
    text, log = render(c, as_json=as_json, per_query=per_query)
    for line in log:
        _log(line)
    _echo(text)


@main.command()
@click.argument("index_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the JsonVectorCollection files (a vectors folder `index` reads).",
)  # fmt: skip
@click.option("--gzip", "compress", is_flag=True, help="Write .jsonl.gz shards.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out folder.")
@_friendly
def export(index_dir, out_dir, compress, overwrite):
    """Write the document vectors of INDEX_DIR back out as JsonVectorCollection files."""
    from splade_lite.index import export_index

    export_index(index_dir, out_dir, compress=compress, overwrite=overwrite, log=_log)


@main.command()
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.pass_context
@_friendly
def check(ctx, path):
    """Check that the index (or vectors folder) PATH is whole and consistent.

    Prints one row per check (ok, FAIL, or skip where it does not apply) and exits with
    status 1 when any check failed.
    """
    from splade_lite.check import check_folder, failed, format_checks

    checks = check_folder(path)
    _echo(format_checks(checks))
    if failed(checks):
        ctx.exit(1)


@main.command()
@click.option(
    "--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Where to keep the demo index [default: a folder in the user cache].",
)  # fmt: skip
@click.option(
    "--max-docs", default=2000, show_default=True, type=click.IntRange(50),
    help="Docstrings indexed, at most.",
)  # fmt: skip
@click.option("--query", "queries", multiple=True, help="Your own query (repeatable).")
@click.option("--rebuild", is_flag=True, help="Encode and index again even if cached.")
@_friendly
def demo(workdir, max_docs, queries, rebuild):
    """Index the Python standard library's docstrings and compare SPLADE with BM25 on them."""
    from splade_lite.demo import run_demo

    run_demo(
        workdir=workdir,
        max_docs=max_docs,
        queries=list(queries) or None,
        rebuild=rebuild,
        echo=_echo,
    )


from splade_lite.training.cli import adapt, train  # noqa: E402

main.add_command(train)
main.add_command(adapt)

if __name__ == "__main__":  # pragma: no cover
    main()
