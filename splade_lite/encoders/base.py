"""The encoder interface, and the mapping from token ids to index terms shared by all encoders."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from splade_lite.vectors import SparseVector

_WHITESPACE = re.compile(r"\s")

#: Texts in one forward pass: a corpus is read a chunk of 16 batches at a time, so a huge
#: batch would hold the corpus in memory; beyond this size batching gains nothing on a CPU.
MAX_BATCH_SIZE = 4096

#: Held around every call of a tokenizer. A Hugging Face fast tokenizer keeps its truncation
#: and padding settings as state that each call rewrites, so two threads calling one at once
#: fail with "RuntimeError: Already borrowed"; tokenizing is quick, one lock for all is enough.
TOKENIZER_LOCK = threading.RLock()


@runtime_checkable
class Encoder(Protocol):
    """What every splade-lite encoder offers."""

    #: index term of each token id (what is written to, and looked up in, the Lucene index)
    terms: Sequence[str]

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVector]:
        """One sparse vector per document text, in order."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> list[SparseVector]:
        """One sparse vector per query text, in order."""
        ...


def vocab_terms(tokenizer) -> list[str]:
    """Index term of every token id: the token itself, verbatim.

    Lucene's pretokenized analyzer splits on whitespace, so a token that is empty or contains
    whitespace (some sentencepiece vocabularies have them) would become zero or several terms;
    such a token is written as ``[id:N]`` instead, on documents and queries alike.
    """
    size = len(tokenizer)
    tokens = tokenizer.convert_ids_to_tokens(list(range(size)))
    return [
        tok if tok and not _WHITESPACE.search(tok) else f"[id:{i}]" for i, tok in enumerate(tokens)
    ]
