"""Users and API clients signed in as them.

A pytest plugin (tests/conftest.py registers it).
"""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.support.roles import grant_role


@pytest.fixture
def user(db):
    """A plain user: the User role (records, associations, the schema to read), not staff."""
    return grant_role(UserFactory(), "User")


@pytest.fixture
def staff_user(db):
    """A superuser with staff access."""
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def api_client(user):
    """An API client authenticated as `user`."""
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def staff_api_client(staff_user):
    """An API client authenticated as `staff_user`."""
    client = APIClient()
    client.force_authenticate(staff_user)
    return client


@pytest.fixture
def token_client(user):
    """An API client sending `user`'s token."""
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def finish(response) -> None:
    """Read a streamed answer to its end while its savepoint stands: a stream's server-side
    cursor (PostgreSQL) cannot outlive the rollback. (The test client closes the response once
    its stream is read.)"""
    if response.streaming:
        b"".join(response.streaming_content)
