"""Encoders: text -> `SparseVector`, one interface (`encode_documents`, `encode_queries`).

`SpladeEncoder` and `InferenceFreeEncoder` load torch; they are imported on first use so
that tokenizer-only query encoding (inference-free search) never pays for it.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from splade_lite.encoders.base import Encoder, vocab_terms
from splade_lite.encoders.inference_free import IdfQueryEncoder, idf_from_df, read_idf_file
from splade_lite.encoders.models import (
    DEFAULT_MODEL,
    ModelNotFoundError,
    ModelSource,
    resolve_model,
)
from splade_lite.errors import BadValueError
from splade_lite.metadata import MODES

if TYPE_CHECKING:
    from splade_lite.encoders.inference_free import InferenceFreeEncoder
    from splade_lite.encoders.splade import SpladeEncoder


__all__ = [
    "MODES",
    "Encoder",
    "IdfQueryEncoder",
    "InferenceFreeEncoder",
    "ModelNotFoundError",
    "ModelSource",
    "SpladeEncoder",
    "idf_from_df",
    "load_encoder",
    "read_idf_file",
    "resolve_model",
    "vocab_terms",
]

_LAZY = {
    "SpladeEncoder": "splade_lite.encoders.splade",
    "InferenceFreeEncoder": "splade_lite.encoders.inference_free",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'splade_lite.encoders' has no attribute {name!r}")


def load_encoder(
    model: str | Path = DEFAULT_MODEL, mode: str = "splade", **options
) -> SpladeEncoder | InferenceFreeEncoder:
    """The encoder for `mode` (``splade`` or ``inference-free``) over `model`."""
    from splade_lite.encoders.inference_free import InferenceFreeEncoder
    from splade_lite.encoders.splade import SpladeEncoder

    if mode == "splade":
        return SpladeEncoder(model, **options)
    if mode == "inference-free":
        return InferenceFreeEncoder(model, **options)
    raise BadValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
