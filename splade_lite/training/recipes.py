"""The two ways to train: from labelled queries (:func:`train_supervised`) or from the corpus
alone (:func:`adapt_corpus`). Each builds its examples once, keeps them in the run folder,
and hands them to :func:`~splade_lite.training.trainer.run_training`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from splade_lite.errors import BadValueError
from splade_lite.io import Doc
from splade_lite.training import generate as generation
from splade_lite.training import teacher as teachers
from splade_lite.training.data import (
    TrainExample,
    cloze_positives,
    cloze_texts,
    corpus_idf,
    find_train_qrels,
    load_corpus,
    pseudo_queries,
    qrels_pairs,
    sample_negatives,
    searcher_rankings,
)
from splade_lite.training.ensemble import EnsembleTeacher, load_teacher_vectors
from splade_lite.training.outdir import GENERATED_FILE, RUN_DIR, hold_output
from splade_lite.training.trainer import (
    TrainConfig,
    TrainResult,
    load_run_data,
    open_run,
    run_options,
    run_training,
    save_run_data,
)

__all__ = [
    "EnsembleTeacher",
    "adapt_corpus",
    "distillation_examples",
    "load_teacher_vectors",
    "student_scale",
    "train_supervised",
]
Log = Callable[[str], None]
CHUNK = 256  # queries scored at once against the whole corpus


def _quiet(_: str) -> None:
    pass


def distillation_examples(
    teacher: EnsembleTeacher,
    queries: Sequence[tuple[str, list[str], str]],
    negatives: int,
    rng: np.random.Generator,
    skip: int = 0,
) -> list[TrainExample]:
    """(query text, positive ids, source) -> one example per positive, with hard negatives
    from the fused ranking and fused teacher scores of every document of the example."""
    out = []
    for start in range(0, len(queries), CHUNK):
        chunk = queries[start : start + CHUNK]
        fused = teacher.rankings([q for q, _, _ in chunk])
        for (text, positives, source), hits in zip(chunk, fused):
            ranking, score = [d for d, _ in hits], dict(hits)
            for positive in positives:
                negs = sample_negatives(ranking, positives, negatives, rng, teacher.ids, skip)
                docs = [positive, *negs]
                out.append(TrainExample(text, docs, [score.get(d, 0.0) for d in docs], source))
    return out


def student_scale(
    examples: Sequence[TrainExample],
    teacher: EnsembleTeacher,
    mode: str,
    idf: Mapping[str, float] | None,
) -> float:
    """Teacher-score multiplier that puts fused scores (in [0, 1]) on the scale of the student's
    own scores: median spread of the base model's scores over an example's documents divided
    by the median spread of the teacher's (the teacher's encoder stands in for the base)."""
    from splade_lite.encoders.inference_free import IdfQueryEncoder

    sample = list(examples[: min(len(examples), 512)])
    texts = [ex.query for ex in sample]
    if mode == "inference-free":
        encoder = IdfQueryEncoder(teacher.encoder.tokenizer, idf or {}, teacher.encoder.terms)
        query_vectors = encoder.encode_queries(texts)
    else:
        query_vectors = teacher.encoder.encode_queries(texts)
    size = len(teacher.encoder.terms)
    q = teachers.vectors_matrix(query_vectors, size)
    student_spread, teacher_spread = [], []
    for row, ex in enumerate(sample):
        cols = [teacher.position[d] for d in ex.docs]
        d = teachers.vectors_matrix([teacher.doc_vectors[c] for c in cols], size)
        scores = np.asarray((q[row] @ d.T).todense()).ravel()
        student_spread.append(scores.max() - scores.min())
        teacher_spread.append(max(ex.scores) - min(ex.scores))
    s, t = float(np.median(student_spread)), float(np.median(teacher_spread))
    return s / t if s > 0 and t > 0 else 1.0


def _distilled(
    teacher: EnsembleTeacher,
    queries: Sequence[tuple[str, list[str], str]],
    config: TrainConfig,
    idf: Mapping[str, float] | None,
    rng: np.random.Generator,
    skip: int,
    log: Log,
) -> tuple[list[TrainExample], float]:
    """Teacher-scored examples, and the multiplier that puts their scores on the student's
    scale (1 for a contrastive loss, which reads no teacher score)."""
    examples = distillation_examples(teacher, queries, config.negatives, rng, skip)
    if config.loss == "info-nce":
        return examples, 1.0
    scale = student_scale(examples, teacher, config.mode, idf)
    log(f"teacher scores x {scale:.3g} (the student's score scale)")
    return examples, scale


def _saved(out_dir, examples, idf, extra) -> tuple[list, dict | None, dict]:
    """Save the run's data and read it back: training starts from what was written (teacher
    scores rounded as saved), so a resumed run trains on exactly the same data."""
    save_run_data(out_dir, examples, idf, extra)
    saved = load_run_data(out_dir)
    assert saved is not None
    return saved


def _check_models(teacher: str, dense_teachers: Sequence[str], generator: str | None) -> None:
    """Refuse a dense teacher or generator that cannot be found before the run folder is
    made (loading them comes later, after the corpus and the other teachers)."""
    from splade_lite.encoders.dense import resolve_dense_model
    from splade_lite.training.ensemble import refuse_dense_as_sparse

    refuse_dense_as_sparse(teacher)
    for name in dense_teachers:
        resolve_dense_model(name)
    if generator is not None:
        generation.resolve_generator(generator)


def _new_options(
    dense_teachers: Sequence[str],
    generator: str | None,
    generate_docs: int,
    only: bool,
    title_cloze: float = 0.0,
) -> dict:
    """The run options added since run.json first had its keys, present only when used (so
    that a run interrupted before they existed can still be resumed)."""
    options: dict = {}
    if dense_teachers:
        options["dense_teachers"] = list(dense_teachers)
    if generator is not None:
        options.update(generator=generator, generate_docs=generate_docs, generated_only=only)
    if title_cloze:
        options["title_cloze"] = title_cloze
    return options


def _texts(docs: Mapping[str, Doc]) -> dict[str, str]:
    return {d: doc.full_text for d, doc in docs.items()}


def _idf_for(config: TrainConfig, docs: Mapping[str, Doc], log: Log) -> dict[str, float] | None:
    if config.mode != "inference-free":
        return None
    from splade_lite.encoders.inference_free import read_idf_file
    from splade_lite.encoders.models import load_tokenizer, resolve_model

    source = resolve_model(config.base)
    tokenizer = load_tokenizer(source)
    if source.query_idf is not None:
        from splade_lite.encoders.base import vocab_terms

        log(f"IDF: the table shipped with {config.base}")
        return read_idf_file(source.query_idf, vocab_terms(tokenizer))
    log("IDF: document frequencies of the corpus's tokens")
    return corpus_idf(tokenizer, (d.full_text for d in docs.values()), config.max_length)


def adapt_corpus(
    corpus: str | Path,
    out_dir: str | Path,
    config: TrainConfig,
    *,
    teacher_model: str | None = None,
    teacher_vectors: str | Path | None = None,
    dense_teachers: Sequence[str] = (),
    max_queries: int = 20_000,
    cloze: float = 0.0,
    title_cloze: float = 0.0,
    generator: str | None = None,
    generate_docs: int = 1000,
    generated_only: bool = False,
    depth: int = 50,
    skip: int = 0,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    log: Log = _quiet,
    on_step: Callable[[int, float], None] | None = None,
    device: str | None = None,
) -> TrainResult:
    """Adapt `config.base` to a corpus without any labels.

    Pseudo-queries (titles, cropped spans) are cut from the corpus and, with a `generator`,
    written by a language model for `generate_docs` sampled documents (joining the cut ones,
    or replacing them with `generated_only`; see :mod:`.generate`). Each query gets its
    source document as positive, hard negatives from the fused ranking of BM25,
    `teacher_model` and any `dense_teachers`, and fused teacher scores for distillation
    (`config.loss` margin-mse or kl). A `cloze` share of the span queries get their document
    without the span as positive, and a `title_cloze` share of the title queries their body
    alone (:func:`~splade_lite.training.data.cloze_positives`).
    """
    for name, share in (("cloze", cloze), ("title_cloze", title_cloze)):
        if not 0.0 <= share <= 1.0:
            raise BadValueError(f"{name} must be within [0, 1], got {share}")
    if config.loss == "info-nce":
        raise BadValueError("adapt distils teacher scores: use loss margin-mse or kl")
    if generated_only and generator is None:
        raise BadValueError("generated_only needs a generator (--generator)")
    teacher_model = teacher_model or config.base
    _check_models(teacher_model, dense_teachers, generator)
    options = {
        "command": "adapt",
        "corpus": str(Path(corpus).resolve()),
        "teacher": teacher_model,
        "teacher_vectors": str(Path(teacher_vectors).resolve()) if teacher_vectors else None,
        "max_queries": max_queries,
        "cloze": cloze,
        "depth": depth,
        "skip": skip,
        **_new_options(dense_teachers, generator, generate_docs, generated_only, title_cloze),
        **run_options(config),
    }
    with hold_output(out_dir):  # held from the first check to the end
        resuming = open_run(out_dir, options, resume=resume, overwrite=overwrite)
        docs = load_corpus(corpus)
        saved = load_run_data(out_dir) if resuming else None
        if saved is None:
            rng = np.random.default_rng(config.seed)
            made = pseudo_queries(list(docs.values()), rng)
            generated, facts = [], None
            if generator is not None:
                made_by = generation.CausalGenerator(generator, device=device)
                cache = Path(out_dir) / RUN_DIR / GENERATED_FILE
                result = generation.generate_queries(
                    docs, cache, made_by, count=generate_docs, seed=config.seed,
                    name=generator, progress=progress, log=log,
                )  # fmt: skip
                generated, facts = result.queries, result.facts()
            made = generation.join_queries(made, generated, max_queries, rng, only=generated_only)
            log(f"{len(made)} pseudo-queries from {len(docs)} documents")
            idf = _idf_for(config, docs, log)
            queries = [(text, [doc_id], f"{kind}:{doc_id}") for text, doc_id, kind in made]
            with EnsembleTeacher(
                docs,
                teacher_model,
                max_length=config.max_length,
                depth=depth,
                progress=progress,
                log=log,
                device=device,
                vectors_dir=teacher_vectors,
                dense_models=dense_teachers,
            ) as teacher:
                examples, scale = _distilled(teacher, queries, config, idf, rng, skip, log)
                teachers_used = teacher.names
            del teacher  # its model and document vectors are not needed while training
            if cloze > 0 or title_cloze > 0:
                examples = cloze_positives(examples, docs, cloze, rng, title_cloze)
            extra = {"teacher_scale": scale, "num_docs": len(docs), "teachers": teachers_used}
            if facts is not None:
                extra["generation"] = facts
            examples, idf, extra = _saved(out_dir, examples, idf, extra)
        else:
            examples, idf, extra = saved
            log(f"resuming with the {len(examples)} examples of the interrupted run")
        config = TrainConfig(**{**asdict(config), "teacher_scale": extra["teacher_scale"]})
        keys = ("command", "corpus", "teacher", "dense_teachers", "cloze", "title_cloze",
                "generator", "generated_only")  # fmt: skip
        info = {"data": {k: v for k, v in options.items() if k in keys}}
        info["data"].update({k: extra[k] for k in ("teachers", "generation") if k in extra})
        info["data"]["num_examples"] = len(examples)
        texts = {**_texts(docs), **cloze_texts(examples, docs)}
        return run_training(
            out_dir, config, examples, texts, idf=idf, info=info, progress=progress,
            on_step=on_step, device=device,
        )  # fmt: skip


def train_supervised(
    data_dir: str | Path,
    out_dir: str | Path,
    config: TrainConfig,
    *,
    corpus: str | Path | None = None,
    queries: str | Path | None = None,
    qrels: str | Path | None = None,
    negatives_index: str | Path | None = None,
    teacher_model: str | None = None,
    dense_teachers: Sequence[str] = (),
    depth: int = 50,
    skip: int = 0,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    log: Log = _quiet,
    on_step: Callable[[int, float], None] | None = None,
    device: str | None = None,
) -> TrainResult:
    """Train on a BEIR folder's train qrels (or the files given).

    Hard negatives come from `negatives_index` (a splade-lite index of the corpus, searched
    with :class:`~splade_lite.search.Searcher`) or else from the fused BM25 + teacher
    ranking, which also gives the teacher scores that margin-mse and kl need.
    """
    folder = Path(data_dir)
    corpus = Path(corpus) if corpus else folder / "corpus.jsonl"
    queries = Path(queries) if queries else folder / "queries.jsonl"
    qrels = Path(qrels) if qrels else find_train_qrels(folder)
    teacher_model = teacher_model or config.base
    _check_models(teacher_model, dense_teachers, None)
    options = {
        "command": "train",
        "corpus": str(corpus.resolve()),
        "queries": str(queries.resolve()),
        "qrels": str(qrels.resolve()),
        "negatives_index": str(Path(negatives_index).resolve()) if negatives_index else None,
        "teacher": teacher_model,
        "depth": depth,
        "skip": skip,
        **_new_options(dense_teachers, None, 0, False),
        **run_options(config),
    }
    with hold_output(out_dir):  # held from the first check to the end
        resuming = open_run(out_dir, options, resume=resume, overwrite=overwrite)
        docs = load_corpus(corpus)
        saved = load_run_data(out_dir) if resuming else None
        if saved is None:
            rng = np.random.default_rng(config.seed)
            pairs = qrels_pairs(queries, qrels, docs)
            log(f"{len(pairs)} training queries, {sum(len(p) for _, _, p in pairs)} positives")
            idf = _idf_for(config, docs, log)
            scale, teachers_used = 1.0, []
            if negatives_index is not None and config.loss == "info-nce":
                if dense_teachers:
                    log("warning: no teacher is used (info-nce, --negatives-index): "
                        "the dense teachers are ignored")  # fmt: skip
                examples = _searched_examples(
                    negatives_index, pairs, docs, config, depth, skip, rng
                )
            else:
                if negatives_index is not None:
                    log("teacher scores for distillation come from the BM25 + encoder teachers")
                items = [(text, positives, qid) for qid, text, positives in pairs]
                with EnsembleTeacher(
                    docs, teacher_model, max_length=config.max_length, depth=depth,
                    progress=progress, log=log, device=device, dense_models=dense_teachers,
                ) as teacher:  # fmt: skip
                    examples, scale = _distilled(teacher, items, config, idf, rng, skip, log)
                    teachers_used = teacher.names
                del teacher
            extra = {"teacher_scale": scale, "num_docs": len(docs)}
            if teachers_used:
                extra["teachers"] = teachers_used
            examples, idf, extra = _saved(out_dir, examples, idf, extra)
        else:
            examples, idf, extra = saved
        scale = extra["teacher_scale"]
        config = TrainConfig(**{**asdict(config), "teacher_scale": scale})
        info = {
            "data": {"command": "train", "qrels": options["qrels"], "num_examples": len(examples)}
        }
        if "teachers" in extra:
            info["data"]["teachers"] = extra["teachers"]
        return run_training(
            out_dir, config, examples, _texts(docs), idf=idf, info=info, progress=progress,
            on_step=on_step, device=device,
        )  # fmt: skip


def _searched_examples(index_dir, pairs, docs, config, depth, skip, rng) -> list[TrainExample]:
    """Hard negatives from the project's own search of an existing index."""
    from splade_lite.search import Searcher

    searcher = Searcher(index_dir)
    rankings = searcher_rankings(searcher, [text for _, text, _ in pairs], depth)
    ids = list(docs)
    out = []
    for (qid, text, positives), ranking in zip(pairs, rankings):
        for positive in positives:
            negs = sample_negatives(ranking, positives, config.negatives, rng, ids, skip)
            out.append(TrainExample(text, [positive, *negs], None, qid))
    return out
