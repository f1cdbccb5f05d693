"""``splade-lite train`` and ``splade-lite adapt``: parse options, call the recipes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from splade_lite.cli_errors import friendly as _friendly
from splade_lite.cli_errors import log as _log
from splade_lite.cli_options import json_option, notes, print_json, quiet_option, renamed
from splade_lite.encoders import MODES
from splade_lite.encoders.dense import DENSE_MODELS
from splade_lite.encoders.models import DEFAULT_MODEL
from splade_lite.training.generate import GENERATORS

if TYPE_CHECKING:  # torch is imported only when a command runs
    from splade_lite.training.trainer import TrainConfig


#: Steps of each command when --max-steps is not given. The adaptation runs measured took
#: 200-300 steps (9-25 minutes on a 2-core CPU, see the README's training section).
TRAIN_STEPS = 1000
ADAPT_STEPS = 200
LOSS_HELP = {
    "info-nce": "in-batch and hard negatives against the labelled positive",
    "margin-mse": "distil the teacher's score margins (positive minus negative)",
    "kl": "distil the teacher's score distribution over each query's documents",
}


def _common(default_loss: str, losses: tuple[str, ...], max_steps: int):
    """Options shared by train and adapt (everything in TrainConfig, plus run control), with
    each command's own default loss, losses and number of steps."""
    options = [
        click.option(
            "--out",
            "out_dir",
            required=True,
            type=click.Path(file_okay=False, path_type=Path),
            help="Folder for the trained model (usable as --model afterwards).",
        ),
        click.option(
            "--model",
            default=DEFAULT_MODEL,
            show_default=True,
            help="Model to start from: built-in name, local folder or Hugging Face id of a "
            "SPLADE masked-LM (as encode takes it).",
        ),
        renamed("--base", "--model", "model"),
        click.option(
            "--mode",
            type=click.Choice(MODES),
            default=MODES[0],
            show_default=True,
            help="splade: queries through the model; inference-free: queries are IDF-weighted "
            "tokens and only the document encoder is trained (idf.json is saved with it).",
        ),
        click.option(
            "--loss",
            type=click.Choice(losses),
            default=default_loss,
            show_default=True,
            help="; ".join(f"{name}: {LOSS_HELP[name]}" for name in losses) + ".",
        ),
        click.option(
            "--teacher",
            default=None,
            help="Sparse encoder fused with BM25 as teacher [default: --model].",
        ),
        click.option(
            "--dense-teacher",
            "dense_teachers",
            multiple=True,
            metavar="NAME_OR_FOLDER",
            help="Add a dense sentence-transformers model to the teachers (repeatable): "
            f"built-in {', '.join(DENSE_MODELS)}, a local folder or a Hugging Face id. Each "
            "teacher's scores are min-max normalised per query, then averaged.",
        ),
        click.option(
            "--max-steps",
            default=max_steps,
            show_default=True,
            type=click.IntRange(1),
            help="Optimiser steps (batches) to train for.",
        ),
        click.option(
            "--batch-size",
            default=8,
            show_default=True,
            type=click.IntRange(1),
            help="Queries per step.",
        ),
        click.option(
            "--negatives",
            default=3,
            show_default=True,
            type=click.IntRange(0),
            help="Hard negatives per query.",
        ),
        click.option(
            "--lr",
            default=2e-5,
            show_default=True,
            type=click.FloatRange(min=0, min_open=True),
            help="Peak learning rate (AdamW).",
        ),
        click.option(
            "--warmup-steps",
            default=50,
            show_default=True,
            type=click.IntRange(0),
            help="Steps of linear learning-rate warm-up (then linear decay to 0).",
        ),
        click.option(
            "--max-length",
            default=256,
            show_default=True,
            type=click.IntRange(8),
            help="Document tokens while training; saved as the model's default length for "
            "encoding (encode --max-length overrides it).",
        ),
        click.option(
            "--query-max-length",
            default=64,
            show_default=True,
            type=click.IntRange(4),
            help="Query tokens while training.",
        ),
        click.option(
            "--flops-doc",
            default=1e-3,
            show_default=True,
            type=click.FloatRange(0),
            help="Document FLOPS weight (reached after --flops-warmup steps, quadratically).",
        ),
        click.option(
            "--flops-query",
            default=1e-3,
            show_default=True,
            type=click.FloatRange(0),
            help="Query FLOPS weight (splade mode).",
        ),
        click.option(
            "--flops-warmup",
            default=200,
            show_default=True,
            type=click.IntRange(0),
            help="Steps over which the FLOPS weights grow (quadratically) to their value.",
        ),
        click.option(
            "--anchor",
            default=0.0,
            show_default=True,
            type=click.FloatRange(0),
            help="Weight of the anchor to the starting model: document term weights that "
            "fall below the frozen starting model's cost this much (squared), so training "
            "keeps expansion terms; 0: none.",
        ),
        click.option(
            "--doc-reg",
            type=click.Choice(["flops", "idf-flops"]),
            default=None,
            help="Document regulariser [default: idf-flops for inference-free, else flops].",
        ),
        click.option(
            "--temperature",
            default=1.0,
            show_default=True,
            type=click.FloatRange(min=0, min_open=True),
            help="Scores are divided by this in the info-nce and kl losses.",
        ),
        click.option(
            "--query-weight-lr",
            default=0.0,
            show_default=True,
            type=click.FloatRange(0),
            help="Inference-free: also learn each token's query weight (saved as idf.json), "
            "starting from its IDF, at this learning rate; 0 keeps the IDF. Queries still "
            "need no model.",
        ),
        click.option(
            "--negatives-depth",
            default=50,
            show_default=True,
            type=click.IntRange(1),
            help="Ranks searched for hard negatives (and, for adapt, for the teachers' "
            "candidates).",
        ),
        renamed("--depth", "--negatives-depth", "negatives_depth", type=click.IntRange(1)),
        click.option(
            "--seed",
            default=42,
            show_default=True,
            type=int,
            help="Random seed (same seed and options: same weights).",
        ),
        click.option(
            "--checkpoint-every",
            default=100,
            show_default=True,
            type=click.IntRange(1),
            help="Steps between checkpoints (what --resume continues from).",
        ),
        click.option("--device", default=None, help="cpu or cuda [default: cuda when present]."),
        click.option(
            "--resume", is_flag=True, help="Continue an interrupted run into --out (same options)."
        ),
        click.option(
            "--overwrite", is_flag=True, help="Replace the model or run already in --out."
        ),
        quiet_option,
        json_option,
    ]

    def decorate(func):
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


