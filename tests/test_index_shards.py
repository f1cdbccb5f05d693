"""``index --lucene-shards N``: the Lucene impact index in N shard folders, built in parallel,
searched, checked and exported exactly as the one-folder index of the same vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_encode_shard import write_corpus

from splade_lite import metadata as md
from splade_lite.check import FAIL, OK, check_folder
from splade_lite.cli import main
from splade_lite.encode import encode_corpus
from splade_lite.errors import BadValueError
from splade_lite.index import build_index, export_index
from splade_lite.index_shards import plan_groups
from splade_lite.search import Searcher

pytestmark = pytest.mark.jvm

QUERIES = ["vitamin bones", "sleep and heart disease", "solar wind aurora", "coffee"]
DOCS = 23


@pytest.fixture(scope="module")
def built(tmp_path_factory, splade_tiny):
    """23 documents in shard files of 3 (8 files), indexed whole and in 3 Lucene shards."""
    root = tmp_path_factory.mktemp("lucene-shards")
    corpus = write_corpus(root / "corpus.jsonl", DOCS)
    vectors = root / "vectors"
    encode_corpus(corpus, vectors, encoder=splade_tiny, shard_size=3, progress=False)
    for mode in ("splade", "inference-free"):
        build_index(vectors, root / f"one-{mode}", mode=mode, bm25_corpus=corpus)
        build_index(
            vectors, root / f"sharded-{mode}", mode=mode, bm25_corpus=corpus, lucene_shards=3,
            threads=2,
        )  # fmt: skip
    return root


@pytest.mark.parametrize("mode", ["splade", "inference-free"])
def test_a_sharded_index_ranks_and_scores_as_one(built, mode):
    one, sharded = Searcher(built / f"one-{mode}"), Searcher(built / f"sharded-{mode}")
    for query in QUERIES:
        expected = [(h.docid, h.score) for h in one.search(query, k=DOCS)]
        assert expected
        assert [(h.docid, h.score) for h in sharded.search(query, k=DOCS)] == expected
    hybrid_one = Searcher(built / f"one-{mode}", hybrid=True).batch_search(QUERIES, 10)
    hybrid_sharded = Searcher(built / f"sharded-{mode}", hybrid=True).batch_search(QUERIES, 10)
    assert hybrid_sharded == hybrid_one


def test_the_shards_are_in_the_index_folder_and_its_metadata(built):
    meta = md.read_index_meta(built / "sharded-splade")
    assert meta["lucene_shards"] == ["shards/00000", "shards/00001", "shards/00002"]
    folders = md.lucene_folders(built / "sharded-splade", meta)
    assert all(any(f.glob("segments_*")) for f in folders)
    assert not any((built / "sharded-splade").glob("segments_*"))  # nothing at the top level
    assert meta["num_docs"] == DOCS
    assert meta["lucene_bytes"] > 0


def test_check_and_export_read_every_shard(built, tmp_path):
    checks = {c.name: c for c in check_folder(built / "sharded-splade")}
    assert checks["lucene index"].status == OK
    assert "3 shards" in checks["lucene index"].detail
    assert export_index(built / "sharded-splade", tmp_path / "out") == DOCS
    one = export_index(built / "one-splade", tmp_path / "out-one")
    assert one == DOCS

    def lines(folder: Path) -> list[dict]:
        return [json.loads(x) for f in sorted(folder.glob("part-*")) for x in f.open()]

    assert lines(tmp_path / "out") == lines(tmp_path / "out-one")


def test_a_damaged_shard_fails_the_check(built, tmp_path):
    import shutil

    copy = tmp_path / "index"
    shutil.copytree(built / "sharded-splade", copy)
    segment = next((copy / "shards" / "00001").glob("*.cfs"), None) or max(
        (copy / "shards" / "00001").glob("_*"), key=lambda p: p.stat().st_size
    )
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0xFF
    segment.write_bytes(bytes(data))
    checks = {c.name: c for c in check_folder(copy)}
    assert checks["lucene index"].status == FAIL


def test_more_shards_than_shard_files_is_refused_before_work(built, tmp_path):
    with pytest.raises(BadValueError, match="8 shard files"):
        build_index(built / "vectors", tmp_path / "index", lucene_shards=9)
    assert not (tmp_path / "index").exists()
    result = CliRunner().invoke(
        main, ["index", str(built / "vectors"), "--out", str(tmp_path / "x"), "--lucene-shards",
               "9"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "8 shard files" in result.output and "Traceback" not in result.output


def test_groups_are_contiguous_balanced_and_never_empty(tmp_path):
    sizes = [100, 100, 100, 100, 5, 5, 5, 300]
    files = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"part-{i:05d}.jsonl"
        path.write_bytes(b"x" * size)
        files.append(path)
    for count in range(1, len(files) + 1):
        groups = plan_groups(files, count)
        assert len(groups) == count
        assert all(groups)
        assert [f for g in groups for f in g] == files
    two = plan_groups(files, 2)
    assert sum(f.stat().st_size for f in two[0]) == 400  # 400 | 315: the nearest cut


def test_a_sharded_index_is_replaced_by_overwrite_but_not_with_a_stranger_inside(built, tmp_path):
    import shutil

    from splade_lite.outputs import foreign_entries

    copy = tmp_path / "index"
    shutil.copytree(built / "sharded-splade", copy)
    assert foreign_entries(copy, "index") == []
    (copy / "shards" / "00001" / "notes.txt").write_text("mine")
    (copy / "shards" / "extra").mkdir()
    assert foreign_entries(copy, "index") == ["shards/00001/notes.txt", "shards/extra/"]
    with pytest.raises(FileExistsError, match="notes.txt"):
        build_index(built / "vectors", copy, overwrite=True)
    assert (copy / "shards" / "00001" / "notes.txt").read_text() == "mine"
    (copy / "shards" / "00001" / "notes.txt").unlink()
    (copy / "shards" / "extra").rmdir()
    meta = build_index(built / "vectors", copy, overwrite=True)  # one folder again
    assert "lucene_shards" not in meta and not (copy / "shards").exists()
    assert Searcher(copy).search("coffee", 3)
