"""Every admin page of the demo data at 1280 by 800 px, in Debian's headless Chromium: none may be
wider than the window (no sideways scrolling) and none may answer with a server error.

The pages are found from the admin site itself (tests/support/admin_pages.py), so a page added
later is covered without touching this test; the URLs it cannot fill in are printed (pytest -s)
with their reasons.
"""

from __future__ import annotations

import io

import pytest
from django.contrib import admin
from django.core.management import call_command

from backups.services import restore_plan
from crm import sources
from crm.models import ObjectType
from crm.services.records import create_record
from tests.factories import UserFactory
from tests.support.admin_pages import list_admin_pages
from tests.support.backups import add_authenticator, make_backup
from tests.support.sync import run_cycle_now

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1280, "height": 800}
# The elements that stick out past the window's right edge, to name them in a failure.
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.right > width + 1 && box.width > 0) {
      out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
               (el.className && typeof el.className === 'string'
                  ? '.' + el.className.trim().split(/\\s+/).join('.') : ''));
    }
  }
  return out.slice(0, 4);
}"""


@pytest.fixture
def demo_admin(salesforce_integration, settings, tmp_path):
    """The demo's data at a small size, synced once with the Salesforce sandbox (records it
    refuses become sync errors), a backup, a planned restore, and the super admin seeing it."""
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "backups")},
        },
    }
    settings.CONCORD_PLAN = "enterprise"
    call_command("seed_demo", scale=0.02, stdout=io.StringIO())
    contacts = ObjectType.objects.get(name="contacts")
    # Salesforce requires a contact's last name: this one becomes an open sync error.
    create_record(
        object_type=contacts,
        properties={"email": "nameless@example.com", "firstname": "Nameless"},
        source=sources.USER,
    )
    run_cycle_now(salesforce_integration)
    ops = UserFactory(username="ops", is_staff=True, is_superuser=True)
    add_authenticator(ops)
    backup = make_backup(ops)
    restore_plan.plan_restore(
        backup=backup,
        object_type_name="contacts",
        properties=["jobtitle"],
        actor=ops,
        source=sources.USER,
    )
    return ops


def test_every_admin_page_fits_1280_px_and_answers_without_a_server_error(
    live_server, browser_page, demo_admin
):
    page = browser_page
    page.set_viewport_size(VIEWPORT)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")

    pages, skipped = list_admin_pages(admin.site, demo_admin)
    print("\nAdmin URLs not visited:")
    for item in skipped:
        print(f"  {item.pattern}: {item.reason}")
    # The enumeration found the site's pages, custom views included.
    urls = {p.url for p in pages}
    assert {"/admin/", "/admin/backups/backup/", "/admin/backups/restore/new/"} <= urls
    assert any(url.startswith("/admin/crm/record/?type=") for url in urls)
    assert sum("/change/" in url for url in urls) >= 10

    failures = []
    for admin_page in pages:
        url = f"{live_server.url}{admin_page.url}"
        # Asked first without rendering: downloads (ZIP, CSV) are checked for their status only.
        answer = page.request.get(url)
        if answer.status >= 500:
            failures.append(f"{admin_page.what} ({admin_page.url}): HTTP {answer.status}")
            continue
        if answer.status == 405:  # a form's target that takes POST only: no page to lay out
            continue
        if not answer.headers.get("content-type", "").startswith("text/html"):
            continue
        response = page.goto(url)
        if response.status >= 500:
            failures.append(f"{admin_page.what} ({admin_page.url}): HTTP {response.status}")
            continue
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > VIEWPORT["width"]:
            culprits = ", ".join(page.evaluate(OVERFLOWING))
            failures.append(f"{admin_page.what} ({admin_page.url}): {width} px wide ({culprits})")
    assert not failures, f"{len(failures)} of {len(pages)} pages:\n" + "\n".join(failures)
