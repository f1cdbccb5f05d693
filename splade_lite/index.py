"""Vectors folder -> Lucene impact index (plus what queries need), and index -> vectors again.

An index folder holds the Lucene impact index files at its top level (so Pyserini's
``LuceneImpactSearcher`` and Anserini open it as they are) and beside them:

- ``splade_lite.json``: model, weights' hash, mode, scale, max length, counts, versions;
- ``idf.json``: token -> IDF, the query weights of inference-free search;
- ``tokenizer/``: the model's tokenizer, so inference-free queries need no model at all
  (copied from the vectors folder, which ``encode`` gave it: no model is looked up by name);
- ``docs.jsonl.gz``: titles and text starts, to show hits, and ``snippets.npz``, the same
  packed for lookups by id (:mod:`splade_lite.snippets`);
- ``forward.npz``: each document's impact vector by id, for feedback and explanations;
- ``bm25/`` (optional): a Lucene BM25 index of the same corpus, for baselines and fusion;
- ``dense/`` (optional): that corpus embedded by a dense model (:mod:`splade_lite.index_dense`);
- ``vectors.json``: a copy of the vectors folder's metadata, which says how the documents
  were encoded (model, weights' hash, scale), checked against ``splade_lite.json`` by searches.

Several vectors folders (the parts of ``encode --shard I/N``, or any folders encoded alike)
make one index of their union: :mod:`splade_lite.vector_union` checks them and merges what
they hold; ``splade_lite.json`` lists them under ``vectors_folders`` (``vectors`` is the
first), and the index's ``vectors.json`` keeps each one's record under ``parts``.

The index folder's names and metadata are :mod:`splade_lite.metadata`'s, read back by
:mod:`splade_lite.index_folder`; the vectors folder's are :mod:`splade_lite.vectors_folder`'s.
Every shard line is checked before Anserini sees it (see :mod:`splade_lite.shards`). The index
is built in a temporary folder next to the target and moved into place only once it is
complete and checked, so a failed or killed build never leaves a half index that looks valid.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from splade_lite import metadata as md
from splade_lite import vectors_folder as vf
from splade_lite.atomic import atomic_write
from splade_lite.encoders.inference_free import idf_from_df, load_query_tokenizer, read_idf_file
from splade_lite.encoders.models import ModelSource, resolve_recorded
from splade_lite.errors import BadValueError, StateError
from splade_lite.forward import build_forward_index
from splade_lite.index_dense import build_dense, export_note, plan_dense
from splade_lite.index_shards import build_lucene_shards, check_shard_count, lucene_bytes
from splade_lite.io import InputError, read_corpus
from splade_lite.outputs import INDEX, VECTORS, claim_output
from splade_lite.pruning import Pruning, prune_shards
from splade_lite.resume import PROGRESS_FILE, is_unfinished
from splade_lite.snippets import build_snippets
from splade_lite.vector_union import VectorUnion, open_union, stage_shards
from splade_lite.vectors import EMPTY_DOC_TOKEN

BM25_K1 = 0.9
BM25_B = 0.4


class IndexError_(StateError):
    """An index that could not be built or checked (the message says why)."""


def folder_size(path: Path) -> int:
    """Bytes of all files under `path`."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def lucene_size(index_dir: Path) -> int:
    """Bytes of a built index's Lucene impact files alone (every shard's, without our extras)."""
    return lucene_bytes(Path(index_dir), md.read_index_meta(Path(index_dir)))


