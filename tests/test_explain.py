"""Score explanations: exact per-term split of an impact score, and its terminal table."""

from __future__ import annotations

import json
import re

import click
import pytest

from splade_lite.cli_render import bar, cells, explanation_json
from splade_lite.cli_render import render_explanation as render
from splade_lite.explain import Explanation, TermContribution, explain
from splade_lite.vectors import EMPTY_DOC_TOKEN

QUERY = {"vitamin": 3, "d": 2, "bone": 5, "health": 1}
QUERY_TOKENS = ["vitamin", "d", "health"]  # "bone" is the model's expansion of the query
DOC = {"vitamin": 10, "bone": 4, "calcium": 7, "d": 6, "##ing": 2}
DOC_TOKENS = ["vitamin", "d", "calcium", "##ing"]  # "bone" is an expansion of the document


def table_rows(lines: list[str]) -> list[list[str]]:
    """The split term rows of the table (the lines above its total)."""
    end = next(i for i, line in enumerate(lines) if line.strip().startswith("total"))
    return [line.split() for line in lines[2:end] if re.match(r"  [^\s…]+ +\d", line)]


def example() -> Explanation:
    return explain(QUERY, DOC, "doc-1", QUERY_TOKENS, DOC_TOKENS)


def test_hand_computed_example():
    ex = example()
    # vitamin 3 × 10 = 30, bone 5 × 4 = 20, d 2 × 6 = 12; "health" is not in the document
    assert ex.score == 62
    assert ex.matched == [
        TermContribution("vitamin", 3, 10, 30, False, False),
        TermContribution("bone", 5, 4, 20, True, True),
        TermContribution("d", 2, 6, 12, False, False),
    ]
    assert sum(c.contribution for c in ex.matched) == ex.score
    assert ex.expansion_score == 20
    assert ex.docid == "doc-1"
    assert ex.query_terms == QUERY and ex.doc_terms == DOC


def test_ties_sorted_by_term_and_doc_text_unknown():
    ex = explain({"b": 2, "a": 1, "c": 4}, {"a": 4, "b": 2, "c": 1}, "x", query_tokens=["a"])
    assert [c.term for c in ex.matched] == ["a", "b", "c"]  # 4, 4, 4
    assert ex.score == 12
    assert [c.expansion_in_query for c in ex.matched] == [False, True, True]
    assert all(c.expansion_in_doc is None for c in ex.matched)


def test_contributions_add_up_on_large_vectors():
    query = {f"t{i}": (i * 37) % 251 + 1 for i in range(0, 400, 3)}
    doc = {f"t{i}": (i * 91) % 173 + 1 for i in range(0, 400, 2)}
    ex = explain(query, doc, "big")
    assert ex.score == sum(query[t] * doc[t] for t in query.keys() & doc.keys())
    assert sum(c.contribution for c in ex.matched) == ex.score
    assert len(ex.matched) == len(query.keys() & doc.keys())


def test_placeholder_and_weight_types():
    ex = explain({"a": 2}, {EMPTY_DOC_TOKEN: 1}, "empty")
    assert ex.doc_terms == {} and ex.score == 0
    with pytest.raises(TypeError):
        explain({"a": 1.5}, {"a": 2}, "x")  # floats would not add up exactly


def test_no_term_in_common():
    ex = explain({"aurora": 80}, {"vitamin": 90}, "d9", ["aurora"], ["vitamin"])
    assert ex.score == 0 and ex.matched == []
    text = render(ex, color=False)
    assert "no term in common" in text
    assert "score 0" in text.splitlines()[0]


