"""Headers on every page, the session lifetime, and production settings that `check --deploy` passes."""

import re

import pytest
from django.conf import settings
from django.urls import reverse

from tests.django_process import run_django

pytestmark = pytest.mark.django_db

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "tradingsite.settings_production",
    "SECRET_KEY": "a-long-random-production-secret-key-for-the-check-" + "z9" * 20,
    "FIELD_ENCRYPTION_KEYS": "q3tS2y9x0v8m7WJ0o4x4bS3pG0xZ4ZJ7cT0pQn1uF9k=",
    "ALLOWED_HOSTS": "trading.example.com",
}


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("desk", password="pw", is_staff=True))
    return client


@pytest.mark.parametrize("url", ["/", "/login/", "/admin/login/", "/api/docs/", "/broker-accounts/", "/pnl/"])
def test_every_page_has_a_strict_csp_and_a_permissions_policy(client, django_user_model, url):
    if "login" not in url:
        client.force_login(django_user_model.objects.create_user("desk", password="pw", is_staff=True))
    response = client.get(url)
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]*)", csp).group(1)
    assert script_src.split() == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no CDN
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    policy = response["Permissions-Policy"]
    assert "camera=()" in policy and "geolocation=()" in policy and "payment=()" in policy


def test_no_template_of_ours_carries_inline_script_or_event_handlers():
    """What the CSP would block in the browser, found here first: every template we serve."""
    from django.template.loader import get_template

    offenders = []
    roots = [settings.BASE_DIR / "templates"]
    for root in roots:
        for path in root.rglob("*.html"):
            text = path.read_text()
            for match in re.finditer(r"<script(?![^>]*\bsrc=)[^>]*>", text):
                offenders.append(f"{path}: inline {match.group(0)}")
            for match in re.finditer(r"\s(on[a-z]+|hx-on[:\w-]*)\s*=", text):
                offenders.append(f"{path}: handler {match.group(1)}")
            if re.search(r"""hx-(vals|vars)=["']\s*js:""", text):
                offenders.append(f"{path}: hx-vals js:")
            if "javascript:" in text:
                offenders.append(f"{path}: javascript: URL")
            get_template(str(path.relative_to(root)))  # and it still compiles
    assert offenders == []


def test_the_swagger_page_loads_its_script_as_a_file(staff_client):
    page = staff_client.get("/api/docs/").content.decode()
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page) is None
    script = staff_client.get("/api/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


def test_a_session_lasts_12_hours_by_default(client, django_user_model):
    assert settings.SESSION_COOKIE_AGE == 12 * 3600
    django_user_model.objects.create_user("viewer", password="pw-viewer-1")
    response = client.post(reverse("dashboard:login"), {"username": "viewer", "password": "pw-viewer-1"})
    assert response.status_code == 302
    assert client.cookies["sessionid"]["max-age"] == 12 * 3600


def test_the_session_lifetime_is_a_setting():
    result = run_django(
        "from django.conf import settings; print(settings.SESSION_COOKIE_AGE)",
        DJANGO_SETTINGS_MODULE="tradingsite.settings",
        SESSION_HOURS="0.5",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1800"


def test_check_deploy_is_clean_for_the_production_settings():
    result = run_django(
        "from django.core.management import call_command; call_command('check', deploy=True, fail_level='WARNING')",
        drop=("DJANGO_ALLOW_ASYNC_UNSAFE",),  # the browser tests' own switch, not a deployment's
        **PRODUCTION,
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_production_uses_a_shared_cache_for_throttles_and_postbacks():
    result = run_django(
        "from django.conf import settings; print(settings.CACHES['default']['BACKEND'])",
        **PRODUCTION,
        REDIS_URL="redis://127.0.0.1:6379/3",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "tradingsite.cache.SharedRedisCache"  # Django's, riding out a Redis restart
    embedded = run_django(
        "from django.conf import settings; print(settings.CACHES['default']['BACKEND'])",
        DJANGO_SETTINGS_MODULE="tradingsite.settings",
        drop=("REDIS_URL", "CACHE_REDIS_URL"),
    )
    assert embedded.stdout.strip() == "django.core.cache.backends.filebased.FileBasedCache"
