"""``splade-lite check``: is an index (or a vectors folder) whole, and will its queries be
encoded as its documents were?

Every check runs even when an earlier one failed (except those that need the metadata), so
that one run lists everything wrong. Each gives ``ok``, ``FAIL`` or ``skip`` (does not apply
to this folder) and a one-line detail, with any control or bidi character of it shown as an
escape (details quote values read from the folder, which may have been crafted).

The Lucene indexes (the impact index, ``bm25/`` and ``dense/``) are read in full by Lucene's own
``CheckIndex``: every file's checksum, every posting, doc value and stored field, so a
flipped byte anywhere fails the check even where opening the index and counting its
documents still work.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from splade_lite import metadata as md
from splade_lite import vectors_folder as vf
from splade_lite.errors import MissingFileError
from splade_lite.terminal import printable

OK, FAIL, SKIP = "ok", "FAIL", "skip"


@dataclass(frozen=True)
class Check:
    """The outcome of one check."""

    name: str
    status: str  # OK, FAIL or SKIP
    detail: str


class _Failed(Exception):
    """Raised by a probe to fail its check with this message."""


class _Skipped(Exception):
    """Raised by a probe whose check does not apply."""


def _run(name: str, probe: Callable[[], str]) -> Check:
    """Run one probe: its returned detail means ok, anything raised means FAIL (or skip)."""
    try:
        return Check(name, OK, printable(probe()))
    except _Skipped as why:
        return Check(name, SKIP, printable(why))
    except Exception as err:  # whatever went wrong is the reason the check failed
        lines = str(err).strip().splitlines()
        return Check(name, FAIL, printable(lines[0] if lines else type(err).__name__))


def check_folder(path: str | Path) -> list[Check]:
    """The checks of an index, or of a vectors folder, whichever `path` is."""
    folder = Path(path)
    if (folder / md.INDEX_META).is_file():
        return check_index(folder)
    if (folder / vf.VECTORS_META).is_file() or (folder / vf.PROGRESS_FILE).is_file():
        return check_vectors(folder)
    if vf.shard_files(folder):
        return check_vectors(folder)
    raise MissingFileError(
        f"{folder} is neither a splade-lite index ({md.INDEX_META}) nor a vectors folder "
        f"({vf.VECTORS_META})"
    )


# --------------------------------------------------------------------------------------------
# Index


def check_index(index_dir: str | Path) -> list[Check]:
    """Metadata, query encoding, and that every part of the index holds every document.

    The query side is loaded as searches load it (:mod:`splade_lite.index_folder`), so a
    passing check means a search would get the same tokenizer, IDF table and model.
    """
    index = Path(index_dir)
    meta: dict = {}
    typed: list[md.IndexMeta] = []

    def metadata() -> str:
        meta.update(md.read_index_meta(index))
        problems = md.index_meta_problems(meta)
        if problems:
            raise _Failed("; ".join(problems))
        info = md.IndexMeta.from_dict(meta)
        typed.append(info)
        return (
            f"{info.mode} mode, scale {info.scale:g}, max length {info.max_length}, "
            f"{info.num_docs} documents"
        )

    checks = [_run("metadata", metadata)]
    if checks[0].status != OK:
        return checks
    info = typed[0]
    count = info.num_docs
    checks += [
        _run("encoding", lambda: _encoding(index, meta)),
        _run("query model", lambda: _query_model(info)),
        _run("tokenizer", lambda: _tokenizer(index)),
        _run("idf", lambda: _idf(index, info)),
        _run("lucene index", lambda: _lucene_count(index, meta, count)),
        _run("forward index", lambda: _forward_count(index, count)),
        _run("documents file", lambda: _snippet_count(index, count)),
        _run("bm25 index", lambda: _bm25(index, info)),
        _run("engine", lambda: _engine(index, meta, count)),
    ]
    if meta.get("dense") or (index / md.DENSE_DIR).exists():  # rows only where there is one
        checks += [
            _run("dense index", lambda: _dense_index(index, meta, count)),
            _run("dense model", lambda: _dense_model(meta)),
        ]
    return checks


def _engine(index: Path, meta: dict, expected: int) -> str:
    """The accelerated engine's folder opens (its files' hashes checked) and holds every
    document; an index without one skips."""
    engine = meta.get("engine") or {}
    name = engine.get("name", "lucene")
    if name == "lucene":
        raise _Skipped("no accelerated engine (Lucene answers every query)")
    from splade_lite.engines.seismic import SeismicIndex
    from splade_lite.errors import SpladeLiteError

    try:
        opened = SeismicIndex.open(index / md.ENGINE_DIRS[name])
    except (SpladeLiteError, OSError) as err:
        raise _Failed(str(err)) from None
    if opened.num_docs != expected:
        raise _Failed(f"{name}: {opened.num_docs} documents, {md.INDEX_META} says {expected}")
    return f"{name}: {expected} documents, every file's hash as built"


def _encoding(index: Path, meta: dict) -> str:
    path = index / md.VECTORS_META
    if not path.is_file():
        raise _Failed(f"no {md.VECTORS_META}: the index is incomplete; rebuild it")
    mismatches = md.encoding_mismatches(meta, md.read_json(path, "index"))
    if mismatches:
        raise _Failed("; ".join(mismatches))
    return f"{md.INDEX_META} agrees with {md.VECTORS_META} (model, weights, scale, max length)"


def _query_model(info: md.IndexMeta) -> str:
    """The model that would encode queries is the one that encoded the documents (the
    weights compared as a search compares them, without loading the model)."""
    if info.mode != "splade":
        return "inference-free: queries need only tokenizer/ and idf.json, no model"
    from splade_lite.encoders.models import check_weights, resolve_model

    found = check_weights(resolve_model(info.model), info.model_sha256)
    if found.status == "absent":
        raise _Failed(
            f"the weights of {info.model!r} are not on this machine; queries cannot be "
            "encoded until they are"
        )
    if found.status == "unrecorded":
        raise _Skipped(f"no weights hash recorded, cannot verify {info.model!r}")
    actual, recorded = found.actual or "", found.recorded or ""
    if found.changed:
        raise _Failed(
            f"{info.model!r} now has weights sha256 {actual[:12]}…, the index was built with "
            f"{recorded[:12]}…: install the same model or rebuild the index"
        )
    return f"{info.model!r}, weights sha256 {actual[:12]}… as recorded"


def _tokenizer(index: Path) -> str:
    """The index's own tokenizer loads as inference-free searches load it: from its folder
    only (never the hub), running none of its code."""
    from splade_lite.index_folder import load_index_tokenizer

    if not (index / md.TOKENIZER_DIR).is_dir():
        raise _Failed(f"no {md.TOKENIZER_DIR}/ folder")
    try:
        tokenizer = load_index_tokenizer(index)
    except (OSError, ValueError) as err:  # transformers' OSError, tokenizers' ValueError
        raise _Failed(f"{md.TOKENIZER_DIR}/ does not load: {err}") from None
    return f"{md.TOKENIZER_DIR}/ loads, {len(tokenizer)} tokens"


def _idf(index: Path, info: md.IndexMeta) -> str:
    from splade_lite.index_folder import read_index_idf

    if not (index / md.IDF_FILE).is_file():
        raise _Failed(f"no {md.IDF_FILE}")
    idf = read_index_idf(index)
    if not idf and info.mode == "inference-free":
        raise _Failed(f"{md.IDF_FILE} has no positive weight: every query would be empty")
    return f"{len(idf)} terms, from the {info.idf_source}"


def _lucene_count(index: Path, meta: dict, expected: int) -> str:
    folders = md.lucene_folders(index, meta)
    found = _whole_lucene_index(folders)
    if found != expected:
        raise _Failed(f"{found} documents, {md.INDEX_META} says {expected}")
    shards = f" in {len(folders)} shards" if meta.get("lucene_shards") else ""
    return f"{found} documents{shards}, every file whole (Lucene CheckIndex)"


def _whole_lucene_index(folder: Path | list[Path]) -> int:
    """The documents of a Lucene index that Lucene's CheckIndex finds whole (else FAIL)."""
    from splade_lite.indexer import count_documents, lucene_problem

    problem = lucene_problem(folder)
    if problem is not None:
        raise _Failed(f"Lucene's CheckIndex: {problem}; rebuild the index (--overwrite)")
    return count_documents(folder)


