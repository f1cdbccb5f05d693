"""The shapes of the HTTP API's requests and answers (pydantic models, so OpenAPI lists them).

Hits and explanations have the fields ``search --json`` and ``explain --json`` print
(:func:`~splade_lite.cli_render.hits_json`, :func:`~splade_lite.cli_render.explanation_json`),
plus what a page needs to draw them. Requests are bounded here (query length, k, batch
size); :class:`Limits` may lower those bounds for one server, never raise them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

from splade_lite.feedback import MAX_BETA
from splade_lite.fusion import DENSE_NORM, FUSIONS, NORMALISATIONS

#: Characters in one query text: far past any real question, short of a costly one.
MAX_QUERY_CHARS = 2000
#: Hits per query.
MAX_K = 1000
#: Queries in one batch request.
MAX_BATCH = 100
#: Bytes in one request body (a full batch of the longest queries fits).
MAX_BODY_BYTES = 1_000_000
#: Characters in a document id or an index name given in a request.
MAX_ID_CHARS = 512
#: Hits of each list fused, at most.
MAX_DEPTH = 10_000
#: Feedback documents and terms, at most.
MAX_FEEDBACK = 1000
#: Numbers in a hybrid's weights, at most (three are wanted; more are refused as search
#: refuses them, but not parsed first by the thousand).
MAX_WEIGHTS = 10

Mode = Literal["sparse", "bm25", "hybrid"]
MODES: tuple[str, ...] = ("sparse", "bm25", "hybrid")


@dataclass(frozen=True)
class Limits:
    """Bounds of one server's requests; each at most the module's constant of that name."""

    max_query_chars: int = MAX_QUERY_CHARS
    max_k: int = MAX_K
    max_batch: int = MAX_BATCH
    max_body_bytes: int = MAX_BODY_BYTES


def _utf8(text: str) -> str:
    """Refuse a text that is not valid Unicode (a lone surrogate from a JSON escape)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the text is not valid Unicode (a lone surrogate)") from None
    return text


#: A text of a request: checked to be valid Unicode before it reaches Java.
Text = Annotated[str, AfterValidator(_utf8)]


def _json_number(value: object) -> object:
    """Refuse true, false and strings where a number is wanted (pydantic's lax mode would
    read false as 0 and "3" as 3, which the API's schema does not allow)."""
    if isinstance(value, (bool, str)):
        raise ValueError("a number is wanted")
    return value


#: Numbers of a request: JSON's 2.0 is a whole number as 2 is, but true is not 1. (The
#: optional ones wrap the whole union: an optional alias loses its bounds from the schema.)
Int = Annotated[int, BeforeValidator(_json_number)]
Number = Annotated[float, BeforeValidator(_json_number)]
OptionalInt = Annotated[int | None, BeforeValidator(_json_number)]
OptionalNumber = Annotated[float | None, BeforeValidator(_json_number)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HybridSettings(_Strict):
    """How the learned sparse and BM25 lists are fused, and the dense list with them when
    ``dense`` is true (unset fields: the defaults of the index's mode)."""

    fusion: Literal["interpolate", "rrf"] | None = Field(
        None, description=f"One of {', '.join(FUSIONS)}."
    )
    alpha: OptionalNumber = Field(
        None, ge=0, le=1, description="Weight of the sparse scores (without dense only)."
    )
    depth: OptionalInt = Field(None, ge=1, le=MAX_DEPTH, description="Hits of each list fused.")
    # the number of weights and their values are checked by Hybrid, as search checks them
    weights: list[Number] | None = Field(
        None,
        max_length=MAX_WEIGHTS,
        description="With dense only: weights of the sparse, BM25 and dense lists (three "
        "numbers >= 0, not all 0).",
    )
    norm: Literal["min-max", "max", "z-score"] | None = Field(
        None,
        description=f"With dense only: how each list's scores are scaled, one of "
        f"{', '.join(NORMALISATIONS)} [default: {DENSE_NORM}].",
    )


class FeedbackSettings(_Strict):
    """A round of sparse pseudo-relevance feedback (unset fields: the defaults)."""

    docs: OptionalInt = Field(None, ge=1, le=MAX_FEEDBACK)
    terms: OptionalInt = Field(None, ge=0, le=MAX_FEEDBACK)
    beta: OptionalNumber = Field(None, ge=0, le=MAX_BETA)


class SearchOptions(_Strict):
    """What ranks, shared by single and batch searches."""

    index: str = Field(min_length=1, max_length=MAX_ID_CHARS, description="An index's name.")
    k: Int = Field(10, ge=1, le=MAX_K, description="Hits per query.")
    mode: Mode = Field("sparse", description="sparse (learned sparse), bm25 or hybrid.")
    hybrid: HybridSettings | None = Field(None, description="Only with mode hybrid.")
    feedback: StrictBool | FeedbackSettings = Field(
        False, description="Pseudo-relevance feedback: true (defaults) or its settings."
    )
    dense: StrictBool = Field(
        False,
        description="Rank with the index's dense model (where it has one): alone with mode "
        "sparse, as the third list fused with mode hybrid.",
    )


class SearchRequest(SearchOptions):
    query: Text = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="The query text.")


