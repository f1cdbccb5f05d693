"""Build Lucene indexes by running Anserini's ``IndexCollection`` in a Java subprocess.

A subprocess rather than the in-process JVM because indexing wants its own heap and
threads, its log goes to a pipe we can parse, and a crash cannot take Python down with it.

Anserini's collection readers open *every* file under the input folder (a ``vectors.json``
beside the shards makes it log an exception and drop that file, while the final counters
still say ``errors: 0``). So we hand it a temporary folder of links to the shard files
only, count the input lines ourselves and refuse a build whose counters do not add up.

The Java process never outlives the build: on Linux the kernel kills it when its parent dies
(``PR_SET_PDEATHSIG``); everywhere it stops itself when its stdin pipe from us closes
(``IndexWithParent.java``, which runs Anserini's ``IndexCollection``); an exception in Python
(Ctrl-C included) kills it; and a SIGTERM to a build in the main thread is raised as
``SystemExit(143)`` so that callers' clean-up (the staging folder) runs.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from splade_lite.errors import BadValueError, StateError
from splade_lite.indexer.jvm import (
    anserini_jar,
    java_executable,
    java_heap,
    quiet_jvm_options,
    search_jar,
)
from splade_lite.indexer.limits import MAX_DOCS, json_line_problem
from splade_lite.vectors_folder import SHARD_GLOBS, open_as_anserini

#: Shard names of a vectors folder (Anserini JsonVectorCollection files).
VECTOR_SHARD_PATTERNS = SHARD_GLOBS
#: Files of a corpus folder for the BM25 index (Anserini JsonCollection files).
CORPUS_PATTERNS = ("*.jsonl", "*.jsonl.gz")

# Lucene's in-memory buffer before a segment is flushed, at most. Anserini's default (4 GB)
# is more than Java's default heap on a small laptop, which would end in an OutOfMemoryError.
_MEMORY_BUFFER_MB = 512
_MIN_BUFFER_MB = 32


def memory_buffer_mb(heap: str | None, ram_bytes: int | None = None) -> int:
    """Lucene's indexing buffer for a JVM with `heap` (``-Xmx`` value, None: Java's default,
    a quarter of the machine's memory): a quarter of that heap, from 32 to 512 MB, so that
    what indexing holds is bounded whatever the corpus size, and fits the heap it runs in."""
    if heap:
        units = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
        suffix = heap[-1].lower()
        heap_bytes = int(heap[:-1]) * units[suffix] if suffix in units else int(heap)
    else:
        if ram_bytes is None:
            try:
                ram_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
            except (ValueError, OSError, AttributeError):  # not a POSIX system
                return _MEMORY_BUFFER_MB
        heap_bytes = ram_bytes // 4
    return max(_MIN_BUFFER_MB, min(_MEMORY_BUFFER_MB, heap_bytes // 4 // 2**20))


_LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d [\d:,]+ (?P<level>[A-Z]+)\s+\[[^\]]*\] \S+ \([^)]*\) - (?P<msg>.*)$"
)
_COUNTER = re.compile(r"^(indexed|unindexable|empty|skipped|errors):\s+([\d,]+)\s*$")
_TAIL_LINES = 40
# Anserini's IndexCollection, run by our class that ends it when its parent is gone.
_MAIN_CLASS = "splade_lite.IndexWithParent"
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


@dataclass(frozen=True)
class IndexStats:
    """Anserini's final counters for one build, and its wall-clock time.

    ``empty`` documents had no term with a positive weight and are not in the index;
    ``skipped``/``unindexable`` documents were refused by Anserini (also not in the index).
    """

    indexed: int
    empty: int
    skipped: int
    errors: int
    seconds: float
    unindexable: int = 0


class IndexBuildError(StateError):
    """Anserini failed, or reported fewer documents than the input holds."""


def build_impact_index(
    vectors_dir: Path,
    index_dir: Path,
    threads: int = 1,
    optimize: bool = True,
    log: Callable[[str], None] | None = None,
    anserini: bool = False,
) -> IndexStats:
    """Index the ``part-*.jsonl`` shards of a vectors folder as a Lucene impact index.

    Each term goes to Lucene once, its weight as the term frequency (``ImpactIndexer.java``);
    ``anserini=True`` builds through Anserini's own JsonVectorCollection indexing instead,
    which writes each token weight times and splits the text again: the same index,
    documents and postings (tested), at a cost that grows with the sum of the weights.

    Each ``{"id", "contents": "", "vector": {token: int}}`` line becomes a document whose
    term frequencies are the integer weights (``-impact -pretokenized``), so tokens such as
    ``##ing`` or ``[unused0]`` are kept verbatim. Other files in ``vectors_dir`` are
    ignored. The index files go directly into ``index_dir`` (created if needed); files of
    ours already there and sub-folders are left alone. ``optimize`` merges to one segment.
    """
    shards = _find_files(Path(vectors_dir), VECTOR_SHARD_PATTERNS)
    if not shards:
        raise IndexBuildError(
            f"no vector shards ({' or '.join(VECTOR_SHARD_PATTERNS)}) in {vectors_dir}"
        )
    if anserini:
        args = ["-collection", "JsonVectorCollection", "-impact", "-pretokenized"]
        args += ["-optimize"] if optimize else []
    else:
        args = ["--impacts", "true" if optimize else "false"]
    return _index_collection(shards, Path(index_dir), args, threads, log)


def build_bm25_index(
    corpus_jsonl_dir: Path,
    index_dir: Path,
    threads: int = 1,
    store_docvectors: bool = False,
    log: Callable[[str], None] | None = None,
) -> IndexStats:
    """Index ``{"id", "contents"}`` JSONL files as a BM25 index with Anserini's defaults.

    The analyzer is Anserini's default English one (Porter stemmer, Lucene's English
    stopwords), as in Pyserini's BEIR "flat" baselines; put title and text together in
    ``contents``. ``corpus_jsonl_dir`` is a folder of ``*.jsonl``/``*.jsonl.gz`` files or a
    single such file. ``store_docvectors`` is only needed for RM3/Rocchio feedback.
    """
    source = Path(corpus_jsonl_dir)
    files = [source] if source.is_file() else _find_files(source, CORPUS_PATTERNS)
    if not files:
        raise IndexBuildError(f"no corpus files ({' or '.join(CORPUS_PATTERNS)}) in {source}")
    args = ["-collection", "JsonCollection", "-optimize"]
    if store_docvectors:
        args.append("-storeDocvectors")
    return _index_collection(files, Path(index_dir), args, threads, log)


def build_dense_index(
    files: Sequence[Path],
    index_dir: Path,
    threads: int = 1,
    log: Callable[[str], None] | None = None,
) -> IndexStats:
    """Index Anserini JsonDenseVectorCollection files (``{"docid", "vector": [floats]}``
    lines, see :func:`splade_lite.indexer.dense.write_dense_collection`) as Lucene flat
    vectors (Anserini's IndexFlatDenseVectors), which :class:`~splade_lite.indexer.dense.
    DenseIndex` searches exactly, by dot product."""
    if not files:
        raise IndexBuildError(f"no dense vector files to index into {index_dir}")
    return _index_collection(list(files), Path(index_dir), ["--dense"], threads, log)


def _find_files(folder: Path, patterns: Iterable[str]) -> list[Path]:
    if not folder.is_dir():
        raise IndexBuildError(f"{folder} is not a folder")
    found = {p for pattern in patterns for p in folder.glob(pattern) if p.is_file()}
    return sorted(found)


def _count_checked(path: Path) -> int:
    """Non-blank lines of a JSONL file (the documents Anserini should see), refusing a line
    Anserini's reader could not take (as ``file:line: reason``) before Java runs."""
    count = 0
    with open_as_anserini(path) as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            count += 1
            problem = json_line_problem(line)
            if problem:
                raise IndexBuildError(f"{path}:{lineno}: {problem}; nothing was indexed")
    return count


def _link_inputs(files: Sequence[Path], folder: Path) -> None:
    """Put the input files (only them) into ``folder``, as symlinks where the OS allows."""
    for i, src in enumerate(files):
        # numbered names keep two inputs with the same file name apart
        dst = folder / f"{i:05d}-{src.name}"
        try:
            dst.symlink_to(src.resolve())
        except OSError:
            shutil.copyfile(src, dst)


def build_impact_shards(
    groups: Sequence[Sequence[Path]],
    targets: Sequence[Path],
    parallel: int = 1,
    log: Callable[[str], None] | None = None,
) -> list[IndexStats]:
    """One Lucene impact index per group of vector shard files (``groups[i]`` into
    ``targets[i]``, as :func:`build_impact_index` builds one), `parallel` Java processes at a
    time, each on one thread. If one fails, or Python is interrupted, the others are killed."""
    if len(groups) != len(targets):
        raise BadValueError(f"{len(groups)} groups of shards for {len(targets)} index folders")
    args = ["--impacts", "true"]
    if parallel <= 1 or len(groups) == 1:
        return [_index_collection(g, t, args, 1, log) for g, t in zip(groups, targets)]
    running: set[subprocess.Popen] = set()
    with _sigterm_as_exit(), ThreadPoolExecutor(min(parallel, len(groups))) as pool:
        futures = [
            pool.submit(_index_collection, g, t, args, 1, log, running)
            for g, t in zip(groups, targets)
        ]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            for proc in list(running):  # the builds still going end now, not at their end
                _stop(proc)
            raise


def _index_collection(
    files: Sequence[Path],
    index_dir: Path,
    collection_args: Sequence[str],
    threads: int,
    log: Callable[[str], None] | None,
    running: set[subprocess.Popen] | None = None,
) -> IndexStats:
    if threads < 1:
        raise BadValueError(f"threads must be >= 1, got {threads}")
    threads = min(threads, 512)  # Java's thread pool wants an int; more gains nothing
    expected = sum(_count_checked(f) for f in files)
    if expected > MAX_DOCS:
        raise IndexBuildError(
            f"{expected} documents: a Lucene index holds at most {MAX_DOCS}; split the input"
        )
    index_dir.mkdir(parents=True, exist_ok=True)
    java = java_executable()
    command = [str(java), *quiet_jvm_options(java.parent.parent)]
    heap = java_heap()
    if heap:
        command.append(f"-Xmx{heap}")
    with tempfile.TemporaryDirectory(prefix="splade-lite-input-") as tmp:
        _link_inputs(files, Path(tmp))
        command += ["-cp", os.pathsep.join([str(anserini_jar()), str(search_jar())]), _MAIN_CLASS]
        if collection_args[0] == "--dense":  # IndexFlatDenseVectors: its own generator
            command += ["--dense", "-collection", "JsonDenseVectorCollection", "-input", tmp]
            command += ["-index", str(index_dir), "-generator", "DenseVectorDocumentGenerator"]
            command += ["-threads", str(threads), "-memoryBuffer", str(memory_buffer_mb(heap))]
        elif collection_args[0] == "--impacts":  # ImpactIndexer: INDEX THREADS MB OPTIMIZE FILES
            inputs = sorted(str(p) for p in Path(tmp).iterdir())
            command += ["--impacts", str(index_dir), str(threads), str(memory_buffer_mb(heap))]
            command += [collection_args[1], *inputs]
        else:
            command += [
                *collection_args,
                "-input",
                tmp,
                "-index",
                str(index_dir),
                "-generator",
                "DefaultLuceneDocumentGenerator",
                "-threads",
                str(threads),
                "-memoryBuffer",
                str(memory_buffer_mb(heap)),
            ]
        started = time.perf_counter()
        returncode, counters, problems, tail = _run(command, log, running)
        seconds = time.perf_counter() - started

    def fail(reason: str) -> IndexBuildError:
        return IndexBuildError(
            f"Anserini indexing into {index_dir} failed: {reason}\n"
            f"command: {' '.join(command)}\n--- last lines of Java's output ---\n" + "\n".join(tail)
        )

    if returncode != 0:
        raise fail(f"java exited with status {returncode}")
    if "indexed" not in counters:
        raise fail("no final counters in Java's output")
    stats = IndexStats(
        indexed=counters["indexed"],
        empty=counters.get("empty", 0),
        skipped=counters.get("skipped", 0),
        errors=counters.get("errors", 0),
        seconds=seconds,
        unindexable=counters.get("unindexable", 0),
    )
    if stats.errors or problems:
        first = problems[0] if problems else ""
        raise fail(f"{stats.errors} document errors, {len(problems)} logged errors. {first}")
    seen = stats.indexed + stats.empty + stats.skipped + stats.unindexable + stats.errors
    if seen != expected:
        raise fail(f"the input has {expected} documents but Anserini accounted for {seen}")
    return stats


def _run(
    command: Sequence[str],
    log: Callable[[str], None] | None,
    running: set[subprocess.Popen] | None = None,
) -> tuple[int, dict[str, int], list[str], list[str]]:
    """Run Java, stream its log; return (exit status, counters, ERROR messages, tail).
    `running` holds the process while it runs, so that another thread can stop it."""
    counters: dict[str, int] = {}
    problems: list[str] = []
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    env = dict(os.environ)
    env.pop("JAVA_TOOL_OPTIONS", None)  # its "Picked up ..." banner would only add noise
    with (
        _sigterm_as_exit(),
        subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE,  # never written: its end-of-file tells Java we are gone
            text=True,
            encoding="utf-8",
            errors="replace",
            env=env,
            preexec_fn=_dies_with_parent(),
        ) as proc,
    ):
        assert proc.stdout is not None
        if running is not None:
            running.add(proc)
        try:
            for raw in proc.stdout:
                line = raw.rstrip("\n")
                tail.append(line)
                match = _LOG_LINE.match(line)
                if not match:
                    bare = _COUNTER.match(line)  # ImpactIndexer's own final counts
                    if bare:
                        counters[bare.group(1)] = int(bare.group(2).replace(",", ""))
                        if log is not None:
                            log(line)
                    continue  # stack trace lines: kept in the tail only
                level, msg = match.group("level"), match.group("msg")
                counter = _COUNTER.match(msg)
                if counter:
                    counters[counter.group(1)] = int(counter.group(2).replace(",", ""))
                if level in ("ERROR", "FATAL"):
                    problems.append(msg)
                if log is not None and _worth_logging(level, msg):
                    log(msg)
            returncode = proc.wait()
        except BaseException:
            _stop(proc)  # Ctrl-C, SIGTERM, a failing `log`: Java must not go on alone
            raise
        finally:
            if running is not None:
                running.discard(proc)
    return returncode, counters, problems, list(tail)


def _stop(proc: subprocess.Popen) -> None:
    """Kill the Java process and reap it (Popen's own exit would wait for it to finish)."""
    with contextlib.suppress(OSError):
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)


def _dies_with_parent() -> Callable[[], None] | None:
    """On Linux, a ``preexec_fn`` asking the kernel to SIGKILL the child when we die.

    The request is tied to the thread that starts the child; that thread waits for the
    child to end, so it outlives it. libc is looked up here, before the fork, so that the
    child only makes one system call between fork and exec.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    sigkill = int(signal.SIGKILL)

    def in_child() -> None:
        prctl(_PR_SET_PDEATHSIG, sigkill, 0, 0, 0)
        if os.getppid() != parent:  # we died before the request was made: nobody to wait for
            os._exit(1)

    return in_child


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """While Java runs, SIGTERM raises ``SystemExit(143)`` instead of ending Python at once,
    so the child is killed and the caller's ``finally``/``except`` clean-up runs.

    Only in the main thread (the only one signals reach), and only where nobody else has set
    a SIGTERM handler; the previous handler comes back afterwards.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _worth_logging(level: str, msg: str) -> bool:
    """Progress, counters, warnings and errors; not the settings dump or Lucene's Java nag."""
    if level in ("ERROR", "FATAL"):
        return True
    if "MMapDirectory" in msg or msg.startswith(" + ") or msg.startswith("="):
        return False
    return not msg.endswith("settings:") and not msg.startswith("Setting log level")
