"""Fuzzing the whole API with schemathesis, in-process through the WSGI app.

Every operation in the OpenAPI schema gets generated requests (schema examples, boundary values
from the coverage phase, then random valid and invalid data), once as a user with a token and a
realistic history (accounts, transactions, budgets, rules, alerts, uploads, jobs) and once
anonymously. Each response is checked: no server error, a status code and body the schema
documents, and no stack trace. The last test checks the run's size and prints its tally:

    .venv/bin/python -m pytest mint/tests/test_api_fuzz.py -q -s

Inputs are derandomized, so CI sends the same requests every run; FUZZ_EXPLORE=1 draws new ones
and FUZZ_EXAMPLES=<n> sends more per operation; FUZZ_VERBOSE=1 prints the statuses of each
operation. A failure is reported with a curl command that reproduces it.
Each operation runs in its own rolled-back transaction, so one that deletes (a rule, a token,
the account) leaves the next operation the same data. No bank is reachable: the provider HTTP
client cannot resolve any name here, so linking answers "could not find the bank's server".
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.conf import settings as settings_module
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.core.failures import FailureGroup, ServerError
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import Account, SyncJob
from accounts.tests.factories import AccountFactory, ConnectionFactory
from budgets import services as budget_services
from categories.models import Category, UserRule
from transactions.models import Transaction
from transactions.services import file_upload, transaction_recategorize

# Real statements (the importers' test files) for the upload route: (file name, bytes).
STATEMENT_FILES = [
    "accounts/tests/data/chase_checking.csv",
    "accounts/tests/data/quicken_us.qif",
    "accounts/tests/data/card_xml_bom.qfx",
    "transactions/tests/data/checking_2026-10.ofx",
]
STATEMENTS = {(settings_module.BASE_DIR / name).read_bytes(): Path(name).name for name in STATEMENT_FILES}
MIN_REQUESTS = 5_000
EXAMPLES_AUTHENTICATED = int(os.environ.get("FUZZ_EXAMPLES", "80"))
EXAMPLES_ANONYMOUS = max(5, EXAMPLES_AUTHENTICATED // 10)
DERANDOMIZE = os.environ.get("FUZZ_EXPLORE", "") != "1"
STACK_TRACE = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+|django\.\w+\.\w+Error")

schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = get_wsgi_application()  # in-process: schemathesis calls the WSGI app, no server


@dataclass
class Tally:
    """What the fuzz sent and found, over every operation and both callers."""

    requests: Counter[str] = field(default_factory=Counter)  # by caller: "user", "anonymous"
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: {"user": Counter(), "anonymous": Counter()})
    server_errors: int = 0
    schema_violations: int = 0
    stack_traces: int = 0
    operations: set[str] = field(default_factory=set)
    by_operation: dict[str, Counter[int]] = field(default_factory=dict)
    items: set[str] = field(default_factory=set)


TALLY = Tally()
# The fuzzed user's object ids by collection (`transactions`, `budgets`, ...), set for each
# operation by `fuzz_user`: path ids are drawn from these half of the time, so detail routes are
# exercised on real objects, not only answered 404.
REAL_IDS: dict[str, list[Any]] = {}


@schema.hook
def flatmap_path_parameters(context, path_parameters: dict[str, Any]):
    if not path_parameters:
        return st.just(path_parameters)
    collection = context.operation.path.removeprefix("/api/v1/").split("/", 1)[0]
    if "month" in path_parameters:
        months = st.sampled_from([f"{month:%Y-%m}" for month in REAL_IDS.get("months", [])] or ["2026-11"])
        return st.one_of(st.just(path_parameters), months.map(lambda month: {**path_parameters, "month": month}))
    ids = REAL_IDS.get(collection)
    if "id" not in path_parameters or not ids:
        return st.just(path_parameters)
    real = st.sampled_from(ids).map(lambda pk: {**path_parameters, "id": pk})
    return st.one_of(st.just(path_parameters), real)


def _sometimes_real(values: dict[str, Any] | None):
    """Half the time, put the user's real values in the fields that name one of their things."""
    if not isinstance(values, dict) or not REAL_IDS:
        return st.just(values)
    choices = {
        "category": st.sampled_from(REAL_IDS["categories"]),
        "categories": st.lists(st.sampled_from(REAL_IDS["categories"]), max_size=4),
        "account": st.sampled_from(REAL_IDS["accounts"]),
        "month": st.sampled_from([f"{month:%Y-%m}" for month in REAL_IDS["months"]]),
        "file": st.sampled_from(list(STATEMENTS)),
    }
    present = {name: strategy for name, strategy in choices.items() if name in values}
    if not present:
        return st.just(values)
    real = st.fixed_dictionaries(present).map(lambda chosen: {**values, **chosen})
    return st.one_of(st.just(values), real)