class BatchQuery(_Strict):
    id: Text = Field(min_length=1, max_length=MAX_ID_CHARS)
    text: Text = Field(max_length=MAX_QUERY_CHARS, description="A blank text matches nothing.")


class BatchSearchRequest(SearchOptions):
    queries: list[BatchQuery] = Field(
        min_length=1, max_length=MAX_BATCH, description="Ids (unique) and texts."
    )


class ExplainRequest(_Strict):
    index: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    query: Text = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    docid: Text = Field(min_length=1, max_length=MAX_ID_CHARS)
    feedback: StrictBool | FeedbackSettings = False


class HitOut(BaseModel):
    rank: int
    docid: str
    score: float
    title: str
    text: str = Field(description="The start of the document's text.")


class SearchResponse(BaseModel):
    index: str
    mode: Mode
    dense: bool = Field(False, description="The dense model ranked (alone or in the hybrid).")
    query: str
    hits: list[HitOut]


class BatchResult(BaseModel):
    id: str
    hits: list[HitOut]


class BatchSearchResponse(BaseModel):
    index: str
    mode: Mode
    dense: bool = Field(False, description="The dense model ranked (alone or in the hybrid).")
    results: list[BatchResult]


class TermOut(BaseModel):
    term: str
    query_weight: int
    doc_weight: int
    contribution: int
    expansion_in_query: bool
    expansion_in_doc: bool | None


class Segment(BaseModel):
    """A run of a document's title or text: plain, or a word holding matched terms."""

    text: str
    terms: list[str] = Field(default_factory=list, description="Matched terms in this word.")
    expansion: bool = Field(
        False, description="Every matched term here is an expansion of the query."
    )


class Segments(BaseModel):
    title: list[Segment]
    text: list[Segment]


class ExplainResponse(BaseModel):
    index: str
    docid: str
    score: int
    expansion_score: int
    matched: list[TermOut]
    query_terms: dict[str, int]
    doc_terms: dict[str, int]
    title: str
    text: str
    segments: Segments
    pruning: str | None
    pruned_terms: dict[str, int]


class IndexInfo(BaseModel):
    name: str
    mode: str = Field(description="How its queries are encoded: splade or inference-free.")
    modes: list[Mode] = Field(description="The rankings it answers.")
    model: str | None
    engine: str
    documents: int | None
    pruning: str | None
    dense: bool = Field(
        False, description="It has a dense index: requests may ask for dense (not with bm25)."
    )
    dense_model: str | None = Field(None, description="The model of its dense index.")


class IndexesResponse(BaseModel):
    indexes: list[IndexInfo]


class HealthResponse(BaseModel):
    status: Literal["ok"]
    version: str


class ErrorOut(BaseModel):
    detail: str = Field(description="One line saying what was refused, and why.")
