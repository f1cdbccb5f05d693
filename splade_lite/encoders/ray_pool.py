"""Document encoding in a pool of Ray actors, on this machine or across a Ray cluster.

The sibling of :class:`~splade_lite.encoders.parallel.ParallelEncoder`, with the same
interface: the driver (this process) keeps reading the corpus with splade-lite's one parser,
counting document frequencies and writing the shards; only the model's work goes to the
actors. Each actor loads the model once, by the name or folder the driver's encoder was
loaded from and with its settings (a torch model is never sent across), and encodes a whole
chunk of texts as :meth:`SpladeEncoder.encode` does in one process (same batches, same
order), so the vectors are the same. Chunks go to the least busy actor and come back in
the order given, with at most ``2 × actors`` in flight, so memory does not grow with the
corpus.

Ray Data is not used: its readers parse the input in Ray tasks (a second parser, whose
documents could differ from ours), and the driver needs every document anyway, for its
id, document frequencies, snippet and digest; actor calls fed from the driver's own stream
keep one parser and a bounded window.

A local cluster (no address) listens on 127.0.0.1 only and sends no usage statistics.
Every node needs the same splade-lite, torch and transformers as the driver and the model
at the same path (or installed under the same name): an actor checks both when it starts
and refuses a mismatch, since either could change the vectors.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from splade_lite import native_signals
from splade_lite.encoders.parallel import available_cores
from splade_lite.errors import BadValueError, StateError
from splade_lite.vectors import SparseVector

#: How the extra that brings Ray is installed.
RAY_EXTRA = "pip install 'splade-lite[ray]'"
#: How long the actors may take to be scheduled and to load the model.
START_TIMEOUT_S = 600.0
#: How long a pool waits for the cluster's free resources to hold it.
ROOM_WAIT_S = 10.0
#: How long a cluster's address has to answer a TCP connection.
CONNECT_TIMEOUT_S = 5.0
#: Packages whose versions decide the vectors: an actor's must be the driver's.
_DECIDING = ("splade-lite", "torch", "transformers")
#: Set while a local cluster starts (its processes inherit them): loopback addresses only,
#: no usage statistics sent.
_LOCAL_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def import_ray() -> Any:
    """The ``ray`` module, or a one-line error naming the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise StateError(f"encoding on Ray needs Ray: {RAY_EXTRA}") from None
    return ray


def _one_line(err: BaseException) -> str:
    """An exception as ``Type: first line of its message``."""
    cause = getattr(err, "cause", None)  # a RayTaskError wraps what the actor raised
    if isinstance(cause, BaseException):
        err = cause
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")


