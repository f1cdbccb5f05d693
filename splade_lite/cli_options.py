"""Options that mean the same on every command, and what they share.

- ``--quiet``: no progress bars or progress notes on stderr (summaries, warnings and errors
  still print).
- ``--json``: the command's result as one JSON document on stdout (its one-line summary,
  normally on stderr, is not printed then).
- :func:`renamed`: an option's old spelling, kept working as a hidden, deprecated alias.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import click
from click.core import ParameterSource

from splade_lite.cli_errors import echo, log
from splade_lite.terminal import json_safe

QUIET_HELP = "No progress bars or notes on stderr (summaries, warnings and errors still print)."
JSON_HELP = "Print the result as one JSON document on stdout."

quiet_option = click.option("--quiet", is_flag=True, help=QUIET_HELP)
json_option = click.option("--json", "as_json", is_flag=True, help=JSON_HELP)


def print_json(payload: Any) -> None:
    """`payload` as one JSON document on stdout (text from files escaped, data unchanged)."""
    echo(json_safe(json.dumps(payload, ensure_ascii=False, indent=1, default=str)))


def notes(quiet: bool) -> Callable[[str], None]:
    """Where a command's notes go: stderr; with `quiet` only the ``warning:`` lines."""
    if not quiet:
        return log
    return lambda line: log(line) if line.startswith("warning:") else None


def renamed(old: str, new: str, dest: str, **option: Any):
    """Keep `old` as a hidden, deprecated spelling of option `new` (parameter `dest`).

    A value given as `old` is used as if given as `new`, with one note on stderr saying so
    (not with ``--quiet``); giving both is a usage error. `option` holds the type and
    other settings of `new` (its default is not repeated: the alias has none).
    """
    alias = f"deprecated_{dest}"
    help_text = f"Deprecated spelling of {new}."

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            value = kwargs.pop(alias)
            if value is not None:
                ctx = click.get_current_context()
                if ctx.get_parameter_source(dest) is ParameterSource.COMMANDLINE:
                    raise click.UsageError(f"{old} is the old name of {new}: give only {new}")
                kwargs[dest] = value
                if not kwargs.get("quiet"):
                    log(f"note: {old} is deprecated here and will go; use {new}")
            return command(*args, **kwargs)

        return click.option(old, alias, default=None, hidden=True, help=help_text, **option)(
            wrapper
        )

    return decorate


def feature_settings(kind: type, enabled: bool, flag: str, options: dict[str, Any]):
    """The settings of an opt-in feature from its options (``--fb-docs`` -> ``docs``), or
    False when it is off (its options then refused)."""
    chosen = {name: value for name, value in options.items() if value is not None}
    if not enabled:
        if chosen:
            verb = "applies" if len(chosen) == 1 else "apply"
            raise click.UsageError(f"{', '.join(chosen)} only {verb} with {flag}")
        return False
    fields = {name.split("-")[-1]: value for name, value in chosen.items()}
    return kind(**fields)
