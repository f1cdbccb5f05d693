"""Property-based tests of ``splade-lite serve``'s API against its own OpenAPI schema
(schemathesis): whatever a client sends, in the schema's shape or not, the answer is
documented, matches its schema, and is never a server error."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
pytest.importorskip("fastapi")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.generation.modes import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

pytestmark = [pytest.mark.jvm, pytest.mark.slow]

#: Examples per operation and generation mode: enough to reach every field, bounded in time.
EXAMPLES = 40
#: What a request in the schema's shape may get: its answer, 400 for a combination the
#: schema cannot say is wrong (hybrid settings with another mode, feedback with bm25, a blank
#: query, a query id twice), 404 for a document id the index does not have; never 422.
SCHEMA_VALID = {200, 400, 404}
OPERATIONS = ["GET /api/health", "GET /api/indexes", "POST /api/search",
              "POST /api/batch-search", "POST /api/explain"]  # fmt: skip


@pytest.fixture(scope="module")
def api_schema(tiny_built):
    from splade_lite.serve.app import create_app
    from splade_lite.serve.guards import LOOPBACK_HOSTS
    from splade_lite.serve.registry import Registry

    registry = Registry([tiny_built / "index", tiny_built / "index-if"], max_variants=2)
    # the ASGI client of schemathesis names the server "testserver"
    app = create_app(registry, mcp=False, allowed_hosts=(*LOOPBACK_HOSTS, "testserver"))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def operations(api_schema) -> dict:
    found = {}
    for result in api_schema.get_all_operations():
        operation = result.ok()
        found[f"{operation.method.upper()} {operation.path}"] = operation
    return found


def test_the_schema_lists_every_operation_and_the_index_names(api_schema):
    assert sorted(operations(api_schema)) == sorted(OPERATIONS)
    search = api_schema.raw_schema["components"]["schemas"]["SearchRequest"]
    assert search["properties"]["index"]["enum"] == ["index", "index-if"]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("name", OPERATIONS)
def test_every_answer_is_documented_and_never_a_server_error(api_schema, name, mode):
    operation = operations(api_schema)[name]
    if mode is GenerationMode.NEGATIVE and operation.method.upper() == "GET":
        pytest.skip("no parameters to get wrong")
    statuses = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        # schemathesis's own acceptance check wants 2xx for every schema-valid request
        response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
        assert response.status_code < 500, response.text
        if mode is GenerationMode.POSITIVE:
            assert response.status_code in SCHEMA_VALID, (case.body, response.text)
        statuses.append(response.status_code)

    check()
    assert statuses  # requests were made
    if mode is GenerationMode.POSITIVE and "search" in name:  # (random document ids: 404)
        assert 200 in statuses, statuses  # some reached a search
    if mode is GenerationMode.NEGATIVE:
        assert all(400 <= s < 500 for s in statuses), statuses  # wrong requests refused
