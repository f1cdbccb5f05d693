"""Why a document got its score: the per-term products of the query and document impacts.

An impact score is the integer dot product of the quantised query vector and the document
vector, so it splits exactly into one ``query weight × document weight`` per shared term.
:func:`explain` computes that split (a pure function: the caller brings the two vectors, e.g.
from ``Searcher.query_terms`` and a ``ForwardIndex``), and :func:`render` prints it as a table.

A term is an *expansion* on one side when the model gave it weight although it is not among
the tokens of that side's text, which is what learned sparse retrieval adds over BM25.
"""

from __future__ import annotations

import operator
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import click

from splade_lite.terminal import printable
from splade_lite.vectors import EMPTY_DOC_TOKEN

_PARTIAL_BLOCKS = "▏▎▍▌▋▊▉"  # 1/8 .. 7/8 of a cell
_FULL_BLOCK = "█"
_MIN_WIDTH = 40
MAX_WIDTH = 1000  # cells; each line is built whole in memory
_MAX_TERM_CELLS = 24
_MAX_BAR_CELLS = 40
_EXPANSION_MARK = "+"


@dataclass(frozen=True)
class TermContribution:
    """One term shared by the query and the document, and what it adds to the score."""

    term: str
    query_weight: int
    doc_weight: int
    contribution: int  # query_weight × doc_weight
    expansion_in_query: bool  # the term is not among the query text's tokens
    expansion_in_doc: bool | None  # likewise for the document; None when its text is unknown


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
        return sum(c.contribution for c in self.matched if _is_expansion(c))


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


def _is_expansion(c: TermContribution) -> bool:
    return c.expansion_in_query or bool(c.expansion_in_doc)


# --------------------------------------------------------------------------------------------
# Rendering


def render(
    explanation: Explanation,
    *,
    title: str | None = None,
    width: int = 80,
    top: int = 20,
    doc_top: int = 15,
    color: bool = True,
) -> str:
    """The explanation as a terminal table, every line at most `width` cells wide.

    Shows the `top` matched terms (the rest summed in one line, so the column adds up to the
    score), the query's terms (those not in the document dim) and the document's `doc_top`
    heaviest expansion terms (its heaviest terms when its text is unknown). A weight marked
    ``+`` is an expansion on that side. With `color` the text carries ANSI styles, which
    ``click.echo`` strips when the output is not a terminal. `width` must be at least 40.
    """
    if not _MIN_WIDTH <= width <= MAX_WIDTH:
        raise ValueError(f"width must be within [{_MIN_WIDTH}, {MAX_WIDTH}], got {width}")
    if top < 0 or doc_top < 0:
        raise ValueError("top and doc_top cannot be negative")
    ex = explanation
    paint = _Painter(color)
    lines = [_header(ex, title, width, paint), paint("─" * width, dim=True)]
    if ex.matched:
        lines += _table(ex, width, top, paint)
    else:
        lines.append(
            _fit(f"no term in common between the query and document {ex.docid}: score 0", width)
        )
    lines.append("")
    lines += _query_block(ex, width, paint)
    lines.append("")
    lines += _doc_block(ex, width, doc_top, paint)
    if _uses_marks(ex):
        lines.append("")
        lines.append(
            paint(
                _fit(
                    f"{_EXPANSION_MARK} expansion: the term is not in the query (or document) text",
                    width,
                ),
                dim=True,
            )
        )
    return "\n".join(lines)


