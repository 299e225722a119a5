"""Sign-in pages in a real headless Chromium at desktop and phone sizes: the limits' message,
two-factor set-up and sign-in, and the password reset, with no script errors or CSP violations."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from mint.tests.browser import browser_login
from mint.tests.factories import USER_PASSWORD, UserFactory
from security.models import SignInFailureCount
from security.tests.helpers import app_code

pytestmark = pytest.mark.django_db(transaction=True)

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(autouse=True)
def _one_window(settings):
    settings.LOGIN_ACCOUNT_WINDOW_SECONDS = 10**9
    settings.LOGIN_ACCOUNT_MAX_FAILURES = 3  # the figure is tested elsewhere; here, the page
    settings.LOGIN_IP_WINDOW_SECONDS = 10**9


def watch(page) -> list[str]:
    """Script errors and console errors (a CSP violation is logged as one)."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" and "favicon" not in (message.location or {}).get("url", "")
            else None
        ),
    )
    return problems


def assert_no_horizontal_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")


def log_in_form(page, username: str, password: str) -> None:
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")


@pytest.mark.parametrize("size", VIEWPORTS)
def test_locked_out_then_reset_by_email(live_server, browser, screenshot, size, settings):
    settings.SITE_URL = live_server.url
    user = UserFactory.create()
    page = browser.new_page(viewport=VIEWPORTS[size])
    problems = watch(page)
    page.goto(f"{live_server.url}/login/")
    for _ in range(3):
        log_in_form(page, user.username, "a wrong guess")
        page.wait_for_selector(".errors")
    log_in_form(page, user.username, USER_PASSWORD)
    error = page.locator("[role=alert]")
    assert "Too many failed sign-in attempts for this account" in error.inner_text()
    assert_no_horizontal_scroll(page)
    screenshot(page, f"security-login-blocked-{size}")

    page.click("text=Forgot your password?")
    page.wait_for_url("**/security/password/reset/")
    page.fill("#id_email", user.email)
    screenshot(page, f"security-reset-form-{size}")
    page.click("main button[type=submit]")
    page.wait_for_url("**/security/password/reset/sent/")
    assert "Check your email" in page.inner_text("h1")
    screenshot(page, f"security-reset-sent-{size}")

    link = re.search(r"http://\S+/security/password/reset/\S+/", str(mail.outbox[-1].body))
    assert link is not None
    page.goto(link.group(0))
    page.wait_for_selector("#id_new_password1")
    page.fill("#id_new_password1", "a brand new pass phrase")
    page.fill("#id_new_password2", "a brand new pass phrase")
    assert_no_horizontal_scroll(page)
    screenshot(page, f"security-reset-new-password-{size}")
    page.click("main button[type=submit]")
    page.wait_for_url("**/security/password/reset/complete/")
    assert not SignInFailureCount.objects.filter(scope="account", failures__gt=0).exists()

    page.click("main a.button")
    page.wait_for_url("**/login/")
    log_in_form(page, user.username, "a brand new pass phrase")
    page.wait_for_url(f"{live_server.url}/")
    assert problems == []
    page.close()


@pytest.mark.parametrize("size", VIEWPORTS)
def test_turn_on_two_factor_then_sign_in_with_a_code(live_server, browser, screenshot, size):
    user = UserFactory.create()
    page, errors = browser_login(browser, live_server, user, viewport=VIEWPORTS[size])
    problems = watch(page)
    page.click("nav >> text=Security")
    page.wait_for_url("**/security/")
    assert page.locator("nav a[aria-current=page]").inner_text() == "Security"
    assert_no_horizontal_scroll(page)
    screenshot(page, f"security-page-off-{size}")

    page.click("text=Turn on two-factor sign-in")
    page.wait_for_url("**/security/two-factor/")
    qr = page.locator(".qr-code svg")
    assert qr.is_visible()
    assert qr.bounding_box()["width"] >= 150
    assert_no_horizontal_scroll(page)
    screenshot(page, f"security-two-factor-setup-{size}")

    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user=user)
    page.fill("#id_password", USER_PASSWORD)
    page.fill("#id_code", app_code(device))
    page.click("main button[type=submit]")
    page.wait_for_selector(".recovery-codes")
    assert page.locator(".recovery-codes li").count() == 10
    assert_no_horizontal_scroll(page)
    screenshot(page, f"security-recovery-codes-{size}")
    page.click("text=I have saved them")
    page.wait_for_url("**/security/")
    page.click("header button:has-text('Log out')")
    page.wait_for_url("**/login/")

    log_in_form(page, user.username, USER_PASSWORD)
    page.wait_for_url("**/security/sign-in/code/")
    page.fill("#id_code", "000000" if app_code(device, steps_ahead=1) != "000000" else "111111")
    page.click("main button[type=submit]")
    page.wait_for_selector(".errors")
    assert_no_horizontal_scroll(page)
    screenshot(page, f"security-sign-in-code-{size}")
    device.refresh_from_db()
    device.throttle_reset()
    # The set-up used this step's code; the app's next one is also accepted (one step of tolerance).
    page.fill("#id_code", app_code(device, steps_ahead=1))
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert errors == []
    assert problems == []
    page.close()
