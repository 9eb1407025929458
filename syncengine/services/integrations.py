"""Integrations: engine settings, disconnecting, reconnection, and the one token store."""

from __future__ import annotations

import logging
import re
import time

from django.core.exceptions import ValidationError
from django.db import transaction

from crm.audit import record_audit
from syncengine import crypto, hooks
from syncengine.connectors.base import AuthError
from syncengine.connectors.google_contacts import oauth as google_oauth
from syncengine.connectors.interface import Account, Connector, Meter
from syncengine.connectors.registry import connector_class
from syncengine.connectors.salesforce.oauth import OAuthClient
from syncengine.models import Integration
from syncengine.services.usage import DatabaseMeter, check_api_allocation

logger = logging.getLogger(__name__)


def oauth_client(integration: Integration) -> OAuthClient | google_oauth.OAuthClient:
    """The OAuth endpoints and credentials of an integration, from its remote's connector."""
    client_secret = crypto.decrypt(integration.client_secret_encrypted)
    if integration.kind == Integration.Kind.GOOGLE_CONTACTS:
        return google_oauth.OAuthClient(
            oauth_url=integration.login_url,
            client_id=integration.client_id,
            client_secret=client_secret,
        )
    return OAuthClient(
        login_url=integration.login_url or integration.instance_url,
        client_id=integration.client_id,
        client_secret=client_secret,
        ca_file=integration.ca_file,
    )


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


def changed_settings(integration: Integration, settings: dict) -> dict:
    """The settings a whole-settings edit changes: keys set elsewhere (the Google sync page)
    and left as they are need no check."""
    stored = integration.settings or {}
    return {key: v for key, v in settings.items() if key not in stored or stored[key] != v}


@transaction.atomic
def update_integration(
    *,
    integration: Integration,
    name: str | None = None,
    settings_patch: dict | None = None,
    settings: dict | None = None,
    api_allocation: int | object | None = ...,
    client_id: str | None = None,
    ca_file: str | None = None,
    actor=None,
) -> Integration:
    """Change an integration's name, engine settings, API allocation or OAuth client; audited.

    `settings_patch` is merged into the stored settings; `settings` replaces them (the admin's
    form), and only the keys it changes are checked. A bad value is refused whole
    (ValidationError naming each setting) and nothing is written.
    """
    if api_allocation is not ...:
        check_api_allocation(
            integration=integration, allocated=api_allocation, field="api_allocation"
        )
    stored = dict(integration.settings or {})
    patch = settings_patch if settings is None else changed_settings(integration, settings)
    if patch is not None:
        errors = settings_errors(kind=integration.kind, patch=patch)
        if errors:
            raise ValidationError(
                {"settings": [f"{key}: {' '.join(msgs)}" for key, msgs in errors.items()]}
            )
    before = {"name": integration.name, "settings": stored}
    if name is not None:
        integration.name = name
    if settings is not None:
        integration.settings = dict(settings)
    elif settings_patch is not None:
        integration.settings = {**stored, **settings_patch}
    if api_allocation is not ...:
        integration.api_allocation = api_allocation
    for field, value in (("client_id", client_id), ("ca_file", ca_file)):
        if value is not None:
            before[field] = getattr(integration, field)
            setattr(integration, field, value)
    integration.save(update_fields=["name", "settings", "api_allocation", "client_id", "ca_file"])
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
    if refresh or access:
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
    """The refresh token is dead: stop syncing and tell (through the hook) who can reconnect."""
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
        event = hooks.IntegrationNeedsReconnect(integration=integration, reason=reason)
        transaction.on_commit(lambda: hooks.emit_integration_needs_reconnect(event))
    logger.warning("integration %s needs reconnection: %s", integration.pk, reason)


class IntegrationTokens:
    """The connectors' one token store: decrypts an integration's tokens, refreshes them through
    its remote's OAuth client and saves what changed back encrypted."""

    def __init__(self, integration: Integration) -> None:
        self.integration = integration

    def access_token(self) -> str:
        """The stored access token."""
        return crypto.decrypt(self.integration.access_token_encrypted)

    def refresh(self) -> str:
        """A new access token from the refresh token; a refusal marks the integration."""
        refresh_token = crypto.decrypt(self.integration.refresh_token_encrypted)
        if not refresh_token:
            mark_needs_reconnect(integration=self.integration, reason="no refresh token stored")
            raise AuthError("no refresh token stored")
        try:
            token = oauth_client(self.integration).refresh(refresh_token=refresh_token)
        except AuthError as exc:
            mark_needs_reconnect(integration=self.integration, reason=str(exc))
            raise
        self.store(
            access_token=token["access_token"],
            refresh_token=token.get("refresh_token", ""),
            instance_url=token.get("instance_url", ""),
        )
        return token["access_token"]

    def store(self, *, access_token: str, refresh_token: str = "", instance_url: str = "") -> None:
        """Save a new access token (and a new refresh token or instance URL, when answered)."""
        fields = {"access_token_encrypted": crypto.encrypt(access_token)}
        if instance_url:
            # After an org migration Salesforce answers a new instance URL: always keep it.
            fields["instance_url"] = instance_url
        if refresh_token:
            fields["refresh_token_encrypted"] = crypto.encrypt(refresh_token)
        Integration.objects.filter(pk=self.integration.pk).update(**fields)
        for name, value in fields.items():
            setattr(self.integration, name, value)


def build_connector(
    *, integration: Integration, meter: Meter | None = None, sleep=None
) -> Connector:
    """The metered connector of an integration, whichever remote system serves its kind."""
    if integration.status in (Integration.Status.NEEDS_RECONNECT, Integration.Status.DISCONNECTED):
        raise AuthError(f"{integration} is {integration.get_status_display().lower()}")
    account = Account(
        endpoint=integration.instance_url,
        options=integration.settings or {},
        tokens=IntegrationTokens(integration),
        meter=meter or DatabaseMeter(integration),
        ca_file=integration.ca_file,
        sleep=sleep or time.sleep,
    )
    return connector_class(integration.kind).open(account)
