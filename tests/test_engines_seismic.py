"""The Seismic engine (splade_lite.engines.seismic): its exact search ranks as the integer dot
product does and as Lucene does (scores, order, ties by docid), at every impact and weight
splade-lite allows, and its folder is refused clearly when missing, damaged or mismatched."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("seismic", reason="pyseismic-lsr is not installed")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from splade_lite.engines import seismic as eng  # noqa: E402
from splade_lite.engines.seismic import (  # noqa: E402
    SeismicIndex,
    SeismicSearch,
    SeismicSettings,
    build_seismic,
)
from splade_lite.errors import BadValueError, MissingFileError, StateError  # noqa: E402
from splade_lite.vectors import EMPTY_DOC_TOKEN  # noqa: E402
from splade_lite.vectors_folder import document_record, record_line  # noqa: E402


def write_vectors(folder: Path, docs: dict[str, dict[str, int]]) -> Path:
    """A vectors folder of one shard holding `docs` (an empty vector gets the placeholder)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [record_line(document_record(d, v)) for d, v in docs.items()]
    (folder / "part-00000.jsonl").write_text("".join(lines), encoding="utf-8")
    return folder


def brute_force(docs: dict[str, dict[str, int]], query: dict[str, int], k: int):
    """The top `k` by exact integer dot product (positive scores only), ties by docid."""
    scored = []
    for docid, vector in docs.items():
        score = sum(w * vector.get(t, 0) for t, w in query.items() if w > 0)
        if score > 0:
            scored.append((docid, score))
    return sorted(scored, key=lambda hit: (-hit[1], hit[0]))[:k]


def built(tmp: Path, docs: dict[str, dict[str, int]], **build) -> SeismicIndex:
    build_seismic(write_vectors(tmp / "vectors", docs), tmp / "engine", progress=False, **build)
    return SeismicIndex.open(tmp / "engine")


# A few terms and small weights make ties; the large impacts (> 2048, > 65504) are split
# into float16 digits; the large query weights push scores past 2**24 and 2**53.
TERMS = list("abcdefg") + ["é", "日本"]
impacts = st.one_of(
    st.integers(1, 4), st.integers(1, 300), st.integers(2040, 70_000), st.integers(1, 10**7)
)
weights = st.one_of(st.integers(-3, 4), st.integers(1, 3000), st.integers(2**24 - 5, 2**31 - 1))
docids = st.text(alphabet="ab0Z€😀", min_size=1, max_size=3)
corpora = st.dictionaries(
    docids, st.dictionaries(st.sampled_from(TERMS), impacts, max_size=5), min_size=1, max_size=40
)
queries = st.lists(
    st.dictionaries(st.sampled_from(TERMS + ["unknown"]), weights, max_size=6),
    min_size=1,
    max_size=6,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=corpora, queries=queries, k=st.integers(1, 12))
def test_exact_search_is_the_integer_dot_product_ranking(docs, queries, k):
    with tempfile.TemporaryDirectory() as tmp:
        index = built(Path(tmp), docs)
        expected = [brute_force(docs, q, k) for q in queries]
        assert index.retrieve(queries, k) == expected
        assert index.retrieve(queries, k, threads=2) == expected
        assert index.num_docs == len(docs)
        # approximate settings: any subset, but exact scores, in ranking order
        for hits, query in zip(index.retrieve(queries, k, search=SeismicSearch(1, 1.0)), queries):
            exact = dict(brute_force(docs, query, len(docs)))
            assert all(exact[d] == s for d, s in hits) and len(hits) <= k
            assert hits == sorted(hits, key=lambda h: (-h[1], h[0]))


def test_ties_beyond_the_candidates_are_resolved_by_docid(tmp_path):
    docs = {f"d{i:03d}": {"x": 7} for i in range(60, 0, -1)} | {"top": {"x": 9}}
    index = built(tmp_path, docs)
    for k in (1, 3, 25):  # 2k candidates hold an arbitrary subset of the 60 tied documents
        expected = brute_force(docs, {"x": 2}, k)
        assert index.retrieve([{"x": 2}], k) == [expected]
        assert index.retrieve([{"x": 2}], k, search=SeismicSearch.exact(candidates=k)) == [expected]