class _Painter:
    """click.style when colour is wanted, the plain text otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, **styles) -> str:
        return click.style(text, **styles) if self.enabled and text else text


def _header(ex: Explanation, title: str | None, width: int, paint: _Painter) -> str:
    right = f"score {ex.score:,}"
    room = width - _cells(right) - 2
    docid = _fit(ex.docid, room)
    left = paint(docid, bold=True)
    used = _cells(docid)
    if title and room - used > 4:
        shown = _fit(" ".join(title.split()), room - used - 2)
        left += "  " + shown
        used += 2 + _cells(shown)
    return left + " " * (width - used - _cells(right)) + paint(right, bold=True)


def _table(ex: Explanation, width: int, top: int, paint: _Painter) -> list[str]:
    shown, rest = ex.matched[:top], ex.matched[top:]
    rest_sum = sum(c.contribution for c in rest)
    qw = max([len("query") - 1] + [len(f"{c.query_weight:,}") for c in shown])
    dw = max([len("doc") - 1] + [len(f"{c.doc_weight:,}") for c in shown])
    cw = max([len("q×d"), len(f"{ex.score:,}"), len(f"{rest_sum:,}")])
    cw = max([cw] + [len(f"{c.contribution:,}") for c in shown])
    numbers = 2 + (qw + 1) + 2 + (dw + 1) + 2 + cw  # after the term column
    share_cells = 8  # two spaces and "100.0%"
    natural = min(_MAX_TERM_CELLS, max([4] + [_cells(c.term) for c in shown]))
    # the term column gives way first, down to 4 cells, then the share column goes
    tw = min(natural, width - 2 - numbers - share_cells)
    if tw < 4:
        share_cells = 0
        tw = max(1, min(natural, width - 2 - numbers))
    bar_cells = min(_MAX_BAR_CELLS, width - 2 - tw - numbers - share_cells - 2)
    top_contribution = max((c.contribution for c in shown), default=0)

    def share(value: int) -> str:
        if not share_cells:
            return ""
        text = f"{100 * value / ex.score:.1f}%" if ex.score > 0 else "–"
        return "  " + text.rjust(6)

    head = (
        "  "
        + _ljust("term", tw)
        + "  "
        + "query".rjust(qw + 1)
        + "  "
        + "doc".rjust(dw + 1)
        + "  "
        + "q×d".rjust(cw)
        + ("  " + "share".rjust(6) if share_cells else "")
    )
    lines = [paint(head, dim=True)]
    for c in shown:
        q_mark = _EXPANSION_MARK if c.expansion_in_query else " "
        d_mark = _EXPANSION_MARK if c.expansion_in_doc else " "
        term = _ljust(_fit(c.term, tw), tw)
        term = paint(term, fg="cyan") if _is_expansion(c) else paint(term, bold=True)
        row = (
            "  "
            + term
            + "  "
            + f"{c.query_weight:,}".rjust(qw)
            + q_mark
            + "  "
            + f"{c.doc_weight:,}".rjust(dw)
            + d_mark
            + "  "
            + f"{c.contribution:,}".rjust(cw)
            + share(c.contribution)
        )
        if bar_cells >= 3 and top_contribution > 0:
            row += "  " + paint(_bar(c.contribution / top_contribution * bar_cells), fg="green")
        lines.append(row.rstrip())
    span = tw + 2 + (qw + 1) + 2 + (dw + 1)  # label cells of the summary rows
    if rest:
        label = _ljust(_fit(f"… {len(rest)} more term{'s' * (len(rest) > 1)}", span), span)
        lines.append(
            paint("  " + label + "  " + f"{rest_sum:,}".rjust(cw) + share(rest_sum), dim=True)
        )
    total = f"total ({len(ex.matched)} term{'s' * (len(ex.matched) > 1)})"
    label = _ljust(_fit(total, span), span)
    lines.append(
        paint("  " + label + "  " + f"{ex.score:,}".rjust(cw) + share(ex.score), bold=True)
    )
    if ex.score > 0:
        part = ex.expansion_score
        lines.append(
            paint(
                _fit(
                    f"  {len(ex.matched)} of {len(ex.query_terms)} query terms matched; "
                    f"{100 * part / ex.score:.1f}% of the score from expansion terms",
                    width,
                ),
                dim=True,
            )
        )
    return lines


def _query_block(ex: Explanation, width: int, paint: _Painter) -> list[str]:
    terms = _by_weight(ex.query_terms)
    if not terms:
        return ["query: no terms"]
    items = []
    for term, weight in terms:
        mark = _EXPANSION_MARK if term not in ex.query_tokens else ""
        text = f"{mark}{_fit(term, _MAX_TERM_CELLS)} {weight:,}"
        items.append((text, {} if term in ex.doc_terms else {"dim": True}))
    matched = sum(1 for term, _ in terms if term in ex.doc_terms)
    head = f"query terms by weight ({matched} of {len(terms)} in the document, the others dim)"
    return [_fit(head, width), *_wrap(items, width, paint)]


def _doc_block(ex: Explanation, width: int, doc_top: int, paint: _Painter) -> list[str]:
    terms = _by_weight(ex.doc_terms)
    if ex.doc_tokens is None:
        pool = terms
        head = f"document: top {min(doc_top, len(pool))} of {len(terms)} terms"
    else:
        pool = [(t, w) for t, w in terms if t not in ex.doc_tokens]
        head = (
            f"document: top {min(doc_top, len(pool))} of {len(pool)} expansion terms "
            f"({len(terms)} terms in all)"
        )
    if not terms:
        return [_fit("document: no terms (an empty vector)", width)]
    items = [
        (f"{_fit(t, _MAX_TERM_CELLS)} {w:,}", {"bold": True} if t in ex.query_terms else {})
        for t, w in pool[:doc_top]
    ]
    if len(pool) > doc_top:
        items.append((f"… {len(pool) - doc_top} more", {"dim": True}))
    return [_fit(head, width), *(_wrap(items, width, paint) or ["  (none)"])]


def _uses_marks(ex: Explanation) -> bool:
    return bool(ex.query_terms.keys() - ex.query_tokens) or any(
        c.expansion_in_doc for c in ex.matched
    )


def _by_weight(terms: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(terms.items(), key=lambda item: (-item[1], item[0]))


def _wrap(items: list[tuple[str, dict]], width: int, paint: _Painter) -> list[str]:
    """Items two spaces apart, in lines of at most `width` cells that start with two spaces."""
    lines: list[str] = []
    line, used = "", 0
    for text, styles in items:
        text = _fit(text, width - 2)
        cells = _cells(text)
        if used and used + 2 + cells > width:
            lines.append(line)
            line, used = "", 0
        if not used:
            line, used = "  ", 2
        else:
            line, used = line + "  ", used + 2
        line += paint(text, **styles)
        used += cells
    if used:
        lines.append(line)
    return lines


def _bar(length: float) -> str:
    """A horizontal bar of `length` cells drawn in eighths; never empty for a positive one."""
    eighths = max(1, round(length * 8)) if length > 0 else 0
    full, part = divmod(eighths, 8)
    return _FULL_BLOCK * full + (_PARTIAL_BLOCKS[part - 1] if part else "")


def _char_cells(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _cells(text: str) -> int:
    """Terminal cells `text` takes: wide East Asian characters two, combining marks none."""
    return sum(_char_cells(ch) for ch in text)


def _fit(text: str, cells: int) -> str:
    """`text` cut to `cells` terminal cells, ending in … when it was cut (what could drive
    the terminal is shown escaped: terms, ids and titles come from files)."""
    text = printable(text)
    if cells <= 0:
        return ""
    if _cells(text) <= cells:
        return text
    out, used = "", 0
    for ch in text:
        w = _char_cells(ch)
        if used + w > cells - 1:
            break
        out += ch
        used += w
    return out + "…"


def _ljust(text: str, cells: int) -> str:
    return text + " " * max(0, cells - _cells(text))
