"""Searching with the dense index: alone (a baseline) and as the third list of a hybrid.

The expected rankings are computed here independently: the dense list by numpy over
embeddings made in the test, the sparse and BM25 lists by their own searchers, fused by
:func:`splade_lite.fusion.weighted` (or :func:`~splade_lite.fusion.rrf`)."""

from __future__ import annotations

import json
import shutil
import threading

import pytest
from click.testing import CliRunner

from splade_lite.cli import main
from splade_lite.encoders.dense import embed
from splade_lite.errors import BadValueError, MissingFileError
from splade_lite.fusion import Hybrid, rrf, weighted
from splade_lite.io import read_corpus
from splade_lite.runs import run_tag
from splade_lite.search import Searcher
from splade_lite.trec import read_queries

pytestmark = pytest.mark.jvm

EXTRA = ["bees", "what rises in bread dough", "steam trains in England", "café au lait"]


@pytest.fixture(scope="module")
def texts(dense_built) -> list[str]:
    return [q.text for q in read_queries(dense_built / "queries.jsonl")] + EXTRA


@pytest.fixture(scope="module")
def numpy_dense(dense_built, minilm):
    """Exact dense top-k by numpy: document embeddings of their title and text, each query
    embedded alone; ties by document id."""
    docs = list(read_corpus(dense_built / "corpus.jsonl"))
    ids = [d.id for d in docs]
    matrix = embed(minilm, [d.full_text for d in docs], "document", 32)

    def top(text: str, k: int) -> list[tuple[str, float]]:
        scores = matrix @ embed(minilm, [text], "query", 1)[0]
        order = sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))[:k]
        return [(ids[i], float(scores[i])) for i in order]

    return top


@pytest.fixture(scope="module")
def searchers(dense_built):
    """One searcher of each kind per index, opened once (each holds Lucene indexes open)."""
    out = {}
    for name in ("index-if", "index"):
        index = dense_built / name
        out[name] = {
            "sparse": Searcher(index),
            "bm25": Searcher(index, bm25=True),
            "dense": Searcher(index, dense=True),
            "three": Searcher(index, hybrid=True, dense=True),
        }
    return out


def _ids(hits) -> list[str]:
    return [h.docid for h in hits]


def _same(found, expected) -> None:
    assert [d for d, _ in found] == [d for d, _ in expected]
    assert [s for _, s in found] == pytest.approx([s for _, s in expected], abs=1e-5)


@pytest.mark.parametrize("k", [1, 5, 30])
def test_dense_alone_is_numpys_exact_top_k(searchers, numpy_dense, texts, k):
    found = searchers["index-if"]["dense"].batch_search(texts, k=k)
    for text, hits in zip(texts, found):
        _same(hits, numpy_dense(text, k))


@pytest.mark.parametrize(
    ("name", "weights"), [("index-if", (0.1, 0.4, 0.5)), ("index", (0.2, 0.3, 0.5))]
)
def test_three_way_default_is_the_weighted_sum_of_the_three_lists(
    searchers, numpy_dense, texts, name, weights
):
    kinds = searchers[name]
    depth = 100  # the three-way default for both modes (more than the 30 documents)
    sparse = kinds["sparse"].batch_search(texts, k=depth)
    bm25 = kinds["bm25"].batch_search(texts, k=depth)
    fused = kinds["three"].batch_search(texts, k=10)
    for i, text in enumerate(texts):
        expected = weighted([sparse[i], bm25[i], numpy_dense(text, depth)], weights, "max")
        _same(fused[i], expected[:10])
    assert run_tag(kinds["three"]).endswith(
        "+bm25+dense-interpolate-max-w" + ",".join(f"{w:g}" for w in weights)
    )


@pytest.mark.parametrize(
    "hybrid",
    [
        Hybrid(weights=(1, 1, 1), norm="min-max", depth=5),
        Hybrid(weights=(0.0, 0.3, 0.7), norm="z-score", depth=8),
        Hybrid(fusion="rrf", depth=6, rrf_k=10),
    ],
)
def test_three_way_settings_fuse_as_fusion_does(dense_built, searchers, numpy_dense, texts, hybrid):
    kinds = searchers["index-if"]
    sparse = kinds["sparse"].batch_search(texts, k=hybrid.depth)
    bm25 = kinds["bm25"].batch_search(texts, k=hybrid.depth)
    fused = Searcher(dense_built / "index-if", hybrid=hybrid, dense=True).batch_search(texts, k=4)
    for i, text in enumerate(texts):
        lists = [sparse[i], bm25[i], numpy_dense(text, hybrid.depth)]
        if hybrid.fusion == "rrf":
            expected = rrf(*lists, k=hybrid.rrf_k)
        else:
            expected = weighted(lists, hybrid.weights, hybrid.norm)
        _same(fused[i], expected[:4])


def test_the_two_way_hybrid_is_unchanged_by_a_dense_index(dense_built, searchers, texts):
    """The same index without dense asked for fuses the two lists as before (Java)."""
    two = Searcher(dense_built / "index-if", hybrid=True)
    assert two.dense is False and run_tag(two).endswith("+bm25-interpolate-a0.5")
    assert two.batch_search(texts, k=10) != searchers["index-if"]["three"].batch_search(texts, k=10)


def test_the_dense_model_loads_on_the_first_query_and_times_each(dense_built, texts):
    searcher = Searcher(dense_built / "index-if", dense=True)
    assert searcher.ranking == "dense" and run_tag(searcher) == "splade-lite-dense"
    assert searcher._dense._model is None  # opening it loaded no model
    searcher.batch_search(texts, k=3)
    assert searcher._dense._model is not None
    seconds = searcher.take_dense_seconds()
    assert len(seconds) == len(texts) and all(s > 0 for s in seconds)
    assert searcher.take_dense_seconds() == []
    assert Searcher(dense_built / "index-if").take_dense_seconds() == []


