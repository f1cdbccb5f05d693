"""How the vocabulary projection of SPLADE max pooling is computed: exact, or faster and close.

For a model as small as splade-tiny the projection of every real token onto the vocabulary
(tokens × 128 × 30,522 multiply-adds per document) is nearly all of the work, so that is
where a back end differs; the transformer body is run by torch in every back end.

- ``torch`` (the default): float32, exact, :func:`splade_lite.encoders.splade.splade_pool`.
- ``bf16``: bfloat16 inputs and weights, float32 accumulation (oneDNN). Fast only on CPUs
  with bfloat16 instructions (AVX512-BF16 or AMX); elsewhere it is emulated and slower.
- ``int8``: weights quantised per vocabulary row, each text's token states per text
  (symmetric, 127 levels), int32 accumulation through ``torch._int_mm``, the max over tokens
  taken on the integers and rescaled once per vocabulary entry.

Only max pooling has the fast back ends; a sum-pooling model must use ``torch``.
An approximate back end asked for on a CPU without its instructions (:data:`FAST_WITH`) is
slower than the exact one there, so :func:`choose_backend` says so and the exact one runs.
``docs/benchmarks.md`` ("Encoding speed") has their speed and their fidelity on SciFact.
"""

from __future__ import annotations

import ctypes
import functools
import threading

import torch

from splade_lite.cpu import CpuInfo, cpu_info
from splade_lite.errors import BadValueError

BACKENDS = ("torch", "bf16", "int8")
#: Back ends whose vectors equal the reference computation (within float32 rounding).
EXACT_BACKENDS = ("torch",)
#: CPU flags (any one) without which an approximate back end is emulated, and slower than
#: ``torch``: int8 dot-product and bfloat16 instructions, x86 and ARM.
FAST_WITH: dict[str, tuple[str, ...]] = {
    "bf16": ("avx512_bf16", "amx_bf16", "bf16"),
    "int8": ("avx512_vnni", "avx_vnni", "amx_int8", "i8mm"),
}


def choose_backend(requested: str, cpu: CpuInfo | None = None) -> tuple[str, str | None]:
    """The back end to run for `requested` on `cpu` (this one by default), and why it differs.

    An approximate back end whose instructions the CPU lacks falls back to the exact
    ``torch`` one, with a note saying so; where the CPU's flags are unknown the request
    stands. An unknown name is a :class:`BadValueError`.
    """
    if requested not in BACKENDS:
        raise BadValueError(f"unknown backend {requested!r}; choose one of {', '.join(BACKENDS)}")
    cpu = cpu or cpu_info()
    needed = FAST_WITH.get(requested)
    if not needed or not cpu.flags or cpu.has_any(*needed):
        return requested, None
    return "torch", (
        f"backend {requested!r} would be slower than the exact 'torch' back end on this CPU "
        f"({cpu.model}: none of {', '.join(needed)}), so 'torch' is used"
    )


