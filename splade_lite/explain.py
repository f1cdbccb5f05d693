"""Why a document got its score: the per-term products of the query and document impacts.

An impact score is the integer dot product of the quantised query vector and the document
vector, so it splits exactly into one ``query weight × document weight`` per shared term.
:func:`explain` computes that split (a pure function: the caller brings the two vectors, e.g.
from ``Searcher.query_terms`` and a ``ForwardIndex``); the command line draws it as a table
(:mod:`splade_lite.cli_render`, also reached as :func:`render`).

A term is an *expansion* on one side when the model gave it weight although it is not among
the tokens of that side's text, which is what learned sparse retrieval adds over BM25.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from splade_lite.vectors import EMPTY_DOC_TOKEN


@dataclass(frozen=True)
class TermContribution:
    """One term shared by the query and the document, and what it adds to the score."""

    term: str
    query_weight: int
    doc_weight: int
    contribution: int  # query_weight × doc_weight
    expansion_in_query: bool  # the term is not among the query text's tokens
    expansion_in_doc: bool | None  # likewise for the document; None when its text is unknown

    @property
    def expansion(self) -> bool:
        """The term is an expansion on either side."""
        return self.expansion_in_query or bool(self.expansion_in_doc)


@dataclass(frozen=True)
class Explanation:
    """A document's score split by term; ``score == sum(c.contribution for c in matched)``."""

    docid: str
    score: int
    query_terms: dict[str, int]
    doc_terms: dict[str, int]
    matched: list[TermContribution]  # by contribution, largest first, then by term
    query_tokens: frozenset[str] = field(default_factory=frozenset)
    doc_tokens: frozenset[str] | None = None  # None: the document text was not given

    def __str__(self) -> str:
        """The explanation as :func:`render` prints it (plain text, 100 columns)."""
        return render(self, width=100, color=False)

    def __repr__(self) -> str:
        return (
            f"Explanation(docid={self.docid!r}, score={self.score}, "
            f"{len(self.matched)} matched terms, expansion score {self.expansion_score})"
        )

    @property
    def expansion_score(self) -> int:
        """The part of the score due to terms that are an expansion on either side."""
        return sum(c.contribution for c in self.matched if c.expansion)


def explain(
    query_terms: Mapping[str, int],
    doc_terms: Mapping[str, int],
    docid: str,
    query_tokens: Iterable[str] = (),
    doc_tokens: Iterable[str] | None = None,
) -> Explanation:
    """Split the score of `docid` for a query into the contributions of the shared terms.

    Weights are the integer impacts (as Lucene holds them); a float weight is an error
    rather than silently rounded, since the parts must add up to the score exactly.
    `query_tokens` / `doc_tokens` are the tokenizer's tokens of the texts, spelled as the
    index terms (word pieces such as ``##ing``); a term outside them is an expansion. With no
    query tokens every query term counts as an expansion; with ``doc_tokens=None`` the
    document side is unknown. The document's placeholder for an empty vector is ignored.
    """
    query = {term: operator.index(w) for term, w in query_terms.items()}
    doc = {term: operator.index(w) for term, w in doc_terms.items() if term != EMPTY_DOC_TOKEN}
    q_tokens = frozenset(query_tokens)
    d_tokens = None if doc_tokens is None else frozenset(doc_tokens)
    matched = [
        TermContribution(
            term=term,
            query_weight=q,
            doc_weight=doc[term],
            contribution=q * doc[term],
            expansion_in_query=term not in q_tokens,
            expansion_in_doc=None if d_tokens is None else term not in d_tokens,
        )
        for term, q in query.items()
        if term in doc
    ]
    matched.sort(key=lambda c: (-c.contribution, c.term))
    return Explanation(
        docid=docid,
        score=sum(c.contribution for c in matched),
        query_terms=query,
        doc_terms=doc,
        matched=matched,
        query_tokens=q_tokens,
        doc_tokens=d_tokens,
    )


def render(explanation: Explanation, **options: Any) -> str:
    """The explanation as a terminal table: :func:`splade_lite.cli_render.render_explanation`
    (where the command line's drawing lives), with the same options."""
    from splade_lite.cli_render import render_explanation

    return render_explanation(explanation, **options)
