"""A SPLADE masked-LM whose vocabulary weights can be back-propagated through.

weight(term) = log(1 + relu(max over the text's real tokens of logit(token, term))): the same
function as :class:`~splade_lite.encoders.splade.SpladeEncoder`, so a saved model encodes
exactly as it was trained. The max is found without gradients, block by block over the
vocabulary, and only the winning token's logit is recomputed with gradients: the gradient of
a max flows to its argmax alone, so this is exact and never holds a tokens × vocabulary
tensor for the backward pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
from splade_lite.encoders.splade import PassThrough, replace_module


class TrainableSplade(nn.Module):
    """Document (and SPLADE query) encoder for training; see :func:`load_trainable`."""

    def __init__(self, mlm: nn.Module, tokenizer, source: ModelSource, vocab_block: int = 4096):
        super().__init__()
        projection = mlm.get_output_embeddings()
        if not isinstance(projection, nn.Linear):
            raise TypeError(f"{source.mlm}: the masked-LM head is not a linear projection")
        if source.pooling != "max":
            raise ValueError(f"{source.mlm}: training supports max pooling only")
        self.mlm = mlm
        self.projection = projection  # kept: its weight may be tied to the input embeddings
        replace_module(mlm, projection, PassThrough())
        self.tokenizer = tokenizer
        self.source = source
        self.vocab_block = vocab_block
        self.vocab_size = int(projection.weight.shape[0])
        self.special_ids = sorted(set(tokenizer.all_special_ids))

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
        return max_pool_weights(
            hidden, attention_mask, self.projection.weight, self._bias(), self.vocab_block
        )

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


def max_pool_weights(
    hidden: torch.Tensor,
    attention_mask: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    block: int = 4096,
) -> torch.Tensor:
    """log(1 + relu(max_t hidden[t] · weight[v] + bias[v])) over real tokens, as [B, V].

    `hidden` [B, T, H] are the inputs of the vocabulary projection (`weight` [V, H]).
    """
    batch, _, size = hidden.shape
    vocab = weight.shape[0]
    mask = attention_mask.bool().unsqueeze(-1)  # [B, T, 1]
    best = torch.empty(batch, vocab, dtype=torch.long, device=hidden.device)
    with torch.no_grad():
        for start in range(0, vocab, block):
            stop = min(start + block, vocab)
            logits = hidden @ weight[start:stop].T  # [B, T, block]
            logits.masked_fill_(~mask, float("-inf"))
            best[:, start:stop] = logits.argmax(dim=1)
    chosen = torch.gather(hidden, 1, best.unsqueeze(-1).expand(batch, vocab, size))  # [B, V, H]
    logits = torch.einsum("bvh,vh->bv", chosen, weight) + bias
    return torch.log1p(torch.relu(logits))


#: What transformers raises for a model it cannot use (a missing or corrupt file, a pickle
#: torch refuses, a configuration asking for custom code).
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


def idf_vector(idf: Mapping[str, float], terms: Sequence[str]) -> torch.Tensor:
    """IDF table (term -> weight) as a dense [V] tensor over `terms`; unknown terms get 0."""
    position = {term: i for i, term in enumerate(terms)}
    out = torch.zeros(len(terms))
    for term, value in idf.items():
        i = position.get(term)
        if i is not None and value > 0:
            out[i] = float(value)
    return out


def idf_query_weights(
    tokenizer, texts: Sequence[str], idf: torch.Tensor, special_ids: Sequence[int]
) -> torch.Tensor:
    """Inference-free query vectors [B, V]: each distinct non-special token weighted by IDF.

    The same vectors as :class:`~splade_lite.encoders.inference_free.IdfQueryEncoder`.
    """
    with TOKENIZER_LOCK:
        ids_per_text = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    special = set(special_ids)
    out = torch.zeros(len(ids_per_text), idf.shape[0])
    for row, ids in enumerate(ids_per_text):
        unique = sorted({i for i in ids if i not in special and i < idf.shape[0]})
        if unique:
            index = torch.tensor(unique)
            out[row, index] = idf[index]
    return out