def _forward_count(index: Path, expected: int) -> str:
    from splade_lite.forward import ForwardIndex

    path = index / md.FORWARD_FILE
    if not path.is_file():
        raise _Failed(f"no {md.FORWARD_FILE} (needed by feedback and explain)")
    found = len(ForwardIndex.load(path))
    if found != expected:
        raise _Failed(f"{found} documents, {md.INDEX_META} says {expected}")
    return f"{md.FORWARD_FILE}: {found} documents"


def _snippet_count(folder: Path, expected: int) -> str:
    path = folder / md.DOCS_FILE
    if not path.is_file():
        raise _Skipped(f"no {md.DOCS_FILE} (hits are shown by id only)")
    # always gzip, as encode writes it and search reads it (not io.open_binary's sniffing)
    with gzip.open(path, "rb") as handle:
        found = sum(1 for line in handle if line.strip())
    if found != expected:
        raise _Failed(f"{md.DOCS_FILE} holds {found} documents, expected {expected}")
    packed = folder / md.SNIPPETS_FILE
    if not packed.is_file():
        return f"{md.DOCS_FILE}: {found} documents"
    from splade_lite.snippets import Snippets, SnippetsError

    try:
        in_packed = len(Snippets(packed))
    except SnippetsError as err:
        raise _Failed(str(err)) from None
    if in_packed != expected:
        raise _Failed(f"{md.SNIPPETS_FILE} holds {in_packed} documents, expected {expected}")
    return f"{md.DOCS_FILE} and {md.SNIPPETS_FILE}: {found} documents"