def test_large_impacts_are_split_into_exact_float16_digits(tmp_path):
    docs = {
        "a": {"big": 2049, "small": 1},
        "b": {"big": 2048, "small": 2},  # 2048 itself is a float16: kept whole ...
        "c": {"big": 65_505, "small": 3},  # ... above 65504 float16 overflows
        "d": {"big": 4_194_305},
        "e": {"small": 2048},
    }
    index = built(tmp_path, docs)
    meta = json.loads((tmp_path / "engine" / "engine.json").read_text())
    assert meta["max_impact"] == 4_194_305 and len(meta["splits"]) == 1  # "big" alone
    assert meta["num_components"] == meta["num_terms"] + 2  # 23 bits: three digits
    for query in ({"big": 1}, {"big": 3, "small": 5}, {"big": 2**31 - 1, "small": 2**31 - 1}):
        assert index.retrieve([query], 5) == [brute_force(docs, query, 5)]
    (hits,) = index.retrieve([{"big": 2**31 - 1}], 1)
    assert hits == [("d", (2**31 - 1) * 4_194_305)]  # above 2**53: a Python int, exact
    # weights × impacts whose sum might pass int64: rescored in Python ints
    docs = {"g": {"a": 130_000_000}} | {f"f{i}": {f"t{i}": 1, "a": i + 1} for i in range(40)}
    query = {f"t{i}": 2**31 - 1 for i in range(40)} | {"a": 2**31 - 1}
    assert built(tmp_path / "wide", docs).retrieve([query], 4) == [brute_force(docs, query, 4)]


def test_documents_without_terms_are_counted_not_indexed(tmp_path):
    docs = {"e1": {}, "full": {"a": 3}, "e2": {}}
    index = built(tmp_path, docs)
    assert (index.num_docs, index.num_indexed) == (3, 1)
    assert index.retrieve([{EMPTY_DOC_TOKEN: 1}, {"a": 2}, {}], 10) == [[], [("full", 6)], []]
    nothing = built(tmp_path / "empty", {"e1": {}, "e2": {}})
    assert not (tmp_path / "empty" / "engine" / "index.seismic").exists()
    assert (nothing.num_docs, nothing.retrieve([{"a": 1}], 3)) == (2, [[]])


def test_open_after_save_round_trip_and_engine_json(tmp_path):
    docs = {"x": {"a": 3, "b": 1}, "y": {"b": 5}, "z": {"a": 1, "c": 2}}
    meta = build_seismic(write_vectors(tmp_path / "v", docs), tmp_path / "eng", progress=False)
    on_disk = json.loads((tmp_path / "eng" / "engine.json").read_text())
    assert on_disk == meta
    assert meta["engine"] == "seismic" and meta["pyseismic_version"] == "0.5.4"
    assert meta["lossless"] and meta["settings"]["n_postings"] >= meta["longest_posting_list"]
    assert (meta["num_docs"], meta["source"]["kind"]) == (3, "vectors")
    first, second = SeismicIndex.open(tmp_path / "eng"), SeismicIndex.open(tmp_path / "eng")
    query = [{"a": 2, "b": 1}, {"c": 1}]
    assert (
        first.retrieve(query, 3)
        == second.retrieve(query, 3)
        == [
            [("x", 7), ("y", 5), ("z", 2)],
            [("z", 2)],
        ]
    )
    # from an index folder's forward.npz: the documents as Lucene holds them
    (tmp_path / "idx").mkdir()
    (tmp_path / "idx" / "forward.npz").write_bytes((tmp_path / "eng" / "forward.npz").read_bytes())
    again = build_seismic(tmp_path / "idx", tmp_path / "eng2", progress=False)
    assert again["source"]["kind"] == "index"
    assert SeismicIndex.open(tmp_path / "eng2").retrieve(query, 3) == first.retrieve(query, 3)


def test_seismic_never_prints_on_stdout(tmp_path, capfd):
    vectors = write_vectors(tmp_path / "v", {"x": {"a": 1}})
    build_seismic(vectors, tmp_path / "loud", progress=True)
    out, err = capfd.readouterr()
    assert out == "" and "seismic" in err.lower()
    build_seismic(vectors, tmp_path / "quiet", progress=False)
    assert capfd.readouterr() == ("", "")


