"""Corpus -> vectors folder: Anserini JsonVectorCollection shards plus what the index needs.

The folder holds:

- ``part-NNNNN.jsonl``: one ``{"id", "contents": "", "vector": {term: int}}`` per document,
  weights quantised as round(w × scale); every `shard_size` documents make one shard, each
  written atomically;
- ``vectors.json``: model, its weights' hash, mode, scale, max length, counts, versions;
- ``df.json``: document frequency of each token in the (truncated) document texts, from which
  the indexer derives IDF for inference-free queries when the model ships none;
- ``tokenizer/`` and, when the model ships a query IDF table, ``idf.json``: what the index
  needs from the model, so that ``index`` never looks the model up again by name;
- ``docs.jsonl.gz``: id, title and the start of each text, to show search hits;
- ``encode-progress.json`` while a run is going on (or was interrupted): see
  :mod:`splade_lite.resume`, which also explains ``resume`` and ``overwrite``.

With `shard` (``--shard I/N``) only part I of N of the corpus is encoded, as a folder of its
own that ``vectors.json`` marks as that part (see :mod:`splade_lite.corpus_parts`); ``index``
takes the N folders together.

The folder's names and formats are :mod:`splade_lite.vectors_folder`'s.

The corpus is read as a stream, in chunks, so memory does not grow with its size.
"""

from __future__ import annotations

import hashlib
import itertools
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from splade_lite import metadata as md
from splade_lite import vectors_folder as vf
from splade_lite.atomic import atomic_write
from splade_lite.corpus_parts import CorpusPart
from splade_lite.encode_pools import check_pool, chunks, encoded, open_pool, pool_record
from splade_lite.encoders.inference_free import count_document_frequencies
from splade_lite.encoders.models import DEFAULT_MODEL
from splade_lite.errors import BadValueError
from splade_lite.indexer.limits import vector_problem
from splade_lite.io import Doc, InputError, read_corpus
from splade_lite.resume import (
    Progress,
    ShardRecord,
    check_output_folder,
    discard_output,
    finish_output,
    lock_folder,
    start_output,
)
from splade_lite.shards import ShardWriter, read_vector_shards
from splade_lite.vectors import EMPTY_DOC_TOKEN, SparseVector, check_scale, quantize
from splade_lite.vectors_folder import SHARD_PATTERN, SNIPPET_CHARS

__all__ = [
    "DEFAULT_SCALE",
    "SHARD_PATTERN",
    "SNIPPET_CHARS",
    "EncodeSummary",
    "ShardWriter",
    "encode_corpus",
    "read_vector_shards",
    "vector_record",
]

DEFAULT_SCALE = 100
DEFAULT_SHARD_SIZE = 100_000
#: How many skipped records are shown as examples.
_EXAMPLES = 5


@dataclass
class EncodeSummary:
    """What an encode run did, as written to ``vectors.json``."""

    num_docs: int = 0
    num_empty: int = 0
    num_truncated: int = 0
    num_skipped: int = 0
    num_postings: int = 0
    seconds: float = 0.0

    @property
    def docs_per_second(self) -> float:
        return self.num_docs / self.seconds if self.seconds else 0.0

    def add(self, shard: ShardRecord) -> None:
        self.num_docs += shard.num_docs
        self.num_empty += shard.num_empty
        self.num_postings += shard.num_postings
        self.seconds += shard.seconds


def vector_record(doc_id: str, vector: SparseVector, terms: list[str], scale: float) -> dict:
    """The JsonVectorCollection object of one document (integer impacts, never empty)."""
    ids, weights = quantize(vector, scale)
    impacts = {terms[i]: int(w) for i, w in zip(ids.tolist(), weights.tolist())}
    record = vf.document_record(doc_id, impacts)
    problem = vector_problem(record["vector"])  # what Anserini could not index: refused now
    if problem:
        raise BadValueError(f"document {doc_id!r}: {problem}")
    return record


