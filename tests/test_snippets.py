"""snippets.npz: lookups by id equal the scan of docs.jsonl.gz they replace."""

from __future__ import annotations

import gzip
import json
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splade_lite import metadata as md
from splade_lite.index_folder import read_documents
from splade_lite.snippets import BLOCK, Snippets, SnippetsError, build_snippets
from splade_lite.vectors_folder import snippet_line


def write_docs(path, records):
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for docid, title, text in records:
            handle.write(snippet_line(docid, title, text))


IDS = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8)


@given(st.lists(IDS, unique=True, max_size=3 * BLOCK + 5), st.data())
@settings(max_examples=40, deadline=None)
def test_lookup_equals_the_scan(tmp_path_factory, ids, data):
    folder = tmp_path_factory.mktemp("snip")
    records = [(d, f"title {i}", f"text\n{d} é {i}") for i, d in enumerate(ids)]
    write_docs(folder / md.DOCS_FILE, records)
    assert build_snippets(folder / md.DOCS_FILE, folder / md.SNIPPETS_FILE) == len(ids)
    wanted = set(data.draw(st.lists(st.sampled_from(ids), max_size=12))) if ids else set()
    wanted |= {"absent id"} - set(ids)
    got = Snippets(folder / md.SNIPPETS_FILE).get(wanted)
    (folder / md.SNIPPETS_FILE).unlink()  # the scan of docs.jsonl.gz: the reference
    assert got == read_documents(folder, wanted)
    assert "absent id" not in got


def test_index_folder_reads_the_packed_file(tmp_path):
    write_docs(tmp_path / md.DOCS_FILE, [("a", "A", "alpha"), ("b", "", "beta")])
    build_snippets(tmp_path / md.DOCS_FILE, tmp_path / md.SNIPPETS_FILE)
    (tmp_path / md.DOCS_FILE).unlink()  # only the packed file is left to answer
    assert read_documents(tmp_path, {"b"}) == {"b": {"id": "b", "title": "", "text": "beta"}}


def test_built_index_has_it_and_check_counts_it(tiny_built, tmp_path):
    from splade_lite.check import check_index, failed

    index = tiny_built / "index"
    assert len(Snippets(index / md.SNIPPETS_FILE)) == 6
    copy = tmp_path / "index"
    shutil.copytree(index, copy)
    write_docs(tmp_path / "few.jsonl.gz", [("d1", "", "x")])
    build_snippets(tmp_path / "few.jsonl.gz", copy / md.SNIPPETS_FILE)
    assert any("snippets.npz holds 1 documents" in c.detail for c in failed(check_index(copy)))
    assert not failed(check_index(index))


def test_damage_is_a_clear_error(tmp_path):
    write_docs(tmp_path / md.DOCS_FILE, [(f"d{i}", "", "t") for i in range(10)])
    path = tmp_path / md.SNIPPETS_FILE
    build_snippets(tmp_path / md.DOCS_FILE, path)
    with np.load(path) as npz:
        arrays = {name: npz[name] for name in npz.files}
    arrays["blocks"] = arrays["blocks"].copy()
    arrays["blocks"][5:15] = 0
    np.savez(path, **arrays)
    with pytest.raises(SnippetsError, match="block 0 is damaged"):
        Snippets(path).get({"d3"})
    path.write_bytes(b"not a zip")
    with pytest.raises(SnippetsError, match="not a readable snippets file"):
        Snippets(path)


def test_bad_docs_file_names_its_line(tmp_path):
    path = tmp_path / md.DOCS_FILE
    with gzip.open(path, "wt") as handle:
        handle.write(json.dumps({"id": "a"}) + "\n" + "{broken\n")
    with pytest.raises(SnippetsError, match=r"docs.jsonl.gz:2: not a document record"):
        build_snippets(path, tmp_path / md.SNIPPETS_FILE)
    assert not (tmp_path / md.SNIPPETS_FILE).exists()
