"""Encoders: text -> `SparseVector`, one interface (`encode_documents`, `encode_queries`)."""

from __future__ import annotations

from pathlib import Path

from splade_lite.encoders.base import Encoder, vocab_terms
from splade_lite.encoders.inference_free import IdfQueryEncoder, InferenceFreeEncoder, idf_from_df
from splade_lite.encoders.models import ModelNotFoundError, ModelSource, resolve_model
from splade_lite.encoders.splade import SpladeEncoder

MODES = ("splade", "inference-free")

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
    "resolve_model",
    "vocab_terms",
]


def load_encoder(
    model: str | Path = "splade-tiny", mode: str = "splade", **options
) -> SpladeEncoder | InferenceFreeEncoder:
    """The encoder for `mode` (``splade`` or ``inference-free``) over `model`."""
    if mode == "splade":
        return SpladeEncoder(model, **options)
    if mode == "inference-free":
        return InferenceFreeEncoder(model, **options)
    raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
