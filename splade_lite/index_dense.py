"""The dense partner of an index: its corpus embedded by a sentence-transformers model.

``index --bm25-corpus CORPUS --dense-model MODEL`` embeds the documents the BM25 index is
built from (the same texts, titles included, in the same order) and writes them as a Lucene
flat vectors index in ``dense/`` inside the staging folder, so that the index still appears
whole or not at all. ``splade_lite.json`` records it under ``dense``: the model as named, the
folder or hub id it resolved to, its weights' hash, the dimension, the count and the time.

Searches (``Searcher(..., dense=True)``) and ``check`` read that record here: the model is
found again from it and refused when its weights' hash is no longer the one recorded, since
its query embeddings would then not match the documents'.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from splade_lite import metadata as md
from splade_lite.encoders.models import ModelNotFoundError, WeightsCheck, quiet_transformers
from splade_lite.errors import BadValueError, MissingFileError, StateError

#: Texts per forward pass of the model when embedding documents.
EMBED_BATCH = 32
#: Documents embedded (and written) per step of the progress bar.
CHUNK = 256
INSTALL_HINT = "pip install 'splade-lite[dense]'"

Log = Callable[[str], None]


class DenseBuildError(StateError):
    """A dense index that could not be built (the message says why)."""


def plan_dense(model: str | None, bm25_corpus: str | Path | None) -> str | None:
    """Where `model` is (see :func:`~splade_lite.encoders.dense.resolve_dense_model`), or
    None without one; refused before any work when it cannot be used."""
    if model is None:
        return None
    if bm25_corpus is None:
        raise BadValueError(
            "--dense-model needs --bm25-corpus CORPUS: the vectors folder holds no texts to "
            "embed; give the corpus that was encoded"
        )
    if not isinstance(model, str) or not model.strip():
        raise BadValueError(f"dense model {model!r} is not a name")
    try:
        import sentence_transformers  # noqa: F401  # said now, not after the impact index
    except ImportError:
        raise ModelNotFoundError(
            f"a dense model needs sentence-transformers: {INSTALL_HINT}"
        ) from None
    from splade_lite.encoders.dense import resolve_dense_model

    return resolve_dense_model(model)


def _staged_docs(docs_file: Path) -> Iterator[tuple[str, str]]:
    """``(id, text)`` of the BM25 corpus as staged for Anserini (``{"id", "contents"}``)."""
    with open(docs_file, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                yield record["id"], record["contents"]


def build_dense(
    model: str,
    resolved: str,
    docs_file: Path,
    index_dir: Path,
    expected: int,
    *,
    threads: int = 1,
    say: Log = lambda _msg: None,
    java_log: Log | None = None,
    progress: bool = False,
) -> dict:
    """Embed the staged documents of `docs_file` with `model` into ``index_dir/dense/``;
    returns the ``dense`` record of ``splade_lite.json``. `expected`: the impact index's count.

    ``seconds`` counts the embedding and the Lucene build (not the model's loading),
    ``embed_seconds`` the embedding alone, and ``docs_per_second`` is the embedding's rate.
    """
    from tqdm.auto import tqdm

    from splade_lite.encoders.dense import dense_weights_sha256, embed, load_dense_model
    from splade_lite.indexer import count_documents
    from splade_lite.indexer.build import build_dense_index

    say(f"loading the dense model {model}")
    quiet_transformers()
    encoder = load_dense_model(model)
    sha256 = dense_weights_sha256(resolved)
    staging = index_dir / ".dense-vectors"
    staging.mkdir()
    started = time.perf_counter()
    count, dim = 0, 0
    bar = tqdm(total=expected, unit="doc", desc="embedding", file=sys.stderr, disable=not progress)
    try:
        with bar, open(staging / "vectors.jsonl", "w", encoding="utf-8") as handle:
            ids: list[str] = []
            texts: list[str] = []
            for docid, text in _staged_docs(docs_file):
                ids.append(docid)
                texts.append(text)
                if len(ids) == CHUNK:
                    dim = _write(handle, ids, embed(encoder, texts, "document", EMBED_BATCH))
                    count, ids, texts = count + len(ids), [], []
                    bar.update(CHUNK)
            if ids:
                dim = _write(handle, ids, embed(encoder, texts, "document", EMBED_BATCH))
                count += len(ids)
                bar.update(len(ids))
        if count != expected:
            raise DenseBuildError(
                f"{docs_file}: {count} documents to embed but the impact index holds "
                f"{expected}; the index was not written"
            )
        embedded = time.perf_counter() - started
        say(f"indexing {count} embeddings of {dim} dimensions")
        folder = index_dir / md.DENSE_DIR
        build_dense_index([staging / "vectors.jsonl"], folder, threads=threads, log=java_log)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    seconds = time.perf_counter() - started
    in_index = count_documents(folder)
    if in_index != expected:
        raise DenseBuildError(
            f"the dense index holds {in_index} documents but the impact index {expected}; "
            "the index was not written"
        )
    return {
        "model": model,
        "resolved": resolved,
        "model_sha256": sha256,
        "dim": dim,
        "num_docs": in_index,
        "seconds": round(seconds, 3),
        "embed_seconds": round(embedded, 3),
        "docs_per_second": round(in_index / embedded, 2) if embedded > 0 else None,
        "bytes": sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()),
    }


def _write(handle: Any, ids: list[str], matrix: Any) -> int:
    """One batch of embeddings into the collection file; their dimension."""
    from splade_lite.indexer.dense import write_dense_rows

    write_dense_rows(handle, ids, matrix)
    return int(matrix.shape[1])


# -- reading it back: searches and check ---------------------------------------------------


def dense_record(index_dir: Path, meta: Mapping[str, Any]) -> dict:
    """The index's ``dense`` record, or a one-line refusal where it has no dense index."""
    dense = meta.get("dense")
    if not dense or not (Path(index_dir) / md.DENSE_DIR).is_dir():
        raise MissingFileError(
            f"{index_dir} has no dense index; rebuild it with `splade-lite index VECTORS "
            "--out INDEX --bm25-corpus CORPUS --dense-model minilm`"
        )
    return dict(dense)


def recorded_model(dense: Mapping[str, Any]) -> str:
    """Where the recorded model is now: a built-in is looked up again by name (the package
    may have moved with its environment), any other by the folder or id it resolved to."""
    from splade_lite.encoders.dense import DENSE_MODELS, resolve_dense_model

    name = dense["model"]
    return resolve_dense_model(name if name in DENSE_MODELS else dense["resolved"])


def dense_weights(dense: Mapping[str, Any]) -> tuple[str, WeightsCheck]:
    """The recorded model's location and its weights now against the hash recorded."""
    from splade_lite.encoders.dense import dense_weights_sha256

    where = recorded_model(dense)
    recorded = dense.get("model_sha256")
    actual = dense_weights_sha256(where)
    if actual is None:
        return where, WeightsCheck(recorded, None, "absent")
    if not recorded:
        return where, WeightsCheck(None, actual, "unrecorded")
    return where, WeightsCheck(recorded, actual, "same" if actual == recorded else "changed")


def load_index_dense_model(index_dir: Path, dense: Mapping[str, Any], device: str | None):
    """The dense model an index was built with, refused if its weights changed since."""
    from splade_lite.encoders.dense import load_dense_model

    where, found = dense_weights(dense)
    if found.changed:
        recorded, actual = found.recorded or "", found.actual or ""
        raise BadValueError(
            f"{index_dir} was built with the dense model {dense['model']!r} whose weights had "
            f"sha256 {recorded[:12]}…, but those found now have {actual[:12]}…; queries would "
            "not match the documents' embeddings. Install the model the index was built with, "
            "or index again with this one (--dense-model ... --overwrite)."
        )
    quiet_transformers()
    return load_dense_model(where, device)


def export_note(index_dir: Path, meta: Mapping[str, Any]) -> str | None:
    """What ``export`` says of an index's dense part, which a vectors folder cannot hold."""
    dense = meta.get("dense")
    if not dense:
        return None
    return (
        f"note: the dense index of {index_dir} ({md.DENSE_DIR}/, {dense.get('model')}) is not "
        "exported: a vectors folder holds sparse vectors only; index the export with "
        f"--bm25-corpus CORPUS --dense-model {dense.get('model')} to embed the corpus again"
    )
