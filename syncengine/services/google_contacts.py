"""Google Contacts integrations: connect through OAuth (G-1), sync rules and filters (G-2, G-3),
default and custom field mappings (G-4), and the connector's token store."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlparse

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crm.audit import record_audit
from crm.models import ObjectType, Property
from syncengine import crypto
from syncengine.connectors.base import AuthError, TransientError
from syncengine.connectors.google_contacts import mapping as gm
from syncengine.connectors.google_contacts.client import GoogleContactsConnector
from syncengine.connectors.google_contacts.oauth import refresh_access_token
from syncengine.models import FieldMapping, Integration, ObjectMapping, SyncRule
from syncengine.services.integrations import AuthorizationRequest, state_and_pkce
from syncengine.services.usage import DatabaseMeter

SCOPE = "https://www.googleapis.com/auth/contacts"  # contacts only (SPEC G-1)
GOOGLE_OAUTH_URL = "https://accounts.google.com"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
GOOGLE_API_URL = "https://people.googleapis.com/"
TIMEOUT = 30

# SPEC G-2: the sync rule decides the contacts mapping's direction; "filters" is two-way for
# the contacts that pass the Google-side filters (G-3).
SYNC_RULES = {
    "two_way": ObjectMapping.Direction.TWO_WAY,
    "to_google": ObjectMapping.Direction.TO_REMOTE,
    "from_google": ObjectMapping.Direction.FROM_REMOTE,
    "filters": ObjectMapping.Direction.TWO_WAY,
}
CONFLICT_WINNERS = {"concord": "local", "google": "remote"}


def _plain_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # a local sandbox must not go through an environment proxy
    return session


def build_authorization_request(
    *, oauth_url: str, client_id: str, redirect_uri: str
) -> AuthorizationRequest:
    """Google's consent page for the contacts scope, offline (a refresh token), with PKCE."""
    state, verifier, challenge = state_and_pkce()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPE,
            "state": state,
            "access_type": "offline",
            "prompt": "consent",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return AuthorizationRequest(
        url=f"{oauth_url.rstrip('/')}/o/oauth2/v2/auth?{query}", state=state, code_verifier=verifier
    )


def token_url(oauth_url: str) -> str:
    return GOOGLE_TOKEN_URL if oauth_url.rstrip("/") == GOOGLE_OAUTH_URL else f"{oauth_url}/token"


def exchange_code(
    *, oauth_url: str, client_id: str, client_secret: str, code: str, redirect_uri: str,
    code_verifier: str,
) -> dict:  # fmt: skip
    try:
        response = _plain_session().post(
            token_url(oauth_url.rstrip("/")),
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
                "client_id": client_id,
                "client_secret": client_secret,
            },
            timeout=TIMEOUT,
        )
    except requests.RequestException as exc:
        raise TransientError(f"Google's token endpoint is unreachable: {exc}") from exc
    body = response.json() if response.content else {}
    if response.status_code != 200:
        raise AuthError(f"{body.get('error', 'error')}: {body.get('error_description', '')}")
    if SCOPE not in str(body.get("scope", "")).split():
        raise AuthError("access to contacts was not granted")
    return body


def connect_google(
    *,
    oauth_url: str,
    api_endpoint: str,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    code_verifier: str,
    name: str = "",
    actor=None,
) -> Integration:
    """Trade the consent's code for tokens and create (or reconnect) the integration."""
    token = exchange_code(
        oauth_url=oauth_url,
        client_id=client_id,
        client_secret=client_secret,
        code=code,
        redirect_uri=redirect_uri,
        code_verifier=code_verifier,
    )
    account = _account_of(oauth_url, token["access_token"])
    with transaction.atomic():
        integration = (
            Integration.objects.select_for_update()
            .filter(kind=Integration.Kind.GOOGLE_CONTACTS, remote_user_id=account)
            .exclude(remote_user_id="")
            .first()
        )
        created = integration is None
        integration = integration or Integration(kind=Integration.Kind.GOOGLE_CONTACTS)
        integration.name = name or integration.name or f"Google Contacts {account}".strip()
        integration.status = Integration.Status.ACTIVE
        integration.login_url = oauth_url.rstrip("/")
        integration.instance_url = api_endpoint
        integration.client_id = client_id
        integration.client_secret_encrypted = crypto.encrypt(client_secret)
        integration.access_token_encrypted = crypto.encrypt(token["access_token"])
        if token.get("refresh_token"):
            integration.refresh_token_encrypted = crypto.encrypt(token["refresh_token"])
        integration.remote_user_id = account
        integration.connected_by = actor if getattr(actor, "pk", None) else None
        integration.connected_at = timezone.now()
        integration.last_error = ""
        integration.settings = {
            "sync_interval_minutes": 5,
            "sync_rule": "two_way",
            "filters": [],
            "conflict_winner": "local",
        } | (integration.settings or {})
        integration.save()
        if created:
            from syncengine.services.changes import queue_initial_push

            create_default_mappings(integration=integration)
            queue_initial_push(integration=integration)
        record_audit(
            verb="connect_integration",
            source="user" if actor else "system",
            actor=actor,
            target_repr=str(integration),
            detail={"integration": integration.pk, "account": account, "created": created},
        )
    return integration


