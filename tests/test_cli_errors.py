"""Errors through the command line: a user's as one line, anything else as a bug."""

from __future__ import annotations

import errno

import click
import pytest
from click.testing import CliRunner

from splade_lite.cli_errors import BUG_EXIT, friendly
from splade_lite.errors import (
    BadValueError,
    MissingFileError,
    SpladeLiteError,
    StateError,
    UnknownIdError,
)


def _command(exc: BaseException) -> click.Command:
    @click.command()
    @friendly
    def fails() -> None:
        raise exc

    return fails


@pytest.mark.parametrize(
    "exc, shown",
    [
        (BadValueError("k must be at least 1, got 0"), "k must be at least 1, got 0"),
        (MissingFileError("index folder x does not exist"), "index folder x does not exist"),
        (UnknownIdError("document 'd9' is not in idx"), "document 'd9' is not in idx"),
        (StateError("idx was replaced"), "idx was replaced"),
        (OSError(errno.ENOSPC, "No space left on device", "/out/x"), "No space left on device"),
    ],
)
def test_a_user_error_is_one_line(exc, shown, monkeypatch):
    monkeypatch.delenv("SPLADE_LITE_DEBUG", raising=False)
    result = CliRunner().invoke(_command(exc))
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {shown}" or (
        isinstance(exc, OSError) and "/out/x" in result.output
    )
    assert "Traceback" not in result.output and "bug" not in result.output


@pytest.mark.parametrize("exc", [TypeError("unsupported operand"), ValueError("from a library")])
def test_anything_else_is_reported_as_a_bug(exc, monkeypatch):
    """A bare ValueError is no longer taken for the user's: only splade-lite's errors are."""
    monkeypatch.delenv("SPLADE_LITE_DEBUG", raising=False)
    result = CliRunner().invoke(_command(exc))
    assert result.exit_code == BUG_EXIT
    assert "This is a bug" in result.output and str(exc) in result.output
    assert type(exc).__name__ in result.output and "SPLADE_LITE_DEBUG=1" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("exc", [BadValueError("bad"), KeyError("nope")])
def test_debug_shows_the_traceback_of_either(exc, monkeypatch):
    monkeypatch.setenv("SPLADE_LITE_DEBUG", "1")
    result = CliRunner().invoke(_command(exc))
    assert result.exception is exc  # raised through, for click's runner to show


def test_every_error_class_is_both_ours_and_the_builtin_kind():
    assert issubclass(BadValueError, ValueError) and issubclass(StateError, RuntimeError)
    assert issubclass(MissingFileError, FileNotFoundError) and issubclass(UnknownIdError, KeyError)
    for cls in (BadValueError, MissingFileError, UnknownIdError, StateError):
        assert issubclass(cls, SpladeLiteError)
    assert str(UnknownIdError("document 'x' is not in y")) == "document 'x' is not in y"
