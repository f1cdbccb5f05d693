"""Search, batch search and explain requests answered: what the HTTP API and MCP share.

Each function takes a checked request (:mod:`splade_lite.serve.schemas`) and returns its
answer, or raises :class:`ApiError`: a status and the one-line message the command line
would print for the same mistake (the index named as the client named it, not by its
folder). An unexpected exception becomes a 500 whose message says it is a bug and carries
nothing of the exception but its type; the server's log has the traceback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from splade_lite.cli_render import explanation_json, hits_json
from splade_lite.encoders.base import TOKENIZER_LOCK
from splade_lite.errors import SpladeLiteError, StateError, UnknownIdError
from splade_lite.feedback import Feedback
from splade_lite.fusion import Hybrid
from splade_lite.serve.registry import Registry, ServedIndex
from splade_lite.serve.schemas import (
    BatchSearchRequest,
    BatchSearchResponse,
    ExplainRequest,
    ExplainResponse,
    FeedbackSettings,
    HybridSettings,
    IndexesResponse,
    Limits,
    SearchOptions,
    SearchRequest,
    SearchResponse,
    Segment,
)

LOG = logging.getLogger("splade_lite.serve")
T = TypeVar("T")
#: A word of a document as the tokenizer's pre-tokenizer splits it: a run of letters and
#: digits, or one punctuation mark.
_WORD = re.compile(r"\w+|[^\w\s]")


class ApiError(SpladeLiteError):
    """A request refused (or failed), with the HTTP status that says how."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def status_of(err: SpladeLiteError) -> int:
    """The HTTP status of a splade-lite error."""
    if isinstance(err, ApiError):
        return err.status
    if isinstance(err, UnknownIdError):
        return 404
    if isinstance(err, StateError):
        return 409  # the index changed under the server: restart it
    return 400  # BadValueError, MissingFileError (no BM25 beside the index), the rest


def bug_message(err: BaseException) -> str:
    from splade_lite import __version__

    return (
        f"splade-lite {__version__} failed unexpectedly ({type(err).__name__}). This is a "
        "bug: please report it with the request; the server's log shows where it happened"
    )


@contextmanager
def answering(served: ServedIndex | None = None) -> Iterator[None]:
    """Turn what a request raises into an :class:`ApiError` a client may see."""
    try:
        yield
    except ApiError:
        raise
    except SpladeLiteError as err:
        message = " ".join((str(err) or type(err).__name__).split())
        if served is not None:
            message = served.public(message)
        raise ApiError(status_of(err), message) from None
    except Exception as err:
        LOG.exception("a request failed unexpectedly")
        raise ApiError(500, bug_message(err)) from None


def _within(limits: Limits, *, k: int, texts: list[str], batch: int = 1) -> None:
    """Refuse a request past this server's limits (lower than the schema's, or equal)."""
    if k > limits.max_k:
        raise ApiError(422, f"k must be at most {limits.max_k}, got {k}")
    if batch > limits.max_batch:
        raise ApiError(422, f"a batch holds at most {limits.max_batch} queries, got {batch}")
    longest = max((len(t) for t in texts), default=0)
    if longest > limits.max_query_chars:
        raise ApiError(
            422, f"a query holds at most {limits.max_query_chars} characters, got {longest}"
        )


def hybrid_settings(given: HybridSettings | None) -> Hybrid | None:
    """The :class:`Hybrid` of the request's settings (it refuses values that do not fit)."""
    if given is None:
        return None
    return Hybrid(**{name: v for name, v in given.model_dump().items() if v is not None})


def feedback_settings(given: bool | FeedbackSettings) -> Feedback | None:
    if given is False:
        return None
    if given is True:
        return Feedback()
    return Feedback(**{name: v for name, v in given.model_dump().items() if v is not None})


def _searcher(registry: Registry, options: SearchOptions):
    served = registry.get(options.index)
    with answering(served):
        searcher = registry.searcher(
            options.index,
            options.mode,
            hybrid_settings(options.hybrid),
            feedback_settings(options.feedback),
            options.dense,
        )
    return served, searcher


