"""What a new user found (issue 16, items 4-6): help text that says what every option does and
what it defaults to, run files tagged with the system that made them, and input errors
refused before a model loads or Java starts."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import click
import pytest
from click.testing import CliRunner

from splade_lite.cli import main
from splade_lite.feedback import Feedback
from splade_lite.fusion import DEFAULT_ALPHA, DEFAULT_DEPTHS, DEFAULT_FUSION, Hybrid
from splade_lite.io import InputError
from splade_lite.pruning import IDF_FLOOR, Pruning
from splade_lite.runs import run_tag
from splade_lite.trec import write_trec_run

ROOT = Path(__file__).resolve().parents[1]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def commands() -> dict[str, click.Command]:
    return dict(main.commands)


def option_help(output: str, name: str) -> str:
    """The help of option `name` in a command's --help output, on one line."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(name + " "))
    entry = [lines[start]]
    for line in lines[start + 1 :]:
        if re.match(r"  -", line) or not line.strip():  # the next option, or the end
            break
        entry.append(line)
    text = ""
    for line in entry:  # click breaks lines after a hyphen too: "inference-" / "free"
        text += line.strip() if text.endswith("-") else " " + line.strip()
    return " ".join(text.split())


def never(what: str):
    """A stand-in for an expensive function that the test says must not run."""

    def called(*args, **kwargs):
        raise AssertionError(f"{what} was loaded")

    return called


# -- item 4: help text --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(commands()))
def test_every_option_of_every_command_has_a_description(name):
    command = commands()[name]
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        assert param.help, f"{name} {param.opts[0]} has no help text"
        description = param.help.split("[default")[0].strip()
        assert len(description) > 3, f"{name} {param.opts[0]}: only a default, no description"


def test_search_help_shows_defaults_taken_from_the_modules_that_own_them():
    output = invoke("search", "--help").output
    feedback = Feedback()
    expected = {
        "--alpha": f"[default: {DEFAULT_ALPHA:g}]",
        "--fusion": f"[default: {DEFAULT_FUSION}]",
        "--depth": f"{DEFAULT_DEPTHS['inference-free']} inference-free",
        "--fb-docs": f"[default: {feedback.docs}]",
        "--fb-terms": f"[default: {feedback.terms}]",
        "--fb-beta": f"[default: {feedback.beta:g}]",
        "--device": "[default: cuda when present]",
        "--threads": "[default: 1;",
        "--query-min-weight": f"[default: {IDF_FLOOR:g} for inference-free",
    }
    for name, shown in expected.items():
        assert shown in option_help(output, name), (name, option_help(output, name))


def test_doc_min_weight_says_it_is_a_float_weight_not_an_impact():
    text = option_help(invoke("index", "--help").output, "--doc-min-weight")
    assert "float" in text and "--scale" in text


def test_help_points_at_no_file_an_installed_package_lacks():
    for name in ["", *commands()]:
        output = invoke(*([name] if name else []), "--help").output
        for missing in ("docs/", ".md", "DESIGN"):
            assert missing not in output, (name or "splade-lite", missing)
    assert "README's Pruning section" in invoke("search", "--help").output
    for path in [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("splade_lite/**/*.py")]:
        assert "DESIGN.md" not in path.read_text(encoding="utf-8"), path


def test_adapt_defaults_to_the_readme_s_200_steps_and_train_keeps_1000():
    def default(command: str, param: str):
        return next(p.default for p in commands()[command].params if p.name == param)

    assert default("adapt", "max_steps") == 200
    assert default("train", "max_steps") == 1000
    assert default("adapt", "loss") == "margin-mse" and default("train", "loss") == "info-nce"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "200 for\n`adapt`" in readme or "200 for `adapt`" in readme
    assert "[default: 200;" in option_help(invoke("adapt", "--help").output, "--max-steps")


def test_options_of_an_opt_in_feature_are_refused_in_good_english(tmp_path):
    one = invoke("search", tmp_path, "q", "--alpha", "0.3")
    assert one.exit_code == 2 and "--alpha only applies with --hybrid" in one.output
    two = invoke("search", tmp_path, "q", "--fb-docs", "2", "--fb-beta", "0.2")
    assert two.exit_code == 2 and "--fb-docs, --fb-beta only apply with --feedback" in two.output


# -- item 5: run tags ---------------------------------------------------------------------------


def _searcher(mode="splade", *, hybrid=None, feedback=None, pruning=None, meta=None):
    """What run_tag reads of a Searcher, without an index."""
    meta = {"mode": "inference-free" if mode == "bm25" else mode, **(meta or {})}
    return SimpleNamespace(
        ranking=mode, hybrid=hybrid, feedback=feedback, pruning=pruning, meta=meta
    )


IF_META = {"idf_source": "corpus"}  # inference-free with corpus IDF: default floor IDF_FLOOR

