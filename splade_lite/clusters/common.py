"""What every cluster target reads from an index, and how a target is described.

- :class:`IndexSource`: the documents of an index with float weights (each integer impact
  divided by the index's scale, the scale undone), their titles and text starts, the
  tokenizer's vocabulary ids, and queries weighted exactly as splade-lite weights them
  (:meth:`IndexSource.query_weights`: the integer query weights Lucene is given, divided by
  the same scale, after the index's default query pruning).
- :class:`Settings`: what an export was asked for (names, field, Qdrant's modifier), which
  each target module (:mod:`.opensearch`, :mod:`.elasticsearch`, :mod:`.qdrant`) turns into
  its request bodies.

An empty document (no term: in Lucene it carries the placeholder ``[splade-lite:empty]``) comes
out with no weights at all; each target says what it makes of one.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splade_lite import metadata as md
from splade_lite.errors import BadValueError, StateError

#: Documents read from Lucene between two look-ups of their titles and texts.
BATCH = 2_000


class ClusterError(StateError):
    """An export or push that cannot go on (a refused connection, a count that differs)."""


@dataclass(frozen=True)
class Settings:
    """How an export names and shapes what it writes (recorded in ``export.json``)."""

    target: str
    name: str
    field: str = "splade"
    #: Qdrant's sparse vector modifier: ``none`` (splade-lite's weights as they are) or ``idf``.
    modifier: str = "none"
    #: term -> vocabulary id (Qdrant's sparse vectors take integer indices only).
    term_ids: Mapping[str, int] = dataclasses.field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class Document:
    """One document as a cluster gets it: float weights, title and start of text."""

    docid: str
    weights: dict[str, float]
    title: str = ""
    text: str = ""


def check_name(name: str, what: str) -> str:
    """An index or collection name every target takes: lowercase letters, digits, ``-_``
    (OpenSearch and Elasticsearch refuse capitals and most punctuation), not starting with
    ``-`` or ``_``, at most 255 bytes."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,254}", name or ""):
        raise BadValueError(
            f"{what} {name!r} is not a name every cluster takes: use lowercase letters, digits, "
            "'-' and '_', starting with a letter or digit, at most 255 characters"
        )
    return name


class IndexSource:
    """An index read for an export: its metadata, documents, vocabulary and query side."""

    def __init__(self, index_dir: str | Path) -> None:
        self.index_dir = Path(index_dir)
        info = md.read_index_info(self.index_dir)  # refused with every problem named
        self.meta = md.read_index_meta(self.index_dir)
        self.mode, self.scale, self.num_docs = info.mode, info.scale, info.num_docs

    # -- documents ------------------------------------------------------------------------
    def documents(self) -> Iterator[Document]:
        """Every document, in index order, with weights ``impact / scale``."""
        from splade_lite.indexer import read_document_vectors

        batch: list[tuple[str, dict[str, int]]] = []
        for docid, impacts in read_document_vectors(self.index_dir):
            batch.append((docid, impacts))
            if len(batch) == BATCH:
                yield from self._with_text(batch)
                batch = []
        yield from self._with_text(batch)

    def _with_text(self, batch: list[tuple[str, dict[str, int]]]) -> Iterator[Document]:
        from splade_lite.index_folder import read_documents

        docs = read_documents(self.index_dir, {docid for docid, _ in batch}) if batch else {}
        for docid, impacts in batch:
            bad = next((t for t, w in impacts.items() if not w > 0), None)
            if bad is not None:  # Lucene stores positive frequencies only; never seen
                raise BadValueError(
                    f"{self.index_dir}: document {docid!r} has weight 0 for {bad!r}"
                )
            doc = docs.get(docid, {})
            weights = {term: impact / self.scale for term, impact in impacts.items()}
            yield Document(docid, weights, doc.get("title", ""), doc.get("text", ""))

    @property
    def has_text(self) -> bool:
        """Whether the index keeps titles and text starts (``docs.jsonl.gz``)."""
        return (self.index_dir / md.DOCS_FILE).is_file()

    # -- vocabulary -----------------------------------------------------------------------
    @functools.cached_property
    def tokenizer(self):
        from splade_lite.index_folder import load_index_tokenizer

        return load_index_tokenizer(self.index_dir)

    @functools.cached_property
    def term_ids(self) -> dict[str, int]:
        """Index term -> the tokenizer's id of it (``[id:N]`` terms -> N), the lowest id where
        two ids share a spelling: every term gets one id, and distinct terms distinct ids."""
        from splade_lite.encoders.base import vocab_terms

        ids: dict[str, int] = {}
        for i, term in enumerate(vocab_terms(self.tokenizer)):
            ids.setdefault(term, i)
        return ids

    def vocabulary_id(self, term: str, docid: str) -> int:
        """The id of `term` of document `docid`; a term outside the vocabulary is refused."""
        try:
            return self.term_ids[term]
        except KeyError:
            raise BadValueError(
                f"{self.index_dir}: document {docid!r} has the term {term!r}, which is not in "
                "the index's tokenizer vocabulary: it has no integer id for Qdrant's sparse "
                "vectors (was the index built from vectors of another model?)"
            ) from None

    # -- queries --------------------------------------------------------------------------
    @functools.cached_property
    def _queries(self):
        from splade_lite.index_folder import load_query_encoder
        from splade_lite.pruning import default_pruning
        from splade_lite.retrievers import QueryTerms

        return QueryTerms(
            lambda: load_query_encoder(self.index_dir, self.meta, self.mode),
            mode=self.mode,
            scale=self.scale,
            pruning=default_pruning(self.meta),
            java=False,
            where=self.index_dir,
        )

    def query_weights(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """``{term: weight}`` of each text as splade-lite searches it (integer query weight /
        scale); a blank text gets none (splade-lite answers it with no hits)."""
        texts = list(texts)
        todo = [i for i, t in enumerate(texts) if t.strip()]
        found = self._queries.terms([texts[i] for i in todo]) if todo else []
        out: list[dict[str, float]] = [{} for _ in texts]
        for i, terms in zip(todo, found):
            out[i] = {term: weight / self.scale for term, weight in terms.items()}
        return out

    def idf_table(self) -> dict[str, float]:
        """Inference-free indexes: token -> the weight a query containing it gets (its IDF
        as splade-lite searches with it: rounded at the index's scale, below the default
        query floor left out, special tokens left out). The format of OpenSearch's
        ``idf.json``."""
        if self.mode != "inference-free":
            raise StateError(f"{self.index_dir}: SPLADE queries come from the model, not IDF")
        encoder = self._queries.encoder
        pruning = self._queries.pruning
        floor = pruning.floor(self.scale) if pruning is not None else 0
        table = encoder.quantized_table(self.scale)
        return {
            encoder.terms[i]: w / self.scale for i, w in enumerate(table) if w > 0 and w >= floor
        }

    def describe(self) -> dict[str, Any]:
        """The index's facts an export records (where it came from, how it was encoded)."""
        keys = ("model", "model_sha256", "mode", "scale", "max_length", "num_docs", "idf_source")
        return {
            "path": str(self.index_dir.resolve()),
            **{key: self.meta.get(key) for key in keys},
            "num_empty": self.meta.get("num_empty", 0),
        }


def require(module: str, dist: str):
    """Import a cluster's client library, or say in one line which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ClusterError(
            f"pushing to this target needs the {dist} package: pip install 'splade-lite[clusters]'"
        ) from None


def shown_url(url: str) -> str:
    """`url` without the user and password it may carry (for messages and logs)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit(parts._replace(netloc=host)) if parts.netloc else url
    except ValueError:
        return "the URL given"