def build_index(
    vectors_dir: str | Path | Sequence[str | Path],
    out_dir: str | Path,
    *,
    threads: int = 1,
    bm25_corpus: str | Path | None = None,
    mode: str | None = None,
    overwrite: bool = False,
    skip_invalid: bool = False,
    doc_pruning: Pruning | None = None,
    engine: str = "lucene",
    log: Callable[[str], None] | None = None,
    allow_partial: bool = False,
    lucene_shards: int = 1,
    dense_model: str | None = None,
    progress: bool = False,
) -> dict:
    """Build the impact index of `vectors_dir` into `out_dir`; returns the index metadata.

    `vectors_dir` may be a list of folders, indexed as one (:mod:`splade_lite.vector_union`):
    encoded alike, no document in two of them, and the parts of a corpus all there, unless
    `allow_partial`; a list of one is the folder alone.

    `mode` (``splade`` or ``inference-free``) decides how queries are encoded; by default the
    mode given to `encode`. Documents are encoded the same way in both modes, so one vectors
    folder can serve an index of each. `skip_invalid` skips (and counts) bad records of
    `bm25_corpus` instead of stopping, as ``encode --skip-invalid`` does. `doc_pruning`
    indexes each document's heaviest terms only (the vectors folder is left as it is; the
    index records the setting). `engine` ``seismic`` also builds that accelerated engine's
    folder from the documents as Lucene holds them (Lucene stays the reference; searches use
    the engine by default, ``Searcher(..., engine="lucene")`` the exact Lucene search).
    `lucene_shards` > 1 splits the Lucene impact index into that many shards, built
    `threads` at a time and searched as one (:mod:`splade_lite.index_shards`). `dense_model`
    (``minilm``, a folder or a hub id) embeds the `bm25_corpus` into ``dense/``, for dense and
    three-way hybrid search; `progress` shows a bar while it embeds.
    """
    from splade_lite.indexer import (
        anserini_jar,
        build_impact_index,
        count_documents,
        java_executable,
    )

    say = log or (lambda _msg: None)
    folders = [vectors_dir] if isinstance(vectors_dir, (str, Path)) else list(vectors_dir)
    out = Path(out_dir)
    for folder in map(Path, folders):
        if is_unfinished(folder):
            raise IndexError_(
                f"{folder} is unfinished: its encode run was interrupted ({PROGRESS_FILE} is "
                "still there); finish it with `splade-lite encode CORPUS --out "
                f"{folder} --resume` (same options as before)"
            )
    if engine not in md.ENGINES:
        raise BadValueError(f"unknown engine {engine!r}; choose one of {', '.join(md.ENGINES)}")
    if engine != "lucene":
        from splade_lite.engines.seismic import load_seismic

        load_seismic()  # not installed: said before any work
    if mode is not None:
        from splade_lite.encoders import MODES

        if mode not in MODES:
            raise BadValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    dense_where = plan_dense(dense_model, bm25_corpus)  # before any work, as all checks here
    union = open_union(folders, mode=mode, allow_partial=allow_partial, say=say)
    check_shard_count(lucene_shards, union.sources())
    vectors_dir, several = union.first.path, len(union.members) > 1
    paths = union.paths  # the folders, in messages:
    named = ", ".join(map(str, paths)) if len(paths) < 4 else f"{paths[0]} ... {paths[-1]}"
    vmeta = union.meta()
    if mode is not None:
        vmeta["mode"] = mode
    # refused before any work: an output over an input, or not an index made by splade-lite
    claim = claim_output(out, INDEX, inputs=(*union.paths, bm25_corpus), overwrite=overwrite)
    java_executable(), anserini_jar()  # environment problems show before any work
    # the tokenizer and IDF come from the vectors folder; one written before encode kept them
    # has them from the model its vectors.json names: the same weights, or none
    source, query_dir = None, union.query_dir
    if not vf.carries_query_side(query_dir, vmeta):
        source = resolve_recorded(vmeta["model"], vmeta.get("model_sha256"), vectors_dir)
    tmp = claim.stage()  # beside `out`, which stays locked until commit or abandon
    try:
        sources, pruned = union.sources(), None
        if doc_pruning is not None and doc_pruning.active:
            say(f"pruning the {vmeta['num_docs']} documents of {named}")
            pruned_dirs = [tmp / ".pruned-vectors" / f"{i:05d}" for i in range(len(sources))]
            pruned = _prune(sources, pruned_dirs, doc_pruning, float(vmeta["scale"]))
            sources = pruned_dirs  # read by Java from there, removed after
        say(f"checking the {vmeta['num_docs']} documents of {named}")
        # reading the shards for the forward index also checks every line, before Java runs
        checked = build_forward_index(sources, tmp / md.FORWARD_FILE)
        if checked != vmeta["num_docs"]:
            raise IndexError_(
                f"{named}: {md.VECTORS_META} says {vmeta['num_docs']} documents but the "
                f"shards hold {checked}; the index was not written"
            )
        bm25_docs = None
        if bm25_corpus is not None:  # read and compared with the vectors before Java runs
            bm25_docs = _stage_bm25_corpus(
                Path(bm25_corpus), tmp, union, tmp / md.FORWARD_FILE, skip_invalid, say
            )
        started = time.perf_counter()
        shard_meta: dict = {}
        if lucene_shards > 1:
            say(f"indexing {checked} documents in {lucene_shards} Lucene shards")
            names, stats = build_lucene_shards(sources, tmp, lucene_shards, threads, _java_log(log))
            shard_meta = {"lucene_shards": names}
        else:
            # Java reads one folder's shards in name order: several folders' staged as one
            shards_dir = stage_shards(sources, tmp / ".union-vectors") if several else sources[0]
            say(f"indexing {checked} documents")
            stats = build_impact_index(shards_dir, tmp, threads=threads, log=_java_log(log))
        impact_seconds = time.perf_counter() - started
        for staged in (tmp / ".pruned-vectors", tmp / ".union-vectors"):
            if staged.is_dir():
                shutil.rmtree(staged)
        in_index = count_documents(md.lucene_folders(tmp, shard_meta))
        if in_index != vmeta["num_docs"]:
            raise IndexError_(
                f"{named} {'hold' if several else 'has'} {vmeta['num_docs']} documents but the "
                f"index holds {in_index} (Anserini: {stats}); the index was not written"
            )
        idf_source = _write_idf(union, vmeta, source, tmp)
        _write_tokenizer(query_dir, source, tmp)
        if _write_docs(union, tmp / md.DOCS_FILE, say):
            build_snippets(tmp / md.DOCS_FILE, tmp / md.SNIPPETS_FILE)
        if several:
            md.write_json(tmp / md.VECTORS_META, union.index_vectors_meta())
        else:
            shutil.copyfile(vectors_dir / vf.VECTORS_META, tmp / md.VECTORS_META)

        engine_meta = None
        if engine != "lucene":
            engine_meta = _build_engine(engine, tmp, say)
        dense_meta = None
        if dense_where is not None and bm25_docs is not None:  # before BM25 removes the texts
            dense_meta = build_dense(
                dense_model, dense_where, bm25_docs, tmp, in_index, threads=threads, say=say,
                java_log=_java_log(log), progress=progress,
            )  # fmt: skip
        bm25_meta = None
        if bm25_corpus is not None and bm25_docs is not None:
            bm25_meta = _build_bm25(Path(bm25_corpus), bm25_docs, tmp, threads, checked, say)
            bm25_meta["seconds"] = round(bm25_meta["seconds"], 3)

        meta = {
            "format": md.INDEX_FORMAT,
            "format_version": 1,
            **{key: vmeta[key] for key in md.INDEX_COPIED_FIELDS},
            "idf_source": idf_source,
            "num_docs": in_index,
            "num_empty": vmeta.get("num_empty", 0) + (pruned.emptied if pruned else 0),
            "vectors": str(vectors_dir.resolve()),
            "vectors_folders": [str(p.resolve()) for p in union.paths],
            "build_seconds": round(impact_seconds, 3),
            **shard_meta,
            "lucene_bytes": lucene_bytes(tmp, shard_meta),
            "bm25": bm25_meta,
            "dense": dense_meta,
            "engine": engine_meta,
            "doc_pruning": None if pruned is None else {**doc_pruning.as_dict(), **asdict(pruned)},  # type: ignore[union-attr]
            "empty_doc_token": EMPTY_DOC_TOKEN,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "versions": md.software_versions(),
        }
        md.write_json(tmp / md.INDEX_META, meta)
        claim.commit(tmp)
        say(f"index ready in {out} ({in_index} documents, {impact_seconds:.1f} s)")
        return meta
    except BaseException:
        claim.abandon(tmp)
        raise


