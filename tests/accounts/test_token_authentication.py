"""API tokens: the token's query brings the user's model permissions (on PostgreSQL), which
are exactly what Django's ModelBackend would have read; refusals are DRF's own."""

from __future__ import annotations

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.test import APIClient

from accounts.authentication import TokenAuthentication
from tests.factories import UserFactory


def _permission(codename: str) -> Permission:
    return Permission.objects.get(codename=codename)


def test_permissions_read_with_the_token_are_modelbackends(db):
    user = UserFactory()
    user.user_permissions.add(_permission("view_record"), _permission("add_record"))
    group = Group.objects.create(name="Readers")
    group.permissions.add(_permission("view_record"), _permission("view_association"))
    user.groups.add(group)
    Group.objects.create(name="Others").permissions.add(_permission("delete_record"))
    token = Token.objects.create(user=user)

    authenticated, _ = TokenAuthentication().authenticate_credentials(token.key)

    fresh = type(user).objects.get(pk=user.pk)  # nothing cached: ModelBackend reads them
    expected = ModelBackend().get_all_permissions(fresh)
    assert expected == {"crm.view_record", "crm.add_record", "crm.view_association"}
    assert authenticated.get_all_permissions() == expected
    assert authenticated.has_perm("crm.view_association")
    assert not authenticated.has_perm("crm.delete_record")


def test_a_superuser_has_every_permission_as_modelbackend_says(db):
    user = UserFactory(is_superuser=True)
    token = Token.objects.create(user=user)

    authenticated, _ = TokenAuthentication().authenticate_credentials(token.key)

    fresh = type(user).objects.get(pk=user.pk)
    assert authenticated.get_all_permissions() == ModelBackend().get_all_permissions(fresh)
    assert len(authenticated.get_all_permissions()) == Permission.objects.count()


def test_a_user_without_permissions_has_none(db):
    token = Token.objects.create(user=UserFactory())

    authenticated, _ = TokenAuthentication().authenticate_credentials(token.key)

    assert authenticated.get_all_permissions() == set()


@pytest.mark.parametrize(
    "key, active, message",
    [("not-a-token", True, "Invalid token."), (None, False, "User inactive or deleted.")],
)
def test_refusals_are_drfs(db, key, active, message):
    token = Token.objects.create(user=UserFactory(is_active=active))

    with pytest.raises(AuthenticationFailed, match=message):
        TokenAuthentication().authenticate_credentials(key or token.key)


def test_the_api_answers_a_bad_token_with_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token nope")

    response = client.get("/api/v1/objects/contacts/records/")

    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid token."
