"""What the serve tests share: the test client's base address, a JSON post, the check of a
one-line refusal, and the hits the in-process Searcher gives for a query."""

from __future__ import annotations

from splade_lite.cli_render import hits_json

BASE = "http://127.0.0.1"


def post(client, path, **body):
    return client.post(path, json=body)


def refused(response, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and "Traceback" not in detail
    for word in words:
        assert word in detail, detail
    return detail


def expected_hits(searcher, query, k=10):
    found = searcher.search(query, k=k, text=True)
    return [{**h, "text": hit.text} for h, hit in zip(hits_json(found), found)]
