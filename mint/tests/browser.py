"""Helpers for the browser tests (the `browser` fixture is in conftest.py)."""

from __future__ import annotations

from mint.tests.factories import USER_PASSWORD


def browser_login(opener, live_server, user, **page_options):
    """A new page of `opener` (a browser or a context), logged in through the login form.

    Returns the page and a list that collects its script errors.
    """
    page = opener.new_page(**page_options)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", USER_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page, errors
