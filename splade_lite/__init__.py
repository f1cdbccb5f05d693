"""splade-lite: learned sparse retrieval on a laptop CPU.

encode (SPLADE or inference-free) -> Lucene impact index (Pyserini's Anserini) -> search
-> evaluate. Importing the package is cheap: torch and Java load only when first needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> module that defines it (loaded on first access)
_EXPORTS = {
    "SparseVector": "splade_lite.vectors",
    "SpladeEncoder": "splade_lite.encoders",
    "InferenceFreeEncoder": "splade_lite.encoders",
    "load_encoder": "splade_lite.encoders",
    "encode_corpus": "splade_lite.encode",
    "build_index": "splade_lite.index",
    "export_index": "splade_lite.index",
    "Searcher": "splade_lite.search",
    "Hit": "splade_lite.search",
    "TextHit": "splade_lite.search",
    "evaluate": "splade_lite.evaluate",
    "compare": "splade_lite.compare",
    "read_corpus": "splade_lite.io",
    "read_queries": "splade_lite.trec",
    "read_qrels": "splade_lite.trec",
    "write_trec_run": "splade_lite.trec",
    "read_trec_run": "splade_lite.trec",
}

__all__ = [
    "Hit",
    "InferenceFreeEncoder",
    "Searcher",
    "SparseVector",
    "TextHit",
    "SpladeEncoder",
    "__version__",
    "build_index",
    "compare",
    "encode_corpus",
    "evaluate",
    "export_index",
    "load_encoder",
    "read_corpus",
    "read_qrels",
    "read_queries",
    "read_trec_run",
    "write_trec_run",
]

if TYPE_CHECKING:
    from splade_lite.compare import compare
    from splade_lite.encode import encode_corpus
    from splade_lite.encoders import InferenceFreeEncoder, SpladeEncoder, load_encoder
    from splade_lite.evaluate import evaluate
    from splade_lite.index import build_index, export_index
    from splade_lite.io import read_corpus
    from splade_lite.search import Hit, Searcher, TextHit
    from splade_lite.trec import read_qrels, read_queries, read_trec_run, write_trec_run
    from splade_lite.vectors import SparseVector


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'splade_lite' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
