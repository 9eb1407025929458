"""The restore wizard as an ops lead uses it, in Debian's headless Chromium (Playwright)."""

import datetime as dt
import re

import pytest

from backups.models import Backup, Restore
from crm.models import ObjectType, Record
from tests.factories import UserFactory
from tests.support.backups import add_authenticator, create, current_code, make_backup, update
from tests.support.schema import ensure_standard_schema

pytestmark = pytest.mark.browser


def test_restore_last_weeks_deal_values_through_the_wizard(live_server, browser_page):
    page = browser_page
    # given deals backed up, then mangled by a bad import
    ensure_standard_schema()
    ops = UserFactory(username="ops", is_staff=True, is_superuser=True)
    device = add_authenticator(ops)
    deals = ObjectType.objects.get(name="deals")
    alpha, beta = create(deals, {"dealname": "Alpha", "amount": 1000}, {"dealname": "Beta"})
    backup = make_backup(ops)
    update(deals, alpha, {"amount": 1})
    update(deals, beta, {"amount": 7})

    # when the ops lead signs in and walks through the wizard
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/backups/restore/")
    page.get_by_role("link", name="Restore from a backup").click()
    page.select_option("#id_backup", str(backup.pk))
    page.select_option("#id_object_type", "deals")
    page.click("input[value='Choose properties']")
    page.get_by_label(re.compile(r"Amount \(amount\)")).check()
    page.click("input[value='Review the plan']")

    # then the plan says what will change and clear, with before → after
    page.wait_for_url(re.compile(r"/admin/backups/restore/\d+/plan/$"))
    cells = page.locator("#plan tbody td").all_inner_texts()
    assert cells == ["Amount amount", "1", "1", "0"]  # changes, clears, invalid
    assert "1000" in page.text_content("#sample")

    # and confirming needs the tick and a current code
    page.click("#continue")
    page.fill("#id_otp", current_code(device))
    page.click("#restore")
    assert "Tick the box" in page.text_content("#confirm-form")
    page.check("#id_confirm_irreversible")
    page.fill("#id_otp", current_code(device))
    page.click("#restore")
    page.wait_for_url(re.compile(r"/admin/backups/restore/\d+/change/$"))
    assert "is running" in page.text_content(".messagelist")

    restore = Restore.objects.get()
    assert restore.status == Restore.Status.DONE
    assert Record.objects.get(pk=alpha).properties["amount"] == 1000
    assert "amount" not in Record.objects.get(pk=beta).properties
    page.goto(f"{live_server.url}/admin/backups/restore/")
    assert "Data restore - Deal" in page.text_content("#result_list")


def sign_in(page, live_server, username="ops"):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")


def two_backups(user):
    """An older backup of deals, then a newer one of contacts and deals; returns both."""
    deals = ObjectType.objects.get(name="deals")
    contacts = ObjectType.objects.get(name="contacts")
    create(deals, {"dealname": "Alpha", "amount": 1000})
    older = make_backup(user)
    # A day earlier, so the plan's one-a-day limit lets the second one through.
    Backup.objects.filter(pk=older.pk).update(created_at=older.created_at - dt.timedelta(days=2))
    create(contacts, *({"email": f"c{i}@example.com", "lastname": f"C{i}"} for i in range(30)))
    newer = make_backup(user)
    return older, newer


