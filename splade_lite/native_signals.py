"""Native signal handlers kept through a library that would replace them.

The JVM that searches Lucene indexes in this process handles SIGSEGV, SIGBUS, SIGFPE and
SIGILL itself: it raises some of Java's exceptions (a null pointer met reading a damaged
index, for one) from those signals. Ray's driver installs crash handlers of its own when it
connects, and resets these signals to their defaults when it shuts down, so a JVM started
before either would, at its next such exception, take the whole process down with
"Segmentation fault". :func:`kept` saves the
handlers (whatever installed them: they are C structures, copied without being read) and
puts them back afterwards.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
from collections.abc import Iterator

#: Signals the JVM handles to raise Java exceptions.
JVM_SIGNALS = tuple(
    getattr(signal, name)
    for name in ("SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL")
    if hasattr(signal, name)
)
#: Room for a C ``struct sigaction`` on any platform (152 bytes on Linux x86-64).
_SIGACTION_BYTES = 1024


@contextlib.contextmanager
def kept(signals: tuple[int, ...] = JVM_SIGNALS) -> Iterator[None]:
    """Run the block, then restore each of `signals`' native handlers as it was before it.

    Where the C library has no ``sigaction`` (not a POSIX system), the block runs as it is.
    """
    try:
        sigaction = ctypes.CDLL(None, use_errno=True).sigaction
    except (OSError, AttributeError, TypeError):
        yield
        return
    saved = []
    for number in signals:
        old = ctypes.create_string_buffer(_SIGACTION_BYTES)
        if sigaction(int(number), None, old) == 0:
            saved.append((int(number), old))
    try:
        yield
    finally:
        for number, old in saved:
            sigaction(number, old, None)
