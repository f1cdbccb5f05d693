"""The command line through click's CliRunner: each command, and errors shown as one line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from splade_lite.cli import main


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


def invoke(runner, *args):
    result = runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result


def test_help_lists_the_commands(runner):
    result = invoke(runner, "--help")
    assert result.exit_code == 0
    for command in ("encode", "index", "search", "evaluate", "export", "check", "demo"):
        assert command in result.output


def test_missing_vectors_metadata_is_one_line(runner, tmp_path):
    (tmp_path / "v").mkdir()
    result = invoke(runner, "index", tmp_path / "v", "--out", tmp_path / "i")
    assert result.exit_code == 1
    assert "no vectors.json" in result.output and "Traceback" not in result.output


def test_bad_corpus_line_is_named(runner, tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"_id": "a", "text": "fine"}\nnot json\n')
    result = invoke(runner, "encode", corpus, "--out", tmp_path / "v", "--quiet")
    assert result.exit_code == 1
    assert "c.jsonl:2" in result.output and "Traceback" not in result.output


def test_evaluate_json_and_table(runner, tmp_path):
    run = tmp_path / "run.trec"
    run.write_text("q1 Q0 a 1 2.0 t\nq1 Q0 b 2 1.0 t\n")
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\tb\t1\n")
    result = invoke(runner, "evaluate", run, "--qrels", qrels, "--json")
    scores = json.loads(result.output)
    assert set(scores) == {"nDCG@10", "R@100", "RR@10", "AP"}
    assert scores["RR@10"] == pytest.approx(0.5)  # the one relevant document is ranked 2nd
    assert scores["AP"] == pytest.approx(0.5)
    table = invoke(runner, "evaluate", run, "--qrels", qrels).output
    assert "nDCG@10" in table and "0.5" in table
    assert "1 judged query scored" in table  # the counts, on stderr


def test_evaluate_quiet_drops_the_counts_but_not_the_warnings(runner, tmp_path):
    run = tmp_path / "run.trec"
    run.write_text("q1 Q0 a 1 2.0 t\nq2 Q0 b 1 1.0 t\n")
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\ta\t1\nq3\ta\t1\n")
    loud = invoke(runner, "evaluate", run, "--qrels", qrels).output
    quiet = invoke(runner, "evaluate", run, "--qrels", qrels, "--quiet").output
    assert "judged queries scored" in loud and "judged queries scored" not in quiet
    # q3 is judged but not in the run, q2 in the run but not judged: both are warned about
    warnings = [line for line in quiet.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2 and "have no results" in warnings[0]
    assert "nDCG@10" in quiet  # the table itself is still printed


@pytest.mark.jvm
def test_encode_index_search_evaluate_export(runner, tmp_path, tiny_corpus):
    vectors, index, run = tmp_path / "vectors", tmp_path / "index", tmp_path / "run.trec"
    result = invoke(
        runner, "encode", tiny_corpus, "--out", vectors, "--quiet", "--batch-size", "4", "--json"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # the summary alone, on stdout
    assert (
        summary["num_docs"] == 6 and summary["num_skipped"] == 0 and summary["out"] == str(vectors)
    )
    result = invoke(
        runner, "index", vectors, "--out", index, "--bm25-corpus", tiny_corpus, "--json"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["num_docs"] == 6 and "MB, mode" not in result.output
    assert json.loads((index / "splade_lite.json").read_text())["num_docs"] == 6

    result = invoke(runner, "search", index, "the northern lights in the sky", "--k", "3")
    assert result.exit_code == 0
    first = result.output.splitlines()[0].split()
    assert first[0] == "1" and first[2] == "d2"  # rank, score, docid, then the text start
    assert "aurora" in result.output and len(result.output.splitlines()) > 1
    one = invoke(runner, "search", index, "the northern lights in the sky", "-k", "1").output
    assert one.splitlines() == result.output.splitlines()[:1]

    hits = json.loads(invoke(runner, "search", index, "aurora", "--json", "--bm25").output)
    assert hits[0]["docid"] == "d2" and hits[0]["rank"] == 1

    queries = tmp_path / "q.tsv"
    queries.write_text("q1\tnorthern lights\nq2\theart disease and sleep\n")
    result = invoke(runner, "search", index, "--queries", queries, "--run", run, "-k", "5")
    assert result.exit_code == 0, result.output
    assert "2 queries in" in result.output and "deprecated" not in result.output
    lines = run.read_text().splitlines()
    assert lines[0].split()[:4] == ["q1", "Q0", "d2", "1"]
    assert {line.split()[0] for line in lines} == {"q1", "q2"}
    assert max(int(line.split()[3]) for line in lines) == 5  # -k 5: five hits a query

    # the old spelling --out still writes the run, with a note; --quiet drops the note
    old = tmp_path / "old.trec"
    result = invoke(runner, "search", index, "--queries", queries, "--out", old, "--k", "5")
    assert result.exit_code == 0, result.output
    assert "--out is deprecated here" in result.output and "use --run" in result.output
    assert old.read_text() == run.read_text()
    result = invoke(runner, "search", index, "--queries", queries, "--out", old, "--quiet")
    assert result.exit_code == 0 and "deprecated" not in result.output
    both = invoke(runner, "search", index, "--queries", queries, "--run", run, "--out", old)
    assert both.exit_code == 2 and "give only --run" in both.output
    summary = json.loads(
        invoke(runner, "search", index, "--queries", queries, "--run", run, "--json").stdout
    )
    assert summary["queries"] == 2 and summary["run"] == str(run) and summary["unmatched"] == 0

    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q1 0 d2 1\nq2 0 d3 1\n")
    scores = json.loads(invoke(runner, "evaluate", run, "--qrels", qrels, "--json").output)
    assert scores["RR@10"] == pytest.approx(1.0)

    result = invoke(runner, "export", index, "--out", tmp_path / "exported", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"out": str(tmp_path / "exported"), "num_docs": 6}
    exported = (tmp_path / "exported" / "part-00000.jsonl").read_text().splitlines()
    original = (vectors / "part-00000.jsonl").read_text().splitlines()
    by_id = lambda lines: {json.loads(x)["id"]: json.loads(x)["vector"] for x in lines}  # noqa: E731
    assert by_id(exported) == by_id(original)

    again = invoke(runner, "index", vectors, "--out", index)
    assert again.exit_code == 1 and "--overwrite" in again.output
    usage = invoke(runner, "search", index)
    assert usage.exit_code == 2 and "QUERY or --queries" in usage.output
    usage = invoke(runner, "search", index, "--queries", queries)
    assert usage.exit_code == 2 and "--queries needs --run" in usage.output

    report = json.loads(invoke(runner, "check", index, "--json").stdout)
    assert report["ok"] is True and report["path"] == str(index)
    assert {c["status"] for c in report["checks"]} <= {"ok", "skip"}
    table = invoke(runner, "check", index).output.splitlines()
    assert len(table) == len(report["checks"]) + 2  # a header, a row per check, the verdict


@pytest.mark.jvm
def test_hybrid_feedback_and_explain_commands(runner, tmp_path, tiny_corpus):
    vectors, index = tmp_path / "vectors", tmp_path / "index"
    invoke(runner, "encode", tiny_corpus, "--out", vectors, "--quiet", "--mode", "inference-free")
    invoke(runner, "index", vectors, "--out", index, "--bm25-corpus", tiny_corpus)

    hybrid = json.loads(invoke(runner, "search", index, "aurora", "--json", "--hybrid").output)
    assert hybrid[0]["docid"] == "d2"
    assert 0 < hybrid[0]["score"] <= 1  # interpolated min-max scores
    rrf = invoke(runner, "search", index, "aurora", "--hybrid", "--fusion", "rrf", "--depth", "3")
    assert rrf.exit_code == 0 and "d2" in rrf.output
    wrong = invoke(runner, "search", index, "aurora", "--alpha", "0.3")
    assert wrong.exit_code == 2 and "--alpha only applies with --hybrid" in wrong.output
    fb = invoke(runner, "search", index, "aurora", "--feedback", "--fb-docs", "2")
    assert fb.exit_code == 0 and "d2" in fb.output

    result = invoke(runner, "explain", index, "aurora borealis", "d2", "--width", "80")
    assert result.exit_code == 0, result.output
    assert "aurora" in result.output and "score" in result.output
    assert all(len(line) <= 80 for line in result.output.splitlines())
    missing = invoke(runner, "explain", index, "aurora", "nope")
    assert missing.exit_code == 1 and "not in" in missing.output

    # --json: the same split as data, adding up to the score search reports for d2
    found = json.loads(invoke(runner, "search", index, "aurora borealis", "--json").output)
    (d2,) = [hit for hit in found if hit["docid"] == "d2"]
    data = json.loads(invoke(runner, "explain", index, "aurora borealis", "d2", "--json").output)
    assert data["docid"] == "d2" and data["score"] == d2["score"]
    assert sum(m["contribution"] for m in data["matched"]) == data["score"]
    assert all(m["contribution"] == m["query_weight"] * m["doc_weight"] for m in data["matched"])
    assert "aurora" in data["query_terms"] and data["pruning"] == "weight below 0.5"


@pytest.mark.jvm
def test_query_pruning_options_keep_the_index_default_floor(runner, tmp_path, tiny_corpus):
    from splade_lite.pruning import Pruning, query_pruning

    vectors = tmp_path / "vectors"
    invoke(runner, "encode", tiny_corpus, "--out", vectors, "--quiet")
    for mode in ("inference-free", "splade"):
        invoke(runner, "index", vectors, "--out", tmp_path / mode, "--mode", mode)
    free = tmp_path / "inference-free"
    assert query_pruning(free, None, None) is None  # the Searcher's default
    assert query_pruning(free, None, 16) == Pruning(0.5, 16)
    assert query_pruning(free, 0.0, None) == Pruning(0.0, None)
    assert query_pruning(tmp_path / "splade", None, 16) == Pruning(0.0, 16)
    assert query_pruning(tmp_path / "no-such-index", 0.3, 2) == Pruning(0.3, 2)  # nothing read
    bm25 = invoke(runner, "search", free, "aurora", "--bm25", "--query-max-terms", "2")
    assert bm25.exit_code == 2 and "prune learned sparse queries" in bm25.output
    every = invoke(runner, "search", tmp_path / "inference-free", "the aurora", "--json",
                   "--query-min-weight", "0")  # fmt: skip
    assert every.exit_code == 0 and json.loads(every.output)[0]["docid"] == "d2"
    capped = invoke(runner, "explain", tmp_path / "splade", "aurora borealis", "d2",
                    "--query-max-terms", "1")  # fmt: skip
    assert capped.exit_code == 0, capped.output
    assert "query terms dropped by pruning (beyond the 1 heaviest): " in capped.output
    plain = invoke(runner, "explain", tmp_path / "splade", "aurora borealis", "d2")
    assert "dropped" not in plain.output


# -- one meaning per option name, on every command ----------------------------------------------


def _options(command) -> dict[str, object]:
    """Every spelling of every option of `command` -> the option."""
    import click

    return {
        name: param
        for param in command.params
        if isinstance(param, click.Option)
        for name in param.opts + param.secondary_opts
    }


def test_every_command_that_prints_results_has_quiet_and_json():
    for name, command in main.commands.items():
        options = _options(command)
        assert "--quiet" in options and "--json" in options, name
        assert options["--quiet"].is_flag and options["--json"].is_flag, name


def test_one_meaning_per_option_name():
    commands = main.commands
    for name, command in commands.items():
        options = _options(command)
        out = options.get("--out")
        if out is not None and not out.hidden:  # --out is a folder wherever it is shown
            assert out.required and out.help.startswith("Folder for"), name
        if "--depth" in options and name != "search":
            assert options["--depth"].hidden, f"{name} --depth is not the fused depth"
        if "--base" in options:
            assert options["--base"].hidden and "--model" in options, name
    search = _options(commands["search"])
    assert search["--out"].hidden and not search["--run"].hidden  # --run FILE, --out the old name
    assert search["-k"] is search["--k"]
    for name in ("train", "adapt"):
        options = _options(commands[name])
        assert not options["--negatives-depth"].hidden and not options["--model"].hidden
        assert options["--negatives-depth"].default == 50


def test_defaults_and_choices_agree_with_the_modules_that_own_them():
    import inspect

    from splade_lite.compare import TESTS
    from splade_lite.encode import encode_corpus
    from splade_lite.encoders.backends import BACKENDS
    from splade_lite.evaluate import DEFAULT_MEASURES
    from splade_lite.search import Searcher
    from splade_lite.training.trainer import LOSSES, TrainConfig

    def option(command: str, name: str):
        return _options(main.commands[command])[name]

    signature = inspect.signature(encode_corpus).parameters
    for name in ("model", "mode", "batch_size", "backend", "scale", "shard_size"):
        flag = "--" + name.replace("_", "-")
        assert option("encode", flag).default == signature[name].default, name
    assert tuple(option("encode", "--backend").type.choices) == BACKENDS
    assert tuple(option("evaluate", "--test").type.choices) == tuple(TESTS)
    assert " ".join(DEFAULT_MEASURES) in option("evaluate", "--measure").help
    k = inspect.signature(Searcher.search).parameters["k"].default
    assert f"[default: {k} for one query" in option("search", "-k").help
    config = TrainConfig()
    for command in ("train", "adapt"):
        assert option(command, "--model").default == config.base
        assert set(option(command, "--loss").type.choices) <= set(LOSSES)
        for name in ("batch_size", "negatives", "lr", "warmup_steps", "max_length", "seed"):
            flag = "--" + name.replace("_", "-")
            assert option(command, flag).default == getattr(config, name), (command, name)


def _fake_recipe(monkeypatch, name: str, tmp_path):
    """Replace a training recipe by one that records what the command gave it."""
    from types import SimpleNamespace

    import splade_lite.training.recipes as recipes

    calls = []

    def recipe(data, out_dir, config, **settings):
        calls.append((config, settings))
        return SimpleNamespace(out_dir=out_dir, steps=3, seconds=1.0, losses=[0.5, 0.25])

    monkeypatch.setattr(recipes, name, recipe)
    return calls


def test_train_old_option_names_still_work_and_warn(runner, tmp_path, monkeypatch):
    calls = _fake_recipe(monkeypatch, "train_supervised", tmp_path)
    common = ["train", tmp_path, "--out", tmp_path / "model"]
    new = invoke(runner, *common, "--model", "my-base", "--negatives-depth", "7")
    assert new.exit_code == 0 and "deprecated" not in new.output, new.output
    old = invoke(runner, *common, "--base", "my-base", "--depth", "7")
    assert old.exit_code == 0, old.output
    assert "--base is deprecated here" in old.output and "use --model" in old.output
    assert "--depth is deprecated here" in old.output and "use --negatives-depth" in old.output
    (config_new, settings_new), (config_old, settings_old) = calls
    assert config_new == config_old and config_new.base == "my-base"
    assert settings_new["depth"] == settings_old["depth"] == 7
    quiet = invoke(runner, *common, "--base", "my-base", "--quiet")
    assert quiet.exit_code == 0 and "deprecated" not in quiet.output
    both = invoke(runner, *common, "--base", "a", "--model", "b")
    assert both.exit_code == 2 and "give only --model" in both.output
    assert len(calls) == 3  # the refused call never reached the recipe


def test_adapt_json_prints_the_summary(runner, tmp_path, monkeypatch):
    calls = _fake_recipe(monkeypatch, "adapt_corpus", tmp_path)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "a", "text": "x"}\n')
    result = invoke(runner, "adapt", corpus, "--out", tmp_path / "m", "--json", "--depth", "9")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("note: --depth is deprecated")
    summary = json.loads(result.stdout)
    assert summary == {"out": str(tmp_path / "m"), "steps": 3, "seconds": 1.0, "last_loss": 0.375}
    assert calls[0][1]["depth"] == 9


def test_pruning_rule_in_words():
    from splade_lite.pruning import Pruning

    assert Pruning(0.5).describe() == "weight below 0.5"
    assert Pruning(0.0, 16).describe() == "beyond the 16 heaviest"
    assert Pruning(1.25, 3).describe() == "weight below 1.25, or beyond the 3 heaviest"
    assert Pruning().describe() == "none"
