"""``index V0 V1 ... --out INDEX``: several vectors folders make one index of their union.

The N parts of ``encode --shard I/N`` give the index one folder of the whole corpus gives
(same documents in the same order, same scores, same IDF), in whatever order they are named;
folders that cannot make one index are refused before any work, each with one line naming
them."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_encode_shard import encode_parts, write_corpus

from splade_lite.check import FAIL, check_folder
from splade_lite.cli import main
from splade_lite.encode import encode_corpus
from splade_lite.errors import BadValueError
from splade_lite.forward import ForwardIndex
from splade_lite.index import IndexError_, build_index
from splade_lite.pruning import Pruning
from splade_lite.resume import PROGRESS_FILE
from splade_lite.search import Searcher
from splade_lite.vector_union import open_union

QUERIES = [
    "vitamin bones",
    "sleep and heart disease",
    "coffee stimulant",
    "how do rivers flood",
    "solar wind aurora",
    "pause the program for seconds",
]
TOTAL, PARTS = 7, 3  # 7 documents in 3 parts: 2, 2 and 3


@pytest.fixture(scope="module")
def encoded(tmp_path_factory, splade_tiny):
    """A corpus of 7 documents encoded whole and as 3 parts (each document alone in its
    batch, so that the parts' vectors are the whole's bytes)."""
    root = tmp_path_factory.mktemp("multi")
    corpus = write_corpus(root / "corpus.jsonl", TOTAL)
    encode_corpus(corpus, root / "whole", encoder=splade_tiny, batch_size=1, progress=False)
    parts = encode_parts(corpus, root, PARTS, splade_tiny, batch_size=1)
    return root, corpus, parts


def hits(index: Path) -> list[list[tuple[str, float]]]:
    searcher = Searcher(index)
    return [[(h.docid, h.score) for h in searcher.search(q, k=TOTAL)] for q in QUERIES]


def snippet_lines(index: Path) -> list[str]:
    with gzip.open(index / "docs.jsonl.gz", "rt", encoding="utf-8") as handle:
        return handle.read().splitlines()


def copy(folder: Path, to: Path) -> Path:
    shutil.copytree(folder, to)
    return to


def edit_meta(folder: Path, **changes) -> None:
    path = folder / "vectors.json"
    meta = json.loads(path.read_text())
    meta.update(changes)
    path.write_text(json.dumps(meta))


@pytest.mark.jvm
@pytest.mark.parametrize("mode, max_terms", [("splade", None), ("inference-free", 20)])
def test_the_parts_index_as_the_whole_does(encoded, tmp_path, mode, max_terms):
    from splade_lite.indexer import read_document_vectors

    root, corpus, parts = encoded
    pruning = None if max_terms is None else Pruning(max_terms=max_terms)
    build_index(root / "whole", tmp_path / "whole", mode=mode, doc_pruning=pruning)
    shuffled = [parts[2], parts[0], parts[1]]  # as a shell glob may give them: put in order
    args = ["index", *map(str, shuffled), "--out", str(tmp_path / "union"), "--mode", mode]
    args += [] if max_terms is None else ["--doc-max-terms", str(max_terms)]
    result = CliRunner().invoke(main, [*args, "--bm25-corpus", str(corpus)])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output  # the BM25 corpus is the one encoded, part by part
    whole, union = tmp_path / "whole", tmp_path / "union"

    found = hits(whole)
    assert hits(union) == found
    assert all(found) and max(map(len, found)) > 1  # something to compare, and its order
    assert (union / "idf.json").read_bytes() == (whole / "idf.json").read_bytes()
    # the same documents, in the same order, in Lucene and in the forward index
    assert list(read_document_vectors(union)) == list(read_document_vectors(whole))
    assert (union / "forward.npz").read_bytes() == (whole / "forward.npz").read_bytes()
    assert snippet_lines(union) == snippet_lines(whole)
    meta = json.loads((union / "splade_lite.json").read_text())
    assert meta["vectors_folders"] == [str(p.resolve()) for p in parts]
    assert meta["vectors"] == str(parts[0].resolve()) and meta["num_docs"] == TOTAL
    assert meta["bm25"]["num_docs"] == TOTAL
    whole_meta = json.loads((whole / "splade_lite.json").read_text())
    assert meta["doc_pruning"] == whole_meta["doc_pruning"]
    assert meta["idf_source"] == whole_meta["idf_source"] and meta["mode"] == mode
    copied = json.loads((union / "vectors.json").read_text())
    assert [p["vectors"] for p in copied["parts"]] == meta["vectors_folders"]
    assert copied["num_docs"] == TOTAL
    assert not [c for c in check_folder(union) if c.status == FAIL]


@pytest.mark.jvm
def test_a_missing_part_is_refused_unless_allowed(encoded, tmp_path):
    _, _, parts = encoded
    given = [parts[0], parts[2]]
    with pytest.raises(BadValueError, match=r"part 1/3 missing.*--allow-partial"):
        build_index(given, tmp_path / "index")
    assert not (tmp_path / "index").exists()
    said: list[str] = []
    meta = build_index(given, tmp_path / "index", allow_partial=True, log=said.append)
    assert meta["num_docs"] == TOTAL - 2
    assert any(line.startswith("warning:") and "part 1/3" in line for line in said), said
    indexed = list(ForwardIndex.load(tmp_path / "index" / "forward.npz").docids)
    assert indexed == ["d0", "d1", "d4", "d5", "d6"]  # parts 0 and 2 of d0 ... d6


def test_an_empty_part_completes_the_set(tmp_path, splade_tiny):
    corpus = write_corpus(tmp_path / "corpus.jsonl", 2)
    parts = encode_parts(corpus, tmp_path, 3, splade_tiny)  # part 0 holds no document
    union = open_union(parts[::-1])
    assert union.paths == parts and union.num_docs == 2
    assert union.sources() == parts[1:]  # nothing to read in the empty one
    with pytest.raises(BadValueError, match="part 1/3, part 2/3 missing"):
        open_union(parts[:1])
    with pytest.raises(BadValueError, match="holds no document"):
        open_union(parts[:1], allow_partial=True)


def test_the_merged_document_frequencies_are_the_wholes(encoded):
    root, _, parts = encoded
    whole = json.loads((root / "whole" / "df.json").read_text())
    df, num_docs = open_union(parts).read_df()
    assert (df, num_docs) == (whole["df"], whole["num_docs"])


# --------------------------------------------------------------------------------------------
# Refused before any work


def refused(folders, out: Path, match: str, error=BadValueError, **options) -> None:
    with pytest.raises(error, match=match) as info:
        build_index(folders, out, **options)
    assert len(str(info.value).splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        ({"scale": 50}, "scale 100 vs 50"),
        ({"model_sha256": "0" * 64}, "model_sha256"),
        ({"max_length": 128}, "max_length 256 vs 128"),
        ({"mode": "inference-free"}, "mode 'splade' vs 'inference-free'"),
    ],
)
def test_folders_encoded_differently_are_refused(encoded, tmp_path, change, shown):
    _, _, parts = encoded
    other = copy(parts[2], tmp_path / "other")
    edit_meta(other, **change)
    refused([parts[0], parts[1], other], tmp_path / "i", f"{re.escape(str(other))} were encoded")
    refused([parts[0], parts[1], other], tmp_path / "i", shown)


def test_another_mode_is_no_difference_once_the_index_chooses_one(encoded, tmp_path):
    _, _, parts = encoded
    other = copy(parts[2], tmp_path / "other")
    edit_meta(other, mode="inference-free")
    with pytest.raises(BadValueError, match="--mode"):
        open_union([parts[0], parts[1], other])
    assert open_union([parts[0], parts[1], other], mode="splade").num_docs == TOTAL


def test_a_folder_given_twice_is_refused(encoded, tmp_path):
    _, _, parts = encoded
    refused([parts[0], parts[1], parts[1], parts[2]], tmp_path / "i", "given twice")
    link = tmp_path / "link"
    link.symlink_to(parts[1])
    refused([parts[0], parts[1], link, parts[2]], tmp_path / "i", f"twice.*{re.escape(str(link))}")


def test_an_unfinished_folder_is_refused(encoded, tmp_path):
    _, _, parts = encoded
    unfinished = copy(parts[1], tmp_path / "unfinished")
    (unfinished / PROGRESS_FILE).write_text("{}")
    match = f"{re.escape(str(unfinished))} is unfinished"
    refused([parts[0], unfinished, parts[2]], tmp_path / "i", match, IndexError_)


def test_overlapping_parts_are_refused(encoded, tmp_path, splade_tiny):
    root, corpus, parts = encoded
    again = copy(parts[1], tmp_path / "again")
    refused([*parts, again], tmp_path / "i", "overlap")
    halves = encode_parts(corpus, tmp_path, 2, splade_tiny, batch_size=1)  # 0-2 and 3-6
    refused([parts[0], parts[1], halves[1]], tmp_path / "i", "overlap.*documents 3 to 6")


def test_parts_of_other_corpora_are_each_checked(encoded, tmp_path, splade_tiny):
    _, _, parts = encoded
    corpus = write_corpus(tmp_path / "other.jsonl", 4)
    other = encode_parts(corpus, tmp_path, 2, splade_tiny, batch_size=1)
    refused([*parts, other[0]], tmp_path / "i", r"other\.jsonl.*part 1/2 missing")


def test_other_tokenizer_files_are_refused(encoded, tmp_path):
    _, _, parts = encoded
    other = copy(parts[2], tmp_path / "other")
    config = other / "tokenizer" / "tokenizer_config.json"
    config.write_text(config.read_text().replace("{", '{"x": 1, ', 1))
    refused(
        [parts[0], parts[1], other], tmp_path / "i", "differ in tokenizer/tokenizer_config.json"
    )


@pytest.mark.jvm
def test_a_document_in_two_folders_is_refused(tmp_path, splade_tiny):
    # two corpora sharing one id: folders of their own (not parts), indexed in the order given
    first = write_corpus(tmp_path / "first.jsonl", 3)  # d0 d1 d2
    second = tmp_path / "second.jsonl"
    second.write_text('{"_id": "e0", "text": "glaciers"}\n{"_id": "d1", "text": "a copy"}\n')
    for corpus in (first, second):
        encode_corpus(corpus, tmp_path / corpus.stem, encoder=splade_tiny, progress=False)
    folders = [tmp_path / "first", tmp_path / "second"]
    both = f"'d1' is in both {re.escape(str(folders[0]))} and {re.escape(str(folders[1]))}"
    refused(folders, tmp_path / "i", both)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".i")]  # no staging left
    result = CliRunner().invoke(
        main, ["index", *map(str, folders), "--out", str(tmp_path / "i"), "--quiet"]
    )
    assert result.exit_code == 1 and "'d1' is in both" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_the_command_needs_a_folder(tmp_path):
    result = CliRunner().invoke(main, ["index", "--out", str(tmp_path / "i")])
    assert result.exit_code == 2 and "VECTORS_DIRS" in result.output