def connect_sandbox_account(
    *, oauth_url: str, client_id: str, client_secret: str, name: str = "", actor=None
) -> Integration:
    """Connect the local Google sandbox by answering its consent page without a browser."""
    redirect_uri = (
        f"{settings.CONCORD_BASE_URL.rstrip('/')}/admin/syncengine/integration/oauth-callback/"
    )
    auth = build_authorization_request(
        oauth_url=oauth_url, client_id=client_id, redirect_uri=redirect_uri
    )
    params = {k: v[0] for k, v in parse_qs(urlparse(auth.url).query).items()}
    try:
        response = _plain_session().post(
            f"{oauth_url.rstrip('/')}/o/oauth2/v2/auth",
            data={**params, "action": "allow"},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
    except requests.RequestException as exc:
        raise TransientError(f"{oauth_url} unreachable: {exc}") from exc
    answer = parse_qs(urlparse(response.headers.get("Location", "")).query)
    if "code" not in answer or answer.get("state", [""])[0] != auth.state:
        raise AuthError(f"the sandbox did not grant access: {answer.get('error', ['?'])[0]}")
    return connect_google(
        oauth_url=oauth_url,
        api_endpoint=f"{oauth_url.rstrip('/')}/",
        client_id=client_id,
        client_secret=client_secret,
        code=answer["code"][0],
        redirect_uri=redirect_uri,
        code_verifier=auth.code_verifier,
        name=name,
        actor=actor,
    )


def _account_of(oauth_url: str, access_token: str) -> str:
    """The Google account's email, from tokeninfo (blank if it cannot be read)."""
    base = "https://oauth2.googleapis.com" if "accounts.google.com" in oauth_url else oauth_url
    try:
        response = _plain_session().get(
            f"{base.rstrip('/')}/tokeninfo", params={"access_token": access_token}, timeout=TIMEOUT
        )
        return str(response.json().get("email") or response.json().get("sub") or "")
    except (requests.RequestException, ValueError):
        return ""


@transaction.atomic
def create_default_mappings(*, integration: Integration) -> ObjectMapping:
    """contacts ↔ Person with the eleven locked default field mappings (SPEC G-4)."""
    contacts = ObjectType.objects.get(name="contacts")
    connector_schema = {
        f.name: {"type": f.type, "label": f.label, "createable": True, "updateable": True,
                 "restricted": False, "picklist": []}
        for f in gm.FIELDS
    }  # fmt: skip
    om, _ = ObjectMapping.objects.get_or_create(
        integration=integration,
        object_type=contacts,
        remote_object=gm.REMOTE_OBJECT,
        defaults={"sync_order": 10, "remote_schema": connector_schema},
    )
    props = {p.name: p for p in Property.objects.filter(object_type=contacts)}
    for prop_name, field in gm.DEFAULT_FIELD_MAPPINGS:
        if prop_name in props:
            FieldMapping.objects.get_or_create(
                object_mapping=om,
                remote_field=field,
                defaults={
                    "property": props[prop_name],
                    "rule": SyncRule.TWO_WAY,
                    "is_default": True,
                },
            )
    return om


@transaction.atomic
def configure_sync(
    *,
    integration: Integration,
    sync_rule: str,
    filters: list[str] | None = None,
    conflict_winner: str = "concord",
    actor=None,
) -> Integration:
    """Set the sync rule, the Google-side filters and the app that wins conflicts (validated
    first: a bad value changes nothing)."""
    errors: dict[str, list[str]] = {}
    filters = list(filters or [])
    if integration.kind != Integration.Kind.GOOGLE_CONTACTS:
        errors["integration"] = ["is not a Google Contacts integration"]
    if sync_rule not in SYNC_RULES:
        errors["sync_rule"] = [f"must be one of {', '.join(SYNC_RULES)}"]
    unknown = sorted(set(filters) - set(gm.FILTER_GROUPS))
    if unknown:
        errors["filters"] = [f"unknown filters {unknown}; use {', '.join(gm.FILTER_GROUPS)}"]
    elif sync_rule == "filters" and not filters:
        errors["filters"] = ["choose at least one filter for the “sync filters” rule"]
    elif filters and sync_rule != "filters":
        errors["filters"] = ["filters apply only with the “sync filters” rule"]
    if conflict_winner not in CONFLICT_WINNERS:
        errors["conflict_winner"] = [f"must be one of {', '.join(CONFLICT_WINNERS)}"]
    if errors:
        raise ValidationError(errors)
    before = dict(integration.settings or {})
    integration.settings = {
        **before,
        "sync_rule": sync_rule,
        "filters": filters,
        "conflict_winner": CONFLICT_WINNERS[conflict_winner],
    }
    integration.save(update_fields=["settings"])
    ObjectMapping.objects.filter(integration=integration, remote_object=gm.REMOTE_OBJECT).update(
        direction=SYNC_RULES[sync_rule]
    )
    record_audit(
        verb="configure_google_sync",
        source="user" if actor else "system",
        actor=actor,
        target_repr=str(integration),
        detail={"integration": integration.pk, "before": before, "after": integration.settings},
    )
    return integration


def sync_options(integration: Integration) -> dict:
    """The sync rule, filters and conflict winner as staff chose them."""
    settings_ = integration.settings or {}
    winner = {v: k for k, v in CONFLICT_WINNERS.items()}.get(settings_.get("conflict_winner"))
    return {
        "sync_rule": settings_.get("sync_rule", "two_way"),
        "filters": list(settings_.get("filters") or []),
        "conflict_winner": winner or "concord",
    }


class GoogleTokens:
    """The connector's token store: the integration's encrypted tokens; a refreshed access
    token is saved back encrypted."""

    def __init__(self, integration: Integration) -> None:
        self.integration = integration

    def access_token(self) -> str:
        return crypto.decrypt(self.integration.access_token_encrypted)

    def refresh(self) -> str:
        integration = self.integration
        token = refresh_access_token(
            token_uri=token_url(integration.login_url.rstrip("/")),
            client_id=integration.client_id,
            client_secret=crypto.decrypt(integration.client_secret_encrypted),
            refresh_token=crypto.decrypt(integration.refresh_token_encrypted),
        )
        fields = {"access_token_encrypted": crypto.encrypt(token)}
        Integration.objects.filter(pk=integration.pk).update(**fields)
        integration.access_token_encrypted = fields["access_token_encrypted"]
        return token


def revoke(integration: Integration, token: str) -> bool:
    """Revoke a token at Google (a refresh token takes its access tokens with it)."""
    base = integration.login_url.rstrip("/")
    url = "https://oauth2.googleapis.com/revoke" if base == GOOGLE_OAUTH_URL else f"{base}/revoke"
    try:
        return _plain_session().post(url, params={"token": token}, timeout=TIMEOUT).ok
    except requests.RequestException:
        return False


def build_connector(
    *, integration: Integration, meter: DatabaseMeter | None = None, sleep=None
) -> GoogleContactsConnector:
    """The metered Google Contacts connector of an integration, with its filters."""
    if integration.status in (Integration.Status.NEEDS_RECONNECT, Integration.Status.DISCONNECTED):
        raise AuthError(f"{integration} is {integration.get_status_display().lower()}")
    options = sync_options(integration)
    filters = options["filters"] if options["sync_rule"] == "filters" else []
    kwargs = {"sleep": sleep} if sleep else {}
    return GoogleContactsConnector(
        api_endpoint=integration.instance_url or GOOGLE_API_URL,
        tokens=GoogleTokens(integration),
        meter=meter or DatabaseMeter(integration),
        filters=filters,
        **kwargs,
    )
