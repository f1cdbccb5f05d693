"""The two ways to train: from labelled queries (:func:`train_supervised`) or from the corpus
alone (:func:`adapt_corpus`). Each builds its examples once, keeps them in the run folder,
and hands them to :func:`~splade_lite.training.trainer.run_training`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from splade_lite import fusion
from splade_lite.encoders.models import DEFAULT_MODEL
from splade_lite.errors import BadValueError
from splade_lite.io import Doc
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
from splade_lite.training.outdir import hold_output
from splade_lite.training.trainer import (
    TrainConfig,
    TrainResult,
    load_run_data,
    open_run,
    run_training,
    save_run_data,
)

Log = Callable[[str], None]
CHUNK = 256  # queries scored at once against the whole corpus
TEACHER_ALPHA = 0.5  # weight of the encoder's list against BM25's: the two count the same


def _quiet(_: str) -> None:
    pass


class EnsembleTeacher:
    """BM25 and a sparse encoder over the training corpus, fused per query as a hybrid search
    fuses them.

    Each teacher ranks its top `depth` documents (BM25 through Lucene, see
    :class:`~splade_lite.training.teacher.BM25Teacher`; the encoder by brute force), and the
    two lists are fused by :func:`splade_lite.fusion.interpolate` with equal weights: each
    list min-max normalised, a document missing from one list at that list's 0. A document
    in neither list scores 0. Close it (or use it as a ``with`` block) to remove the BM25
    index.
    """

    def __init__(
        self,
        docs: Mapping[str, Doc],
        encoder_name: str = DEFAULT_MODEL,
        *,
        max_length: int | None = None,
        depth: int = 50,
        progress: bool = True,
        log: Log = _quiet,
        device: str | None = None,
        vectors_dir: str | Path | None = None,
    ) -> None:
        from splade_lite.encoders.splade import SpladeEncoder

        self.ids = list(docs)
        self.position = {d: i for i, d in enumerate(self.ids)}
        self.depth = depth
        log(f"teacher: BM25 index of {len(self.ids)} documents")
        self.bm25 = teachers.BM25Teacher(docs.values())
        try:
            self.encoder = SpladeEncoder(encoder_name, max_length=max_length, device=device)
            if vectors_dir is not None:
                log(f"teacher: document vectors of {encoder_name} from {vectors_dir}")
                self.doc_vectors = load_teacher_vectors(vectors_dir, self.ids, self.encoder)
            else:
                log(f"teacher: encoding {len(self.ids)} documents with {encoder_name}")
                texts = [docs[d].full_text for d in self.ids]
                self.doc_vectors = _encode_with_progress(self.encoder, texts, progress)
        except BaseException:
            self.bm25.close()
            raise
        self.sparse = teachers.SparseTeacher(self.encoder, self.ids, self.doc_vectors)

    def rankings(self, queries: Sequence[str]) -> list[list[tuple[str, float]]]:
        """Each query's fused ``(doc id, score)`` list, best first (scores within [0, 1])."""
        lexical = self.bm25.search(queries, self.depth)
        learned = self.sparse.search(queries, self.depth)
        return [fusion.interpolate(s, b, TEACHER_ALPHA) for s, b in zip(learned, lexical)]

    def close(self) -> None:
        """Remove the BM25 index."""
        self.bm25.close()

    def __enter__(self) -> EnsembleTeacher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_teacher_vectors(vectors_dir: str | Path, ids: Sequence[str], encoder) -> list:
    """Document vectors from a ``splade-lite encode`` folder of the same corpus and model
    (integer impacts divided by the folder's scale), in the order of `ids`."""
    import math

    from splade_lite import metadata as md
    from splade_lite.encoders.models import check_weights
    from splade_lite.shards import iter_checked_records
    from splade_lite.vectors import SparseVector

    meta = md.read_vectors_meta(Path(vectors_dir))
    if check_weights(encoder.source, meta.get("model_sha256")).changed:
        raise BadValueError(
            f"{vectors_dir} was encoded with {meta.get('model')!r}, not the teacher "
            f"{encoder.name!r} (weights differ)"
        )
    if meta.get("mode") != "splade":
        raise BadValueError(f"{vectors_dir}: teacher vectors must be encoded in splade mode")
    position = {term: i for i, term in enumerate(encoder.terms)}
    scale = meta.get("scale")
    if type(scale) not in (int, float) or not math.isfinite(scale) or scale <= 0:
        raise BadValueError(
            f"{Path(vectors_dir) / md.VECTORS_META}: scale {scale!r} is not positive"
        )
    found: dict[str, SparseVector] = {}
    for record in iter_checked_records(vectors_dir):  # each line checked: file:line errors
        pairs = [(position[t], w / scale) for t, w in record["vector"].items() if t in position]
        found[record["id"]] = SparseVector.from_dict(dict(pairs))
    missing = [d for d in ids if d not in found]
    if missing:
        raise BadValueError(
            f"{vectors_dir} has no vector for document {missing[0]!r} of the corpus"
        )
    return [found[d] for d in ids]


