"""Corpus -> vectors folder: Anserini JsonVectorCollection shards plus what the index needs.

The folder holds:

- ``part-NNNNN.jsonl``: one ``{"id", "contents": "", "vector": {term: int}}`` per document,
  weights quantised as round(w × scale); each shard written atomically;
- ``vectors.json``: model, its weights' hash, mode, scale, max length, counts, versions;
- ``df.json``: document frequency of each token in the (truncated) document texts, from which
  the indexer derives IDF for inference-free queries when the model ships none;
- ``docs.jsonl.gz``: id, title and the start of each text, to show search hits.

The corpus is read as a stream, in chunks, so memory does not grow with its size.
"""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from splade_lite.io import Doc, atomic_write, count_records, read_corpus
from splade_lite.metadata import VECTORS_META, software_versions, write_json
from splade_lite.vectors import EMPTY_DOC_TOKEN, SparseVector, quantize

DEFAULT_SCALE = 100
SNIPPET_CHARS = 300
SHARD_PATTERN = "part-{:05d}.jsonl"


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


def vector_record(doc_id: str, vector: SparseVector, terms: list[str], scale: float) -> dict:
    """The JsonVectorCollection object of one document (integer impacts, never empty)."""
    ids, weights = quantize(vector, scale)
    impacts = {terms[i]: int(w) for i, w in zip(ids.tolist(), weights.tolist())}
    if not impacts:
        impacts = {EMPTY_DOC_TOKEN: 1}
    return {"id": doc_id, "contents": "", "vector": impacts}


def _chunks(docs: Iterable[Doc], size: int) -> Iterator[list[Doc]]:
    chunk: list[Doc] = []
    for doc in docs:
        chunk.append(doc)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def encode_corpus(
    corpus: str | Path,
    out_dir: str | Path,
    *,
    model: str | Path = "splade-tiny",
    mode: str = "splade",
    batch_size: int = 32,
    max_length: int | None = None,
    device: str | None = None,
    scale: float = DEFAULT_SCALE,
    shard_size: int = 100_000,
    skip_invalid: bool = False,
    progress: bool = True,
    encoder=None,
    log: Callable[[str], None] | None = None,
) -> EncodeSummary:
    """Encode every document of `corpus` into `out_dir` (see the module docstring).

    `encoder` may be an already loaded encoder (its model and mode are then used).
    """
    from splade_lite.encoders import load_encoder

    corpus, out = Path(corpus), Path(out_dir)
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if encoder is None:
        encoder = load_encoder(
            model, mode, max_length=max_length, batch_size=batch_size, device=device
        )
    total = count_records(corpus)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("part-*.jsonl"):
        stale.unlink()

    summary = EncodeSummary()
    skipped: list[str] = []

    def on_skip(err: Exception) -> None:
        summary.num_skipped += 1
        if len(skipped) < 10:
            skipped.append(str(err))

    docs = read_corpus(corpus, skip_invalid=skip_invalid, on_skip=on_skip)
    special = set(encoder.tokenizer.all_special_ids)
    df: Counter[int] = Counter()
    terms = list(encoder.terms)
    writer = ShardWriter(out, shard_size)
    bar = _progress_bar(total, progress)
    started = time.perf_counter()
    chunk_size = max(batch_size * 16, 256)
    with ExitStack() as stack:
        stack.callback(bar.close)
        stack.enter_context(writer)
        snippets = stack.enter_context(atomic_write(out / "docs.jsonl.gz"))
        for chunk in _chunks(docs, chunk_size):
            texts = [d.full_text for d in chunk]
            token_ids = encoder.tokenizer(texts, add_special_tokens=True, verbose=False)[
                "input_ids"
            ]
            for ids in token_ids:
                if len(ids) > encoder.max_length:
                    summary.num_truncated += 1
                df.update({i for i in ids[: encoder.max_length] if i not in special})
            for doc, vec in zip(chunk, encoder.encode_documents(texts)):
                record = vector_record(doc.id, vec, terms, scale)
                if EMPTY_DOC_TOKEN in record["vector"]:
                    summary.num_empty += 1
                summary.num_postings += len(record["vector"])
                writer.write(json.dumps(record, ensure_ascii=False) + "\n")
                snippet = {"id": doc.id, "title": doc.title, "text": doc.text[:SNIPPET_CHARS]}
                snippets.write(json.dumps(snippet, ensure_ascii=False) + "\n")
                summary.num_docs += 1
            bar.update(len(chunk))
    summary.seconds = time.perf_counter() - started
    if summary.num_docs == 0:
        raise ValueError(f"{corpus}: no documents to encode")

    write_json(
        out / "df.json",
        {"num_docs": summary.num_docs, "df": {terms[i]: n for i, n in sorted(df.items())}},
    )
    meta = {
        "format": "splade-lite/vectors",
        "format_version": 1,
        "model": encoder.name,
        "model_sha256": encoder.source.weights_sha256(),
        "mode": encoder.mode,
        "scale": scale,
        "max_length": encoder.max_length,
        "pooling": encoder.source.pooling,
        "idf_source": "model" if encoder.source.query_idf is not None else "corpus",
        "corpus": str(corpus.resolve()),
        "shards": writer.names,
        **asdict(summary),
        "docs_per_second": round(summary.docs_per_second, 2),
        "versions": software_versions(),
    }
    write_json(out / VECTORS_META, meta)
    if log:
        if summary.num_skipped:
            log(f"{summary.num_skipped} invalid record(s) skipped, e.g. " + "; ".join(skipped[:3]))
        if summary.num_truncated:
            log(
                f"{summary.num_truncated} document(s) longer than {encoder.max_length} tokens "
                "were truncated"
            )
    return summary


class ShardWriter:
    """Writes lines into ``part-NNNNN.jsonl[.gz]`` files of at most `shard_size` lines each.

    Each shard is written atomically: it appears under its name only once complete.
    """

    def __init__(self, folder: Path, shard_size: int, suffix: str = "") -> None:
        self.folder, self.shard_size, self.suffix = folder, shard_size, suffix
        self.names: list[str] = []
        self._stack = ExitStack()
        self._handle = None
        self._lines = 0

    def write(self, line: str) -> None:
        if self._handle is None or self._lines == self.shard_size:
            self._stack.close()  # commits the previous shard
            name = SHARD_PATTERN.format(len(self.names)) + self.suffix
            self._handle = self._stack.enter_context(atomic_write(self.folder / name))
            self.names.append(name)
            self._lines = 0
        self._handle.write(line)
        self._lines += 1

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        # on an error the open shard's temporary file is removed, never renamed into place
        self._stack.__exit__(*exc_info)


def _progress_bar(total: int | None, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="doc", desc="encoding", disable=not enabled, smoothing=0.1)


def read_vector_shards(vectors_dir: str | Path) -> Iterator[dict]:
    """Every record of a vectors folder's shards, in order."""
    for shard in sorted(Path(vectors_dir).glob("part-*.jsonl*")):
        opener = gzip.open if shard.suffix == ".gz" else open
        with opener(shard, "rt", encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line)


def dense_from_record(record: dict, term_ids: dict[str, int], size: int) -> np.ndarray:
    """A record's impacts as a dense integer vector (used by tests and brute-force checks)."""
    dense = np.zeros(size, dtype=np.int64)
    for term, weight in record["vector"].items():
        if term in term_ids:
            dense[term_ids[term]] = weight
    return dense
