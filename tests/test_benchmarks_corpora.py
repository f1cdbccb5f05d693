"""The scale benchmark's corpora: real text from Debian packages (benchmarks/real_corpus.py)
and synthetic vectors folders drawn from a real one (benchmarks/synthesize.py).

The parsers are tested on small inline texts in each format; building from the installed
packages is tested where they are installed (skipped otherwise); synthesis on a vectors folder
written here and on the tiny corpus encoded with splade-tiny.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCHMARKS) not in sys.path:  # the benchmarks are scripts, importable from their folder
    sys.path.insert(0, str(BENCHMARKS))

import real_corpus as rc  # noqa: E402
import synthesize as sy  # noqa: E402

from splade_lite import vectors_folder as vf  # noqa: E402
from splade_lite.shards import iter_checked_records  # noqa: E402
from splade_lite.vectors import EMPTY_DOC_TOKEN  # noqa: E402

# --------------------------------------------------------------------------------------------
# WordNet

WORDNET_NOUN = (
    "  1 This software and database is being provided to you, the LICENSEE, by  \n"
    "  2 Princeton University under the following license.  \n"
    "00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 ~ 00002137 n 0000 ~ 04424418 n 0000 | "
    "that which is perceived or known or inferred to have its own distinct existence "
    "(living or nonliving)  \n"
    "00002137 03 n 02 abstraction 0 abstract_entity 0 010 @ 00001740 n 0000 | a general "
    "concept formed by extracting common features from specific examples  \n"
)
WORDNET_VERB = (
    "00004227 29 v 03 exhale 0 expire 0 breathe_out 0 008 @ 00001740 v 0000 02 + 02 00 + 08 00 "
    '| expel air; "Exhale when you lift the weight"  \n'
)
WORDNET_ADJ = (
    "  1 license line  \n"
    "00001740 00 a 01 able(a) 0 005 = 05207437 n 0000 ! 00002098 a 0101 | (usually followed "
    'by `to\') having the necessary means or skill; "able to swim"  \n'
    "00005205 00 s 02 absolute 0 downright(p) 0 002 & 00004413 a 0000 | complete and without "
    'restriction or qualification; "absolute freedom"  \n'
)
WORDNET_ADV = (
    "00001740 02 r 01 a_cappella 0 002 \\ 02707125 a 0101 | without musical accompaniment  \n"
)


def test_wordnet_data_lines_give_one_document_per_synset(tmp_path):
    for name, text in [
        ("noun", WORDNET_NOUN),
        ("verb", WORDNET_VERB),
        ("adj", WORDNET_ADJ),
        ("adv", WORDNET_ADV),
    ]:
        (tmp_path / f"data.{name}").write_text(text)
    docs = list(rc.wordnet_docs(tmp_path))
    assert docs == [
        (
            "wn-n-00001740",
            "entity",
            "that which is perceived or known or inferred to have its own distinct existence "
            "(living or nonliving)",
        ),
        (
            "wn-n-00002137",
            "abstraction, abstract entity",
            "a general concept formed by extracting common features from specific examples",
        ),
        (
            "wn-v-00004227",
            "exhale, expire, breathe out",
            'expel air; "Exhale when you lift the weight"',
        ),
        (
            "wn-a-00001740",
            "able",
            '(usually followed by `to\') having the necessary means or skill; "able to swim"',
        ),
        (
            "wn-a-00005205",
            "absolute, downright",
            'complete and without restriction or qualification; "absolute freedom"',
        ),
        ("wn-r-00001740", "a cappella", "without musical accompaniment"),
    ]
    assert (
        rc.parse_wordnet_line("  3 and/or copying this software and database, you agree  \n", "n")
        is None
    )


# --------------------------------------------------------------------------------------------
# GCIDE (dictd)


def _dictd(number: int) -> str:
    """A number as dictd writes it (written here independently of real_corpus)."""
    digits = ""
    while True:
        digits = rc.DICTD_ALPHABET[number % 64] + digits
        number //= 64
        if number == 0:
            return digits


def test_dictd_numbers_are_base64_most_significant_first():
    # from gcide.index: "0\t5I\tFz" is the block at byte 3656, 371 bytes long
    assert rc.dictd_number("5I") == 57 * 64 + 8 == 3656
    assert rc.dictd_number("Fz") == 371
    assert [rc.dictd_number(s) for s in ("A", "/", "BA", "+")] == [0, 63, 64, 62]


GCIDE_BLOCKS = [
    "00-database-info\n   This file was converted from the original database on:\n"
    "             Tue Feb 15 10:31:36 2022\n",
    'Diluent \\Dil"u*ent\\, n.\n   1. That which dilutes.\n      [1913 Webster]\n\n'
    "   2. (Med.) An agent used for effecting dilution of the blood;\n      a weak drink.\n"
    "      [1913 Webster]\n",
    'Zythem \\Zy"them\\ (z[imac]"th[e^]m), n.\n   See {Zythum}.\n   [1913 Webster]\n',
    "cassie \\cassie\\ n.\n   a type of tropical American thorny shrub ({Acacia\n"
    "   farnesiana}); it bears fragrant yellow flowers.\n\n   Syn: huisache, mimosa bush.\n"
    "        [WordNet 1.5]\n",
]


def _write_dictionary(folder: Path) -> tuple[Path, Path, list[int]]:
    data = "".join(GCIDE_BLOCKS).encode("utf-8")
    offsets = [0]
    for block in GCIDE_BLOCKS:
        offsets.append(offsets[-1] + len(block.encode("utf-8")))
    dictionary = folder / "gcide.dict.dz"
    with gzip.open(dictionary, "wb") as handle:
        handle.write(data)

    def entry(head: str, i: int) -> str:
        return f"{head}\t{_dictd(offsets[i])}\t{_dictd(offsets[i + 1] - offsets[i])}\n"

    index = folder / "gcide.index"  # sorted by headword, as dictd's are, not by offset
    index.write_text(
        entry("00-database-info", 0)
        + entry("Acacia farnesiana", 3)  # a second headword of the cassie block
        + entry("cassie", 3)
        + entry("Diluent", 1)
        + entry("Zythem", 2)
    )
    return index, dictionary, offsets


def test_gcide_gives_one_document_per_definition_block_markup_stripped(tmp_path):
    index, dictionary, offsets = _write_dictionary(tmp_path)
    assert rc.read_dictd_index(index) == [
        ("Diluent", offsets[1], offsets[2] - offsets[1]),
        ("Zythem", offsets[2], offsets[3] - offsets[2]),
        ("Acacia farnesiana", offsets[3], offsets[4] - offsets[3]),
    ]
    assert list(rc.gcide_docs(index, dictionary)) == [
        (
            f"gcide-{offsets[1]}",
            "Diluent",
            "n. 1. That which dilutes. 2. (Med.) An agent used for effecting dilution of the "
            "blood; a weak drink.",
        ),
        (f"gcide-{offsets[2]}", "Zythem", '(zi"them), n. See Zythum.'),
        (
            f"gcide-{offsets[3]}",
            "cassie",  # the block's own headword, not the index's first
            "n. a type of tropical American thorny shrub (Acacia farnesiana); it bears "
            "fragrant yellow flowers. Syn: huisache, mimosa bush.",
        ),
    ]


# --------------------------------------------------------------------------------------------
# Manual pages (roff)

ROFF_PAGE = r""".\" Copyright and a comment
'\" t
.TH LS 1 "September 2022" "GNU coreutils 9.1" "User Commands"
.SH NAME
ls \- list directory contents
.SH SYNOPSIS
.B ls
[\fI\,OPTION\/\fR]... [\fI\,FILE\/\fR]...
.SH DESCRIPTION
.\" Add any additional description here
.PP
List information about the FILEs (the current directory by default).
Sort entries alphabetically if none of \fB\-cftuvSUX\fR nor \fB\-\-sort\fR is specified.
.PP
Mandatory arguments to long options are mandatory for short options too.
.TP
\fB\-a\fR, \fB\-\-all\fR
do not ignore entries starting with .
.de XX
macro body, never text
..
.TS
tab(;);
l l.
table;cells
.TE
.SS "Exit status"
.BR ls (1)
returns 0 if OK \(em and 2 if \*(lqserious\*(rq trouble.
.SH "SEE ALSO"
.BR dir (1)
"""


def test_roff_paragraphs_drop_macros_and_escapes():
    assert list(rc.roff_paragraphs(ROFF_PAGE)) == [
        ("NAME", "ls - list directory contents"),
        ("SYNOPSIS", "ls [OPTION]... [FILE]..."),
        (
            "DESCRIPTION",
            "List information about the FILEs (the current directory by default). Sort "
            "entries alphabetically if none of -cftuvSUX nor --sort is specified.",
        ),
        ("DESCRIPTION", "Mandatory arguments to long options are mandatory for short options too."),
        ("DESCRIPTION", "-a, --all do not ignore entries starting with ."),
        ("DESCRIPTION: Exit status", 'ls(1) returns 0 if OK - and 2 if "serious" trouble.'),
        ("SEE ALSO", "dir(1)"),
    ]


def test_a_manual_page_gives_blocks_titled_by_its_name_line(tmp_path):
    docs = list(rc.man_page_docs(ROFF_PAGE, "ls.1"))
    # NAME gives the title; SYNOPSIS and SEE ALSO are not prose; the 11 words of "Exit
    # status" make no block of their own (under 20) and have no block before them to join
    assert docs == [
        (
            "man-ls.1-0",
            "ls - list directory contents: DESCRIPTION",
            "List information about the FILEs (the current directory by default). Sort "
            "entries alphabetically if none of -cftuvSUX nor --sort is specified. Mandatory "
            "arguments to long options are mandatory for short options too. -a, --all do not "
            "ignore entries starting with .",
        )
    ]
    page, redirect = tmp_path / "ls.1.gz", tmp_path / "dir.1.gz"
    page.write_bytes(gzip.compress(ROFF_PAGE.encode()))
    redirect.write_bytes(gzip.compress(b".so man1/ls.1\n"))
    assert list(rc.man_docs([redirect, page])) == docs


# --------------------------------------------------------------------------------------------
# The Python documentation (reStructuredText)

RST_PAGE = """\
:mod:`os.path` --- Common pathname manipulations
================================================

.. module:: os.path
   :synopsis: Operations on pathnames.

This module implements some useful functions on pathnames. To read or write
files see :func:`open`, and for accessing the filesystem see the :mod:`os`
module.

.. index:: single: path; operations

For example::

   >>> os.path.join("a", "b")
   'a/b'

.. function:: basename(path)

   Return the base name of pathname *path*.  This is the second element of the
   pair returned by passing *path* to the function :func:`~os.path.split`.

   .. versionchanged:: 3.6
      Accepts a :term:`path-like object <path-like-object>` and ``bytes``.

Notes
-----

.. note::

   All of these functions accept either only bytes or only string objects as
   their parameters. See `the tutorial <https://example.org/>`_ [#]_.

.. code-block:: python

   print("hidden")
"""


def test_rst_paragraphs_keep_prose_under_its_headings():
    page = "os.path --- Common pathname manipulations"
    assert list(rc.rst_paragraphs(RST_PAGE)) == [
        (
            page,
            "This module implements some useful functions on pathnames. To read or write "
            "files see open, and for accessing the filesystem see the os module.",
        ),
        (page, "For example:"),
        (
            f"{page}: basename(path)",
            "Return the base name of pathname path. This is the second element of the pair "
            "returned by passing path to the function os.path.split.",
        ),
        (f"{page}: basename(path)", "Accepts a path-like object and bytes."),
        (
            f"{page}: Notes",
            "All of these functions accept either only bytes or only string objects as their "
            "parameters. See the tutorial.",
        ),
    ]


def test_python_docs_pages_become_blocks(tmp_path):
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "os.path.rst.txt").write_text(RST_PAGE)
    docs = list(rc.pydocs_docs(tmp_path))
    assert [d[0] for d in docs] == ["py-library.os.path-0", "py-library.os.path-1"]
    assert docs[0][1] == "os.path --- Common pathname manipulations"
    assert docs[0][2].startswith("This module implements") and docs[0][2].endswith("For example:")
    assert docs[1][1] == "os.path --- Common pathname manipulations: basename(path)"


def test_page_blocks_are_20_to_300_words():
    def words(n: int, tag: str) -> str:
        return " ".join(f"{tag}{i}" for i in range(n))

    def sizes(paragraphs):
        return [(h, len(t.split())) for h, t in rc.page_blocks(paragraphs)]

    # paragraphs join until a block reaches 120 words
    assert sizes([("a", words(50, "x"))] * 3) == [("a", 150)]
    # a long paragraph is cut at 300 words
    assert sizes([("a", words(400, "x"))]) == [("a", 300), ("a", 100)]
    # a short tail joins the block before; a short section alone is dropped
    assert sizes([("a", words(130, "x")), ("a", words(10, "y")), ("b", words(19, "z"))]) == [
        ("a", 140)
    ]
    # paragraphs of two headings never share a block
    assert sizes([("a", words(30, "x")), ("b", words(30, "y"))]) == [("a", 30), ("b", 30)]
    text = next(rc.page_blocks([("a", words(130, "x")), ("a", words(10, "y"))]))[1]
    assert text.endswith("y9") and text.startswith("x0 x1")


# --------------------------------------------------------------------------------------------
# Building a corpus: quotas, sampling, interleaving, deduplication


def test_quotas_fill_small_sources_first_then_share_the_rest():
    assert rc.quotas({"a": 5, "b": 100, "c": 100}, 60) == {"a": 5, "b": 28, "c": 27}
    assert rc.quotas({"a": 5, "b": 100}, 1000) == {"a": 5, "b": 100}
    assert rc.quotas({"a": 0, "b": 3, "c": 3}, 5) == {"a": 0, "b": 3, "c": 2}
    for docs in (1, 7, 99, 150, 205):
        given = rc.quotas({"a": 5, "b": 100, "c": 100}, docs)
        assert sum(given.values()) == min(docs, 205)


def _fake_sources(missing: str | None = None) -> list[rc.Source]:
    def source(name: str, docs: list[tuple[str, str, str]]) -> rc.Source:
        problem = f"install the apt package {name}-pkg" if name == missing else None
        return rc.Source(name, lambda: iter(docs), lambda: problem)

    alpha = [(f"al-{i}", f"A{i}", f"alpha text number {i}") for i in range(10)]
    beta = [(f"be-{i}", f"B{i}", f"beta text number {i}") for i in range(100)]
    beta.insert(3, ("be-dup", "copy", "alpha text number 4"))  # alpha's text: dropped
    beta.insert(5, ("be-short", "short", "two words"))  # under MIN_WORDS: dropped
    beta.insert(7, ("be-again", "copy", "beta text number 9"))  # the same text twice: once
    return [source("alpha", alpha), source("beta", beta)]


def test_build_corpus_samples_evenly_interleaves_and_drops_duplicates(tmp_path, monkeypatch):
    monkeypatch.setattr(rc, "sources", lambda data: _fake_sources())
    logged: list[str] = []
    counts = rc.build_corpus(tmp_path / "c.jsonl", 30, log=logged.append)
    assert counts == {"alpha": 10, "beta": 20}
    records = [json.loads(line) for line in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert [set(r) for r in records] == [{"_id", "title", "text"}] * 30
    ids = [r["_id"] for r in records]
    assert len(set(ids)) == 30
    assert not {"be-dup", "be-short"} & set(ids)
    # beta keeps 100 documents (be-9 repeats "be-again" before it): every fifth is taken
    kept = [f"be-{i}" for i in range(5)] + ["be-again"] + [f"be-{i}" for i in range(5, 100)]
    kept.remove("be-9")
    assert [i for i in ids if i.startswith("be-")] == kept[4::5]
    assert [i for i in ids if i.startswith("al-")] == [f"al-{i}" for i in range(10)]
    # interleaved: two beta documents for each alpha one, from the first lines on
    assert [i[:2] for i in ids[:6]] == ["be", "al", "be", "be", "al", "be"]
    assert any("total" in line and "30 docs" in line for line in logged)
    # the same sources and count give the same bytes
    rc.build_corpus(tmp_path / "again.jsonl", 30)
    assert (tmp_path / "again.jsonl").read_bytes() == (tmp_path / "c.jsonl").read_bytes()


def test_a_missing_package_is_skipped_or_named(tmp_path, monkeypatch):
    monkeypatch.setattr(rc, "sources", lambda data: _fake_sources(missing="alpha"))
    logged: list[str] = []
    assert rc.build_corpus(tmp_path / "c.jsonl", 50, log=logged.append) == {"beta": 50}
    assert logged[0] == "warning: source skipped: install the apt package alpha-pkg"
    with pytest.raises(rc.CorpusError, match="only 101 documents .* alpha-pkg"):
        rc.build_corpus(tmp_path / "c.jsonl", 500)
    assert rc.main(["--docs", "500", "--out", str(tmp_path / "x.jsonl")]) == 1


INSTALLED = [s for s in rc.sources() if s.problem() is None]
MISSING = [s.problem() for s in rc.sources() if s.problem() is not None]


@pytest.mark.slow
@pytest.mark.skipif(bool(MISSING), reason=f"sources absent: {'; '.join(map(str, MISSING))}")
def test_real_corpus_from_installed_packages_is_deterministic_and_mixed(tmp_path):
    logged: list[str] = []
    counts = rc.build_corpus(tmp_path / "a.jsonl", 3000, log=logged.append)
    assert sum(counts.values()) == 3000
    assert set(counts) == {s.name for s in INSTALLED} and min(counts.values()) > 0
    # every source's count of documents available is logged: at least 120,000 in all
    available = sum(int(line.rsplit("(of ", 1)[1].rstrip(")")) for line in logged if "(of " in line)
    assert available >= 120_000
    ids, texts = [], set()
    prefixes = Counter()
    with open(tmp_path / "a.jsonl", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            ids.append(record["_id"])
            texts.add(record["text"])
            assert len(record["text"].split()) >= rc.MIN_WORDS
            prefixes[record["_id"].split("-")[0]] += 1
    assert len(set(ids)) == len(ids) == len(texts) == 3000
    assert all(i.isascii() and i.isprintable() and " " not in i and len(i) <= 80 for i in ids)
    assert {"wn", "gcide", "py", "man"} <= set(prefixes)
    rc.build_corpus(tmp_path / "b.jsonl", 3000)
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


# --------------------------------------------------------------------------------------------
# Synthesis


def _write_source(folder: Path, docs: int = 400, seed: int = 7) -> Path:
    """A vectors folder as encode writes one (no tokenizer): Zipf-like terms, a term in
    nearly every document, a few very short documents and one empty."""
    rng = np.random.default_rng(seed)
    vocab = [f"t{i}" for i in range(600)] + ['q"uote', "caf\u00e9", "back\\slash"]
    popularity = 1.0 / np.arange(1, len(vocab) + 1) ** 1.1
    popularity /= popularity.sum()
    folder.mkdir(parents=True)
    lines, postings = [], 0
    for d in range(docs):
        if d == 5:
            vector = {}
        else:
            length = 2 if d % 50 == 1 else int(rng.integers(20, 120))
            terms = rng.choice(len(vocab), size=length, replace=False, p=popularity)
            vector = {vocab[t]: int(rng.integers(1, 250)) for t in terms}
            if d % 20 != 3:  # "common" in 95% of the documents
                vector["common"] = int(rng.integers(1, 50))
        record = vf.document_record(f"real-{d}", vector)
        postings += len(record["vector"])
        lines.append(vf.record_line(record))
    (folder / vf.shard_name(0)).write_text("".join(lines), encoding="utf-8")
    vf.write_df(folder, {"text-token": docs}, docs)
    (folder / vf.IDF_FILE).write_text('{"common": 0.1}\n')
    meta = {
        "format": vf.VECTORS_FORMAT,
        "format_version": 1,
        "model": "splade-tiny",
        "model_sha256": None,
        "mode": "splade",
        "scale": 100.0,
        "max_length": 256,
        "pooling": "max",
        "idf_source": "model",
        "corpus": "/nowhere/corpus.jsonl",
        "corpus_sha256": "0" * 64,
        "shards": [vf.shard_name(0)],
        "num_docs": docs,
        "num_empty": 1,
        "num_postings": postings,
    }
    vf.write_vectors_meta(folder, meta)
    return folder


@pytest.fixture(scope="module")
def source_folder(tmp_path_factory) -> Path:
    return _write_source(tmp_path_factory.mktemp("synth-source") / "vectors")


def _vectors(folder: Path) -> list[tuple[str, dict[str, int]]]:
    return [(r["id"], r["vector"]) for r in iter_checked_records(folder)]


def _df(vectors) -> Counter:
    return Counter(t for _, v in vectors for t in v if t != EMPTY_DOC_TOKEN)


def _check_folder(folder: Path, docs: int) -> list[tuple[str, dict[str, int]]]:
    """Everything `index` relies on, as for a folder encode wrote."""
    from splade_lite.check import OK, check_vectors

    checks = check_vectors(folder)
    assert [c.status for c in checks] == [OK] * len(checks), checks
    vectors = _vectors(folder)  # every line checked (ids unique among them)
    assert [i for i, _ in vectors] == [f"syn-{n:07d}" for n in range(1, docs + 1)]
    meta = vf.read_vectors_meta(folder)
    assert meta["num_docs"] == docs
    assert meta["num_postings"] == sum(len(v) for _, v in vectors)
    assert meta["num_empty"] == sum(EMPTY_DOC_TOKEN in v for _, v in vectors)
    assert meta["shards"] == [p.name for p in vf.shard_files(folder)]
    df, num_docs = vf.read_df(folder)
    assert num_docs == docs and df == dict(_df(vectors))
    # each line is the bytes record_line gives, each snippet those snippet_line gives
    for shard in vf.shard_files(folder):
        for line in shard.read_text(encoding="utf-8").splitlines(keepends=True):
            record = json.loads(line)
            assert vf.record_line(vf.document_record(record["id"], record["vector"])) == line
    with gzip.open(folder / vf.DOCS_FILE, "rt", encoding="utf-8") as handle:
        snippets = [json.loads(line) for line in handle]
    assert [s["id"] for s in snippets] == [i for i, _ in vectors]
    assert all(s["text"].startswith(f"synthetic document {s['id']} drawn from ") for s in snippets)
    return vectors


def test_synthesized_folder_is_a_valid_vectors_folder(source_folder, tmp_path):
    summary = sy.synthesize(source_folder, tmp_path / "syn", 2000, seed=3, shard_size=700)
    assert summary["docs"] == 2000 and summary["shards"] == 3 and summary["docs_per_second"] > 0
    vectors = _check_folder(tmp_path / "syn", 2000)
    assert summary["postings"] == sum(len(v) for _, v in vectors)
    assert [p.name for p in vf.shard_files(tmp_path / "syn")] == [
        vf.shard_name(i) for i in range(3)
    ]
    meta = vf.read_vectors_meta(tmp_path / "syn")
    source_meta = vf.read_vectors_meta(source_folder)
    for key in ("model", "model_sha256", "mode", "scale", "max_length", "pooling", "idf_source"):
        assert meta[key] == source_meta[key]
    assert "corpus" not in meta and "corpus_sha256" not in meta
    assert meta["synthetic"]["source"] == str(source_folder.resolve())
    assert meta["synthetic"]["seed"] == 3 and meta["synthetic"]["source_num_docs"] == 400
    assert (tmp_path / "syn" / vf.IDF_FILE).read_bytes() == (
        source_folder / vf.IDF_FILE
    ).read_bytes()
    # no two documents alike, but those without terms (the source has one)
    contents = Counter(
        json.dumps(sorted(v.items())) for _, v in vectors if EMPTY_DOC_TOKEN not in v
    )
    assert max(contents.values()) == 1
    assert 0 < meta["num_empty"] < 20


def test_synthesis_is_deterministic_by_seed(source_folder, tmp_path):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        sy.synthesize(source_folder, tmp_path / name, 600, seed=seed, shard_size=250)

    def files(name: str) -> dict[str, bytes]:
        folder = tmp_path / name
        return {p.name: p.read_bytes() for p in folder.iterdir() if p.name != vf.VECTORS_META}

    assert files("a") == files("b")
    assert files("a")[vf.shard_name(0)] != files("c")[vf.shard_name(0)]
    timing = {"seconds", "docs_per_second", "versions", "synthetic"}

    def meta(name: str) -> dict:
        data = vf.read_vectors_meta(tmp_path / name)
        return {k: v for k, v in data.items() if k not in timing}

    assert meta("a") == meta("b")


def test_synthesis_keeps_lengths_document_frequencies_and_weights(source_folder, tmp_path):
    docs = 4000
    sy.synthesize(source_folder, tmp_path / "syn", docs, seed=11)
    real, syn = _vectors(source_folder), _vectors(tmp_path / "syn")

    def lengths(vectors) -> np.ndarray:
        return np.array([0 if EMPTY_DOC_TOKEN in v else len(v) for _, v in vectors])

    a, b = np.sort(lengths(real)), np.sort(lengths(syn))
    grid = np.arange(0, 130)
    ks = np.abs(
        np.searchsorted(a, grid, "right") / len(a) - np.searchsorted(b, grid, "right") / len(b)
    )
    assert ks.max() < 0.05  # Kolmogorov-Smirnov distance of the length distributions
    assert abs(b.mean() / a.mean() - 1) < 0.03
    real_df, syn_df = _df(real), _df(syn)
    # a term in 95% of the documents stays there (SPLADE has such terms); frequent terms keep
    # their fraction within a few percent, rarer ones within sampling noise
    assert abs(syn_df["common"] / docs - real_df["common"] / len(real)) < 0.02
    errors = []
    for term, count in real_df.items():
        share, synthetic = count / len(real), syn_df[term] / docs
        if share >= 0.1:  # within 5 binomial standard deviations, and no bias overall
            assert abs(synthetic - share) < 5 * (share * (1 - share) / docs) ** 0.5 + 0.01, term
            errors.append(synthetic / share - 1)
    assert len(errors) > 50 and abs(np.mean(errors)) < 0.02 and np.mean(np.abs(errors)) < 0.06
    assert set(syn_df) <= set(real_df)

    def weights(vectors, term: str) -> np.ndarray:
        return np.array([v[term] for _, v in vectors if term in v])

    for term in ("common", "t0", "t5"):
        w_real, w_syn = weights(real, term), weights(syn, term)
        assert abs(w_syn.mean() / w_real.mean() - 1) < 0.06
        assert set(w_syn) <= set(w_real)  # every weight is one the term has in the source


def test_synthesis_refuses_what_it_cannot_do(source_folder, tmp_path):
    from splade_lite.errors import BadValueError

    with pytest.raises(sy.SynthesisError, match="at least 1"):
        sy.synthesize(source_folder, tmp_path / "syn", 0)
    with pytest.raises(sy.SynthesisError, match="keep"):
        sy.synthesize(source_folder, tmp_path / "syn", 10, keep=1.0)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises((BadValueError, OSError), match="not made by splade-lite"):
        sy.synthesize(source_folder, tmp_path / "taken", 10)
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    with pytest.raises(BadValueError):  # an output inside the source
        sy.synthesize(source_folder, source_folder / "syn", 10)
    sy.synthesize(source_folder, tmp_path / "syn", 10)
    sy.synthesize(source_folder, tmp_path / "syn", 20, overwrite=True)
    assert vf.read_vectors_meta(tmp_path / "syn")["num_docs"] == 20


def test_the_command_line_writes_a_folder(source_folder, tmp_path, capsys):
    out = tmp_path / "syn"
    assert sy.main([str(source_folder), "--docs", "50", "--out", str(out), "--seed", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["docs"] == 50 and summary["seed"] == 2
    assert sy.main([str(source_folder), "--docs", "50", "--out", str(out)]) == 1  # exists


# --------------------------------------------------------------------------------------------
# Synthesis from an encoded corpus (splade-tiny), and indexing the result


@pytest.fixture(scope="module")
def tiny_vectors(tmp_path_factory, tiny_corpus, splade_tiny) -> Path:
    from splade_lite.encode import encode_corpus

    folder = tmp_path_factory.mktemp("synth-tiny") / "vectors"
    encode_corpus(tiny_corpus, folder, encoder=splade_tiny, progress=False)
    return folder


@pytest.fixture(scope="module")
def tiny_synthetic(tiny_vectors, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("synth-tiny-out") / "syn"
    sy.synthesize(tiny_vectors, folder, 2000, seed=0)
    return folder


def test_synthesis_from_encoded_vectors(tiny_vectors, tiny_synthetic):
    vectors = _check_folder(tiny_synthetic, 2000)
    assert (tiny_synthetic / vf.TOKENIZER_DIR).is_dir()
    kept = sorted(p.name for p in (tiny_vectors / vf.TOKENIZER_DIR).iterdir())
    assert sorted(p.name for p in (tiny_synthetic / vf.TOKENIZER_DIR).iterdir()) == kept
    real = _vectors(tiny_vectors)
    # six base documents: each length about a sixth of the synthetic ones
    real_lengths = Counter(len(v) for _, v in real)
    syn_lengths = Counter(len(v) for _, v in vectors)
    assert set(syn_lengths) == set(real_lengths)
    for length, count in real_lengths.items():
        assert abs(syn_lengths[length] / 2000 - count / len(real)) < 0.05
    real_df, syn_df = _df(real), _df(vectors)
    for term, count in real_df.items():
        if count >= 2:  # in a third of the documents or more
            assert abs(syn_df[term] / 2000 - count / len(real)) < 0.08, term
    contents = Counter(json.dumps(sorted(v.items())) for _, v in vectors)
    assert max(contents.values()) == 1


@pytest.mark.jvm
@pytest.mark.slow
def test_a_synthesized_folder_indexes_like_an_encoded_one(tiny_synthetic, tmp_path):
    from splade_lite.index import build_index

    meta = build_index(tiny_synthetic, tmp_path / "index")
    assert meta["num_docs"] == 2000
    assert meta["model"] == "splade-tiny"
    shutil.rmtree(tmp_path / "index")
