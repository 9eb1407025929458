"""Connecting, reconnecting and disconnecting integrations (OAuth 2.0 web-server flow)."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlparse

import requests
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.selectors import list_users_with_permission
from crm.audit import record_audit
from syncengine import crypto
from syncengine.connectors.base import AuthError, TransientError
from syncengine.connectors.interface import Connector, Meter
from syncengine.connectors.salesforce.client import OAuthClient, SalesforceConnector
from syncengine.models import Integration
from syncengine.services.usage import DatabaseMeter

logger = logging.getLogger(__name__)

DEFAULT_CLIENT_ID = "concord"


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """Where to send the browser, and what to keep in the session until the callback."""

    url: str
    state: str
    code_verifier: str


def oauth_client(integration: Integration) -> OAuthClient:
    """The OAuth endpoints and credentials of an integration."""
    return OAuthClient(
        login_url=integration.login_url or integration.instance_url,
        client_id=integration.client_id,
        client_secret=crypto.decrypt(integration.client_secret_encrypted),
        ca_file=integration.ca_file,
    )


def state_and_pkce() -> tuple[str, str, str]:
    """A CSRF state, a PKCE code verifier and its S256 challenge (for any OAuth consent)."""
    state = secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48)
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return state, verifier, digest.decode().rstrip("=")


def build_authorization_request(
    *, login_url: str, client_id: str, redirect_uri: str
) -> AuthorizationRequest:
    """The consent-page URL of the web-server flow, with a CSRF state and a PKCE challenge."""
    state, verifier, challenge = state_and_pkce()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": "api refresh_token",
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return AuthorizationRequest(
        url=f"{login_url.rstrip('/')}/services/oauth2/authorize?{query}",
        state=state,
        code_verifier=verifier,
    )


def connect_salesforce(
    *,
    login_url: str,
    client_id: str,
    client_secret: str,
    code: str = "",
    redirect_uri: str = "",
    code_verifier: str = "",
    username: str = "",
    password: str = "",
    ca_file: str = "",
    name: str = "",
    actor=None,
    integration: Integration | None = None,
) -> Integration:
    """Trade an authorization code (or, for the sandbox, a password) for tokens and connect.

    Reconnecting an existing integration keeps its mappings, links and history. New
    integrations get the default object and field mappings.
    """
    client = OAuthClient(
        login_url=login_url, client_id=client_id, client_secret=client_secret, ca_file=ca_file
    )
    if code:
        token = client.exchange_code(
            code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
    else:
        token = client.password_grant(username=username, password=password)
    org_id, user_id = _identity(token.get("id", ""))
    with transaction.atomic():
        if integration is None:
            # Connecting the same org twice reconnects it instead of doubling every record.
            integration = (
                Integration.objects.select_for_update()
                .filter(kind=Integration.Kind.SALESFORCE, remote_org_id=org_id)
                .exclude(remote_org_id="")
                .first()
            )
        created = integration is None
        integration = integration or Integration(kind=Integration.Kind.SALESFORCE)
        integration.name = name or integration.name or f"Salesforce {org_id or login_url}"
        integration.status = Integration.Status.ACTIVE
        integration.login_url = login_url
        integration.instance_url = token.get("instance_url") or login_url
        integration.client_id = client_id
        integration.client_secret_encrypted = crypto.encrypt(client_secret)
        integration.access_token_encrypted = crypto.encrypt(token["access_token"])
        if token.get("refresh_token"):
            integration.refresh_token_encrypted = crypto.encrypt(token["refresh_token"])
        integration.ca_file = ca_file
        integration.remote_org_id, integration.remote_user_id = org_id, user_id
        integration.connected_by = actor if getattr(actor, "pk", None) else None
        integration.connected_at = timezone.now()
        integration.last_error = ""
        integration.settings = {"sync_interval_minutes": 5, "api_version": "62.0"} | (
            integration.settings or {}
        )
        integration.save()
        if created:
            from syncengine.services.changes import queue_initial_push
            from syncengine.services.mappings import create_default_mappings

            create_default_mappings(integration=integration)
            queue_initial_push(integration=integration)
        record_audit(
            verb="connect_integration",
            source="user" if actor else "system",
            actor=actor,
            target_repr=str(integration),
            detail={"integration": integration.pk, "org": org_id, "created": created},
        )
    return integration


def connect_sandbox_org(
    *,
    login_url: str,
    client_id: str,
    client_secret: str,
    username: str,
    password: str,
    ca_file: str = "",
    name: str = "",
    actor=None,
) -> Integration:
    """Connect the local sandbox by running the web-server flow without a browser: sign in on
    its consent page as the integration user, then trade the code (this yields a refresh
    token, which the password grant does not)."""
    redirect_uri = (
        f"{settings.CONCORD_BASE_URL.rstrip('/')}/admin/syncengine/integration/oauth-callback/"
    )
    auth = build_authorization_request(
        login_url=login_url, client_id=client_id, redirect_uri=redirect_uri
    )
    params = {k: v[0] for k, v in parse_qs(urlparse(auth.url).query).items()}
    session = OAuthClient(login_url, client_id, client_secret, ca_file).session()
    try:
        response = session.post(
            f"{login_url.rstrip('/')}/services/oauth2/authorize",
            data={**params, "username": username, "password": password, "action": "allow"},
            allow_redirects=False,
            timeout=30,
        )
    except requests.RequestException as exc:
        raise TransientError(f"{login_url} unreachable: {exc}") from exc
    answer = parse_qs(urlparse(response.headers.get("Location", "")).query)
    if "code" not in answer or answer.get("state", [""])[0] != auth.state:
        raise AuthError(f"the sandbox did not grant access: {answer.get('error', ['?'])[0]}")
    return connect_salesforce(
        login_url=login_url,
        client_id=client_id,
        client_secret=client_secret,
        code=answer["code"][0],
        redirect_uri=redirect_uri,
        code_verifier=auth.code_verifier,
        ca_file=ca_file,
        name=name,
        actor=actor,
    )


def _identity(identity_url: str) -> tuple[str, str]:
    parts = [p for p in identity_url.split("/") if p]
    return (parts[-2], parts[-1]) if len(parts) >= 2 else ("", "")


# Salesforce REST versions look like "62.0"; the value goes into every request path
# (/services/data/v62.0/…), so nothing else may pass.
API_VERSION_RE = re.compile(r"^\d{2,3}\.0$")
CONFLICT_WINNERS = ("newest", "local", "remote")
# Set on the Google integration's "Sync settings" page, which also sets the mapping's direction.
GOOGLE_SYNC_KEYS = ("sync_rule", "filters", "conflict_winner")


def settings_errors(*, kind: str, patch: object) -> dict[str, list[str]]:
    """What is wrong with an engine settings patch, by setting name (empty if nothing)."""
    if not isinstance(patch, dict):
        return {"settings": ["must be an object of settings"]}
    known = ["sync_interval_minutes"]
    if kind == Integration.Kind.SALESFORCE:
        known += ["api_version", "conflict_winner"]
    else:
        known += ["per_minute_quota"]
    errors: dict[str, list[str]] = {}
    for key, value in patch.items():
        if kind == Integration.Kind.GOOGLE_CONTACTS and key in GOOGLE_SYNC_KEYS:
            errors[key] = [
                "is set on the integration's Sync settings page, which also sets the "
                "direction of its mapping"
            ]
        elif key not in known:
            errors[key] = [f"unknown setting; known: {', '.join(known)}"]
        elif key == "sync_interval_minutes" and not _int_between(value, 1, 1440):
            errors[key] = ["must be a whole number of minutes from 1 to 1440"]
        elif key == "per_minute_quota" and not _int_between(value, 1, 1_000_000):
            errors[key] = ["must be a whole number of requests from 1 to 1000000"]
        elif key == "api_version" and not (
            isinstance(value, str) and API_VERSION_RE.fullmatch(value)
        ):
            errors[key] = ['must be a Salesforce API version such as "62.0"']
        elif key == "conflict_winner" and value not in CONFLICT_WINNERS:
            errors[key] = [f"must be one of {', '.join(CONFLICT_WINNERS)}"]
    return errors


def _int_between(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


@transaction.atomic
def update_integration(
    *,
    integration: Integration,
    name: str | None = None,
    settings_patch: dict | None = None,
    api_allocation: int | object | None = ...,
    actor=None,
) -> Integration:
    """Change an integration's name, engine settings (merged) or API allocation; audited.

    A settings patch with a bad value is refused whole (ValidationError naming each setting)
    and nothing is written.
    """
    if settings_patch is not None:
        errors = settings_errors(kind=integration.kind, patch=settings_patch)
        if errors:
            raise ValidationError(
                {"settings": [f"{key}: {' '.join(msgs)}" for key, msgs in errors.items()]}
            )
    before = {"name": integration.name, "settings": dict(integration.settings or {})}
    if name is not None:
        integration.name = name
    if settings_patch is not None:
        integration.settings = {**(integration.settings or {}), **settings_patch}
    if api_allocation is not ...:
        integration.api_allocation = api_allocation
    integration.save(update_fields=["name", "settings", "api_allocation"])
    record_audit(
        verb="update_integration",
        source="user" if actor else "system",
        actor=actor,
        target_repr=str(integration),
        detail={"integration": integration.pk, "before": before, "settings": integration.settings},
    )
    return integration


@transaction.atomic
def disconnect_integration(*, integration: Integration, actor=None) -> bool:
    """Revoke the tokens at the remote and forget them; returns whether the revoke succeeded."""
    revoked = False
    refresh = crypto.decrypt(integration.refresh_token_encrypted)
    access = crypto.decrypt(integration.access_token_encrypted)
    if (refresh or access) and integration.kind == Integration.Kind.GOOGLE_CONTACTS:
        from syncengine.services import google_contacts

        revoked = google_contacts.revoke(integration, refresh or access)
    elif refresh or access:
        revoked = oauth_client(integration).revoke(token=refresh or access)
    integration.status = Integration.Status.DISCONNECTED
    integration.access_token_encrypted = ""
    integration.refresh_token_encrypted = ""
    integration.save(update_fields=["status", "access_token_encrypted", "refresh_token_encrypted"])
    record_audit(
        verb="disconnect_integration",
        source="user" if actor else "system",
        actor=actor,
        target_repr=str(integration),
        detail={"integration": integration.pk, "revoked": revoked},
    )
    return revoked


def mark_needs_reconnect(*, integration: Integration, reason: str) -> None:
    """The refresh token is dead: stop syncing and tell the admins to reconnect."""
    with transaction.atomic():
        updated = (
            Integration.objects.filter(pk=integration.pk)
            .exclude(status=Integration.Status.NEEDS_RECONNECT)
            .update(status=Integration.Status.NEEDS_RECONNECT, last_error=reason[:2000])
        )
        integration.status = Integration.Status.NEEDS_RECONNECT
        integration.last_error = reason
        if not updated:
            return
        record_audit(
            verb="integration_needs_reconnect",
            source="system",
            target_repr=str(integration),
            detail={"integration": integration.pk, "reason": reason[:500]},
        )
        admins = list(list_users_with_permission("syncengine.add_integration"))  # reconnect
        transaction.on_commit(lambda: _notify_admins(integration, reason, admins))
    logger.warning("integration %s needs reconnection: %s", integration.pk, reason)


def _notify_admins(integration: Integration, reason: str, admins: list) -> None:
    if not apps.is_installed("notifications"):
        return
    from notifications.services import notify  # another app's concern: used if installed

    try:
        notify(
            users=admins,
            kind="integration_needs_reconnect",
            title=f"{integration.name} needs to be reconnected",
            body=f"Salesforce refused the stored tokens ({reason}). Sync is paused until an "
            "admin connects it again (Integrations → Connect Salesforce).",
            link=f"/admin/syncengine/integration/{integration.pk}/change/",
        )
    except Exception:  # a notification must never break the sync engine
        logger.exception("could not notify admins about integration %s", integration.pk)


class IntegrationTokens:
    """The connector's token store: decrypts, refreshes and re-encrypts the integration's tokens."""

    def __init__(self, integration: Integration) -> None:
        self.integration = integration

    def access_token(self) -> str:
        return crypto.decrypt(self.integration.access_token_encrypted)

    def refresh(self) -> str:
        refresh_token = crypto.decrypt(self.integration.refresh_token_encrypted)
        if not refresh_token:
            mark_needs_reconnect(integration=self.integration, reason="no refresh token stored")
            raise AuthError("no refresh token stored")
        try:
            token = oauth_client(self.integration).refresh(refresh_token=refresh_token)
        except AuthError as exc:
            mark_needs_reconnect(integration=self.integration, reason=str(exc))
            raise
        fields = {"access_token_encrypted": crypto.encrypt(token["access_token"])}
        if token.get("instance_url"):
            # After an org migration Salesforce answers a new instance URL: always keep it.
            fields["instance_url"] = token["instance_url"]
        if token.get("refresh_token"):
            fields["refresh_token_encrypted"] = crypto.encrypt(token["refresh_token"])
        Integration.objects.filter(pk=self.integration.pk).update(**fields)
        for name, value in fields.items():
            setattr(self.integration, name, value)
        return token["access_token"]


def build_connector(
    *, integration: Integration, meter: Meter | None = None, sleep=None
) -> Connector:
    """The metered connector of an integration (Salesforce, or Google Contacts)."""
    if integration.kind == Integration.Kind.GOOGLE_CONTACTS:
        from syncengine.services import google_contacts

        return google_contacts.build_connector(integration=integration, meter=meter, sleep=sleep)
    if integration.status in (Integration.Status.NEEDS_RECONNECT, Integration.Status.DISCONNECTED):
        raise AuthError(f"{integration} is {integration.get_status_display().lower()}")
    kwargs = {"sleep": sleep} if sleep else {}
    return SalesforceConnector(
        instance_url=integration.instance_url,
        api_version=integration.api_version,
        meter=meter or DatabaseMeter(integration),
        tokens=IntegrationTokens(integration),
        ca_file=integration.ca_file,
        **kwargs,
    )
