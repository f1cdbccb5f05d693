"""Tests of `splade-lite demo`: the stdlib corpus, the explanation of hits, and one full run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import click
import pytest

from splade_lite.cli_demo import demo_json, format_matches, render_result, show_demo
from splade_lite.demo import (
    DEMO_QUERIES,
    DemoHit,
    QueryResult,
    default_workdir,
    run_demo,
)
from splade_lite.explain import explain
from splade_lite.io import read_corpus
from splade_lite.stdlib_corpus import COMPILED_MODULES, build_stdlib_corpus, write_corpus

# --------------------------------------------------------------------------------------------
# The corpus, on this interpreter's standard library


@pytest.fixture(scope="module")
def stdlib_docs():
    return build_stdlib_corpus(2000)


def test_stdlib_corpus_is_deterministic(stdlib_docs):
    again = build_stdlib_corpus(2000)
    assert [d.record() for d in again] == [d.record() for d in stdlib_docs]


def test_stdlib_corpus_ids_unique_and_texts_real(stdlib_docs):
    assert len(stdlib_docs) == 2000  # the standard library has far more docstrings than that
    ids = [d.id for d in stdlib_docs]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    for doc in stdlib_docs:
        assert doc.id and not any(c.isspace() for c in doc.id)
        assert len(doc.text) >= 40 and doc.text == doc.text.strip()
        assert len(doc.text) <= 600
        assert "\n" not in doc.text
        assert doc.title.startswith(doc.id)


def test_stdlib_corpus_has_the_demo_answers(stdlib_docs):
    ids = {d.id for d in stdlib_docs}
    for query in DEMO_QUERIES:
        assert ids & set(query.wanted), query
    by_id = {d.id: d for d in stdlib_docs}
    assert by_id["time.sleep"].title == "time.sleep(seconds)"
    # the signature line of an old-style docstring goes to the title, not the text
    assert not by_id["time.sleep"].text.startswith("sleep(")


def test_stdlib_corpus_skips_tests_and_tools(stdlib_docs):
    skipped = ("test.", "idlelib", "lib2to3", "tkinter", "turtledemo", "ensurepip", "antigravity")
    for doc in stdlib_docs:
        assert not doc.id.startswith(skipped), doc.id
        assert not any(part.startswith("_") for part in doc.id.split(".")), doc.id


@pytest.mark.parametrize("max_docs", [1, 50, 120])
def test_stdlib_corpus_respects_max_docs(max_docs):
    docs = build_stdlib_corpus(max_docs)
    assert len(docs) == max_docs
    # a small corpus is made of module docstrings, spread over the whole alphabet
    assert all("." not in d.id or d.title == d.id for d in docs)
    if max_docs >= 50:
        assert len({d.id[0] for d in docs}) >= 10


def test_stdlib_corpus_rejects_zero():
    with pytest.raises(ValueError):
        build_stdlib_corpus(0)


def test_stdlib_corpus_imports_nothing():
    # a fresh interpreter, since this one may have imported anything already
    code = textwrap.dedent(
        """
        import json, sys
        from splade_lite.stdlib_corpus import build_stdlib_corpus, stdlib_dir
        stdlib_dir()
        before = set(sys.modules)
        docs = build_stdlib_corpus(100_000)
        print(json.dumps({"new": sorted(set(sys.modules) - before), "n": len(docs)}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(report["new"]) <= set(COMPILED_MODULES), report["new"]
    assert report["n"] > 2000
    for name in ("antigravity", "this", "tkinter", "idlelib", "turtle"):
        assert name not in report["new"]


def test_corpus_file_reads_back(tmp_path):
    docs = build_stdlib_corpus(60)
    path = tmp_path / "corpus.jsonl"
    assert write_corpus(docs, path) == 60
    back = list(read_corpus(path))
    assert [(d.id, d.title, d.text) for d in back] == [(d.id, d.title, d.text) for d in docs]


# --------------------------------------------------------------------------------------------
# The corpus rules, on a made-up library (independent of the Python version)


def _write(root: Path, rel: str, source: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")


LONG = "explains at some length what this does, so that it passes the length filter"


@pytest.fixture()
def fake_stdlib(tmp_path):
    root = tmp_path / "lib"
    _write(
        root,
        "jsonish/__init__.py",
        f'''
        """The jsonish package {LONG}."""
        __all__ = ["dumps", "Encoder"]
        def dumps(obj, *, indent=None, **kw):
            """Serialize obj: {LONG}."""
        def helper(x):
            """A helper left out of __all__: {LONG}."""
        def _hidden():
            """Private: {LONG}."""
        class Encoder:
            """Encoder class {LONG}."""
            def encode(self, o):
                """Encode o: {LONG}."""
            def _private(self):
                """Private method {LONG}."""
        ''',
    )
    _write(root, "jsonish/tool.py", f'"""The command line tool {LONG}."""\n')
    _write(
        root,
        "rand.py",
        f'''
        """Random things {LONG}."""
        __all__ = ["Random", "randint"]
        class Random:
            def randint(self, a, b):
                """Return a random integer in range [a, b], {LONG}."""
        _inst = Random()
        randint = _inst.randint
        ''',
    )
    _write(
        root,
        "oldstyle.py",
        f'''
        __all__ = []
        __all__.extend(["makedirs"])
        def makedirs(name, mode=0o777, exist_ok=False):
            """makedirs(name [, mode=0o777])

            Super-mkdir; {LONG}."""
        ''',
    )
    _write(root, "short.py", '"""Too short."""\ndef f():\n    """Also short."""\n')
    _write(root, "broken.py", f'"""Broken {LONG}."""\ndef (:\n')
    _write(root, "copy_a.py", f'def same():\n    """Copied docstring {LONG}."""\n')
    _write(root, "copy_b.py", f'def same():\n    """Copied docstring {LONG}."""\n')
    for skipped in (
        "test/test_x.py",
        "idlelib/__init__.py",
        "site-packages/pkg/__init__.py",
        "_private.py",
        "antigravity.py",
        "jsonish/__main__.py",
        "notapackage/mod.py",
    ):
        _write(root, skipped, f'"""Must be skipped: {LONG}."""\n')
    return root


def test_fake_stdlib_rules(fake_stdlib):
    docs = build_stdlib_corpus(100, root=fake_stdlib, compiled_modules=())
    by_id = {d.id: d for d in docs}
    expected = {
        "jsonish",
        "jsonish.tool",
        "rand",
        "jsonish.dumps",
        "jsonish.helper",
        "jsonish.Encoder",
        "jsonish.Encoder.encode",
        "rand.randint",
        "oldstyle.makedirs",
        "copy_a.same",  # copy_b.same has the same docstring: dropped
    }
    assert set(by_id) == expected
    assert by_id["jsonish.dumps"].title == "jsonish.dumps(obj, *, indent, **kw)"
    assert by_id["jsonish.Encoder.encode"].title == "jsonish.Encoder.encode(o)"
    # a module-level binding of an instance's method is documented under its public name
    # (and the method itself, a copy, is dropped)
    assert by_id["rand.randint"].title == "rand.randint(a, b)"
    assert by_id["oldstyle.makedirs"].text.startswith("Super-mkdir;")
    # tiers: modules, then exported top-level names, then methods and unexported names
    assert by_id["jsonish"].tier == 0
    assert by_id["jsonish.dumps"].tier == 1 and by_id["rand.randint"].tier == 1
    assert by_id["oldstyle.makedirs"].tier == 1  # exported through __all__.extend
    assert by_id["jsonish.helper"].tier == 2 and by_id["jsonish.Encoder.encode"].tier == 2


def test_fake_stdlib_selection_prefers_modules(fake_stdlib):
    docs = build_stdlib_corpus(3, root=fake_stdlib, compiled_modules=())
    assert {d.id for d in docs} == {"jsonish", "jsonish.tool", "rand"}
    docs = build_stdlib_corpus(4, root=fake_stdlib, compiled_modules=())
    assert {d.tier for d in docs} == {0, 1}


# --------------------------------------------------------------------------------------------
# Showing why a hit matched (no JVM, no model): explain.py's split, drawn by the CLI

QUERY = {"sleep": 120, "seconds": 80, "pause": 50, "wait": 30, ".": 7}
DOC = {"sleep": 150, "seconds": 90, "delay": 40, "wait": 10, "time": 99}
QUERY_TOKENS = ["pause", "for", "seconds"]


def test_the_demo_explains_with_explain_py():
    # the demo has no explanation engine of its own: a hit carries explain.py's Explanation
    import splade_lite.demo as demo

    assert not hasattr(demo, "match_terms") and not hasattr(demo, "MatchedTerm")
    ex = explain(QUERY, DOC, "time.sleep", QUERY_TOKENS)
    assert ex.score == 120 * 150 + 80 * 90 + 30 * 10
    assert [(c.term, c.expansion_in_query) for c in ex.matched] == [
        ("sleep", True),
        ("seconds", False),
        ("wait", True),
    ]


def test_nothing_shared():
    assert format_matches(explain({"a": 1}, {"b": 2}, "d", ["a"])) == "(no shared term)"
    assert format_matches(None) == "(no shared term)"


def test_format_matches_marks_and_styles_expansions():
    matches = explain(QUERY, DOC, "time.sleep", QUERY_TOKENS)
    styled = format_matches(matches)
    plain = click.unstyle(styled)
    # +wait adds 300 of 25,500 (1.2%): it does not carry the match, so it is summed
    assert plain == "+sleep 120x150=18000, seconds 80x90=7200, 1 more=300"
    assert click.unstyle(format_matches(matches, min_share=0)).endswith("+wait 30x10=300")
    assert styled != plain  # the expansion terms carry ANSI styles (dropped off a terminal)
    assert "seconds 80x90" in styled and "\x1b[" not in styled.split("seconds")[1].split(",")[0]
    # beyond the limit the rest is summed, so the shown numbers still add up to the score
    assert click.unstyle(format_matches(matches, limit=1)) == "+sleep 120x150=18000, 2 more=7500"
    # punctuation is quoted so that it does not read as a separator
    dot = explain({".": 7}, {".": 3}, "d", ["pause"])
    assert click.unstyle(format_matches(dot)) == '+"." 7x3=21'


def test_render_result():
    matches = explain(QUERY, DOC, "time.sleep", QUERY_TOKENS)
    result = QueryResult(
        "pause for seconds",
        splade=[DemoHit(1, "time.sleep", matches.score, "time.sleep(seconds)", matches)],
        bm25=[
            DemoHit(1, "sched.scheduler", 3.5, "sched.scheduler"),
            DemoHit(2, "time.sleep", 2.25, "time.sleep(seconds)"),
        ],
        wanted=("time.sleep",),
        splade_rank=1,
        bm25_rank=2,
    )
    lines: list[str] = []
    render_result(result, lines.append)
    text = click.unstyle("\n".join(lines))
    assert 'Query: "pause for seconds"' in text
    assert "1. time.sleep(seconds)  score 25500 <- wanted (BM25 #2)" in text
    assert "+sleep 120x150=18000, seconds 80x90=7200, 1 more=300" in text
    assert "2. time.sleep(seconds)  score 2.25 <- wanted (SPLADE #1)" in text
    assert "SPLADE ranks it #1; BM25 ranks it #2." in text
    # --json: the same hits as data
    from splade_lite.demo import DemoResult

    data = demo_json(DemoResult(Path("w"), 2, [result]))
    (query,) = data["queries"]
    assert query["splade_rank"] == 1 and query["bm25_rank"] == 2
    assert [m["term"] for m in query["splade"][0]["matched"]] == ["sleep", "seconds", "wait"]
    assert query["bm25"][1] == {
        "rank": 2,
        "docid": "time.sleep",
        "score": 2.25,
        "title": "time.sleep(seconds)",
    }


def test_default_workdir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_workdir() == tmp_path / "splade-lite" / "demo"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_workdir() == Path.home() / ".cache" / "splade-lite" / "demo"


# --------------------------------------------------------------------------------------------
# End to end (Java, Anserini and the splade-tiny weights)


def _needs_pipeline() -> None:
    """Skip unless Java 21+, Pyserini's Anserini jar and the splade-tiny weights are here."""
    try:
        from splade_lite.encoders import resolve_model
        from splade_lite.indexer import anserini_jar, java_home

        java_home()
        anserini_jar()
        resolve_model("splade-tiny")
    except Exception as err:  # any missing piece means: not on this machine
        pytest.skip(f"demo pipeline unavailable: {err}")


@pytest.mark.jvm
@pytest.mark.slow
def test_run_demo_end_to_end(tmp_path):
    _needs_pipeline()
    workdir = tmp_path / "demo"
    lines: list[str] = []
    result = run_demo(workdir=workdir, max_docs=100, log=lines.append)
    assert "Building the demo" in lines[0]
    lines.clear()
    show_demo(result, lines.append)
    text = click.unstyle("\n".join(lines))

    assert result.num_docs == 100 and not result.cached
    assert len(list(read_corpus(workdir / "corpus.jsonl"))) == 100
    assert (workdir / "index" / "splade_lite.json").is_file()
    assert [q.query for q in result.queries] == [q.text for q in DEMO_QUERIES]
    for query in result.queries:
        assert 0 < len(query.splade) <= 5 and len(query.bm25) <= 5
        for hit in query.splade:
            # the score Lucene computed is exactly the sum of the shown contributions
            assert hit.explanation is not None and hit.explanation.matched
            assert sum(m.contribution for m in hit.explanation.matched) == hit.score
            assert all(m.query_weight > 0 and m.doc_weight > 0 for m in hit.explanation.matched)
        assert [h.score for h in query.bm25] == sorted((h.score for h in query.bm25), reverse=True)
    for needle in ("SPLADE", "BM25", "Where to go next", "splade-lite encode CORPUS --out VECTORS"):
        assert needle in text
    assert "splade-lite index VECTORS --out INDEX --bm25-corpus CORPUS" in text
    assert 'splade-lite search INDEX "' in text and "splade-lite evaluate" in text
    assert "search INDEX --queries QUERIES --run run.trec" in text  # the option search has

    # a second run reuses the index and only searches; own queries replace the built-in ones
    started = time.perf_counter()
    lines.clear()
    again = run_demo(workdir=workdir, max_docs=100, queries=["sort a list"], log=lines.append)
    assert again.cached and time.perf_counter() - started < 60
    assert [q.query for q in again.queries] == ["sort a list"]
    assert "Using the demo index built earlier" in lines[0]

    # another corpus size is another corpus: rebuilt, not reused
    other = run_demo(workdir=workdir, max_docs=60, queries=["sort"])
    assert other.num_docs == 60 and not other.cached


@pytest.mark.jvm
@pytest.mark.slow
def test_demo_command_uses_the_cache(tmp_path):
    _needs_pipeline()
    from click.testing import CliRunner

    from splade_lite.cli import main

    workdir = tmp_path / "demo"
    run_demo(workdir=workdir, max_docs=50, queries=["x"])
    args = ["demo", "--workdir", str(workdir), "--max-docs", "50", "--query", "sort a list"]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    assert "Using the demo index built earlier" in out.stderr  # a note, not a result
    assert 'Query: "sort a list"' in out.stdout
    assert "\x1b[" not in out.output  # no terminal, no colour codes
    data = json.loads(CliRunner().invoke(main, [*args, "--json", "--quiet"]).stdout)
    assert data["cached"] and [q["query"] for q in data["queries"]] == ["sort a list"]
    quiet = CliRunner().invoke(main, [*args, "--quiet"])
    assert quiet.stderr == "" and quiet.stdout == out.stdout


def test_next_steps_name_a_command_that_runs(monkeypatch, tmp_path):
    import shutil
    import sys

    from splade_lite.cli_demo import command_name

    monkeypatch.setattr(shutil, "which", lambda name: None)  # not on PATH
    script = tmp_path / "bin" / "splade-lite"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    assert command_name() == str(script)
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/splade-lite")
    assert command_name() == "splade-lite"
