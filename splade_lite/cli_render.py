"""What the command line draws on a terminal: hit lines, and the table of a score explanation.

Product modules return data (:class:`~splade_lite.search.TextHit`,
:class:`~splade_lite.explain.Explanation`); this module turns them into lines of at most a
given width, measured in terminal cells (wide East Asian characters take two, combining
marks none). Everything that came from a file goes through
:func:`~splade_lite.terminal.printable` on its way out.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import click

from splade_lite.errors import BadValueError
from splade_lite.explain import Explanation
from splade_lite.terminal import printable

_PARTIAL_BLOCKS = "▏▎▍▌▋▊▉"  # 1/8 .. 7/8 of a cell
_FULL_BLOCK = "█"
MIN_WIDTH = 40
MAX_WIDTH = 1000  # cells; each line is built whole in memory
_MAX_TERM_CELLS = 24
_MAX_BAR_CELLS = 40
_EXPANSION_MARK = "+"


# --------------------------------------------------------------------------------------------
# Hits


def format_score(score: float) -> str:
    """Impact scores are integers; BM25 and fused scores are not."""
    return f"{score:.0f}" if float(score).is_integer() else f"{score:.4f}"


def hit_text(doc: Mapping[str, Any] | None, width: int = 90) -> str:
    """A document's title (else the start of its text) on one line of at most `width` cells."""
    if not doc:
        return ""
    text = doc.get("title") or doc.get("text") or ""
    return fit(" ".join(str(text).split()), width)


def hit_lines(hits: Sequence[Any]) -> list[str]:
    """``rank  score  docid  title`` for each :class:`~splade_lite.search.TextHit`."""
    if not hits:
        return ["no document matches this query"]
    return [
        f"{rank:>3}  {format_score(hit.score):>10}  {printable(hit.docid)}  "
        f"{hit_text(hit._asdict())}"
        for rank, hit in enumerate(hits, 1)
    ]


def hits_json(hits: Sequence[Any]) -> list[dict]:
    """The hits as ``search --json`` prints them."""
    return [
        {"rank": rank, "docid": h.docid, "score": h.score, "title": h.title}
        for rank, h in enumerate(hits, 1)
    ]


# --------------------------------------------------------------------------------------------
# Explanations


def explanation_json(ex: Explanation) -> dict:
    """An explanation as ``explain --json`` prints it (terms by weight, heaviest first)."""
    return {
        "docid": ex.docid,
        "score": ex.score,
        "expansion_score": ex.expansion_score,
        "matched": [
            {
                "term": c.term,
                "query_weight": c.query_weight,
                "doc_weight": c.doc_weight,
                "contribution": c.contribution,
                "expansion_in_query": c.expansion_in_query,
                "expansion_in_doc": c.expansion_in_doc,
            }
            for c in ex.matched
        ],
        "query_terms": dict(_by_weight(ex.query_terms)),
        "doc_terms": dict(_by_weight(ex.doc_terms)),
    }


