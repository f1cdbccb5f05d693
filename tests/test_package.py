"""The package surface: public names resolve, and importing starts neither torch nor Java."""

from __future__ import annotations

import subprocess
import sys

import pytest

import splade_lite


def test_every_public_name_resolves():
    assert set(splade_lite.__all__) == set(splade_lite._EXPORTS) | {"__version__"}
    for name in splade_lite._EXPORTS:
        assert getattr(splade_lite, name) is not None
    with pytest.raises(AttributeError):
        splade_lite.no_such_thing  # noqa: B018


def test_import_is_cheap_and_never_starts_java():
    code = (
        "import sys, splade_lite, splade_lite.search, splade_lite.index, splade_lite.indexer\n"
        "from splade_lite import Searcher, SparseVector\n"
        "assert 'jnius' not in sys.modules, 'JVM bridge imported'\n"
        "assert 'pyserini' not in sys.modules\n"
        "import splade_lite.vectors\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # nothing above needs torch either


@pytest.mark.jvm
def test_pyserini_opens_the_index_as_it_is(tmp_path, tiny_corpus, splade_tiny):
    """What README.md shows: Pyserini's own LuceneImpactSearcher over a splade-lite index."""
    import os

    from splade_lite.encode import encode_corpus
    from splade_lite.index import build_index
    from splade_lite.indexer import start_jvm
    from splade_lite.search import Searcher

    encode_corpus(tiny_corpus, tmp_path / "v", encoder=splade_tiny, progress=False)
    build_index(tmp_path / "v", tmp_path / "i")
    os.environ.setdefault("OPENAI_API_KEY", "unused")
    start_jvm()
    from pyserini.search.lucene import LuceneImpactSearcher

    ours = Searcher(tmp_path / "i")

    class Queries:
        def encode(self, text):
            return ours.query_terms([text])[0]

    theirs = LuceneImpactSearcher(str(tmp_path / "i"), Queries(), min_idf=-1)
    for query in ("northern lights", "sleep and the heart", "coffee"):
        expected = [(h.docid, h.score) for h in ours.search(query, k=4)]
        got = [(h.docid, round(h.score)) for h in theirs.search(query, k=4)]
        assert {d for d, _ in got} == {d for d, _ in expected}
        assert sorted(s for _, s in got) == sorted(s for _, s in expected)
