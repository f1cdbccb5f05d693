"""`index --engine seismic`: the engine built inside the index and used by the Searcher, with
Lucene kept as the exact reference (engine="lucene") that the engine's exact mode equals."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

pytest.importorskip("seismic", reason="pyseismic-lsr is not installed (the 'fast' extra)")
pytestmark = pytest.mark.jvm

QUERIES = [
    "solar wind aurora",
    "vitamin d bones",
    "sleep and heart disease",
    "coffee caffeine",
    "python time sleep seconds",
    "nothing matches zzzz",
]


@pytest.fixture(scope="module")
def engine_index(tiny_built, tiny_corpus, tmp_path_factory):
    from splade_lite.index import build_index

    out = tmp_path_factory.mktemp("engine") / "index"
    meta = build_index(
        tiny_built / "vectors",
        out,
        bm25_corpus=tiny_corpus,
        mode="inference-free",
        engine="seismic",
    )
    return out, meta


def _ranked(hits):
    return [(h.docid, h.score) for h in hits]


def test_index_records_the_engine_and_shares_the_forward_file(engine_index):
    out, meta = engine_index
    assert meta["engine"]["name"] == "seismic" and (out / "seismic").is_dir()
    assert (out / "seismic" / "forward.npz").stat().st_ino == (out / "forward.npz").stat().st_ino


def test_exact_engine_ranks_as_lucene(engine_index):
    from splade_lite.engines.seismic import SeismicSearch
    from splade_lite.search import Searcher

    out, _ = engine_index
    exact = Searcher(out, engine_search=SeismicSearch.exact())
    lucene = Searcher(out, engine="lucene")
    assert exact.engine == "seismic" and lucene.engine == "lucene"
    for k in (1, 3, 10):
        got = [_ranked(h) for h in exact.batch_search(QUERIES, k)]
        assert got == [_ranked(h) for h in lucene.batch_search(QUERIES, k)]
    assert _ranked(exact.search(QUERIES[0], 5)) == _ranked(lucene.search(QUERIES[0], 5))
    assert all(type(h.score) is float for h in exact.search(QUERIES[0], 5))


def test_default_search_is_the_fast_one_and_finds_the_obvious(engine_index):
    from splade_lite.search import Searcher

    out, _ = engine_index
    searcher = Searcher(out)
    assert searcher.engine == "seismic"
    assert searcher.search("aurora borealis solar wind", 1)[0].docid == "d2"


def test_hybrid_and_feedback_with_the_engine_equal_lucene(engine_index):
    from splade_lite.engines.seismic import SeismicSearch
    from splade_lite.feedback import Feedback
    from splade_lite.fusion import Hybrid
    from splade_lite.search import Searcher

    out, _ = engine_index
    for options in (
        {"hybrid": True},
        {"hybrid": Hybrid(fusion="rrf", depth=4)},
        {"feedback": Feedback(docs=2)},
    ):
        engine = Searcher(out, engine_search=SeismicSearch.exact(), **options)
        lucene = Searcher(out, engine="lucene", **options)
        for k in (1, 4):
            got = [_ranked(h) for h in engine.batch_search(QUERIES, k)]
            want = [_ranked(h) for h in lucene.batch_search(QUERIES, k)]
            assert [[d for d, _ in h] for h in got] == [[d for d, _ in h] for h in want]
            scores = [pytest.approx([s for _, s in h], rel=1e-12) for h in want]
            assert [[s for _, s in h] for h in got] == scores, options


def test_explain_and_check_work_with_the_engine(engine_index):
    from splade_lite.check import check_index, failed
    from splade_lite.search import Searcher

    out, _ = engine_index
    searcher = Searcher(out)
    (top,) = searcher.search("aurora borealis", 1)
    assert searcher.explain("aurora borealis", top.docid).score == top.score
    checks = check_index(out)
    assert not failed(checks) and any(c.name == "engine" and c.status == "ok" for c in checks)


def test_a_damaged_engine_fails_check_and_search_in_one_line(engine_index, tmp_path):
    import shutil

    from splade_lite.check import check_index, failed
    from splade_lite.cli import main

    out = tmp_path / "index"
    shutil.copytree(engine_index[0], out)
    with open(out / "seismic" / "index.seismic", "ab") as handle:
        handle.write(b"x")
    assert [c.name for c in failed(check_index(out))] == ["engine"]
    result = CliRunner().invoke(main, ["search", str(out), "aurora"], catch_exceptions=False)
    assert result.exit_code == 1 and "index.seismic is damaged" in result.output
    lucene = CliRunner().invoke(main, ["search", str(out), "aurora", "--engine", "lucene"])
    assert lucene.exit_code == 0 and "d2" in lucene.output


def test_engine_errors(engine_index, tiny_built):
    from splade_lite.engines.seismic import SeismicSearch
    from splade_lite.index import build_index
    from splade_lite.search import Searcher

    with pytest.raises(FileNotFoundError, match="no seismic engine.*--engine seismic"):
        Searcher(tiny_built / "index", engine="seismic")
    with pytest.raises(ValueError, match="unknown engine 'faiss'"):
        Searcher(engine_index[0], engine="faiss")
    with pytest.raises(ValueError, match="not Lucene"):
        Searcher(engine_index[0], engine="lucene", engine_search=SeismicSearch.exact())
    with pytest.raises(ValueError, match="unknown engine 'bmp'"):
        build_index(tiny_built / "vectors", tiny_built / "never", engine="bmp")
    assert not (tiny_built / "never").exists()


def test_cli_engine_options(engine_index, tiny_built):
    from splade_lite.cli import main

    out = str(engine_index[0])
    runner = CliRunner()
    exact = runner.invoke(main, ["search", out, "vitamin bones", "--engine-exact", "--json"])
    lucene = runner.invoke(main, ["search", out, "vitamin bones", "--engine", "lucene", "--json"])
    assert exact.exit_code == 0 and exact.output == lucene.output
    refused = runner.invoke(main, ["search", out, "x", "--engine", "lucene", "--engine-exact"])
    assert refused.exit_code == 2 and "--engine-exact" in refused.output
