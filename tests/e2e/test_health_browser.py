"""The sync health page as staff use it, in Debian's headless Chromium driven by Playwright:
the cards count the errors the engine produced against the Salesforce sandbox, a card lists its
errors, two of them are resynced (a real Celery worker runs the targeted push) and the current
filter is exported as CSV.

Selecting more than 100 errors cannot be done on this page (it lists 50 errors a page and
"select all" selects that page), so the refusal of 101 ids is left to the API and form tests
in tests/syncengine/test_health.py."""

import csv
import re

import pytest

from crm.services.records import create_record, update_record
from tests.factories import UserFactory
from tests.support.sync import member_of_a_refused_company, run_cycle_now
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.worker]


CARDS = [
    ("associations", "Associations"),
    ("custom_code", "Custom code"),
    ("duplicates", "Duplicates"),
    ("permissions", "Permissions"),
    ("picklists", "Picklists"),
    ("property_mappings", "Property mappings"),
    ("property_values", "Property values"),
    ("other", "Other"),
]
CSV_HEADER = [
    "Error id",
    "Type",
    "Status",
    "Message",
    "Code",
    "Record",
    "Concord record id",
    "Object type",
    "Blocking record",
    "Salesforce object",
    "Salesforce id",
    "Salesforce URL",
    "Salesforce field",
    "Property",
    "Details",
    "First seen",
    "Last seen",
    "Occurrences",
]
# Columns of a row of the error list (no type-specific columns for property values).
STATUS_COL, OCCURRENCES_COL = 6, 9


@pytest.fixture
def engine_errors(salesforce_integration):
    """Records the sandbox's org refuses, one cycle run: errors of several types, three of
    them contacts without the last name Salesforce requires."""
    from crm.models import ObjectType

    contacts = ObjectType.objects.get(name="contacts")
    companies = ObjectType.objects.get(name="companies")
    nameless = [
        create_record(
            object_type=contacts,
            properties={"email": f"{name.lower()}@x.com", "firstname": name},
            source="user",
        )
        for name in ("Ada", "Bob", "Cy")
    ]
    create_record(
        object_type=companies,
        properties={"name": "Estates", "industry": "REAL_ESTATE"},
        source="user",
    )
    member_of_a_refused_company(contacts, companies, email="m@x.com", lastname="Member")
    cycle = run_cycle_now(salesforce_integration)
    assert cycle.status == "success", cycle.status
    return nameless


def current_counts(integration) -> dict[str, tuple[int, int]]:
    """Current errors and distinct affected records per type, straight from the tables."""
    from syncengine.models import SyncError, SyncErrorAffectedRecord

    current = SyncError.objects.filter(integration=integration, status__in=["open", "resyncing"])
    counts = {}
    for value, _ in CARDS:
        of_type = current.filter(category=value)
        affected = (
            SyncErrorAffectedRecord.objects.filter(error__in=of_type)
            .values("record_id")
            .distinct()
            .count()
        )
        counts[value] = (of_type.count(), affected)
    return counts


def expect_cards(page, expected: dict[str, tuple[int, int]]) -> None:
    from playwright.sync_api import expect

    cards = page.locator("#cards .health-card")
    expect(cards).to_have_count(len(CARDS))
    for i, (value, label) in enumerate(CARDS):
        card = cards.nth(i)
        errors, affected = expected[value]
        expect(card).to_have_attribute("data-type", value)
        expect(card.locator("strong")).to_have_text(label)
        expect(card.locator(".count")).to_have_text(str(errors))
        expect(card).to_contain_text(
            f"error{'' if errors == 1 else 's'} · "
            f"{affected} affected record{'' if affected == 1 else 's'}"
        )


def sign_in_and_open_health(page, live_server, integration) -> str:
    """Staff sign in and open the integration's sync health page from the integrations list."""
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.goto(f"{live_server.url}/admin/syncengine/integration/")
    page.get_by_role("link", name="Sync health").click()
    health = f"{live_server.url}/admin/syncengine/integration/{integration.pk}/health/"
    page.wait_for_url(health)
    expect(page.locator("h1")).to_contain_text("Sync health: Sandbox org")
    return health


