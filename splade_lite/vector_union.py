"""Several vectors folders indexed as one (``index V0 V1 ... --out INDEX``).

What ``index`` checks before any work, one line each naming the folders: no folder given twice;
all encoded alike (model, its weights' hash, scale, max length, pooling, and the mode unless
the index chooses one); the same tokenizer and IDF files where they carry them; and, for the
parts of a corpus (``encode --shard I/N``, :mod:`splade_lite.corpus_parts`), that they cover
it once: parts that overlap are refused, and a missing part too unless `allow_partial`.
Folders are indexed in the order given, except that when every one is a part of the same
corpus they are put in corpus order, whatever order they come in (a shell glob puts part 10
before part 2), so that the index is the one of a single folder of the whole corpus.

A document id in two folders is found while the forward index is built
(:class:`splade_lite.forward.DuplicateIdError`), still before Java runs. Java reads the shards
from a staging folder of links to every folder's shards, renamed in order; the document
frequencies (for the corpus IDF) are summed, and the snippet files concatenated.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splade_lite import metadata as md
from splade_lite import vectors_folder as vf
from splade_lite.corpus_parts import SHARD_KEY, CorpusPart, PartRecord, read_part
from splade_lite.errors import BadValueError

#: The counts of ``vectors.json`` that add up over the folders of an index.
_COUNTS = ("num_docs", "num_empty", "num_truncated", "num_skipped", "num_postings")


@dataclass(frozen=True)
class Member:
    """One vectors folder of an index: its path, ``vectors.json`` and part record."""

    path: Path
    meta: dict
    part: PartRecord | None

    @property
    def num_docs(self) -> int:
        return int(self.meta["num_docs"])

    def describe(self) -> str:
        return str(self.path) if self.part is None else f"{self.path} (part {self.part})"


class VectorUnion:
    """The checked folders of one index, in the order they are indexed."""

    def __init__(self, members: list[Member], query_dir: Path, complete: bool) -> None:
        self.members, self.query_dir = members, query_dir
        self._complete = complete  # every folder a part of one corpus, which they cover

    @property
    def first(self) -> Member:
        return self.members[0]

    @property
    def paths(self) -> list[Path]:
        return [m.path for m in self.members]

    @property
    def num_docs(self) -> int:
        return sum(m.num_docs for m in self.members)

    def sources(self) -> list[Path]:
        """The folders holding documents (an empty part has no shard to read)."""
        return [m.path for m in self.members if m.num_docs or vf.shard_files(m.path)]

    def meta(self) -> dict:
        """``vectors.json`` of the first folder with the counts of all: what ``index`` reads."""
        meta = dict(self.first.meta)
        for key in _COUNTS:
            if all(isinstance(m.meta.get(key), int) for m in self.members):
                meta[key] = sum(m.meta[key] for m in self.members)
        return meta

    def index_vectors_meta(self) -> dict:
        """The ``vectors.json`` an index of several folders keeps: how its documents were
        encoded, the counts of all, and each folder's own record under ``parts``."""
        meta = self.meta()
        for key in (SHARD_KEY, "shards", "corpus", "corpus_sha256", "docs_per_second"):
            meta.pop(key, None)
        seconds = sum(float(m.meta.get("seconds") or 0) for m in self.members)
        meta["seconds"] = round(seconds, 3)
        corpora = {m.meta.get("corpus") for m in self.members}
        if len(corpora) == 1:
            meta["corpus"] = corpora.pop()
        if self._complete and self.first.part is not None:  # the whole corpus's digest
            meta["corpus_sha256"] = self.first.part.corpus_sha256
        backends = sorted({str(m.meta.get("backend", "torch")) for m in self.members})
        meta["backend"] = backends[0] if len(backends) == 1 else "mixed"
        meta["parts"] = [
            {
                "vectors": str(m.path.resolve()),
                "num_docs": m.num_docs,
                "corpus_sha256": m.meta.get("corpus_sha256"),
                SHARD_KEY: m.meta.get(SHARD_KEY),
                "backend": m.meta.get("backend", "torch"),
            }
            for m in self.members
        ]
        return meta

    def read_df(self) -> tuple[dict[str, int], int]:
        """``df.json`` of every folder, summed: the document frequencies of their union."""
        total: dict[str, int] = {}
        num_docs = 0
        for member in self.members:
            df, count = vf.read_df(member.path)
            num_docs += count
            for term, n in df.items():
                total[term] = total.get(term, 0) + n
        return dict(sorted(total.items())), num_docs

    def bm25_chunks(self) -> list[tuple[int, str | None]]:
        """Each folder's document count and digest, in order: a BM25 corpus should hold the
        same documents, folder after folder."""
        return [(m.num_docs, m.meta.get("corpus_sha256")) for m in self.members]

    def write_docs(self, target: Path) -> bool:
        """Every folder's ``docs.jsonl.gz`` one after the other (gzip members may follow each
        other in one file) into `target`; False, writing nothing, when one folder lacks it."""
        files = [m.path / vf.DOCS_FILE for m in self.members]
        if not all(f.is_file() for f in files):
            return False
        with open(target, "wb") as out:
            for file in files:
                with open(file, "rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 20)
        return True


def stage_shards(sources: Sequence[Path], folder: Path) -> Path:
    """A folder of links to the shards of `sources`, renamed ``part-NNNNN`` in order, for
    Java, which reads a folder's shards in name order; returns `folder`."""
    files = [shard for source in sources for shard in vf.shard_files(source)]
    width = max(5, len(str(len(files) - 1)))
    folder.mkdir()
    for number, source in enumerate(files):
        suffix = vf.SHARD_SUFFIXES[1] if source.name.endswith(".gz") else vf.SHARD_SUFFIXES[0]
        target = folder / f"{vf.SHARD_PREFIX}{number:0{width}d}{suffix}"
        try:
            target.symlink_to(source.resolve())
        except OSError:
            try:
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)
    return folder