SYSTEMS = {
    "splade-lite-splade": _searcher(),
    "splade-lite-inference-free": _searcher(
        "inference-free", meta=IF_META, pruning=Pruning(IDF_FLOOR)
    ),
    "splade-lite-bm25": _searcher("bm25"),
    "splade-lite-splade+bm25-interpolate-a0.5": _searcher(hybrid=Hybrid()),
    "splade-lite-splade+bm25-interpolate-a0.3-d50": _searcher(hybrid=Hybrid(alpha=0.3, depth=50)),
    "splade-lite-splade+bm25-rrf": _searcher(hybrid=Hybrid(fusion="rrf")),
    "splade-lite-splade+bm25-rrf-k10": _searcher(hybrid=Hybrid(fusion="rrf", rrf_k=10)),
    "splade-lite-splade-fb3x10b0.1": _searcher(feedback=Feedback()),
    "splade-lite-splade-fb5x20b0.25": _searcher(feedback=Feedback(5, 20, 0.25)),
    "splade-lite-inference-free-fb3x10b0.1+bm25-rrf": _searcher(
        "inference-free",
        meta=IF_META,
        pruning=Pruning(IDF_FLOOR),
        feedback=Feedback(),
        hybrid=Hybrid(fusion="rrf"),
    ),
    "splade-lite-inference-free-qmin0": _searcher("inference-free", meta=IF_META),
    "splade-lite-inference-free-qmin1": _searcher(
        "inference-free", meta=IF_META, pruning=Pruning(1.0)
    ),
    "splade-lite-inference-free-qmax16": _searcher(
        "inference-free", meta=IF_META, pruning=Pruning(IDF_FLOOR, 16)
    ),
    "splade-lite-splade-qmin0.3-qmax16": _searcher(pruning=Pruning(0.3, 16)),
    "splade-lite-splade-dmax64": _searcher(
        meta={"doc_pruning": {"min_weight": 0.0, "max_terms": 64}}
    ),
    "splade-lite-splade-dmin0.2": _searcher(
        meta={"doc_pruning": {"min_weight": 0.2, "max_terms": None}}
    ),
}


@pytest.mark.parametrize("expected", sorted(SYSTEMS))
def test_run_tag_names_the_system(expected):
    assert run_tag(SYSTEMS[expected]) == expected


def test_run_tags_differ_per_system_and_are_valid_trec_tags(tmp_path):
    tags = [run_tag(s) for s in SYSTEMS.values()]
    assert len(set(tags)) == len(tags)
    for tag in tags:
        assert not re.search(r"\s", tag)
        write_trec_run(tmp_path / "run.trec", [("q1", [("d1", 1.0)])], tag=tag)  # accepted
        assert (tmp_path / "run.trec").read_text().split()[-1] == tag


def test_run_tag_of_hand_edited_metadata_holds_no_whitespace():
    odd = _searcher(meta={"doc_pruning": {"min_weight": "a b", "max_terms": "1\t2"}})
    assert not re.search(r"\s", run_tag(odd))
    assert run_tag(_searcher(meta={"doc_pruning": ["not", "a", "dict"]})) == "splade-lite-splade"


@pytest.mark.jvm
def test_search_queries_files_are_tagged_with_their_system(tiny_built, tmp_path):
    queries = tmp_path / "queries.jsonl"
    queries.write_text('{"_id": "q1", "text": "aurora"}\n{"_id": "q2", "text": "coffee"}\n')
    index = tiny_built / "index"
    runs = {
        "splade-lite-splade": [],
        "splade-lite-bm25": ["--bm25"],
        "splade-lite-splade+bm25-interpolate-a0.5": ["--hybrid"],
        "splade-lite-splade+bm25-rrf": ["--hybrid", "--fusion", "rrf"],
        "splade-lite-splade-fb3x10b0.1": ["--feedback"],
        "splade-lite-splade-qmax2": ["--query-max-terms", "2"],
    }
    for tag, options in runs.items():
        out = tmp_path / f"{len(options)}-{'-'.join(options)}.trec"
        result = invoke("search", index, "--queries", queries, "--out", out, *options)
        assert result.exit_code == 0, result.output
        assert {line.split()[5] for line in out.read_text().splitlines()} == {tag}


# -- item 6: input errors before the model or Java ----------------------------------------------


@pytest.fixture
def no_model(monkeypatch):
    """Loading a document encoder fails the test."""
    monkeypatch.setattr("splade_lite.encoders.load_encoder", never("the model"))


def test_a_csv_corpus_is_refused_before_the_model_loads(no_model, tmp_path):
    corpus = tmp_path / "corpus.csv"
    corpus.write_text("id,text\n1,vitamin d\n2,sleep\n")
    result = invoke("encode", corpus, "--out", tmp_path / "vectors")
    assert result.exit_code == 1
    assert f"{corpus}:1: cannot tell the format" in result.output
    assert "encoding" not in result.output and not (tmp_path / "vectors").exists()


