"""The indexes one server answers: opened once at start, named, their searchers shared.

Requests name an index by its name (its folder's name, made unique), never by a path, so
nothing a client sends reaches the file system. Each index gets at start the searchers of
its default rankings (learned sparse; BM25 and hybrid where a BM25 index is beside it),
shared by every request: a :class:`~splade_lite.search.Searcher` may be used by threads
at once. An index with a dense index beside it (``index --dense-model``) also ranks by it,
alone or as the third list of the hybrid: those two searchers open on the first request
that asks for them, and their model loads on their first query, so a server that is never
asked for dense pays nothing for it. A ranking with other settings (hybrid fusion, feedback)
opens a searcher of its own on first use, kept in a small cache of the most recently used
ones.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splade_lite import metadata as md
from splade_lite.errors import BadValueError, MissingFileError, UnknownIdError
from splade_lite.feedback import Feedback
from splade_lite.fusion import Hybrid
from splade_lite.search import Searcher

#: Searchers with settings other than the defaults kept open at once (each opens its
#: Lucene indexes and its own query encoder).
MAX_VARIANTS = 8

#: What a ranking asks for: mode (``sparse``, ``bm25``, ``hybrid``), dense, hybrid, feedback.
Variant = tuple[str, bool, Hybrid | None, Feedback | None]


def unique_names(folders: Sequence[Path]) -> list[str]:
    """A name per folder: its own name, then ``-2``, ``-3`` ... for a name already taken."""
    names: list[str] = []
    for folder in folders:
        base = folder.name or "index"
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}-{n}"
        names.append(name)
    return names


@dataclass
class ServedIndex:
    """One index: its name, folder and the searchers of its default rankings.

    `dense_model` names the model of its dense index (None: it has none); its default dense
    searchers (``"sparse"``: dense alone, ``"hybrid"``: the three-way hybrid) are opened on
    first use by :meth:`Registry.searcher` and kept in `dense`.
    """

    name: str
    path: Path
    sparse: Searcher
    bm25: Searcher | None
    hybrid: Searcher | None
    dense_model: str | None = None
    dense: dict[str, Searcher] = field(default_factory=dict, repr=False)
    dense_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def meta(self) -> dict[str, Any]:
        return self.sparse.meta

    @property
    def modes(self) -> list[str]:
        """The values of `mode` this index answers (where :attr:`has_dense`, sparse and hybrid
        also take ``dense``)."""
        return ["sparse"] + (["bm25", "hybrid"] if self.bm25 is not None else [])

    @property
    def has_dense(self) -> bool:
        """Whether a dense index is beside it (requests may ask for ``dense``)."""
        return self.dense_model is not None

    def info(self) -> dict[str, Any]:
        """What a client may know of the index (never its path)."""
        meta = self.meta
        pruning = self.sparse.pruning
        return {
            "name": self.name,
            "mode": self.sparse.mode,
            "modes": self.modes,
            "model": meta.get("model"),
            "engine": self.sparse.engine,
            "documents": meta.get("num_docs"),
            "pruning": pruning.describe() if pruning is not None else None,
            "dense": self.has_dense,
            "dense_model": self.dense_model,
        }

    def public(self, message: str) -> str:
        """`message` with the index's folder named as clients know it (by its name)."""
        for where in {str(self.path), str(self.path.resolve())}:
            message = message.replace(where, f"index {self.name!r}")
        return message


