"""The state of a vectors folder between encode runs: fresh, finished, or interrupted.

An encode run keeps ``encode-progress.json`` in the folder from its start to its end. It holds
the settings that decide the bytes written (model and its weights' hash, mode, scale, max
length, batch and chunk sizes, shard size, device, and for ``--shard I/N`` the part with the
positions of its documents in the corpus, so that a run resumed with another part, or on a
corpus whose size changed, is refused) and, for every shard completed so far, its document
count, the sha256 of its content and the sha256 of the documents encoded into it.

``encode --resume`` trusts a shard only if it is listed there and unchanged on disk; it then
reads the corpus again up to the end of the trusted shards (checking that the same documents
come out, in the same order) and encodes the rest. Shards are cut every `shard_size`
documents and each is encoded in the same batches whether the run was interrupted or not, so a
resumed run writes the same bytes as an uninterrupted one.

The progress file also marks the folder as unfinished: ``index`` refuses it. Without
``--resume``, a folder already holding encode's files is only replaced with ``--overwrite``
(as ``index`` does for an index), and then only encode's own files go, one by one: other files
stay, and a folder whose encode-like files lack the metadata that says splade-lite wrote them
(``vectors.json`` or the progress file) is refused, as is an index (see
:mod:`splade_lite.outputs`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from splade_lite import metadata as md
from splade_lite.errors import BadValueError
from splade_lite.outputs import INDEX, PROGRESS_FILE, folder_kind, refuse_overlap, written_by_encode
from splade_lite.outputs import PROGRESS_FORMAT as _FORMAT
from splade_lite.outputs import lock_folder as lock_folder  # its home was here: still importable
from splade_lite.shards import file_sha256
from splade_lite.vectors_folder import shard_name


@dataclass
class ShardRecord:
    """One completed shard, as the progress file lists it."""

    name: str
    num_docs: int = 0
    num_empty: int = 0
    num_postings: int = 0
    sha256: str = ""  # of the shard's content
    input_sha256: str = ""  # of the documents (id, title, text) encoded into it
    seconds: float = 0.0  # encoding time


@dataclass
class Progress:
    """The settings of a run and the shards it completed."""

    settings: dict
    shards: list[ShardRecord]

    @property
    def num_docs(self) -> int:
        return sum(s.num_docs for s in self.shards)

    def save(self, folder: Path) -> None:
        md.write_json(
            folder / PROGRESS_FILE,
            {
                "format": _FORMAT,
                "format_version": 1,
                "settings": self.settings,
                "shards": [asdict(s) for s in self.shards],
            },
        )

    @classmethod
    def load(cls, folder: Path) -> Progress | None:
        """The progress file of `folder`, or None when there is none."""
        path = folder / PROGRESS_FILE
        if not path.is_file():
            return None
        data = md.read_json(path, "vectors folder (made by `encode`)")
        known = {f.name for f in fields(ShardRecord)}
        try:
            shards = [
                ShardRecord(**{k: v for k, v in s.items() if k in known}) for s in data["shards"]
            ]
            return cls(dict(data["settings"]), shards)
        except (KeyError, TypeError, AttributeError) as err:
            raise md.MetadataError(f"{path}: not a progress file of splade-lite ({err})") from None


def is_unfinished(vectors_dir: Path) -> bool:
    """Whether an encode run into `vectors_dir` started and did not finish."""
    return (Path(vectors_dir) / PROGRESS_FILE).is_file()


def encoded_files(folder: Path) -> list[Path]:
    """encode's files in `folder`: shards, metadata, ``tokenizer/``, and temporary files of
    any of them."""
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if written_by_encode(path.name))


def check_in_place_output(out: str | Path, inputs: Iterable[str | Path | None]) -> None:
    """For ``encode``, which writes into `out` itself: not over an input or a file, never into
    an index (whose ``vectors.json`` and ``docs.jsonl.gz`` look like encode's own)."""
    refuse_overlap(out, inputs)
    target = Path(os.path.realpath(out))
    if os.path.lexists(target) and not target.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder; nothing was touched")
    if target.is_dir() and folder_kind(target) == INDEX:
        raise FileExistsError(
            f"{out} is a splade-lite index ({md.INDEX_META}), which encode never writes into; "
            "nothing was touched; choose another folder"
        )


def check_output_folder(
    out: Path, *, resume: bool, overwrite: bool, inputs: Iterable[Path] = ()
) -> None:
    """Refuse, before any work, a run that would replace or mix with earlier output, write
    over one of its `inputs` (the corpus), or delete files splade-lite did not write."""
    if resume and overwrite:
        raise BadValueError("--resume continues a run and --overwrite starts again: choose one")
    check_in_place_output(out, inputs)
    existing = [p for p in encoded_files(out) if not p.name.startswith(".")]
    if existing and folder_kind(out) is None:
        names = ", ".join(p.name for p in existing[:3]) + (", ..." if len(existing) > 3 else "")
        raise FileExistsError(
            f"{out} holds {names} but neither a {md.VECTORS_META} nor a {PROGRESS_FILE} of "
            "splade-lite: these files were not written by `splade-lite encode`, so they cannot "
            "be resumed or replaced; nothing was touched; choose another folder"
        )
    if not existing or overwrite:
        return
    unfinished = is_unfinished(out)
    if resume and unfinished:
        return
    if resume:  # not unfinished, so finished: the folder has its vectors.json (see above)
        raise FileExistsError(
            f"{out} holds a finished encode ({md.VECTORS_META}): nothing to resume; pass "
            "--overwrite to encode again"
        )
    names = ", ".join(p.name for p in existing[:3]) + (", ..." if len(existing) > 3 else "")
    hint = " or --resume to continue the interrupted run" if unfinished else ""
    raise FileExistsError(
        f"{out} already holds encoded vectors ({names}); pass --overwrite to replace them{hint}"
    )


def start_output(
    out: Path,
    settings: dict,
    *,
    resume: bool,
    overwrite: bool,
    log: Callable[[str], None] | None = None,
) -> Progress:
    """Make `out` ready for a run; return its progress (the trusted shards when resuming)."""
    check_output_folder(out, resume=resume, overwrite=overwrite)
    out.mkdir(parents=True, exist_ok=True)
    previous = Progress.load(out) if resume else None
    if previous is not None:
        differences = [
            f"{key} {previous.settings.get(key)!r} (now {value!r})"
            for key, value in settings.items()
            if previous.settings.get(key) != value
        ]
        if differences:
            raise BadValueError(
                f"{out}: cannot resume, the interrupted run used {'; '.join(differences)}; "
                "run with the same options, or pass --overwrite to encode again"
            )
        progress = Progress(settings, _trusted_shards(out, previous.shards, log))
    else:
        progress = Progress(settings, [])
    # saved first: from here on the folder is an unfinished run of ours, whatever is removed
    progress.save(out)
    _remove(out, keep={PROGRESS_FILE, *(s.name for s in progress.shards)})
    return progress


def _trusted_shards(
    out: Path, listed: list[ShardRecord], log: Callable[[str], None] | None
) -> list[ShardRecord]:
    """The listed shards, in order, up to the first one missing, misnamed or changed."""
    kept: list[ShardRecord] = []
    for number, shard in enumerate(listed):
        path = out / shard.name
        intact = path.is_file() and file_sha256(path) == shard.sha256
        if shard.name != shard_name(number) or not intact:
            if log:
                log(f"{shard.name} is missing or changed: encoding again from there")
            break
        kept.append(shard)
    return kept


def _remove(out: Path, keep: set[str]) -> None:
    """Delete encode's files except `keep`; vectors.json first, so that no state between
    looks finished."""
    doomed = [p for p in encoded_files(out) if p.name not in keep]
    doomed.sort(key=lambda p: p.name != md.VECTORS_META)
    for path in doomed:
        if path.is_dir() and not path.is_symlink():  # tokenizer/ (or its temporary copy)
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def finish_output(out: Path) -> None:
    """The run is complete: drop the progress file (the last thing an encode does)."""
    (out / PROGRESS_FILE).unlink(missing_ok=True)


def discard_output(out: Path, created: bool) -> None:
    """A run that completed no shard: leave the folder as it was before it."""
    finish_output(out)
    if created:
        with contextlib.suppress(OSError):
            out.rmdir()  # only when empty
