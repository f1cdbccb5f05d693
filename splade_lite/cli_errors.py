"""What every splade-lite command shares: user errors as one line, bugs reported as bugs, log
lines on stderr."""

from __future__ import annotations

import functools
import os

import click

from splade_lite.errors import SpladeLiteError
from splade_lite.terminal import safe_output

# Errors a user can cause and fix, shown as one line: splade-lite's own, and what the system
# refused (a missing file, a full disk, no permission), whose message names the file.
USER_ERRORS: tuple[type[BaseException], ...] = (SpladeLiteError, OSError)
#: Exit status of a command stopped by a bug in splade-lite (sysexits' EX_SOFTWARE).
BUG_EXIT = 70


class BugReport(click.ClickException):
    """An exception splade-lite did not expect: said to be a bug, with how to see where."""

    exit_code = BUG_EXIT


def friendly(func):
    """Run a command: a user error becomes a one-line message, anything else a bug report.

    ``SPLADE_LITE_DEBUG=1`` shows the traceback of either instead.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except USER_ERRORS as err:
            if os.environ.get("SPLADE_LITE_DEBUG"):
                raise
            message = str(err) or type(err).__name__
            raise click.ClickException(safe_output(message)) from None
        except Exception as err:
            if os.environ.get("SPLADE_LITE_DEBUG"):
                raise
            from splade_lite import __version__

            raise BugReport(
                safe_output(
                    f"splade-lite {__version__} failed unexpectedly ({type(err).__name__}: "
                    f"{err}). This is a bug: please report it with the command; "
                    "SPLADE_LITE_DEBUG=1 shows where it happened"
                )
            ) from None

    return wrapper


def echo(message: str = "", *, err: bool = False) -> None:
    """Print a block of output; anything in it that could drive the terminal is escaped."""
    click.echo(safe_output(message), err=err)


def log(message: str) -> None:
    """A progress or summary line on stderr (escaped like :func:`echo`)."""
    echo(message, err=True)
