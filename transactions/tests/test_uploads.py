"""Statement files through the pipeline: CSV with a confirmed mapping, QIF, the upload API, replays."""

import datetime as dt
import json
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from accounts.models import Account
from accounts.providers.files import CsvMapping
from transactions import services
from transactions.models import MonthlySpending, RawPayload, Transaction

pytestmark = pytest.mark.django_db
FILES = Path(__file__).parents[2] / "accounts" / "tests" / "data"


def totals():
    return sorted(MonthlySpending.objects.values_list("month", "category_id", "amount", "txn_count"))


def test_a_bank_csv_imports_with_its_detected_mapping_and_twice_adds_nothing(user, django_capture_on_commit_callbacks):
    raw = (FILES / "chase_checking.csv").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        first = services.file_import(user=user, account_name="Chase", raw=raw, filename="Chase1234_Activity.csv")
    before = totals()
    with django_capture_on_commit_callbacks(execute=True):
        again = services.file_import(user=user, account_name="Chase", raw=raw, filename="Chase1234_Activity.csv")

    assert first.new > 0
    assert (again.new, again.existing) == (0, first.new)
    assert totals() == before
    # Two identical coffees on one day stay two rows.
    coffees = Transaction.objects.filter(
        description__startswith="STARBUCKS STORE 00123", posted_on=dt.date(2026, 11, 3)
    )
    assert coffees.count() == 2
    assert len({coffee.external_id for coffee in coffees}) == 2


def test_an_overlapping_later_export_adds_only_the_new_rows(user, django_capture_on_commit_callbacks):
    header = "Date,Description,Amount\n"
    older = header + "2026-11-01,BLUE BOTTLE,-5.00\n2026-11-01,BLUE BOTTLE,-5.00\n2026-11-02,RENT,-1500.00\n"
    newer = older + "2026-11-03,BLUE BOTTLE,-5.00\n"
    with django_capture_on_commit_callbacks(execute=True):
        services.file_import(user=user, account_name="Checking", raw=older.encode(), filename="older.csv")
        result = services.file_import(user=user, account_name="Checking", raw=newer.encode(), filename="newer.csv")
    assert (result.new, result.existing) == (1, 3)
    assert Transaction.objects.filter(user=user).count() == 4


def test_a_mapping_the_user_changed_is_used_and_kept_for_replays(user, django_capture_on_commit_callbacks):
    raw = b"When,What,Charge\n11/03/2026,PURCHASE AT STORE,12.50\n11/04/2026,ANOTHER STORE,7.25\n"
    mapping = CsvMapping.from_dict({"date": 0, "description": 1, "amount": 2, "date_style": "us", "negate": True})
    with django_capture_on_commit_callbacks(execute=True):
        services.file_import(user=user, account_name="Card", raw=raw, filename="card.csv", mapping=mapping)

    assert sorted(Transaction.objects.values_list("amount", flat=True)) == [Decimal("-12.50"), Decimal("-7.25")]
    payload = RawPayload.objects.get(user=user)
    assert CsvMapping.from_dict(payload.csv_mapping) == mapping
    assert payload.account == Account.objects.get(user=user, name="Card")


