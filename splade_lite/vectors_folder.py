"""The vectors folder ``encode`` writes and ``index`` reads: its file names, shard names, the
record of one document, its metadata, document frequencies and tokenizer, in one place.

A vectors folder holds:

- ``part-NNNNN.jsonl[.gz]``: one Anserini JsonVectorCollection record per line,
  ``{"id", "contents": "", "vector": {term: int}}`` (checked line by line in
  :mod:`splade_lite.shards`);
- ``vectors.json``: how the documents were encoded (model, weights' hash, mode, scale, ...)
  and, for a part of a corpus (``encode --shard I/N``), which part (``shard``, see
  :mod:`splade_lite.corpus_parts`); ``index`` takes several folders as one
  (:mod:`splade_lite.vector_union`);
- ``df.json``: each token's document frequency, from which the index derives query IDF;
- ``docs.jsonl.gz``: id, title and the start of each text, to show search hits;
- ``tokenizer/``: the model's tokenizer, and ``idf.json``: the model's own query IDF table
  where it ships one. ``index`` copies both, so it never looks the model up again by name. A
  folder without ``tokenizer/`` (written before encode kept it, or an export, which carries
  the index's ``idf.json`` alone) is indexed with the tokenizer of the model its
  ``vectors.json`` names, refused if that model's weights changed;
- ``encode-progress.json`` while an encode run is going on (see :mod:`splade_lite.resume`).

Nothing here loads a model or Java; :mod:`splade_lite.metadata` is imported where used,
since it takes the file names from here.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from splade_lite.vectors import EMPTY_DOC_TOKEN

VECTORS_META = "vectors.json"
DF_FILE = "df.json"
DOCS_FILE = "docs.jsonl.gz"
IDF_FILE = "idf.json"
TOKENIZER_DIR = "tokenizer"
PROGRESS_FILE = "encode-progress.json"
VECTORS_FORMAT = "splade-lite/vectors"
#: What ``encode`` (or ``export``) writes in a vectors folder besides the shards.
FILE_NAMES = frozenset({VECTORS_META, DF_FILE, DOCS_FILE, IDF_FILE, TOKENIZER_DIR, PROGRESS_FILE})

#: How much of each text ``docs.jsonl.gz`` keeps.
SNIPPET_CHARS = 300

SHARD_PREFIX = "part-"
SHARD_SUFFIXES = (".jsonl", ".jsonl.gz")
#: The name of the `number`-th shard encode writes (``part-00003.jsonl``).
SHARD_PATTERN = SHARD_PREFIX + "{:05d}" + SHARD_SUFFIXES[0]
#: The files read as shards, plain or gzipped.
SHARD_GLOBS = tuple(f"{SHARD_PREFIX}*{suffix}" for suffix in SHARD_SUFFIXES)
#: The shard names splade-lite writes (numbered), so may replace; others are left alone.
SHARD_RE = re.compile(
    re.escape(SHARD_PREFIX) + r"\d+(" + "|".join(map(re.escape, SHARD_SUFFIXES)) + ")"
)


def shard_name(number: int, suffix: str = "") -> str:
    """Name of the `number`-th shard (``part-00003.jsonl``; `suffix` ``.gz`` for gzip)."""
    return SHARD_PATTERN.format(number) + suffix


def open_as_anserini(path: str | Path) -> IO[bytes]:
    """A shard or corpus file opened for reading bytes as Anserini's collections open it:
    gzip by the ``.gz`` name, not by content (io.open_binary's magic bytes), so that what
    splade-lite checks or hashes is what Java reads."""
    path = Path(path)
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")  # type: ignore[return-value]


def shard_files(vectors_dir: str | Path) -> list[Path]:
    """The shards of a vectors folder, in name order (which is document order)."""
    folder = Path(vectors_dir)
    return sorted({p for pattern in SHARD_GLOBS for p in folder.glob(pattern) if p.is_file()})


# --------------------------------------------------------------------------------------------
# Records


def document_record(docid: str, impacts: Mapping[str, int]) -> dict[str, Any]:
    """The JsonVectorCollection record of one document; one without a term gets the
    placeholder term, without which Lucene would drop the document."""
    return {"id": docid, "contents": "", "vector": dict(impacts) or {EMPTY_DOC_TOKEN: 1}}


def record_line(record: Mapping[str, Any]) -> str:
    """A record as one shard line (UTF-8 as it is, so that equal records give equal bytes)."""
    return json.dumps(record, ensure_ascii=False) + "\n"


def snippet_line(docid: str, title: str, text: str) -> str:
    """One line of ``docs.jsonl.gz``: the id, title and start of a document, shown with hits."""
    snippet = {"id": docid, "title": title, "text": text[:SNIPPET_CHARS]}
    return json.dumps(snippet, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------------------------
# vectors.json and df.json


def write_vectors_meta(folder: Path, meta: Mapping[str, Any]) -> None:
    """Write ``vectors.json`` (the last file of a run: the folder is complete once it exists)."""
    from splade_lite import metadata as md

    md.write_json(Path(folder) / VECTORS_META, dict(meta))


def read_vectors_meta(vectors_dir: Path) -> dict:
    """``vectors.json``, refused with every problem named when a field is missing or wrong."""
    from splade_lite import metadata as md

    path = Path(vectors_dir) / VECTORS_META
    meta = md.read_json(path, "vectors folder (made by `encode`)")
    problems = md.encoding_problems(meta)
    if meta.get("format", VECTORS_FORMAT) != VECTORS_FORMAT:  # may be omitted
        problems.insert(0, f"format {md.short_repr(meta.get('format'))} is not '{VECTORS_FORMAT}'")
    if problems:
        raise md.MetadataError(f"{path}: {'; '.join(problems)}")
    return meta


def write_df(folder: Path, df: Mapping[str, int], num_docs: int) -> None:
    """Write ``df.json``: the number of documents holding each term, and of documents."""
    from splade_lite import metadata as md

    md.write_json(Path(folder) / DF_FILE, {"num_docs": num_docs, "df": dict(df)})


def read_df(vectors_dir: Path) -> tuple[dict[str, int], int]:
    """``df.json``: (term -> number of documents holding it, number of documents), checked."""
    from splade_lite import metadata as md

    short = md.short_repr
    path = Path(vectors_dir) / DF_FILE
    data = md.read_json(path, "vectors folder (made by `encode`)")
    num_docs, df = data.get("num_docs"), data.get("df")
    if isinstance(num_docs, bool) or not isinstance(num_docs, int) or num_docs < 0:
        raise md.MetadataError(f"{path}: num_docs {short(num_docs)} is not an integer >= 0")
    if not isinstance(df, dict):
        raise md.MetadataError(f"{path}: df {short(df)} is not an object term -> count")
    for term, count in df.items():
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= num_docs:
            raise md.MetadataError(
                f"{path}: the count of {short(term)} is {short(count)}, not a whole number "
                f"within [0, {num_docs}]"
            )
    return df, num_docs


# --------------------------------------------------------------------------------------------
# What queries need from the model: its tokenizer and its own IDF table


def store_query_side(folder: Path, source: Any) -> None:
    """Save the model's tokenizer into ``tokenizer/`` and, where the model ships a query IDF
    table, that table as ``idf.json``: all an index needs from the model.

    `source` is the encoder's :class:`~splade_lite.encoders.models.ModelSource`; an encoder
    without one (a test double) has no tokenizer on disk, and nothing is stored.
    """
    from splade_lite.encoders.models import ModelSource

    if not isinstance(source, ModelSource):
        return
    from splade_lite import metadata as md
    from splade_lite.encoders.base import vocab_terms
    from splade_lite.encoders.inference_free import load_query_tokenizer, read_idf_file

    folder = Path(folder)
    tokenizer = load_query_tokenizer(source)  # a fresh copy: no truncation state saved
    if source.query_idf is not None:
        md.write_json(folder / IDF_FILE, read_idf_file(source.query_idf, vocab_terms(tokenizer)))
    staging = folder / f".{TOKENIZER_DIR}.{os.urandom(4).hex()}.tmp"  # an atomic_write name
    try:
        tokenizer.save_pretrained(str(staging))
        target = folder / TOKENIZER_DIR
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def carries_query_side(vectors_dir: Path, meta: Mapping[str, Any]) -> bool:
    """Whether the folder holds what an index needs from the model (so none is looked up):
    its tokenizer, and its IDF table where the documents' model shipped one."""
    folder = Path(vectors_dir)
    if not (folder / TOKENIZER_DIR).is_dir():
        return False
    return meta.get("idf_source") != "model" or (folder / IDF_FILE).is_file()


def copy_tokenizer(source_dir: Path, target_dir: Path) -> None:
    """Copy a kept tokenizer's files (a flat folder of plain files; anything else refused)."""
    from splade_lite.errors import BadValueError

    source_dir, target_dir = Path(source_dir), Path(target_dir)
    entries = sorted(os.scandir(source_dir), key=lambda e: e.name)
    odd = [e.name for e in entries if not e.is_file(follow_symlinks=False)]
    if odd:
        raise BadValueError(
            f"{source_dir} holds {', '.join(odd[:3])}: a tokenizer folder holds plain files "
            "only; encode again"
        )
    target_dir.mkdir()
    for entry in entries:
        shutil.copyfile(entry.path, target_dir / entry.name)
