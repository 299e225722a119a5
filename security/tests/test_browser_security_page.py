"""The security page in a real headless Chromium, at desktop and phone sizes: tokens revoked with a
confirmation and a CSRF-protected POST, recent activity readable without sideways scrolling."""

from __future__ import annotations

import pytest

from mint.tests.browser import browser_login
from mint.tests.factories import UserFactory
from security.models import ApiToken, AuditEvent
from security.services import api_token_create
from security.tests.factories import AuditEventFactory

pytestmark = pytest.mark.django_db(transaction=True)

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("size", VIEWPORTS)
def test_revoke_a_token_from_the_security_page(live_server, browser, screenshot, size):
    user = UserFactory.create()
    phone = api_token_create(user=user, name="iPhone")
    api_token_create(user=user, name="Budget script on the home server")
    AuditEventFactory.create(
        user=user,
        action=AuditEvent.Action.CONNECTION_LINKED,
        detail={"connection_id": 1, "institution": "First Example Credit Union"},
        user_agent="Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Gecko/20100101 Firefox/133.0",
    )
    page, errors = browser_login(browser, live_server, user, viewport=VIEWPORTS[size])
    page.click("nav >> text=Security")
    page.wait_for_url("**/security/")
    tokens = page.locator("#api-tokens")
    assert "iPhone" in tokens.inner_text()
    assert phone.key not in page.content()
    assert "First Example Credit Union" in page.locator("#recent-activity").inner_text()
    assert "Firefox on macOS" in page.locator("#recent-activity").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")
    screenshot(page, f"security-page-{size}")

    row = page.locator(f"#api-token-{phone.token.pk}")
    confirm = row.get_by_role("button", name="Revoke “iPhone”")
    assert not confirm.is_visible()  # behind the "Revoke" disclosure: one click cannot revoke
    row.locator("summary").click()
    screenshot(page, f"security-page-{size}-confirm")
    confirm.click()
    page.wait_for_url("**/security/#api-tokens")
    assert "Revoked “iPhone”" in page.locator(".messages").inner_text()
    assert not ApiToken.objects.filter(pk=phone.token.pk).exists()
    assert "iPhone" not in tokens.inner_text()
    assert "API token revoked" in page.locator("#recent-activity").inner_text()
    assert errors == []