def test_a_shared_searcher_gives_serial_results(searchers, texts):
    searcher = searchers["index-if"]["three"]
    serial = [searcher.search(t, k=10) for t in texts]
    found: dict[tuple[int, int], list] = {}

    def work(worker: int) -> None:
        for i, text in enumerate(texts):
            found[worker, i] = searcher.search(text, k=10)

    workers = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert all(found[w, i] == serial[i] for w in range(4) for i in range(len(texts)))


def test_an_index_without_dense_is_refused_with_the_command_that_builds_one(dense_built, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(dense_built / "index-if", index)
    shutil.rmtree(index / "dense")
    for kwargs in ({"dense": True}, {"dense": True, "hybrid": True}):
        with pytest.raises(MissingFileError) as err:
            Searcher(index, **kwargs)
        message = str(err.value)
        assert str(index) in message and "\n" not in message
        assert (
            "`splade-lite index VECTORS --out INDEX --bm25-corpus CORPUS --dense-model minilm`"
            in message
        )
    Searcher(index, hybrid=True)  # the two-way hybrid needs no dense index


def test_a_changed_dense_model_is_refused_at_the_first_query(dense_built, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(dense_built / "index-if", index)
    meta = json.loads((index / "splade_lite.json").read_text())
    meta["dense"]["model_sha256"] = "0" * 64
    (index / "splade_lite.json").write_text(json.dumps(meta))
    searcher = Searcher(index, hybrid=True, dense=True)
    with pytest.raises(BadValueError, match="whose weights had sha256 000000000000…, but those"):
        searcher.search("bees")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bm25": True, "dense": True}, "not with bm25"),
        ({"dense": True, "feedback": True}, "feedback needs the learned sparse list"),
        ({"hybrid": Hybrid(weights=(1, 1, 1))}, "weights and norm set the three-way hybrid"),
        ({"hybrid": Hybrid(norm="max")}, "weights and norm set the three-way hybrid"),
        ({"hybrid": Hybrid(alpha=0.3), "dense": True}, "alpha weighs the two lists"),
        ({"hybrid": Hybrid(fusion="rrf", norm="max"), "dense": True}, "not rrf"),
    ],
)
def test_settings_that_do_not_apply_are_refused(dense_built, kwargs, message):
    with pytest.raises(BadValueError, match=message):
        Searcher(dense_built / "index-if", **kwargs)


def test_dense_alone_takes_texts_only(searchers):
    searcher = searchers["index-if"]["dense"]
    with pytest.raises(BadValueError, match="a dense searcher takes query texts"):
        searcher.batch_search_terms([{"bee": 100}])
    with pytest.raises(BadValueError, match="open the index without dense"):
        searcher.explain("bees", "bee-1")


# -- the command line ----------------------------------------------------------------------


def test_cli_three_way_run_and_its_encoding_time(dense_built, tmp_path, searchers):
    run = tmp_path / "three.trec"
    queries = dense_built / "queries.jsonl"
    args = ["search", str(dense_built / "index-if"), "--queries", str(queries), "--run", str(run)]
    result = CliRunner().invoke(main, [*args, "--hybrid", "--dense", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["queries"] == 5
    encoding = summary["dense_encoding"]
    assert encoding["queries"] == 5 and encoding["median_ms"] > 0 and encoding["total_s"] > 0
    lines = run.read_text().splitlines()
    assert {line.split()[0] for line in lines} == {"q1", "q2", "q3", "q4", "q5"}
    assert (
        lines[0].split()[-1] == "splade-lite-inference-free+bm25+dense-interpolate-max-w0.1,0.4,0.5"
    )
    texts = [q.text for q in read_queries(queries)]
    expected = searchers["index-if"]["three"].batch_search(texts, k=30)
    first = [line.split()[2] for line in lines if line.startswith("q1 ")]
    assert first == _ids(expected[0])
    quiet = CliRunner().invoke(main, [*args, "--dense", "--quiet"])
    assert quiet.exit_code == 0, quiet.output
    assert "5 queries in" in quiet.stderr and "dense query encoding: median " in quiet.stderr
    assert "ms per query" in quiet.stderr and "searching" not in quiet.stderr


def test_cli_three_way_options(dense_built, tmp_path):
    run = tmp_path / "run.trec"
    args = ["search", str(dense_built / "index-if"), "bees", "-k", "3"]
    result = CliRunner().invoke(
        main, [*args, "--hybrid", "--dense", "--weights", "0", "0", "1", "--norm", "min-max"]
    )
    assert result.exit_code == 0, result.output
    dense_only = CliRunner().invoke(main, [*args, "--dense"])
    assert dense_only.exit_code == 0, dense_only.output
    assert [line.split()[2] for line in result.stdout.splitlines()] == [
        line.split()[2] for line in dense_only.stdout.splitlines()
    ]
    for extra, message in [
        (["--dense", "--weights", "1", "1", "1"], "--weights only applies with --hybrid"),
        (["--hybrid", "--weights", "1", "1", "1"], "weights and norm set the three-way hybrid"),
        (["--hybrid", "--dense", "--alpha", "0.5"], "--alpha weighs the two lists of --hybrid"),
        (["--bm25", "--dense"], "--bm25 and --dense each rank alone"),
        (["--dense", "--engine", "lucene"], "not with --dense alone"),
        (["--dense", "--query-max-terms", "3"], "prune learned sparse queries"),
    ]:
        refused = CliRunner().invoke(main, [*args, *extra])
        assert refused.exit_code != 0 and message in refused.output, (extra, refused.output)
    assert not run.exists()
