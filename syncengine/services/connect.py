"""Connecting an integration to Salesforce or Google Contacts (OAuth 2.0 web-server flow).

One service for both remotes: each remote's connector trades the consent's code for tokens;
saving them, the default mappings and first push of a new integration, and the audit event are
the same for every remote.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from crm.audit import record_audit
from syncengine import crypto
from syncengine.connectors.google_contacts import oauth as google_oauth
from syncengine.connectors.oauth import AuthorizationRequest
from syncengine.connectors.salesforce import oauth as salesforce_oauth
from syncengine.connectors.salesforce.oauth import OAuthClient
from syncengine.models import Integration
from syncengine.services import google_contacts, mappings
from syncengine.services.changes import queue_initial_push


@dataclass(frozen=True, slots=True)
class Connection:
    """Where and as whom to connect: what the connect form asks, kept until the callback."""

    kind: str
    login_url: str  # Salesforce's login URL, or Google's sign-in URL
    client_id: str
    client_secret: str
    name: str = ""
    ca_file: str = ""  # Salesforce's local sandbox, whose certificate a local CA signs
    api_endpoint: str = ""  # Google's People API endpoint


@dataclass(frozen=True, slots=True)
class Grant:
    """What the remote granted: tokens, and the org or account they act for."""

    access_token: str
    refresh_token: str
    login_url: str
    instance_url: str
    remote_org_id: str
    remote_user_id: str
    default_name: str
    detail: dict = field(default_factory=dict)  # the audit event's: {"org": …} or {"account": …}


def _salesforce_grant(
    connection: Connection, *, code: str, redirect_uri: str, code_verifier: str
) -> Grant:
    client = OAuthClient(
        login_url=connection.login_url,
        client_id=connection.client_id,
        client_secret=connection.client_secret,
        ca_file=connection.ca_file,
    )
    token = client.exchange_code(code=code, redirect_uri=redirect_uri, code_verifier=code_verifier)
    org_id, user_id = salesforce_oauth.identity(token.get("id", ""))
    return Grant(
        access_token=token["access_token"],
        refresh_token=token.get("refresh_token", ""),
        login_url=connection.login_url,
        instance_url=token.get("instance_url") or connection.login_url,
        remote_org_id=org_id,
        remote_user_id=user_id,
        default_name=f"Salesforce {org_id or connection.login_url}",
        detail={"org": org_id},
    )


def _google_grant(
    connection: Connection, *, code: str, redirect_uri: str, code_verifier: str
) -> Grant:
    client = google_oauth.OAuthClient(
        oauth_url=connection.login_url,
        client_id=connection.client_id,
        client_secret=connection.client_secret,
    )
    token = client.exchange_code(code=code, redirect_uri=redirect_uri, code_verifier=code_verifier)
    account = client.account(access_token=token["access_token"])
    return Grant(
        access_token=token["access_token"],
        refresh_token=token.get("refresh_token", ""),
        login_url=connection.login_url.rstrip("/"),
        instance_url=connection.api_endpoint,
        remote_org_id="",
        remote_user_id=account,
        default_name=f"Google Contacts {account}".strip(),
        detail={"account": account},
    )


@dataclass(frozen=True, slots=True)
class _Remote:
    """What differs between remotes when connecting."""

    authorization: Callable[..., AuthorizationRequest]
    grant: Callable[..., Grant]
    match_field: str  # the same org (or account) connected twice reconnects it
    default_settings: dict
    create_default_mappings: Callable[..., object]


REMOTES = {
    Integration.Kind.SALESFORCE: _Remote(
        authorization=lambda c, redirect_uri: salesforce_oauth.authorization_request(
            login_url=c.login_url, client_id=c.client_id, redirect_uri=redirect_uri
        ),
        grant=_salesforce_grant,
        match_field="remote_org_id",
        default_settings={"sync_interval_minutes": 5, "api_version": "62.0"},
        create_default_mappings=mappings.create_default_mappings,
    ),
    Integration.Kind.GOOGLE_CONTACTS: _Remote(
        authorization=lambda c, redirect_uri: google_oauth.authorization_request(
            oauth_url=c.login_url, client_id=c.client_id, redirect_uri=redirect_uri
        ),
        grant=_google_grant,
        match_field="remote_user_id",
        default_settings=google_contacts.DEFAULT_SETTINGS,
        create_default_mappings=google_contacts.create_default_mappings,
    ),
}


def build_authorization_request(
    *, connection: Connection, redirect_uri: str
) -> AuthorizationRequest:
    """The remote's consent-page URL, with a CSRF state and a PKCE challenge."""
    return REMOTES[connection.kind].authorization(connection, redirect_uri)


def connect(
    *, connection: Connection, code: str, redirect_uri: str, code_verifier: str, actor=None
) -> Integration:
    """Trade the consent's code for tokens and create (or reconnect) the integration.

    Reconnecting keeps the integration's mappings, links and history; a new integration gets
    the default mappings and its first push. Audited.
    """
    remote = REMOTES[connection.kind]
    grant = remote.grant(
        connection, code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
    )
    return _save(connection=connection, grant=grant, remote=remote, actor=actor)


@transaction.atomic
def _save(*, connection: Connection, grant: Grant, remote: _Remote, actor) -> Integration:
    match = remote.match_field
    integration = (
        Integration.objects.select_for_update()
        .filter(kind=connection.kind, **{match: getattr(grant, match)})
        .exclude(**{match: ""})
        .first()
    )
    created = integration is None
    integration = integration or Integration(kind=connection.kind)
    integration.name = connection.name or integration.name or grant.default_name
    integration.status = Integration.Status.ACTIVE
    integration.login_url, integration.instance_url = grant.login_url, grant.instance_url
    integration.client_id = connection.client_id
    integration.client_secret_encrypted = crypto.encrypt(connection.client_secret)
    integration.access_token_encrypted = crypto.encrypt(grant.access_token)
    if grant.refresh_token:
        integration.refresh_token_encrypted = crypto.encrypt(grant.refresh_token)
    integration.ca_file = connection.ca_file
    integration.remote_org_id = grant.remote_org_id
    integration.remote_user_id = grant.remote_user_id
    integration.connected_by = actor if getattr(actor, "pk", None) else None
    integration.connected_at = timezone.now()
    integration.last_error = ""
    integration.settings = copy.deepcopy(remote.default_settings) | (integration.settings or {})
    integration.save()
    if created:
        remote.create_default_mappings(integration=integration)
        queue_initial_push(integration=integration)
    record_audit(
        verb="connect_integration",
        source="user" if actor else "system",
        actor=actor,
        target_repr=str(integration),
        detail={"integration": integration.pk, **grant.detail, "created": created},
    )
    return integration
