"""The ASCII word-cache tokenizer gives exactly the ids of the tokenizer it stands in for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splade_lite.encoders.fast_wordpiece import FastWordPiece

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="module")
def backend(splade_tiny):
    from tokenizers import Tokenizer

    rust = Tokenizer.from_str(splade_tiny.tokenizer.backend_tokenizer.to_str())
    rust.no_truncation()
    rust.no_padding()
    return rust


@pytest.fixture(scope="module")
def fast(backend):
    found = FastWordPiece.for_tokenizer(backend)
    assert found is not None  # BERT's uncased WordPiece: the shortcut applies
    return found


def reference(backend, text: str) -> list[int]:
    return backend.encode(text, add_special_tokens=False).ids


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=80))
def test_any_ascii_text(fast, backend, text):
    assert fast.ids(text) == reference(backend, text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "Vitamin",
                "D3",
                "co-op",
                "x" * 101,
                "État",
                "a.b",
                "\x00",
                "  ",
                "\t",
                "naïve",
                "IL-6's",
            ]
        ),
        max_size=12,
    )
)
def test_words_glued_and_spaced(fast, backend, words):
    for text in ("".join(words), " ".join(words)):
        expected = reference(backend, text)
        got = fast.ids(text)
        assert got is None if not text.isascii() else got == expected


def test_non_ascii_is_left_to_the_tokenizer(fast):
    assert fast.ids("café") is None
    assert fast.ids("") == []
    assert fast.ids("what [MASK] is") is None  # an added token: matched before splitting


def test_cache_is_bounded(fast, backend, monkeypatch):
    import splade_lite.encoders.fast_wordpiece as module

    monkeypatch.setattr(module, "_MAX_CACHE", 3)
    fresh = FastWordPiece.for_tokenizer(backend)
    text = "alpha beta gamma delta epsilon zeta eta theta"
    assert fresh.ids(text) == reference(backend, text)
    assert len(fresh._cache) <= 3


def test_other_tokenizers_get_no_shortcut():
    from tokenizers import Tokenizer, models, pre_tokenizers

    word_level = Tokenizer(models.WordLevel({"a": 0, "b": 1, "[UNK]": 2}, unk_token="[UNK]"))
    word_level.pre_tokenizer = pre_tokenizers.Whitespace()
    assert FastWordPiece.for_tokenizer(word_level) is None


@pytest.mark.data
def test_every_shared_query(fast, backend):
    for path in sorted(DATA.glob("*/queries.jsonl")):
        for line in path.open(encoding="utf-8"):
            text = json.loads(line)["text"]
            got = fast.ids(text)
            assert got is None or got == reference(backend, text), text
