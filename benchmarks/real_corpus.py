"""Build a corpus of real text (100,000 documents by default) from files Debian installs.

No download: every source is a Debian package or the shared collections.

- ``wordnet``: WordNet 3.0 (package ``wordnet-base``), ``/usr/share/wordnet/data.{noun,verb,
  adj,adv}``: one document per synset; title the synset's words, text its gloss with its
  examples. Ids ``wn-<n|v|a|r>-<offset>``.
- ``gcide``: the GNU Collaborative International Dictionary of English (``dict-gcide``),
  ``/usr/share/dictd/gcide.{index,dict.dz}``: one document per definition block of the
  dictd file (the index names several headwords for some blocks; each block counts once),
  title its headword, text the definition with the markup taken out (pronunciations,
  ``{cross references}``' braces, ``[1913 Webster]``-style source tags, accent codes such as
  ``[e^]``). Ids ``gcide-<byte offset>``. The ``00-database-*`` meta entries are left out.
- ``pydocs``: the Python documentation's reStructuredText sources (``python3-doc``),
  ``/usr/share/doc/python3-doc/html/_sources/**/*.txt``; ``man``: the manual pages of the
  packages ``manpages`` and ``manpages-dev`` (the files their dpkg lists name under
  ``/usr/share/man/man*/``, so that the corpus does not depend on what else is installed:
  16,000 near-identical generated ``gcloud`` pages, for one). Each page is cut into blocks of
  20 to 300 words: consecutive paragraphs of one section are joined until a block reaches
  120 words, a longer paragraph is cut, a tail under 20 words joins the block before it (it
  is dropped when there is none or that would pass 300). Code and markup are left out
  (literal blocks, doctests, code and index directives, roff macros, escapes and tbl tables,
  table rules; the NAME, SYNOPSIS, SEE ALSO and COLOPHON sections of manual pages). Title:
  page title (a manual page's NAME line) and section heading. Ids ``py-<page>-<k>`` and
  ``man-<file>-<k>``.
- ``scifact``, ``nfcorpus``, ``cranfield``, ``medline``: the shared collections'
  ``corpus.jsonl``, ids prefixed by the collection's name (``scifact-4983``).

The sources are taken in the order scifact, nfcorpus, cranfield, medline, pydocs, man,
wordnet, gcide. Whitespace is collapsed everywhere; a document with fewer than 3 words of
text is dropped, and so is one whose text is exactly that of a document before it (in that
order: a first pass over every source finds these and counts what is left, keeping one flag
byte per source document and a 64-bit hash per distinct text). Installed on the machine this
was written on: 269,449 documents (wordnet 114,937, gcide 123,373, pydocs 12,933, man 7,001,
the collections 11,205); 100,000 of them take about 20 s to write on one core.

When fewer documents are asked for than the sources hold, each source gets a quota by
water-filling: the documents are shared equally among the sources, a source that holds fewer
than its share gives all it has and the rest is shared among the others again (a remainder
of one document each goes to the first sources in that order). A source gives its quota
as an evenly spread selection of its documents in their own order (document i of `a` is
taken when ``floor((i + 1) q / a) > floor(i q / a)``), so a sample of WordNet holds nouns,
verbs, adjectives and adverbs, and a sample of GCIDE runs from A to Z. The sources are then
interleaved: the k-th document of a source of quota q is written at position (k + 1/2) / q,
ties in that order, so any prefix of the file mixes the sources too. Same sources and
same `docs` give the same bytes.

Run as ``python benchmarks/real_corpus.py --docs 100000 --out corpus.jsonl`` (a ``.gz`` name
is gzipped); the counts per source and the number of words go to stderr.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import heapq
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
COLLECTIONS = ("scifact", "nfcorpus", "cranfield", "medline")
DEFAULT_DOCS = 100_000

WORDNET_DIR = Path("/usr/share/wordnet")
WORDNET_FILES = (("n", "noun"), ("v", "verb"), ("a", "adj"), ("r", "adv"))
GCIDE_INDEX = Path("/usr/share/dictd/gcide.index")
GCIDE_DICT = Path("/usr/share/dictd/gcide.dict.dz")
PYDOCS_DIR = Path("/usr/share/doc/python3-doc/html/_sources")
DPKG_INFO = Path("/var/lib/dpkg/info")
MAN_PACKAGES = ("manpages", "manpages-dev")

#: Fewest words of text a document keeps (shorter ones are dropped).
MIN_WORDS = 3
#: The blocks pages are cut into: at least MIN_BLOCK_WORDS, grown to BLOCK_WORDS, at most
#: MAX_BLOCK_WORDS words.
MIN_BLOCK_WORDS, BLOCK_WORDS, MAX_BLOCK_WORDS = 20, 120, 300

Doc = tuple[str, str, str]  # id, title, text


class CorpusError(Exception):
    """The corpus cannot be built (a missing package, too few documents): one line."""


def collapse(text: str) -> str:
    """`text` with every run of whitespace made one space, and none at either end."""
    return " ".join(text.split())


# --------------------------------------------------------------------------------------------
# WordNet

_WN_MARKER = re.compile(r"\([a-z]+\)$")  # data.adj: able(a), galore(ip), ...


def parse_wordnet_line(line: str, pos: str) -> Doc | None:
    """The document of one line of a WordNet ``data.*`` file, or None for a license line
    (they start with two spaces) or a line without a gloss."""
    if line.startswith("  ") or not line.strip():
        return None
    head, _, gloss = line.partition(" | ")
    fields = head.split()
    offset, count = fields[0], int(fields[3], 16)
    words = [_WN_MARKER.sub("", fields[4 + 2 * i]).replace("_", " ") for i in range(count)]
    return f"wn-{pos}-{offset}", ", ".join(words), collapse(gloss)


def wordnet_docs(folder: Path = WORDNET_DIR) -> Iterator[Doc]:
    for pos, name in WORDNET_FILES:
        with open(folder / f"data.{name}", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                doc = parse_wordnet_line(line, pos)
                if doc is not None:
                    yield doc


# --------------------------------------------------------------------------------------------
# GCIDE (dictd format)

DICTD_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64 = {c: i for i, c in enumerate(DICTD_ALPHABET)}


def dictd_number(text: str) -> int:
    """A number of a dictd index (base 64, A-Z a-z 0-9 + /, most significant digit first)."""
    value = 0
    for char in text:
        value = value * 64 + _B64[char]
    return value


def read_dictd_index(path: Path) -> list[tuple[str, int, int]]:
    """Each definition block of a dictd index once, as (headword, offset, length) in file
    order; the headword is the first the index gives it. ``00-*`` meta entries left out."""
    blocks: dict[tuple[int, int], str] = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 3 or fields[0].startswith("00-"):
                continue
            key = (dictd_number(fields[1]), dictd_number(fields[2]))
            blocks.setdefault(key, fields[0])
    return [(head, offset, length) for (offset, length), head in sorted(blocks.items())]


_GCIDE_PRON = re.compile(r"\\[^\\]{0,120}\\")  # \Dil"u*ent\ : the headword spelled with stresses
_GCIDE_SOURCE = re.compile(
    r"\[[^\[\]]{0,60}(?:Webster|WordNet|PJC|RDH|Century|Suppl\.)[^\[\]]{0,60}\]"
)
# an accent code: a mark and one or two letters ([e^], ['e], [=oo], [.a]); letters alone in
# brackets ([He], [R.]) are text, but for a few named letters ([imac], [ae], [thorn])
_GCIDE_ACCENT = re.compile(r"\[(?:[-=.~\"'`^,*]([A-Za-z]{1,2})|([A-Za-z]{1,2})\^)\]")
_GCIDE_NAMED = {"imac": "i", "aum": "a", "ae": "ae", "oe": "oe", "AE": "AE", "OE": "OE"}
_GCIDE_NAMED.update(eth="th", thorn="th", add="a", asl="a", ng="ng", udd="u", yogh="y")
_GCIDE_NAME = re.compile(r"\[(" + "|".join(_GCIDE_NAMED) + r")\]")


def _gcide_letters(text: str) -> str:
    if "[" not in text:
        return text
    text = _GCIDE_NAME.sub(lambda m: _GCIDE_NAMED[m.group(1)], text)
    return _GCIDE_ACCENT.sub(lambda m: m.group(1) or m.group(2), text)


def clean_gcide(block: str, headword: str) -> tuple[str, str]:
    """(title, text) of one dictd definition block of GCIDE, markup taken out: the title is
    the block's own headword (the index's `headword` when the block starts otherwise)."""
    first = block.lstrip().split("\n", 1)[0]
    title = first.split(" \\", 1)[0] if " \\" in first else headword
    title = collapse(_gcide_letters(title))
    text = _gcide_letters(_GCIDE_SOURCE.sub(" ", _GCIDE_PRON.sub(" ", block)))
    text = collapse(text.replace("{", "").replace("}", ""))
    if title and text.startswith(title):
        text = text[len(title) :].lstrip(" ,")
    return title, text


def gcide_docs(index: Path = GCIDE_INDEX, dictionary: Path = GCIDE_DICT) -> Iterator[Doc]:
    """Each definition block of a dictd dictionary (its ``.dict.dz`` is gzip-readable)."""
    with gzip.open(dictionary, "rb") as handle:
        for headword, offset, length in read_dictd_index(index):
            handle.seek(offset)  # forward only: the blocks are in file order
            block = handle.read(length).decode("utf-8", "replace").replace("\ufffd", "")
            title, text = clean_gcide(block, headword)
            yield f"gcide-{offset}", title, text


# --------------------------------------------------------------------------------------------
# Pages cut into blocks


def _section_blocks(paragraphs: Iterable[str]) -> list[list[str]]:
    """The words of one section's paragraphs, cut into blocks (see the module docstring)."""
    blocks: list[list[str]] = []
    current: list[str] = []
    for paragraph in paragraphs:
        words = paragraph.split()
        while words:
            if len(current) + len(words) > MAX_BLOCK_WORDS and len(current) >= MIN_BLOCK_WORDS:
                blocks.append(current)
                current = []
            room = MAX_BLOCK_WORDS - len(current)
            current += words[:room]
            words = words[room:]
            if len(current) >= BLOCK_WORDS:
                blocks.append(current)
                current = []
    if len(current) >= MIN_BLOCK_WORDS:
        blocks.append(current)
    elif current and blocks and len(blocks[-1]) + len(current) <= MAX_BLOCK_WORDS:
        blocks[-1] += current
    return blocks


