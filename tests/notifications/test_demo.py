"""`make demo`'s notification side: the admin's digests go out at once, the ready lines say
where the admin and the mail are, once every integration's first sync has ended."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from config.demo_env import demo_environment
from notifications.demo import (
    describe_mail_destination,
    ready_message,
    send_digests_instantly,
    wait_for_first_syncs,
)
from notifications.models import IntegrationNotificationSetting, NotificationSetting
from notifications.services import update_setting
from syncengine.models import SyncCycle
from syncengine.services.errors import record_sync_error
from tests.factories import IntegrationFactory, SyncCycleFactory, UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_demo_admins_digests_become_instant_for_every_integration():
    admin = UserFactory(username="admin", is_staff=True, is_superuser=True)
    integration = IntegrationFactory()
    update_setting(
        user=admin,
        changes={"sync_errors_enabled": False},
        integrations=[{"integration": integration, "frequency": "weekly"}],
    )

    call_command("ensure_demo_digests")
    call_command("ensure_demo_digests")  # twice is the same

    setting = NotificationSetting.objects.get(user=admin)
    assert (setting.sync_errors_enabled, setting.sync_errors_frequency) == (True, "instantly")
    assert not IntegrationNotificationSetting.objects.exists()


def test_an_unknown_demo_admin_is_a_clear_error():
    assert send_digests_instantly(username="nobody") is None
    with pytest.raises(CommandError, match="No user 'nobody'"):
        call_command("ensure_demo_digests", username="nobody")
    assert not NotificationSetting.objects.exists()


def test_in_the_demos_environment_mail_goes_to_files_under_var_mail():
    # The demo runs config.settings with only its generated secrets (var/demo.env): no email
    # variables, so the project's default backend writes files under var/mail.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CONCORD_"))}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(demo_environment(), DJANGO_SETTINGS_MODULE="config.settings")
    probe = (
        "import django; django.setup(); "
        "from notifications.demo import describe_mail_destination as d; print(d())"
    )

    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout

    assert out.strip().splitlines()[-1].startswith("as files in var/mail/")


def test_mail_through_smtp_names_the_server(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "mail.example.com", 2525

    assert describe_mail_destination() == "to the SMTP server at mail.example.com:2525"


def test_waiting_ends_when_every_integrations_newest_cycle_has_ended():
    salesforce = IntegrationFactory(name="Salesforce sandbox")
    google = IntegrationFactory(name="Google sandbox")
    SyncCycleFactory(integration=salesforce, status="success")  # an earlier run's cycle
    first_syncs = [
        SyncCycleFactory(integration=salesforce, status="running"),
        SyncCycleFactory(integration=google),
    ]
    naps = []

    def sync_meanwhile(seconds: float) -> None:
        # Each nap, one more first sync ends (the worker's part).
        naps.append(seconds)
        cycle = first_syncs[len(naps) - 1]
        SyncCycle.objects.filter(pk=cycle.pk).update(status="incomplete")

    assert wait_for_first_syncs(timeout=60, poll=2, sleep=sync_meanwhile) == []
    assert naps == [2, 2]


def test_waiting_gives_up_after_the_timeout_naming_what_still_runs():
    IntegrationFactory(name="Salesforce sandbox")  # its first cycle not even queued yet
    naps = []

    unfinished = wait_for_first_syncs(timeout=6, poll=2, sleep=naps.append)

    assert unfinished == ["Salesforce sandbox"]
    assert naps == [2, 2, 2]


def test_the_ready_message_names_the_admin_url_the_first_syncs_and_where_mail_goes(settings):
    settings.CONCORD_BASE_URL = "http://127.0.0.1:8731/"
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = settings.BASE_DIR / "var" / "mail"
    salesforce = IntegrationFactory(name="Salesforce sandbox")
    IntegrationFactory(name="Google sandbox")
    for remote_id in ("0031", "0032"):
        record_sync_error(
            integration=salesforce,
            category="picklists",
            code="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            message="bad value",
            remote_object="Account",
            remote_id=remote_id,
        )

    message = ready_message(unfinished=["Google sandbox"], username="admin", password="admin")

    lines = [line.strip() for line in message.splitlines()]
    assert "Concord is up." in lines  # not "ready" while a first sync still runs
    assert "Salesforce sandbox: first sync done, 2 open sync errors" in lines
    assert "Google sandbox: still syncing, 0 open sync errors" in lines
    assert "Admin:  http://127.0.0.1:8731/admin/   login: admin / admin" in lines
    mail = [line for line in lines if line.startswith("Mail:")]
    assert len(mail) == 1 and "instantly" in mail[0] and "var/mail/" in mail[0]
    assert "Concord is ready." in ready_message(unfinished=[], username="a", password="b")


def test_demo_ready_prints_the_ready_lines_once_the_syncs_have_ended(capsys, settings):
    settings.CONCORD_BASE_URL = "http://127.0.0.1:8000"
    SyncCycleFactory(integration=IntegrationFactory(name="Salesforce sandbox"), status="success")

    call_command("demo_ready", wait=0)

    out = capsys.readouterr().out
    assert "Concord is ready." in out and "http://127.0.0.1:8000/admin/" in out
