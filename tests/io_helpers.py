"""Writing the small text files the io and trec tests read, and the strategies they share."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from splade_lite.io import InputError


def write_lines(path: Path, lines: list[str], *, gz: bool = False) -> Path:
    """Write lines (each followed by a newline) as UTF-8, gzipped when asked."""
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def jsonl(path: Path, records: list[object], *, gz: bool = False) -> Path:
    """Write each record as one JSON line."""
    return write_lines(path, [json.dumps(r) for r in records], gz=gz)


def error_of(call) -> InputError:
    """Run ``call`` (which must fail) and return its InputError."""
    with pytest.raises(InputError) as info:
        call()
    return info.value


# Ids: anything printable without whitespace (ids of real corpora, and far stranger ones).
ids = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="\ufeff"
    ),
    min_size=1,
    max_size=20,
).filter(lambda s: not any(c.isspace() for c in s))


def cleaned(text: str) -> str:
    """What read_corpus promises to make of a text: controls except tab/newline -> space."""
    return "".join(
        " " if (ord(c) < 32 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F else c for c in text
    )


tsv_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\t\n\r")
)
roundtrip_settings = settings(
    deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow]
)
