"""`push` to OpenSearch and Elasticsearch: the requests the official clients send.

No OpenSearch or Elasticsearch server can run on these machines, so each client is given a
recording transport at its HTTP layer (opensearch-py's ``connection_class``, elasticsearch's
``node_class``) in front of a small fake cluster that answers as the documented APIs do. The
requests are checked against the documented shapes: ``PUT /NAME`` with the mapping, ``POST
/_bulk`` NDJSON (action line, source line) in batches, a refresh, ``_count``. Also: a refused
connection (a real one, to a closed port) is one line, a count that differs is an error, an
existing index is refused (deleted with --replace), a missing client names the extra.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from splade_lite.cli import main
from splade_lite.clusters import ClusterError, export_cluster, push_export

pytestmark = pytest.mark.jvm


class FakeCluster:
    """What an OpenSearch or Elasticsearch node answers to the requests a push makes."""

    def __init__(self, *, drop: int = 0, throttle: str | None = None, refuse: str | None = None):
        self.requests: list[tuple[str, str, object]] = []
        self.indices: dict[str, dict] = {}
        self.drop, self.throttle, self.refuse = drop, throttle, refuse

    def handle(self, method: str, path: str, body: bytes | None) -> tuple[int, dict]:
        path = path.split("?")[0]
        text = body.decode("utf-8") if body else None
        parsed = None
        if text and path.endswith("/_bulk"):
            parsed = [json.loads(line) for line in text.splitlines() if line.strip()]
        elif text:
            parsed = json.loads(text)
        self.requests.append((method, path, parsed))
        parts = path.strip("/").split("/")
        name = parts[0]
        if path == "/_bulk":  # POST or PUT, both documented
            return 200, self._bulk(parsed or [])
        if method == "HEAD" and len(parts) == 1:
            return (200 if name in self.indices else 404), {}
        if method == "PUT" and len(parts) == 1:
            self.indices[name] = {"body": parsed, "docs": {}}
            return 200, {"acknowledged": True, "index": name}
        if method == "DELETE" and len(parts) == 1:
            self.indices.pop(name, None)
            return 200, {"acknowledged": True}
        if parts[-1] == "_refresh":
            return 200, {"_shards": {"total": 1, "successful": 1, "failed": 0}}
        if parts[-1] == "_count":
            return 200, {"count": len(self.indices[name]["docs"]) - self.drop}
        return 400, {"error": {"type": "unexpected", "reason": f"{method} {path}"}}

    def _bulk(self, lines: list[dict]) -> dict:
        items = []
        for action, source in zip(lines[0::2], lines[1::2]):
            meta = action["index"]
            docid = meta["_id"]
            if docid == self.throttle:  # overloaded once: 429, then taken
                self.throttle = None
                items.append(
                    {
                        "index": {
                            "_id": docid,
                            "status": 429,
                            "error": {
                                "type": "es_rejected_execution_exception",
                                "reason": "queue full",
                            },
                        }
                    }
                )
                continue
            if docid == self.refuse:
                items.append(
                    {
                        "index": {
                            "_id": docid,
                            "status": 400,
                            "error": {"type": "document_parsing_exception", "reason": "no dots"},
                        }
                    }
                )
                continue
            self.indices[meta["_index"]]["docs"][docid] = source
            items.append(
                {
                    "index": {
                        "_index": meta["_index"],
                        "_id": docid,
                        "status": 201,
                        "result": "created",
                    }
                }
            )
        return {
            "took": 1,
            "errors": any(i["index"]["status"] >= 300 for i in items),
            "items": items,
        }

    def bulks(self) -> list[list[dict]]:
        return [body for method, path, body in self.requests if path == "/_bulk"]


def opensearch_client(cluster: FakeCluster):
    opensearchpy = pytest.importorskip("opensearchpy")

    class Recording(opensearchpy.Connection):
        def perform_request(
            self, method, url, params=None, body=None, timeout=None, ignore=(), headers=None
        ):
            if isinstance(body, str):
                body = body.encode("utf-8")
            status, data = cluster.handle(method, url, body)
            raw = json.dumps(data)
            if not 200 <= status < 300 and status not in ignore:
                self._raise_error(status, raw, "application/json")
            return status, {"content-type": "application/json"}, raw

    return opensearchpy.OpenSearch(hosts=["http://fake:9200"], connection_class=Recording)


def elasticsearch_client(cluster: FakeCluster):
    elasticsearch = pytest.importorskip("elasticsearch")
    from elastic_transport import ApiResponseMeta, BaseNode, HttpHeaders
    from elastic_transport._node import NodeApiResponse

    class Recording(BaseNode):
        def perform_request(self, method, target, body=None, headers=None, request_timeout=None):
            status, data = cluster.handle(method, target, body)
            headers = HttpHeaders(
                {"content-type": "application/json", "x-elastic-product": "Elasticsearch"}
            )
            meta = ApiResponseMeta(
                status=status, http_version="1.1", headers=headers, duration=0.0, node=self.config
            )
            return NodeApiResponse(
                meta, json.dumps(data).encode("utf-8") if method != "HEAD" else b""
            )

    return elasticsearch.Elasticsearch("http://fake:9200", node_class=Recording)


CLIENTS = {"opensearch": opensearch_client, "elasticsearch": elasticsearch_client}


@pytest.fixture(scope="module")
def exported(tiny_built, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("push")
    for target in ("opensearch", "elasticsearch", "qdrant"):
        export_cluster(
            tiny_built / "index",
            root / target,
            target,
            name="tiny",
            compress=target == "elasticsearch",
        )
    return root


def bulk_documents(folder: Path) -> list[tuple[dict, dict]]:
    """(action, source) of each document of an export's bulk files, in order."""
    import gzip

    manifest = json.loads((folder / "export.json").read_text())
    out = []
    for entry in manifest["bulk"]:
        path = folder / entry["file"]
        text = (
            gzip.decompress(path.read_bytes()).decode()
            if path.name.endswith(".gz")
            else path.read_text()
        )
        lines = [json.loads(line) for line in text.splitlines()]
        out += list(zip(lines[0::2], lines[1::2]))
    return out


