"""Who may see which property: the rules load on their own (for reads of records) exactly as
they load with the whole schema, in one query unless some property is restricted."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import ObjectType, Property
from crm.schema import load_object_type_with_access, load_property_access, load_schema
from tests.factories import UserFactory


def test_access_alone_is_the_schemas_access_in_one_query(contacts):
    with CaptureQueriesContext(connection) as queries:
        access = load_property_access(contacts)

    assert len(queries) == 1
    assert access == load_schema(contacts).access
    assert "date_of_birth" in access.sensitive and not access.restricted


def test_the_type_and_its_access_load_together(contacts):
    Property.objects.filter(object_type=contacts, name="jobtitle").update(restricted=True)

    with CaptureQueriesContext(connection) as queries:
        object_type, access = load_object_type_with_access("contacts")

    # One query on PostgreSQL, two elsewhere; the restricted property's users and groups
    assert len(queries) == (1 if connection.vendor == "postgresql" else 2) + 2
    assert object_type == contacts
    assert object_type.list_properties == contacts.list_properties  # JSON columns decoded
    assert access == load_property_access(contacts)
    assert access.names == load_schema(contacts).access.names  # in the schema's order
    assert access.restricted == {"jobtitle"}


def test_an_unknown_type_does_not_exist(crm_schema):
    with pytest.raises(ObjectType.DoesNotExist):
        load_object_type_with_access("unicorns")


def test_restrictions_load_with_their_users_and_groups(contacts):
    group, named, member, outsider = (
        Group.objects.create(name="Insiders"),
        UserFactory(),
        UserFactory(),
        UserFactory(),
    )
    member.groups.add(group)
    jobtitle = Property.objects.get(object_type=contacts, name="jobtitle")
    Property.objects.filter(pk=jobtitle.pk).update(restricted=True)
    jobtitle.restricted_users.add(named)
    jobtitle.restricted_groups.add(group)

    with CaptureQueriesContext(connection) as queries:
        access = load_property_access(contacts)

    assert len(queries) == 3  # properties, the restrictions' users, their groups
    assert access == load_schema(contacts).access
    assert [access.can_view(u, "jobtitle") for u in (named, member, outsider)] == [
        True,
        True,
        False,
    ]
    assert "jobtitle" not in access.visible_names(outsider)


def test_sensitive_values_need_the_permission(contacts):
    plain, allowed = UserFactory(), UserFactory()
    allowed.user_permissions.add(Permission.objects.get(codename="view_sensitive_values"))
    access = load_property_access(contacts)

    assert not access.can_view(plain, "date_of_birth")
    assert access.can_view(type(allowed).objects.get(pk=allowed.pk), "date_of_birth")
    assert access.can_view(None, "date_of_birth")  # Concord itself
