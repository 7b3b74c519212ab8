"""Property-based tests of the API against its own OpenAPI document (schemathesis), with a valid
admin key over real HTTP: no server error, and every response matches the documented status
codes, content type and schema."""

from __future__ import annotations

from collections.abc import Iterator

import hypothesis
import pytest
import schemathesis
from api_home import Seeded, serve_in_thread
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from core.settings import Settings
from serving.api.app import create_app
from serving.api.routers.jobs import get_train_target

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]



@pytest.fixture(scope="module")
def base_url(seeded: Seeded) -> Iterator[str]:
    app = create_app(seeded.settings)
    # Retrain jobs run a quick function here: the generator calls POST /v1/retrain many times.
    app.dependency_overrides[get_train_target] = lambda: "builtins:repr"
    with serve_in_thread(app) as url:
        yield url


# The document is built from the app object (no server, no I/O); calls go to the live server.
schema = schemathesis.openapi.from_dict(create_app(Settings(home="/nonexistent")).openapi())


@schema.parametrize()
@hypothesis.settings(max_examples=8, deadline=None, derandomize=True,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_api_conforms_to_its_openapi_document(case, base_url: str, seeded: Seeded):
    case.call_and_validate(base_url=base_url, headers=seeded.auth("admin"), checks=CHECKS)
