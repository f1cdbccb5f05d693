"""Parts of a corpus, for ``encode --shard I/N``: which documents part I of N holds, and the
record of it that ``vectors.json`` keeps.

Part I of N (I counts from 0, as Pyserini's ``--shard-id`` and a Kubernetes Indexed Job's
``JOB_COMPLETION_INDEX`` do) holds the documents at positions ``[I*T//N, (I+1)*T//N)`` of the
corpus's T valid records (with ``--skip-invalid`` positions count the valid records only). The
parts are contiguous and in corpus order, so the N folders indexed together (``index P0 P1
...``) hold the documents of one folder of the whole corpus, in the same order. N larger than
T leaves some parts empty: they are encoded as folders without a document, so that a job array
of any size succeeds and ``index`` still sees every part.

``vectors.json`` of a part records ``shard``: ``{"index": I, "count": N, "first": a, "end": b,
"corpus_docs": T, "corpus_sha256": ...}``, the last the digest of every document of the whole
corpus (each part records the same one), while the folder's own ``corpus_sha256`` is that of
the part's documents. ``index`` reads it back (:func:`read_part`) to check that the parts it
is given cover their corpus once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splade_lite.errors import BadValueError

_SPEC = re.compile(r"(\d+)/(\d+)")
#: The key of a part's record in ``vectors.json``.
SHARD_KEY = "shard"


@dataclass(frozen=True)
class CorpusPart:
    """Part `index` (from 0) of `count` parts of a corpus."""

    index: int
    count: int

    def __post_init__(self) -> None:
        for name in ("index", "count"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadValueError(f"shard {name} must be a whole number, got {value!r}")
        if self.count < 1:
            raise BadValueError(f"--shard {self}: N must be at least 1")
        if not 0 <= self.index < self.count:
            first_based = " (I counts from 0)" if self.index == self.count else ""
            raise BadValueError(
                f"--shard {self}: I must be from 0 to {self.count - 1}{first_based}; the "
                f"{self.count} parts are 0/{self.count} ... {self.count - 1}/{self.count}"
            )

    @classmethod
    def parse(cls, spec: str | CorpusPart) -> CorpusPart:
        """``"I/N"`` (two whole numbers, I from 0 to N-1) as a part; a part as it is."""
        if isinstance(spec, CorpusPart):
            return spec
        match = _SPEC.fullmatch(spec.strip()) if isinstance(spec, str) else None
        if match is None:
            raise BadValueError(
                f"--shard {spec!r} is not I/N (two whole numbers, such as 0/4: the first of "
                "4 parts)"
            )
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def bounds(self, total: int) -> tuple[int, int]:
        """Positions ``[first, end)`` of this part among `total` documents."""
        return self.index * total // self.count, (self.index + 1) * total // self.count

    def settings(self, total: int) -> dict[str, int]:
        """What a resumed run must find unchanged: the part and its documents' positions."""
        first, end = self.bounds(total)
        return {
            "index": self.index,
            "count": self.count,
            "first": first,
            "end": end,
            "corpus_docs": total,
        }

    def record(self, total: int, corpus_sha256: str) -> dict[str, Any]:
        """The ``shard`` record of ``vectors.json``."""
        return {**self.settings(total), "corpus_sha256": corpus_sha256}


@dataclass(frozen=True)
class PartRecord:
    """A part's ``shard`` record as read back from a vectors folder."""

    index: int
    count: int
    first: int
    end: int
    corpus_docs: int
    corpus_sha256: str

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def num_docs(self) -> int:
        return self.end - self.first

    def span(self) -> str:
        """Its documents in words ("documents 3 to 5 of 10", "no document of 10")."""
        if self.end == self.first:
            return f"no document of {self.corpus_docs}"
        return f"documents {self.first} to {self.end - 1} of {self.corpus_docs}"


def read_part(meta: Mapping[str, Any], where: Path) -> PartRecord | None:
    """The ``shard`` record of a folder's ``vectors.json`` (None: the whole corpus), checked
    to be consistent with itself and with the folder's document count."""
    from splade_lite.metadata import MetadataError, short_repr

    raw = meta.get(SHARD_KEY)
    if raw is None:
        return None
    keys = ("index", "count", "first", "end", "corpus_docs")
    if not isinstance(raw, dict) or not all(
        isinstance(raw.get(k), int) and not isinstance(raw.get(k), bool) for k in keys
    ):
        raise MetadataError(f"{where}: shard {short_repr(raw)} is not a record of whole numbers")
    sha = raw.get("corpus_sha256")
    if not isinstance(sha, str) or not sha:
        raise MetadataError(f"{where}: shard {short_repr(raw)} has no corpus_sha256")
    part = PartRecord(**{k: raw[k] for k in keys}, corpus_sha256=sha)
    try:
        expected = CorpusPart(part.index, part.count).bounds(part.corpus_docs)
    except BadValueError as err:
        raise MetadataError(f"{where}: {err}") from None
    if (part.first, part.end) != expected or meta.get("num_docs") != part.num_docs:
        raise MetadataError(
            f"{where}: shard {part} of {part.corpus_docs} documents should hold documents "
            f"[{expected[0]}, {expected[1]}), but records [{part.first}, {part.end}) and "
            f"num_docs {short_repr(meta.get('num_docs'))}"
        )
    return part