_RUN_KEYS = ("out_dir", "teacher", "dense_teachers", "negatives_depth", "device", "resume",
             "overwrite", "quiet")  # fmt: skip


def _split(options: dict) -> tuple[Path, TrainConfig, dict]:
    """The output folder, the TrainConfig, and the run settings both recipes take, from the
    options of `_common` (what is left in `options` is the command's own)."""
    run = {k: options.pop(k) for k in _RUN_KEYS}
    settings = {
        "teacher_model": run["teacher"],
        "dense_teachers": tuple(run["dense_teachers"]),
        "depth": run["negatives_depth"],
        "resume": run["resume"],
        "overwrite": run["overwrite"],
        "progress": not run["quiet"],
        "log": notes(run["quiet"]),
        "device": run["device"],
    }
    return run["out_dir"], _config(options), settings


def _config(options: dict) -> TrainConfig:
    from splade_lite.training.trainer import TrainConfig

    doc_reg = options.pop("doc_reg") or (
        "idf-flops" if options["mode"] == "inference-free" else "flops"
    )
    return TrainConfig(
        base=options.pop("model"),
        mode=options.pop("mode"),
        loss=options.pop("loss"),
        max_steps=options.pop("max_steps"),
        batch_size=options.pop("batch_size"),
        negatives=options.pop("negatives"),
        lr=options.pop("lr"),
        warmup_steps=options.pop("warmup_steps"),
        max_length=options.pop("max_length"),
        query_max_length=options.pop("query_max_length"),
        flops_doc=options.pop("flops_doc"),
        flops_query=options.pop("flops_query"),
        flops_warmup=options.pop("flops_warmup"),
        doc_regularizer=doc_reg,
        anchor=options.pop("anchor"),
        temperature=options.pop("temperature"),
        query_weight_lr=options.pop("query_weight_lr"),
        seed=options.pop("seed"),
        checkpoint_every=options.pop("checkpoint_every"),
    )


def _report(result, quiet: bool, as_json: bool) -> None:
    last = result.losses[-10:]
    mean = sum(last) / len(last) if last else None
    if as_json:
        print_json(
            {"out": str(result.out_dir), "steps": result.steps, "seconds": result.seconds,
             "last_loss": mean}
        )  # fmt: skip
        return
    loss = f", last loss {mean:.4f}" if mean is not None else ""
    _log(f"trained {result.steps} steps in {result.seconds:.0f} s{loss} -> {result.out_dir}")
    if not quiet:
        _log(f"use it with: splade-lite encode CORPUS --out VECTORS --model {result.out_dir}")


