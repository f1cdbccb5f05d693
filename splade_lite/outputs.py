"""May this command write, or replace, this folder? Only if nothing but splade-lite's is lost.

Every command that writes a folder asks here, before any model loads or Java starts. An output
must not be an input, lie inside one or hold one (real paths compared: symlinks and bind
mounts count). ``index`` and ``export`` build beside the output and rename the build onto it at
the end (:class:`Claim`), so what that rename needs is checked first: not ``/`` or another mount
point, not the current folder nor above it, a parent that can hold the staging folder. An
existing folder is replaced only with ``--overwrite`` and only when its metadata says it is the
kind the command makes (an index: ``splade_lite.json``, format ``splade-lite/index``; a vectors
folder or export: ``vectors.json``, format ``splade-lite/vectors``; a cluster export:
``export.json``, which lists its files); an empty one needs no flag. One of ours also holding
files splade-lite did not write is refused, neither kept nor deleted: a rename cannot keep
them, and carrying them over would mix a user's files into a new build. One writer at a time:
a lock file ``.<name>.splade-lite-lock`` beside the output (renamed, so cannot hold it) is held
from the checks to after the rename, with the output folder's own :func:`lock_folder` (held
by ``encode`` and ``train`` while they write; both in :mod:`splade_lite.output_locks`). A
second writer fails at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from splade_lite import metadata as md
from splade_lite import vectors_folder as vf
from splade_lite.clusters.layout import CLUSTER_FORMAT, CLUSTER_MARKER, cluster_foreign
from splade_lite.index_shards import LUCENE_FILE_RE as _LUCENE_RE
from splade_lite.index_shards import lucene_foreign
from splade_lite.output_locks import OutputError as OutputError
from splade_lite.output_locks import flock_file, lock_beside, unlock_beside
from splade_lite.output_locks import lock_folder as lock_folder

INDEX, VECTORS, UNFINISHED, CLUSTER = "index", "vectors", "unfinished vectors", "cluster export"
INDEX_FORMAT, VECTORS_FORMAT = md.INDEX_FORMAT, vf.VECTORS_FORMAT
PROGRESS_FILE, PROGRESS_FORMAT = vf.PROGRESS_FILE, "splade-lite/encode-progress"
DEMO_MARKER, DEMO_FORMAT = "splade_lite_demo.json", "splade-lite/demo-workdir"

_KIND_WORDS = {
    INDEX: "a splade-lite index",
    VECTORS: "a splade-lite vectors folder",
    UNFINISHED: f"an interrupted encode run ({PROGRESS_FILE}; `encode --resume` finishes it)",
    CLUSTER: f"a splade-lite export for a search cluster ({CLUSTER_MARKER})",
}
_SHORT = {INDEX: "an index", VECTORS: "a vectors folder", CLUSTER: "a cluster export"}
#: encode's files in a vectors folder (an export writes some of them too)
VECTORS_NAMES = vf.FILE_NAMES
SHARD_RE = vf.SHARD_RE
#: temporary files of atomic.atomic_write: ``.NAME.HEX.tmp``
TMP_RE = re.compile(r"\.(.+)\.[0-9a-f]{8}\.tmp")
#: left in any folder by file managers: neither ours nor a reason to refuse a folder
_HARMLESS = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
_DEMO_NAMES = frozenset({"corpus.jsonl", "vectors", "index", "demo.json", DEMO_MARKER})
_DEMO_HIDDEN = re.compile(
    r"\.(index|vectors)\.((building|old)-\d+-\w+|splade-lite-lock)"
    r"|\.(corpus\.jsonl|demo\.json|splade_lite_demo\.json)\.[0-9a-f]{8}\.tmp"
)


def _format(path: Path) -> str | None:
    """The ``format`` a JSON metadata file declares, or None (no file, not ours, unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("format") if isinstance(data, dict) else None


_MARKERS = (
    (INDEX, md.INDEX_META, INDEX_FORMAT), (UNFINISHED, PROGRESS_FILE, PROGRESS_FORMAT),
    (CLUSTER, CLUSTER_MARKER, CLUSTER_FORMAT), (VECTORS, md.VECTORS_META, VECTORS_FORMAT),
)  # fmt: skip


def folder_kind(folder: Path) -> str | None:
    """The kind its metadata says (an index first: it has a ``vectors.json`` too), or None."""
    return next((k for k, name, f in _MARKERS if _format(Path(folder) / name) == f), None)


def _written(name: str, names: Iterable[str], pattern: re.Pattern) -> bool:
    """Whether a file `name` (or a temporary file of atomic_write for it) is one of `names`
    or matches `pattern`."""
    tmp = TMP_RE.fullmatch(name)
    name = tmp.group(1) if tmp else name
    return name in names or bool(pattern.fullmatch(name))


def written_by_encode(name: str) -> bool:
    """Whether a file of that name is one encode writes (shards, metadata, their temporaries)."""
    return _written(name, VECTORS_NAMES, SHARD_RE)


def _our_name(name: str, names: Iterable[str], pattern: re.Pattern) -> bool:
    return name in _HARMLESS or _written(name, names, pattern)


def foreign_entries(folder: Path, kind: str) -> list[str]:
    """What `folder`, a folder of `kind`, holds that splade-lite did not write there.

    An index is checked at its top level and in ``bm25/`` and ``dense/`` (Lucene's names and
    ours);
    ``tokenizer/`` (of an index or a vectors folder) may hold any files (each tokenizer has
    its own), but no folder. A cluster export holds what its ``export.json`` lists.
    """
    if kind == CLUSTER:
        return cluster_foreign(folder, _HARMLESS, TMP_RE)
    foreign = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        name, is_dir = entry.name, entry.is_dir(follow_symlinks=False)
        if kind == INDEX and is_dir and name in (md.BM25_DIR, md.DENSE_DIR, md.SHARDS_DIR):
            foreign += [f"{name}/{e}" for e in lucene_foreign(Path(entry.path), name)]
        elif kind == INDEX and name in md.ENGINE_DIRS.values() and is_dir:
            continue  # an engine's folder: its module owns and checks its files
        elif name == md.TOKENIZER_DIR and is_dir:
            foreign += [f"{name}/{e.name}/" for e in os.scandir(entry.path) if e.is_dir()]
        elif not is_dir and kind == INDEX and _our_name(name, md.INDEX_FILES, _LUCENE_RE):
            continue
        elif not is_dir and kind != INDEX and _our_name(name, VECTORS_NAMES, SHARD_RE):
            continue
        else:
            foreign.append(name + ("/" if is_dir else ""))
    return foreign


def _shown(folder: Path) -> list[str]:
    """What `folder` holds, file-manager litter aside, folders marked with a slash."""
    return sorted(e.name + "/" * e.is_dir() for e in os.scandir(folder) if e.name not in _HARMLESS)


def _listing(names: list[str], most: int = 3) -> str:
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def _real(path: str | Path) -> Path:
    return Path(os.path.realpath(path))


def _same(a: Path, b: Path) -> bool:
    try:
        return a == b or os.path.samefile(a, b)  # samefile: one folder under two paths
    except OSError:
        return False


def _inside(inner: Path, outer: Path) -> bool:
    """Whether real path `inner` lies strictly inside real path `outer`."""
    return any(_same(parent, outer) for parent in inner.parents)


def refuse_overlap(out: str | Path, inputs: Iterable[str | Path | None]) -> None:
    """Refuse an output that is an input, lies inside one, or holds one."""
    target = _real(out)
    for given in inputs:
        if given is None:
            continue
        source = _real(given)
        if _same(target, source):
            relation = "is"
        elif _inside(target, source):
            relation = "is inside"
        elif _inside(source, target):
            relation = "holds"
        else:
            continue
        raise OutputError(
            f"the output {out} {relation} the input {given}: writing it would destroy what is "
            "being read; nothing was touched; choose another output folder"
        )


def _refuse_unrenamable(out: Path, target: Path) -> None:
    """Refuse, up front, an output the final rename of a staged build could not replace."""
    if target.parent == target or os.path.ismount(target):
        raise OutputError(
            f"{out} is a mount point, which a finished build cannot be renamed onto; nothing "
            f"was touched; choose a folder inside it, such as {Path(out) / 'index'}"
        )
    with contextlib.suppress(OSError):  # no current folder (removed): nothing to protect
        cwd = _real(os.getcwd())
        if _same(cwd, target) or _inside(cwd, target):
            raise OutputError(
                f"{out} is the current folder or holds it, and a folder in use cannot be "
                "swapped for the finished build; nothing was touched; choose a new folder, "
                f"such as {Path(out) / 'index'}"
            )
    ancestor = target.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        problem = "not writable" if ancestor.is_dir() else "not a folder"
        raise OutputError(f"no build folder can be made beside {out}: {ancestor} is {problem}")
    if target.is_dir():
        # renaming a folder rewrites its ".." entry; in a sticky folder (/tmp) only its owner may
        sticky = target.parent.stat().st_mode & stat.S_ISVTX
        others = target.stat().st_uid != os.geteuid() and os.geteuid() != 0
        if not os.access(target, os.W_OK) or (sticky and others):
            raise OutputError(
                f"{out} cannot be replaced: the folder is not writable (or, in a sticky folder "
                "such as /tmp, not yours); nothing was touched"
            )


def _check_existing(out: Path, target: Path, kind: str, overwrite: bool, late: bool) -> bool:
    """Whether `target` holds something to replace (False: absent); refuses what may not go.

    `late`: this is the check just before the rename (something may have come meanwhile).
    """
    if not os.path.lexists(target):
        return False
    if not target.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder; nothing was touched")
    names = _shown(target)
    if not names:
        return True  # empty (or file-manager litter only)
    found = folder_kind(target)
    came = " appeared while building and" if late else ""
    if found is None:
        raise FileExistsError(
            f"{out}{came or ' is not empty and'} was not made by splade-lite (it "
            f"holds {_listing(names)}); nothing was touched; choose a new or empty folder"
        )
    if found != kind:
        raise FileExistsError(
            f"{out}{came} is {_KIND_WORDS[found]}, which is never replaced by {_SHORT[kind]}; "
            "nothing was touched; choose another folder"
        )
    foreign = foreign_entries(target, kind)
    if foreign:
        raise FileExistsError(
            f"{out} holds {_KIND_WORDS[kind]} but also {_listing(foreign)}, which splade-lite "
            "did not write; nothing was touched; move them out or choose another folder"
        )
    if not overwrite:
        verb = "appeared while building" if late else "already exists"
        raise FileExistsError(
            f"{out} {verb} ({_KIND_WORDS[kind]}); nothing was touched; pass --overwrite to "
            "replace it"
        )
    return True


# --------------------------------------------------------------------------------------------
# Staged builds


def claim_output(
    out: str | Path,
    kind: str,
    *,
    inputs: Iterable[str | Path | None] = (),
    overwrite: bool = False,
) -> Claim:
    """Check, touching nothing, that a `kind` folder may be built beside `out` and renamed
    onto it; :meth:`Claim.stage` takes the locks and checks again."""
    out = Path(out)
    target = _real(out)  # through symlinks: the folder that would be replaced
    refuse_overlap(out, inputs)
    _refuse_unrenamable(out, target)
    _check_existing(out, target, kind, overwrite, late=False)
    return Claim(out, target, kind, overwrite)


class Claim:
    """The checked output of a staged build: :meth:`stage`, build into the folder it returns,
    then :meth:`commit`, or :meth:`abandon` on failure. Locked from the first to the last."""

    def __init__(self, out: Path, target: Path, kind: str, overwrite: bool) -> None:
        self.out, self.target, self.kind, self.overwrite = out, target, kind, overwrite
        self._folder_lock: int | None = None
        self._lock_file: int | None = None
        self._done = False

    def stage(self) -> Path:
        """Lock, check again, tidy up after dead builds, and make the staging folder."""
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            self._lock_file = lock_beside(self.target, self.out)
            self._lock_target()
            _remove_leftovers(self.target, self.kind)
            _check_existing(self.out, self.target, self.kind, self.overwrite, late=False)
            # the builder's pid in the name tells a later build whether it still runs
            prefix = f".{self.target.name}.building-{os.getpid()}-"
            tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=self.target.parent))
            _chmod_like_mkdir(tmp)
            return tmp
        except BaseException:
            self.release()
            raise

    def commit(self, tmp: Path) -> None:
        """Rename the finished build onto the output, which is checked again and replaced
        only now (another process may have put something there meanwhile)."""
        from splade_lite.atomic import fsync_folder

        try:
            self._lock_target()
            old, name = None, self.target.name
            if _check_existing(self.out, self.target, self.kind, self.overwrite, late=True):
                old = self.target.with_name(f".{name}.old-{os.getpid()}-{os.urandom(4).hex()}")
                os.replace(self.target, old)
            try:
                os.replace(tmp, self.target)
            except BaseException:
                if old is not None:
                    os.replace(old, self.target)  # the old one back in place
                raise
            self._done = True
            if old is not None:
                _remove_replaced(old, self.kind)
            fsync_folder(self.target.parent)
        finally:
            self.release()

    def abandon(self, tmp: Path | None) -> None:
        """The build failed: remove its staging folder, and nothing else."""
        ours = f".{self.target.name}.building-{os.getpid()}-"
        if tmp is not None and not self._done and tmp.name.startswith(ours):
            shutil.rmtree(tmp, ignore_errors=True)
        self.release()

    def release(self) -> None:
        """Let go of the locks (done by :meth:`commit` and :meth:`abandon`)."""
        if self._folder_lock is not None:
            os.close(self._folder_lock)
            self._folder_lock = None
        if self._lock_file is not None:
            unlock_beside(self.target, self._lock_file)
            self._lock_file = None

    def _lock_target(self) -> None:
        """The output folder's own lock, which encode and train hold while writing there."""
        if self._folder_lock is None and self.target.is_dir():
            self._folder_lock = flock_file(self.target, os.O_RDONLY)


