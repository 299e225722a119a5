"""Shared test fixtures. Tests use the real database and cache of the configured backends."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.demo_bank.persona import PASSWORD as DEMO_BANK_PASSWORD
from accounts.demo_bank.server import DemoBankServer


@pytest.fixture(autouse=True)
def _empty_cache():
    """Every test starts with an empty cache, except the categorizer's map version.

    Rebuilding the map (12,000 merchants) for every test is slow; the version is kept when
    the test left it alone. Anything that changes the map bumps it (services, admin, the
    reseeding after a flush), so a changed map is always rebuilt.
    """
    from categories import selectors as category_selectors
    from categories.categorizer import MAP_VERSION_KEY
    from mint.services import _marked_active

    _marked_active.clear()  # ids are reused once a test's rows are rolled back
    category_selectors._labels = (float("-inf"), {})
    version = cache.get(MAP_VERSION_KEY)
    cache.clear()
    if version is not None:
        cache.set(MAP_VERSION_KEY, version, timeout=None)
    yield
    unchanged = version is not None and cache.get(MAP_VERSION_KEY) == version
    cache.clear()
    if unchanged:
        cache.set(MAP_VERSION_KEY, version, timeout=None)


@pytest.fixture(autouse=True)
def _spending_never_drifts(request, _django_db_marker):
    """After every test that touched the database, monthly_spending equals a recompute from the
    transactions, to the cent: what `check_spending` proves in production."""
    marker = request.node.get_closest_marker("django_db")
    fixtures = set(request.fixturenames)
    if not marker and not fixtures & {"db", "transactional_db"}:
        yield
        return
    if not marker:
        request.getfixturevalue("transactional_db" if "transactional_db" in fixtures else "db")
    yield
    from mint.models import User
    from transactions.aggregates import spending_drift

    drift = spending_drift(user_ids=list(User.objects.values_list("pk", flat=True)))
    assert not drift, f"monthly_spending drifted from the transactions: {drift}"


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    from mint.tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def other_user(db):
    from mint.tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def user_client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


class DemoBank:
    """The demo bank on a loopback port, with a settable "today"."""

    password = DEMO_BANK_PASSWORD

    def __init__(self) -> None:
        self.today: dt.date | None = None
        self.server = DemoBankServer(today=lambda: self.today or dt.date.today()).start()  # noqa: DTZ011
        self.url = self.server.url


@pytest.fixture(scope="session")
def _demo_bank_server():
    bank = DemoBank()
    yield bank
    bank.server.stop()


@pytest.fixture
def demo_bank(_demo_bank_server) -> Iterator[DemoBank]:
    _demo_bank_server.today = None
    yield _demo_bank_server
    _demo_bank_server.today = None


@pytest.fixture
def simplefin_bridge():
    """A SimpleFIN Bridge on a loopback port, speaking the real protocol; "today" is settable."""
    from accounts.demo_bank.simplefin import DemoSimpleFinServer

    server = DemoSimpleFinServer().start()
    yield server
    server.stop()


@pytest.fixture
def unused_tcp_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def ingest(django_capture_on_commit_callbacks):
    """Import statement lines into an account through the real pipeline, running after-commit work.

    Lines are (posted_on, amount, descriptor) or (posted_on, amount, descriptor, external_id).
    """
    from decimal import Decimal

    from accounts.providers.base import AccountRef, Statement, StatementLine
    from transactions.services import statements_ingest

    def _ingest(account, *lines):
        statement_lines = tuple(
            StatementLine(
                external_id=line[3] if len(line) > 3 else f"{line[0]:%Y%m%d}-{line[2]}-{line[1]}",
                posted_on=line[0],
                amount=Decimal(line[1]),
                description=line[2],
            )
            for line in lines
        )
        statement = Statement(
            account=AccountRef(account.external_id, account.kind), currency="USD", lines=statement_lines
        )
        with django_capture_on_commit_callbacks(execute=True):
            return statements_ingest(user_id=account.user_id, statements=[(account, statement)])

    return _ingest


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright; skipped, saying why, where it is not installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip("browser tests need Debian's chromium (apt-get install chromium); .ci/run installs it")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # synchronous and safe, but Django refuses them unless told so (for these tests only).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def screenshot():
    """Save a page's screenshot as a test artifact: artifacts/<name>.png."""

    def _screenshot(page, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return _screenshot
