"""Only writable properties are restored: read-only ones (sync properties, others Concord sets)
are neither offered nor accepted, by the wizard, the API or a plan confirmed later."""

import pytest
from django.test import Client

from backups.errors import BackupError
from backups.models import Restore
from backups.services import restore_apply, restore_plan
from crm import sources
from crm.models import AuditEvent, Property, Record
from crm.services.schema import create_property, update_property
from tests.support.backups import create, make_backup, update
from tests.support.counts import table_counts
from tests.support.sync_properties import make_sync


@pytest.fixture
def backed_up_contacts(contacts, staff_user):
    """Contacts with a sync property and a read-only text property, backed up, then changed."""
    make_sync()  # contacts.company_name, copied from the associated company
    create_property(object_type=contacts, name="legacy_score", label="Legacy score", read_only=True)
    (ada,) = create(contacts, {"email": "ada@example.com", "jobtitle": "Engineer"})
    backup = make_backup(staff_user)
    update(contacts, ada, {"jobtitle": "Manager"})
    return {"backup": backup, "ada": ada}


def test_read_only_properties_are_not_offered(backed_up_contacts, contacts):
    names = restore_plan.restorable_properties(
        backup=backed_up_contacts["backup"], object_type=contacts
    )

    assert "jobtitle" in names and "email" in names
    assert "company_name" not in names  # the sync property
    assert "legacy_score" not in names  # read-only


@pytest.mark.parametrize("refused", ["company_name", "legacy_score"])
def test_planning_a_read_only_property_is_refused_and_changes_nothing(
    backed_up_contacts, staff_user, refused
):
    before = table_counts(Restore, AuditEvent)

    with pytest.raises(BackupError) as excinfo:
        restore_plan.plan_restore(
            backup=backed_up_contacts["backup"],
            object_type_name="contacts",
            properties=["jobtitle", refused],
            actor=staff_user,
            source=sources.USER,
        )

    assert excinfo.value.field == "properties"
    assert excinfo.value.message.startswith(f"Read-only properties cannot be restored: {refused} ")
    assert table_counts(Restore, AuditEvent) == before


def test_the_api_refuses_a_sync_property_with_a_clear_400(backed_up_contacts, staff_api_client):
    body = {
        "backup": backed_up_contacts["backup"].pk,
        "object_type": "contacts",
        "properties": ["company_name"],
    }

    response = staff_api_client.post("/api/v1/restores/", body, format="json")

    assert response.status_code == 400
    assert "Read-only properties cannot be restored: company_name" in response.json()["detail"]
    assert not Restore.objects.exists()


def test_the_wizard_lists_no_read_only_property_and_refuses_one_posted(
    backed_up_contacts, staff_user
):
    client = Client()
    client.force_login(staff_user)
    source = {"backup": backed_up_contacts["backup"].pk, "object_type": "contacts"}

    step2 = client.get("/admin/backups/restore/new/", source).content.decode()
    posted = client.post("/admin/backups/restore/new/", {**source, "properties": ["company_name"]})

    assert 'value="jobtitle"' in step2
    assert 'value="company_name"' not in step2 and 'value="legacy_score"' not in step2
    # Not among the choices: the form refuses it before the service is asked.
    assert "company_name is not one of the available choices" in posted.content.decode()
    assert not Restore.objects.exists()


def test_a_property_made_read_only_after_planning_is_refused_at_confirmation(
    backed_up_contacts, contacts, staff_user
):
    restore = restore_plan.plan_restore(
        backup=backed_up_contacts["backup"],
        object_type_name="contacts",
        properties=["jobtitle"],
        actor=staff_user,
        source=sources.USER,
    )
    update_property(
        prop=Property.objects.get(object_type=contacts, name="jobtitle"),
        changes={"read_only": True},
        source=sources.USER,
    )

    with pytest.raises(BackupError, match="Read-only properties cannot be restored: jobtitle"):
        restore_apply.confirm_restore(
            restore=restore,
            user=staff_user,
            confirm_irreversible=True,
            otp=None,
            sso=True,
            source=sources.USER,
        )

    restore.refresh_from_db()
    assert restore.status == Restore.Status.PLANNED
    ada = Record.objects.get(pk=backed_up_contacts["ada"])
    assert ada.properties["jobtitle"] == "Manager"