def page_blocks(paragraphs: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """(heading, text) blocks of 20 to 300 words from a page's (heading, paragraph) pairs in
    order; paragraphs are joined only under one heading."""
    heading: str | None = None
    section: list[str] = []
    for para_heading, paragraph in paragraphs:
        if para_heading != heading:
            for words in _section_blocks(section):
                yield heading or "", " ".join(words)
            heading, section = para_heading, []
        section.append(paragraph)
    for words in _section_blocks(section):
        yield heading or "", " ".join(words)


def _page_id(text: str) -> str:
    """A page or file name made safe for an id (printable ASCII, no space)."""
    return re.sub(r"[^!-~]", "_", text)


# --------------------------------------------------------------------------------------------
# reStructuredText (the Python documentation's sources)

_RST_UNDERLINE = re.compile(r"""^([=\-~*^#"'`:+.<>_])\1{2,}\s*$""")
_RST_DIRECTIVE = re.compile(r"^\.\.\s+([\w:.-]+)::\s*(.*)$")
_RST_OPTION = re.compile(r"^\s*:[\w -]+:(?:\s|$)")
_RST_TABLE_RULE = re.compile(r"^\s*[+=-][-+=|\s]*$")
#: Directives whose argument names what follows (a function, a class...): a sub-heading.
_RST_DESCRIBE = frozenset(
    "function class method attribute data exception decorator decoratormethod classmethod "
    "staticmethod abstractmethod coroutinefunction coroutinemethod awaitablefunction "
    "awaitablemethod describe option cmdoption envvar opcode pdbcommand monitoring-event".split()
)
#: Directives whose body is not prose (code, tables of contents, index entries...).
_RST_SKIP = frozenset(
    "code-block sourcecode code testcode testsetup testcleanup testoutput doctest "
    "productionlist literalinclude highlight index toctree raw image figure include "
    "tabularcolumns module currentmodule moduleauthor sectionauthor program grammar-snippet "
    "csv-table audit-event audit-event-table limited-api-list miscnews c:namespace "
    "rubric literal-block parsed-literal math".split()
)
#: Directives whose argument is prose (``.. note:: text``); others' (a version) is dropped.
_RST_TEXT_ARG = frozenset("note warning seealso tip important caution attention hint".split())
_RST_ROLE = re.compile(r":[\w:.+-]+:`([^`]*)`")
_RST_TARGET = re.compile(r"^(.*?)\s*<([^<>]*)>$", re.S)
#: (the character without which the pattern cannot match, pattern, replacement)
_RST_INLINE = (
    ("`", re.compile(r"``(.+?)``"), r"\1"),
    ("`", re.compile(r"`([^`]*?)\s*<[^`<>]*>`_{0,2}"), r"\1"),
    ("`", re.compile(r"`([^`]+)`_{0,2}"), r"\1"),
    ("*", re.compile(r"(?<!\\)\*\*(.+?)(?<!\\)\*\*"), r"\1"),
    ("*", re.compile(r"(?<![\w*\\])\*(?=\S)(.+?)(?<=[^\s\\])\*(?![\w*])"), r"\1"),
    ("]", re.compile(r"\s*\[(?:#\w*|\d+|\*)\]_"), ""),
    ("|", re.compile(r"\|([\w -]+)\|_{0,2}"), r"\1"),
    ("\\", re.compile(r"\\(.)"), r"\1"),
)


def _rst_role(match: re.Match) -> str:
    inner = match.group(1)
    target = _RST_TARGET.match(inner)
    if target:
        inner = target.group(1) or target.group(2)
    return inner.lstrip("~!")


def clean_rst(text: str) -> str:
    """Inline reStructuredText markup taken out (roles, literals, links, emphasis...)."""
    if ":`" in text:
        text = _RST_ROLE.sub(_rst_role, text)
    for needed, pattern, replacement in _RST_INLINE:
        if needed in text:
            text = pattern.sub(replacement, text)
    return collapse(text)


def _rst_paragraphs(text: str) -> Iterator[tuple[int, list[str]]]:
    """(indentation, lines) of each run of non-blank lines (a directive starts a new one)."""
    lines: list[str] = []
    for line in text.expandtabs(8).splitlines():
        if line.lstrip().startswith(".. ") and lines:  # a directive starts a paragraph
            yield len(lines[0]) - len(lines[0].lstrip()), lines
            lines = []
        if line.strip():
            lines.append(line.rstrip())
        elif lines:
            yield len(lines[0]) - len(lines[0].lstrip()), lines
            lines = []
    if lines:
        yield len(lines[0]) - len(lines[0].lstrip()), lines


def _rst_heading(lines: list[str]) -> tuple[str, list[str]] | None:
    """(heading, the lines after it) when a paragraph starts with a section title."""
    if len(lines) >= 3 and _RST_UNDERLINE.match(lines[0]) and _RST_UNDERLINE.match(lines[2]):
        return lines[1], lines[3:]
    if len(lines) >= 2 and _RST_UNDERLINE.match(lines[1]) and not _RST_UNDERLINE.match(lines[0]):
        return lines[0], lines[2:]
    return None


def rst_paragraphs(text: str) -> Iterator[tuple[str, str]]:
    """(heading, paragraph text) of a reStructuredText page's prose, in order. The heading is
    the page title, then ``: section`` and ``: function(args)`` where they apply."""
    page = section = sub = None
    sub_indent = skip_indent = -1
    for indent, lines in _rst_paragraphs(text):
        if skip_indent >= 0:
            if indent > skip_indent:
                continue
            skip_indent = -1
        heading = _rst_heading(lines)
        if heading is not None:
            section, sub, lines = clean_rst(heading[0]), None, heading[1]
            page = page or section
            if not lines:
                continue
        first = lines[0].strip()
        if _RST_UNDERLINE.match(first) and len(lines) == 1:
            continue  # a transition
        directive = _RST_DIRECTIVE.match(first)
        if sub is not None and indent <= sub_indent and not directive:
            sub = None
        if directive:
            name, arg = directive.group(1), directive.group(2)
            if name in _RST_DESCRIBE or name.startswith(("c:", "py:")):
                sub, sub_indent = clean_rst(arg), indent
                lines = lines[1:]
            elif name in _RST_SKIP:
                skip_indent = indent
                continue
            else:
                lines = ([arg] if name in _RST_TEXT_ARG and arg else []) + lines[1:]
        elif first.startswith(".."):  # a comment, a link target, a substitution
            skip_indent = indent
            continue
        elif first.startswith(">>>"):
            continue
        kept = [
            _RST_OPTION.sub(" ", line).replace("|", " ")
            for line in lines
            if not _RST_TABLE_RULE.match(line)
        ]
        prose = clean_rst(" ".join(kept))
        if prose.endswith("::"):  # a literal block follows, more indented
            skip_indent = indent
            prose = prose[:-1].rstrip(" :") if prose.endswith(" ::") else prose[:-1]
        if prose:
            title = ": ".join(
                part for part in (page, section if section != page else None, sub) if part
            )
            yield title, prose


def pydocs_docs(folder: Path = PYDOCS_DIR) -> Iterator[Doc]:
    for path in sorted(folder.rglob("*.txt")):
        name = path.relative_to(folder).as_posix()
        name = name.removesuffix(".txt").removesuffix(".rst")
        page = _page_id(name.replace("/", "."))
        text = path.read_text(encoding="utf-8", errors="replace")
        for k, (title, block) in enumerate(page_blocks(rst_paragraphs(text))):
            yield f"py-{page}-{k}", title, block


# --------------------------------------------------------------------------------------------
# roff (manual pages)

_ROFF_ESCAPE = re.compile(
    r"""\\(?:
        ".*                                   # a comment, to the end of the line
      | f(?:\[[^\]]*\]|\(..|.)                # a font
      | s(?:[+-]?\d+|[+-]?\(..|\[[^\]]*\])    # a size
      | \*(?:\[(?P<strn>[^\]]*)\]|\((?P<str2>..)|(?P<str1>.))   # a string
      | \((?P<ch2>..)                         # a named character \(em
      | \[(?P<chn>[^\]]*)\]                   # a named character \[em]
      | [hvwoDlLNbxXZSHRA]'[^']*'             # motions, widths, lines...
      | [nkgmMYVF$](?:\[[^\]]*\]|\(..|.)      # registers, colours...
      | (?P<one>.)
      | $
    )""",
    re.VERBOSE,
)
_ROFF_CHARS = {
    "em": " - ", "en": "-", "hy": "-", "mi": "-", "aq": "'", "dq": '"', "lq": '"',
    "rq": '"', "oq": "'", "cq": "'", "Lq": '"', "Rq": '"', "co": "(c)", "rg": "(R)",
    "tm": "(TM)", "mu": "x", "<=": "<=", ">=": ">=", "->": "->", "<-": "<-", "ti": "~",
    "ha": "^", "rs": "\\", "ba": "|", "br": "|", "sl": "/", "pl": "+", "eq": "=",
    "aa": "'", "ga": "`", "ul": "_", "at": "@", "sh": "#", "Do": "$", "ct": "c", "R": "(R)",
}  # fmt: skip
_ROFF_ONE = {"-": "-", "e": "\\", "\\": "\\", " ": " ", "~": " ", "0": " ", "t": " "}
_ROFF_ONE.update(dict.fromkeys("&|^)%c:/,{}pzdurak!?", ""))


def _roff_escape(match: re.Match) -> str:
    groups = match.groupdict()
    if groups["one"] is not None:
        return _ROFF_ONE.get(groups["one"], groups["one"])
    name = groups["ch2"] or groups["chn"] or groups["str2"] or groups["strn"] or groups["str1"]
    if name is None:
        return ""
    if name.startswith("u") and re.fullmatch(r"u[0-9A-Fa-f]{4,6}", name):
        return chr(int(name[1:], 16))
    return _ROFF_CHARS.get(name, "")


def roff_text(line: str) -> str:
    """A roff line's text, escapes taken out or replaced by the characters they stand for."""
    return _ROFF_ESCAPE.sub(_roff_escape, line)


_ROFF_ARG = re.compile(r'"((?:[^"]|"")*)"?|((?:\\.|[^\s\\])+)')  # \ (escaped space) is no break
#: Macros that end a paragraph (the tag of ``.IP`` and the text of ``.It`` start the next).
_ROFF_BREAK = frozenset(
    "PP LP P IP TP TQ HP sp Pp Lp Bl El It Bd Ed RS RE nf fi SY YS in ti ne bp".split()
)
#: Macros whose arguments are text (alternating fonts join theirs without spaces).
_ROFF_ALTERNATING = frozenset("BR BI IB IR RB RI".split())
_ROFF_TEXT = frozenset("B I SM SB UR MT OP".split())
_MDOC = frozenset(
    "Nm Nd Fl Ar Op Oo Oc Xr Em Sy Li Dq Qq Sq Pq Aq Bq Brq Pa Va Cm Ic Fn Fa Ft Fd Fo Fc Dv "
    "Er Ev Ql Tn In Lk Mt Ad An Cd Ms Ot Vt Ux Bx Nx Fx Ox At St Lb No Ns Ta It Xo Xc Ap".split()
)
#: Blocks left out whole: macro definitions, ignored text, tables, equations, pictures, code.
_ROFF_SKIP = {"de": "..", "de1": "..", "am": "..", "ig": "..", "TS": ".TE", "EQ": ".EN"}
_ROFF_SKIP.update(PS=".PE", EX=".EE", Bd_literal=".Ed")
#: Sections whose text is not prose (or the same on every page).
_MAN_SKIP_SECTIONS = frozenset({"NAME", "SYNOPSIS", "SEE ALSO", "COLOPHON"})


def _roff_args(text: str) -> list[str]:
    """A macro line's arguments ("quoted" ones may hold spaces; "" is a quote inside)."""
    args = []
    for match in _ROFF_ARG.finditer(text):
        quoted, bare = match.groups()
        args.append(quoted.replace('""', '"') if quoted is not None else bare)
    return args


def _mdoc_text(args: list[str]) -> str:
    words, flag = [], False
    for arg in args:
        if arg in _MDOC:
            flag = arg == "Fl"
            continue
        words.append("-" + arg if flag else arg)
        flag = False
    return " ".join(words)


def roff_paragraphs(text: str) -> Iterator[tuple[str, str]]:
    """(section heading, paragraph text) of a manual page in roff (man or mdoc macros);
    the NAME section's text comes first, with the heading ``NAME``."""
    section, skip_until = "", None
    paragraph: list[str] = []

    def close() -> Iterator[tuple[str, str]]:
        prose = collapse(roff_text(" ".join(paragraph)))
        paragraph.clear()
        if prose:
            yield section, prose

    for line in text.splitlines():
        if skip_until is not None:
            if line.startswith(skip_until):
                skip_until = None
            continue
        if not line.startswith((".", "'")):
            if line.strip():
                paragraph.append(line)
            else:
                yield from close()
            continue
        fields = line[1:].strip().split(None, 1)
        if not fields:
            continue
        name, rest = fields[0], fields[1] if len(fields) > 1 else ""
        if name == "Bd" and "-literal" in rest:
            name = "Bd_literal"
        if name in _ROFF_SKIP:
            yield from close()
            skip_until = _ROFF_SKIP[name]
        elif name in ("SH", "Sh", "SS", "Ss"):
            yield from close()
            heading = collapse(roff_text(" ".join(_roff_args(rest))))
            section = heading if name in ("SH", "Sh") else f"{section.split(': ')[0]}: {heading}"
        elif name in _ROFF_BREAK:
            yield from close()
            if name in ("IP", "It"):
                args = _roff_args(rest)
                paragraph.append(_mdoc_text(args) if name == "It" else " ".join(args[:1]))
        elif name in _ROFF_ALTERNATING:
            paragraph.append("".join(_roff_args(rest)))
        elif name in _ROFF_TEXT:
            paragraph.append(" ".join(_roff_args(rest)))
        elif name in _MDOC:
            args = _roff_args(rest)
            if name == "Xr" and len(args) >= 2:
                paragraph.append(f"{args[0]}({args[1]})" + " ".join(args[2:]))
            else:
                paragraph.append(_mdoc_text([name, *args]))
    yield from close()


def man_page_docs(text: str, stem: str) -> Iterator[Doc]:
    """The documents of one manual page (its file name without ``.gz``: ``ls.1``)."""
    name, _, number = stem.rpartition(".")
    title = f"{name}({number})" if name else stem
    body: list[tuple[str, str]] = []
    for section, prose in roff_paragraphs(text):
        if section.upper() == "NAME" and title.endswith(")"):
            title = prose  # "ls - list directory contents"
        elif section.split(": ")[0].upper() not in _MAN_SKIP_SECTIONS:
            body.append((f"{title}: {section}" if section else title, prose))
    for k, (heading, block) in enumerate(page_blocks(body)):
        yield f"man-{_page_id(stem)}-{k}", heading, block


def man_files(packages: Iterable[str] = MAN_PACKAGES, info: Path = DPKG_INFO) -> list[Path]:
    """The English manual pages (``/usr/share/man/man*/*.gz``) the dpkg lists of `packages`
    name, symbolic links left out, in path order."""
    pattern = re.compile(r"^/usr/share/man/man[^/]+/[^/]+\.gz$")
    found = set()
    for package in packages:
        listing = info / f"{package}.list"
        if listing.is_file():
            for line in listing.read_text(encoding="utf-8", errors="replace").splitlines():
                if pattern.match(line):
                    found.add(Path(line))
    return sorted(p for p in found if p.is_file() and not p.is_symlink())


def man_docs(files: Iterable[Path] | None = None) -> Iterator[Doc]:
    seen: set[str] = set()
    for path in man_files() if files is None else files:
        stem = path.name.removesuffix(".gz")
        if stem in seen:
            continue
        seen.add(stem)
        with gzip.open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "replace")
        if text.lstrip().startswith(".so "):  # a redirection to another page
            continue
        yield from man_page_docs(text, stem)