def test_render_shows_the_parts():
    text = render(example(), title="Vitamin D and bones", color=False)
    lines = text.splitlines()
    assert lines[0].startswith("doc-1  Vitamin D and bones") and lines[0].endswith("score 62")
    rows = {row[0]: row for row in table_rows(lines)}
    assert rows["vitamin"][1:5] == ["3", "10", "30", "48.4%"]
    assert rows["bone"][1:5] == ["5+", "4+", "20", "32.3%"]  # expansion on both sides
    assert rows["d"][1:5] == ["2", "6", "12", "19.4%"]
    assert len(rows["vitamin"][5]) > len(rows["bone"][5]) > len(rows["d"][5])  # the bars
    assert any(line.split()[:3] == ["total", "(3", "terms)"] for line in lines)
    assert "+bone 5" in text and "health 1" in text  # query terms, matched or not
    doc_block = text.split("document:")[1]
    assert "top 1 of 1 expansion terms (5 terms in all)" in doc_block
    assert "bone 4" in doc_block and "calcium" not in doc_block  # calcium is in its text


def test_colour_is_only_styling():
    ex = example()
    coloured = render(ex, title="t", color=True)
    assert "\x1b[" in coloured
    assert click.unstyle(coloured) == render(ex, title="t", color=False)


@pytest.mark.parametrize("width", [40, 53, 80, 132])
def test_render_fits_width(width):
    query = {f"term{i}": 100 + i for i in range(30)}
    query["ridiculouslylongwordpiecewithoutanyend"] = 999
    query["日本語"] = 77
    doc = {t: 300 - i for i, t in enumerate(query)}
    doc.update({f"extra{i}": 5 for i in range(40)})
    title = "A very long title " * 10 + "骨"
    for ex in (
        explain(query, doc, "doc-with-a-rather-long-identifier", ["term1"], ["term2"]),
        explain(query, {}, "d0"),
    ):
        text = render(ex, title=title, width=width, top=12, doc_top=30)
        for line in click.unstyle(text).splitlines():
            assert cells(line) <= width, line


def test_truncated_rows_add_up():
    query = {f"t{i:02d}": i + 1 for i in range(30)}
    doc = {f"t{i:02d}": 2 * i + 3 for i in range(30)}
    ex = explain(query, doc, "d")
    lines = render(ex, top=7, color=False).splitlines()
    shown = table_rows(lines)
    assert len(shown) == 7
    (rest,) = [line.split() for line in lines if line.strip().startswith("…")]
    assert rest[1:4] == ["23", "more", "terms"]
    (total,) = [line.split() for line in lines if line.strip().startswith("total")]

    def number(text: str) -> int:
        return int(text.replace(",", ""))

    assert sum(number(row[3]) for row in shown) + number(rest[4]) == ex.score
    assert number(total[3]) == ex.score


def test_doc_block_without_text_and_limits():
    ex = explain(QUERY, DOC, "doc-1", QUERY_TOKENS)
    text = render(ex, doc_top=2, color=False)
    assert "top 2 of 5 terms" in text and "… 3 more" in text
    with pytest.raises(ValueError, match=r"within \[40, 1000\]"):
        render(ex, width=30)


def test_bar_blocks():
    assert bar(0) == ""
    assert bar(0.01) == "▏"  # a positive contribution always shows
    assert bar(1.5) == "█▌"
    assert bar(3) == "███"


def test_the_table_is_drawn_by_the_cli_and_reached_from_the_api():
    from splade_lite import explain as api

    ex = example()
    assert api.render(ex, title="t", width=60, color=False) == render(
        ex, title="t", width=60, color=False
    )
    assert str(ex) == render(ex, width=100, color=False)
    assert not hasattr(api, "_table") and not hasattr(api, "click")  # no drawing left in it


def test_explanation_as_json():
    data = explanation_json(example())
    assert data["score"] == 62 and data["expansion_score"] == 20
    assert [(m["term"], m["contribution"]) for m in data["matched"]] == [
        ("vitamin", 30),
        ("bone", 20),
        ("d", 12),
    ]
    assert data["matched"][1]["expansion_in_query"] and data["matched"][1]["expansion_in_doc"]
    assert list(data["query_terms"]) == ["bone", "vitamin", "d", "health"]  # heaviest first
    assert json.loads(json.dumps(data)) == data  # plain JSON types only