def open_property_values_card(page, health: str, errors: dict, records: list):
    """A card opens the list of its errors, with the type's resolution steps; returns its rows."""
    from playwright.sync_api import expect

    page.locator('.health-card[data-type="property_values"] a.card-link').click()
    page.wait_for_url(f"{health}?type=property_values")
    expect(page.locator('.health-card[data-type="property_values"]')).to_have_class(
        re.compile(r"\bcurrent\b")
    )
    expect(page.get_by_role("heading", name="Property values")).to_be_visible()
    expect(page.locator("details.info[open]")).to_contain_text("How to resolve")
    expect(page.locator("#resync-form")).to_contain_text("(at most 100 at a time)")
    rows = page.locator("#errors tbody tr")
    expect(rows).to_have_count(3)
    assert {int(i) for i in rows.evaluate_all("rs => rs.map(r => r.dataset.id)")} == {
        e.pk for e in errors.values()
    }
    for record in records:
        row = page.locator(f'#errors tr[data-id="{errors[record.pk].pk}"]')
        expect(row.get_by_role("link", name=str(record))).to_be_visible()
        expect(row).to_contain_text("LastName / lastname")
        # The message leads, the code follows it (issue 17)
        expect(row.locator(".summary")).to_have_text("Required fields are missing: [LastName]")
        expect(row.locator(".code")).to_have_text("REQUIRED_FIELD_MISSING")
        expect(row.locator("td").nth(STATUS_COL)).to_have_text("Open")
        expect(row.locator("td").nth(OCCURRENCES_COL)).to_have_text("1")
    return rows


def resync_from_the_page(page, health: str, chosen: list) -> None:
    """Select these errors and press Resync; the page says what happens and marks them."""
    from playwright.sync_api import expect

    for error in chosen:
        page.get_by_label(f"Select error {error.pk}").check()
    page.click("#resync-button")
    page.wait_for_url(f"{health}?type=property_values")
    expect(page.locator(".messagelist")).to_contain_text(
        "Resyncing 2 errors: 2 records are being pushed now."
    )
    for error in chosen:
        row = page.locator(f'#errors tr[data-id="{error.pk}"]')
        expect(row.locator("td").nth(STATUS_COL)).to_have_text("Resyncing")


def wait_for_the_resync_cycle(integration, chosen: list, worker) -> None:
    """The worker runs the queued push now, not at the next cycle, and settles the errors (the
    cycle settles them as it pushes their records; wait for it to end as well)."""
    from syncengine.models import SyncCycle, SyncError

    worker.start()

    def settled() -> bool:
        cycles = integration.cycles.filter(trigger="resync")
        pending = SyncError.objects.filter(pk__in=[e.pk for e in chosen], status="resyncing")
        return (
            cycles.exists()
            and not cycles.filter(status__in=SyncCycle.ACTIVE).exists()
            and not pending.exists()
        )

    wait_until(settled, timeout=45)
    assert list(integration.cycles.filter(trigger="resync").values_list("status", flat=True)) == [
        "success"
    ]


def assert_fixed_resolved_and_broken_reopened(integration, sandbox, errors, fixed, still_broken):
    """The fixed record synced and its error resolved; the broken one is open again, seen anew."""
    from crm.models import Record
    from syncengine.models import RecordLink, SyncError

    resolved = SyncError.objects.get(pk=errors[fixed.pk].pk)
    assert resolved.status == "resolved" and resolved.resolved_at is not None
    remote_id = RecordLink.objects.get(integration=integration, record=fixed).remote_id
    assert remote_id and sandbox.get("Contact", remote_id)["LastName"] == "Lovelace"
    reopened = SyncError.objects.get(pk=errors[still_broken.pk].pk)
    assert reopened.status == "open" and reopened.code == "REQUIRED_FIELD_MISSING"
    assert reopened.occurrences == 2
    assert reopened.last_seen_at > errors[still_broken.pk].last_seen_at
    assert not RecordLink.objects.get(integration=integration, record=still_broken).remote_id
    assert Record.objects.get(pk=still_broken.pk).properties.get("lastname") in (None, "")
    return resolved, reopened


