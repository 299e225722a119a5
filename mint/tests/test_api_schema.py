"""The OpenAPI schema: valid, complete (every /api/v1/ route), and its docs page works under the CSP."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator

from mint.middleware import CONTENT_SECURITY_POLICY

API_PREFIX = "api/v1/"
# Not operations of the API: the schema and its docs page describe it.
NOT_OPERATIONS = {"api_schema", "api_docs"}


def _api_routes() -> list[tuple[str, str]]:
    """(name, path) of every URL pattern under /api/v1/, written as the schema writes paths."""
    enumerator = EndpointEnumerator()
    routes: list[tuple[str, str]] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                routes.append((pattern.name or "", prefix + str(pattern.pattern)))

    walk(get_resolver().url_patterns, "")
    api_routes = []
    for name, regex in routes:
        path = enumerator.get_path_from_regex(regex)
        if not path.startswith(f"/{API_PREFIX}") or name in NOT_OPERATIONS:
            continue
        if "{format}" in path:
            continue  # `.json` suffixes: the same operations as the route without one
        api_routes.append((name, path.replace("{pk}", "{id}")))
    return api_routes


def test_the_schema_validates_without_warnings(tmp_path):
    # What CI's reviewers run by hand; --fail-on-warn turns any introspection guess into a failure.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.0")


def test_every_api_route_is_in_the_schema():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    routes = _api_routes()
    assert len(routes) > 30
    missing = sorted({f"{name}: {route}" for name, route in routes if route not in schema["paths"]})
    assert not missing, f"API routes missing from the schema: {missing}"
    # And nothing in the schema that is not a route.
    assert set(schema["paths"]) <= {route for _, route in routes}


def test_every_operation_documents_its_errors():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert any(code.startswith("2") for code in codes), (method, path)
            assert "503" in codes, (method, path)
            if any(operation.get("security", [])):  # `{}` alone: anyone may call it
                assert "401" in codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if method in ("post", "put", "patch"):
                assert "400" in codes, (method, path)


@pytest.mark.django_db
def test_schema_and_docs_are_served_to_anyone(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/transactions/" in schema.json()["paths"]
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert docs["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    body = docs.content.decode()
    assert "<style" not in body
    assert re.search(r"<script>\S", body) is None  # no inline script: all three have a src
    assert "cdn" not in body.lower()
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/v1/schema/" in script.content.decode()


@pytest.mark.django_db(transaction=True)
def test_docs_page_renders_in_a_browser_under_the_csp(live_server, browser, screenshot):
    page = browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))

    def console(message) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", console)
    outside: list[str] = []

    def request(request) -> None:
        if not request.url.startswith(live_server.url):
            outside.append(request.url)

    page.on("request", request)
    response = page.goto(f"{live_server.url}/api/v1/docs/")
    assert response is not None
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    page.wait_for_selector("#operations-transactions-transactions_list", timeout=20_000)
    page.click("#operations-transactions-transactions_list .opblock-summary-control")
    page.wait_for_selector("#operations-transactions-transactions_list .parameters", timeout=10_000)
    screenshot(page, "api_docs")
    assert page.locator(".opblock").count() > 30
    assert not problems, problems
    assert not outside, f"requests off this site: {outside}"
    page.close()


# What the fuzz (test_api_fuzz.py) found, pinned here so a regression fails fast.


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/budgets/preferences/", "/api/v1/notifications/preferences/"])
def test_options_on_an_action_without_an_object_is_not_a_server_error(user_client, path):
    # DRF's metadata called get_object() for the PUT these actions allow: an AssertionError, a 500.
    response = user_client.options(path)
    assert response.status_code == 200
    assert "actions" not in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/accounts/1.5/", "/api/v1/no-such-thing/", "/api/v1/spending/2026-13/"])
def test_an_unknown_api_url_is_a_json_404(user_client, path):
    # The router's ids exclude dots and the month converter refuses month 13: no route, so it was
    # Django's HTML page, which an app expecting JSON cannot read.
    response = user_client.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


@pytest.mark.django_db
def test_an_unknown_page_url_is_still_the_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_months_and_times_of_day_are_documented_as_they_are_written():
    # "2026-11" is not an OpenAPI `date`, and "22:00:00" (no offset) is not a `time`.
    components = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    month = components["SpendingOutput"]["properties"]["month"]
    assert "format" not in month
    assert re.fullmatch(month["pattern"], "2026-11")
    quiet_start = components["NotificationPreferences"]["properties"]["quiet_start"]
    (text,) = [variant for variant in quiet_start.get("anyOf", [quiet_start]) if variant.get("type") == "string"]
    assert "format" not in text
    assert re.fullmatch(text["pattern"], "22:00:00")
    assert re.fullmatch(text["pattern"], "07:30")
