"""The sync-engine tests run against the Salesforce sandbox (reset per test) with an
integration connected to it; the Google Contacts tests (google_contacts/) override these with
the People API sandbox. The implementations live in tests/support/."""

from __future__ import annotations

import pytest

from tests.support.sync import run_cycle_now


@pytest.fixture
def sandbox(salesforce_sandbox):
    return salesforce_sandbox


@pytest.fixture
def integration(salesforce_integration):
    return salesforce_integration


@pytest.fixture
def run(integration):
    """Run one full cycle now (of the fixture's integration unless another is given)."""
    return lambda target=None: run_cycle_now(target or integration)


@pytest.fixture
def deal_contacts(crm_schema):
    """The deals → contacts association definition (unlabelled): contact roles' mirror."""
    from crm.models import AssociationDefinition

    return AssociationDefinition.objects.get(
        from_object_type__name="deals", to_object_type__name="contacts", label=""
    )