def test_missing_and_damaged_folders_are_refused(tmp_path):
    index_dir = tmp_path / "engine"
    built(tmp_path, {"x": {"a": 1}, "y": {"b": 2}})
    with pytest.raises(MissingFileError, match="not a Seismic engine folder"):
        SeismicIndex.open(tmp_path / "nowhere")
    with pytest.raises(MissingFileError, match="engine.json"):
        SeismicIndex.open(tmp_path / "vectors")
    seismic_file = index_dir / "index.seismic"
    good = seismic_file.read_bytes()
    seismic_file.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # one bit flipped
    with pytest.raises(BadValueError, match="index.seismic is damaged"):
        SeismicIndex.open(index_dir)
    seismic_file.write_bytes(good[: len(good) // 2])  # truncated
    with pytest.raises(BadValueError, match="damaged"):
        SeismicIndex.open(index_dir)
    seismic_file.unlink()
    with pytest.raises(MissingFileError, match="index.seismic is missing"):
        SeismicIndex.open(index_dir)
    seismic_file.write_bytes(good)
    meta_file = index_dir / "engine.json"
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps(meta | {"pyseismic_version": "0.0.1"}))
    with pytest.raises(BadValueError, match=r"built with pyseismic-lsr 0\.0\.1.*pip install"):
        SeismicIndex.open(index_dir)
    meta_file.write_text(json.dumps(meta | {"num_docs": 5}))
    with pytest.raises(BadValueError, match="do not match"):
        SeismicIndex.open(index_dir)
    for broken in ("{", "[]", json.dumps(meta | {"format_version": 99})):
        meta_file.write_text(broken)
        with pytest.raises(BadValueError, match="engine.json: unreadable"):
            SeismicIndex.open(index_dir)


def test_bad_values_are_refused(tmp_path):
    index = built(tmp_path, {"x": {"a": 1}})
    for query, why in (
        ({"a": 1.5}, "not an integer"),
        ({"a": "3"}, "not an integer"),
        ({"a": 2**31}, "above 2147483647"),
    ):
        with pytest.raises(BadValueError, match=why):
            index.retrieve([query], 1)
    with pytest.raises(BadValueError, match="a list of queries"):
        index.retrieve({"a": 1}, 1)
    for k in (0, True, 1.0):
        with pytest.raises(BadValueError, match="k must be"):
            index.retrieve([{"a": 1}], k)
    with pytest.raises(BadValueError, match="threads"):
        index.retrieve([{"a": 1}], 1, threads=0)
    with pytest.raises(BadValueError, match="query_cut"):
        SeismicSearch(query_cut=0)
    with pytest.raises(BadValueError, match="heap_factor"):
        SeismicSearch(heap_factor=float("nan"))
    with pytest.raises(BadValueError, match="summary_energy"):
        SeismicSettings(summary_energy=0)
    pruned = tmp_path / "pruned"
    build_seismic(tmp_path / "vectors", pruned, SeismicSettings(n_postings=1), progress=False)
    with pytest.raises(BadValueError, match="exact search needs a build with n_postings=None"):
        SeismicIndex.open(pruned).retrieve([{"a": 1}], 1)
    assert SeismicIndex.open(pruned).retrieve([{"a": 1}], 1, search=SeismicSearch()) == [[("x", 1)]]


def test_outputs_are_replaced_only_when_ours_and_asked(tmp_path):
    vectors = write_vectors(tmp_path / "v", {"x": {"a": 1}})
    build_seismic(vectors, tmp_path / "eng", progress=False)
    with pytest.raises(StateError, match="overwrite=True replaces it"):
        build_seismic(vectors, tmp_path / "eng", progress=False)
    write_vectors(vectors, {"x": {"a": 1}, "y": {"a": 2}})
    build_seismic(vectors, tmp_path / "eng", progress=False, overwrite=True)
    assert SeismicIndex.open(tmp_path / "eng").num_docs == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eng", "v"]  # no staging left
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("mine")
    with pytest.raises(StateError, match="not a folder of format"):
        build_seismic(vectors, tmp_path / "other", progress=False, overwrite=True)
    assert (tmp_path / "other" / "keep.txt").read_text() == "mine"
    with pytest.raises(MissingFileError, match="neither a vectors folder"):
        build_seismic(tmp_path / "other", tmp_path / "eng3", progress=False)


def test_a_missing_package_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "seismic", None)  # import seismic fails
    with pytest.raises(StateError, match=r"pip install 'splade-lite\[fast\]'"):
        build_seismic(tmp_path, tmp_path / "eng", progress=False)
    with pytest.raises(StateError, match="pyseismic-lsr"):
        eng.load_seismic()


# --------------------------------------------------------------------------------------------
# Against Lucene, on the session's shared index


@pytest.mark.jvm
@pytest.mark.parametrize("name", ["index", "index-if"])
def test_exact_search_equals_lucene_on_the_shared_index(tiny_built, tmp_path, name):
    from splade_lite.search import Searcher

    searcher = Searcher(tiny_built / name)
    texts = ["vitamin d bones", "sleep and the heart", "coffee café caffeine", "aurora", "time"]
    queries = searcher.query_terms(texts)
    queries += [searcher.forward.vector(d) for d in searcher.forward.docids]  # long queries
    queries += [{t: 1 for t in q} for q in queries]  # weight 1: many ties
    for source in (tiny_built / "vectors", tiny_built / name):
        build_seismic(source, tmp_path / name, progress=False, overwrite=True)
        index = SeismicIndex.open(tmp_path / name)
        assert index.num_docs == len(searcher.forward) == 6  # d4 has no term
        for k in (1, 3, 10):
            lucene = searcher.batch_search_terms(queries, k)
            expected = [[(h.docid, int(h.score)) for h in hits] for hits in lucene]
            assert index.retrieve(queries, k) == expected
            assert index.retrieve(queries, k, threads=2) == expected