def open_union(
    folders: Sequence[str | Path],
    *,
    mode: str | None = None,
    allow_partial: bool = False,
    say: Callable[[str], None] = lambda _msg: None,
) -> VectorUnion:
    """Read and check the vectors folders of one index (see the module docstring)."""
    paths = [Path(f) for f in folders]
    if not paths:
        raise BadValueError("no vectors folder given: index needs at least one")
    seen: dict[str, Path] = {}
    for path in paths:
        real = os.path.realpath(path)
        if real in seen:
            raise BadValueError(
                f"{seen[real]} is given twice (as {seen[real]} and {path}): give each vectors "
                "folder once"
            )
        seen[real] = path
    members = []
    for path in paths:
        meta = vf.read_vectors_meta(path)
        members.append(Member(path, meta, read_part(meta, path / vf.VECTORS_META)))
    _check_alike(members, mode, say)
    members, complete = _order_parts(members, allow_partial, say)
    query_dir = _query_side(members)
    if not any(m.num_docs for m in members):
        which = " and ".join(m.describe() for m in members)
        verb = "holds" if len(members) == 1 else "hold"
        raise BadValueError(f"{which} {verb} no document: nothing to index")
    return VectorUnion(members, query_dir, complete)


def _check_alike(members: list[Member], mode: str | None, say: Callable[[str], None]) -> None:
    """Refuse folders whose documents were encoded differently from the first's."""
    first = members[0]
    keys = [k for k in md.INDEX_COPIED_FIELDS if k != "mode" or mode is None]
    defaults: dict[str, Any] = {"pooling": "max"}
    for other in members[1:]:
        differ = [
            f"{key} {md.short_repr(first.meta.get(key, defaults.get(key)))} vs "
            f"{md.short_repr(other.meta.get(key, defaults.get(key)))}"
            for key in keys
            if first.meta.get(key, defaults.get(key)) != other.meta.get(key, defaults.get(key))
        ]
        if differ:
            mode_differs = any(d.startswith("mode ") for d in differ)
            hint = " (or choose the index's query encoding with --mode)" if mode_differs else ""
            raise BadValueError(
                f"{first.path} and {other.path} were encoded differently ({'; '.join(differ)}): "
                f"the documents of one index must be encoded alike; encode them again with the "
                f"same options{hint}"
            )
    backends = {m.meta.get("backend", "torch") for m in members}
    if len(backends) > 1:
        say(
            f"warning: the folders were encoded with the back ends {', '.join(sorted(backends))}:"
            " the index mixes exact and approximate weights"
        )