def _encode_with_progress(encoder, texts: Sequence[str], progress: bool, chunk: int = 512):
    from tqdm.auto import tqdm

    out = []
    with tqdm(total=len(texts), desc="teacher encoding", unit="doc", disable=not progress) as bar:
        for start in range(0, len(texts), chunk):
            out.extend(encoder.encode_documents(list(texts[start : start + chunk])))
            bar.update(min(chunk, len(texts) - start))
    return out


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
    max_queries: int = 20_000,
    cloze: float = 0.0,
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

    Pseudo-queries (titles, cropped spans) are cut from the corpus; each gets its source
    document as positive, hard negatives from the fused BM25 + `teacher_model` ranking, and
    fused teacher scores for distillation (`config.loss` margin-mse or kl). A `cloze` share
    of the span queries get their document without the span as positive
    (:func:`~splade_lite.training.data.cloze_positives`).
    """
    if not 0.0 <= cloze <= 1.0:
        raise BadValueError(f"cloze must be within [0, 1], got {cloze}")
    if config.loss == "info-nce":
        raise BadValueError("adapt distils teacher scores: use loss margin-mse or kl")
    teacher_model = teacher_model or config.base
    options = {
        "command": "adapt",
        "corpus": str(Path(corpus).resolve()),
        "teacher": teacher_model,
        "teacher_vectors": str(Path(teacher_vectors).resolve()) if teacher_vectors else None,
        "max_queries": max_queries,
        "cloze": cloze,
        "depth": depth,
        "skip": skip,
        **asdict(config),
    }
    options.pop("teacher_scale")  # derived from the data
    with hold_output(out_dir):  # held from the first check to the end
        resuming = open_run(out_dir, options, resume=resume, overwrite=overwrite)
        docs = load_corpus(corpus)
        saved = load_run_data(out_dir) if resuming else None
        if saved is None:
            rng = np.random.default_rng(config.seed)
            made = pseudo_queries(list(docs.values()), rng)
            if len(made) > max_queries:
                keep = np.sort(rng.choice(len(made), size=max_queries, replace=False))
                made = [made[i] for i in keep]
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
            ) as teacher:
                examples, scale = _distilled(teacher, queries, config, idf, rng, skip, log)
            del teacher  # its model and document vectors are not needed while training
            if cloze > 0:
                examples = cloze_positives(examples, docs, cloze, rng)
            extra = {"teacher_scale": scale, "num_docs": len(docs)}
            examples, idf, extra = _saved(out_dir, examples, idf, extra)
        else:
            examples, idf, extra = saved
            log(f"resuming with the {len(examples)} examples of the interrupted run")
        config = TrainConfig(**{**asdict(config), "teacher_scale": extra["teacher_scale"]})
        keys = ("command", "corpus", "teacher", "cloze")
        info = {"data": {k: v for k, v in options.items() if k in keys}}
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
    options = {
        "command": "train",
        "corpus": str(corpus.resolve()),
        "queries": str(queries.resolve()),
        "qrels": str(qrels.resolve()),
        "negatives_index": str(Path(negatives_index).resolve()) if negatives_index else None,
        "teacher": teacher_model,
        "depth": depth,
        "skip": skip,
        **asdict(config),
    }
    options.pop("teacher_scale")
    with hold_output(out_dir):  # held from the first check to the end
        resuming = open_run(out_dir, options, resume=resume, overwrite=overwrite)
        docs = load_corpus(corpus)
        saved = load_run_data(out_dir) if resuming else None
        if saved is None:
            rng = np.random.default_rng(config.seed)
            pairs = qrels_pairs(queries, qrels, docs)
            log(f"{len(pairs)} training queries, {sum(len(p) for _, _, p in pairs)} positives")
            idf = _idf_for(config, docs, log)
            scale = 1.0
            if negatives_index is not None and config.loss == "info-nce":
                examples = _searched_examples(
                    negatives_index, pairs, docs, config, depth, skip, rng
                )
            else:
                if negatives_index is not None:
                    log("teacher scores for distillation come from the BM25 + encoder teachers")
                items = [(text, positives, qid) for qid, text, positives in pairs]
                with EnsembleTeacher(
                    docs, teacher_model, max_length=config.max_length, depth=depth,
                    progress=progress, log=log, device=device,
                ) as teacher:  # fmt: skip
                    examples, scale = _distilled(teacher, items, config, idf, rng, skip, log)
                del teacher
            extra = {"teacher_scale": scale, "num_docs": len(docs)}
            examples, idf, extra = _saved(out_dir, examples, idf, extra)
        else:
            examples, idf, extra = saved
        scale = extra["teacher_scale"]
        config = TrainConfig(**{**asdict(config), "teacher_scale": scale})
        info = {
            "data": {"command": "train", "qrels": options["qrels"], "num_examples": len(examples)}
        }
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