def _bm25(index: Path, info: md.IndexMeta) -> str:
    bm25 = info.bm25
    if bm25 is None:
        raise _Skipped("no BM25 index (built without --bm25-corpus)")
    folder = index / md.BM25_DIR
    if not folder.is_dir():
        raise _Failed(f"{md.INDEX_META} lists a BM25 index but {md.BM25_DIR}/ is missing")
    found = _whole_lucene_index(folder)
    if found != bm25.num_docs:
        raise _Failed(f"{found} documents, {md.INDEX_META} says {bm25.num_docs}")
    return f"{found} documents, every file whole (Lucene CheckIndex)"


def _dense_index(index: Path, meta: dict, expected: int) -> str:
    """``dense/`` is whole (CheckIndex), holds every document, at the dimension recorded."""
    dense = meta.get("dense")
    if not dense:
        raise _Failed(f"{md.DENSE_DIR}/ is there but {md.INDEX_META} records no dense index")
    folder = index / md.DENSE_DIR
    if not folder.is_dir():
        raise _Failed(f"{md.INDEX_META} lists a dense index but {md.DENSE_DIR}/ is missing")
    from splade_lite.indexer.reader import vector_dimensions

    found = _whole_lucene_index(folder)
    if found != expected or found != dense["num_docs"]:
        raise _Failed(
            f"{found} documents; {md.INDEX_META} says {dense['num_docs']} (and {expected} in "
            "the impact index)"
        )
    dims = sorted(set(vector_dimensions(folder).values()))
    if dims != [dense["dim"]]:
        shown = ", ".join(map(str, dims)) or "none"
        raise _Failed(f"vectors of {shown} dimensions, {md.INDEX_META} says {dense['dim']}")
    return f"{found} documents of {dims[0]} dimensions, every file whole (Lucene CheckIndex)"


