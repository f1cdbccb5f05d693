"""The ensemble teacher of corpus adaptation and training: BM25, a sparse encoder and, if
asked, dense bi-encoders, each ranking the corpus for a query, fused into one scored list.

Teachers score on scales of their own (BM25 without bound, SPLADE dot products in the tens,
cosine similarities within [-1, 1]); as in the heterogeneous ensemble of Geng et al. (2024),
each teacher's scores are normalised per query before they are combined
(:func:`fuse_teachers`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from splade_lite import fusion
from splade_lite.encoders.dense import DENSE_MODELS
from splade_lite.encoders.models import DEFAULT_MODEL
from splade_lite.errors import BadValueError
from splade_lite.io import Doc
from splade_lite.training import teacher as teachers
from splade_lite.training.dense import DenseTeacher

Log = Callable[[str], None]
TEACHER_ALPHA = 0.5  # weight of the encoder's list against BM25's: the two count the same


def _quiet(_: str) -> None:
    pass


def fuse_teachers(
    lists: Sequence[teachers.Hits], weights: Sequence[float] | None = None
) -> teachers.Hits:
    """One query's teacher lists fused: Σ weight × minmax(list), best first (ties: by id).

    Min-max rather than z-score normalisation: it is what hybrid search already does
    (:func:`splade_lite.fusion.interpolate`, to which this reduces for two lists of weight
    1/2, so the BM25 + encoder ensemble is unchanged), it keeps fused scores within [0, 1]
    whatever the number of teachers (the scale :func:`student_scale` expects), and it stays
    defined for the few candidates of a short list, where a standard deviation means little.
    Each list is normalised over its own candidates (the teacher's top documents); a
    candidate of other teachers that one did not rank counts as its minimum (0). Weights
    default to equal ones summing to 1.
    """
    if weights is None:
        weights = [1.0 / len(lists)] * len(lists) if lists else []
    if len(weights) != len(lists):
        raise BadValueError(f"{len(lists)} teacher lists but {len(weights)} weights")
    return fusion.weighted(lists, weights, "min-max")


def refuse_dense_as_sparse(name: str) -> None:
    """Refuse a built-in dense model named where the sparse teacher is expected."""
    if name in DENSE_MODELS:
        raise BadValueError(
            f"{name!r} is a dense model: give it as --dense-teacher {name} "
            "(--teacher names the sparse encoder)"
        )


class EnsembleTeacher:
    """BM25, a sparse encoder and any dense models over the training corpus, fused per query.

    Each teacher ranks its top `depth` documents (BM25 through Lucene, see
    :class:`~splade_lite.training.teacher.BM25Teacher`; the encoders by brute force), and the
    lists are fused by :func:`fuse_teachers` with equal weights: each list min-max
    normalised, a document missing from one list at that list's 0. Without dense models this
    is :func:`splade_lite.fusion.interpolate` of the encoder's and BM25's lists, as a hybrid
    search fuses them. A document in no list scores 0. Close it (or use it as a ``with``
    block) to remove the BM25 index.
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
        dense_models: Sequence[str] = (),
    ) -> None:
        refuse_dense_as_sparse(encoder_name)
        from splade_lite.encoders.splade import SpladeEncoder  # torch: only once needed

        self.ids = list(docs)
        self.position = {d: i for i, d in enumerate(self.ids)}
        self.depth = depth
        self.dense: list[DenseTeacher] = []
        log(f"teacher: BM25 index of {len(self.ids)} documents")
        self.bm25 = teachers.BM25Teacher(docs.values())
        try:
            self.encoder = SpladeEncoder(encoder_name, max_length=max_length, device=device)
            texts = [docs[d].full_text for d in self.ids]
            if vectors_dir is not None:
                log(f"teacher: document vectors of {encoder_name} from {vectors_dir}")
                self.doc_vectors = load_teacher_vectors(vectors_dir, self.ids, self.encoder)
            else:
                log(f"teacher: encoding {len(self.ids)} documents with {encoder_name}")
                self.doc_vectors = encode_with_progress(self.encoder, texts, progress)
            for name in dense_models:
                log(f"teacher: encoding {len(self.ids)} documents with dense model {name}")
                self.dense.append(
                    DenseTeacher.load(
                        name, self.ids, texts, device=device, progress=progress, log=log
                    )
                )
        except BaseException:
            self.bm25.close()
            raise
        self.sparse = teachers.SparseTeacher(self.encoder, self.ids, self.doc_vectors)

    @property
    def names(self) -> list[str]:
        """The teachers, in the order their lists are fused: the encoder, BM25, dense ones."""
        return [f"sparse:{self.encoder.name}", "bm25", *(f"dense:{t.name}" for t in self.dense)]

    def rankings(self, queries: Sequence[str]) -> list[list[tuple[str, float]]]:
        """Each query's fused ``(doc id, score)`` list, best first (scores within [0, 1])."""
        lexical = self.bm25.search(queries, self.depth)
        learned = self.sparse.search(queries, self.depth)
        if not self.dense:
            return [fusion.interpolate(s, b, TEACHER_ALPHA) for s, b in zip(learned, lexical)]
        dense = [t.search(queries, self.depth) for t in self.dense]
        return [fuse_teachers(lists) for lists in zip(learned, lexical, *dense)]

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


def encode_with_progress(encoder, texts: Sequence[str], progress: bool, chunk: int = 512):
    """Sparse document vectors of `texts`, in chunks, with a progress bar."""
    from tqdm.auto import tqdm

    out = []
    with tqdm(total=len(texts), desc="teacher encoding", unit="doc", disable=not progress) as bar:
        for start in range(0, len(texts), chunk):
            out.extend(encoder.encode_documents(list(texts[start : start + chunk])))
            bar.update(min(chunk, len(texts) - start))
    return out