class Registry:
    """The indexes of `folders`, opened now (a folder that is not an index is refused here,
    before the server starts), each under a unique name."""

    def __init__(
        self,
        folders: Iterable[str | Path],
        *,
        max_variants: int = MAX_VARIANTS,
        concurrency: int | None = None,
        threads: int | None = None,
    ) -> None:
        """`threads`: torch threads of each query encoding, set when a dense searcher opens
        (a dense model needs torch; a SPLADE index's encoder is its caller's to set)."""
        from splade_lite.encoders.parallel import available_cores

        paths = [Path(f) for f in folders]
        if not paths:
            raise BadValueError("give at least one index folder to serve")
        if concurrency is not None and (isinstance(concurrency, bool) or concurrency < 1):
            raise BadValueError(f"concurrency must be at least 1, got {concurrency!r}")
        self.max_variants = max_variants
        self.threads = threads
        #: Searches run at once (the others wait their turn): more than the cores only
        #: makes every one of them slower.
        self.concurrency = concurrency or available_cores()
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._indexes: dict[str, ServedIndex] = {}
        for name, path in zip(unique_names(paths), paths):
            sparse = Searcher(path)
            bm25 = hybrid = None
            if sparse.meta.get("bm25") and (path / md.BM25_DIR).is_dir():
                bm25 = Searcher(path, bm25=True)
                hybrid = Searcher(path, hybrid=True)
            dense = _dense_model(path, sparse.meta)
            self._indexes[name] = ServedIndex(name, path, sparse, bm25, hybrid, dense)
        self._lock = threading.Lock()
        self._variants: OrderedDict[tuple[str, Variant], Searcher] = OrderedDict()

    @property
    def names(self) -> list[str]:
        return list(self._indexes)

    def __iter__(self):
        return iter(self._indexes.values())

    def __len__(self) -> int:
        return len(self._indexes)

    def get(self, name: str) -> ServedIndex:
        """The index of that name (an unknown one: :class:`UnknownIdError`)."""
        found = self._indexes.get(name)
        if found is None:
            known = ", ".join(map(repr, self._indexes))
            raise UnknownIdError(f"no index named {name!r} here; the indexes are {known}")
        return found

    @contextmanager
    def working(self) -> Iterator[None]:
        """Hold one of the :attr:`concurrency` search slots while searching."""
        with self._slots:
            yield

    def warm(self) -> None:
        """Load every query encoder now, so that no first request waits for a model.

        Dense models are left to the first request that asks for one: loading them costs
        seconds and memory that a server never asked for dense would waste.
        """
        for served in self:
            for searcher in (served.sparse, served.hybrid):
                if searcher is not None:
                    searcher.query_terms(["warm up"])

    def searcher(
        self,
        name: str,
        mode: str = "sparse",
        hybrid: Hybrid | None = None,
        feedback: Feedback | None = None,
        dense: bool = False,
    ) -> Searcher:
        """The searcher of one ranking of index `name`: a default one, else a cached one.

        `dense`: rank with the dense index, alone (mode ``sparse``) or as the third list of
        mode ``hybrid``; the settings that do not fit are refused by the searcher itself.
        """
        served = self.get(name)
        if mode not in ("sparse", "bm25", "hybrid"):
            raise BadValueError(f"unknown mode {mode!r}; choose sparse, bm25 or hybrid")
        if mode != "sparse" and served.bm25 is None:
            raise BadValueError(
                f"index {name!r} has no BM25 index beside it, so it ranks by sparse only"
            )
        if mode == "sparse" and hybrid is not None:
            raise BadValueError("hybrid settings apply with mode hybrid only")
        if dense:
            return self._dense(served, mode, hybrid, feedback)
        if mode == "bm25":
            if hybrid is not None or feedback is not None:
                raise BadValueError("bm25 ranks with BM25 alone; hybrid and feedback need sparse")
            return served.bm25  # type: ignore[return-value]
        if mode == "hybrid" and hybrid is None:
            hybrid = Hybrid()
        if feedback is None and hybrid in (None, Hybrid()):
            return served.sparse if mode == "sparse" else served.hybrid  # type: ignore[return-value]
        return self._variant(served, (mode, False, hybrid, feedback))

    def _dense(
        self, served: ServedIndex, mode: str, hybrid: Hybrid | None, feedback: Feedback | None
    ) -> Searcher:
        """A dense ranking's searcher: the index's default one of `mode`, else a variant."""
        if not served.has_dense:
            from splade_lite.index_dense import dense_record

            dense_record(served.path, served.meta)  # raises the refusal that says how to build
        if mode == "hybrid" and hybrid is None:
            hybrid = Hybrid()
        if mode == "bm25" or feedback is not None or hybrid not in (None, Hybrid()):
            return self._variant(served, (mode, True, hybrid, feedback))
        with served.dense_lock:  # one open per index and mode, however many ask at once
            found = served.dense.get(mode)
            if found is None:
                found = Searcher(served.path, hybrid=mode == "hybrid", dense=True)
                self._torch_threads()
                served.dense[mode] = found
            return found

    def _torch_threads(self) -> None:
        """Set torch's threads before a dense model loads (at the searcher's first query)."""
        if self.threads is not None:
            import torch

            torch.set_num_threads(self.threads)

    def _variant(self, served: ServedIndex, variant: Variant) -> Searcher:
        key = (served.name, variant)
        with self._lock:
            found = self._variants.get(key)
            if found is not None:
                self._variants.move_to_end(key)
                return found
            mode, dense, hybrid, feedback = variant
            made = Searcher(
                served.path,
                bm25=mode == "bm25",  # only with dense, to be refused as search refuses it
                hybrid=hybrid or False,
                feedback=feedback or False,
                dense=dense,
            )
            if dense:  # made, so not refused: its model loads at its first query
                self._torch_threads()
            self._variants[key] = made
            while len(self._variants) > self.max_variants:
                self._variants.popitem(last=False)  # its requests in flight keep it alive
            return made

    def close(self) -> None:
        """Drop every searcher (Lucene's files close as Java collects them)."""
        with self._lock:
            self._variants.clear()
        for served in self._indexes.values():
            served.dense.clear()
        self._indexes.clear()


def _dense_model(path: Path, meta: dict[str, Any]) -> str | None:
    """The model of the dense index beside `path` (as searches find it), or None."""
    from splade_lite.index_dense import dense_record

    try:
        return str(dense_record(path, meta).get("model"))
    except MissingFileError:
        return None
