"""The CPU description and the choice of encoding back end by what the CPU offers."""

from __future__ import annotations

import json
import warnings

import pytest

from splade_lite import cpu
from splade_lite.cpu import CpuInfo, parse_cpuinfo
from splade_lite.encoders import backends
from splade_lite.encoders.backends import choose_backend

X86 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B12
flags\t\t: fpu sse sse2 sse4_1 sse4_2 avx avx2 fma f16c
bogomips\t: 4499.99

processor\t: 1
model name\t: another model
flags\t\t: avx512_vnni
"""

ARM = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes asimddp sha512 i8mm bf16
CPU implementer\t: 0x41
"""

AVX2_ONLY = CpuInfo("AMD EPYC 7B12", 2, frozenset({"sse4_2", "avx", "avx2", "fma"}), "test")
SAPPHIRE = CpuInfo("Xeon", 2, frozenset({"avx2", "avx512f", "avx512_vnni", "amx_bf16"}), "t")
UNKNOWN = CpuInfo("mystery", 2, frozenset(), "unknown")


def test_parse_cpuinfo_reads_the_first_processor():
    model, flags = parse_cpuinfo(X86)
    assert model == "AMD EPYC 7B12"
    assert "avx2" in flags and "avx512_vnni" not in flags  # the second block is not read


def test_parse_cpuinfo_reads_arm_features():
    model, flags = parse_cpuinfo(ARM)
    assert model == ""
    assert {"asimd", "asimddp", "i8mm", "bf16"} <= flags


def test_vector_flags_keep_only_the_known_ones_in_order():
    info = CpuInfo("x", 4, frozenset({"fpu", "avx2", "sse4_2", "amx_int8"}), "test")
    assert info.vector_flags == ["sse4_2", "avx2", "amx_int8"]
    assert "avx2 amx_int8" in info.describe() and "4 logical cores" in info.describe()
    assert json.loads(json.dumps(info.as_dict()))["vector_flags"] == info.vector_flags


def test_this_machines_cpu_is_described():
    info = cpu.cpu_info()
    assert info.cores >= 1 and info.model
    assert info is cpu.cpu_info()  # read once


@pytest.mark.parametrize("requested", ["int8", "bf16"])
def test_approximate_backend_falls_back_where_it_would_be_slow(requested):
    used, note = choose_backend(requested, AVX2_ONLY)
    assert used == "torch"
    assert requested in note and "AMD EPYC 7B12" in note and "slower" in note


def test_approximate_backends_stay_where_the_cpu_has_their_instructions():
    assert choose_backend("int8", SAPPHIRE) == ("int8", None)
    assert choose_backend("bf16", SAPPHIRE) == ("bf16", None)
    arm = CpuInfo("arm", 4, parse_cpuinfo(ARM)[1], "test")
    assert choose_backend("int8", arm) == ("int8", None)


def test_exact_backend_and_unknown_cpus_are_left_alone():
    assert choose_backend("torch", AVX2_ONLY) == ("torch", None)
    assert choose_backend("int8", UNKNOWN) == ("int8", None)  # nothing to judge by
    with pytest.raises(ValueError, match="unknown backend 'fp8'"):
        choose_backend("fp8", SAPPHIRE)


def test_encoder_warns_and_runs_exact_on_a_slow_cpu(monkeypatch, splade_tiny):
    from splade_lite.encoders import SpladeEncoder

    monkeypatch.setattr(backends, "cpu_info", lambda: AVX2_ONLY)
    with pytest.warns(RuntimeWarning, match="'int8' would be slower"):
        encoder = SpladeEncoder("splade-tiny", backend="int8")
    assert encoder.backend == "torch" and encoder.exact and "AMD EPYC" in encoder.backend_note
    text = ["vitamin d deficiency weakens bones"]
    assert encoder.encode(text) == splade_tiny.encode(text)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # asked not to check: no warning, int8 runs
        forced = SpladeEncoder("splade-tiny", backend="int8", check_cpu=False)
    assert forced.backend == "int8" and not forced.exact


def test_encode_logs_the_fallback_and_records_what_ran(monkeypatch, tmp_path, tiny_corpus):
    from splade_lite.encode import encode_corpus

    monkeypatch.setattr(backends, "cpu_info", lambda: AVX2_ONLY)
    lines: list[str] = []
    out = tmp_path / "vectors"
    encode_corpus(tiny_corpus, out, backend="bf16", progress=False, log=lines.append)
    assert any(line.startswith("warning: backend 'bf16' would be slower") for line in lines)
    assert json.loads((out / "vectors.json").read_text())["backend"] == "torch"