def overlaps(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


@pytest.mark.parametrize("width", [1280, 1440])
def test_the_backups_list_fits_the_window(live_server, browser_page, width):
    # given two backups, listed at a laptop's and a desktop's width
    ensure_standard_schema()
    ops = UserFactory(username="ops", is_staff=True, is_superuser=True)
    two_backups(ops)
    page = browser_page
    page.set_viewport_size({"width": width, "height": 800})
    sign_in(page, live_server)

    page.goto(f"{live_server.url}/admin/backups/backup/")

    # then the tools overlap neither the notice nor its plan sentence
    tools = page.locator("ul.object-tools").bounding_box()
    for text in ("#backups-notice", "#backup-plan"):
        assert not overlaps(tools, page.locator(text).bounding_box()), text
    for button in page.locator("ul.object-tools a").all():
        assert not overlaps(button.bounding_box(), page.locator("#backup-plan").bounding_box())
    # and every row's Download ZIP and Restore… are inside the window, with nothing to scroll
    for link in page.locator("#result_list a.download, #result_list a.restore").all():
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, link.inner_text()
    assert page.locator("#result_list a.download").count() == 2
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    results = page.locator("#changelist .results")
    assert results.evaluate("el => el.scrollWidth <= el.clientWidth")


def test_back_up_now_asks_first(live_server, browser_page):
    ensure_standard_schema()
    UserFactory(username="ops", is_staff=True, is_superuser=True)
    page = browser_page
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/admin/backups/backup/")

    # when the button is clicked, a question comes first and nothing is made yet
    page.click("#backup-now")
    page.wait_for_url(re.compile(r"/admin/backups/backup/create/$"))
    assert "Keep the file safe" in page.text_content("#content-main")
    assert not Backup.objects.exists()

    # then declining goes back with nothing made, and confirming makes one
    page.get_by_role("link", name="No, take me back").click()
    page.wait_for_url(re.compile(r"/admin/backups/backup/$"))
    assert not Backup.objects.exists()
    page.click("#backup-now")
    page.click("#confirm-backup")
    page.wait_for_url(re.compile(r"/admin/backups/backup/$"))
    assert "is being written" in page.text_content(".messagelist")
    assert Backup.objects.count() == 1


def test_restore_from_a_row_opens_the_wizard_with_that_backup(live_server, browser_page):
    # given an older backup of deals only and a newer one of contacts and deals
    ensure_standard_schema()
    ops = UserFactory(username="ops", is_staff=True, is_superuser=True)
    older, newer = two_backups(ops)
    page = browser_page
    sign_in(page, live_server)

    # the wizard on its own preselects the newest backup, and contacts
    page.goto(f"{live_server.url}/admin/backups/restore/new/")
    assert page.input_value("#id_backup") == str(newer.pk)
    assert page.input_value("#id_object_type") == "contacts"

    # when the older backup's Restore… is clicked in the list
    page.goto(f"{live_server.url}/admin/backups/backup/")
    row = page.locator("#result_list tr", has=page.get_by_role("link", name=f"#{older.pk}"))
    row.locator("a.restore").click()

    # then the wizard opens on it, with the first object type it holds
    page.wait_for_url(re.compile(rf"/admin/backups/restore/new/\?backup={older.pk}$"))
    assert page.input_value("#id_backup") == str(older.pk)
    assert page.input_value("#id_object_type") == "deals"
    page.click("input[value='Choose properties']")
    assert page.get_by_label(re.compile(r"Amount \(amount\)")).is_visible()


def test_the_wizard_tells_about_the_second_factor_on_its_first_step(live_server, browser_page):
    ensure_standard_schema()
    ops = UserFactory(username="ops", is_staff=True, is_superuser=True)
    two_backups(ops)
    page = browser_page
    sign_in(page, live_server)

    # without an authenticator: said on step 1, with the way to set one up
    page.goto(f"{live_server.url}/admin/backups/restore/new/")
    notice = page.locator("#second-factor")
    assert "you have none set up" in " ".join(notice.inner_text().split())
    notice.get_by_role("link", name="Set up your authenticator").click()
    page.wait_for_url(re.compile(r"/admin/backups/restore/two-factor/$"))

    # with one: step 1 says a code will be asked at the end
    add_authenticator(ops)
    page.goto(f"{live_server.url}/admin/backups/restore/new/")
    assert "asks for a current code from your authenticator app" in " ".join(
        page.locator("#second-factor").inner_text().split()
    )
