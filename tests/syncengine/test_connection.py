"""OAuth web-server flow through the admin, encrypted tokens, refresh on 401, dead refresh
tokens, disconnect with revoke, and the sandbox connect command."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from django.core.management import call_command
from django.urls import reverse

from syncengine import crypto
from syncengine.connectors.base import AuthError
from syncengine.models import FieldMapping, Integration, ObjectMapping, RecordLink
from syncengine.services.integrations import build_connector, disconnect_integration
from tests.support.salesforce_sandbox import (
    CLIENT_ID,
    CLIENT_SECRET,
    PASSWORD,
    USERNAME,
    connect_org,
)
from tests.support.sync import run_cycle_now

pytestmark = pytest.mark.django_db


def consent(sandbox, authorize_url: str, action: str = "allow") -> dict:
    """Sign in on the sandbox's consent page and return the callback's query."""
    params = {k: v[0] for k, v in parse_qs(urlparse(authorize_url).query).items()}
    response = sandbox.session().post(
        f"{sandbox.url}/services/oauth2/authorize",
        data={**params, "username": USERNAME, "password": PASSWORD, "action": action},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code in (302, 303)
    return {k: v[0] for k, v in parse_qs(urlparse(response.headers["Location"]).query).items()}


def post_connect_form(client, sandbox):
    """Staff fill in the admin's connect form for the sandbox org and send it."""
    return client.post(
        reverse("admin:syncengine_integration_connect"),
        {
            "name": "Org",
            "login_url": sandbox.url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "ca_file": sandbox.ca_cert,
        },
    )


def test_connect_through_the_admin_oauth_flow(client, staff_user, sandbox, crm_schema):
    client.force_login(staff_user)
    page = client.get(reverse("admin:syncengine_integration_connect"))
    assert page.status_code == 200 and b"Continue to Salesforce" in page.content
    response = post_connect_form(client, sandbox)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{sandbox.url}/services/oauth2/authorize?")
    query = consent(sandbox, response["Location"])
    done = client.get(reverse("admin:syncengine_integration_oauth_callback"), query)
    integration = Integration.objects.get()
    assert done.status_code == 302 and done["Location"].endswith(
        f"/syncengine/integration/{integration.pk}/change/"
    )
    assert integration.status == "active" and integration.connected_by == staff_user
    # Tokens are stored encrypted, and decrypt to working tokens
    refresh = crypto.decrypt(integration.refresh_token_encrypted)
    assert refresh and refresh not in integration.refresh_token_encrypted
    assert "LastName" in build_connector(integration=integration).describe("Contact")
    # Default mappings were created
    assert set(
        ObjectMapping.objects.filter(integration=integration).values_list(
            "remote_object", flat=True
        )
    ) == {"Account", "Contact", "Lead", "Opportunity", "Task"}
    assert FieldMapping.objects.filter(
        object_mapping__integration=integration, remote_field="Email", property__name="email"
    ).exists()


def test_denied_consent_connects_nothing(client, staff_user, sandbox, crm_schema):
    client.force_login(staff_user)
    response = post_connect_form(client, sandbox)
    query = consent(sandbox, response["Location"], action="deny")
    assert query["error"] == "access_denied"
    client.get(reverse("admin:syncengine_integration_oauth_callback"), query)
    assert not Integration.objects.exists()


def test_expired_access_token_is_refreshed_once(integration, sandbox):
    before = integration.access_token_encrypted
    sandbox.control("POST", "tokens/expire")
    connector = build_connector(integration=integration)
    assert "Industry" in connector.describe("Account")
    integration.refresh_from_db()
    assert integration.access_token_encrypted != before
    assert integration.status == "active"


def test_dead_refresh_token_needs_reconnection(integration, sandbox, run):
    refresh = crypto.decrypt(integration.refresh_token_encrypted)
    sandbox.session().post(f"{sandbox.url}/services/oauth2/revoke", data={"token": refresh})
    with pytest.raises(AuthError):
        build_connector(integration=integration).describe("Account")
    integration.refresh_from_db()
    assert integration.status == "needs_reconnect"
    assert "invalid_grant" in integration.last_error
    with pytest.raises(AuthError):
        build_connector(integration=integration)


def test_disconnect_revokes_the_tokens(integration, sandbox):
    refresh = crypto.decrypt(integration.refresh_token_encrypted)
    assert disconnect_integration(integration=integration) is True
    integration.refresh_from_db()
    assert integration.status == "disconnected" and not integration.refresh_token_encrypted
    answer = sandbox.session().post(
        f"{sandbox.url}/services/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_connect_sandbox_command_is_idempotent(sandbox, crm_schema, capsys):
    for _ in range(2):
        call_command(
            "connect_salesforce_sandbox",
            "--instance-url",
            sandbox.url,
            "--ca-file",
            sandbox.ca_cert,
        )
    integration = Integration.objects.get()
    assert integration.status == "active" and integration.remote_org_id
    assert "Connected" in capsys.readouterr().out
    assert (
        ObjectMapping.objects.filter(integration=integration, remote_object="Contact").count() == 1
    )


def test_the_demo_team_gets_salesforce_users_so_its_records_push(sandbox, crm_schema, capsys):
    from crm import sources
    from crm.models import ObjectType
    from crm.services.owners import create_owner
    from crm.services.records import create_record
    from syncengine.models import SyncError

    ana = create_owner(name="Ana Ribeiro", email="ana@team.example.com", source=sources.SYSTEM)
    left = create_owner(name="Lee Left", email="lee@team.example.com", source=sources.SYSTEM)
    left.is_active = False
    left.save()
    contacts = ObjectType.objects.get(name="contacts")
    record = create_record(
        object_type=contacts,
        properties={"email": "c@x.com", "lastname": "Owned", "owner": ana.pk},
        source=sources.SYSTEM,
    )
    args = ["--instance-url", sandbox.url, "--ca-file", sandbox.ca_cert, "--team"]
    for _ in range(2):  # the second run finds the users there already
        call_command("connect_salesforce_sandbox", *args)
    out = capsys.readouterr().out
    assert "Added 1 Salesforce user(s)" in out and "Added 0 Salesforce user(s)" in out

    run_cycle_now(Integration.objects.get())

    assert not SyncError.objects.filter(status=SyncError.Status.OPEN).exists()
    remote = sandbox.get("Contact", RecordLink.objects.get(record=record).remote_id)
    owner = sandbox.get("User", remote["OwnerId"])
    assert (owner["Email"], owner["Name"]) == ("ana@team.example.com", "Ana Ribeiro")


def test_records_from_before_the_connection_are_pushed_by_the_first_cycle(sandbox, crm_schema):
    from crm import sources
    from crm.models import ObjectType
    from crm.services.records import RecordInput, write_records

    contacts = ObjectType.objects.get(name="contacts")
    write_records(
        object_type=contacts,
        mode="create",
        source=sources.SYSTEM,
        inputs=[
            RecordInput({"email": f"early{i}@example.com", "lastname": f"Early{i}"})
            for i in range(3)
        ],
    )
    before = sandbox.count("Contact")

    integration = connect_org(sandbox, name="Late connection")
    cycle = run_cycle_now(integration)

    assert cycle.status == "success"
    assert sandbox.count("Contact") == before + 3