def encode_corpus(
    corpus: str | Path,
    out_dir: str | Path,
    *,
    model: str | Path = DEFAULT_MODEL,
    mode: str = "splade",
    batch_size: int = 32,
    max_length: int | None = None,
    device: str | None = None,
    backend: str = "torch",
    workers: int = 1,
    scale: float = DEFAULT_SCALE,
    shard_size: int = DEFAULT_SHARD_SIZE,
    skip_invalid: bool = False,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    encoder=None,
    log: Callable[[str], None] | None = None,
    shard: str | CorpusPart | None = None,
    ray: str | None = None,
    ray_actors: int | None = None,
    ray_gpus: float | None = None,
) -> EncodeSummary:
    """Encode every document of `corpus` into `out_dir` (see the module docstring).

    `encoder` may be an already loaded encoder (its model, mode and backend are then used).
    `backend` is how the vocabulary projection is computed (``torch``: exact; ``bf16`` and
    ``int8`` are faster and approximate, and recorded as such in ``vectors.json``).
    `workers` > 1 encodes in that many spawned processes (:mod:`splade_lite.encoders.parallel`),
    with the same output; on 2 idle cores that was slower than one process with 2 threads
    (docs/benchmarks.md), so the command line does not offer it. `ray` encodes in Ray actors
    instead (``"local"``: a local cluster; else a cluster's address), `ray_actors` of them
    with `ray_gpus` GPUs each (default: what fits the cluster), with the same output
    (:mod:`splade_lite.encoders.ray_pool`).
    `resume` continues an interrupted run into `out_dir`, with the same settings, and ends
    with the same files an uninterrupted run writes; `overwrite` replaces earlier output.
    Without either, a folder that already holds encode's files is refused.
    `shard` (``"I/N"``, I from 0 to N-1) encodes only the I-th of N contiguous parts of the
    corpus's valid records (:mod:`splade_lite.corpus_parts`); a part beyond the documents
    (N larger than the corpus) gives a folder with none. Its vectors are those a whole run
    writes, except that documents are batched with other neighbours: with `batch_size` 1 the
    same vectors, else a weight may differ by one step of `scale` (padding moves the floats).
    """
    from splade_lite.encoders import load_encoder

    corpus, out = Path(corpus), Path(out_dir)
    scale = check_scale(scale)
    if shard_size < 1:
        raise BadValueError(f"shard_size must be at least 1, got {shard_size}")
    check_pool(workers, ray, ray_actors, ray_gpus)
    part = None if shard is None else CorpusPart.parse(shard)
    # before the model loads: never over the corpus, into an index, or over others' files,
    # and never a corpus with a record that would stop the run
    check_output_folder(out, resume=resume, overwrite=overwrite, inputs=(corpus,))
    whole = hashlib.sha256() if part is not None else None
    total = check_corpus(corpus, skip_invalid, whole)
    first, end = (0, total) if part is None else part.bounds(total)
    if part is not None and log:
        span = f"documents {first} to {end - 1} of {total} (counting from 0)"
        empty = f"no document (only {total} for {part.count} parts): an empty folder"
        log(f"part {part} of {corpus}: {span if end > first else empty}")
    if encoder is None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            encoder = load_encoder(
                model,
                mode,
                max_length=max_length,
                batch_size=batch_size,
                device=device,
                backend=backend,
            )
        for warning in caught:  # a back end this CPU would run slowly, and the like
            if log is None:
                warnings.warn(warning.message, warning.category, stacklevel=2)
            else:
                log(f"warning: {warning.message}")
    chunk_size = max(batch_size * 16, 256)
    with ExitStack() as pool:
        encoder = open_pool(
            pool, encoder, workers=workers, ray=ray, ray_actors=ray_actors, ray_gpus=ray_gpus,
            log=log,
        )  # fmt: skip
        settings = {
            "model": encoder.name,
            "model_sha256": encoder.source.weights_sha256(),
            "mode": encoder.mode,
            "scale": scale,
            "max_length": encoder.max_length,
            "backend": getattr(encoder, "backend", "torch"),
            "batch_size": getattr(encoder, "batch_size", batch_size),
            "chunk_size": chunk_size,
            "shard_size": shard_size,
            "device": str(getattr(encoder, "device", "")),
            "shard": None if part is None else part.settings(total),
        }
        created = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
        with lock_folder(out):
            state = start_output(out, settings, resume=resume, overwrite=overwrite, log=log)
            if state.shards and log:
                log(
                    f"resuming: {state.num_docs} documents in {len(state.shards)} shard(s) "
                    "are already encoded"
                )
            run = _Run(corpus, out, encoder, scale, chunk_size, log)
            run.select(first, end, total)
            try:
                bar = _progress_bar(end - first, progress)
                run.encode_all(state, shard_size, skip_invalid, bar)
            except BaseException:
                if not state.shards:
                    discard_output(out, created)
                raise
            if part is not None and whole is not None:
                run.part_record = part.record(total, whole.hexdigest())
            run.write_metadata(settings, pool_record(encoder))
            finish_output(out)
    run.report()
    return run.summary