def _dense_model(meta: dict) -> str:
    """The dense model that would embed queries has the weights the documents were
    embedded with (hashed, not loaded)."""
    dense = meta.get("dense")
    if not dense:
        raise _Skipped("no dense index (built without --dense-model)")
    from splade_lite.index_dense import dense_weights

    name = dense["model"]
    where, found = dense_weights(dense)
    if found.status == "absent":
        raise _Failed(f"no weights file of {name!r} in {where}; queries cannot be embedded")
    actual, recorded = found.actual or "", found.recorded or ""
    if found.status == "unrecorded":
        raise _Skipped(f"no weights hash recorded, cannot verify {name!r}")
    if found.changed:
        raise _Failed(
            f"{name!r} now has weights sha256 {actual[:12]}…, the index was built with "
            f"{recorded[:12]}…: install the same model or rebuild the index"
        )
    return f"{name!r}, weights sha256 {actual[:12]}… as recorded"


# --------------------------------------------------------------------------------------------
# Vectors folder


def check_vectors(vectors_dir: str | Path) -> list[Check]:
    """A finished encode, every shard line valid, and the counts of every file agreeing."""
    from splade_lite.resume import is_unfinished

    folder = Path(vectors_dir)
    meta: dict = {}

    def finished() -> str:
        if is_unfinished(folder):
            raise _Failed(
                f"encode was interrupted ({vf.PROGRESS_FILE} is there): finish it with "
                "`splade-lite encode CORPUS --out FOLDER --resume`"
            )
        return "encode finished"

    def metadata() -> str:
        from splade_lite.corpus_parts import read_part

        meta.update(vf.read_vectors_meta(folder))
        if not isinstance(meta.get("num_docs"), int):
            raise _Failed(f"num_docs {meta.get('num_docs')!r} is not an integer")
        part = read_part(meta, folder / vf.VECTORS_META)  # encode --shard: consistent
        scale = meta.get("scale")
        scale_text = f"{scale:g}" if isinstance(scale, (int, float)) else repr(scale)
        of = "" if part is None else f" (part {part} of its corpus: {part.span()})"
        return f"{meta.get('mode')} mode, scale {scale_text}, {meta['num_docs']} documents{of}"

    checks = [_run("finished", finished), _run("metadata", metadata)]
    if checks[1].status != OK:
        return checks
    count = meta["num_docs"]
    checks += [
        _run("shards", lambda: _shards(folder, count)),
        _run("df", lambda: _df(folder, count)),
        _run("documents file", lambda: _snippet_count(folder, count)),
    ]
    return checks


def _shards(folder: Path, expected: int) -> str:
    from splade_lite.shards import check_vector_shards

    if expected == 0 and not vf.shard_files(folder):
        return "no shard, and no document recorded (an empty part of encode --shard)"
    summary = check_vector_shards(folder)
    if summary.num_docs != expected:
        raise _Failed(f"the shards hold {summary.num_docs} documents, expected {expected}")
    return f"{summary.num_shards} shard(s), {summary.num_docs} documents, every line valid"


def _df(folder: Path, expected: int) -> str:
    path = folder / vf.DF_FILE
    if not path.is_file():
        raise _Skipped(f"no {vf.DF_FILE} (exported vectors carry idf.json instead)")
    try:
        df, num_docs = vf.read_df(folder)
    except md.MetadataError as err:
        raise _Failed(str(err)) from None
    if num_docs != expected:
        raise _Failed(f"{vf.DF_FILE} counts {num_docs} documents, expected {expected}")
    return f"{len(df)} terms over {expected} documents"


# --------------------------------------------------------------------------------------------
# Output


def failed(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.status == FAIL]


def format_checks(checks: list[Check]) -> str:
    """The checks as a table, and a last line with the verdict."""
    width = max(len("check"), *(len(c.name) for c in checks))
    lines = [f"{'check':<{width}}  {'status':<6}  detail"]
    lines += [f"{c.name:<{width}}  {c.status:<6}  {printable(c.detail)}" for c in checks]
    bad = failed(checks)
    skipped = sum(c.status == SKIP for c in checks)
    tail = f", {skipped} skipped" if skipped else ""
    if bad:
        lines.append(f"{len(bad)} of {len(checks)} checks FAILED{tail}")
    else:
        lines.append(f"all checks passed ({len(checks) - skipped} ok{tail})")
    return "\n".join(lines)
