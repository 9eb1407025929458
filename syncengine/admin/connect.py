"""Connecting an integration: one form per remote, one view and one OAuth callback for both."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass

from django import forms
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse

from accounts.permissions import check_permissions
from syncengine import crypto
from syncengine.connectors.base import ConnectorError
from syncengine.models import Integration
from syncengine.services.connect import Connection, build_authorization_request, connect

SESSION_KEY = "syncengine_oauth"


class SalesforceConnectForm(forms.Form):
    name = forms.CharField(max_length=200, initial="Salesforce")
    login_url = forms.URLField(
        assume_scheme="https",
        label="Login URL",
        initial="https://127.0.0.1:8443",
        help_text="https://login.salesforce.com, your My Domain URL, or the local sandbox.",
    )
    client_id = forms.CharField(label="Consumer key", initial="concord")
    client_secret = forms.CharField(label="Consumer secret", widget=forms.PasswordInput)
    ca_file = forms.CharField(
        label="CA certificate file",
        required=False,
        initial="var/sandbox/salesforce-ca.pem",
        help_text="Only for the local sandbox, whose certificate a local CA signs.",
    )

    def connection(self) -> Connection:
        """Where and as whom to connect."""
        return Connection(kind=Integration.Kind.SALESFORCE, **self.cleaned_data)


class GoogleConnectForm(forms.Form):
    name = forms.CharField(max_length=200, initial="Google Contacts")
    oauth_url = forms.URLField(
        assume_scheme="https",
        label="Google sign-in URL",
        initial="http://127.0.0.1:8444",
        help_text="https://accounts.google.com, or the local sandbox.",
    )
    api_endpoint = forms.URLField(
        assume_scheme="https",
        label="People API endpoint",
        initial="http://127.0.0.1:8444/",
        help_text="https://people.googleapis.com/, or the local sandbox.",
    )
    client_id = forms.CharField(
        label="OAuth client ID", initial="concord-sandbox.apps.googleusercontent.com"
    )
    client_secret = forms.CharField(label="OAuth client secret", widget=forms.PasswordInput)

    def connection(self) -> Connection:
        """Where and as whom to connect."""
        data = dict(self.cleaned_data)
        return Connection(
            kind=Integration.Kind.GOOGLE_CONTACTS, login_url=data.pop("oauth_url"), **data
        )


@dataclass(frozen=True, slots=True)
class Remote:
    """What the connect page shows for one remote system."""

    form: type[SalesforceConnectForm | GoogleConnectForm]
    title: str
    name: str  # as the consent page and its messages name the remote


REMOTES = {
    Integration.Kind.SALESFORCE: Remote(SalesforceConnectForm, "Connect Salesforce", "Salesforce"),
    Integration.Kind.GOOGLE_CONTACTS: Remote(
        GoogleConnectForm, "Connect Google Contacts", "Google"
    ),
}


def connect_view(model_admin, request, kind: str):
    """Step 1 of the web-server flow: send the browser to the remote's consent page."""
    check_permissions(request, "syncengine.add_integration")  # connecting creates one
    remote = REMOTES[kind]
    form = remote.form(request.POST or None)
    if request.method == "POST" and form.is_valid():
        connection = form.connection()
        redirect_uri = request.build_absolute_uri(
            reverse("admin:syncengine_integration_oauth_callback")
        )
        auth = build_authorization_request(connection=connection, redirect_uri=redirect_uri)
        request.session[SESSION_KEY] = {
            **asdict(connection),
            "client_secret": crypto.encrypt(connection.client_secret),
            "state": auth.state,
            "verifier": auth.code_verifier,
            "redirect_uri": redirect_uri,
        }
        return HttpResponseRedirect(auth.url)
    context = {
        **model_admin.admin_site.each_context(request),
        "form": form,
        "title": remote.title,
        "remote": remote.name,
        "opts": model_admin.model._meta,
    }
    return render(request, "admin/syncengine/connect.html", context)


def callback_view(model_admin, request):
    """Step 2: the remote sends the browser back with a code (or an error)."""
    check_permissions(request, "syncengine.add_integration")
    pending = request.session.pop(SESSION_KEY, None)
    changelist = reverse("admin:syncengine_integration_changelist")
    if not pending or request.GET.get("state") != pending["state"]:
        messages.error(request, "The connection request expired; start again.")
        return HttpResponseRedirect(changelist)
    if request.GET.get("error"):
        reason = request.GET.get("error_description") or request.GET["error"]
        remote = REMOTES[pending["kind"]].name
        messages.error(request, f"{remote} did not grant access: {reason}")
        return HttpResponseRedirect(changelist)
    kept = {f.name: pending[f.name] for f in dataclasses.fields(Connection) if f.name in pending}
    connection = Connection(**{**kept, "client_secret": crypto.decrypt(pending["client_secret"])})
    try:
        integration = connect(
            connection=connection,
            code=request.GET.get("code", ""),
            redirect_uri=pending["redirect_uri"],
            code_verifier=pending["verifier"],
            actor=request.user,
        )
    except ConnectorError as exc:
        messages.error(request, f"Connecting failed: {exc}")
        return HttpResponseRedirect(changelist)
    messages.success(request, f"Connected {integration}.")
    return HttpResponseRedirect(
        reverse("admin:syncengine_integration_change", args=[integration.pk])
    )


def connect_urls(model_admin) -> list:
    """The connect pages' URLs, for IntegrationAdmin.get_urls."""
    site = model_admin.admin_site

    def wrap(view, **kwargs):
        return site.admin_view(lambda request: view(model_admin, request, **kwargs))

    return [
        path(
            "connect/",
            wrap(connect_view, kind=Integration.Kind.SALESFORCE),
            name="syncengine_integration_connect",
        ),
        path(
            "connect-google/",
            wrap(connect_view, kind=Integration.Kind.GOOGLE_CONTACTS),
            name="syncengine_integration_connect_google",
        ),
        path(
            "oauth-callback/",
            wrap(callback_view),
            name="syncengine_integration_oauth_callback",
        ),
    ]