def download_export(page, integration) -> tuple[list[str], list[dict[str, str]]]:
    """Export the current filter; returns the CSV's header and its lines by column."""
    from playwright.sync_api import expect

    export = page.locator("#export-link")
    expect(export).to_have_text("Export these errors (CSV)")
    with page.expect_download() as info:
        export.click()
    download = info.value
    assert download.suggested_filename == f"sync-errors-{integration.pk}.csv"
    with open(download.path(), newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        exported = [dict(zip(header, line, strict=True)) for line in reader]
    return header, exported


def assert_exported_lines(by_id: dict, expected_records: list) -> None:
    """Each exported line describes its error: type, status, code, record and field."""
    for error_id, record in expected_records:
        line = by_id[error_id]
        assert (line["Type"], line["Status"], line["Code"]) == (
            "Property values",
            "Open",
            "REQUIRED_FIELD_MISSING",
        )
        assert line["Concord record id"] == str(record.pk) and line["Object type"] == "contacts"
        assert (line["Salesforce object"], line["Salesforce field"], line["Property"]) == (
            "Contact",
            "LastName",
            "lastname",
        )


def test_cards_list_resync_and_export(
    live_server,
    browser_page,
    salesforce_integration,
    salesforce_sandbox,
    engine_errors,
    restartable_worker,
):
    # The Salesforce sandbox and an integration connected to it (tests/support/); the real
    # worker is started when the test wants the queued push to run (so that "resyncing" is seen).
    integration, sandbox = salesforce_integration, salesforce_sandbox
    from playwright.sync_api import expect

    from syncengine.models import SyncError

    UserFactory(username="ops", is_staff=True, is_superuser=True)
    fixed, still_broken, untouched = engine_errors
    errors = {
        r.pk: SyncError.objects.get(record=r, category="property_values") for r in engine_errors
    }
    assert {e.code for e in errors.values()} == {"REQUIRED_FIELD_MISSING"}
    # What the cycle produced: one error per refused record, and nothing of four of the types.
    expected = {value: (0, 0) for value, _ in CARDS}
    expected.update(
        property_values=(3, 3), picklists=(1, 1), custom_code=(1, 1), associations=(1, 1)
    )
    assert current_counts(integration) == expected
    page = browser_page
    health = sign_in_and_open_health(page, live_server, integration)

    # All eight cards, in order, with their counts; the empty ones show 0.
    expect_cards(page, expected)
    expect(page.locator("#export-link")).to_have_text("Export all current errors (CSV)")
    rows = open_property_values_card(page, health, errors, engine_errors)

    # One record is fixed in Concord before the resync, another is still missing its last name.
    update_record(record=fixed, properties={"lastname": "Lovelace"}, source="user")
    chosen = [errors[fixed.pk], errors[still_broken.pk]]
    resync_from_the_page(page, health, chosen)
    # The two errors are resyncing, the third one is untouched.
    untouched_row = page.locator(f'#errors tr[data-id="{errors[untouched.pk].pk}"]')
    expect(untouched_row.locator("td").nth(STATUS_COL)).to_have_text("Open")
    assert dict(
        SyncError.objects.filter(pk__in=[e.pk for e in errors.values()]).values_list("pk", "status")
    ) == {
        errors[fixed.pk].pk: "resyncing",
        errors[still_broken.pk].pk: "resyncing",
        errors[untouched.pk].pk: "open",
    }

    wait_for_the_resync_cycle(integration, chosen, restartable_worker)
    resolved, reopened = assert_fixed_resolved_and_broken_reopened(
        integration, sandbox, errors, fixed, still_broken
    )

    # After a reload the list shows exactly that: the resolved error has left the current list.
    page.reload()
    expect(rows).to_have_count(2)
    expect(page.locator(f'#errors tr[data-id="{resolved.pk}"]')).to_have_count(0)
    row = page.locator(f'#errors tr[data-id="{reopened.pk}"]')
    expect(row.locator("td").nth(STATUS_COL)).to_have_text("Open")
    expect(row.locator("td").nth(OCCURRENCES_COL)).to_have_text("2")
    expect(untouched_row.locator("td").nth(STATUS_COL)).to_have_text("Open")
    after = {**expected, "property_values": (2, 2)}
    assert current_counts(integration) == after
    expect_cards(page, after)

    # Export the current filter: the download is the CSV of the errors this list shows.
    header, exported = download_export(page, integration)
    assert header == CSV_HEADER
    shown = {int(i) for i in rows.evaluate_all("rs => rs.map(r => r.dataset.id)")}
    assert {int(r["Error id"]) for r in exported} == shown == {reopened.pk, errors[untouched.pk].pk}
    assert len(exported) == 2
    by_id = {int(r["Error id"]): r for r in exported}
    assert_exported_lines(
        by_id, [(reopened.pk, still_broken), (errors[untouched.pk].pk, untouched)]
    )
    assert by_id[reopened.pk]["Occurrences"] == "2"
