"""Lucene indexes through Pyserini's Anserini jar: build, search, read back.

The only part of splade-lite that touches Java. Importing it starts nothing: the JVM is
started on first use (see :mod:`splade_lite.indexer.jvm` for its limits), and index builds
run Java in a subprocess. What Lucene and Anserini can hold is in
:mod:`splade_lite.indexer.limits`; Java's exceptions become Python errors at the boundary
(:mod:`splade_lite.indexer.errors`).
"""

from __future__ import annotations

from splade_lite.indexer.build import (
    IndexBuildError,
    IndexStats,
    build_bm25_index,
    build_impact_index,
    build_impact_shards,
)
from splade_lite.indexer.errors import LuceneError
from splade_lite.indexer.jvm import (
    JavaError,
    anserini_jar,
    autoclass,
    java_executable,
    java_home,
    start_jvm,
)
from splade_lite.indexer.lucene import (
    BM25Index,
    IdfQueries,
    ImpactIndex,
    checked_idf_queries,
    hybrid_search,
    hybrid_text_search,
    impact_query,
)
from splade_lite.indexer.reader import (
    count_documents,
    index_terms_df,
    lucene_problem,
    read_document_vectors,
)

__all__ = [
    "BM25Index",
    "IdfQueries",
    "ImpactIndex",
    "IndexBuildError",
    "IndexStats",
    "JavaError",
    "LuceneError",
    "anserini_jar",
    "autoclass",
    "build_bm25_index",
    "build_impact_index",
    "build_impact_shards",
    "checked_idf_queries",
    "count_documents",
    "hybrid_search",
    "hybrid_text_search",
    "impact_query",
    "index_terms_df",
    "java_executable",
    "java_home",
    "lucene_problem",
    "read_document_vectors",
    "start_jvm",
]
