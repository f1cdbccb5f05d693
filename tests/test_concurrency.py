"""Concurrent use: one Searcher shared by threads, and two processes on one index, give
exactly the results of serial search."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest

from splade_lite.search import Searcher

pytestmark = pytest.mark.jvm

WORDS = "vitamin bones sleep heart aurora solar coffee caffeine program seconds café the".split()
# every pair of words (66 queries), then a blank query and a stopword-only one
QUERIES = [f"{a} {b}" for i, a in enumerate(WORDS) for b in WORDS[i + 1 :]] + ["", "the of"]


@pytest.fixture(scope="module")
def indexes(tiny_built) -> dict[str, Path]:
    """The session's small indexes (conftest.py), one per mode."""
    return {"splade": tiny_built / "index", "inference-free": tiny_built / "index-if"}


def as_pairs(results) -> list[list[tuple[str, float]]]:
    return [[(h.docid, h.score) for h in hits] for hits in results]


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("splade", {}),
        ("splade", {"hybrid": True}),
        ("splade", {"feedback": True}),
        ("inference-free", {}),
    ],
)
def test_threads_sharing_a_searcher_get_the_serial_results(indexes, name, options):
    serial = Searcher(indexes[name], **options)
    expected = [serial.batch_search([q], k=5)[0] for q in QUERIES]
    assert any(expected) and not expected[-2]  # the blank query matches nothing

    shared = Searcher(indexes[name], **options)  # nothing loaded yet: threads race to load
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda q: shared.batch_search([q], k=5)[0], QUERIES))
        batches = list(pool.map(lambda part: shared.batch_search(part, k=5, threads=2), [
            QUERIES[i : i + 10] for i in range(0, len(QUERIES), 10)
        ]))  # fmt: skip
    assert got == expected
    assert [hits for part in batches for hits in part] == expected


def test_threads_explaining_and_searching_at_once(indexes):
    searcher = Searcher(indexes["splade"])
    queries = QUERIES[:20]
    expected = [
        [(h.docid, searcher.explain(q, h.docid).score) for h in searcher.search(q, k=2)]
        for q in queries
    ]

    def both(query: str):
        return [
            (h.docid, searcher.explain(query, h.docid).score) for h in searcher.search(query, 2)
        ]

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(both, queries)) == expected


def _search_in_child(index: str, queries: list[str]) -> list[list[tuple[str, float]]]:
    """Run in a spawned process: its own JVM and model, the same index folder."""
    return as_pairs(Searcher(index).batch_search(queries, k=10))


@pytest.mark.slow  # two spawned processes, each starting a JVM and loading the model
def test_two_processes_search_one_index(indexes):
    expected = as_pairs(Searcher(indexes["splade"]).batch_search(QUERIES, k=10))
    spawn = multiprocessing.get_context("spawn")  # never fork a process that runs a JVM
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        children = [pool.submit(_search_in_child, str(indexes["splade"]), QUERIES) for _ in "ab"]
        results = [child.result(timeout=300) for child in children]
    assert results == [expected, expected]
