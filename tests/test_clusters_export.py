"""`export --format opensearch|elasticsearch|qdrant`: the files have the documented shapes.

Checked against what the documentation of each cluster says its requests look like (index
mapping or collection body, bulk NDJSON, query bodies), and against the encoded vectors
themselves (``vectors/`` of the shared tiny index, read without Lucene): every document, every
term, weight = integer impact / scale, the empty document kept without a vector.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from splade_lite.cli import EXPORT_FORMATS, main
from splade_lite.clusters import TARGETS, export_cluster, query_bodies
from splade_lite.clusters.elasticsearch import feature_name, term_of
from splade_lite.shards import read_vector_shards
from splade_lite.vectors import EMPTY_DOC_TOKEN

pytestmark = pytest.mark.jvm

QUERY_TEXTS = ["vitamin d and bones", "sleep and the heart", "café coffee", "   "]


@pytest.fixture(scope="module")
def edited(tiny_built, tmp_path_factory) -> Path:
    """The tiny corpus's vectors with d4 made empty (no term: the placeholder) and the terms
    '.' and '##.' given to d5, indexed in SPLADE mode: ``vectors/`` and ``index/``."""
    from splade_lite.index import build_index

    root = tmp_path_factory.mktemp("edited")
    shutil.copytree(tiny_built / "vectors", root / "vectors")
    (shard,) = (root / "vectors").glob("part-*.jsonl*")
    records = list(read_vector_shards(root / "vectors"))
    for record in records:
        if record["id"] == "d4":
            record["vector"] = {EMPTY_DOC_TOKEN: 1}
        if record["id"] == "d5":
            record["vector"].update({".": 57, "##.": 3})
    shard.unlink()
    (root / "vectors" / "part-00000.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    build_index(root / "vectors", root / "index")
    return root


@pytest.fixture(scope="module")
def exports(edited, tiny_built, tmp_path_factory) -> Path:
    """Each target's export of both indexes (SPLADE: `edited`, inference-free: the tiny
    one), with query bodies: ``{mode}-{target}/``."""
    root = tmp_path_factory.mktemp("cluster-exports")
    queries = root / "queries.jsonl"
    queries.write_text(
        "".join(json.dumps({"_id": f"q{i}", "text": t}) + "\n" for i, t in enumerate(QUERY_TEXTS))
    )
    indexes = {"splade": edited / "index", "inference-free": tiny_built / "index-if"}
    for mode, index in indexes.items():
        for target in TARGETS:
            export_cluster(
                index, root / f"{mode}-{target}", target, name="tiny", queries=queries, k=5
            )
    return root


@pytest.fixture(scope="module")
def encoded(edited) -> dict[str, dict[str, int]]:
    """The integer vectors of `edited` (the placeholder of the empty document taken out)."""
    out = {}
    for record in read_vector_shards(edited / "vectors"):
        vector = dict(record["vector"])
        vector.pop(EMPTY_DOC_TOKEN, None)
        out[record["id"]] = vector
    return out


def manifest(folder: Path) -> dict:
    return json.loads((folder / "export.json").read_text())


def bulk_lines(folder: Path) -> list[dict]:
    lines = []
    for entry in manifest(folder)["bulk"]:
        lines += [json.loads(line) for line in (folder / entry["file"]).read_text().splitlines()]
    return lines


def test_the_cli_formats_are_the_targets():
    assert EXPORT_FORMATS == ("jsonvector", *TARGETS)


def test_manifest_lists_every_file_and_the_counts(exports, tiny_built_meta):
    for folder in sorted(p for p in exports.iterdir() if p.is_dir()):
        m = manifest(folder)
        assert m["format"] == "splade-lite/cluster-export" and m["format_version"] == 1
        on_disk = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        assert sorted([*m["files"], "export.json"]) == on_disk, folder.name
        assert m["num_docs"] == 6 == sum(b["docs"] for b in m["bulk"])
        assert m["num_empty"] == (1 if folder.name.startswith("splade") else 0)  # d4
        assert m["index"]["mode"] == folder.name.rsplit("-", 1)[0]
        assert m["query"]["num_queries"] == len(QUERY_TEXTS)


@pytest.mark.parametrize("target", ["opensearch", "elasticsearch"])
def test_index_body_and_bulk_ndjson(exports, encoded, target):
    folder = exports / f"splade-{target}"
    body = json.loads((folder / "index.json").read_text())
    field_type = {"opensearch": "rank_features", "elasticsearch": "sparse_vector"}[target]
    assert body == {
        "mappings": {
            "properties": {
                "splade": {"type": field_type},
                "title": {"type": "text"},
                "text": {"type": "text"},
            }
        }
    }
    lines = bulk_lines(folder)
    assert len(lines) == 2 * len(encoded)
    actions, sources = lines[0::2], lines[1::2]
    assert all(set(a) == {"index"} and a["index"]["_index"] == "tiny" for a in actions)
    ids = [a["index"]["_id"] for a in actions]
    assert sorted(ids) == sorted(encoded)
    name = (lambda t: t) if target == "opensearch" else feature_name
    for docid, source in zip(ids, sources):
        expected = {name(t): w / 100 for t, w in encoded[docid].items()}
        if not expected:  # the empty document: indexed, without the vector field
            assert docid == "d4" and set(source) == {"title", "text"}
            continue
        assert source["splade"] == expected
        assert all(isinstance(w, float) and w > 0 for w in source["splade"].values())
    titles = {i: s["title"] for i, s in zip(ids, sources)}
    assert titles["d1"] == "Vitamin D" and titles["d6"] == "Café"


def test_elasticsearch_feature_names_have_no_dot_and_come_back():
    for term in [".", "##.", "...", "a.b", "%", "%2E", "x%25.y", "café", "[id:7]"]:
        name = feature_name(term)
        assert "." not in name and term_of(name) == term
    assert len({feature_name(t) for t in [".", "%2E", "%252E"]}) == 3  # one-to-one


def test_elasticsearch_export_escapes_dotted_terms(exports, encoded):
    dotted = sorted({t for v in encoded.values() for t in v if "." in t})
    assert {".", "##."} <= set(dotted)
    sources = bulk_lines(exports / "splade-elasticsearch")[1::2]
    names = {n for s in sources for n in s.get("splade", {})}
    assert not any("." in n for n in names)
    assert {feature_name(t) for t in dotted} <= names


def test_qdrant_points_use_the_tokenizers_ids(exports, encoded, edited):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(edited / "index" / "tokenizer"))
    folder = exports / "splade-qdrant"
    assert json.loads((folder / "collection.json").read_text()) == {
        "sparse_vectors": {"splade": {"modifier": "none"}}
    }
    points = bulk_lines(folder)
    assert [p["id"] for p in points] == list(range(len(encoded)))
    for point in points:
        docid = point["payload"]["docid"]
        terms = encoded[docid]
        if not terms:
            assert docid == "d4" and point["vector"] == {}
            continue
        vector = point["vector"]["splade"]
        assert vector["indices"] == sorted(vector["indices"])
        got = dict(zip(tokenizer.convert_ids_to_tokens(vector["indices"]), vector["values"]))
        assert got == {t: w / 100 for t, w in terms.items()}


def test_query_bodies_are_splade_lites_query_weights(exports, edited, tiny_built):
    from splade_lite import Searcher

    for index, mode in ((edited / "index", "splade"), (tiny_built / "index-if", "inference-free")):
        expected = Searcher(index).query_terms(QUERY_TEXTS[:3])
        rows = [
            json.loads(line)
            for line in (exports / f"{mode}-opensearch" / "queries.jsonl").read_text().splitlines()
        ]
        assert [r["qid"] for r in rows] == ["q0", "q1", "q2", "q3"]
        assert rows[3]["body"] is None  # a blank query matches nothing
        for row, terms in zip(rows, expected):
            assert row["body"] == {
                "size": 5,
                "query": {
                    "neural_sparse": {
                        "splade": {"query_tokens": {t: w / 100 for t, w in terms.items()}}
                    }
                },
            }
        es = json.loads(
            (exports / f"{mode}-elasticsearch" / "queries.jsonl").read_text().split("\n")[0]
        )
        assert es["body"]["query"]["sparse_vector"] == {
            "field": "splade",
            "query_vector": {feature_name(t): w / 100 for t, w in expected[0].items()},
            "prune": False,
        }
        qd = json.loads((exports / f"{mode}-qdrant" / "queries.jsonl").read_text().split("\n")[0])
        assert qd["body"]["using"] == "splade" and qd["body"]["limit"] == 5
        assert sorted(qd["body"]["query"]["values"]) == sorted(
            w / 100 for w in expected[0].values()
        )
        # the API gives the same bodies for other texts
        assert query_bodies(index, exports / f"{mode}-qdrant", QUERY_TEXTS[:1]) == [qd["body"]]


def test_query_template_marks_where_the_weights_go(exports):
    query = json.loads((exports / "splade-opensearch" / "query.json").read_text())
    assert query["request"] == {"method": "POST", "path": "/tiny/_search"}
    assert query["body"]["query"]["neural_sparse"]["splade"]["query_tokens"] == "{{weights}}"
    assert query["weights_at"] == ["query", "neural_sparse", "splade", "query_tokens"]
    assert query["example"]["text"] == QUERY_TEXTS[0]
    qdrant = json.loads((exports / "splade-qdrant" / "query.json").read_text())
    assert qdrant["request"]["path"] == "/collections/tiny/points/query"
    assert qdrant["body"]["query"] == {"indices": "{{indices}}", "values": "{{values}}"}


def test_inference_free_exports_the_idf_table_opensearch_takes(exports, tiny_built):
    folder = exports / "inference-free-opensearch"
    idf = json.loads((folder / "query" / "idf.json").read_text())
    # the index's own table, each weight rounded at the scale, below 0.5 (the default query
    # floor of a corpus IDF) left out
    raw = json.loads((tiny_built / "index-if" / "idf.json").read_text())
    expected = {t: int(w * 100 + 0.5) / 100 for t, w in raw.items()}
    expected = {t: w for t, w in expected.items() if w >= 0.5}
    assert idf == expected
    with zipfile.ZipFile(folder / "query" / "sparse-tokenizer.zip") as archive:
        assert sorted(archive.namelist()) == ["idf.json", "tokenizer.json"]
        assert json.loads(archive.read("idf.json")) == idf
    # each query body is the distinct query tokens weighted from that table
    row = json.loads((folder / "queries.jsonl").read_text().split("\n")[0])
    tokens = row["body"]["query"]["neural_sparse"]["splade"]["query_tokens"]
    assert tokens and all(idf[t] == w for t, w in tokens.items())
    assert not (exports / "splade-opensearch" / "query").exists()  # SPLADE: from the model


def test_qdrant_idf_modifier_only_for_inference_free(tiny_built, tmp_path):
    with pytest.raises(ValueError, match="inference-free indexes only"):
        export_cluster(tiny_built / "index", tmp_path / "x", "qdrant", modifier="idf")
    with pytest.raises(ValueError, match="needs --format qdrant"):
        export_cluster(tiny_built / "index-if", tmp_path / "x", "opensearch", modifier="idf")
    queries = tmp_path / "q.tsv"
    queries.write_text("q1\tvitamin d and bones\n")
    export_cluster(
        tiny_built / "index-if", tmp_path / "idf", "qdrant", modifier="idf", queries=queries
    )
    config = json.loads((tmp_path / "idf" / "collection.json").read_text())
    assert config["sparse_vectors"]["splade"]["modifier"] == "idf"
    body = json.loads((tmp_path / "idf" / "queries.jsonl").read_text())["body"]
    assert set(body["query"]["values"]) == {1.0}  # Qdrant brings the IDF
    assert not (tmp_path / "x").exists()


def test_names_fields_and_ids_that_cannot_be_represented_are_refused(tiny_built, tmp_path):
    for bad in ["Tiny", "a b", "_x", "ü", ""]:
        with pytest.raises(ValueError, match="name"):
            export_cluster(tiny_built / "index", tmp_path / "x", "opensearch", name=bad)
    for bad in ["a.b", "title", "x y"]:
        with pytest.raises(ValueError, match="field"):
            export_cluster(tiny_built / "index", tmp_path / "x", "qdrant", field=bad)
    assert not (tmp_path / "x").exists()


def test_overwrite_replaces_only_a_cluster_export_of_its_own_files(exports, tiny_built, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(exports / "splade-qdrant", out)
    with pytest.raises(FileExistsError, match="--overwrite"):
        export_cluster(tiny_built / "index", out, "qdrant")
    export_cluster(tiny_built / "index", out, "opensearch", overwrite=True, compress=True)
    assert manifest(out)["target"] == "opensearch"
    assert manifest(out)["bulk"][0]["file"].endswith(".jsonl.gz")
    (out / "bulk" / "mine.txt").write_text("a user's file")
    with pytest.raises(FileExistsError, match="bulk/mine.txt"):
        export_cluster(tiny_built / "index", out, "opensearch", overwrite=True)
    assert (out / "bulk" / "mine.txt").read_text() == "a user's file"
    # a vectors export is another kind: neither replaces the other
    from splade_lite.index import export_index

    with pytest.raises(FileExistsError, match="export for a search cluster"):
        export_index(tiny_built / "index", out, overwrite=True)
    export_index(tiny_built / "index", tmp_path / "vectors")
    with pytest.raises(FileExistsError, match="vectors folder"):
        export_cluster(tiny_built / "index", tmp_path / "vectors", "qdrant", overwrite=True)


def test_cli_export_for_a_cluster(tiny_built, tmp_path):
    runner = CliRunner()
    out = tmp_path / "es"
    result = runner.invoke(
        main,
        ["export", str(tiny_built / "index"), "--out", str(out), "--format", "elasticsearch",
         "--name", "tiny", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["target"] == "elasticsearch" and shown["num_docs"] == 6
    assert manifest(out)["name"] == "tiny"
    result = runner.invoke(
        main, ["export", str(tiny_built / "index"), "--out", str(tmp_path / "v"), "--name", "x"]
    )
    assert result.exit_code == 2 and "--name: only with --format" in result.output
    assert not (tmp_path / "v").exists()
