"""Hardening of the Lucene layer: damaged files found by `check` and reported in one line,
exact impact scores at any scale, a Java indexer that dies with its parent, and the limits
of Lucene/Anserini/Java refused early instead of failing late or losing data."""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from splade_lite.check import FAIL, OK, check_folder, format_checks
from splade_lite.cli import main
from splade_lite.indexer.limits import (
    JAVA_INT_MAX,
    MAX_DOCS,
    MAX_IMPACT_TEXT_CHARS,
    MAX_JSON_KEY_CHARS,
    MAX_JSON_STRING_CHARS,
    MAX_TERM_BYTES,
    MAX_TOKEN_UTF16,
)

pytestmark = pytest.mark.jvm

REPO = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).with_name("splade-lite")


def flip_middle(path: Path, count: int = 8) -> None:
    """Invert `count` bytes in the middle of a file (its header and footer stay intact)."""
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + count] = bytes(b ^ 0xFF for b in data[mid : mid + count])
    path.write_bytes(bytes(data))


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output and "jnius" not in result.output
    return lines[0]


@pytest.fixture
def index_copy(tiny_built, tmp_path) -> Path:
    shutil.copytree(tiny_built / "index", tmp_path / "index")
    return tmp_path / "index"


# -- A. check reads every Lucene file ---------------------------------------------------------


def test_an_untouched_index_passes_the_full_lucene_check(tiny_built):
    checks = {c.name: c for c in check_folder(tiny_built / "index")}
    statuses = {c.status for c in checks.values() if c.name != "engine"}  # none built
    assert statuses == {OK}, format_checks(list(checks.values()))
    assert checks["lucene index"].detail == "6 documents, every file whole (Lucene CheckIndex)"
    assert checks["bm25 index"].detail.endswith("documents, every file whole (Lucene CheckIndex)")


@pytest.mark.parametrize(
    ("where", "pattern", "row"),
    [
        (".", "*.doc", "lucene index"),
        (".", "*.dvd", "lucene index"),
        ("bm25", "*.doc", "bm25 index"),
        ("bm25", "*.dvd", "bm25 index"),
    ],
)
def test_flipped_bytes_in_postings_or_doc_values_fail_check(index_copy, where, pattern, row):
    (damaged,) = (index_copy / where).glob(pattern)
    flip_middle(damaged)
    checks = check_folder(index_copy)
    bad = {c.name: c.detail for c in checks if c.status == FAIL}
    assert set(bad) == {row}, format_checks(checks)
    assert "CheckIndex" in bad[row] and "CorruptIndexException" in bad[row]
    assert damaged.name in bad[row] and "rebuild" in bad[row]
    result = CliRunner().invoke(main, ["check", str(index_copy)])
    assert result.exit_code == 1 and "FAILED" in result.output.splitlines()[-1]
    assert f"{row:<15} FAIL" in result.output


def test_check_leaves_the_index_files_alone(index_copy):
    (index_copy / "write.lock").unlink()
    (index_copy / "bm25" / "write.lock").unlink()
    before = sorted(p.name for p in index_copy.rglob("*"))
    assert {c.status for c in check_folder(index_copy) if c.name != "engine"} == {OK}
    assert sorted(p.name for p in index_copy.rglob("*")) == before  # no lock file made


def test_check_shows_values_from_the_folder_escaped(index_copy):
    meta = json.loads((index_copy / "splade_lite.json").read_text())
    meta["mode"] = "\x1b]0;owned\x07\u202edense"
    (index_copy / "splade_lite.json").write_text(json.dumps(meta))
    result = CliRunner().invoke(main, ["check", str(index_copy)])
    assert result.exit_code == 1
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\u202e" not in result.output
    assert "\\x1b]0;owned\\x07\\u202edense" in result.output
    assert all("\x1b" not in c.detail for c in check_folder(index_copy))


