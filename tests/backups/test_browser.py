"""The restore wizard as an ops lead uses it, in Debian's headless Chromium (Playwright)."""

import re

import pytest

from backups.models import Restore
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
