"""The errors splade-lite raises for what its user can see and fix.

Every one derives from :class:`SpladeLiteError`: the command line shows such an error as one
line, while any other exception is reported as a bug in splade-lite (with
``SPLADE_LITE_DEBUG=1`` to see its traceback). Each also derives from the built-in class
that says what kind of problem it is (``ValueError``, ``FileNotFoundError``, ``KeyError``,
``RuntimeError``), so Python callers may catch either.
"""

from __future__ import annotations


class SpladeLiteError(Exception):
    """Base of the errors a user can cause and fix: the message says what and where."""


class BadValueError(SpladeLiteError, ValueError):
    """A value splade-lite refuses: an argument, an option, a setting read from a file."""


class MissingFileError(SpladeLiteError, FileNotFoundError):
    """A file or folder that should be there is not (or is not what it should be)."""


class UnknownIdError(SpladeLiteError, KeyError):
    """A document, query or term id that an index or file does not have."""

    def __str__(self) -> str:
        # KeyError's own str() is the repr of its argument; the message reads better
        return str(self.args[0]) if self.args else "unknown id"


class StateError(SpladeLiteError, RuntimeError):
    """Something that cannot go on as asked (a folder changed, a run already there, a
    process that failed)."""