def test_check_runs_no_code_from_the_index_tokenizer(index_copy, tmp_path, monkeypatch):
    folder = index_copy / "tokenizer"
    marker = tmp_path / "code-ran"
    (folder / "evil_tokenizer.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "from transformers import BertTokenizerFast\n"
        "class EvilTokenizer(BertTokenizerFast):\n    pass\n"
    )
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["auto_map"] = {"AutoTokenizer": [None, "evil_tokenizer.EvilTokenizer"]}
    config.pop("tokenizer_class", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    monkeypatch.setenv("SPLADE_LITE_TRUST_REMOTE_CODE", "1")  # check ignores it
    check_folder(index_copy)  # the tokenizer row may pass (a local class exists) or fail
    assert not marker.exists()


def test_check_never_downloads_a_missing_tokenizer(index_copy, monkeypatch):
    for path in (index_copy / "tokenizer").iterdir():
        path.unlink()
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # any download attempt fails
    checks = {c.name: c for c in check_folder(index_copy)}
    assert checks["tokenizer"].status == FAIL
    assert "does not load" in checks["tokenizer"].detail


# -- B. exact impact scores at any scale ------------------------------------------------------

# Weights far above 2**24 / (query weight): float32 sums would be wrong for most of these.
_RNG = random.Random(11)
_VOCAB = [f"w{i}" for i in range(30)]
LARGE: dict[str, dict[str, int]] = {
    # exact 2**30 + 1 vs 2**30 for {"t": 2**30, "u": 1}: equal in float32, and the better one
    # sorts last by id, so a float ranking puts them in the wrong order
    "a": {"t": 1},
    "z": {"t": 1, "u": 1},
    # (2**31 - 1) x (2**22 + 1) > 2**53: an exact score only a Python int holds
    "huge": {"h": 2**22 + 1},
    # the longest tokens the tokenizer keeps whole: 255 UTF-16 units (127 emoji = 254)
    "long": {"x" * MAX_TOKEN_UTF16: 1, "\U0001f600" * 127: 2},
    **{f"r{i:02d}": {t: _RNG.randint(1, 3000) for t in _RNG.sample(_VOCAB, 10)} for i in range(40)},
}


def brute_force(docs: dict[str, dict[str, int]], query: dict[str, int], k: int):
    """Integer dot products, best first, ties by ascending id (Python ints: exact)."""
    scores = [(sum(w * vec.get(t, 0) for t, w in query.items()), d) for d, vec in docs.items()]
    ranked = sorted((-s, d) for s, d in scores if s > 0)[:k]
    return [(d, float(-s) if -s <= 2**53 else -s) for s, d in ranked]


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    from splade_lite.indexer import ImpactIndex, build_impact_index

    root = tmp_path_factory.mktemp("large")
    (root / "vectors").mkdir()
    with open(root / "vectors" / "part-00000.jsonl", "w", encoding="utf-8") as f:
        for docid, vector in LARGE.items():
            f.write(json.dumps({"id": docid, "contents": "", "vector": vector}) + "\n")
    build_impact_index(root / "vectors", root / "index")
    with ImpactIndex(root / "index") as index:
        yield index


def test_large_scale_scores_are_exact_integer_sums(large):
    assert large.search({"t": 2**30, "u": 1}, 5) == [("z", 2**30 + 1.0), ("a", float(2**30))]
    (hit,) = large.search({"h": JAVA_INT_MAX}, 5)
    assert hit == ("huge", JAVA_INT_MAX * (2**22 + 1)) and isinstance(hit[1], int)
    rng = random.Random(5)
    queries = [{t: rng.randint(1, 30000) for t in rng.sample(_VOCAB, 8)} for _ in range(150)]
    expected = [brute_force(LARGE, q, 10) for q in queries]
    assert [large.search(q, 10) for q in queries] == expected
    assert large.batch_search(queries, 10, threads=2) == expected
    # the test means something: float32 could not hold these scores
    assert sum(any(float(np.float32(s)) != s for _, s in hits) for hits in expected) > 100


def test_the_longest_tokens_are_indexed_whole(large):
    from splade_lite.indexer import read_document_vectors
    from splade_lite.shards import parse_vector_line

    line = json.dumps({"id": "long", "vector": LARGE["long"]})
    assert parse_vector_line(line)["vector"] == LARGE["long"]  # the shard check lets them by
    assert dict(read_document_vectors(large.index_dir))["long"] == LARGE["long"]
    assert large.search({"x" * MAX_TOKEN_UTF16: 3}, 5) == [("long", 3.0)]


@pytest.mark.slow
def test_scale_10000_search_scores_are_what_explain_adds_up(tiny_corpus, splade_tiny, tmp_path):
    from splade_lite.encode import encode_corpus
    from splade_lite.index import build_index
    from splade_lite.indexer import read_document_vectors
    from splade_lite.search import Searcher

    encode_corpus(tiny_corpus, tmp_path / "v", encoder=splade_tiny, scale=10000, progress=False)
    build_index(tmp_path / "v", tmp_path / "i")
    docs = dict(read_document_vectors(tmp_path / "i"))
    searcher = Searcher(tmp_path / "i")
    inexact = 0
    for text in ["vitamin d bones", "sleep and heart disease", "coffee caffeine", "aurora"]:
        hits = searcher.search(text, k=6)
        terms = searcher.query_terms([text])[0]
        assert [tuple(h) for h in hits] == brute_force(docs, terms, 6), text
        for hit in hits:
            assert searcher.explain(text, hit.docid).score == hit.score
        inexact += any(float(np.float32(h.score)) != h.score for h in hits)
    assert inexact  # scores past float32's exact integers were met


# -- C. the Java indexer dies with its parent -------------------------------------------------


def _stat(pid: int | str) -> list[str]:
    """State, parent pid, ... of a process ([] when it is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _java_child(pid: int) -> int | None:
    for proc in Path("/proc").glob("[0-9]*"):
        fields = _stat(proc.name)
        if fields and int(fields[1]) == pid:
            try:
                if b"IndexWithParent" in (proc / "cmdline").read_bytes():
                    return int(proc.name)
            except OSError:
                pass
    return None


def _running(pid: int) -> bool:
    state = _stat(pid)
    return bool(state) and state[0] != "Z"  # a zombie has ended; only the wait is missing


@pytest.fixture(scope="module")
def slow_vectors(tiny_built, tmp_path_factory) -> Path:
    """tiny_built's vectors plus 200,000 documents of 40 terms: enough postings that Java
    indexes for several seconds (it writes each term once, so heavy weights alone would not
    slow it down)."""
    folder = tmp_path_factory.mktemp("slow") / "vectors"
    shutil.copytree(tiny_built / "vectors", folder)
    (shard,) = folder.glob("part-*.jsonl")
    extra = 200_000
    with open(shard, "a", encoding="utf-8") as f:
        for i in range(extra):
            vector = {f"t{(i * 7 + j * 13) % 5000}": 1 + (i + j) % 300 for j in range(40)}
            f.write(json.dumps({"id": f"slow{i}", "contents": "", "vector": vector}) + "\n")
    meta_path = folder / "vectors.json"
    meta = json.loads(meta_path.read_text())
    meta["num_docs"] += extra
    meta_path.write_text(json.dumps(meta))
    return folder


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=str)
def test_killing_index_stops_java_and_cleans_up(slow_vectors, tiny_built, tmp_path, sig):
    out = tmp_path / "out"
    env = dict(os.environ, OPENAI_API_KEY="unused")
    command = [str(CLI), "index", str(slow_vectors), "--out", str(out)]
    # a shell that starts pytest in the background ignores SIGINT, and so would the child
    # (Python then never turns it into KeyboardInterrupt): give the child the default back
    proc = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline, java = time.monotonic() + 90, None
        while java is None and time.monotonic() < deadline and proc.poll() is None:
            java = _java_child(proc.pid)
            time.sleep(0.05)
        assert java is not None, "the Java indexer never started"
        time.sleep(1.0)
        assert _running(java) and list(tmp_path.glob(".out.building-*"))
        os.kill(proc.pid, sig)
        returncode = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert returncode == {signal.SIGTERM: 143, signal.SIGINT: 1, signal.SIGKILL: -9}[sig]
    deadline = time.monotonic() + 5
    while _running(java) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(java), "the Java indexer outlived the index command"
    assert not out.exists()
    staging = list(tmp_path.glob(".out.building-*"))
    if sig == signal.SIGKILL:  # nothing ran in Python: the next build removes the leftover
        assert staging
        command = [str(CLI), "index", str(tiny_built / "vectors"), "--out", str(out)]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        staging = list(tmp_path.glob(".out.building-*"))
    assert staging == []


# -- D. damaged files while searching or exporting: one line, no traceback ---------------------


def _lucene_only_copy(src: Path, dst: Path) -> None:
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir()
    for path in src.iterdir():
        if path.is_file():
            shutil.copyfile(path, dst / path.name)


def test_damaged_postings_give_python_errors_never_java_ones(tiny_built, tiny_corpus, tmp_path):
    """One byte flipped at a time across the terms dictionary and the postings: each search
    either works or raises a one-line LuceneError (never a Java exception); one that fails
    inside Java's search is then run through the CLI."""
    from splade_lite.indexer import ImpactIndex, LuceneError
    from splade_lite.search import Searcher

    src = tiny_built / "index"
    texts = [json.loads(line)["text"] or "empty" for line in tiny_corpus.open()]
    terms = Searcher(src).query_terms(texts)
    outcomes: dict[str, int] = {}
    failing = None
    for pattern in ("*.tim", "*.doc"):
        (original,) = src.glob(pattern)
        size = original.stat().st_size
        for offset in range(40, size - 16, max(1, (size - 56) // 30)):
            copy = tmp_path / "lucene"
            _lucene_only_copy(src, copy)
            data = bytearray((copy / original.name).read_bytes())
            data[offset] ^= 0xFF
            (copy / original.name).write_bytes(bytes(data))
            for text, query in zip(texts, terms):
                try:
                    with ImpactIndex(copy) as index:
                        index.search(query, 6)
                    kind = "searched"
                except LuceneError as err:  # any other exception fails the test
                    kind = "failed searching" if "failed searching" in str(err) else "not opened"
                    assert "splade-lite check" in str(err) and "\n" not in str(err)
                    if kind == "failed searching" and failing is None:
                        failing = (original.name, offset, text)
                outcomes[kind] = outcomes.get(kind, 0) + 1
    assert failing is not None, outcomes  # a search that met the damage inside Java was seen
    name, offset, text = failing
    shutil.copytree(src, tmp_path / "index")
    data = bytearray((src / name).read_bytes())
    data[offset] ^= 0xFF
    (tmp_path / "index" / name).write_bytes(bytes(data))
    result = CliRunner().invoke(main, ["search", str(tmp_path / "index"), text, "--k", "6"])
    line = one_line_error(result)
    assert "failed searching" in line and "splade-lite check" in line


def test_export_of_a_damaged_index_is_one_line(index_copy, tmp_path):
    (postings,) = index_copy.glob("*.doc")
    flip_middle(postings)  # opens and searches fine; the checksum tells
    result = CliRunner().invoke(main, ["export", str(index_copy), "--out", str(tmp_path / "x")])
    line = one_line_error(result)
    assert "checksum failed" in line and postings.name in line and "splade-lite check" in line
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("damage", ["truncate", "delete", "empty"])
def test_a_bad_segments_file_is_one_line(index_copy, damage):
    (segments,) = index_copy.glob("segments_*")
    if damage == "truncate":
        segments.write_bytes(segments.read_bytes()[: segments.stat().st_size // 2])
    elif damage == "delete":
        segments.unlink()
    else:
        segments.write_bytes(b"")
    for args in (["search", str(index_copy), "coffee"], ["check", str(index_copy)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1
        assert "Traceback" not in result.output
    line = one_line_error(CliRunner().invoke(main, ["search", str(index_copy), "coffee"]))
    assert "splade-lite check" in line and str(index_copy) in line


# -- E. limits of Lucene, Anserini and Java ---------------------------------------------------


def test_limit_constants_are_those_of_the_shipped_jar():
    from splade_lite.indexer.jvm import autoclass

    writer = autoclass("org.apache.lucene.index.IndexWriter")
    assert writer.MAX_TERM_LENGTH == MAX_TERM_BYTES
    assert writer.MAX_DOCS == MAX_DOCS
    tokenizer = autoclass("org.apache.lucene.analysis.util.CharTokenizer")
    assert tokenizer.DEFAULT_MAX_WORD_LEN == MAX_TOKEN_UTF16
    constraints = autoclass("com.fasterxml.jackson.core.StreamReadConstraints").defaults()
    assert constraints.getMaxStringLength() == MAX_JSON_STRING_CHARS
    assert constraints.getMaxNameLength() == MAX_JSON_KEY_CHARS


def test_the_jar_holds_every_java_source():
    import zipfile

    folder = REPO / "splade_lite" / "indexer" / "java"
    with zipfile.ZipFile(folder / "splade-lite-search.jar") as jar:
        classes = set(jar.namelist())
    for source in folder.glob("*.java"):
        assert f"splade_lite/{source.stem}.class" in classes, f"rebuild the jar: {source.name}"


@pytest.mark.parametrize(
    ("vector", "contents", "reason"),
    [
        ({"x" * (MAX_TOKEN_UTF16 + 1): 1}, "", "cuts tokens longer than 255"),
        ({"\U0001f600" * 128: 1}, "", "256 UTF-16 units"),
        ({"ab": MAX_IMPACT_TEXT_CHARS // 3 + 1}, "", "smaller --scale"),
        ({"ok": 1}, "c" * (MAX_JSON_STRING_CHARS + 1), "JSON reader takes at most"),
    ],
)
def test_what_anserini_cannot_hold_is_refused_before_java(
    tiny_built, tmp_path, monkeypatch, vector, contents, reason
):
    from splade_lite.index import build_index

    def no_java(*args, **kwargs):
        raise AssertionError("Java was started")

    monkeypatch.setattr("splade_lite.indexer.build._run", no_java)
    vectors = tmp_path / "v"
    shutil.copytree(tiny_built / "vectors", vectors)
    (shard,) = vectors.glob("part-*.jsonl")
    lines = shard.read_text().splitlines()
    record = json.loads(lines[2])
    record["vector"].update(vector)
    record["contents"] = contents
    lines[2] = json.dumps(record)
    shard.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=reason) as err:
        build_index(vectors, tmp_path / "i")
    assert f"{shard}:3" in str(err.value)


def test_bm25_corpus_lines_beyond_jacksons_limit_are_refused_before_java(tmp_path, monkeypatch):
    from splade_lite.indexer import IndexBuildError, build_bm25_index

    monkeypatch.setattr("splade_lite.indexer.build._run", lambda *a, **k: pytest.fail("Java ran"))
    corpus = tmp_path / "c"
    corpus.mkdir()
    with open(corpus / "docs.jsonl", "w") as f:
        f.write(json.dumps({"id": "short", "contents": "a short text"}) + "\n")
        f.write(json.dumps({"id": "long", "contents": "word " * (MAX_JSON_STRING_CHARS // 5 + 1)}))
        f.write("\n")
    with pytest.raises(
        IndexBuildError, match=r"docs\.jsonl:2: document 'long': 'contents' of 20000005 char"
    ):
        build_bm25_index(corpus, tmp_path / "bm25")
    with open(corpus / "docs.jsonl", "w") as f:
        f.write(json.dumps({"id": "é" * (MAX_TERM_BYTES // 2 + 1), "contents": "x"}) + "\n")
    with pytest.raises(IndexBuildError, match="Lucene indexes ids of at most 32766 bytes"):
        build_bm25_index(corpus, tmp_path / "bm25")


def test_k_depth_and_threads_are_capped_at_what_the_index_holds(tiny_built):
    from splade_lite.indexer import BM25Index, ImpactIndex, hybrid_search

    with (
        ImpactIndex(tiny_built / "index") as sparse,
        BM25Index(tiny_built / "index" / "bm25") as bm25,
    ):
        query = {"coffee": 30, "sleep": 20, "vitamin": 10}
        everything = sparse.search(query, sparse.num_docs)
        started = time.perf_counter()
        assert sparse.search(query, 10**12) == everything
        assert sparse.batch_search([query] * 3, 2**63, threads=2**40) == [everything] * 3
        assert bm25.search("coffee sleep", 10**15) == bm25.search("coffee sleep", 6)
        fused = hybrid_search(sparse, bm25, [query], ["coffee sleep"], depth=10**12, k=10**12)
        assert fused == hybrid_search(sparse, bm25, [query], ["coffee sleep"], depth=6, k=12)
        rrf = hybrid_search(
            sparse, bm25, [query], ["coffee"], depth=6, k=6, fusion="rrf", rrf_k=JAVA_INT_MAX
        )
        assert rrf and all(s > 0 for _, s in rrf[0])  # no int overflow in 1 / (k + rank)
        assert time.perf_counter() - started < 10  # nothing sized by k was allocated
        with pytest.raises(ValueError, match="rrf_k"):
            hybrid_search(sparse, bm25, [query], ["x"], depth=5, k=5, fusion="rrf", rrf_k=-1)
        with pytest.raises(ValueError, match="alpha"):
            hybrid_search(sparse, bm25, [query], ["x"], depth=5, k=5, alpha=math.nan)
        with pytest.raises(ValueError, match="does not fit a Java int"):
            sparse.search({"coffee": 2**31}, 5)


def test_queries_beyond_lucenes_clause_limit(large, tiny_built):
    from splade_lite.indexer import BM25Index

    query = {f"absent{i}": 1 for i in range(70_000)}
    query.update({"w1": 7, "w2": 3})
    assert large.search(query, 5) == brute_force(LARGE, query, 5)  # works, exactly
    with BM25Index(tiny_built / "index" / "bm25") as bm25:
        text = " ".join(f"word{i}" for i in range(70_000))
        with pytest.raises(ValueError, match="Lucene's limit of 65536 clauses"):
            bm25.search(text, 5)
