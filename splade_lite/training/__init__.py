"""Training and corpus adaptation of SPLADE encoders (torch is imported on first use).

- :func:`train_supervised`: a BEIR folder's train qrels -> a trained model folder;
- :func:`adapt_corpus`: a corpus alone -> pseudo-queries (cut from the documents, or written
  by a language model, :mod:`.generate`), BM25 + encoder (+ dense, :mod:`.dense`) teachers
  fused per query (:mod:`.ensemble`) -> a model;
- :mod:`.losses`: InfoNCE, MarginMSE, KL distillation, FLOPS, IDF-aware FLOPS;
- :class:`TrainConfig`: every option that decides the weights (saved as the model's recipe).

A saved model is a Hugging Face masked-LM folder plus ``splade_lite_model.json`` (and
``idf.json`` when trained for inference-free search): give it as ``--model`` anywhere.
"""

from __future__ import annotations

import importlib

__all__ = ["TrainConfig", "TrainResult", "adapt_corpus", "train_supervised"]

_LAZY = {
    "TrainConfig": "splade_lite.training.trainer",
    "TrainResult": "splade_lite.training.trainer",
    "adapt_corpus": "splade_lite.training.recipes",
    "train_supervised": "splade_lite.training.recipes",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'splade_lite.training' has no attribute {name!r}")
