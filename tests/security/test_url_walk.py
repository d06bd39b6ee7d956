"""Every URL the project serves, tried anonymous, as a viewer and as staff.

The URLs come from the resolver and the API's operations from its OpenAPI schema, so a URL added
anywhere is walked without anyone listing it here. A new URL fails this suite when:
- it answers an anonymous request without asking for a login (unless it is in PUBLIC, with why);
- it is under /api/ but not in the schema (undocumented), or the schema documents an operation a
  viewer may use to change state (unless in VIEWER_WRITES, with why);
- a viewer's POST to a page that is not in VIEWER_POSTS is accepted (state changes need staff);
- any request, by anyone, gives a 5xx.
A route whose parameters this walk cannot fill in fails too: add a sample to SAMPLES.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

# Answers anonymous requests by design. Each says why and how it is protected instead.
PUBLIC = {
    "/login/": "the login page (django-axes locks it after failures)",
    "/logout/": "logging out needs no login",
    "/admin/login/": "the admin's login page (django-axes)",
    "/admin/logout/": "logging out needs no login",
    "/api/auth/token": "exchanges a password (and a staff second factor) for a token; axes and throttled",
    "/kite/postback/": "Kite cannot log in: the checksum with the account's api_secret authenticates it",
    "/api/webhooks/x": "TradingView cannot log in: the webhook's secret authenticates the alert; rate-limited",
    "/favicon.ico": "a redirect to the static icon",
}
# The API operations behind those public URLs (the schema's names for them).
PUBLIC_OPERATIONS = {"POST /api/auth/token", "POST /api/webhooks/{public_id}"}
# API operations a logged-in viewer may call although they are not reads: each concerns only the
# viewer's own credentials.
VIEWER_WRITES = {
    "DELETE /api/auth/tokens/{token_id}": "revokes one of the caller's own tokens",
    "POST /api/auth/tokens/revoke-all": "revokes the caller's own tokens (another user's needs staff)",
}
# Pages a viewer may POST to: logging in and out, and the second-factor page (its own login).
VIEWER_POSTS = {"/login/", "/logout/", "/admin/login/", "/admin/logout/", "/two-factor/"}
# Route parameters, by converter or by name in a regular expression.
SAMPLES = {"int": "1", "str": "x", "path": "1", "slug": "x", "uuid": "00000000-0000-0000-0000-000000000001"}
SERVER_ERROR = 500
LOGIN_PAGES = ("/login/", "/admin/login/")


@dataclass(frozen=True)
class Route:
    path: str
    view: str
    name: str


def _sample_route(route: str) -> str:
    return re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLES[m.group(1) or "str"], route)


def _sample_regex(regex: str) -> str:
    text = regex.lstrip("^").replace("\\Z", "").rstrip("$")

    def group(match: re.Match) -> str:
        body = match.group(1)
        if "|" in body and "[" not in body:
            return body.split("|")[0]  # one of the listed alternatives (the admin's app labels)
        if "0-9" in body or "\\d" in body:
            return "1"
        return "x"

    text = re.sub(r"\(\?P<\w+>((?:[^()]|\([^()]*\))*)\)", group, text)
    return text.replace("\\.", ".").replace("\\/", "/")


def _sample(pattern) -> str:
    if isinstance(pattern, RoutePattern):
        return _sample_route(str(pattern))
    if isinstance(pattern, RegexPattern):
        return _sample_regex(pattern.regex.pattern)
    raise AssertionError(f"an unknown kind of URL pattern: {pattern!r}")


def _walk(patterns, prefix: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + _sample(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield "/" + prefix + _sample(entry.pattern), entry


def served_routes() -> list[Route]:
    routes, unsampled = {}, []
    for path, entry in _walk(get_resolver().url_patterns):
        try:
            match = resolve(path)
        except Exception:  # noqa: BLE001 - reported below with the pattern's name
            match = None
        if match is None or match.func != entry.callback:
            unsampled.append(f"{path} ({entry.name or entry.callback})")
            continue
        view = f"{entry.callback.__module__}.{entry.callback.__name__}"
        routes[path] = Route(path=path, view=view, name=match.view_name)
    # The admin's catch-all and the API's not-found route are shadowed by their siblings' samples.
    unsampled = [u for u in unsampled if "catch_all" not in u and "not-found" not in u]
    assert not unsampled, f"the walk cannot build a URL for: {unsampled}; add a sample to SAMPLES"
    return sorted(routes.values(), key=lambda r: r.path)


def api_operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    )


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "x" if m.group(0) == "{token_id}" else "1", path)


@pytest.fixture
def users(django_user_model, settings):
    settings.API_THROTTLE_RATES = {"user": "100000/minute", "anon": "100000/minute"}
    cache.clear()
    viewer = django_user_model.objects.create_user("walk-viewer", password="pw")
    staff = django_user_model.objects.create_user("walk-staff", password="pw", is_staff=True, is_superuser=True)
    return viewer, staff


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


def asks_for_login(response) -> bool:
    if response.status_code in (401, 403, 405):
        return True
    location = response.get("Location", "")
    return response.status_code == 302 and any(page in location for page in LOGIN_PAGES)


def urls_open_to_anonymous() -> tuple[list[str], list[str]]:
    """(URLs that answer an anonymous GET or POST without asking for a login, server errors)."""
    anonymous, open_urls, errors = client_for(), [], []
    for route in served_routes():
        if route.path in PUBLIC:
            continue
        for method in ("get", "post"):
            response = getattr(anonymous, method)(route.path)
            if response.status_code >= SERVER_ERROR:
                errors.append(f"{method.upper()} {route.path}: {response.status_code}")
            elif not asks_for_login(response):
                open_urls.append(f"{method.upper()} {route.path} ({route.view}): {response.status_code}")
    return open_urls, errors


def undocumented_api_urls() -> list[str]:
    documented = [re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$") for _, path in api_operations()]
    return [
        route.path
        for route in served_routes()
        if route.path.startswith("/api/")
        and route.path not in ("/api/schema/", "/api/docs/")
        and route.name != "api:not-found"  # answers 401, then 404, for every path no endpoint has
        and not any(pattern.match(route.path) for pattern in documented)
    ]


def test_every_url_asks_anonymous_visitors_to_log_in(users):
    open_urls, errors = urls_open_to_anonymous()
    assert not errors, errors
    assert not open_urls, f"these answer without a login (protect them, or add to PUBLIC with why): {open_urls}"


def test_every_api_url_is_documented_in_the_schema(users):
    undocumented = undocumented_api_urls()
    assert not undocumented, f"API URLs missing from the schema: {undocumented}"


def test_a_new_open_or_undocumented_url_is_caught(users, settings):
    """The walk itself: a URL added without protection, or to the API without a schema, is found."""
    settings.ROOT_URLCONF = "tests.security.urls_with_holes"
    open_urls, _ = urls_open_to_anonymous()
    assert any("/new-open-page/" in url for url in open_urls)
    assert "/api/new-undocumented" in undocumented_api_urls()


def test_the_public_urls_stay_few_and_refuse_what_they_must(users):
    anonymous = client_for()
    assert anonymous.post("/kite/postback/", {}, format="json").status_code == 400
    assert anonymous.get("/kite/postback/").status_code == 405
    assert anonymous.post("/api/auth/token", {}, format="json").status_code == 400
    served = {route.path for route in served_routes()}
    assert set(PUBLIC) <= served, f"PUBLIC names URLs that are gone: {set(PUBLIC) - served}"


def test_every_api_operation_by_role(users, book):
    viewer, staff = users
    anonymous, as_viewer, as_staff = client_for(), client_for(viewer), client_for(staff)
    problems = []
    for method, path in api_operations():
        url, label = _concrete(path), f"{method} {path}"
        call = {"format": "json"} if method != "GET" else {}
        anon = getattr(anonymous, method.lower())(url, {}, **call) if method != "GET" else anonymous.get(url)
        if label not in PUBLIC_OPERATIONS and anon.status_code != 401:
            problems.append(f"{label} anonymous: {anon.status_code}, not 401")
        seen = getattr(as_viewer, method.lower())(url, {}, **call) if method != "GET" else as_viewer.get(url)
        if seen.status_code >= SERVER_ERROR or seen.status_code == 401:
            problems.append(f"{label} viewer: {seen.status_code}")
        elif method != "GET" and label not in VIEWER_WRITES and label not in PUBLIC_OPERATIONS:
            if seen.status_code != 403:
                problems.append(f"{label} viewer may change state: {seen.status_code}")
        if method == "GET" or label in VIEWER_WRITES:
            done = as_staff.get(url) if method == "GET" else getattr(as_staff, method.lower())(url, {}, **call)
            if done.status_code >= SERVER_ERROR or done.status_code in (401, 403):
                problems.append(f"{label} staff: {done.status_code}")
    assert not problems, problems


def test_every_page_by_role(users, book):
    viewer, staff = users
    as_viewer, as_staff, problems = client_for(viewer), client_for(staff), []
    for route in served_routes():
        if route.path.startswith("/api/") and route.path not in ("/api/schema/", "/api/docs/"):
            continue  # the API's operations are walked from its schema
        if route.path in ("/logout/", "/admin/logout/"):
            continue  # would end the walk's sessions
        for label, client in (("viewer", as_viewer), ("staff", as_staff)):
            response = client.get(route.path)
            if response.status_code >= SERVER_ERROR:
                problems.append(f"GET {route.path} as {label}: {response.status_code}")
            if label == "viewer" and route.path.startswith("/admin/") and route.path not in PUBLIC:
                if not asks_for_login(response):
                    problems.append(f"GET {route.path} as viewer: {response.status_code}, the admin is staff only")
        if route.path.startswith("/admin/") or route.path in VIEWER_POSTS or route.path in PUBLIC:
            continue
        refused = as_viewer.post(route.path, {})
        if refused.status_code not in (403, 405):
            problems.append(f"POST {route.path} as viewer: {refused.status_code}, not refused")
    assert not problems, problems


@pytest.fixture
def book(db):
    from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory

    instrument = InstrumentFactory(tradingsymbol="INFY", instrument_token=408065)
    strategy = StrategyFactory(instruments=[instrument])
    MappingFactory(account=AccountFactory(), strategy=strategy)
