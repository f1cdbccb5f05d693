"""An impact index in several Lucene shards: ``shards/00000/``, ``shards/00001/``, ... inside
the index folder, built in parallel and searched as one.

Each shard is the Lucene index of a contiguous run of the vectors' shard files, in order, so
the shards together hold the documents in the order one index would. Impact scores need no
statistics of the collection, and ties are broken by document id, so a search over the
shards (Lucene's ``MultiReader``, see :mod:`splade_lite.indexer.lucene`) ranks and scores as
one index does. Shards are what lets an index build use several Java processes, and what a
cluster of search nodes would split; the rest of the index (forward index, snippets, BM25,
an engine) stays one of each.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from splade_lite import metadata as md
from splade_lite import vectors_folder as vf
from splade_lite.errors import BadValueError

#: The names of the files Lucene writes in an index folder.
LUCENE_FILE_RE = re.compile(
    r"_[0-9a-z]+(_\w+)*\.\w+|(pending_)?segments(_[0-9a-z]+|\.gen)|write\.lock"
)
#: Lucene shards one index may have, at most.
MAX_LUCENE_SHARDS = 256


def check_shard_count(count: int, sources: Sequence[Path]) -> list[Path]:
    """The vector shard files of `sources`, in order, if they can make `count` Lucene
    shards (one file at least each); refused in one line otherwise."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise BadValueError(f"lucene_shards must be a whole number >= 1, got {count!r}")
    if count > MAX_LUCENE_SHARDS:
        raise BadValueError(f"lucene_shards {count} is more than {MAX_LUCENE_SHARDS}")
    files = [shard for source in sources for shard in vf.shard_files(source)]
    if count > len(files):
        raise BadValueError(
            f"{count} Lucene shards asked for, but the vectors have {len(files)} shard "
            f"file{'s' if len(files) != 1 else ''}, and each Lucene shard takes whole files: "
            "ask for fewer, or encode with a smaller --shard-size"
        )
    return files


def plan_groups(files: Sequence[Path], count: int) -> list[list[Path]]:
    """`files` cut into `count` contiguous groups of about equal bytes, none empty."""
    sizes = [max(1, f.stat().st_size) for f in files]
    before = [0]  # bytes of the files before each one
    for size in sizes:
        before.append(before[-1] + size)
    groups, start = [], 0
    for j in range(count):
        end = len(files) if j == count - 1 else start + 1
        target = before[-1] * (j + 1) / count
        last = len(files) - (count - 1 - j)  # later groups keep a file each
        while end < last and before[end] + sizes[end] / 2 <= target:
            end += 1
        groups.append(list(files[start:end]))
        start = end
    return groups


def build_lucene_shards(
    sources: Sequence[Path],
    index_dir: Path,
    count: int,
    parallel: int,
    log: Callable[[str], None] | None = None,
) -> tuple[list[str], int]:
    """Build `count` Lucene shards of the vectors in `sources` under `index_dir`, `parallel`
    at a time; returns their names (for ``lucene_shards`` in ``splade_lite.json``) and
    the number of documents Lucene indexed in all."""
    from splade_lite.indexer import build_impact_shards

    groups = plan_groups(check_shard_count(count, sources), count)
    names = [md.shard_folder_name(i) for i in range(count)]
    targets = [index_dir / name for name in names]
    stats = build_impact_shards(groups, targets, parallel=parallel, log=log)
    return names, sum(s.indexed for s in stats)


def lucene_bytes(index_dir: Path, meta: dict) -> int:
    """Bytes of the Lucene impact files (every shard's, or those at the top level)."""
    return sum(
        f.stat().st_size
        for folder in md.lucene_folders(index_dir, meta)
        for f in folder.iterdir()
        if f.is_file() and f.name not in md.INDEX_FILES
    )


def lucene_foreign(folder: Path, name: str) -> list[str]:
    """What a Lucene folder of an index (``bm25/``, or ``shards/`` of ``NNNNN/`` folders)
    holds that Lucene did not write (for ``--overwrite``, :mod:`splade_lite.outputs`)."""
    if name != md.SHARDS_DIR:
        return [e for e in sorted(os.listdir(folder)) if not LUCENE_FILE_RE.fullmatch(e)]
    foreign = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if not (entry.is_dir(follow_symlinks=False) and re.fullmatch(r"[0-9]{5}", entry.name)):
            foreign.append(entry.name + "/" * entry.is_dir(follow_symlinks=False))
        else:
            foreign += [f"{entry.name}/{e}" for e in lucene_foreign(Path(entry.path), "")]
    return foreign