@click.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--corpus",
    type=click.Path(exists=True, path_type=Path),
    help="Corpus file [default: DATA_DIR/corpus.jsonl].",
)
@click.option(
    "--queries",
    type=click.Path(exists=True, path_type=Path),
    help="Queries file [default: DATA_DIR/queries.jsonl].",
)
@click.option(
    "--qrels",
    type=click.Path(exists=True, path_type=Path),
    help="Training qrels [default: DATA_DIR/qrels/train.tsv].",
)
@click.option(
    "--negatives-index", type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Mine hard negatives by searching this splade-lite index of the corpus "
    "[default: the fused ranking of Lucene BM25 and the teacher].",
)  # fmt: skip
@_common("info-nce", ("info-nce", "margin-mse", "kl"), TRAIN_STEPS)
@_friendly
def train(data_dir, corpus, queries, qrels, negatives_index, **options):
    """Train a sparse encoder on DATA_DIR's labelled queries (BEIR layout, qrels/train.tsv)."""
    from splade_lite.training.recipes import train_supervised

    as_json = options.pop("as_json")
    out_dir, config, settings = _split(options)
    result = train_supervised(
        data_dir,
        out_dir,
        config,
        corpus=corpus,
        queries=queries,
        qrels=qrels,
        negatives_index=negatives_index,
        **settings,
    )
    _report(result, not settings["progress"], as_json)


@click.command()
@click.argument("corpus", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--max-queries", default=20_000, show_default=True, type=click.IntRange(1),
    help="Pseudo-queries kept (titles and cropped spans of the documents).",
)  # fmt: skip
@click.option(
    "--cloze", default=0.0, show_default=True, type=click.FloatRange(0, 1),
    help="Share of span queries whose positive is their document with the span cut out "
    "(inverse cloze task): only expansion terms can match it.",
)  # fmt: skip
@click.option(
    "--title-cloze", default=0.0, show_default=True, type=click.FloatRange(0, 1),
    help="Share of title queries whose positive is their document's body alone, so that "
    "the body learns the terms its title would add.",
)  # fmt: skip
@click.option(
    "--teacher-vectors",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Vectors folder of CORPUS made by `splade-lite encode` with the teacher (splade "
    "mode): used instead of encoding the corpus again.",
)
@click.option(
    "--generator", metavar="NAME_OR_PATH",
    help="Also have a language model write a question for sampled documents: built-in "
    f"{', '.join(GENERATORS)}, a .gguf file or a transformers causal-LM folder (kept in "
    "OUT/training/generated.jsonl; --resume continues it).",
)  # fmt: skip
@click.option(
    "--generate-docs", default=1000, show_default=True, type=click.IntRange(1),
    help="Documents sampled for --generator (each costs seconds of CPU).",
)  # fmt: skip
@click.option(
    "--generated-only", is_flag=True,
    help="Train on the generated queries alone, not with the ones cut from the documents.",
)  # fmt: skip
@_common("margin-mse", ("margin-mse", "kl"), ADAPT_STEPS)
@_friendly
def adapt(
    corpus, max_queries, cloze, title_cloze, teacher_vectors, generator, generate_docs,
    generated_only, **options,
):  # fmt: skip
    """Adapt a sparse encoder to CORPUS without labels (pseudo-queries, BM25 + encoder teachers).

    Cut pseudo-queries can be joined by questions a language model writes (--generator), and
    the teachers by dense models (--dense-teacher).
    """
    from splade_lite.training.recipes import adapt_corpus

    as_json = options.pop("as_json")
    if generated_only and generator is None:
        raise click.UsageError("--generated-only needs --generator")
    out_dir, config, settings = _split(options)
    extra = {}
    if generator is not None:
        extra = {"generator": generator, "generate_docs": generate_docs,
                 "generated_only": generated_only}  # fmt: skip
    result = adapt_corpus(
        corpus,
        out_dir,
        config,
        teacher_vectors=teacher_vectors,
        max_queries=max_queries,
        cloze=cloze,
        title_cloze=title_cloze,
        **extra,
        **settings,
    )
    _report(result, not settings["progress"], as_json)