def _remove_replaced(old: Path, kind: str) -> None:
    """Delete a replaced output, checked once more: only while it holds ours alone."""
    if not _shown(old) or (folder_kind(old) == kind and not foreign_entries(old, kind)):
        shutil.rmtree(old, ignore_errors=True)


def _remove_leftovers(target: Path, kind: str) -> None:
    """Staging folders of builds that died (our names, of processes gone), and outputs they
    had moved aside: back in place if none came instead, else deleted as replaced ones are."""
    if os.name != "posix":  # no cheap way to ask whether a process lives
        return
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(building|old)-(\d+)-[0-9a-z_]{{8}}")
    for path in sorted(target.parent.iterdir()):
        match = pattern.fullmatch(path.name)
        if not match or _process_alive(int(match.group(2))) or not path.is_dir():
            continue
        if match.group(1) == "building":
            shutil.rmtree(path, ignore_errors=True)
        elif not os.path.lexists(target):
            os.replace(path, target)
        else:
            _remove_replaced(path, kind)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        pass
    return True


def _chmod_like_mkdir(folder: Path) -> None:
    """mkdtemp makes a private folder; give the output the permissions a plain mkdir would."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)


# --------------------------------------------------------------------------------------------
# The demo's work folder


def claim_demo_workdir(workdir: Path, default: bool = False) -> None:
    """Make sure ``demo`` may write in `workdir`: absent or empty (then made and marked with
    ``splade_lite_demo.json``), marked before, or made by a splade-lite older than the mark
    (its ``demo.json`` and only the demo's files; in the `default` work folder, splade-lite's
    own, the demo's files alone). Any other is refused untouched: the demo replaces files."""
    workdir = Path(workdir)
    if os.path.lexists(workdir) and not workdir.is_dir():
        raise FileExistsError(f"{workdir} exists and is not a folder; nothing was touched")
    if _format(workdir / DEMO_MARKER) == DEMO_FORMAT:
        return
    names = _shown(workdir) if workdir.is_dir() else []
    bare = [n.rstrip("/") for n in names]
    demo_only = all(n in _DEMO_NAMES or _DEMO_HIDDEN.fullmatch(n) for n in bare)
    if names and not (demo_only and (default or _old_demo_state(workdir))):
        raise FileExistsError(
            f"{workdir} is not a folder the demo made (it holds {_listing(names)}), and the "
            "demo replaces files in it; nothing was touched; give --workdir a new or empty "
            "folder"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    note = "made by `splade-lite demo`, which replaces the files it wrote here"
    md.write_json(workdir / DEMO_MARKER, {"format": DEMO_FORMAT, "format_version": 1, "note": note})


def read_demo_state(workdir: Path) -> dict:
    """The demo's ``demo.json`` (the signature and size of its cached build); {} when none."""
    try:
        state = json.loads((Path(workdir) / "demo.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _old_demo_state(workdir: Path) -> bool:
    """Whether `workdir` has the ``demo.json`` an earlier demo wrote (its corpus signature)."""
    signature = read_demo_state(workdir).get("signature")
    return isinstance(signature, dict) and "corpus_version" in signature