@pytest.mark.parametrize("target", ["opensearch", "elasticsearch"])
def test_push_sends_the_documented_requests(exported, target):
    cluster = FakeCluster()
    folder = exported / target
    result = push_export(folder, client=CLIENTS[target](cluster), batch_size=4)
    assert (result.count, result.num_docs, result.target) == (6, 6, target)
    methods = [(m, p) for m, p, _ in cluster.requests]
    assert methods[:2] == [("HEAD", "/tiny"), ("PUT", "/tiny")]
    assert [p for m, p in methods[2:4] if m in ("POST", "PUT")] == ["/_bulk", "/_bulk"]
    assert [p for _, p in methods[4:]] == ["/tiny/_refresh", "/tiny/_count"]
    # PUT /tiny: the index body of the export, as it is
    assert cluster.requests[1][2] == json.loads((folder / "index.json").read_text())
    # the bulk NDJSON: action line {"index": {"_index", "_id"}}, then the source, in batches
    bulks = cluster.bulks()
    assert [len(b) // 2 for b in bulks] == [4, 2]
    sent = [(a, s) for b in bulks for a, s in zip(b[0::2], b[1::2])]
    assert sent == bulk_documents(folder)
    assert all(
        set(a["index"]) == {"_index", "_id"} and a["index"]["_index"] == "tiny" for a, _ in sent
    )
    assert cluster.indices["tiny"]["docs"].keys() == {a["index"]["_id"] for a, _ in sent}


@pytest.mark.parametrize("target", ["opensearch", "elasticsearch"])
def test_push_retries_an_overloaded_batch_and_reports_refusals(exported, target):
    cluster = FakeCluster(throttle="d3")
    push_export(exported / target, client=CLIENTS[target](cluster), batch_size=10, retries=2)
    resent = [a["index"]["_id"] for b in cluster.bulks() for a in b[0::2]]
    assert resent.count("d3") == 2 and len(cluster.indices["tiny"]["docs"]) == 6
    cluster = FakeCluster(refuse="d5")
    with pytest.raises(ClusterError, match=r"refused 1 of 6 documents.*'d5'.*no dots"):
        push_export(exported / target, client=CLIENTS[target](cluster))


@pytest.mark.parametrize("target", ["opensearch", "elasticsearch"])
def test_push_checks_the_count_and_an_existing_index(exported, target):
    with pytest.raises(
        ClusterError, match="holds 5 documents after the load, but the export has 6"
    ):
        push_export(exported / target, client=CLIENTS[target](FakeCluster(drop=1)))
    cluster = FakeCluster()
    cluster.indices["tiny"] = {"body": {}, "docs": {"old": {}}}
    with pytest.raises(ClusterError, match="already exists.*--replace"):
        push_export(exported / target, client=CLIENTS[target](cluster))
    assert [m for m, _, _ in cluster.requests] == ["HEAD"]  # nothing was changed
    push_export(exported / target, client=CLIENTS[target](cluster), replace=True)
    assert [m for m, _, _ in cluster.requests][:4] == ["HEAD", "HEAD", "DELETE", "PUT"]
    assert "old" not in cluster.indices["tiny"]["docs"]


def test_push_refuses_a_damaged_export(exported, tmp_path):
    import shutil

    folder = tmp_path / "os"
    shutil.copytree(exported / "opensearch", folder)
    bulk = folder / "bulk" / "part-00000.jsonl"
    bulk.write_text("\n".join(bulk.read_text().splitlines()[:-2]) + "\n")  # one document less
    with pytest.raises(ValueError, match="holds 5 documents, export.json says 6"):
        push_export(folder, client=opensearch_client(FakeCluster()))
    bulk.unlink()
    with pytest.raises(FileNotFoundError, match="listed in export.json, is missing"):
        push_export(folder, client=opensearch_client(FakeCluster()))
    with pytest.raises(FileNotFoundError, match="no export.json"):
        push_export(tmp_path, url="http://localhost:9200")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("target", ["opensearch", "elasticsearch", "qdrant"])
def test_cli_refused_connection_is_one_line(exported, target):
    url = f"http://user:secret@127.0.0.1:{closed_port()}"
    if target != "opensearch":
        url = url.replace("user:secret@", "")
    result = CliRunner().invoke(
        main, ["push", str(exported / target), "--url", url, "--retries", "0", "--quiet"]
    )
    assert result.exit_code == 1
    error = result.stderr.strip()
    assert error.startswith("Error: cannot reach http://127.0.0.1:") and "\n" not in error
    assert "Connection refused" in error and "secret" not in error and "Traceback" not in error


def test_cli_push_through_a_recording_client(exported, monkeypatch):
    import splade_lite.clusters.elasticsearch as es

    cluster = FakeCluster()
    monkeypatch.setattr(
        es, "connect", lambda url, api_key=None, retries=3: elasticsearch_client(cluster)
    )
    result = CliRunner().invoke(
        main, ["push", str(exported / "elasticsearch"), "--url", "http://fake:9200", "--json"]
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["count"], shown["num_docs"], shown["name"]) == (6, 6, "tiny")
    assert len(cluster.bulks()) == 1


def test_cli_missing_client_names_the_extra(exported, monkeypatch):
    monkeypatch.setitem(sys.modules, "opensearchpy", None)  # as if not installed
    result = CliRunner().invoke(
        main, ["push", str(exported / "opensearch"), "--url", "http://localhost:9200"]
    )
    assert result.exit_code == 1
    assert "needs the opensearch-py package: pip install 'splade-lite[clusters]'" in result.stderr


def test_cli_push_options_that_do_not_fit(exported):
    runner = CliRunner()
    result = runner.invoke(main, ["push", str(exported / "opensearch")])
    assert result.exit_code == 2 and "--url" in result.output
    result = runner.invoke(main, ["push", str(exported / "opensearch"), "--local", "x"])
    assert result.exit_code == 1 and "a local folder is Qdrant's only" in result.stderr
    result = runner.invoke(
        main, ["push", str(exported / "opensearch"), "--url", "http://h:1", "--api-key", "k"]
    )
    assert result.exit_code == 1 and "not an API key" in result.stderr
