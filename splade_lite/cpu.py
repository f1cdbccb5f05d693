"""What the CPU this process runs on is, and which vector instructions it offers.

The approximate encoding back ends are fast only where the CPU has instructions for their
arithmetic (int8 dot products: AVX-512 VNNI, AVX-VNNI or AMX; bfloat16: AVX-512 BF16 or
AMX); elsewhere torch emulates them and they are slower than the exact float32 back end.
Benchmarks record this description beside every figure, because the same code ranks the
back ends in opposite orders on two CPUs.

Linux reports the flags in ``/proc/cpuinfo``; elsewhere torch's own dispatch level
(``torch.backends.cpu.get_cpu_capability()``, when torch is loaded) is all there is.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

#: The flags that matter for splade-lite's arithmetic, as Linux names them (x86 and ARM).
VECTOR_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "asimd",
    "asimddp",
    "i8mm",
    "bf16",
    "sve",
    "sve2",
)

CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class CpuInfo:
    """The CPU's model name, logical cores and vector instruction flags."""

    model: str
    cores: int
    flags: frozenset[str] = field(default_factory=frozenset)
    #: where the flags came from: ``/proc/cpuinfo``, ``torch`` or ``unknown``
    source: str = "unknown"

    def has_any(self, *names: str) -> bool:
        return any(name in self.flags for name in names)

    @property
    def vector_flags(self) -> list[str]:
        """The flags of :data:`VECTOR_FLAGS` this CPU has, in that order."""
        return [name for name in VECTOR_FLAGS if name in self.flags]

    def describe(self) -> str:
        """One line for a benchmark report: model, cores and vector instruction sets."""
        flags = " ".join(self.vector_flags) or "none known"
        return f"{self.model}, {self.cores} logical cores; vector instructions: {flags}"

    def as_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "cores": self.cores,
            "vector_flags": self.vector_flags,
            "flags_from": self.source,
        }


def parse_cpuinfo(text: str) -> tuple[str, frozenset[str]]:
    """Model name and flags of the first processor in a ``/proc/cpuinfo`` text (x86 or ARM)."""
    model, flags = "", ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and not model:
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = value
        if model and flags:
            break
    return model, frozenset(flags.split())


def _torch_flags() -> frozenset[str]:
    """Flags implied by torch's CPU dispatch level, when torch is already imported."""
    torch = sys.modules.get("torch")
    if torch is None:
        return frozenset()
    try:
        level = str(torch.backends.cpu.get_cpu_capability()).lower()
    except (AttributeError, RuntimeError):
        return frozenset()
    implied = {
        "avx2": {"avx", "avx2", "fma"},
        "avx512": {"avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl"},
        "zvector": set(),
        "default": set(),
    }
    return frozenset(implied.get(level, set()))


@cache
def cpu_info() -> CpuInfo:
    """This machine's CPU (read once per process)."""
    cores = os.cpu_count() or 1
    try:
        model, flags = parse_cpuinfo(CPUINFO.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        model, flags = "", frozenset()
    source = str(CPUINFO) if flags else "unknown"
    if not flags:
        flags = _torch_flags()
        source = "torch" if flags else "unknown"
    model = model or platform.processor() or platform.machine() or "unknown CPU"
    return CpuInfo(model=model, cores=cores, flags=flags, source=source)