def _build_engine(engine: str, index_dir: Path, say) -> dict:
    """Build `engine`'s folder in the staging index from its ``forward.npz`` (the documents
    as Lucene holds them, pruning included); the folder shares that file by a hard link."""
    from splade_lite.engines.seismic import FORWARD_FILE, build_seismic

    folder = index_dir / md.ENGINE_DIRS[engine]
    say(f"building the {engine} engine")
    started = time.perf_counter()
    built = build_seismic(index_dir, folder, progress=False)
    copy = folder / FORWARD_FILE
    try:  # the same bytes, checked by the engine's hash when it opens
        copy.unlink()
        os.link(index_dir / md.FORWARD_FILE, copy)
    except OSError:
        shutil.copyfile(index_dir / md.FORWARD_FILE, copy)
    return {
        "name": engine,
        "folder": folder.name,
        "seconds": round(time.perf_counter() - started, 3),
        "bytes": sum(p.stat().st_size for p in folder.iterdir() if p.name != FORWARD_FILE),
        "pyseismic": built.get("pyseismic_version"),
    }


def _java_log(log: Callable[[str], None] | None) -> Callable[[str], None] | None:
    """Anserini's own log lines reach the user only when debugging (SPLADE_LITE_DEBUG=1)."""
    return log if os.environ.get("SPLADE_LITE_DEBUG") else None


def _prune(sources: list[Path], targets: list[Path], pruning: Pruning, scale: float):
    """Each folder of `sources` pruned into the folder of `targets` at its place; the counts
    of all."""
    total = None
    for source, target in zip(sources, targets):
        stats = prune_shards(source, target, pruning, scale)
        if total is None:
            total = stats
        else:
            for key, value in asdict(stats).items():
                setattr(total, key, getattr(total, key) + value)
    return total


