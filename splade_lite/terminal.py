"""Text read from files, made safe to print on a terminal.

Anything that came from a corpus, an index or a model folder may hold escape sequences (an
OSC sequence can retitle the window, others move the cursor or rewrite earlier lines) or
Unicode bidi controls that make a line read differently from its bytes. Every value the CLI
prints from a file goes through :func:`printable`, which shows such characters as visible
``\\x1b``-style escapes instead of passing them on.
"""

from __future__ import annotations

import re

# C0 controls (but tab), DEL, C1 controls, and the Unicode format characters that reorder or
# hide text: bidi embeddings, overrides and isolates, marks, zero-width joiners and spaces.
_UNSAFE = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)
_UNSAFE_WITH_TAB = re.compile(_UNSAFE.pattern.replace("\x0a-", "\x09-", 1))


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object, *, keep_tabs: bool = True) -> str:
    """`value` as text with every control or reordering character shown as an escape.

    Newlines are escaped too: one value never spans lines. `keep_tabs=False` escapes tabs
    as well (for fields of tab-separated output).
    """
    text = value if isinstance(value, str) else str(value)
    pattern = _UNSAFE if keep_tabs else _UNSAFE_WITH_TAB
    return pattern.sub(_escape, text)


# an SGR sequence (colour, bold, dim...), as click.style writes them
_SGR = "\x1b\\[[0-9;]*m"
_UNSAFE_BUT_LINES = _UNSAFE.pattern.replace("\x0a-", "\x0b-", 1)
_OUTPUT_UNSAFE = re.compile(f"({_SGR})|{_UNSAFE_BUT_LINES}")
_JSON_UNSAFE = re.compile(_UNSAFE_BUT_LINES)


def safe_output(text: str) -> str:
    """`text` with what :func:`printable` escapes escaped, but newlines and styles kept.

    For whole blocks of output a command composed itself: its line breaks and click's
    colour and weight styles pass; anything else that could drive the terminal is shown
    escaped. Values from files should have gone through :func:`printable` already; this is
    the last guard before the terminal.
    """
    return _OUTPUT_UNSAFE.sub(lambda m: m.group(1) or _escape(m), text)


def json_safe(text: str) -> str:
    """JSON text with the reordering and C1 characters written as ``\\uXXXX`` escapes.

    ``json.dumps(..., ensure_ascii=False)`` already escapes C0 controls; an escape in a JSON
    string means the same character, so the data are unchanged.
    """
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