@schema.hook
def flatmap_body(context, body):
    return _sometimes_real(body)


@schema.hook
def flatmap_query(context, query):
    return _sometimes_real(query)


def no_stack_trace(ctx, response, case) -> bool | None:
    """A body never shows a traceback or an exception's class, whatever the status."""
    text = response.content.decode("utf-8", errors="replace") if response.content else ""
    if STACK_TRACE.search(text):
        raise AssertionError(f"A stack trace in the response body: {STACK_TRACE.search(text)}")
    return None


def not_a_server_error(ctx, response, case) -> bool | None:
    """Any 5xx but 503, the documented "database briefly unavailable" answer (never sent here)."""
    if response.status_code >= 500 and response.status_code != 503:
        raise ServerError(operation=case.operation.label, status_code=response.status_code)
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    no_stack_trace,
]


class _NoBankReachable:
    """The `socket` module as the provider HTTP client sees it, with no name resolving.

    A fuzzed bank URL or SimpleFIN token must never send a request anywhere: not to the internet,
    nor to a service on this machine (demo mode, as in tests, allows loopback banks).
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(socket, name)

    @staticmethod
    def getaddrinfo(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "no bank is reachable from the fuzz test")

    @staticmethod
    def create_connection(address, *args, **kwargs):
        raise OSError("no bank is reachable from the fuzz test")


@pytest.fixture
def _fuzz_environment(settings, monkeypatch):
    import accounts.providers.http as provider_http

    monkeypatch.setattr(provider_http, "socket", _NoBankReachable())
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]  # schemathesis' WSGI client sends Host: localhost
    # As Django's test client does: the end of a request must not close the connection that
    # holds the test's transaction (it would, being outside autocommit).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    REAL_IDS.clear()
    try:
        yield
    finally:
        REAL_IDS.clear()
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_user(_fuzz_environment, user, ingest, django_capture_on_commit_callbacks):
    """A user with a token and three months of realistic data; returns the token's key."""
    from security.services import api_token_create

    today = timezone.localdate()
    this_month = today.replace(day=1)
    months = [this_month]
    for _ in range(2):
        months.append((months[-1] - dt.timedelta(days=1)).replace(day=1))
    checking = AccountFactory.create(user=user, name="Everyday Checking", external_id="0001")
    month_lines = [
        ("2500.00", "ACME CORP PAYROLL PPD"),
        ("-1200.00", "RENT PAYMENT ONLINE"),
        ("-84.12", "WHOLE FOODS MKT #10234"),
        ("-4.75", "SQ *BLUE BOTTLE COFFE"),
        ("-61.30", "SHELL OIL 5744"),
        ("-13.99", "NETFLIX.COM"),
        ("-39.00", "QUIXOTIC GADGETS #7"),
    ]
    # One a day from the 1st, never after today: this month has spending (and alerts) on the 1st too.
    lines = [
        (min(month + dt.timedelta(days=n), today), amount, text)
        for month in months
        for n, (amount, text) in enumerate(month_lines)
    ]
    ingest(checking, *lines)
    connection = ConnectionFactory.create(user=user)
    card = AccountFactory.create(
        user=user, connection=connection, name="Rewards Card", external_id="4111", kind=Account.Kind.CREDIT_CARD
    )
    ingest(card, (today, "-45.00", "AMAZON MKTPLACE PMTS"), (today, "20.00", "AMAZON REFUND"))
    job = SyncJob.objects.create(connection=connection, user=user, trigger=SyncJob.Trigger.LINK)
    upload = file_upload(user=user, raw=b"Date,Description,Amount\n2026-11-02,COFFEE,-3.50\n", filename="a.csv")
    with django_capture_on_commit_callbacks(execute=True):
        for path, amount in (("food", "50.00"), ("food/groceries", "200.00"), ("shopping", "500.00")):
            budget_services.budget_set(user=user, category=Category.objects.get(path=path), amount=Decimal(amount))
    coffee = Transaction.objects.filter(user=user, description__contains="COFFE").first()
    assert coffee is not None
    transaction_recategorize(txn=coffee, category=Category.objects.get(path="food/dining"), always=True)
    assert user.notifications.exists(), "the budgets should have raised an alert to fuzz"

    REAL_IDS.update(
        {
            "accounts": [checking.pk, card.pk],
            "connections": [connection.pk],
            "sync-jobs": [job.pk],
            "imports": [upload.pk],
            "transactions": list(Transaction.objects.filter(user=user).values_list("pk", flat=True)[:20]),
            "budgets": list(user.budgets.values_list("pk", flat=True)),
            "notifications": list(user.notifications.values_list("pk", flat=True)),
            "rules": list(UserRule.objects.filter(user=user).values_list("pk", flat=True)),
            "tokens": [],
            "months": months,
            "categories": list(Category.objects.values_list("path", flat=True)),
        }
    )
    new = api_token_create(user=user, name="fuzz")
    REAL_IDS["tokens"] = [new.token.pk]
    return new.key


