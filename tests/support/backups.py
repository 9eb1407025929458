"""Backup test helpers: records written through the services, a backup made now, its ZIP
read back, a restore planned and confirmed, an authenticator and its current code, and a
stand-in SSO backend."""

from __future__ import annotations

import csv
import io
import zipfile

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from backups.models import Backup
from backups.services import backups as backup_services
from backups.services import restore_apply, restore_plan
from crm import sources
from crm.services.records import RecordInput, write_records


class SsoBackend:
    """Stands for an SSO backend (e.g. SAML) in CONCORD_SSO_BACKENDS; authenticates nobody."""

    def authenticate(self, request, **credentials):
        return None

    def get_user(self, user_id):
        from django.contrib.auth import get_user_model

        return get_user_model().objects.filter(pk=user_id).first()


def create(object_type, *rows: dict) -> list[int]:
    """Create records of a type through the services; returns their ids."""
    result = write_records(
        object_type=object_type,
        inputs=[RecordInput(properties=row) for row in rows],
        mode="create",
        source=sources.SYSTEM,
    )
    return result.ids


def update(object_type, record_id: int, properties: dict) -> None:
    """Change one record's properties through the services, as a user."""
    write_records(
        object_type=object_type,
        inputs=[RecordInput(id=record_id, properties=properties)],
        mode="update",
        source=sources.USER,
    )


def make_backup(user=None) -> Backup:
    """Request and write a backup now (the task's work, run in the test's transaction)."""
    backup = backup_services.create_backup(requested_by=user, source=sources.USER)
    backup_services.run_backup(backup_id=backup.pk)
    backup.refresh_from_db()
    assert backup.status == Backup.Status.READY, backup.error
    return backup


def read_zip(backup: Backup) -> dict[str, list[dict]]:
    """{CSV name: rows as dicts} of a backup's ZIP."""
    with backup_services.open_backup_file(backup=backup) as file:
        data = file.read()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {
            name: list(csv.DictReader(io.TextIOWrapper(archive.open(name), "utf-8", newline="")))
            for name in archive.namelist()
        }


def read_header(backup: Backup, name: str) -> list[str]:
    """The header row of one CSV of a backup's ZIP."""
    with (
        backup_services.open_backup_file(backup=backup) as file,
        zipfile.ZipFile(file) as archive,
    ):
        return next(csv.reader(io.TextIOWrapper(archive.open(name), "utf-8", newline="")))


def add_authenticator(user) -> TOTPDevice:
    """A confirmed TOTP authenticator for the user."""
    return TOTPDevice.objects.create(user=user, name="test", confirmed=True)


def current_code(device: TOTPDevice) -> str:
    """The authenticator's code for now."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def confirmed_restore(backup: Backup, user, *, object_type_name: str, properties: list[str]):
    """A restore of `properties` planned and confirmed by `user` (SSO stands for the second
    factor), ready to apply."""
    restore = restore_plan.plan_restore(
        backup=backup,
        object_type_name=object_type_name,
        properties=properties,
        actor=user,
        source=sources.USER,
    )
    return restore_apply.confirm_restore(
        restore=restore,
        user=user,
        confirm_irreversible=True,
        otp=None,
        sso=True,
        source=sources.USER,
    )