def _write_docs(union: VectorUnion, target: Path, say) -> bool:
    """The folders' ``docs.jsonl.gz`` into the index (one after the other); False when a
    folder has none (hits are then shown by id only)."""
    if len(union.members) == 1:
        docs = union.first.path / vf.DOCS_FILE
        if docs.is_file():
            shutil.copyfile(docs, target)
        return docs.is_file()
    if union.write_docs(target):
        return True
    lacking = [str(m.path) for m in union.members if not (m.path / vf.DOCS_FILE).is_file()]
    say(f"{', '.join(lacking)} hold no {vf.DOCS_FILE}: hits will be shown by id only")
    return False


def _write_idf(union: VectorUnion, vmeta: dict, source: ModelSource | None, index_dir: Path) -> str:
    """Store query IDF in the index: the model's own table if it ships one (kept by encode
    in the vectors folder, as an export keeps the index's), else the corpus's (the document
    frequencies of every folder, summed)."""
    vectors_dir = union.query_dir
    if (vectors_dir / vf.IDF_FILE).is_file():
        idf = read_idf_file(vectors_dir / vf.IDF_FILE)
        kind = vmeta.get("idf_source") or "vectors"
    elif source is not None and source.query_idf is not None:  # from an older encode
        from splade_lite.encoders.base import vocab_terms

        tokenizer = load_query_tokenizer(source)
        idf = read_idf_file(source.query_idf, vocab_terms(tokenizer))
        kind = "model"
    else:
        idf = idf_from_df(*union.read_df())
        kind = "corpus"
    md.write_json(index_dir / md.IDF_FILE, idf)
    return kind


def _write_tokenizer(vectors_dir: Path, source: ModelSource | None, index_dir: Path) -> None:
    """The vectors folder's tokenizer into the index, checked to load as searches load it
    (from the model for a folder written before encode kept it)."""
    from splade_lite.index_folder import load_index_tokenizer

    if source is not None:
        load_query_tokenizer(source).save_pretrained(str(index_dir / md.TOKENIZER_DIR))
        return
    kept = vectors_dir / vf.TOKENIZER_DIR
    vf.copy_tokenizer(kept, index_dir / md.TOKENIZER_DIR)
    try:
        load_index_tokenizer(index_dir)
    except (OSError, ValueError) as err:
        raise IndexError_(
            f"{kept} does not load ({err}); encode again; the index was not written"
        ) from None


def _stage_bm25_corpus(
    corpus: Path, index_dir: Path, union: VectorUnion, forward: Path, skip_invalid: bool, say
) -> Path:
    """Write the BM25 corpus as Anserini reads it, into a folder of the staging index.

    Its documents must be those encoded: other ids would make hybrid search return
    documents the impact index does not hold (refused); the same ids with other texts
    (told by the digest ``encode`` recorded, of each folder's documents in turn) rank by words
    the vectors never saw (a warning).
    """
    from splade_lite.forward import ForwardIndex

    say(f"reading the BM25 corpus {corpus}")
    skipped: list[InputError] = []
    staging = Path(tempfile.mkdtemp(prefix="bm25-corpus-", dir=index_dir))
    chunks = [c for c in union.bm25_chunks() if c[0]] or union.bm25_chunks()[:1]
    digests = [hashlib.sha256() for _ in chunks]
    chunk, in_chunk = 0, 0
    encoded = set(ForwardIndex.load(forward))
    missing: list[str] = []  # in the BM25 corpus, not among the vectors
    seen: set[str] = set()
    with atomic_write(staging / "docs.jsonl") as handle:
        for doc in read_corpus(corpus, skip_invalid=skip_invalid, on_skip=skipped.append):
            if in_chunk == chunks[chunk][0] and chunk + 1 < len(chunks):
                chunk, in_chunk = chunk + 1, 0  # the next folder's documents
            doc.digest_into(digests[chunk])
            in_chunk += 1
            if doc.id in encoded:  # read_corpus refuses (or skips) repeated ids itself
                seen.add(doc.id)
            elif len(missing) < 3:
                missing.append(doc.id)
            else:
                missing.append("")  # counted, not shown
            handle.write(json.dumps({"id": doc.id, "contents": doc.full_text}) + "\n")
    if skipped:
        plural = "s" if len(skipped) != 1 else ""
        say(f"{len(skipped)} invalid line{plural} of {corpus} skipped, the first: {skipped[0]}")
    if missing:
        shown = ", ".join(repr(m) for m in missing if m)
        raise IndexError_(
            f"{corpus}: {len(missing)} document id(s) of the BM25 corpus are not in the "
            f"encoded vectors (e.g. {shown}): it is not the corpus that was encoded; give that "
            "one to --bm25-corpus. The index was not written"
        )
    if len(seen) != len(encoded):
        absent = next(iter(encoded - seen))
        raise IndexError_(
            f"{corpus}: {len(encoded) - len(seen)} of the {len(encoded)} encoded documents are "
            f"not in the BM25 corpus (e.g. {absent!r}): it is not the corpus that was encoded. "
            "The index was not written"
        )
    if any(rec and rec != d.hexdigest() for (_, rec), d in zip(chunks, digests)):
        say(
            f"warning: {corpus} has the same document ids as the encoded corpus but other "
            "titles or texts (or another order): BM25 will rank by words the vectors were not "
            "encoded from"
        )
    return staging / "docs.jsonl"


