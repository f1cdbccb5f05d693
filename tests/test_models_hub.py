"""A hub id on a machine that cannot reach the hub fails at once, from the local cache only
(issue 16, item 7: transformers alone retried for most of a minute)."""

from __future__ import annotations

import pytest

from splade_lite.encoders import models


@pytest.fixture()
def unreachable_hub(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: refused
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    models.hub_reachable.cache_clear()
    yield
    models.hub_reachable.cache_clear()


def test_an_unreachable_hub_means_the_cache_only(unreachable_hub, monkeypatch):
    import transformers

    seen = {}

    def from_pretrained(name, **options):
        seen.update(options)
        raise OSError(f"{name} is not in the cache")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", from_pretrained)
    source = models.resolve_model("some-org/some-model")
    with pytest.raises(OSError, match=r"127\.0\.0\.1:9 cannot be reached"):
        models.load_tokenizer(source)
    assert seen["local_files_only"] is True and seen["trust_remote_code"] is False


def test_a_reachable_hub_is_asked(monkeypatch):
    import socket

    class Answer:
        def close(self):
            pass

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(socket, "create_connection", lambda address, timeout: Answer())
    models.hub_reachable.cache_clear()
    try:
        options = models.load_options(models.resolve_model("some-org/some-model"))
    finally:
        models.hub_reachable.cache_clear()
    assert "local_files_only" not in options