# --------------------------------------------------------------------------------------------
# The shared collections


def collection_docs(path: Path, name: str) -> Iterator[Doc]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                title, text = record.get("title") or "", record.get("text") or ""
                yield f"{name}-{_page_id(str(record['_id']))}", collapse(title), collapse(text)


# --------------------------------------------------------------------------------------------
# Sources, sampling and writing


@dataclass(frozen=True)
class Source:
    """Where documents come from: `read` gives them in order; `problem` says why it cannot
    (the package to install), or None."""

    name: str
    read: Callable[[], Iterable[Doc]]
    problem: Callable[[], str | None]

    def docs(self) -> Iterator[Doc]:
        """The source's documents, those with fewer than MIN_WORDS words of text left out."""
        for doc in self.read():
            if len(doc[2].split(None, MIN_WORDS)) >= MIN_WORDS:
                yield doc


def _needs(package: str, *paths: Path) -> Callable[[], str | None]:
    def problem() -> str | None:
        missing = next((p for p in paths if not p.exists()), None)
        if missing is None:
            return None
        return f"{missing} is absent: install the apt package {package}"

    return problem


def _man_problem() -> str | None:
    if man_files():
        return None
    return f"no manual pages of {' or '.join(MAN_PACKAGES)}: install the apt packages " + " ".join(
        MAN_PACKAGES
    )