def check_corpus(corpus: str | Path, skip_invalid: bool = False, digest: Any = None) -> int:
    """Parse every record of `corpus` once, as encoding will: the number of documents to encode.

    Run before the model loads, so that an unknown format or a bad record (``file:line:
    reason``) is refused in seconds, not after the model loaded or hours into the run. With
    `skip_invalid` bad records are left to the encoding pass, which skips, counts and reports
    them; a corpus without a valid document is refused. A full pass rather than the first
    records: parsing is orders of magnitude faster than encoding, so it costs a sliver of the
    run, and the count makes the progress bar's total exact. `digest` (a hashlib object), when
    given, gets every document (:meth:`Doc.digest_into`): the whole corpus's digest that each
    part of it records.
    """
    skipped = 0

    def on_skip(_: InputError) -> None:
        nonlocal skipped
        skipped += 1

    docs = read_corpus(corpus, skip_invalid=skip_invalid, on_skip=on_skip)
    if digest is None:
        total = sum(1 for _ in docs)
    else:
        total = 0
        for doc in docs:
            doc.digest_into(digest)
            total += 1
    if total == 0 and skipped:
        raise InputError(corpus, None, f"no valid documents to encode ({_lines(skipped)} skipped)")
    if total == 0:
        raise InputError(corpus, None, "the corpus is empty: no documents to encode")
    return total