class _Scratch(threading.local):
    """One buffer per thread for a block's [block, T] logits, reused from text to text.

    A fresh tensor per block and text (up to 4 MB, eight per text) churns the C heap: peak
    memory while encoding SciFact was 1.5 GB with fresh tensors, about half with this.
    """

    def __init__(self) -> None:
        self.buffer: torch.Tensor | None = None

    def get(self, rows: int, cols: int, like: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        size = rows * cols
        buf = self.buffer
        if buf is None or buf.numel() < size or buf.dtype != dtype or buf.device != like.device:
            with torch.inference_mode(False):  # a plain tensor, usable in and out of it
                buf = torch.empty(max(size, rows * 256), dtype=dtype, device=like.device)
            self.buffer = buf
        return buf[:size].view(rows, cols)


@functools.cache
def _malloc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def release_free_memory() -> None:
    """Give the C heap's free pages back to the system (glibc's ``malloc_trim``); elsewhere
    nothing.

    Batches of varied shapes leave glibc's heap fragmented, and it keeps freed pages: while
    encoding SciFact × 4 at 256 tokens, resident memory crept from 0.6 to 1.2 GB without
    this. Called between chunks of documents, it costs a few milliseconds each.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


class Projection:
    """max over tokens of ``tokens @ weight.T`` for one text, in vocabulary blocks (float32).

    This is the exact reference; subclasses trade exactness for speed. The bias and the
    activation are applied by the caller (the bias is the same for every token). Safe to
    call from several threads at once (each has its own scratch buffer).
    """

    name = "torch"

    def __init__(self, weight: torch.Tensor, block: int = 4096) -> None:
        self.weight = weight
        self.block = block
        self.size = int(weight.shape[0])
        self._scratch = _Scratch()

    def max_logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """[V] max over the rows of `tokens` [T, H] of their logits (bias not added)."""
        return self._blocks(tokens.T, torch.matmul, torch.float32)

    def _blocks(self, columns: torch.Tensor, matmul, dtype: torch.dtype) -> torch.Tensor:
        """max over columns of ``weight[block] @ columns``, block by block, into [V].

        [block, T] rather than [T, block]: as fast, and the same bits whatever the thread
        count (MKL's kernels for a few rows times many columns differ with it).
        """
        out = torch.empty(self.size, device=columns.device, dtype=dtype)
        rows = min(self.block, self.size)
        scratch = self._scratch.get(rows, columns.shape[1], columns, dtype)
        for start in range(0, self.size, self.block):
            stop = min(start + self.block, self.size)
            logits = scratch[: stop - start]
            matmul(self.weight[start:stop], columns, out=logits)
            torch.amax(logits, dim=1, out=out[start:stop])
        return out


class Bf16Projection(Projection):
    """bfloat16 operands, float32 accumulation: about 3 significant digits per product."""

    name = "bf16"

    def __init__(self, weight: torch.Tensor, block: int = 4096) -> None:
        super().__init__(weight.to(torch.bfloat16), block)

    def max_logits(self, tokens: torch.Tensor) -> torch.Tensor:
        return self._blocks(tokens.to(torch.bfloat16).T, torch.matmul, torch.bfloat16).float()


class Int8Projection(Projection):
    """Symmetric int8: one scale per vocabulary row, one per text; exact int32 products.

    max_t (s_x q_t) · (s_v q_v) = s_x s_v max_t q_t · q_v because both scales are positive,
    so the max is taken on the int32 accumulators and rescaled once per vocabulary entry.
    """

    name = "int8"

    def __init__(self, weight: torch.Tensor, block: int = 4096) -> None:
        scale = weight.abs().amax(dim=1).clamp_min(1e-12) / 127.0
        super().__init__(torch.round(weight / scale[:, None]).to(torch.int8), block)
        self.scale = scale

    def max_logits(self, tokens: torch.Tensor) -> torch.Tensor:
        x_scale = tokens.abs().amax().clamp_min(1e-12) / 127.0
        columns = torch.round(tokens / x_scale).to(torch.int8).T
        return self._blocks(columns, torch._int_mm, torch.int32).float() * (self.scale * x_scale)


_PROJECTIONS: dict[str, type[Projection]] = {
    "torch": Projection,
    "bf16": Bf16Projection,
    "int8": Int8Projection,
}


def make_projection(
    backend: str, weight: torch.Tensor, pooling: str, block: int = 4096
) -> Projection:
    """The projection of `backend` over `weight` [V, H]; a clear error for what cannot run."""
    if backend not in _PROJECTIONS:
        raise BadValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend != "torch":
        if pooling != "max":
            raise BadValueError(f"backend {backend!r} supports max pooling only (the model sums)")
        if weight.device.type != "cpu":
            raise BadValueError(f"backend {backend!r} runs on the CPU only; use 'torch' on a GPU")
    return _PROJECTIONS[backend](weight, block)
