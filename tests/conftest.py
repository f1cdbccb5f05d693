"""Shared test set-up: where the shared data is, and skipping what this machine cannot run."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@lru_cache(maxsize=1)
def java_problem() -> str | None:
    """Why the JVM tests cannot run here, or None when they can (nothing is started)."""
    try:
        from splade_lite.indexer.jvm import anserini_jar, java_home

        java_home()
        anserini_jar()
    except Exception as err:  # any reason at all is a reason to skip
        return str(err)
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "jvm" in item.keywords and java_problem():
            item.add_marker(pytest.mark.skip(reason=f"no usable Java/Anserini: {java_problem()}"))
        if "data" in item.keywords and not DATA.is_dir():
            item.add_marker(pytest.mark.skip(reason=f"{DATA} is absent"))


@pytest.fixture(scope="session")
def splade_tiny():
    """The default model, loaded once for the whole test session."""
    from splade_lite.encoders import SpladeEncoder

    try:
        return SpladeEncoder("splade-tiny")
    except FileNotFoundError as err:
        pytest.skip(str(err))


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """A six-document BEIR-style corpus, one document with an empty text and no title."""
    import json

    docs = [
        {
            "_id": "d1",
            "title": "Vitamin D",
            "text": "Vitamin D deficiency weakens bones in older adults.",
        },
        {
            "_id": "d2",
            "title": "",
            "text": "The aurora borealis is caused by solar wind particles.",
        },
        {"_id": "d3", "title": "Sleep", "text": "Short sleep raises the risk of heart disease."},
        {"_id": "d4", "title": "", "text": ""},
        {
            "_id": "d5",
            "title": "Python",
            "text": "time.sleep pauses the program for a number of seconds.",
        },
        {
            "_id": "d6",
            "title": "Café",
            "text": "Coffee contains caffeine, a stimulant; naïve café-goers.",
        },
    ]
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    path.write_text(
        "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8"
    )
    return path


@pytest.fixture(scope="session")
def _tiny_build(tmp_path_factory, tiny_corpus, splade_tiny):
    """The folder of `tiny_built` and what each ``build_index`` returned, by index name."""
    from splade_lite.encode import encode_corpus
    from splade_lite.index import build_index

    root = tmp_path_factory.mktemp("tiny-built")
    encode_corpus(tiny_corpus, root / "vectors", encoder=splade_tiny, progress=False)
    metas = {
        "index": build_index(root / "vectors", root / "index", bm25_corpus=tiny_corpus),
        "index-if": build_index(
            root / "vectors", root / "index-if", bm25_corpus=tiny_corpus, mode="inference-free"
        ),
    }
    return root, metas


@pytest.fixture(scope="session")
def tiny_built(_tiny_build) -> Path:
    """`tiny_corpus` encoded once (``splade_tiny``, default settings) and indexed in both
    modes, each with BM25 beside it: THE small index of the test session.

    Test modules that need a small index use this one rather than building their own (an
    encode and two index builds cost tens of seconds on a 2-core machine). Shared by the
    whole session, so it is read-only: a test that changes a folder copies it first
    (``shutil.copytree(tiny_built / "index", tmp_path / "index")``). Holds ``vectors/``,
    ``index/`` (SPLADE queries) and ``index-if/`` (inference-free queries). Needs the JVM.
    """
    return _tiny_build[0]


@pytest.fixture(scope="session")
def tiny_built_meta(_tiny_build) -> dict[str, dict]:
    """The metadata ``build_index`` returned for ``tiny_built / "index"`` and ``"index-if"``."""
    return _tiny_build[1]


@pytest.fixture(scope="session")
def minilm():
    """The built-in dense model (``minilm``), loaded once for the session; skipped where
    sentence-transformers or the package that ships the model is missing."""
    pytest.importorskip("sentence_transformers")
    from splade_lite.encoders.dense import load_dense_model
    from splade_lite.encoders.models import ModelNotFoundError

    try:
        return load_dense_model("minilm", "cpu")
    except ModelNotFoundError as err:
        pytest.skip(str(err))


@pytest.fixture(scope="session")
def dense_built(tmp_path_factory, splade_tiny, minilm) -> Path:
    """The README test's 30-document corpus (``corpus.jsonl``, ``queries.jsonl``, ``qrels/``)
    encoded once and indexed with BM25 and the ``minilm`` dense index beside it, in both
    modes: ``index-if/`` (inference-free) and ``index/`` (SPLADE queries). Read-only, as
    `tiny_built` is: a test that changes an index copies it first. Needs the JVM."""
    from test_readme import write_corpus

    from splade_lite.encode import encode_corpus
    from splade_lite.index import build_index

    root = tmp_path_factory.mktemp("dense-built")
    write_corpus(root)
    corpus = root / "corpus.jsonl"
    encode_corpus(corpus, root / "vectors", encoder=splade_tiny, progress=False)
    for name, mode in (("index-if", "inference-free"), ("index", "splade")):
        build_index(
            root / "vectors", root / name, bm25_corpus=corpus, mode=mode, dense_model="minilm"
        )
    return root
