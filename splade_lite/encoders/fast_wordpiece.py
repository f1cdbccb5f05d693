"""Token ids of ASCII text for BERT-style WordPiece tokenizers, a word cache away.

An inference-free query is only tokenized, so the tokenizer is a large share of its cost:
the Rust tokenizer takes 30-80 µs for a SciFact query, most of it per-call overhead
(normalising, offsets, an ``Encoding`` object). For a WordPiece tokenizer with BERT's
pre-tokenizer, the ids of a text are the ids of its words, one after the other, and a word's
ids never depend on its neighbours. So an ASCII text is split here the way BERT splits it
(drop control characters, split on white space, every punctuation mark its own word), and
each word's ids come from a cache filled by the real tokenizer.

How each of the 128 ASCII characters is treated (dropped, white space, punctuation, part of
a word; lower-cased or not) is not assumed but asked of the tokenizer itself when this is
set up, and the result is checked against the tokenizer on probe texts. Anything else
(non-ASCII text, text holding an added token such as ``[CLS]``, another kind of tokenizer,
a failed check) goes through the tokenizer.
"""

from __future__ import annotations

import json
from typing import NamedTuple

# Characters whose class is probed; text with any other character takes the slow path.
_ASCII = [chr(c) for c in range(128)]

PROBES = [
    "What is the effect of vitamin-D (25-OH) on bone density, in adults > 65?",
    "RNA-seq vs. microarrays: 3'UTR; p<0.05 & n=1,000 [sic] {a|b} ~x^2 `q` \"quoted\" it's",
    "ALL CAPS and MiXeD cAsE with_underscores and dots...and/slashes\\back",
    "tabs\tand\nnewlines\rand\x0bvertical\x0cfeeds\x00nul\x01soh\x7fdel  spaces",
    "supercalifragilisticexpialidocious antidisestablishmentarianism " + "x" * 120,
    "#hashtag @mention $100 50% 2+2=4 a*b!",
    "special [CLS] tokens [SEP] in [MASK] text [PAD] [UNK] [cls]",
]

_MAX_CACHE = 200_000


class WordPieceSettings(NamedTuple):
    """How the WordPiece model splits a word (from ``tokenizer.json``)."""

    unk_token: str
    prefix: str  # of every piece but a word's first, "##"
    max_chars: int  # a longer word is the unknown token


class FastWordPiece:
    """``ids(text)``: the token ids the tokenizer gives `text` (no special tokens).

    Build with :meth:`for_tokenizer`, which returns None where the shortcut does not apply.
    """

    def __init__(
        self,
        backend,
        drop: str,
        space: str,
        punct: str,
        lower: bool,
        added: tuple[str, ...] = (),
        wordpiece: WordPieceSettings | None = None,
    ) -> None:
        self._backend = backend
        self._lower = lower
        self._added = added  # special tokens such as "[CLS]" are matched in the raw text
        # what a reimplementation elsewhere (the Java query builder) needs to agree with this
        self.drop, self.space, self.punct = drop, space, punct
        self.lower, self.added = lower, added
        self.wordpiece = wordpiece
        table = {ord(c): None for c in drop}
        table.update({ord(c): " " for c in space})
        table.update({ord(c): f" {c} " for c in punct})
        self._table = str.maketrans(table)
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def for_tokenizer(cls, backend) -> FastWordPiece | None:
        """The shortcut for a ``tokenizers.Tokenizer`` (no truncation, no padding), or None."""
        try:
            spec = json.loads(backend.to_str())
        except (AttributeError, ValueError):
            return None
        pre = spec.get("pre_tokenizer") or {}
        if pre.get("type") != "BertPreTokenizer" or spec.get("model", {}).get("type") != (
            "WordPiece"
        ):
            return None

        def ids(text: str) -> list[int]:
            return backend.encode(text, add_special_tokens=False).ids

        drop, space, punct = [], [], []
        ab, a_b = ids("ab"), ids("a b")
        for c in _ASCII:
            got = ids(f"a{c}b")
            if got == ab:
                drop.append(c)
            elif got == a_b:
                space.append(c)
            elif len(ids(c)) == 1 and got == ids("a") + ids(c) + ids("b"):
                punct.append(c)
        lower = all(ids(c) == ids(c.lower()) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        added = tuple(t["content"] for t in spec.get("added_tokens") or [] if t.get("content"))
        model = spec["model"]
        settings = WordPieceSettings(
            str(model.get("unk_token", "[UNK]")),
            str(model.get("continuing_subword_prefix", "##")),
            int(model.get("max_input_chars_per_word", 100)),
        )
        fast = cls(backend, "".join(drop), "".join(space), "".join(punct), lower, added, settings)
        for probe in PROBES + [p.lower() for p in PROBES]:
            got = fast.ids(probe)
            if got is not None and got != ids(probe):
                return None
        return fast

    def ids(self, text: str) -> list[int] | None:
        """Token ids of `text`, or None when it is not ASCII (ask the tokenizer then)."""
        if not text.isascii():
            return None
        lowered = text.lower()
        if self._added and any(t in text or t in lowered for t in self._added):
            return None  # the tokenizer matches added tokens before it splits words
        if self._lower:
            text = lowered
        out: list[int] = []
        cache = self._cache
        for word in text.translate(self._table).split():
            found = cache.get(word)
            if found is None:
                if len(cache) >= _MAX_CACHE:
                    cache.clear()
                found = cache[word] = self._backend.encode(word, add_special_tokens=False).ids
            out.extend(found)
        return out
