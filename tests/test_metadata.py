"""The index metadata's names of Lucene shard folders: ours, in order, or refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from splade_lite import metadata as md


def test_an_unsharded_index_is_its_own_lucene_folder(tmp_path):
    assert md.lucene_folders(tmp_path, {}) == [tmp_path]


def test_shard_folders_come_in_the_order_written(tmp_path):
    meta = {"lucene_shards": ["shards/00001", "shards/00000"]}
    assert md.lucene_folders(tmp_path, meta) == [
        tmp_path / "shards" / "00001",
        tmp_path / "shards" / "00000",
    ]
    assert md.shard_folder_name(7) == "shards/00007"


@pytest.mark.parametrize(
    "shards",
    [
        ["../elsewhere"],
        ["/etc"],
        ["shards/00000/../../x"],
        ["shards/0"],
        ["shards/00000", "shards/00000"],
        [],
        "shards/00000",
        [3],
    ],
)
def test_crafted_shard_names_are_refused(tmp_path, shards):
    with pytest.raises(md.MetadataError, match="lucene_shards"):
        md.lucene_folders(tmp_path, {"lucene_shards": shards})
    assert any("lucene_shards" in p for p in md.index_meta_problems({"lucene_shards": shards}))


def test_well_formed_shards_are_no_problem():
    problems = md.index_meta_problems({"lucene_shards": ["shards/00000"]})
    assert not any("lucene_shards" in p for p in problems)
    assert Path(md.shard_folder_name(0)).parts == (md.SHARDS_DIR, "00000")
