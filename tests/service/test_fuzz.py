"""Property-based fuzzing of the API from its own OpenAPI schema (schemathesis): never a 5xx,
on SQLite and on PostgreSQL (whose checks on text and JSON differ from SQLite's).

Bounded and deterministic (derandomized, few examples per operation) to stay fast. Every
response must also match its documented status codes, content types and schemas, and
schema-violating requests must be refused. Not checked: that every schema-valid request
is accepted, since the engine refuses more than a schema can say (an unknown id, a blank
scope, a time past year 9999 in UTC); those answers are 4xx JSON, which the checks verify.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from remem.providers.embedder import Embedder
from remem.service import KeyStore, create_app
from tests.service.conftest import ServerThread, with_search_path


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def fuzzed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[dict]:
    if request.param == "sqlite":
        location = str(tmp_path_factory.mktemp("fuzz") / "fuzz.db")
    else:
        pool = request.getfixturevalue("schema_pool")
        schema = pool.take()
        request.addfinalizer(lambda: pool.drop(schema))
        location = with_search_path(pool.url, schema)
    keys = KeyStore(location)
    token = keys.create("fuzz", "schemathesis")[1]
    thread = ServerThread(create_app(location, embedder=embedder, keys=keys)).start()
    yield {"url": thread.url, "token": token}
    thread.stop()
    keys.close()


@pytest.fixture(scope="module")
def api_schema(fuzzed: dict) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(fuzzed["url"] + "/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")
# Import bodies are JSONL text: send generated strings as they are.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")


@schema.parametrize()
@settings(
    max_examples=12,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_makes_the_server_fail(case: schemathesis.Case, fuzzed: dict) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {fuzzed['token']}"},
        excluded_checks=[positive_data_acceptance],
        timeout=30,
    )