def _statement_upload(case) -> dict[str, Any]:
    """A real statement drawn for an upload's `file`, sent under its file name (schemathesis would
    name the part after the field, and the importer goes by the extension)."""
    body = case.body
    if not isinstance(body, dict) or not isinstance(body.get("file"), bytes) or body["file"] not in STATEMENTS:
        return {}
    data: dict[str, Any] = {"file": (BytesIO(body["file"]), STATEMENTS[body["file"]])}
    if isinstance(body.get("account_name"), str):
        data["account_name"] = body["account_name"]
    return {"data": data}


def _run(case, headers: dict[str, str] | None, caller: str) -> None:
    TALLY.operations.add(case.operation.label)
    TALLY.items.add(f"{caller} {case.operation.label}")
    response = case.call(headers=headers, **_statement_upload(case))
    TALLY.requests[caller] += 1
    TALLY.statuses[caller][response.status_code] += 1
    TALLY.by_operation.setdefault(f"{caller} {case.operation.label}", Counter())[response.status_code] += 1
    try:
        case.validate_response(response, checks=CHECKS, headers=headers)
    except FailureGroup as group:
        for failure in group.exceptions:
            if isinstance(failure, ServerError):
                TALLY.server_errors += 1
            elif "stack trace" in str(failure):
                TALLY.stack_traces += 1
            else:
                TALLY.schema_violations += 1
        raise


# The database fixtures are per test, so per operation (one transaction for all its cases): deliberate,
# hence no function-scoped-fixture health check. No deadline: timing is not what is tested here.
FUZZ_SETTINGS = settings(
    deadline=None, derandomize=DERANDOMIZE, database=None, suppress_health_check=list(HealthCheck), print_blob=False
)


@pytest.mark.django_db
@schema.parametrize()
@settings(FUZZ_SETTINGS, max_examples=EXAMPLES_AUTHENTICATED)
def test_fuzz_as_a_user_with_data(case, fuzz_user):
    _run(case, {"Authorization": f"Token {fuzz_user}"}, "user")


@pytest.mark.django_db
@pytest.mark.usefixtures("_fuzz_environment")
@schema.parametrize()
@settings(FUZZ_SETTINGS, max_examples=EXAMPLES_ANONYMOUS)
def test_fuzz_anonymous(case):
    _run(case, None, "anonymous")


@pytest.mark.django_db  # in the fuzz tests' group, so pytest-django's reordering keeps it after them
def test_fuzz_totals(request, capsys):
    """The run's size and findings; run after the fuzz tests above (pytest keeps file order)."""
    fuzz_items = [item for item in request.session.items if item.name.startswith("test_fuzz_a")]
    if not fuzz_items or len(TALLY.items) < len(fuzz_items):
        pytest.skip("only part of the fuzz ran; the totals are for the whole of it")
    operations = len(list(schema.get_all_operations()))
    total = TALLY.requests.total()
    line = (
        f"API fuzz: {total} requests ({TALLY.requests['user']} as a user with data, "
        f"{TALLY.requests['anonymous']} anonymous) to {len(TALLY.operations)} of {operations} operations; "
        f"server errors: {TALLY.server_errors}, schema violations: {TALLY.schema_violations}, "
        f"stack traces: {TALLY.stack_traces}"
    )
    statuses = "; ".join(f"{caller}: {dict(sorted(counts.items()))}" for caller, counts in TALLY.statuses.items())
    with capsys.disabled():
        print(f"\n{line}\nstatuses: {statuses}")
        if os.environ.get("FUZZ_VERBOSE") == "1":
            for label, counts in sorted(TALLY.by_operation.items()):
                print(f"  {label}: {dict(sorted(counts.items()))}")
    assert total >= MIN_REQUESTS, line
    assert TALLY.server_errors == TALLY.schema_violations == TALLY.stack_traces == 0, line
    assert len(TALLY.operations) == operations, line
