"""The OpenAPI schema: valid, served with Swagger UI from local assets, and fuzzed by schemathesis."""

from contextlib import contextmanager

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tradingsite.wsgi import application

pytestmark = pytest.mark.django_db

# Destructive and covered on their own (test_emergency_stop, test_tokens: revoking every token
# would log the fuzz itself out); the fuzz leaves them out.
NOT_FUZZED = {"POST /api/system/emergency-stop", "POST /api/auth/tokens/revoke-all"}
# The fuzz's cost is bounded by its work, not by a clock: at most this many derandomized examples per
# operation (a wall-clock budget failed whenever other runs loaded both cores; the run's own timeout
# still stops a hang).
EXAMPLES_PER_OPERATION = 8
# No 5xx, and every answer (errors included) is one the schema documents, in the documented shape.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_the_schema_validates_without_warnings(tmp_path):
    # --fail-on-warn: any view drf-spectacular cannot describe exactly fails this test.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    text = (tmp_path / "schema.yaml").read_text()
    assert "/api/system/emergency-stop" in text
    assert "/api/pnl/realtime" in text


def test_the_schema_is_served_to_logged_in_users(staff):
    response = staff.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "knoxApiToken" in schema["components"]["securitySchemes"]
    manual = schema["paths"]["/api/signals/manual"]["post"]["responses"]
    assert {"201", "400", "401", "403", "429"} <= set(manual)


def test_swagger_ui_uses_local_assets_and_needs_a_login(client, staff_user):
    anonymous = client.get("/api/docs/")
    assert anonymous.status_code == 302
    assert "/login" in anonymous["Location"]

    client.force_login(staff_user)
    page = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn." not in page and "unpkg" not in page
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200


@contextmanager
def requests_in_the_test_transaction():
    """Django closes the database connection at the end of each request; inside a test that would
    drop the test's transaction. Django's own test client switches this off the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_schemathesis_finds_no_server_errors(staff_user, book):
    """Every operation, with generated valid and invalid input, as a staff user: no 5xx, and
    every response as documented."""
    auth = {"Authorization": f"Token {staff_user.api_token}"}
    failures, fuzzed = {}, 0
    with requests_in_the_test_transaction():
        schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, headers=auth)
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.label in NOT_FUZZED:
                continue

            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def call(case):
                response = case.call(headers=auth)
                case.validate_response(response, checks=CHECKS)

            try:
                call()
            except Exception as exc:  # collect every operation's failure, then report them together
                failures[operation.label] = f"{type(exc).__name__}: {exc}"[:2000]
            fuzzed += 1
    assert not failures, "\n\n".join(f"{label}\n{error}" for label, error in failures.items())
    assert fuzzed >= 30, f"only {fuzzed} operations were fuzzed"
