"""Headless Chromium from Debian (``/usr/bin/chromium``) driven by Playwright for Python.

Nothing is downloaded at run time: Playwright is told to launch the system's Chromium, with the
switches that keep it from reaching the network for updates, sync or field trials.
"""

import base64
import os
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still
# synchronous and never share a connection with the loop, so Django's guard does not apply.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

if not CHROMIUM.exists():
    pytest.skip(
        "browser tests need Debian's Chromium at /usr/bin/chromium (apt-get install chromium chromium-driver; "
        ".ci/run installs it)",
        allow_module_level=True,
    )


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser, request, artifacts):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    # An upper bound, not a speed test: at load 10 a login (password, a TOTP code that may wait for
    # the next 30-second step, the redirect) overran 30 s.
    page.set_default_timeout(60_000)
    refused = csp_violations(page)
    yield page
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed:
        # What the browser showed when the test failed, beside the step screenshots.
        page.screenshot(path=str(artifacts / f"FAILED-{request.node.name}.png"), full_page=True)
    context.close()
    assert refused == [], "the Content-Security-Policy refused something the page needs"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(autouse=True)
def second_factor_required(settings):
    """As in production: staff log in with a second factor (the live server runs in this process)."""
    settings.OTP_REQUIRED_FOR_STAFF = True


def csp_violations(page) -> list[str]:
    """Collects the Content-Security-Policy refusals the browser reports on ``page``."""
    found: list[str] = []
    page.on("console", lambda msg: found.append(msg.text) if "Content Security Policy" in msg.text else None)
    return found


def log_in(page, base_url: str, username: str, password: str) -> None:
    """Password, then for staff the second factor: enrol an authenticator the first time (the code is
    computed from the key the page shows, as an authenticator app would), a code from it after that."""
    page.goto(base_url + "/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: url == base_url + "/" or "/two-factor/" in url)
    if "/two-factor/" not in page.url:
        return  # a viewer: a password is enough
    if page.locator("#totp-secret").count():
        key = base64.b32decode(page.locator("#totp-secret").inner_text())
        page.fill("#id_code", _totp_code(key, last_t=-1))
        page.click("#two-factor-submit")
        # count() does not wait: under load the page with the codes may not have loaded yet.
        page.locator("#recovery-codes").wait_for()
        assert page.locator("#recovery-codes li").count() == 10
        page.click("#recovery-continue")
    else:
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device = TOTPDevice.objects.get(user__username=username, confirmed=True)
        page.fill("#id_code", _totp_code(device.bin_key, last_t=device.last_t))
        page.click("#two-factor-submit")
    page.wait_for_url(base_url + "/")


def _totp_code(key: bytes, *, last_t: int) -> str:
    """The code for the first 30-second step after ``last_t`` (a step is accepted once), waiting
    for the clock when the next accepted step is more than one step ahead."""
    from django_otp.oath import TOTP

    while True:
        totp = TOTP(key)
        drift = last_t + 1 - totp.t()
        if drift <= 0:
            return f"{totp.token():06d}"
        if drift == 1:
            totp.drift = 1
            return f"{totp.token():06d}"
        time.sleep(1)
