"""Training losses for sparse encoders: ranking, distillation and sparsity regularisation.

Shapes: `scores` are student (or teacher) relevance scores ``[queries, candidates]`` where
column 0 is the positive document; representations are vocabulary weights ``[texts, V]``.
Every function returns a scalar tensor, so losses can be added and back-propagated.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(queries: torch.Tensor, docs: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Contrastive loss with in-batch and hard negatives.

    `queries` [B, V]; `docs` [B, G, V] holds, for each query, its positive (index 0) and its
    G-1 hard negatives. Each query is scored against all B×G documents of the batch (the
    other queries' documents are in-batch negatives); the loss is the cross-entropy of
    picking its own positive.
    """
    batch, group, vocab = docs.shape
    scores = queries @ docs.reshape(batch * group, vocab).T / temperature  # [B, B*G]
    target = torch.arange(batch, device=scores.device) * group
    return F.cross_entropy(scores, target)


def margin_mse(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """MarginMSE: the student's margins positive - negative match the teacher's.

    `student`, `teacher` [B, G] with the positive in column 0; the mean over the B×(G-1)
    (positive, negative) pairs of ((s_pos - s_neg) - (t_pos - t_neg))².
    """
    s_margin = student[:, :1] - student[:, 1:]
    t_margin = teacher[:, :1] - teacher[:, 1:]
    return F.mse_loss(s_margin, t_margin)


def kl_distillation(
    student: torch.Tensor, teacher: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """KL(teacher || student) between the softmax distributions over each query's candidates.

    `student`, `teacher` [B, G]; summed over candidates, averaged over queries.
    """
    target = F.log_softmax(teacher / temperature, dim=1)
    predicted = F.log_softmax(student / temperature, dim=1)
    return F.kl_div(predicted, target, reduction="batchmean", log_target=True)


def flops(reps: torch.Tensor) -> torch.Tensor:
    """FLOPS regulariser (Paria et al. 2020): sum over terms of (mean weight over the batch)²."""
    return (reps.abs().mean(dim=0) ** 2).sum()


def idf_flops(reps: torch.Tensor, idf: torch.Tensor, min_idf: float = 0.1) -> torch.Tensor:
    """IDF-aware FLOPS for inference-free document encoders: sum_j (mean_i w_ij)² / idf_j.

    Geng et al. 2024 ("Towards Competitive Search Relevance For Inference-Free Learned Sparse
    Retrievers") make sparsification IDF-aware: frequent, low-IDF terms are pushed down
    harder than rare, informative ones, which FLOPS alone treats alike. Here each term's
    penalty is divided by its IDF (values below `min_idf` count as `min_idf`, so a term found
    in nearly every document gets a large but bounded penalty). The trainer also scores
    inference-free queries with IDF weights, as search does, which tilts the ranking gradient
    the same way.
    """
    weight = 1.0 / idf.to(reps.dtype).clamp_min(min_idf)
    return (weight * reps.abs().mean(dim=0) ** 2).sum()


def shortfall(reps: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
    """Anchor to a frozen base model: the mean over texts of the summed squares of how far
    each term weight falls below the base model's weight for the same text.

    Distillation on pseudo-queries tends to drop a document's expansion terms (a query cut
    from the document shares its own tokens, so removing the rest is the easy way to beat
    the negatives). Only losses count here: the student may add terms or raise weights
    freely (the FLOPS term prices that), but pays for every weight it takes away.
    """
    return (torch.relu(base - reps) ** 2).sum(dim=1).mean()


def quadratic_warmup(step: int, target: float, warmup_steps: int) -> float:
    """Regularisation weight at `step` (1-based): target × min(1, step / warmup_steps)²."""
    if warmup_steps <= 0 or step >= warmup_steps:
        return target
    return target * (max(step, 0) / warmup_steps) ** 2
