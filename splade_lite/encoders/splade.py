"""SPLADE: a masked-LM's logits turned into a sparse vector over its vocabulary.

weight(term) = pool over the document's real tokens of log(1 + relu(logit(token, term))).

For max pooling the activation is monotone, so the max can be taken on the raw logits and the
activation applied once per vocabulary entry afterwards. The projection onto the vocabulary
(tokens × 30k for BERT) is nearly all of the work of a small model, so it is done here per
document, over its real tokens only (no padding), in blocks of vocabulary rows, never holding
the whole tokens × vocabulary tensor. Faster, inexact ways to compute that projection are
opt-in back ends (:mod:`splade_lite.encoders.backends`); the default is exact.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from splade_lite.encoders.backends import EXACT_BACKENDS, choose_backend, make_projection
from splade_lite.encoders.base import MAX_BATCH_SIZE, TOKENIZER_LOCK, vocab_terms
from splade_lite.encoders.models import (
    DEFAULT_MODEL,
    LOAD_ERRORS,
    load_error,
    load_options,
    load_tokenizer,
    resolve_model,
)
from splade_lite.errors import BadValueError
from splade_lite.vectors import SparseVector

DEFAULT_MAX_LENGTH = 256
DEFAULT_BATCH_SIZE = 32


class PassThrough(nn.Module):
    """Stands in for the vocabulary projection so the model returns the hidden states it gets
    (training bypasses it the same way)."""

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden


def pick_device(device: str | None) -> torch.device:
    """`cuda` when asked or available (for None), else `cpu`; a clear error for a missing GPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BadValueError(f"device {device!r} was asked for but torch sees no CUDA GPU")
    return dev