def render_explanation(
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
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise BadValueError(f"width must be within [{MIN_WIDTH}, {MAX_WIDTH}], got {width}")
    if top < 0 or doc_top < 0:
        raise BadValueError("top and doc_top cannot be negative")
    ex = explanation
    paint = _Painter(color)
    lines = [_header(ex, title, width, paint), paint("─" * width, dim=True)]
    if ex.matched:
        lines += _table(ex, width, top, paint)
    else:
        lines.append(
            fit(f"no term in common between the query and document {ex.docid}: score 0", width)
        )
    lines.append("")
    lines += _query_block(ex, width, paint)
    lines.append("")
    lines += _doc_block(ex, width, doc_top, paint)
    if _uses_marks(ex):
        lines.append("")
        lines.append(
            paint(
                fit(
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
    room = width - cells(right) - 2
    docid = fit(ex.docid, room)
    left = paint(docid, bold=True)
    used = cells(docid)
    if title and room - used > 4:
        shown = fit(" ".join(title.split()), room - used - 2)
        left += "  " + shown
        used += 2 + cells(shown)
    return left + " " * (width - used - cells(right)) + paint(right, bold=True)


def _table(ex: Explanation, width: int, top: int, paint: _Painter) -> list[str]:
    shown, rest = ex.matched[:top], ex.matched[top:]
    rest_sum = sum(c.contribution for c in rest)
    qw = max([len("query") - 1] + [len(f"{c.query_weight:,}") for c in shown])
    dw = max([len("doc") - 1] + [len(f"{c.doc_weight:,}") for c in shown])
    cw = max([len("q×d"), len(f"{ex.score:,}"), len(f"{rest_sum:,}")])
    cw = max([cw] + [len(f"{c.contribution:,}") for c in shown])
    numbers = 2 + (qw + 1) + 2 + (dw + 1) + 2 + cw  # after the term column
    share_cells = 8  # two spaces and "100.0%"
    natural = min(_MAX_TERM_CELLS, max([4] + [cells(c.term) for c in shown]))
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
        + ljust("term", tw)
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
        term = ljust(fit(c.term, tw), tw)
        term = paint(term, fg="cyan") if c.expansion else paint(term, bold=True)
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
            row += "  " + paint(bar(c.contribution / top_contribution * bar_cells), fg="green")
        lines.append(row.rstrip())
    span = tw + 2 + (qw + 1) + 2 + (dw + 1)  # label cells of the summary rows
    if rest:
        label = ljust(fit(f"… {len(rest)} more term{'s' * (len(rest) > 1)}", span), span)
        lines.append(
            paint("  " + label + "  " + f"{rest_sum:,}".rjust(cw) + share(rest_sum), dim=True)
        )
    total = f"total ({len(ex.matched)} term{'s' * (len(ex.matched) > 1)})"
    label = ljust(fit(total, span), span)
    lines.append(
        paint("  " + label + "  " + f"{ex.score:,}".rjust(cw) + share(ex.score), bold=True)
    )
    if ex.score > 0:
        part = ex.expansion_score
        lines.append(
            paint(
                fit(
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
        text = f"{mark}{fit(term, _MAX_TERM_CELLS)} {weight:,}"
        items.append((text, {} if term in ex.doc_terms else {"dim": True}))
    matched = sum(1 for term, _ in terms if term in ex.doc_terms)
    head = f"query terms by weight ({matched} of {len(terms)} in the document, the others dim)"
    return [fit(head, width), *_wrap(items, width, paint)]


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
        return [fit("document: no terms (an empty vector)", width)]
    items = [
        (f"{fit(t, _MAX_TERM_CELLS)} {w:,}", {"bold": True} if t in ex.query_terms else {})
        for t, w in pool[:doc_top]
    ]
    if len(pool) > doc_top:
        items.append((f"… {len(pool) - doc_top} more", {"dim": True}))
    return [fit(head, width), *(_wrap(items, width, paint) or ["  (none)"])]


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
        text = fit(text, width - 2)
        size = cells(text)
        if used and used + 2 + size > width:
            lines.append(line)
            line, used = "", 0
        if not used:
            line, used = "  ", 2
        else:
            line, used = line + "  ", used + 2
        line += paint(text, **styles)
        used += size
    if used:
        lines.append(line)
    return lines


def bar(length: float) -> str:
    """A horizontal bar of `length` cells drawn in eighths; never empty for a positive one."""
    eighths = max(1, round(length * 8)) if length > 0 else 0
    full, part = divmod(eighths, 8)
    return _FULL_BLOCK * full + (_PARTIAL_BLOCKS[part - 1] if part else "")


def _char_cells(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def cells(text: str) -> int:
    """Terminal cells `text` takes: wide East Asian characters two, combining marks none."""
    return sum(_char_cells(ch) for ch in text)


def fit(text: str, width: int) -> str:
    """`text` cut to `width` terminal cells, ending in … when it was cut (what could drive
    the terminal is shown escaped: terms, ids and titles come from files)."""
    text = printable(text)
    if width <= 0:
        return ""
    if cells(text) <= width:
        return text
    out, used = "", 0
    for ch in text:
        w = _char_cells(ch)
        if used + w > width - 1:
            break
        out += ch
        used += w
    return out + "…"


def ljust(text: str, width: int) -> str:
    """`text` padded with spaces to `width` terminal cells."""
    return text + " " * max(0, width - cells(text))
