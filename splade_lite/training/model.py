"""A SPLADE masked-LM whose vocabulary weights can be back-propagated through.

weight(term) = log(1 + relu(max over the text's real tokens of logit(token, term))), computed
by the encoder's own pooling (:func:`~splade_lite.encoders.splade.splade_pool`, which finds the
max without gradients and lets the gradient through the winning token alone), so a saved
model encodes exactly as it was trained. Inference-free queries are those of
:class:`~splade_lite.encoders.inference_free.IdfQueryEncoder`, made dense (:func:`dense_rows`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from splade_lite.encoders.base import TOKENIZER_LOCK, vocab_terms
from splade_lite.encoders.models import (
    LOAD_ERRORS,
    ModelSource,
    load_error,
    load_options,
    load_tokenizer,
    resolve_model,
)
from splade_lite.encoders.splade import PassThrough, replace_module, splade_pool
from splade_lite.errors import BadValueError
from splade_lite.vectors import SparseVector


class TrainableSplade(nn.Module):
    """Document (and SPLADE query) encoder for training; see :func:`load_trainable`."""

    def __init__(self, mlm: nn.Module, tokenizer, source: ModelSource, vocab_block: int = 4096):
        super().__init__()
        projection = mlm.get_output_embeddings()
        if not isinstance(projection, nn.Linear):
            raise TypeError(f"{source.mlm}: the masked-LM head is not a linear projection")
        if source.pooling != "max":
            raise BadValueError(f"{source.mlm}: training supports max pooling only")
        self.mlm = mlm
        self.projection = projection  # kept: its weight may be tied to the input embeddings
        replace_module(mlm, projection, PassThrough())
        self.tokenizer = tokenizer
        self.source = source
        self.vocab_block = vocab_block
        self.vocab_size = int(projection.weight.shape[0])

    @property
    def terms(self) -> list[str]:
        terms = vocab_terms(self.tokenizer)
        return terms + [f"[id:{i}]" for i in range(len(terms), self.vocab_size)]

    def tokenize(self, texts: Sequence[str], max_length: int) -> dict[str, torch.Tensor]:
        with TOKENIZER_LOCK:
            batch = self.tokenizer(
                list(texts),
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
        return {
            k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")
        }

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **extra
    ) -> torch.Tensor:
        """Vocabulary weights [B, V] of a tokenized batch, differentiable."""
        hidden = self.mlm(input_ids=input_ids, attention_mask=attention_mask, **extra).logits
        weight, block = self.projection.weight, self.vocab_block
        return splade_pool(hidden, weight, self._bias(), "max", block, attention_mask)

    def encode(self, texts: Sequence[str], max_length: int) -> torch.Tensor:
        """Vocabulary weights [B, V] of texts, differentiable."""
        device = self.projection.weight.device
        return self(**{k: v.to(device) for k, v in self.tokenize(texts, max_length).items()})

    def _bias(self) -> torch.Tensor:
        bias = self.projection.bias
        if bias is None:
            return torch.zeros(self.vocab_size, device=self.projection.weight.device)
        return bias

    def restored_mlm(self):
        """A context in which `self.mlm` has its vocabulary projection back (for saving)."""
        return _Restored(self)


class _Restored:
    def __init__(self, model: TrainableSplade):
        self.model = model

    def __enter__(self):
        head = self.model.mlm.get_output_embeddings()
        replace_module(self.model.mlm, head, self.model.projection)
        self.head = head
        return self.model.mlm

    def __exit__(self, *exc):
        replace_module(self.model.mlm, self.model.projection, self.head)
        return False


def load_trainable(name_or_path: str | Path, device: str | None = None) -> TrainableSplade:
    """A trainable SPLADE model from a built-in name, local folder or hub id."""
    from transformers import AutoModelForMaskedLM

    source = resolve_model(name_or_path)
    tokenizer = load_tokenizer(source)
    try:
        mlm = AutoModelForMaskedLM.from_pretrained(source.mlm, **load_options(source))
    except LOAD_ERRORS as err:
        raise load_error(source, err) from None
    from splade_lite.encoders.splade import pick_device

    return TrainableSplade(mlm.float(), tokenizer, source).to(pick_device(device))


def dense_rows(vectors: Sequence[SparseVector], size: int) -> torch.Tensor:
    """Sparse vectors as the rows of a dense float32 [len, size] tensor."""
    out = torch.zeros(len(vectors), size)
    for row, vector in enumerate(vectors):
        out[row, torch.from_numpy(vector.indices)] = torch.from_numpy(vector.values)
    return out