def _hits(found: list[Any]) -> list[dict]:
    shaped = hits_json(found)
    for hit, shown in zip(found, shaped):
        shown["text"] = hit.text
    return shaped


def indexes(registry: Registry) -> IndexesResponse:
    return IndexesResponse(indexes=[served.info() for served in registry])


def search(registry: Registry, request: SearchRequest, limits: Limits) -> SearchResponse:
    """The top k hits of one query, with each document's title and start of text."""
    _within(limits, k=request.k, texts=[request.query])
    with answering():
        served, searcher = _searcher(registry, request)
    with answering(served), registry.working():
        found = searcher.search(request.query, k=request.k, text=True)
    return SearchResponse(
        index=served.name,
        mode=request.mode,
        dense=request.dense,
        query=request.query,
        hits=_hits(found),
    )


def batch_search(
    registry: Registry, request: BatchSearchRequest, limits: Limits
) -> BatchSearchResponse:
    """The top k hits of each query (a blank text matches nothing), in the given order."""
    texts = [q.text for q in request.queries]
    _within(limits, k=request.k, texts=texts, batch=len(texts))
    with answering():
        served, searcher = _searcher(registry, request)
    with answering(served), registry.working():
        run = searcher.batch_search([(q.id, q.text) for q in request.queries], request.k, text=True)
    return BatchSearchResponse(
        index=served.name,
        mode=request.mode,
        dense=request.dense,
        results=[{"id": qid, "hits": _hits(hits)} for qid, hits in run.items()],
    )


def explain(registry: Registry, request: ExplainRequest, limits: Limits) -> ExplainResponse:
    """How the document's learned sparse score adds up, with its words that matched."""
    _within(limits, k=1, texts=[request.query])
    with answering():
        served = registry.get(request.index)
    with answering(served), registry.working():
        feedback = feedback_settings(request.feedback)
        searcher = registry.searcher(request.index, "sparse", None, feedback)
        explanation = searcher.explain(request.query, request.docid)
        doc = searcher.documents([request.docid]).get(request.docid) or {}
        dropped = searcher.pruned_terms(request.query) if searcher.pruning else {}
        matched = {c.term: c for c in explanation.matched}
        title, text = str(doc.get("title") or ""), str(doc.get("text") or "")
        tokenize = searcher.encoder.tokenizer.tokenize
        segments = {
            "title": word_segments(title, matched, tokenize),
            "text": word_segments(text, matched, tokenize),
        }
    return ExplainResponse(
        index=served.name,
        **explanation_json(explanation),
        title=title,
        text=text,
        segments=segments,
        pruning=searcher.pruning.describe() if searcher.pruning else None,
        pruned_terms=dict(sorted(dropped.items(), key=lambda tw: (-tw[1], tw[0]))),
    )


def word_segments(
    text: str, matched: dict[str, Any], tokenize: Callable[[str], list[str]]
) -> list[Segment]:
    """`text` cut into runs: plain ones, and words holding a matched term.

    Each word is tokenized alone, as the tokenizer splits text into words before it cuts
    them into word pieces: a word is marked when one of its pieces (``##ing``) matched,
    and the whole word is marked, never a piece of it. It is an expansion when every
    matched piece in it is one on the query side (the model added the term to the query).
    """
    out: list[Segment] = []
    plain_from = 0

    def plain(end: int) -> None:
        if end > plain_from:
            out.append(Segment(text=text[plain_from:end]))

    with TOKENIZER_LOCK:
        for found in _WORD.finditer(text):
            word = found.group()
            terms = list(dict.fromkeys(t for t in tokenize(word) if t in matched))
            if not terms:
                continue
            plain(found.start())
            expansion = all(matched[t].expansion_in_query for t in terms)
            out.append(Segment(text=word, terms=terms, expansion=expansion))
            plain_from = found.end()
    plain(len(text))
    return out