def check_address(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse, in one line, a ``host:port`` (or ``ray://host:port``) that does not answer.

    ``ray.init`` would retry such an address for minutes, printing a warning every few
    seconds; other forms (``auto``) are left to Ray.
    """
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as err:
        raise StateError(
            f"the Ray cluster at {address!r} does not answer ({err.strerror or err}): is "
            "`ray start --head` running there, and is the port open?"
        ) from None


@contextlib.contextmanager
def _quiet_local_start(ray: Any) -> Iterator[None]:
    """Loopback only and no usage statistics while a local cluster starts (or this process
    joins one on loopback), and no notice about Ray's token authentication (on by default);
    all restored afterwards."""
    saved = {key: os.environ.get(key) for key in _LOCAL_ENV}
    os.environ.update(_LOCAL_ENV)
    constants = getattr(getattr(ray, "_private", None), "ray_constants", None)
    cluster = getattr(constants, "ENABLE_RAY_CLUSTER", None)
    if cluster is not None:  # read when ray was imported: this process needs it too
        constants.ENABLE_RAY_CLUSTER = False
    auth_log = logging.getLogger("ray._private.authentication")
    level = auth_log.level
    auth_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        auth_log.setLevel(level)
        if cluster is not None:
            constants.ENABLE_RAY_CLUSTER = cluster
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def connect(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Join the Ray cluster at `address`, or start a local one with `num_cpus` CPUs (this
    machine's cores by default). True when this call did so (its caller shuts Ray down
    after), False when Ray was already running in this process (then it is used as it is).

    A cluster on this machine's loopback address (``127.0.0.1:PORT``, or what ``auto``
    finds there) is joined there: Ray would otherwise swap in the machine's network
    address, where such a cluster does not listen, and retry it for many minutes.
    """
    if address is not None:
        check_address(address)
    ray = import_ray()
    if ray.is_initialized():
        return False
    target = _find_auto(ray) if address == "auto" else address
    if target is not None and target != address:
        check_address(target)
    options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    local = target is None or _is_loopback(target)
    try:
        quiet = _quiet_local_start(ray) if local else contextlib.nullcontext()
        with quiet, native_signals.kept():  # a JVM in this process keeps its handlers
            if address is None:  # "local": never RAY_ADDRESS's cluster instead
                cpus = num_cpus or available_cores()
                ray.init(address="local", num_cpus=cpus, include_dashboard=False, **options)
            else:
                _use_token(ray)
                ray.init(address=target, **options)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as err:
        if address is None:
            raise StateError(f"could not start a local Ray: {_one_line(err)}") from None
        raise StateError(
            f"could not join the Ray cluster at {address!r}: {_one_line(err)} (does this "
            "machine have the cluster's token, in ~/.ray/auth_token or RAY_AUTH_TOKEN?)"
        ) from None
    return True


def disconnect() -> None:
    """Shut Ray down in this process, keeping a JVM's signal handlers (Ray resets them)."""
    with native_signals.kept():
        import_ray().shutdown()


def _use_token(ray: Any) -> None:
    """Authenticate with this machine's Ray token, where there is one, as Ray itself does
    only for ``auto``: clusters started with ``ray start`` ask for it by default."""
    setup = getattr(getattr(ray, "_private", None), "authentication", None)
    enable = getattr(
        getattr(setup, "authentication_token_setup", None),
        "maybe_enable_token_auth_if_token_available",
        None,
    )
    if enable is not None:
        with contextlib.suppress(Exception):
            enable(warn_if_disabled=False)


def _find_auto(ray: Any) -> str:
    """The address ``auto`` stands for (RAY_ADDRESS, or the cluster started last on this
    machine), as Ray finds it; ``auto`` itself when that cannot be asked."""
    services = getattr(getattr(ray, "_private", None), "services", None)
    try:
        return services.get_ray_address_from_environment("auto", None) or "auto"
    except Exception:  # not found (Ray's own error follows from ray.init), or moved
        return "auto"


def _is_loopback(address: str) -> bool:
    host = address.removeprefix("ray://").rpartition(":")[0].strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


class Plan(NamedTuple):
    """How many actors, with what each reserves and where it computes."""

    actors: int
    threads: int  # torch threads, and the CPUs each actor reserves
    num_gpus: float  # per actor; 0 on CPUs
    device: str  # "cuda" or "cpu"


def plan_actors(
    nodes: Sequence[dict[str, float]],
    actors: int | None = None,
    num_gpus: float | None = None,
    threads: int | None = None,
) -> Plan:
    """Fit the actors to the alive nodes' resources (``{"CPU": n, "GPU": m}`` each).

    With GPUs in the cluster (and `num_gpus` not 0), each actor takes `num_gpus` of one
    (1 by default), as many actors as fit by default. On CPUs, one actor per node by
    default, each with the most threads that let every actor find a node with that many
    free cores (so all of them start: Ray would leave one that fits nowhere waiting).
    """
    cpus = [int(node.get("CPU", 0)) for node in nodes]
    gpus = [float(node.get("GPU", 0)) for node in nodes]
    if num_gpus is None:
        num_gpus = 1.0 if sum(gpus) >= 1 else 0.0
    if num_gpus > 0:
        room = sum(int(g / num_gpus + 1e-9) for g in gpus)
        if room < 1 or (actors or 1) > room:
            raise BadValueError(
                f"the Ray cluster has {sum(gpus):g} GPU(s): room for {room} actor(s) of "
                f"{num_gpus:g} GPU each, not {actors or 1}"
            )
        return Plan(actors or room, threads or 1, float(num_gpus), "cuda")
    if actors is None:
        actors = max(1, sum(1 for c in cpus if c >= (threads or 1)))
    if threads is None:
        fitting = [t for t in range(max(cpus, default=0), 0, -1) if _room(cpus, t) >= actors]
        if not fitting:
            raise BadValueError(
                f"{actors} actors need at least {actors} CPUs; the Ray cluster has {sum(cpus)}"
            )
        threads = fitting[0]
    elif _room(cpus, threads) < actors:
        raise BadValueError(
            f"the Ray cluster's nodes have room for {_room(cpus, threads)} actor(s) of "
            f"{threads} threads, not {actors}"
        )
    return Plan(actors, threads, 0.0, "cpu")


def _room(cpus: Sequence[int], threads: int) -> int:
    return sum(c // threads for c in cpus)


class _EncoderActor:
    """Runs in a Ray worker: loads the model once, then encodes chunks."""

    def __init__(self) -> None:
        self.encoder: Any = None

    def load(self, model: str, options: dict, threads: int) -> dict:
        """Load the model; what the driver checks: weights, versions, where and how."""
        import torch

        from splade_lite import metadata as md
        from splade_lite.encoders.splade import SpladeEncoder

        torch.set_num_threads(threads)
        self.encoder = SpladeEncoder(model, check_cpu=False, **options)
        return {
            "model_sha256": self.encoder.source.weights_sha256(),
            "versions": md.software_versions(),
            "host": socket.gethostname(),
            "device": str(self.encoder.device),
            "threads": torch.get_num_threads(),
        }

    def encode(self, texts: list[str]) -> list[SparseVector]:
        from splade_lite.encoders.backends import release_free_memory

        try:
            return self.encoder.encode(texts)
        finally:
            release_free_memory()


class RayEncoder:
    """Encodes documents like `encoder` does, in `actors` Ray actors (see the module docstring).

    `encoder` (a loaded :class:`SpladeEncoder` or :class:`InferenceFreeEncoder`) stays in
    this process for its tokenizer, vocabulary and settings; queries are encoded by it here.
    `address` is a running cluster's (``host:port`` of ``ray start --head``, or ``auto``);
    without it a local cluster is started over this machine's cores, unless Ray already
    runs in this process, which is then used. `actors`, `num_gpus` (per actor) and `threads`
    (per actor) default to what :func:`plan_actors` fits to the cluster. Use as a context
    manager, or call :meth:`close`, to stop the actors (and the local cluster it started).
    """

    def __init__(
        self,
        encoder: Any,
        actors: int | None = None,
        address: str | None = None,
        num_gpus: float | None = None,
        threads: int | None = None,
        start_timeout: float = START_TIMEOUT_S,
    ) -> None:
        for name, value in (("actors", actors), ("threads", threads)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise BadValueError(f"{name} must be a whole number, got {value!r}")
            if value is not None and value < 1:
                raise BadValueError(f"{name} must be at least 1, got {value}")
        if num_gpus is not None and not num_gpus >= 0:
            raise BadValueError(f"num_gpus must be 0 or more, got {num_gpus}")
        documents = getattr(encoder, "documents", encoder)  # the SPLADE side of any mode
        self.encoder = encoder
        for attr in ("name", "source", "mode", "max_length", "batch_size", "terms", "tokenizer"):
            setattr(self, attr, getattr(encoder, attr))
        self.backend = getattr(documents, "backend", "torch")
        self.address = address
        self._actors: list[Any] = []
        self._busy: list[int] = []
        self._owns_ray = False
        self._ray = import_ray()
        self._owns_ray = connect(address)
        try:
            self._start(documents, actors, num_gpus, threads, start_timeout)
        except BaseException:
            self.close()
            raise

    def _start(self, documents, actors, num_gpus, threads, start_timeout: float) -> None:
        ray = self._ray
        nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
        self.plan = plan_actors(nodes, actors, num_gpus, threads)
        self._wait_for_room()
        import torch

        self.device = torch.device(self.plan.device)  # what settings record: where it ran
        options = {
            "max_length": documents.max_length,
            "batch_size": documents.batch_size,
            "device": str(self.device),
            "vocab_block": documents.vocab_block,
            "backend": self.backend,
        }
        remote = ray.remote(_EncoderActor).options(
            num_cpus=self.plan.threads,
            num_gpus=self.plan.num_gpus,
            scheduling_strategy="SPREAD",  # one per node first, where they fit
            max_restarts=0,
            max_task_retries=0,
        )
        self._actors = [remote.remote() for _ in range(self.plan.actors)]
        self._busy = [0] * len(self._actors)
        loads = [a.load.remote(documents.name, options, self.plan.threads) for a in self._actors]
        try:
            self.actor_info = ray.get(loads, timeout=start_timeout)
        except ray.exceptions.GetTimeoutError:
            raise StateError(
                f"the {self.plan.actors} Ray actor(s) did not start within {start_timeout:g} s "
                f"(each asks for {self.plan.threads} CPU(s)"
                + (f" and {self.plan.num_gpus:g} GPU" if self.plan.num_gpus else "")
                + "; is the cluster busy or short of them?)"
            ) from None
        except ray.exceptions.RayError as err:
            raise StateError(
                f"a Ray actor could not load model {documents.name!r}: {_one_line(err)} (the "
                "model must be at the same path, or installed, on every node)"
            ) from None
        self._check_actors(documents)

    def _wait_for_room(self, seconds: float = ROOM_WAIT_S) -> None:
        """Refuse at once a pool the cluster's free CPUs (or GPUs) cannot hold now, rather
        than wait with no word while other work holds them; resources just given back by
        other actors take a moment to show, hence the short wait."""
        plan, ray = self.plan, self._ray
        wanted = {"CPU": plan.actors * plan.threads, "GPU": plan.actors * plan.num_gpus}
        deadline = time.monotonic() + seconds
        while True:
            free = ray.available_resources()
            short = [k for k, n in wanted.items() if n and free.get(k, 0) + 1e-9 < n]
            if not short:
                return
            if time.monotonic() > deadline:
                what = ", ".join(
                    f"{wanted[k]:g} {k}s asked for, {free.get(k, 0):g} free" for k in short
                )
                raise StateError(
                    f"the Ray cluster has no room for {plan.actors} actor(s) now ({what}): "
                    "other work holds the rest; ask for fewer actors or threads"
                )
            time.sleep(0.2)

    def _check_actors(self, documents) -> None:
        """Refuse actors whose model weights or deciding package versions are not ours."""
        from splade_lite import metadata as md

        ours = md.software_versions()
        expected = documents.source.weights_sha256()
        for info in self.actor_info:
            if expected is not None and info["model_sha256"] != expected:
                raise StateError(
                    f"the model {documents.name!r} on Ray node {info['host']} has other "
                    "weights than here: every node needs the same model files"
                )
            for dist in _DECIDING:
                if info["versions"].get(dist) != ours.get(dist):
                    raise StateError(
                        f"Ray node {info['host']} has {dist} {info['versions'].get(dist)}, "
                        f"here {ours.get(dist)}: the vectors could differ; install the same "
                        "versions on every node"
                    )

    @property
    def record(self) -> dict:
        """What a run records of the pool in ``vectors.json`` (never compared on resume)."""
        return {
            "address": self.address or "local",
            "actors": self.plan.actors,
            "threads": self.plan.threads,
            "num_gpus": self.plan.num_gpus,
            "hosts": sorted({info["host"] for info in self.actor_info}),
        }

    # -- the encoder interface ------------------------------------------------------------
    def encode_documents(self, texts: Sequence[str]) -> list[SparseVector]:
        """One chunk, encoded by one actor (use :meth:`encode_chunks` to keep all busy)."""
        texts = list(texts)
        if not texts:
            return []
        return next(iter(self.encode_chunks([texts])))

    def encode_queries(self, texts: Sequence[str]) -> list[SparseVector]:
        return self.encoder.encode_queries(texts)

    def encode_chunks(self, chunks: Iterable[list[str]]) -> Iterator[list[SparseVector]]:
        """The vectors of each chunk of texts, in order, encoded by the actors in parallel."""
        if not self._actors:
            raise StateError("this RayEncoder is closed")
        pending: deque[tuple[Any, int]] = deque()
        window = 2 * len(self._actors)
        try:
            for texts in chunks:
                pending.append(self._submit(list(texts)))
                if len(pending) >= window:
                    yield self._result(*pending.popleft())
            while pending:
                yield self._result(*pending.popleft())
        finally:
            for ref, actor in pending:  # abandoned: drop what the actors had not started
                self._busy[actor] -= 1
                with contextlib.suppress(Exception):
                    self._ray.cancel(ref)

    def _submit(self, texts: list[str]) -> tuple[Any, int]:
        actor = min(range(len(self._actors)), key=self._busy.__getitem__)
        self._busy[actor] += 1
        return self._actors[actor].encode.remote(texts), actor

    def _result(self, ref: Any, actor: int) -> list[SparseVector]:
        exceptions = self._ray.exceptions
        try:
            return self._ray.get(ref)
        except exceptions.RayActorError as err:
            raise StateError(
                f"Ray actor {actor + 1} of {len(self._actors)} died while encoding: "
                f"{_one_line(err)}"
            ) from None
        except exceptions.RayError as err:
            raise StateError(
                f"Ray actor {actor + 1} of {len(self._actors)} failed to encode a chunk: "
                f"{_one_line(err)}"
            ) from None
        finally:
            self._busy[actor] -= 1

    def close(self) -> None:
        """Stop the actors (what was not yet encoded is dropped), and a Ray this started."""
        actors, self._actors = self._actors, []
        for actor in actors:
            with contextlib.suppress(Exception):
                self._ray.kill(actor, no_restart=True)
        if self._owns_ray:
            self._owns_ray = False
            disconnect()

    def __enter__(self) -> RayEncoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
