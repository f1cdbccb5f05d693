"""Encoding on Ray writes what one process writes: same shards, df.json and metadata; an
interrupted Ray run resumes to the same folder; failures surface as one-line errors.

The Ray tests share one local Ray session of 2 CPUs (starting Ray costs seconds) and one
pool of 2 actors; they skip where Ray is not installed (``pip install 'splade-lite[ray]'``).
"""

from __future__ import annotations

import json
import random
import shutil
import socket
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from splade_lite.encode import encode_corpus
from splade_lite.errors import BadValueError, StateError

#: No Ray call here should take this long: past it, the test fails as a hang.
HANG_S = 180
OPTIONS = {"batch_size": 4, "shard_size": 300, "progress": False}  # chunks of 256 documents
#: vectors.json fields that differ between any two runs (times, and where the run was).
TIMES = ("seconds", "docs_per_second")


@pytest.fixture(scope="module")
def corpus_700(tmp_path_factory) -> Path:
    """700 short documents of varied length: shards of 300, 300, 100; two chunks (256 + 44)
    in each full shard."""
    rng = random.Random(11)
    words = (
        "vitamin bone sleep heart aurora solar wind coffee caffeine python program seconds "
        "cell protein gene risk older adults disease study trial dose effect naïve café"
    ).split()
    path = tmp_path_factory.mktemp("corpus700") / "corpus.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for i in range(700):
            text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 50)))
            doc = {"_id": f"d{i}", "title": rng.choice(["", "Title"]), "text": text}
            handle.write(json.dumps(doc, ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="module")
def ray_session():
    """One local Ray of 2 CPUs for this module; RayEncoders use it (and leave it running)."""
    ray = pytest.importorskip("ray")
    from splade_lite.encoders.ray_pool import connect, disconnect

    started = connect(num_cpus=2)
    yield ray
    if started:
        disconnect()  # ray.shutdown(), keeping the JVM's signal handlers


@pytest.fixture(scope="module")
def _pools(ray_session):
    """The module's pool, kept between tests (its actors take seconds to load the model)."""
    pools: dict[str, object] = {}
    yield pools
    for encoder in pools.values():
        encoder.close()


@pytest.fixture
def pool(_pools, splade_tiny):
    """2 actors of 1 thread over the session's splade-tiny: the 2 CPUs of the module's Ray."""
    from splade_lite.encoders.ray_pool import RayEncoder

    if "pool" not in _pools:
        _pools["pool"] = RayEncoder(splade_tiny, actors=2, start_timeout=HANG_S)
    return _pools["pool"]


@pytest.fixture
def free_cpus(_pools, ray_session):
    """The module's 2 CPUs, with the shared pool stopped (a test needing them comes last)."""
    encoder = _pools.pop("pool", None)
    if encoder is not None:
        encoder.close()
    return ray_session


@pytest.fixture(scope="module")
def one_process(tmp_path_factory, corpus_700, splade_tiny) -> Path:
    """The corpus encoded by one process: the reference."""
    out = tmp_path_factory.mktemp("plain") / "vectors"
    encode_corpus(corpus_700, out, encoder=splade_tiny, **OPTIONS)
    return out


def _folder(folder: Path) -> dict[str, object]:
    """Every file of a vectors folder by relative path: bytes, vectors.json parsed without
    its times (a shard's encoding time is in no other file)."""
    files: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            files[str(path.relative_to(folder))] = path.read_bytes()
    meta = json.loads(files.pop("vectors.json"))
    for key in TIMES:
        meta.pop(key)
    files["vectors.json"] = meta
    return files


def _within(seconds: float, call):
    """What `call()` returns (or raises), failing the test if it takes over `seconds`."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as err:  # handed to the test's thread
            box["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"no answer after {seconds} s: a hang"
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box.get("value")


# -- without a cluster ---------------------------------------------------------------------
def test_plan_fits_actors_to_the_nodes():
    from splade_lite.encoders.ray_pool import plan_actors

    two_cores = [{"CPU": 2}]
    assert plan_actors(two_cores, actors=1) == (1, 2, 0.0, "cpu")
    assert plan_actors(two_cores, actors=2) == (2, 1, 0.0, "cpu")
    assert plan_actors(two_cores).actors == 1  # one per node by default, all its cores
    # 3 actors on nodes of 8 and 4 cores: 4 threads each fits (2 + 1), 5 would not
    assert plan_actors([{"CPU": 8}, {"CPU": 4}], actors=3).threads == 4
    assert plan_actors([{"CPU": 8}, {"CPU": 4}]) == (2, 4, 0.0, "cpu")
    with pytest.raises(BadValueError, match="3 actors need at least 3 CPUs"):
        plan_actors(two_cores, actors=3)
    with pytest.raises(BadValueError, match="room for 1 actor"):
        plan_actors(two_cores, actors=2, threads=2)
    gpus = [{"CPU": 16, "GPU": 2}, {"CPU": 16, "GPU": 1}]
    assert plan_actors(gpus) == (3, 1, 1.0, "cuda")
    assert plan_actors(gpus, num_gpus=0.5).actors == 6
    assert plan_actors(gpus, num_gpus=0, actors=2).device == "cpu"
    with pytest.raises(BadValueError, match="room for 3 actor"):
        plan_actors(gpus, actors=4)


#: What RayEncoder reads of an encoder before it reaches Ray.
STAND_IN = SimpleNamespace(
    name="m", source=None, mode="splade", max_length=8, batch_size=1, terms=[], tokenizer=None
)


def test_bad_arguments_and_missing_ray_are_one_line_errors(monkeypatch):
    from splade_lite.encoders.ray_pool import RayEncoder

    stand_in = STAND_IN
    for bad in ({"actors": 0}, {"threads": 0}, {"actors": 1.5}, {"num_gpus": -1}):
        with pytest.raises(BadValueError):
            RayEncoder(stand_in, **bad)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(StateError, match=r"pip install 'splade-lite\[ray\]'") as caught:
        RayEncoder(stand_in)
    assert "\n" not in str(caught.value)


def test_an_address_that_does_not_answer_is_one_line():
    from splade_lite.encoders.ray_pool import RayEncoder

    with socket.socket() as probe:  # a port nothing listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StateError, match="does not answer") as caught:
        _within(30, lambda: RayEncoder(STAND_IN, address=f"127.0.0.1:{port}"))
    assert "\n" not in str(caught.value) and str(port) in str(caught.value)


def test_pool_settings_are_checked_before_anything_starts(tmp_path, corpus_700):
    from splade_lite.encode_pools import check_pool

    for bad, message in (
        ({"workers": 2, "ray": "local"}, "not both"),
        ({"ray_actors": 2}, "need ray"),
        ({"ray_gpus": 1.0}, "need ray"),
        ({"ray": "corpus.jsonl"}, "Ray cluster's address"),
        ({"ray": ""}, "Ray cluster's address"),
    ):
        with pytest.raises(BadValueError, match=message):
            check_pool(**bad)
        with pytest.raises(BadValueError, match=message):  # before the corpus or the model
            encode_corpus(corpus_700, tmp_path / "v", model="no/such-model", **bad)
        assert not (tmp_path / "v").exists()
    check_pool(ray="head.example.org:6379")
    check_pool(ray="ray://10.0.0.1:10001")


def test_cli_ray_options_without_ray_are_a_usage_error(tmp_path, corpus_700):
    from click.testing import CliRunner

    from splade_lite.cli import main

    out = tmp_path / "v"
    result = CliRunner().invoke(
        main, ["encode", str(corpus_700), "--out", str(out), "--ray-actors", "2"]
    )
    assert result.exit_code == 2 and "add --ray" in result.output
    assert not out.exists()


# -- on a local Ray ------------------------------------------------------------------------
@pytest.mark.slow  # Ray and its actors start
def test_ray_writes_the_same_folder_as_one_process(tmp_path, pool, one_process, corpus_700):
    assert pool.plan.actors == 2 and pool.plan.threads == 1
    out = tmp_path / "ray"
    summary = _within(HANG_S, lambda: encode_corpus(corpus_700, out, encoder=pool, **OPTIONS))
    assert summary.num_docs == 700
    ray_files, plain_files = _folder(out), _folder(one_process)
    shards = [name for name in plain_files if name.startswith("part-")]
    assert shards == ["part-00000.jsonl", "part-00001.jsonl", "part-00002.jsonl"]
    assert ray_files["vectors.json"].pop("ray") == pool.record  # recorded, nothing else differs
    assert ray_files == plain_files  # byte for byte, df.json and snippets included
    assert pool.record["actors"] == 2 and pool.record["address"] == "local"


@pytest.mark.slow
def test_chunks_come_back_in_order_from_both_actors(pool, splade_tiny):
    texts = [f"{word} " * n for n, word in enumerate("bone sleep heart aurora wind".split())]
    chunks = [texts[i:] + texts[:i] for i in range(len(texts))] * 2  # more than the window
    got = _within(HANG_S, lambda: list(pool.encode_chunks(iter(chunks))))
    assert got == [splade_tiny.encode(chunk) for chunk in chunks]
    assert pool.encode_documents([]) == []
    assert pool.encode_queries(["bone"]) == splade_tiny.encode_queries(["bone"])


class _Interrupted(Exception):
    """Stands for a run stopped part way (Ctrl-C, a lost machine)."""


class _StopsAfter:
    """`encoder`, whose chunks stop coming after `chunks` of them."""

    def __init__(self, encoder, chunks: int) -> None:
        self._encoder, self._left = encoder, chunks

    def __getattr__(self, name: str):
        return getattr(self._encoder, name)

    def encode_chunks(self, chunks):
        for vectors in self._encoder.encode_chunks(chunks):
            if self._left == 0:
                raise _Interrupted
            self._left -= 1
            yield vectors


@pytest.mark.slow
def test_an_interrupted_ray_run_resumes_to_the_same_folder(tmp_path, pool, one_process, corpus_700):
    out = tmp_path / "ray"
    stopping = _StopsAfter(pool, chunks=3)  # shard 0 whole, shard 1 half written
    with pytest.raises(_Interrupted):
        _within(HANG_S, lambda: encode_corpus(corpus_700, out, encoder=stopping, **OPTIONS))
    assert (out / "part-00000.jsonl").is_file() and not (out / "part-00001.jsonl").exists()
    assert not (out / "vectors.json").exists()
    logged: list[str] = []
    summary = _within(
        HANG_S,
        lambda: encode_corpus(
            corpus_700, out, encoder=pool, resume=True, log=logged.append, **OPTIONS
        ),
    )
    assert summary.num_docs == 700
    assert any("300 documents in 1 shard(s)" in line for line in logged)
    resumed = _folder(out)
    assert resumed["vectors.json"].pop("ray")["actors"] == 2
    assert resumed == _folder(one_process)  # progress file gone, nothing else left


@pytest.mark.slow
def test_an_exception_in_an_actor_is_one_line_and_the_pool_goes_on(pool, splade_tiny):
    with pytest.raises(StateError, match="failed to encode a chunk: TypeError") as caught:
        _within(HANG_S, lambda: pool.encode_documents([None]))  # not a text
    assert "\n" not in str(caught.value)
    assert _within(HANG_S, lambda: pool.encode_documents(["bone"])) == splade_tiny.encode(["bone"])


@pytest.mark.slow
def test_a_pool_the_cluster_has_no_room_for_is_refused_not_left_waiting(pool, splade_tiny):
    from splade_lite.encoders.ray_pool import RayEncoder

    assert pool.plan.actors * pool.plan.threads == 2  # the shared pool holds both CPUs
    with pytest.raises(StateError, match="no room for 1 actor") as caught:
        _within(HANG_S, lambda: RayEncoder(splade_tiny, actors=1, threads=1))
    assert "\n" not in str(caught.value)


@pytest.mark.slow
def test_a_dead_actor_is_an_error_not_a_hang(free_cpus, splade_tiny):
    from splade_lite.encoders.ray_pool import RayEncoder

    ray_session = free_cpus
    with RayEncoder(splade_tiny, actors=1, start_timeout=HANG_S) as alone:
        assert alone.plan.threads == 2  # one actor: both cores
        ray_session.kill(alone._actors[0])
        with pytest.raises(StateError, match="died while encoding") as caught:
            _within(HANG_S, lambda: list(alone.encode_chunks([["bone"], ["heart"]])))
        assert "\n" not in str(caught.value)
    assert ray_session.is_initialized()  # the module's Ray, not this encoder's: still up


@pytest.mark.slow
def test_a_model_missing_on_the_nodes_is_named(tmp_path, free_cpus, splade_tiny):
    from splade_lite.encoders import SpladeEncoder
    from splade_lite.encoders.ray_pool import RayEncoder

    folder = tmp_path / "model"
    shutil.copytree(splade_tiny.source.mlm, folder)
    here_only = SpladeEncoder(folder)  # loaded here, then gone: as on a node without it
    shutil.rmtree(folder)
    with pytest.raises(StateError, match="could not load model") as caught:
        _within(HANG_S, lambda: RayEncoder(here_only, actors=1, start_timeout=HANG_S))
    assert str(folder) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.slow
def test_cli_encode_with_ray_writes_one_process_folder(
    tmp_path, free_cpus, one_process, corpus_700
):
    from click.testing import CliRunner

    from splade_lite.cli import main

    out = tmp_path / "ray"
    args = ["encode", str(corpus_700), "--out", str(out), "--batch-size", "4"]
    args += ["--shard-size", "300", "--quiet", "--ray", "--ray-actors", "2"]  # --ray: no address
    result = _within(HANG_S, lambda: CliRunner().invoke(main, args))
    assert result.exit_code == 0, result.output
    assert "Ray: 2 actor(s) of 1 thread(s)" in result.output
    files = _folder(out)
    record = files["vectors.json"].pop("ray")  # type: ignore[union-attr]
    assert record["actors"] == 2 and record["threads"] == 1 and record["address"] == "local"
    assert files == _folder(one_process)
    assert free_cpus.is_initialized()  # the module's Ray, used as it was, is still up


#: Run in a fresh process: a JVM, then Ray started and shut down, then the JVM's handlers.
JVM_THEN_RAY = r"""
import ctypes, json, signal
from splade_lite.encoders.ray_pool import connect, disconnect
from splade_lite.indexer.lucene import java_classes
from splade_lite.native_signals import JVM_SIGNALS

def handlers():
    out = []
    for number in JVM_SIGNALS:
        buffer = ctypes.create_string_buffer(1024)
        ctypes.CDLL(None).sigaction(int(number), None, buffer)
        out.append(buffer.raw[:8].hex())
    return out

java_classes()
jvm = handlers()
connect(num_cpus=1)
with_ray = handlers()
disconnect()
print(json.dumps({"jvm": jvm, "with_ray": with_ray, "after": handlers()}))
"""


@pytest.mark.slow
@pytest.mark.jvm
def test_a_jvm_started_before_ray_keeps_its_signal_handlers():
    # Ray installs crash handlers when it connects and resets SIGSEGV and others when it
    # shuts down: the JVM, which raises Java exceptions from them, would then crash the
    # process at its next one (as it did the test suite, in a damaged-index test)
    import subprocess

    pytest.importorskip("ray")
    done = subprocess.run(
        [sys.executable, "-c", JVM_THEN_RAY], capture_output=True, text=True, timeout=HANG_S
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert all(h != "0" * 16 for h in seen["jvm"])  # the JVM did install handlers
    assert seen["with_ray"] == seen["jvm"] and seen["after"] == seen["jvm"]