@pytest.mark.parametrize(
    ("line", "reason"),
    [('{"text": "no id here"}', "missing '_id'"), ("not json", "malformed JSON")],
)
def test_a_bad_record_anywhere_is_refused_before_the_model_loads(no_model, tmp_path, line, reason):
    corpus = tmp_path / "corpus.jsonl"
    good = [json.dumps({"_id": f"d{i}", "text": "fine"}) for i in range(500)]
    corpus.write_text("\n".join([*good, line, *good[:1]]) + "\n")  # line 501; 502 repeats d0
    result = invoke("encode", corpus, "--out", tmp_path / "vectors", "--quiet")
    assert result.exit_code == 1
    assert f"{corpus}:501: {reason}" in result.output and "Traceback" not in result.output


def test_skip_invalid_refuses_a_corpus_without_a_valid_record_before_the_model(no_model, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"text": "no id"}\nnot json\n')
    result = invoke("encode", corpus, "--out", tmp_path / "vectors", "--skip-invalid")
    assert result.exit_code == 1
    assert "no valid documents to encode (2 invalid lines skipped)" in result.output


def test_check_corpus_counts_the_documents_encoding_will_see(tmp_path):
    from splade_lite.encode import check_corpus

    corpus = tmp_path / "corpus.tsv"
    corpus.write_text("id\ttext\na\tone\n\nb\ttwo\nc\tthree\textra\tfield\n")
    with pytest.raises(InputError, match=r"corpus\.tsv:5: expected 2"):
        check_corpus(corpus)
    assert check_corpus(corpus, skip_invalid=True) == 2  # no header, blank or bad line
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(InputError, match="the corpus is empty"):
        check_corpus(tmp_path / "empty.jsonl")


def test_skip_invalid_still_skips_and_counts(splade_tiny, tmp_path):
    from splade_lite.encode import encode_corpus

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        '{"_id": "a", "text": "vitamin d"}\n{"text": "no id"}\n{"_id": "b", "text": "sleep"}\n'
    )
    logged: list[str] = []
    summary = encode_corpus(
        corpus,
        tmp_path / "vectors",
        encoder=splade_tiny,
        skip_invalid=True,
        progress=False,
        log=logged.append,
    )
    assert (summary.num_docs, summary.num_skipped) == (2, 1)
    assert any(f"{corpus}:2: missing '_id'" in line for line in logged), logged


@pytest.fixture
def forward_only_index(splade_tiny, tiny_corpus, tmp_path):
    """An index folder with its metadata and forward index only (built without Java)."""
    from splade_lite import metadata as md
    from splade_lite.encode import encode_corpus
    from splade_lite.forward import build_forward_index

    encode_corpus(tiny_corpus, tmp_path / "vectors", encoder=splade_tiny, progress=False)
    index = tmp_path / "index"
    index.mkdir()
    build_forward_index(tmp_path / "vectors", index / md.FORWARD_FILE)
    (index / md.INDEX_META).write_text(json.dumps({"format": "splade-lite/index"}))
    return index


def test_lookup_finds_documents_without_a_model_or_java(forward_only_index, monkeypatch):
    from splade_lite.index_folder import open_forward, require_document

    monkeypatch.setattr("splade_lite.indexer.jvm.start_jvm", never("Java"))
    forward = require_document(forward_only_index, "d2")
    assert "d2" in forward and open_forward(forward_only_index) is forward  # shared
    with pytest.raises(KeyError, match=f"document 'nope' is not in {forward_only_index}"):
        require_document(forward_only_index, "nope")


def test_lookup_in_a_folder_that_is_no_index_says_so(tmp_path):
    from splade_lite.index_folder import require_document

    with pytest.raises(ValueError, match="is this a splade-lite index"):
        require_document(tmp_path, "d1")


def test_explain_refuses_an_unknown_docid_before_java_or_a_model(forward_only_index, monkeypatch):
    monkeypatch.setattr("splade_lite.search.Searcher.__init__", never("the searcher (Java)"))
    monkeypatch.setattr("splade_lite.indexer.jvm.start_jvm", never("Java"))
    result = invoke("explain", forward_only_index, "aurora", "nope")
    assert result.exit_code == 1
    assert f"document 'nope' is not in {forward_only_index}" in result.output


@pytest.mark.jvm
def test_explain_of_a_real_index_refuses_an_unknown_docid_at_once(
    tiny_built, monkeypatch, tmp_path
):
    index = tmp_path / "index"
    shutil.copytree(tiny_built / "index", index)
    monkeypatch.setattr("splade_lite.search.Searcher.__init__", never("the searcher (Java)"))
    monkeypatch.setattr("splade_lite.search.load_query_encoder", never("the query model"))
    result = invoke("explain", index, "aurora", "nope")
    assert result.exit_code == 1 and f"document 'nope' is not in {index}" in result.output


@pytest.mark.jvm
def test_searcher_explain_checks_the_docid_before_the_query_encoder(tiny_built, monkeypatch):
    from splade_lite.index_folder import require_document
    from splade_lite.search import Searcher

    kept = require_document(tiny_built / "index", "d2")
    searcher = Searcher(tiny_built / "index")
    assert searcher.forward is kept  # opened once, shared
    monkeypatch.setattr("splade_lite.search.load_query_encoder", never("the query model"))
    with pytest.raises(KeyError, match="document 'nope' is not in"):
        searcher.explain("aurora", "nope")
