"""The files of an index folder that searches read beside Lucene, by path.

Lucene keeps the files it opened; what is read later by path (titles, forward index, IDF,
tokenizer) must come from the same build. Which build a folder holds is told by the file
``splade_lite.json`` is (:func:`identity`): every build writes a new one.
"""

from __future__ import annotations

import functools
import gzip
import json
import threading
import weakref
import zlib
from collections.abc import Mapping, Set
from pathlib import Path
from typing import TYPE_CHECKING, Any

from splade_lite import metadata as md
from splade_lite.errors import BadValueError, MissingFileError, StateError, UnknownIdError

if TYPE_CHECKING:
    from splade_lite.forward import ForwardIndex


class IndexChangedError(StateError):
    """The index folder was replaced while a searcher had it open."""


def identity(index_dir: Path) -> tuple[int, int] | None:
    """Which file ``splade_lite.json`` is (device, inode): a rebuilt index has a new one."""
    try:
        found = (Path(index_dir) / md.INDEX_META).stat()
    except OSError:
        return None
    return found.st_dev, found.st_ino


def read_documents(index_dir: Path, wanted: Set[str]) -> dict[str, dict]:
    """Title and start of text of the `wanted` documents: looked up in ``snippets.npz``, or
    for an index built before it existed, from ``docs.jsonl.gz`` (one scan).

    Ids not in the file are left out; an index without the file gives ``{}``. A damaged
    file is a one-line error naming it (and its line where a record is malformed).
    """
    found: dict[str, dict] = {}
    packed = Path(index_dir) / md.SNIPPETS_FILE
    if wanted and packed.is_file():  # indexes built since it exists: a lookup, not a scan
        return _open_snippets(str(packed.resolve()), identity(index_dir)).get(wanted)
    path = Path(index_dir) / md.DOCS_FILE
    if not wanted or not path.is_file():
        return found
    lineno = 0
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, 1):  # noqa: B007 - named in errors
                record = json.loads(line)
                docid = record["id"]
                if docid in wanted:
                    found[docid] = {
                        key: value if isinstance(value, str) else ""
                        for key, value in record.items()
                    }
                    if len(found) == len(wanted):
                        break
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as err:
        raise md.MetadataError(
            f"{path}: unreadable after line {lineno} ({err or type(err).__name__}); "
            "the file is damaged: rebuild the index"
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise md.MetadataError(
            f"{path}:{lineno + 1}: not a document record of splade-lite; rebuild the index"
        ) from None
    return found


@functools.lru_cache(maxsize=16)
def _open_snippets(path: str, build: tuple[int, int] | None):
    """``snippets.npz`` opened once per index build (`build`: :func:`identity`), not per lookup."""
    from splade_lite.snippets import Snippets

    return Snippets(Path(path))


def load_index_tokenizer(index_dir: Path):
    """The tokenizer an index keeps in ``tokenizer/``, as inference-free queries are
    tokenized: by ``tokenizer.json`` alone where there is one (no transformers, so no torch
    import), else by transformers from that folder only, running none of its code."""
    from splade_lite.encoders.rust_tokenizer import RustTokenizer

    index_dir = Path(index_dir)
    tokenizer_dir = index_dir / md.TOKENIZER_DIR
    if not tokenizer_dir.is_dir():  # never looked up as a hub id of that name
        raise MissingFileError(
            f"{index_dir} has no {md.TOKENIZER_DIR}/ folder, which inference-free "
            "queries are tokenized with; rebuild the index with `splade-lite index`"
        )
    if RustTokenizer.available(tokenizer_dir):
        return RustTokenizer(tokenizer_dir)
    from splade_lite.encoders.models import ModelSource, load_tokenizer

    source = ModelSource(name="index", mlm=str(tokenizer_dir.resolve()))
    return load_tokenizer(source, from_index=True)


def read_index_idf(index_dir: Path) -> dict[str, float]:
    """The index's query IDF table (``idf.json``: token -> positive weight), checked."""
    from splade_lite.encoders.inference_free import read_idf_file

    return read_idf_file(Path(index_dir) / md.IDF_FILE)


def load_query_encoder(
    index_dir: Path, meta: Mapping[str, Any], mode: str, device: str | None = None
):
    """The query encoder an index asks for: its IDF table and tokenizer (inference-free,
    no model), or its model, refused if the weights changed since the index was built."""
    if mode == "inference-free":
        from splade_lite.encoders.inference_free import IdfQueryEncoder

        tokenizer = load_index_tokenizer(index_dir)
        return IdfQueryEncoder(tokenizer, read_index_idf(index_dir))
    if mode == "splade":
        from splade_lite.encoders.models import check_weights
        from splade_lite.encoders.splade import SpladeEncoder

        encoder = SpladeEncoder(meta["model"], max_length=meta["max_length"], device=device)
        found = check_weights(encoder.source, meta.get("model_sha256"))
        if found.changed:
            recorded, actual = found.recorded or "", found.actual or ""
            raise BadValueError(
                f"{index_dir} was built with model {meta['model']!r} whose weights "
                f"had sha256 {recorded[:12]}…, but those found now have {actual[:12]}…; "
                "queries would not match the documents. Install the model the index was "
                "built with, or encode and index again with this one (--overwrite)."
            )
        return encoder
    raise BadValueError(f"{index_dir}: unknown mode {mode!r} in {md.INDEX_META}")


# -- looking documents up before anything expensive: no model, no Java ----------------------

#: Forward indexes open and in use, by index folder and identity: a second searcher of the
#: folder, or a searcher opened after :func:`require_document`, shares the first one's.
_FORWARD: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_FORWARD_LOCK = threading.Lock()


def open_forward(index_dir: str | Path) -> ForwardIndex:
    """The forward index of `index_dir` (``forward.npz``, memory-mapped; neither a model nor
    Java is loaded), shared while it is in use; refused clearly where the index has none."""
    from splade_lite.forward import ForwardIndex

    index_dir = Path(index_dir)
    key = (str(index_dir.resolve()), identity(index_dir))
    with _FORWARD_LOCK:
        forward = _FORWARD.get(key)
        if forward is None:
            path = index_dir / md.FORWARD_FILE
            if not path.is_file():
                raise MissingFileError(
                    f"{index_dir} has no {md.FORWARD_FILE}; rebuild it with "
                    "`splade-lite index VECTORS --out INDEX --overwrite`"
                )
            forward = ForwardIndex.load(path)
            if identity(index_dir) == key[1]:  # not replaced while it was read
                _FORWARD[key] = forward
    return forward


def require_document(index_dir: str | Path, docid: str) -> ForwardIndex:
    """The forward index of `index_dir`, once `docid` is known to be in it; else ``KeyError``
    "document 'x' is not in INDEX". Loads neither a model nor Java, so that ``explain``
    refuses an unknown id at once; a :class:`Searcher` opened while the result is kept
    shares it."""
    index_dir = Path(index_dir)
    md.read_index_meta(index_dir)  # not an index: say so, not that forward.npz is missing
    forward = open_forward(index_dir)
    if docid not in forward:
        raise UnknownIdError(f"document {docid!r} is not in {index_dir}")
    return forward