class SpladeEncoder:
    """SPLADE documents and queries through the same masked-LM.

    `name_or_path`: ``splade-tiny``, a local folder (Hugging Face masked-LM or a
    sentence-transformers SparseEncoder) or a Hugging Face hub id. `backend` chooses how the
    vocabulary projection is computed: ``torch`` (exact, the default), or the faster,
    approximate ``bf16`` or ``int8`` (see :mod:`splade_lite.encoders.backends`); with
    `check_cpu` (the default) an approximate one that this CPU would run slower than
    ``torch`` is replaced by ``torch`` with a RuntimeWarning (:attr:`backend` is what runs,
    :attr:`backend_note` says why it differs from the request).
    """

    mode = "splade"

    def __init__(
        self,
        name_or_path: str | Path = DEFAULT_MODEL,
        *,
        max_length: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: str | None = None,
        vocab_block: int = 4096,
        backend: str = "torch",
        check_cpu: bool = True,
    ) -> None:
        from transformers import AutoModelForMaskedLM

        self.backend_note: str | None = None
        if check_cpu:
            backend, self.backend_note = choose_backend(backend)
            if self.backend_note:
                warnings.warn(self.backend_note, RuntimeWarning, stacklevel=2)

        self.source = resolve_model(name_or_path)
        self.name = self.source.name  # a local folder as an absolute path
        self.device = pick_device(device)
        self.max_length = max_length or self.source.max_length or DEFAULT_MAX_LENGTH
        self.batch_size = batch_size
        self.vocab_block = vocab_block
        if not (isinstance(batch_size, int) and 1 <= batch_size <= MAX_BATCH_SIZE):
            raise BadValueError(f"batch_size must be a whole number in [1, {MAX_BATCH_SIZE}]")
        if isinstance(self.max_length, bool) or not isinstance(self.max_length, int):
            raise BadValueError(f"max_length must be a whole number, got {self.max_length!r}")
        if self.max_length < 1:
            raise BadValueError(f"max_length must be at least 1, got {self.max_length}")
        self.tokenizer = load_tokenizer(self.source)
        positions = model_positions(self.tokenizer, self.source)
        if positions is not None and self.max_length > positions:
            raise BadValueError(
                f"max_length {self.max_length} is beyond the {positions} token positions of "
                f"model {self.name!r}; use at most {positions}"
            )
        try:
            model = AutoModelForMaskedLM.from_pretrained(
                self.source.mlm, **load_options(self.source)
            )
        except LOAD_ERRORS as err:
            raise load_error(self.source, err) from None
        projection = model.get_output_embeddings()
        if not isinstance(projection, nn.Linear):
            raise TypeError(f"{self.source.mlm}: the masked-LM head is not a linear projection")
        self._weight = projection.weight.detach().to(self.device, torch.float32)
        bias = projection.bias
        self._bias = (
            bias.detach().to(self.device, torch.float32)
            if bias is not None
            else torch.zeros(self._weight.shape[0], device=self.device)
        )
        replace_module(model, projection, PassThrough())
        self.model = model.to(self.device).eval()
        self.vocab_size = int(self._weight.shape[0])
        terms = vocab_terms(self.tokenizer)
        self.terms = terms + [f"[id:{i}]" for i in range(len(terms), self.vocab_size)]
        if self.source.pooling not in ("max", "sum"):
            raise BadValueError(f"pooling {self.source.pooling!r} is not supported (max or sum)")
        self.pooling = self.source.pooling
        self.backend = backend
        self.exact = backend in EXACT_BACKENDS
        self._projection = make_projection(backend, self._weight, self.pooling, vocab_block)
        #: batches of similar length (less padding); off only to measure what it saves
        self.sort_by_length = True

    # -- public interface -------------------------------------------------------------------
    def encode_documents(self, texts: Sequence[str]) -> list[SparseVector]:
        return self.encode(texts)

    def encode_queries(self, texts: Sequence[str]) -> list[SparseVector]:
        """Each query alone, so that its weights never depend on the batch it came in
        (padding changes the float sums enough to move a rounded impact).

        A query without a real token (blank, or only special and unknown tokens such as
        ``[CLS]`` or an emoji) gets an empty vector and so matches nothing, as in
        inference-free mode: its expansion would rank by the special tokens alone.
        """
        special = set(self.tokenizer.all_special_ids)
        out = []
        for text, ids in zip(texts, self.tokenize(texts)):
            if all(i in special for i in ids):
                out.append(SparseVector(np.zeros(0, np.int64), np.zeros(0, np.float32)))
            else:
                out.extend(self._encode_batch([text]))
        return out

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> list[SparseVector]:
        """Encode texts in batches of similar length (less padding); output keeps input order."""
        texts = list(texts)
        if not texts:
            return []
        size = batch_size or self.batch_size
        order = list(range(len(texts)))
        if self.sort_by_length:
            order.sort(key=lambda i: len(texts[i]), reverse=True)
        out: list[SparseVector | None] = [None] * len(texts)
        for start in range(0, len(order), size):
            chosen = order[start : start + size]
            for pos, vec in zip(chosen, self._encode_batch([texts[i] for i in chosen])):
                out[pos] = vec
        return out  # type: ignore[return-value]

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text as the encoder sees it (special tokens included, truncated)."""
        with TOKENIZER_LOCK:
            return self.tokenizer(
                list(texts), truncation=True, max_length=self.max_length, add_special_tokens=True
            )["input_ids"]

    # -- the computation --------------------------------------------------------------------
    @torch.inference_mode()
    def _encode_batch(self, texts: list[str]) -> list[SparseVector]:
        with TOKENIZER_LOCK:
            batch = self.tokenizer(
                texts,
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.device)
        hidden = self.model(**batch).logits  # the projection is bypassed: [B, T, H]
        mask = batch["attention_mask"].bool()
        return [self._pool(hidden[i][mask[i]]) for i in range(hidden.shape[0])]

    def _pool(self, tokens: torch.Tensor) -> SparseVector:
        if self.pooling == "max":  # the bias and the activation once per vocabulary entry
            pooled = torch.log1p(torch.relu(self._projection.max_logits(tokens) + self._bias))
        else:
            pooled = splade_pool(tokens, self._weight, self._bias, self.pooling, self.vocab_block)
        ids = torch.nonzero(pooled > 0).squeeze(1)
        return SparseVector(ids.cpu().numpy().astype(np.int64), pooled[ids].float().cpu().numpy())


def splade_pool(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    pooling: str = "max",
    block: int = 4096,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """SPLADE's vocabulary weights: pool over real tokens of log(1 + relu(logits)).

    `hidden` are the inputs of the vocabulary projection (`weight` [V, H], `bias` [V]): one
    text's real tokens [T, H], giving [V], or a padded batch [B, T, H] whose `mask` [B, T]
    marks the real tokens, giving [B, V]. The logits are computed `block` vocabulary rows at
    a time, [block, T] per text, never all at once. This is the reference form, and the one
    training differentiates; for max pooling the encoder gets the same bits from
    :class:`~splade_lite.encoders.backends.Projection` (which reuses its scratch memory).
    """
    one = hidden.dim() == 2
    batch = hidden[None] if one else hidden
    if pooling == "max":  # the activation is monotone: applied once, after the max
        pooled = torch.log1p(torch.relu(_max_logits(batch, weight, bias, mask, block)))
    else:
        pooled = _sum_pooled(batch, weight, bias, mask, block)
    return pooled[0] if one else pooled


def _logit_blocks(hidden: torch.Tensor, weight: torch.Tensor, mask, block: int):
    """(start, stop, logits [B, stop - start, T]) for each block of vocabulary rows, and
    the padding mask [B, 1, T] (None without padding)."""
    columns = hidden.transpose(1, 2)  # [B, H, T]
    pad = None if mask is None else ~mask.bool()[:, None, :]
    for start in range(0, weight.shape[0], block):
        stop = min(start + block, weight.shape[0])
        rows = weight[start:stop]
        if len(columns) == 1:  # one text: a plain matrix product, as the encoder computes it
            yield start, stop, (rows @ columns[0])[None], pad
        else:
            yield start, stop, torch.bmm(rows.expand(len(columns), *rows.shape), columns), pad


def _max_logits(hidden, weight, bias, mask, block: int) -> torch.Tensor:
    """[B, V] max over each text's real tokens of its logits (bias included).

    The max is found without gradients, so no tokens × vocabulary tensor is kept for a
    backward pass. When gradients are wanted, the winning token's logit is recomputed with
    them and added as ``logit - logit.detach()``, exactly 0: the value keeps the bits of the
    gradient-free max, and the gradient (that of a max: its argmax alone) flows through it.
    """
    batch, _, size = hidden.shape
    vocab = weight.shape[0]
    track = torch.is_grad_enabled() and any(t.requires_grad for t in (hidden, weight, bias))
    pooled = torch.empty(batch, vocab, device=hidden.device, dtype=torch.float32)
    best = torch.empty(batch, vocab, device=hidden.device, dtype=torch.long) if track else None
    with torch.no_grad():
        for start, stop, logits, pad in _logit_blocks(hidden, weight, mask, block):
            if pad is not None:
                logits.masked_fill_(pad, float("-inf"))
            if best is None:
                pooled[:, start:stop] = logits.amax(dim=2)
            else:
                pooled[:, start:stop], best[:, start:stop] = logits.max(dim=2)
        pooled += bias  # the same for every token, so added after the max
    if best is None:
        return pooled
    chosen = torch.gather(hidden, 1, best.unsqueeze(-1).expand(batch, vocab, size))  # [B, V, H]
    logits = torch.einsum("bvh,vh->bv", chosen, weight) + bias
    return pooled + (logits - logits.detach())


def _sum_pooled(hidden, weight, bias, mask, block: int) -> torch.Tensor:
    """[B, V] sum over each text's real tokens of log(1 + relu(logits))."""
    pooled = torch.empty(len(hidden), weight.shape[0], device=hidden.device)
    for start, stop, logits, pad in _logit_blocks(hidden, weight, mask, block):
        logits += bias[start:stop, None]
        activated = torch.log1p(torch.relu(logits))
        if pad is not None:
            activated.masked_fill_(pad, 0.0)
        pooled[:, start:stop] = activated.sum(dim=2)
    return pooled


def model_positions(tokenizer, source) -> int | None:
    """The most tokens the model takes in one text (None when it does not say)."""
    import json

    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 1_000_000:  # transformers' "unset" is ~1e30
        return limit
    config = Path(source.mlm) / "config.json"
    try:
        value = json.loads(config.read_text(encoding="utf-8")).get("max_position_embeddings")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and value > 0 else None


def replace_module(model: nn.Module, old: nn.Module, new: nn.Module) -> None:
    for module in model.modules():
        for child_name, child in module.named_children():
            if child is old:
                setattr(module, child_name, new)
                return
    raise TypeError(f"could not find the vocabulary projection in {type(model).__name__}")
