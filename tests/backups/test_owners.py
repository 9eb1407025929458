"""Owners in backups: each object's CSV holds its owner ids, _concord/owners.csv lists the owners
(a path no object type's CSV can take), and a
restore writes owner values back, refusing (and saying so in its plan) owners gone since."""

from __future__ import annotations

import io
import zipfile

import pytest

from backups.models import Restore
from backups.selectors import plan_sample
from backups.services import backups as backup_services
from backups.services import restore_apply, restore_plan
from backups.services.writer import OWNERS_CSV
from crm import sources
from crm.models import Record
from crm.services.owners import deactivate_owner
from crm.services.schema import create_object_type
from tests.factories import OwnerFactory
from tests.support.backups import create, make_backup, read_zip, update


@pytest.fixture
def owned(contacts, staff_user):
    """Two contacts owned by Ada, backed up, then given to Bob."""
    ada = OwnerFactory(name="Ada", email="ada@example.com")
    bob = OwnerFactory(name="Bob", email="bob@example.com")
    ids = create(
        contacts,
        {"email": "one@example.com", "owner": ada.pk},
        {"email": "two@example.com", "owner": ada.pk},
    )
    backup = make_backup(staff_user)
    for pk in ids:
        update(contacts, pk, {"owner": bob.pk})
    return {"backup": backup, "ids": ids, "ada": ada, "bob": bob}


def plan(owned, staff_user) -> Restore:
    return restore_plan.plan_restore(
        backup=owned["backup"],
        object_type_name="contacts",
        properties=["owner"],
        actor=staff_user,
        source=sources.USER,
    )


def apply(restore: Restore, staff_user) -> Restore:
    restore_apply.confirm_restore(
        restore=restore,
        user=staff_user,
        confirm_irreversible=True,
        otp=None,
        sso=True,
        source=sources.USER,
    )
    restore_apply.apply_restore(restore_id=restore.pk)  # the on-commit task, run here
    restore.refresh_from_db()
    return restore


def test_a_backup_holds_owner_ids_and_the_owners(owned):
    files = read_zip(owned["backup"])

    ada, bob = owned["ada"], owned["bob"]
    assert {row["owner"] for row in files["contacts.csv"]} == {str(ada.pk)}
    assert files[OWNERS_CSV] == [
        {"id": str(ada.pk), "name": "Ada", "email": "ada@example.com", "is_active": "true"},
        {"id": str(bob.pk), "name": "Bob", "email": "bob@example.com", "is_active": "true"},
    ]


def test_owner_values_are_restored_and_shown_by_name_in_the_plan(owned, staff_user):
    restore = plan(owned, staff_user)

    assert restore.plan["properties"]["owner"] == {"change": 2, "clear": 0, "invalid": 0}
    assert plan_sample(restore=restore)[0]["changes"] == [
        {"property": "owner", "before": "Bob", "after": "Ada"}
    ]
    restore = apply(restore, staff_user)

    assert restore.status == Restore.Status.DONE
    owners = set(Record.objects.filter(pk__in=owned["ids"]).values_list("properties__owner"))
    assert owners == {(owned["ada"].pk,)}


def test_an_owner_deactivated_since_is_refused_per_value_with_its_reason(owned, staff_user):
    ada = owned["ada"]
    deactivate_owner(owner=ada, source=sources.USER)

    restore = plan(owned, staff_user)

    assert restore.plan["properties"]["owner"]["invalid"] == 2
    assert restore.plan["invalid_sample"] == [
        {"id": pk, "property": "owner", "reason": f"no active owner with id {ada.pk}"}
        for pk in owned["ids"]
    ]
    restore = apply(restore, staff_user)

    assert restore.failed_count == 2
    assert restore.errors[0]["errors"] == {"owner": [f"no active owner with id {ada.pk}"]}
    owners = set(Record.objects.filter(pk__in=owned["ids"]).values_list("properties__owner"))
    assert owners == {(owned["bob"].pk,)}  # nothing changed


def test_the_plan_page_lists_the_refused_values(owned, staff_user, client):
    deactivate_owner(owner=owned["ada"], source=sources.USER)
    restore = plan(owned, staff_user)
    client.force_login(staff_user)

    html = client.get(f"/admin/backups/restore/{restore.pk}/plan/").content.decode()

    assert "Values that will be refused" in html
    assert f"no active owner with id {owned['ada'].pk}" in html


def test_an_object_type_named_owners_keeps_its_own_csv(crm_schema, staff_user):
    owners_type = create_object_type(
        name="owners", label_singular="Owner", label_plural="Owners", source=sources.API
    )
    ada = OwnerFactory(name="Ada", email="ada@example.com")
    (pk,) = create(owners_type, {"name": "Not an owner", "owner": ada.pk})
    backup = make_backup(staff_user)

    with backup_services.open_backup_file(backup=backup) as file:
        names = zipfile.ZipFile(io.BytesIO(file.read())).namelist()
    assert sorted(names) == [OWNERS_CSV, "owners.csv"]  # each once
    files = read_zip(backup)
    assert [row["name"] for row in files["owners.csv"]] == ["Not an owner"]
    assert [row["email"] for row in files[OWNERS_CSV]] == ["ada@example.com"]

    # Restoring the type reads its own records, not the list of owners
    update(owners_type, pk, {"name": "Renamed"})
    restore = restore_plan.plan_restore(
        backup=backup,
        object_type_name="owners",
        properties=["name"],
        actor=staff_user,
        source=sources.USER,
    )
    assert restore.plan["properties"]["name"] == {"change": 1, "clear": 0, "invalid": 0}
    assert plan_sample(restore=restore)[0]["changes"] == [
        {"property": "name", "before": "Renamed", "after": "Not an owner"}
    ]