def test_a_quicken_qif_file_imports(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = services.file_import(
            user=user, account_name="Quicken", raw=(FILES / "quicken_us.qif").read_bytes(), filename="export.qif"
        )
    assert result.new > 0
    assert Transaction.objects.filter(user=user).count() == result.new


@pytest.mark.parametrize(
    ("raw", "filename", "message"),
    [
        (b"Date,Description,Balance\n2026-11-01,COFFEE,100.00\n", "x.csv", "No amount column"),
        (b"Date,Description,Amount\n2026-02-30,COFFEE,-1.00\n", "x.csv", "Line 2"),
        (b"Date,Description,Amount\n2026-11-01,COFFEE,1e309\n", "x.csv", "Line 2"),
        (b"Date,Description,Amount\n2026-11-01,COF\x00FEE,-1.00\n", "x.csv", "NUL"),
        (b"", "x.csv", "empty"),
        (b"%PDF-1.7 statement", "statement.pdf", "Unsupported file type"),
    ],
)
def test_bad_files_write_nothing_and_say_why(user, raw, filename, message):
    with pytest.raises(ValidationError, match=message):
        services.file_import(user=user, account_name="Checking", raw=raw, filename=filename)
    assert not Transaction.objects.exists()
    assert not Account.objects.filter(user=user).exists()


def test_a_file_over_the_size_limit_is_refused_before_it_is_stored(user, settings):
    settings.IMPORT_MAX_BYTES = 1024
    with pytest.raises(ValidationError, match="larger than"):
        services.file_import(user=user, account_name="Checking", raw=b"x" * 2048, filename="big.csv")
    assert not RawPayload.objects.exists()


def test_cp1252_and_utf8_bom_files_import(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for name in ("european_cp1252.csv", "utf8_bom.csv", "checking_sgml_cp1252.ofx", "card_xml_bom.qfx"):
            result = services.file_import(user=user, account_name=name, raw=(FILES / name).read_bytes(), filename=name)
            assert result.new > 0, name
    assert Transaction.objects.filter(description__contains="CAFÉ").exists()


# The upload API: upload, preview, confirm.


def upload(client, name, content, **fields):
    return client.post("/api/v1/imports/", {"file": SimpleUploadedFile(name, content), **fields}, format="multipart")


def test_a_csv_upload_is_previewed_then_imported_with_the_confirmed_mapping(
    user_client, user, django_capture_on_commit_callbacks
):
    response = upload(user_client, "chase.csv", (FILES / "chase_checking.csv").read_bytes())

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["upload"]["status"] == "received"
    preview = body["preview"]
    assert preview["headers"][:3] == ["Details", "Posting Date", "Description"]
    assert preview["lines"][0] == {
        "posted_on": "2026-11-03",
        "amount": "-4.75",
        "description": "STARBUCKS STORE 00123 SEATTLE WA",
    }
    assert not Transaction.objects.exists()  # nothing is written before the user confirms

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = user_client.post(
            f"/api/v1/imports/{body['upload']['id']}/confirm",
            {"account_name": "Chase checking", "mapping": preview["mapping"]},
            format="json",
        )

    assert confirmed.status_code == 201, confirmed.content
    assert confirmed.json()["new"] == Transaction.objects.filter(user=user).count() > 0
    assert confirmed.json()["upload"]["status"] == "imported"


def test_an_ofx_upload_with_an_account_name_imports_at_once(user_client, user, django_capture_on_commit_callbacks):
    raw = (Path(__file__).parent / "data" / "checking_2026-10.ofx").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(user_client, "october.ofx", raw, account_name="Checking")
    assert response.status_code == 201, response.content
    assert (response.json()["new"], response.json()["existing"]) == (9, 0)


def test_upload_errors_are_400_with_the_reason(user_client, settings):
    settings.IMPORT_MAX_BYTES = 100
    too_big = upload(user_client, "big.csv", b"x" * 200)
    assert too_big.status_code == 400
    assert "larger than" in json.dumps(too_big.json())
    settings.IMPORT_MAX_BYTES = 10_000
    no_amount = upload(user_client, "x.csv", b"Date,Description\n2026-11-01,COFFEE\n")
    assert no_amount.status_code == 400
    assert "No amount column" in json.dumps(no_amount.json())


def test_a_bad_mapping_is_a_400(user_client):
    body = upload(user_client, "x.csv", b"Date,Description,Amount\n2026-11-01,COFFEE,-1.00\n").json()
    response = user_client.post(
        f"/api/v1/imports/{body['upload']['id']}/confirm",
        {"account_name": "Checking", "mapping": {"date": 0, "description": 1}},
        format="json",
    )
    assert response.status_code == 400
    assert "mapping" in response.json()


# Replaying stored payloads.


def test_replay_raw_is_a_no_op_when_nothing_is_new(user, django_capture_on_commit_callbacks):
    raw = (FILES / "chase_checking.csv").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        services.file_import(user=user, account_name="Chase", raw=raw, filename="chase.csv")
    before = (Transaction.objects.count(), totals())

    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("replay_raw", "--user", user.username, stdout=out)

    assert (Transaction.objects.count(), totals()) == before
    assert out.getvalue().splitlines()[-1] == "1 payloads replayed: 0 new transactions."


def test_replay_raw_restores_rows_lost_since(user, django_capture_on_commit_callbacks):
    """What replays are for: rows removed (by a bad migration, say) come back from the archive, once."""
    raw = (FILES / "chase_checking.csv").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        first = services.file_import(user=user, account_name="Chase", raw=raw, filename="chase.csv")
        services.account_history_delete(account=Account.objects.get(user=user, name="Chase"))
    assert not Transaction.objects.exists()

    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("replay_raw", stdout=out)
        call_command("replay_raw", stdout=out)

    assert Transaction.objects.count() == first.new
    payload = RawPayload.objects.get()
    assert payload.rows_new == 2 * first.new  # every row the payload ever added


def test_replay_raw_of_a_connection_fetch(user, demo_bank, django_capture_on_commit_callbacks):
    from accounts.services import connection_create

    with django_capture_on_commit_callbacks(execute=True):
        connection = connection_create(user=user, url=demo_bank.url, login="alice", password=demo_bank.password)
    rows = Transaction.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        services.account_history_delete(account=connection.accounts.get(kind="checking"))

    with django_capture_on_commit_callbacks(execute=True):
        call_command("replay_raw", "--connection", str(connection.pk), stdout=StringIO())

    assert Transaction.objects.count() == rows


def test_replay_raw_names_what_it_cannot_replay(user):
    services.file_upload(user=user, raw=b"Date,Description,Amount\n2026-11-01,COFFEE,-1.00\n", filename="x.csv")
    err = StringIO()
    with pytest.raises(CommandError, match="1 payloads could not be replayed"):
        call_command("replay_raw", stdout=StringIO(), stderr=err)
    assert "never imported into an account" in err.getvalue()


def test_import_command_previews_a_csv_without_writing(user):
    out = StringIO()
    call_command("import_transactions", "--preview", str(FILES / "chase_checking.csv"), stdout=out)
    assert out.getvalue().startswith("mapping: {")
    assert "STARBUCKS STORE 00123" in out.getvalue()
    assert not RawPayload.objects.exists()


def test_one_upload_goes_into_one_account(user, django_capture_on_commit_callbacks):
    payload = services.file_upload(
        user=user, raw=b"Date,Description,Amount\n2026-11-01,COFFEE,-4.50\n", filename="a.csv"
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.uploaded_file_import(payload=payload, account_name="Checking")
        again = services.uploaded_file_import(payload=payload, account_name="Checking")
        with pytest.raises(ValidationError, match="already imported into Checking"):
            services.uploaded_file_import(payload=payload, account_name="Savings")
    assert again.new == 0
    assert Transaction.objects.filter(user=user).count() == 1
    assert not Account.objects.filter(user=user, name="Savings").exists()
