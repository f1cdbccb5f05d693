"""What every splade-lite command shares: user errors as one line, log lines on stderr."""

from __future__ import annotations

import functools
import os

import click

from splade_lite.terminal import safe_output

# Errors a user can cause and fix; shown as one line instead of a traceback.
# SPLADE_LITE_DEBUG=1 shows the traceback anyway.
USER_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    RuntimeError,
    KeyError,  # lookups of a document or term the index does not have
)


def friendly(func):
    """Run a command, turning the errors in :data:`USER_ERRORS` into one-line messages."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit):
            raise
        except USER_ERRORS as err:
            if os.environ.get("SPLADE_LITE_DEBUG"):
                raise
            # a KeyError's str() is the repr of its argument: show the message itself
            message = str(err.args[0] if isinstance(err, KeyError) and err.args else err)
            message = message or type(err).__name__
            raise click.ClickException(safe_output(message)) from None

    return wrapper


def echo(message: str = "", *, err: bool = False) -> None:
    """Print a block of output; anything in it that could drive the terminal is escaped."""
    click.echo(safe_output(message), err=err)


def log(message: str) -> None:
    """A progress or summary line on stderr (escaped like :func:`echo`)."""
    echo(message, err=True)
