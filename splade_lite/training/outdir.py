"""The output folder of a training run: one writer at a time, and only our own files touched.

``OUT`` holds, at most, a model saved by :mod:`.save`, the run folder ``OUT/training`` and
their temporary files. A fresh run refuses a folder that holds anything else (a user's files
are never mixed with a model, nor deleted by ``--overwrite``), and ``--overwrite`` removes our
files one by one, never a whole tree. Every run holds an exclusive lock on ``OUT`` from before
its first check to its end (:func:`hold_output`), so a second run into it fails at once.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from splade_lite.errors import BadValueError, SpladeLiteError
from splade_lite.resume import lock_folder
from splade_lite.training.save import (
    MODEL_META,
    STAGING_DIR,
    STAGING_MARK,
    model_files,
    remove_staging,
)

RUN_DIR = "training"
RUN_FILE = "run.json"
EXAMPLES_FILE = "examples.jsonl"
DATA_FILE = "data.json"
IDF_FILE = "idf.json"
LOSSES_FILE = "losses.json"
CHECKPOINT_FILE = "checkpoint.safetensors"
LEGACY_CHECKPOINT = "checkpoint.pt"  # a pickle (torch.save), written by earlier versions
GENERATED_FILE = "generated.jsonl"  # adapt --generator: each sampled document's outcome
RUN_NAMES = frozenset(
    {RUN_FILE, EXAMPLES_FILE, DATA_FILE, IDF_FILE, LOSSES_FILE, CHECKPOINT_FILE, LEGACY_CHECKPOINT,
     GENERATED_FILE}
)  # fmt: skip
#: Temporary files of atomic writes (``.NAME.HEX.tmp``; earlier checkpoints used the pid).
_TMP = re.compile(r"\.(.+)\.[0-9a-f]+\.tmp")
#: Files a file manager leaves in any folder: neither ours nor worth refusing a folder for.
_HARMLESS = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})

_held = threading.local()


class RunFileError(SpladeLiteError, ValueError):
    """A file of the run folder that is unreadable or not what splade-lite wrote."""


@contextlib.contextmanager
def hold_output(out_dir: str | Path) -> Iterator[Path]:
    """Hold the lock on `out_dir` (created if missing) for the block; a second process (or
    thread) gets FileExistsError at once. Re-entrant within a thread, so that a recipe and the
    training loop it calls can both ask for it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    key = os.path.realpath(out)
    held: set[str] = getattr(_held, "paths", set())
    _held.paths = held
    if key in held:
        yield out
        return
    with lock_folder(out):
        held.add(key)
        try:
            yield out
        finally:
            held.discard(key)


def _is_file(path: Path) -> bool:
    return path.is_symlink() or path.is_file()


def _our_run_entry(run: Path, entry: Path) -> bool:
    tmp = _TMP.fullmatch(entry.name)
    return (tmp.group(1) if tmp else entry.name) in RUN_NAMES and _is_file(entry)


def _is_our_run(run: Path) -> bool:
    """Whether `run` is a run folder of splade-lite: only our names in it, and a run.json of
    ours (or nothing at all: a run stopped between creating the folder and writing it)."""
    if run.is_symlink() or not run.is_dir():
        return False
    entries = list(run.iterdir())
    if not all(_our_run_entry(run, e) for e in entries):
        return False
    if not entries:
        return True
    try:
        read_run_options(run / RUN_FILE)
    except (RunFileError, OSError):
        return False
    return True


def foreign_entries(out: Path) -> list[str]:
    """Names in `out` that are not splade-lite's (a model, the run folder, staging, temp files)."""
    if not out.is_dir():
        return []
    ours = model_files(out)
    found = []
    for entry in sorted(out.iterdir()):
        name = entry.name
        tmp = _TMP.fullmatch(name)
        if name in _HARMLESS:
            continue
        if name == RUN_DIR and _is_our_run(entry):
            continue
        if name == STAGING_DIR and not entry.is_symlink() and (entry / STAGING_MARK).is_file():
            continue
        if _is_file(entry) and ((tmp and tmp.group(1) in ours) or name in ours):
            continue
        found.append(name + ("/" if entry.is_dir() else ""))
    return found


def refuse_foreign(out: Path) -> None:
    """Refuse an `out` holding files that splade-lite did not write (before any change)."""
    foreign = foreign_entries(out)
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise FileExistsError(
            f"{out} holds files that splade-lite did not write ({shown}); nothing was changed: "
            "give a new or empty folder as --out"
        )


def clear_output(out: Path) -> None:
    """Remove our model, run folder and temporary files from `out` (after
    :func:`refuse_foreign`): config.json first, so that no state between looks like a model,
    and the metadata last, so that what is left is still recognised as ours."""
    ours = model_files(out)
    names = [n for n in sorted(ours) if n not in ("config.json", MODEL_META)]
    for name in ["config.json", *names, MODEL_META]:
        path = out / name
        if name in ours and _is_file(path):
            path.unlink()
    for entry in out.iterdir():
        tmp = _TMP.fullmatch(entry.name)
        if tmp and _is_file(entry) and tmp.group(1) in ours:
            entry.unlink()
    staging = out / STAGING_DIR
    if staging.is_dir() and not staging.is_symlink():
        remove_staging(staging)
    run = out / RUN_DIR
    if _is_our_run(run):
        for entry in run.iterdir():
            entry.unlink()
        run.rmdir()


# -- reading the run's own files ------------------------------------------------------------
def _no_constant(name: str) -> Any:
    raise BadValueError(f"{name} is not a number JSON allows")


def read_object(path: Path) -> dict:
    """A JSON object from a run file, with one line naming the file when it is not one."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"), parse_constant=_no_constant)
    except FileNotFoundError:
        raise RunFileError(f"{path}: missing; pass --overwrite to start the run again") from None
    except json.JSONDecodeError as err:
        raise RunFileError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise RunFileError(f"{path}: not a JSON file of splade-lite ({err})") from None
    if not isinstance(data, dict):
        raise RunFileError(f"{path}: expected a JSON object")
    return data


def read_run_options(path: Path) -> dict:
    """The options saved in a run's run.json."""
    options = read_object(path).get("options")
    if not isinstance(options, dict) or not isinstance(options.get("command"), str):
        raise RunFileError(f"{path}: not the run.json of a splade-lite training run")
    return options


def _short(value: object, limit: int = 60) -> str:
    """A value as it may appear in a one-line message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_idf_table(path: Path) -> dict[str, float]:
    """A run's IDF table (token -> finite number), every entry kept as it was saved."""
    table = read_object(path)
    for token, weight in table.items():
        if not _number(weight):
            raise RunFileError(f"{path}: the weight of {_short(token)} is not a finite number")
    return {token: float(weight) for token, weight in table.items()}


def read_data_facts(path: Path) -> dict:
    """A run's data.json: the facts a resumed run reuses (teacher_scale, num_docs)."""
    facts = read_object(path)
    scale = facts.get("teacher_scale")
    if not _number(scale) or scale <= 0:
        raise RunFileError(f"{path}: teacher_scale must be a positive number, got {_short(scale)}")
    num_docs = facts.get("num_docs")
    if num_docs is not None and (type(num_docs) is not int or num_docs < 0):
        raise RunFileError(f"{path}: num_docs must be a count, got {_short(num_docs)}")
    return facts