def _order_parts(
    members: list[Member], allow_partial: bool, say: Callable[[str], None]
) -> tuple[list[Member], bool]:
    """Check that the parts of each corpus cover it once; the members in indexing order and
    whether they are exactly the parts of one corpus, covering it."""
    groups: dict[tuple[str, int], list[tuple[Member, PartRecord]]] = {}
    for member in members:
        if member.part is not None:
            key = (member.part.corpus_sha256, member.part.corpus_docs)
            groups.setdefault(key, []).append((member, member.part))
    complete = [_check_cover(group, allow_partial, say) for group in groups.values()]
    if len(groups) == 1 and all(m.part is not None for m in members):
        (group,) = groups.values()
        return [member for member, _ in _in_corpus_order(group)], complete[0]
    return members, False


def _in_corpus_order(group: list[tuple[Member, PartRecord]]) -> list[tuple[Member, PartRecord]]:
    return sorted(group, key=lambda pair: (pair[1].first, pair[1].end))


def _check_cover(
    group: list[tuple[Member, PartRecord]], allow_partial: bool, say: Callable[[str], None]
) -> bool:
    """Refuse parts of one corpus that overlap, or that leave documents out (unless
    `allow_partial`: then a warning); True when they cover the corpus."""
    ordered = _in_corpus_order(group)
    total = ordered[0][1].corpus_docs
    end, gaps = 0, []
    last: tuple[Member, PartRecord] | None = None  # the part that reaches furthest so far
    for member, part in ordered:
        if part.first < end and part.end > part.first and last is not None:
            raise BadValueError(
                f"{last[0].describe()} and {member.describe()} of the same corpus overlap "
                f"({last[1].span()}; {part.span()}): give each part once"
            )
        if part.first > end:
            gaps.append((end, part.first))
        if part.end > end:
            end, last = part.end, (member, part)
    if end < total:
        gaps.append((end, total))
    if not gaps:
        return True
    corpus = ordered[0][0].meta.get("corpus") or "their corpus"
    missing = _missing_parts([part for _, part in group], total) or ", ".join(
        f"documents {a} to {b - 1}" for a, b in gaps
    )
    given = ", ".join(f"{member.path} = {part}" for member, part in ordered)
    text = (
        f"the parts of {corpus} given ({given}) leave out {sum(b - a for a, b in gaps)} of "
        f"its {total} documents ({missing} missing)"
    )
    if not allow_partial:
        raise BadValueError(
            f"{text}; give every part, or pass --allow-partial to index only those given"
        )
    say(f"warning: {text}; indexed anyway (--allow-partial)")
    return False


def _missing_parts(parts: list[PartRecord], total: int) -> str:
    """The missing parts by name ("part 1/3"), where the parts given are all of N; else ""."""
    counts = {part.count for part in parts}
    if len(counts) != 1:
        return ""
    count = counts.pop()
    given = {part.index for part in parts}
    missing = []
    for index in sorted(set(range(count)) - given):
        first, end = CorpusPart(index, count).bounds(total)
        if end > first:  # an empty part leaves nothing out
            missing.append(f"part {index}/{count}")
    return ", ".join(missing)


def _query_side(members: list[Member]) -> Path:
    """The folder whose tokenizer and IDF table the index takes: the first that carries them,
    after checking that every folder carrying them holds the same files."""
    carriers = [m for m in members if vf.carries_query_side(m.path, m.meta)]
    if not carriers:
        return members[0].path
    reference = _query_files(carriers[0].path)
    for other in carriers[1:]:
        files = _query_files(other.path)
        differ = sorted(
            n for n in reference.keys() | files.keys() if reference.get(n) != files.get(n)
        )
        if differ:
            raise BadValueError(
                f"{carriers[0].path} and {other.path} differ in {differ[0]} (another version "
                "of the model's tokenizer files?): the index takes one; encode them again alike"
            )
    return carriers[0].path


def _query_files(folder: Path) -> dict[str, str]:
    """sha256 of each file of ``tokenizer/`` and of ``idf.json``, by name."""
    files = {f"{vf.TOKENIZER_DIR}/{p.name}": p for p in (folder / vf.TOKENIZER_DIR).iterdir()}
    files[vf.IDF_FILE] = folder / vf.IDF_FILE
    return {
        name: hashlib.sha256(path.read_bytes()).hexdigest()
        for name, path in sorted(files.items())
        if path.is_file()
    }
