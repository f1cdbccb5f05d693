"""The training loop: fixed seed, progress bar, atomic checkpoints and exact resumption.

A run lives in ``OUT/training/``: ``run.json`` (the options, so that a resumed run is the
same run), ``examples.jsonl`` (the training data, built once), ``idf.json`` for
inference-free runs, and ``checkpoint.safetensors`` (model, optimiser, scheduler, random state,
step; see :mod:`.checkpoint`), replaced atomically every `checkpoint_every` steps. The batches
of step s are a function of (seed, s) alone, so a run resumed from step s continues exactly as
the uninterrupted run would have. When training ends the model is saved into OUT (see
:mod:`.save`) and the checkpoint is removed. A run holds a lock on OUT from its first check to
its end, and only ever removes files of its own (see :mod:`.outdir`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from splade_lite import metadata as md
from splade_lite.encoders.inference_free import IdfQueryEncoder
from splade_lite.encoders.models import DEFAULT_MODEL
from splade_lite.errors import BadValueError, MissingFileError, SpladeLiteError
from splade_lite.training import losses
from splade_lite.training.checkpoint import legacy_error, load_state, read_header, save_state
from splade_lite.training.data import TrainExample, check_examples, read_examples, write_examples
from splade_lite.training.model import TrainableSplade, dense_rows, load_trainable
from splade_lite.training.outdir import (
    CHECKPOINT_FILE,
    DATA_FILE,
    EXAMPLES_FILE,
    LEGACY_CHECKPOINT,
    LOSSES_FILE,
    RUN_DIR,
    RUN_FILE,
    clear_output,
    hold_output,
    read_data_facts,
    read_idf_table,
    read_run_options,
    refuse_foreign,
)
from splade_lite.training.save import MODEL_META, save_model

__all__ = ["CHECKPOINT_FILE", "RUN_DIR", "RUN_FILE", "RunExistsError", "TrainConfig", "Trainer"]
LOSSES = ("info-nce", "margin-mse", "kl")
DOC_REGULARIZERS = ("flops", "idf-flops")


@dataclass
class TrainConfig:
    """Everything that decides the trained weights (saved with the model as its recipe)."""

    base: str = DEFAULT_MODEL
    mode: str = "splade"  # "splade": queries through the model; "inference-free": IDF bags
    loss: str = "info-nce"  # info-nce (labels), margin-mse or kl (teacher scores)
    max_steps: int = 1000
    batch_size: int = 8  # queries per step
    negatives: int = 3  # hard negatives per query
    lr: float = 2e-5
    weight_decay: float = 0.01
    warmup_steps: int = 50  # linear learning-rate warm-up, then linear decay to 0
    max_length: int = 256  # document tokens
    query_max_length: int = 64
    flops_doc: float = 1e-3  # document regularisation weight (after its warm-up)
    flops_query: float = 1e-3  # query regularisation weight (splade mode only)
    flops_warmup: int = 200  # steps of the quadratic warm-up of both weights
    doc_regularizer: str = "flops"  # or idf-flops (inference-free only)
    # weight of the anchor to the base model (losses.shortfall): document term weights that
    # fall below the frozen base model's cost this much per squared unit; 0: no anchor
    anchor: float = 0.0
    temperature: float = 1.0
    # inference-free: learn each token's query weight (saved as idf.json), starting from the
    # IDF, at this learning rate; 0 keeps the IDF
    query_weight_lr: float = 0.0
    teacher_scale: float = 1.0  # teacher scores are multiplied by this before distillation
    grad_clip: float = 1.0  # max gradient norm (0: none)
    seed: int = 42
    checkpoint_every: int = 100

    def __post_init__(self) -> None:
        if self.mode not in ("splade", "inference-free"):
            raise BadValueError(f"unknown mode {self.mode!r} (splade or inference-free)")
        if self.loss not in LOSSES:
            raise BadValueError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        if self.doc_regularizer not in DOC_REGULARIZERS:
            raise BadValueError(f"unknown doc regularizer {self.doc_regularizer!r}")
        if self.doc_regularizer == "idf-flops" and self.mode != "inference-free":
            raise BadValueError("idf-flops needs IDF: it is for inference-free training")
        for name in ("max_steps", "batch_size", "max_length", "query_max_length"):
            if getattr(self, name) < 1:
                raise BadValueError(f"{name} must be at least 1")
        if not math.isfinite(self.anchor) or self.anchor < 0:
            raise BadValueError("anchor must be a finite number, not negative")
        if self.query_weight_lr < 0 or (self.query_weight_lr > 0 and self.mode != "inference-free"):
            raise BadValueError("query_weight_lr is for inference-free training, and not negative")
        if self.negatives < 0 or (self.negatives == 0 and self.loss != "info-nce"):
            raise BadValueError("distillation needs at least one negative per query")

    @property
    def group(self) -> int:
        return 1 + self.negatives


@dataclass
class TrainResult:
    out_dir: Path
    steps: int
    seconds: float
    losses: list[float] = field(default_factory=list)  # total loss of each step


def run_options(config: TrainConfig) -> dict:
    """The config as run.json records it: without teacher_scale (derived from the data), and
    without options added later while they keep their default, so that a run interrupted
    before they existed can still be resumed."""
    options = asdict(config)
    options.pop("teacher_scale")
    if not options["anchor"]:
        options.pop("anchor")
    return options


class RunExistsError(SpladeLiteError, FileExistsError):
    """OUT already holds a model or an interrupted run."""


# -- the run folder -----------------------------------------------------------------------------
def open_run(out_dir: str | Path, options: Mapping, *, resume: bool, overwrite: bool) -> bool:
    """Prepare ``OUT/training``; True when an earlier run with the same options is resumed.

    Refuses to touch a finished model or an interrupted run unless told (`overwrite`
    starts again, `resume` continues and needs the same `options`), and refuses a folder
    holding files splade-lite did not write. The caller holds the lock on OUT
    (:func:`~splade_lite.training.outdir.hold_output`).
    """
    if resume and overwrite:
        raise BadValueError("resume continues a run, overwrite starts again: choose one")
    out = Path(out_dir)
    run = out / RUN_DIR
    if resume:
        if not (run / RUN_FILE).is_file():
            raise MissingFileError(f"{out}: no interrupted training run to resume")
        saved = read_run_options(run / RUN_FILE)
        wanted = json.loads(json.dumps(dict(options)))
        differ = sorted(k for k in set(saved) | set(wanted) if saved.get(k) != wanted.get(k))
        if differ:
            shown = ", ".join(f"{k}: {saved.get(k)!r} then, {wanted.get(k)!r} now" for k in differ)
            raise BadValueError(
                f"{out}: --resume needs the options of the interrupted run ({shown})"
            )
        check_checkpoint(run)
        return True
    refuse_foreign(out)
    finished = (out / "config.json").is_file() and (out / MODEL_META).is_file()
    if not overwrite and (finished or run.exists()):
        what = "a trained model" if finished else "an interrupted training run"
        hint = "--overwrite to replace it" + ("" if finished else ", or --resume to continue")
        raise RunExistsError(f"{out} already holds {what}; pass {hint}")
    if overwrite:
        clear_output(out)
    run.mkdir(parents=True, exist_ok=True)
    md.write_json(run / RUN_FILE, {"options": dict(options)})
    return False


def check_checkpoint(run: Path) -> None:
    """Refuse, before any costly step, a run folder whose checkpoint cannot be resumed from."""
    if (run / LEGACY_CHECKPOINT).exists():
        raise legacy_error(run / LEGACY_CHECKPOINT)
    if (run / CHECKPOINT_FILE).exists():
        read_header(run / CHECKPOINT_FILE)


def save_run_data(
    out_dir: str | Path,
    examples: Sequence[TrainExample],
    idf: Mapping[str, float] | None,
    extra: Mapping | None = None,
) -> None:
    """Keep what a resumed run must not rebuild: IDF, `extra` facts (data.json), examples."""
    run = Path(out_dir) / RUN_DIR
    if idf is not None:
        md.write_json(run / md.IDF_FILE, dict(idf))
    md.write_json(run / DATA_FILE, dict(extra or {}))
    write_examples(run / EXAMPLES_FILE, examples)  # last: its presence means all are there


def load_run_data(out_dir: str | Path) -> tuple[list[TrainExample], dict | None, dict] | None:
    """Examples, IDF and extra facts of an earlier run, or None if it stopped before them."""
    run = Path(out_dir) / RUN_DIR
    if not (run / EXAMPLES_FILE).is_file():
        return None
    idf = read_idf_table(run / md.IDF_FILE) if (run / md.IDF_FILE).is_file() else None
    return read_examples(run / EXAMPLES_FILE), idf, read_data_facts(run / DATA_FILE)


# -- batches ------------------------------------------------------------------------------------
def batch_indices(step: int, num_examples: int, batch_size: int, seed: int) -> list[int]:
    """Example indices of `step` (1-based): epochs are seeded permutations, last partial
    batch dropped (unless one batch is all there is)."""
    per_epoch = max(1, num_examples // batch_size)
    epoch, k = divmod(step - 1, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(num_examples)
    return order[k * batch_size : (k + 1) * batch_size].tolist()


def _lr_factor(step: int, warmup: int, total: int) -> float:
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


# -- the loop -----------------------------------------------------------------------------------
class Trainer:
    """Trains `config.base` on examples whose ids index `texts` (doc id -> text)."""

    def __init__(
        self,
        config: TrainConfig,
        examples: Sequence[TrainExample],
        texts: Mapping[str, str],
        idf: Mapping[str, float] | None = None,
        device: str | None = None,
        check: bool = True,
    ) -> None:
        self.config = config
        self.examples = list(examples)
        self.texts = texts
        if check:
            if not self.examples:
                raise BadValueError("no training examples")
            check_examples(self.examples, texts, config.group)
            if config.loss != "info-nce" and any(ex.scores is None for ex in self.examples):
                raise BadValueError(f"loss {config.loss} needs teacher scores in every example")
        torch.manual_seed(config.seed)
        self.model: TrainableSplade = load_trainable(config.base, device)
        self.model.train()
        self.base_model: TrainableSplade | None = None
        if config.anchor > 0:  # frozen, in eval mode: the weights the anchor holds to
            self.base_model = load_trainable(config.base, device).eval()
            self.base_model.requires_grad_(False)
        self.idf = None
        self.idf_queries: IdfQueryEncoder | None = None
        self.query_log_weight: torch.nn.Parameter | None = None
        groups: list[dict] = [{"params": [p for p in self.model.parameters() if p.requires_grad]}]
        if config.mode == "inference-free":
            if idf is None:
                raise BadValueError("inference-free training needs an IDF table")
            self.idf_queries = IdfQueryEncoder(self.model.tokenizer, idf, self.model.terms)
            # a weight <= 0 never weights a query token (a sparse vector drops it)
            self.idf = torch.from_numpy(self.idf_queries.idf).clamp_min(0.0)
            if config.query_weight_lr > 0:  # log-weights: they stay positive
                self.query_log_weight = torch.nn.Parameter(
                    torch.log(self.idf.clamp_min(1e-6)).to(self.model.projection.weight.device)
                )
                groups.append(
                    {
                        "params": [self.query_log_weight],
                        "lr": config.query_weight_lr,
                        "weight_decay": 0.0,
                    }
                )
        self.optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda s: _lr_factor(s, config.warmup_steps, config.max_steps),
        )
        self.step = 0
        self.losses: list[float] = []

    # one step ----------------------------------------------------------------------------------
    def loss(self, batch: Sequence[TrainExample], step: int) -> tuple[torch.Tensor, dict]:
        """Total loss of one batch at `step` (1-based) and its parts, for logging."""
        cfg, model = self.config, self.model
        group = cfg.group
        ids = [d for ex in batch for d in ex.docs[:group]]
        doc_texts = [self.texts[d] for d in ids]
        docs = model.encode(doc_texts, cfg.max_length)  # [B*G, V]
        queries_text = [ex.query for ex in batch]
        if cfg.mode == "splade":
            queries = model.encode(queries_text, cfg.query_max_length)
        else:
            vectors = self.idf_queries.encode_queries(queries_text)
            queries = dense_rows(vectors, self.idf.shape[0]).to(docs.device)
            if self.query_log_weight is not None:  # the same tokens, learned weights
                queries = (queries > 0).to(docs.dtype) * self.query_log_weight.exp()
        grouped = docs.view(len(batch), group, -1)
        if cfg.loss == "info-nce":
            rank = losses.info_nce(queries, grouped, cfg.temperature)
        else:
            student = torch.einsum("bv,bgv->bg", queries, grouped)
            teacher = (
                torch.tensor(
                    [ex.scores[:group] for ex in batch], dtype=student.dtype, device=student.device
                )
                * cfg.teacher_scale
            )
            if cfg.loss == "margin-mse":
                rank = losses.margin_mse(student, teacher)
            else:
                rank = losses.kl_distillation(student, teacher, cfg.temperature)
        if cfg.doc_regularizer == "idf-flops":
            doc_reg = losses.idf_flops(docs, self.idf.to(docs.device))
        else:
            doc_reg = losses.flops(docs)
        total = rank + losses.quadratic_warmup(step, cfg.flops_doc, cfg.flops_warmup) * doc_reg
        anchor = torch.zeros(())
        if self.base_model is not None:
            with torch.no_grad():
                base = self.base_model.encode(doc_texts, cfg.max_length)
            anchor = losses.shortfall(docs, base)
            total = total + cfg.anchor * anchor
        query_reg = torch.zeros(())
        if cfg.mode == "splade":
            query_reg = losses.flops(queries)
            total = (
                total + losses.quadratic_warmup(step, cfg.flops_query, cfg.flops_warmup) * query_reg
            )
        parts = {
            "rank": rank.item(),
            "doc_reg": doc_reg.item(),
            "query_reg": query_reg.item(),
            "anchor": anchor.item(),
            "doc_nnz": (docs > 0).sum(dim=1).float().mean().item(),
        }
        return total, parts

    def query_weights(self, idf: Mapping[str, float]) -> dict[str, float]:
        """The inference-free query weights to save: `idf`, or the learned ones where they
        are learned (for the same tokens: a token without IDF never gets a weight)."""
        if self.query_log_weight is None:
            return dict(idf)
        learned = self.query_log_weight.detach().exp().cpu().tolist()
        terms = self.model.terms
        return {terms[i]: learned[i] for i in torch.nonzero(self.idf > 0).flatten().tolist()}

    def train_step(self) -> float:
        cfg = self.config
        step = self.step + 1
        batch = [
            self.examples[i]
            for i in batch_indices(step, len(self.examples), cfg.batch_size, cfg.seed)
        ]
        self.optimizer.zero_grad(set_to_none=True)
        total, self.last_parts = self.loss(batch, step)
        total.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.step = step
        value = total.item()
        if not math.isfinite(value):
            raise FloatingPointError(f"the loss became {value} at step {step}; lower the lr")
        self.losses.append(value)
        return value

    # checkpoints -------------------------------------------------------------------------------
    def save_checkpoint(self, path: str | Path) -> None:
        """Model, optimiser, scheduler, random state and step, replaced atomically."""
        save_state(path, self)

    def load_checkpoint(self, path: str | Path) -> None:
        """Continue from a checkpoint of this run (checked before anything is used)."""
        load_state(path, self)


def run_training(
    out_dir: str | Path,
    config: TrainConfig,
    examples: Sequence[TrainExample],
    texts: Mapping[str, str],
    *,
    idf: Mapping[str, float] | None = None,
    info: Mapping | None = None,
    progress: bool = True,
    on_step: Callable[[int, float], None] | None = None,
    device: str | None = None,
) -> TrainResult:
    """Train (continuing from ``OUT/training/checkpoint.safetensors`` if there is one), save
    the model, holding the lock on OUT throughout.

    `on_step(step, loss)` is called after every step (after any checkpoint of that step).
    """
    with hold_output(out_dir) as out:
        return _run_training(out, config, examples, texts, idf, info, progress, on_step, device)


def _run_training(
    out: Path,
    config: TrainConfig,
    examples: Sequence[TrainExample],
    texts: Mapping[str, str],
    idf: Mapping[str, float] | None,
    info: Mapping | None,
    progress: bool,
    on_step: Callable[[int, float], None] | None,
    device: str | None,
) -> TrainResult:
    from tqdm.auto import tqdm

    run = out / RUN_DIR
    run.mkdir(parents=True, exist_ok=True)
    checkpoint = run / CHECKPOINT_FILE
    check_checkpoint(run)
    started = time.perf_counter()
    trainer = Trainer(config, examples, texts, idf, device)
    if checkpoint.is_file():
        trainer.load_checkpoint(checkpoint)
    bar = tqdm(
        total=config.max_steps,
        initial=trainer.step,
        desc="training",
        unit="step",
        disable=not progress,
        dynamic_ncols=True,
    )
    average = None
    try:
        while trainer.step < config.max_steps:
            value = trainer.train_step()
            average = value if average is None else 0.9 * average + 0.1 * value
            bar.update(1)
            parts = trainer.last_parts
            bar.set_postfix(loss=f"{average:.4f}", doc_nnz=f"{parts['doc_nnz']:.0f}",
                            anchor=f"{parts['anchor']:.3g}")  # fmt: skip
            if trainer.step % config.checkpoint_every == 0 and trainer.step < config.max_steps:
                trainer.save_checkpoint(checkpoint)
            if on_step is not None:
                on_step(trainer.step, value)
    finally:
        bar.close()
    trainer.model.eval()
    recipe = {"config": asdict(config), **dict(info or {})}
    save_model(
        trainer.model,
        out,
        {
            "base": config.base,
            "mode": config.mode,
            "max_length": config.max_length,
            "recipe": recipe,
        },
        idf=(
            trainer.query_weights(idf)
            if (config.mode == "inference-free" and idf is not None)
            else None
        ),
    )
    md.write_json(run / LOSSES_FILE, {"losses": [round(v, 6) for v in trainer.losses]})
    if checkpoint.exists():
        checkpoint.unlink()
    return TrainResult(out, trainer.step, time.perf_counter() - started, trainer.losses)