class _Run:
    """One encode run: reads the corpus, encodes or replays each shard, keeps the counts."""

    def __init__(self, corpus: Path, out: Path, encoder: Any, scale: float, chunk_size: int, log):
        self.corpus, self.out, self.encoder = corpus, out, encoder
        self.scale, self.chunk_size, self.log = scale, chunk_size, log
        self.terms = list(encoder.terms)
        self.df: Counter[int] = Counter()
        self.input_digest = hashlib.sha256()  # of every document encoded, in order
        self.summary = EncodeSummary()
        self.shards: list[str] = []
        self.examples: list[str] = []
        self.first, self.end, self.total = 0, 0, 0  # the documents to encode (select)
        self.read = 0  # valid records read so far, those before `first` included
        self.part_record: dict | None = None

    def select(self, first: int, end: int, total: int) -> None:
        """Encode the documents at positions [first, end) of the corpus's `total` alone."""
        self.first, self.end, self.total = first, end, total

    def on_skip(self, err: Exception) -> None:
        # a part counts the invalid lines after the document before its first: each line is
        # counted by one part, and the parts' counts add up to the whole corpus's
        if self.read < self.first:
            return
        self.summary.num_skipped += 1
        if len(self.examples) < _EXAMPLES:
            self.examples.append(str(err))

    def _selected(self, docs: Iterable[Doc]) -> Iterator[Doc]:
        """The selected documents of `docs`; read to the end by the part holding the last."""

        def counted() -> Iterator[Doc]:
            for doc in docs:
                self.read += 1
                yield doc

        whole = self.first == 0 and self.end == self.total
        if whole:
            return counted()
        last = self.end == self.total and self.end > self.first  # reads the lines after it
        return itertools.islice(counted(), self.first, None if last else self.end)

    def encode_all(self, state: Progress, shard_size: int, skip_invalid: bool, bar) -> None:
        """Every shard: the trusted ones replayed, the others encoded; docs.jsonl.gz written."""
        docs = self._selected(
            read_corpus(self.corpus, skip_invalid=skip_invalid, on_skip=self.on_skip)
        )
        trusted = len(state.shards)
        with ExitStack() as stack:
            stack.callback(bar.close)
            snippets = stack.enter_context(atomic_write(self.out / vf.DOCS_FILE))
            for number in itertools.count():
                shard_docs = itertools.islice(docs, shard_size)
                if number < trusted:
                    self._replay(shard_docs, state.shards[number], snippets, bar)
                    continue
                shard = self._encode_shard(number, shard_docs, snippets, bar)
                if shard is None:
                    break
                state.shards.append(shard)
                state.save(self.out)  # only now is the shard trusted by a resumed run
                self.summary.add(shard)
                self.shards.append(shard.name)
            expected = self.end - self.first
            if self.summary.num_docs == 0 and expected:  # raised inside: docs.jsonl.gz not kept
                skipped = self.summary.num_skipped
                raise InputError(
                    self.corpus,
                    None,
                    f"no valid documents to encode ({_lines(skipped)} skipped)",
                )
            if self.summary.num_docs != expected and expected != self.total:
                raise InputError(
                    self.corpus,
                    None,
                    f"{self.summary.num_docs} documents read for this part but {expected} "
                    "counted before encoding: the corpus changed while it was encoded",
                )

    def _count_tokens(self, texts: list[str]) -> None:
        """Document frequencies and truncations, from the tokenizer alone."""
        self.summary.num_truncated += count_document_frequencies(
            self.encoder.tokenizer, texts, self.encoder.max_length, self.df
        )

    def _replay(self, docs: Iterator[Doc], shard: ShardRecord, snippets: IO[str], bar) -> None:
        """A shard already encoded: count its documents again and check they are the same."""
        digest = hashlib.sha256()
        count = 0
        for chunk in chunks(docs, self.chunk_size):
            self._count_tokens([d.full_text for d in chunk])
            for doc in chunk:
                doc.digest_into(digest)
                doc.digest_into(self.input_digest)
                _write_snippet(snippets, doc)
            count += len(chunk)
            bar.update(len(chunk))
        if count != shard.num_docs or digest.hexdigest() != shard.input_sha256:
            raise BadValueError(
                f"{self.corpus}: the documents read now for {shard.name} are not those the "
                "interrupted run encoded into it (was the corpus changed?); pass --overwrite "
                "to encode again from the start"
            )
        self.summary.add(shard)
        self.shards.append(shard.name)

    def _encode_shard(
        self, number: int, docs: Iterator[Doc], snippets: IO[str], bar
    ) -> ShardRecord | None:
        """Encode the next shard's documents into its file; None when there are none left."""
        from splade_lite.encoders.backends import release_free_memory  # torch: loaded by now

        parts = chunks(docs, self.chunk_size)
        first = next(parts, None)
        if first is None:
            return None
        started = time.perf_counter()
        shard = ShardRecord(vf.shard_name(number))
        inputs, content = hashlib.sha256(), hashlib.sha256()
        with atomic_write(self.out / shard.name) as handle:
            for chunk, vectors in encoded(self.encoder, itertools.chain([first], parts)):
                self._count_tokens([d.full_text for d in chunk])
                for doc, vec in zip(chunk, vectors):
                    record = vector_record(doc.id, vec, self.terms, self.scale)
                    line = vf.record_line(record)
                    handle.write(line)
                    content.update(line.encode("utf-8"))
                    shard.num_empty += EMPTY_DOC_TOKEN in record["vector"]
                    shard.num_postings += len(record["vector"])
                    doc.digest_into(inputs)
                    doc.digest_into(self.input_digest)
                    _write_snippet(snippets, doc)
                shard.num_docs += len(chunk)
                bar.update(len(chunk))
                release_free_memory()  # else resident memory creeps up with the corpus
        shard.sha256, shard.input_sha256 = content.hexdigest(), inputs.hexdigest()
        shard.seconds = round(time.perf_counter() - started, 3)
        return shard

    def write_metadata(self, settings: dict, pool: dict) -> None:
        """The tokenizer (and the model's IDF table), df.json, then vectors.json: the folder
        is complete once the latter exists. `pool` is what ran the model, recorded only."""
        terms, encoder, summary = self.terms, self.encoder, self.summary
        vf.store_query_side(self.out, encoder.source)
        vf.write_df(self.out, {terms[i]: n for i, n in sorted(self.df.items())}, summary.num_docs)
        summary.seconds = round(summary.seconds, 3)
        meta = {
            "format": vf.VECTORS_FORMAT,
            "format_version": 1,
            **{key: settings[key] for key in md.ENCODING_FIELDS},
            "backend": settings["backend"],  # anything but "torch" is an approximation
            "pooling": encoder.source.pooling,
            "idf_source": "model" if encoder.source.query_idf is not None else "corpus",
            "corpus": str(self.corpus.resolve()),
            "corpus_sha256": self.input_digest.hexdigest(),  # see Doc.digest_into
            **({} if self.part_record is None else {"shard": self.part_record}),
            **pool,
            "shards": self.shards,
            **asdict(summary),
            "docs_per_second": round(summary.docs_per_second, 2),
            "versions": md.software_versions(),
        }
        vf.write_vectors_meta(self.out, meta)

    def report(self) -> None:
        """The skipped records and truncated documents, told once at the end."""
        if not self.log:
            return
        skipped = self.summary.num_skipped
        if skipped:
            more = skipped - len(self.examples)
            self.log(
                f"{_lines(skipped)} skipped:\n"
                + "\n".join(f"  {example}" for example in self.examples)
                + (f"\n  ... and {more} more" if more else "")
            )
        truncated = self.summary.num_truncated
        if truncated:
            self.log(
                f"{truncated} document{'s' if truncated != 1 else ''} longer than "
                f"{self.encoder.max_length} tokens {'were' if truncated != 1 else 'was'} "
                "truncated"
            )


def _lines(count: int) -> str:
    return f"{count} invalid line{'s' if count != 1 else ''}"


def _write_snippet(handle: IO[str], doc: Doc) -> None:
    handle.write(vf.snippet_line(doc.id, doc.title, doc.text))


def _progress_bar(total: int | None, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="doc", desc="encoding", disable=not enabled, smoothing=0.1)