def sources(data: Path = DATA) -> list[Source]:
    """Every source, in the order that decides which of two equal texts is kept."""
    found = [
        Source(
            name,
            lambda path=data / name / "corpus.jsonl", name=name: collection_docs(path, name),
            lambda path=data / name / "corpus.jsonl": (
                None if path.is_file() else f"{path} is absent (the shared collections)"
            ),
        )
        for name in COLLECTIONS
    ]
    found += [
        Source("pydocs", pydocs_docs, _needs("python3-doc", PYDOCS_DIR)),
        Source("man", man_docs, _man_problem),
        Source(
            "wordnet",
            wordnet_docs,
            _needs("wordnet-base", *(WORDNET_DIR / f"data.{n}" for _, n in WORDNET_FILES)),
        ),
        Source("gcide", gcide_docs, _needs("dict-gcide", GCIDE_INDEX, GCIDE_DICT)),
    ]
    return found


def _text_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def survey(present: list[Source]) -> dict[str, bytearray]:
    """One pass over every source: for each document, 1 when it is kept, 0 when its text
    is that of a document before it (in this source or one before)."""
    seen: set[int] = set()
    flags: dict[str, bytearray] = {}
    for source in present:
        kept = flags[source.name] = bytearray()
        for _, _, text in source.docs():
            digest = _text_hash(text)
            kept.append(digest not in seen)
            seen.add(digest)
    return flags


