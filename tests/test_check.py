"""`splade-lite check` on a whole index, then on copies broken one way each; and searches
refusing what does not agree with how the documents were encoded."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from splade_lite.check import FAIL, OK, SKIP, check_folder, format_checks
from splade_lite.cli import main
from splade_lite.index import build_index
from splade_lite.search import Searcher

pytestmark = pytest.mark.jvm


@pytest.fixture(scope="module")
def built(tiny_built) -> tuple[Path, Path]:
    """The session's small index (conftest.py): read only, `copy` it to change it."""
    return tiny_built / "vectors", tiny_built / "index"


@pytest.fixture
def copy(built, tmp_path) -> Path:
    shutil.copytree(built[1], tmp_path / "index")
    return tmp_path / "index"


def statuses(path: Path) -> dict[str, str]:
    return {c.name: c.status for c in check_folder(path)}


def edit_meta(index: Path, **changes) -> None:
    path = index / "splade_lite.json"
    meta = json.loads(path.read_text())
    meta.update(changes)
    path.write_text(json.dumps(meta))


def test_a_whole_index_passes(built):
    _, index = built
    checks = check_folder(index)
    assert {c.name: c.status for c in checks} == {
        "metadata": OK,
        "encoding": OK,
        "query model": OK,
        "tokenizer": OK,
        "idf": OK,
        "lucene index": OK,
        "forward index": OK,
        "documents file": OK,
        "bm25 index": OK,
        "engine": SKIP,  # built without --engine: Lucene answers every query
    }
    result = CliRunner().invoke(main, ["check", str(index)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split() == ["check", "status", "detail"]
    assert "lucene index    ok      6 documents" in result.output
    assert result.output.splitlines()[-1] == "all checks passed (9 ok, 1 skipped)"


def test_a_vectors_folder_passes(built):
    vectors, _ = built
    assert set(statuses(vectors).values()) == {OK}
    assert len(statuses(vectors)) == 5


def test_edited_scale_is_caught_and_refused(copy):
    edit_meta(copy, scale=50.0)
    assert statuses(copy)["encoding"] == FAIL
    with pytest.raises(ValueError, match=r"says scale 50\.0 but the documents were encoded"):
        Searcher(copy)
    result = CliRunner().invoke(main, ["search", str(copy), "coffee"])
    assert result.exit_code == 1 and "--overwrite" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_changed_model_weights_are_caught_and_refused(copy, tmp_path):
    from splade_lite.encoders.models import builtin_model_dir

    model = tmp_path / "model"
    shutil.copytree(builtin_model_dir("splade-tiny"), model)
    for name in ("splade_lite.json", "vectors.json"):  # an index built with this folder
        path = copy / name
        path.write_text(path.read_text().replace('"splade-tiny"', json.dumps(str(model))))
    assert statuses(copy)["query model"] == OK  # the same weights elsewhere are fine
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of the last tensor: still loads, other weights
    weights.write_bytes(bytes(data))
    checks = {c.name: c for c in check_folder(copy)}
    assert checks["query model"].status == FAIL and "rebuild" in checks["query model"].detail
    with pytest.raises(ValueError, match="sha256"):
        Searcher(copy).search("coffee")


@pytest.mark.parametrize(
    ("damage", "failing"),
    [
        (lambda i: (i / "forward.npz").unlink(), {"forward index"}),
        (lambda i: shutil.rmtree(i / "bm25"), {"bm25 index"}),
        (lambda i: shutil.rmtree(i / "tokenizer"), {"tokenizer"}),
        (lambda i: (i / "idf.json").write_text("[1, 2"), {"idf"}),
        (lambda i: edit_meta(i, num_docs=7), {"lucene index", "forward index", "documents file"}),
        (lambda i: edit_meta(i, mode="dense"), {"metadata"}),
        (
            lambda i: (i / "docs.jsonl.gz").write_bytes(gzip.compress(b'{"id": "d1"}\n')),
            {"documents file"},
        ),
        (lambda i: [p.write_bytes(b"junk") for p in i.glob("segments_*")], {"lucene index"}),
    ],
)
def test_each_damage_fails_its_check(copy, damage, failing):
    damage(copy)
    checks = check_folder(copy)
    assert {c.name for c in checks if c.status == FAIL} == failing, format_checks(checks)
    result = CliRunner().invoke(main, ["check", str(copy)])
    assert result.exit_code == 1 and "FAILED" in result.output.splitlines()[-1]


def test_damaged_lucene_files_give_a_one_line_error(copy):
    for segments in copy.glob("segments_*"):
        segments.write_bytes(b"junk")
    result = CliRunner().invoke(main, ["search", str(copy), "coffee"])
    assert result.exit_code == 1
    assert "cannot open the Lucene index" in result.output and "--overwrite" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_skips_what_does_not_apply(built, tmp_path):
    vectors, _ = built
    build_index(vectors, tmp_path / "plain", mode="inference-free")
    checks = {c.name: c for c in check_folder(tmp_path / "plain")}
    assert checks["bm25 index"].status == SKIP
    assert checks["query model"].status == OK and "no model" in checks["query model"].detail
    (tmp_path / "plain" / "vectors.json").unlink()  # an incomplete index, refused by search
    assert statuses(tmp_path / "plain")["encoding"] == FAIL
    with pytest.raises(ValueError, match="no vectors.json: the index is incomplete"):
        Searcher(tmp_path / "plain")


def test_unfinished_vectors_and_other_folders(built, tmp_path):
    vectors, _ = built
    shutil.copytree(vectors, tmp_path / "v")
    (tmp_path / "v" / "encode-progress.json").write_text('{"settings": {}, "shards": []}')
    assert statuses(tmp_path / "v")["finished"] == FAIL
    result = CliRunner().invoke(main, ["check", str(tmp_path)])
    assert result.exit_code == 1 and "neither a splade-lite index" in result.output
