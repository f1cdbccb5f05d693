"""Training losses against values computed by hand, and the training forward pass (the
encoder's own pooling, with gradients) against the plain (memory-hungry) computation."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from splade_lite.encoders.splade import splade_pool  # noqa: E402
from splade_lite.training import losses  # noqa: E402


def test_info_nce_uses_in_batch_and_hard_negatives():
    queries = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    # query 0: positive [2, 0], negative [1, 1]; query 1: positive [0, 1], negative [1, 0]
    docs = torch.tensor([[[2.0, 0.0], [1.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]])
    # scores of query 0 against all four documents: 2, 1, 0, 1 -> positive at 0
    # scores of query 1: 0, 2, 2, 0 -> positive at 2
    expected0 = -2 + math.log(math.exp(2) + math.exp(1) + math.exp(0) + math.exp(1))
    expected1 = -2 + math.log(1 + math.exp(2) + math.exp(2) + 1)
    got = losses.info_nce(queries, docs)
    assert got.item() == pytest.approx((expected0 + expected1) / 2, rel=1e-6)
    halved = losses.info_nce(queries, docs, temperature=2.0)
    expected0 = -1 + math.log(math.exp(1) + math.exp(0.5) + 1 + math.exp(0.5))
    expected1 = -1 + math.log(1 + math.e + math.e + 1)
    assert halved.item() == pytest.approx((expected0 + expected1) / 2, rel=1e-6)


def test_margin_mse():
    student = torch.tensor([[3.0, 1.0, 2.0], [0.0, 0.0, 1.0]])
    teacher = torch.tensor([[2.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    # margins student: (2, 1), (0, -1); teacher: (1, 1), (1, 1)
    expected = ((2 - 1) ** 2 + 0 + (0 - 1) ** 2 + (-1 - 1) ** 2) / 4
    assert losses.margin_mse(student, teacher).item() == pytest.approx(expected)
    assert losses.margin_mse(teacher + 5, teacher).item() == pytest.approx(0.0)


def test_kl_distillation():
    student = torch.tensor([[0.0, 1.0]])
    teacher = torch.tensor([[1.0, 0.0]])
    p = [math.e / (1 + math.e), 1 / (1 + math.e)]  # teacher distribution
    q = [1 / (1 + math.e), math.e / (1 + math.e)]
    expected = sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))
    assert losses.kl_distillation(student, teacher).item() == pytest.approx(expected, rel=1e-6)
    assert losses.kl_distillation(teacher, teacher).item() == pytest.approx(0.0, abs=1e-7)
    t2 = [math.exp(0.5) / (1 + math.exp(0.5)), 1 / (1 + math.exp(0.5))]
    expected2 = sum(pi * math.log(pi / qi) for pi, qi in zip(t2, reversed(t2)))
    got = losses.kl_distillation(student, teacher, temperature=2.0).item()
    assert got == pytest.approx(expected2, rel=1e-6)


def test_flops():
    reps = torch.tensor([[1.0, 0.0, 0.0], [3.0, 2.0, 0.0]])
    assert losses.flops(reps).item() == pytest.approx(2.0**2 + 1.0**2)


def test_idf_flops_penalises_low_idf_terms_more():
    reps = torch.tensor([[1.0, 1.0, 2.0], [3.0, 1.0, 0.0]], requires_grad=True)
    idf = torch.tensor([2.0, 0.5, 0.0])  # the last is clamped to min_idf = 0.1
    value = losses.idf_flops(reps, idf)
    assert value.item() == pytest.approx(2.0**2 / 2.0 + 1.0**2 / 0.5 + 1.0**2 / 0.1)
    value.backward()
    # same mean weight (1.0) for terms 1 and 2: the lower IDF gets the larger push down
    assert reps.grad[0, 2] > reps.grad[0, 1] > 0
    # d/dw of (mean)^2 / idf = 2 * mean / (N * idf)
    assert reps.grad[0, 1].item() == pytest.approx(2 * 1.0 / (2 * 0.5))
    assert reps.grad[0, 0].item() == pytest.approx(2 * 2.0 / (2 * 2.0))
    # with all IDF equal to 1 it is plain FLOPS
    plain = torch.tensor([[1.0, 2.0], [3.0, 0.0]])
    assert losses.idf_flops(plain, torch.ones(2)).item() == pytest.approx(
        losses.flops(plain).item()
    )


def test_shortfall_counts_only_weights_that_fall_below_the_base():
    base = torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]])
    reps = torch.tensor([[0.5, 3.0, 1.0], [0.0, 1.0, 1.0]], requires_grad=True)
    value = losses.shortfall(reps, base)
    # row 1 falls 0.5 on term 0 (gains elsewhere are free); row 2 falls 2.0 on term 2
    assert value.item() == pytest.approx((0.5**2 + 2.0**2) / 2)
    value.backward()
    assert reps.grad[0, 0].item() == pytest.approx(-2 * 0.5 / 2)  # pushed back up
    assert reps.grad[1, 2].item() == pytest.approx(-2 * 2.0 / 2)
    assert reps.grad[0, 1] == 0 and reps.grad[0, 2] == 0  # weights above the base: no pull
    assert losses.shortfall(base + 1.0, base).item() == 0.0


def test_quadratic_warmup():
    assert losses.quadratic_warmup(0, 1.0, 10) == 0.0
    assert losses.quadratic_warmup(5, 1.0, 10) == pytest.approx(0.25)
    assert losses.quadratic_warmup(10, 2.0, 10) == 2.0
    assert losses.quadratic_warmup(50, 2.0, 10) == 2.0
    assert losses.quadratic_warmup(3, 2.0, 0) == 2.0


def test_training_pooling_matches_the_plain_computation_and_its_gradient():
    torch.manual_seed(0)
    hidden = torch.randn(3, 5, 4, requires_grad=True)
    weight = torch.randn(11, 4, requires_grad=True)
    bias = torch.randn(11, requires_grad=True)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0]])

    got = splade_pool(hidden, weight, bias, "max", 3, mask)
    got.sum().backward()
    grads = [t.grad.clone() for t in (hidden, weight, bias)]
    for t in (hidden, weight, bias):
        t.grad = None

    logits = hidden @ weight.T + bias  # [B, T, V]
    logits = logits.masked_fill(~mask.bool().unsqueeze(-1), float("-inf"))
    plain = torch.log1p(torch.relu(logits.amax(dim=1)))
    plain.sum().backward()

    assert torch.allclose(got, plain, atol=1e-6)
    for mine, ref in zip(grads, (hidden.grad, weight.grad, bias.grad)):
        assert torch.allclose(mine, ref, atol=1e-5)
    # padding never contributes: changing padded positions changes nothing
    with torch.no_grad():
        moved = hidden.clone()
        moved[1, 2:] = 100.0
        assert torch.equal(splade_pool(moved, weight, bias, "max", 3, mask), got.detach())
    # with gradients, the values keep the bits of the gradient-free pooling
    with torch.inference_mode():
        assert torch.equal(splade_pool(hidden, weight, bias, "max", 3, mask), got.detach())
        for row in range(3):  # and a text pooled alone, over its real tokens, gets the same
            alone = splade_pool(hidden[row][mask[row].bool()], weight, bias, "max", 3)
            assert torch.allclose(alone, got[row].detach(), rtol=0, atol=1e-6)
    # sum pooling of a padded batch: each text's own sum over its real tokens
    summed = splade_pool(hidden.detach(), weight.detach(), bias.detach(), "sum", 3, mask)
    for row in range(3):
        logits = hidden[row][mask[row].bool()] @ weight.T + bias
        plain = torch.log1p(torch.relu(logits)).sum(dim=0)
        assert torch.allclose(summed[row], plain.detach(), atol=1e-5)


def test_trained_model_encodes_as_the_encoder_does(tmp_path):
    """TrainableSplade's weights for a text are the SpladeEncoder's for it, term for term."""
    import numpy as np
    from training_helpers import make_tiny_model

    from splade_lite.encoders import SpladeEncoder
    from splade_lite.training.model import load_trainable

    folder = make_tiny_model(tmp_path / "m")
    texts = ["bees pollinate flowers", "the moon and the ocean tides", "insulin"]
    trainable = load_trainable(folder, "cpu").eval()
    encoder = SpladeEncoder(folder, device="cpu")
    for text in texts:  # one at a time: padding moves the transformer's float sums
        with torch.no_grad():
            mine = trainable.encode([text], 64)[0].numpy()
        vector = encoder.encode([text])[0]
        dense = np.zeros_like(mine)
        dense[vector.indices] = vector.values
        assert np.count_nonzero(dense) > 0
        assert np.allclose(mine, dense, rtol=0, atol=1e-6)
