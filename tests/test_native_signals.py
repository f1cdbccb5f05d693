"""native_signals.kept puts back the C-level handlers a block replaced."""

from __future__ import annotations

import ctypes
import signal

import pytest

from splade_lite import native_signals

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="POSIX signals only")


def native_handler(number: int) -> bytes:
    """The raw ``struct sigaction`` of `number` (its first field: the handler's address)."""
    buffer = ctypes.create_string_buffer(1024)
    assert ctypes.CDLL(None).sigaction(int(number), None, buffer) == 0
    return buffer.raw[:8]


def test_kept_restores_the_handler_a_block_replaced():
    number = signal.SIGUSR1
    previous = signal.signal(number, signal.SIG_IGN)
    try:
        ignored = native_handler(number)
        with native_signals.kept((number,)):
            signal.signal(number, signal.SIG_DFL)
            assert native_handler(number) != ignored  # the block did replace it
        assert native_handler(number) == ignored
    finally:
        signal.signal(number, previous)


def test_the_jvm_signals_are_the_ones_it_raises_exceptions_from():
    assert signal.SIGSEGV in native_signals.JVM_SIGNALS
    assert signal.SIGBUS in native_signals.JVM_SIGNALS