def _build_bm25(
    corpus: Path, docs: Path, index_dir: Path, threads: int, expected: int, say
) -> dict:
    from splade_lite.indexer import build_bm25_index, count_documents

    say(f"building the BM25 index of {corpus}")
    try:
        stats = build_bm25_index(
            docs.parent, index_dir / md.BM25_DIR, threads=threads, log=_java_log(say)
        )
    finally:
        shutil.rmtree(docs.parent, ignore_errors=True)
    count = count_documents(index_dir / md.BM25_DIR)
    # a document without a word cannot be in a BM25 index (and could never match anyway)
    if count + stats.empty != expected:
        say(f"warning: the BM25 index holds {count} documents, the impact index {expected}")
    return {
        "corpus": str(corpus.resolve()),
        "k1": BM25_K1,
        "b": BM25_B,
        "num_docs": count,
        "seconds": stats.seconds,
        "bytes": folder_size(index_dir / md.BM25_DIR),
    }


def export_index(
    index_dir: str | Path,
    out_dir: str | Path,
    *,
    compress: bool = False,
    shard_size: int = 100_000,
    overwrite: bool = False,
    log: Callable[[str], None] | None = None,
) -> int:
    """Write every document vector of an index as JsonVectorCollection files; returns the count.

    The output is itself a vectors folder (it gets a ``vectors.json``), so it can be indexed
    again, and it is plain JSON lines for any other tool. As for an index, it is written in a
    temporary folder and moved into place when complete; an existing `out_dir` that is not
    empty is replaced only with `overwrite`, and only if it is a vectors folder splade-lite
    made, holding nothing else (see :mod:`splade_lite.outputs`).
    """
    from splade_lite.indexer import read_document_vectors
    from splade_lite.shards import ShardWriter

    index_dir, out = Path(index_dir), Path(out_dir)
    meta = md.read_index_meta(index_dir)
    claim = claim_output(out, VECTORS, inputs=(index_dir,), overwrite=overwrite)
    tmp = claim.stage()
    try:
        count = 0
        with ShardWriter(tmp, shard_size, ".gz" if compress else "") as writer:
            for docid, vector in read_document_vectors(md.lucene_folders(index_dir, meta)):
                # the placeholder of an empty document goes back in, so that it indexes again
                writer.write(vf.record_line(vf.document_record(docid, vector)))
                count += 1
        if count != meta["num_docs"]:
            raise IndexError_(
                f"exported {count} documents but {index_dir} records {meta['num_docs']}"
            )
        vmeta = {key: meta[key] for key in md.ENCODING_FIELDS}
        vmeta.update(
            format=vf.VECTORS_FORMAT,
            format_version=1,
            exported_from=str(index_dir.resolve()),
            shards=writer.names,
            num_docs=count,
            num_empty=meta.get("num_empty", 0),
            pooling=meta.get("pooling", "max"),
            idf_source=meta.get("idf_source"),
        )
        vf.write_vectors_meta(tmp, vmeta)
        if (index_dir / md.IDF_FILE).is_file():
            shutil.copyfile(index_dir / md.IDF_FILE, tmp / vf.IDF_FILE)
        if (index_dir / md.TOKENIZER_DIR).is_dir():  # so that indexing it needs no model
            vf.copy_tokenizer(index_dir / md.TOKENIZER_DIR, tmp / vf.TOKENIZER_DIR)
        claim.commit(tmp)
    except BaseException:
        claim.abandon(tmp)
        raise
    if log:
        log(f"exported {count} document vectors to {out}")
        note = export_note(index_dir, meta)
        if note:
            log(note)
    return count