def quotas(available: dict[str, int], docs: int) -> dict[str, int]:
    """How many documents each source gives, by water-filling (see the module docstring)."""
    given = dict.fromkeys(available, 0)
    left = min(docs, sum(available.values()))
    while left:
        open_ = [name for name in available if given[name] < available[name]]
        share = left // len(open_)
        if share == 0:
            for name in open_[:left]:
                given[name] += 1
            break
        for name in open_:
            take = min(share, available[name] - given[name])
            given[name] += take
            left -= take
    return given


def _selected(source: Source, kept: bytearray, quota: int, rank: int):
    """The `quota` documents `source` gives, each keyed by its place in the interleaving."""
    available = sum(kept)
    if quota == 0:
        return
    index = taken = 0
    for doc, flag in zip(source.docs(), kept, strict=True):  # as the survey saw it
        if not flag:
            continue
        if (index + 1) * quota // available > index * quota // available:
            yield (2 * taken + 1) / (2 * quota), rank, doc
            taken += 1
        index += 1


def build_corpus(
    out: Path,
    docs: int = DEFAULT_DOCS,
    *,
    data: Path = DATA,
    log: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Write `docs` documents of real text into `out` (JSONL, ``{"_id", "title", "text"}``;
    gzipped for a ``.gz`` name); returns the number of documents of each source.

    A source whose package is absent is skipped with a warning through `log` when the others
    hold enough documents; otherwise :class:`CorpusError` names the packages to install.
    """
    from splade_lite.atomic import atomic_write

    say = log or (lambda _msg: None)
    if docs < 1:
        raise CorpusError(f"--docs must be at least 1, got {docs}")
    present, problems = [], []
    for source in sources(Path(data)):
        problem = source.problem()
        (problems if problem else present).append(problem or source)
    flags = survey(present)
    available = {name: sum(kept) for name, kept in flags.items()}
    total = sum(available.values())
    if total < docs:
        why = "; ".join(problems) if problems else "every source is installed"
        raise CorpusError(f"only {total} documents available, {docs} asked for ({why})")
    for problem in problems:
        say(f"warning: source skipped: {problem}")
    given = quotas(available, docs)
    counts = dict.fromkeys(available, 0)
    words = dict.fromkeys(available, 0)
    streams = [
        _selected(source, flags[source.name], given[source.name], rank)
        for rank, source in enumerate(present)
    ]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as handle:
        for _, rank, (docid, title, text) in heapq.merge(*streams):
            name = present[rank].name
            counts[name] += 1
            words[name] += len(title.split()) + len(text.split())
            record = {"_id": docid, "title": title, "text": text}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    for name in counts:
        say(f"{name:>10} {counts[name]:>8} docs {words[name]:>12,} words (of {available[name]})")
    say(f"{'total':>10} {sum(counts.values()):>8} docs {sum(words.values()):>12,} words -> {out}")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    parser.add_argument("--docs", type=int, default=DEFAULT_DOCS, help="number of documents")
    parser.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared collections")
    args = parser.parse_args(argv)
    try:
        build_corpus(args.out, args.docs, data=args.data, log=lambda m: print(m, file=sys.stderr))
    except CorpusError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
