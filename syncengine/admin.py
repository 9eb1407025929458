"""Admin for integrations, mappings, cycles, errors, and the sync status dashboard."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from accounts.permissions import check_permissions, has_permissions
from crm.models import ObjectType
from syncengine import crypto, selectors
from syncengine.admin_health import health_urls
from syncengine.connectors.base import ConnectorError
from syncengine.engine.cycles import start_cycle
from syncengine.export import stages_csv_response
from syncengine.models import (
    FieldMapping,
    Integration,
    ObjectMapping,
    ReferenceMapping,
    SyncCycle,
    SyncError,
    SyncStage,
)
from syncengine.services import google_contacts as google_services
from syncengine.services import integrations as integration_services
from syncengine.services import mappings as mapping_services

SESSION_KEY = "syncengine_oauth"
TZ_SESSION_KEY = "syncengine_tz"


class ConnectForm(forms.Form):
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


class GoogleSyncForm(forms.Form):
    sync_rule = forms.ChoiceField(
        choices=[
            ("two_way", "Two-way: new and updated contacts both ways; matches merged"),
            ("to_google", "One-way: Concord → Google"),
            ("from_google", "One-way: Google → Concord"),
            ("filters", "Sync filters: two-way, only the Google contacts the filters pass"),
        ],
        widget=forms.RadioSelect,
    )
    filters = forms.MultipleChoiceField(
        choices=[
            ("my_contacts", "Only contacts in “Contacts” (not Other contacts or Trash)"),
            ("starred", "Only starred contacts"),
        ],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Used by the “sync filters” rule. Filters limit what syncs; they add nothing "
        "to lists.",
    )
    conflict_winner = forms.ChoiceField(
        label="When both apps changed a field",
        choices=[("concord", "Concord wins"), ("google", "Google wins")],
        widget=forms.RadioSelect,
        help_text="The winner's value is used unless it is blank: a blank never clears the other.",
    )


class IntegrationAdminForm(forms.ModelForm):
    """The integration's change form: engine settings are checked like the API's."""

    class Meta:
        model = Integration
        fields = ["name", "client_id", "ca_file", "settings", "api_allocation"]

    def clean_settings(self):
        value = self.cleaned_data.get("settings")
        if not isinstance(value, dict):
            raise ValidationError('Enter an object of settings, e.g. {"api_version": "62.0"}.')
        stored = self.instance.settings or {}
        # Only what this form changes: keys set elsewhere (the Google sync page) stay as they are.
        changed = {key: v for key, v in value.items() if key not in stored or stored[key] != v}
        errors = integration_services.settings_errors(kind=self.instance.kind, patch=changed)
        if errors:
            raise ValidationError([f"{key}: {' '.join(msgs)}" for key, msgs in errors.items()])
        return value


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    form = IntegrationAdminForm
    list_display = [
        "name",
        "kind",
        "status_badge",
        "instance_url",
        "api_usage",
        "last_cycle",
        "health_link",
    ]
    list_filter = ["kind", "status"]
    readonly_fields = [
        "kind",
        "status",
        "instance_url",
        "login_url",
        "remote_org_id",
        "remote_user_id",
        "connected_by",
        "connected_at",
        "api_limit",
        "api_org_used",
        "api_limit_seen_at",
        "api_usage",
        "last_error",
    ]
    fields = [
        "name",
        "kind",
        "status",
        "instance_url",
        "login_url",
        "client_id",
        "ca_file",
        "remote_org_id",
        "remote_user_id",
        "connected_by",
        "connected_at",
        "settings",
        "api_allocation",
        "api_usage",
        "api_limit",
        "api_org_used",
        "api_limit_seen_at",
        "last_error",
    ]
    actions = ["sync_now", "disconnect"]

    def has_add_permission(self, request) -> bool:
        return False  # integrations are created by connecting (the "Connect Salesforce" button)

    @admin.display(description="Status")
    def status_badge(self, obj: Integration) -> str:
        colour = {"active": "#2e7d32", "needs_reconnect": "#c62828"}.get(obj.status, "#666")
        return format_html('<b style="color:{}">{}</b>', colour, obj.get_status_display())

    @admin.display(description="API calls (24 h)")
    def api_usage(self, obj: Integration) -> str:
        usage = selectors.get_api_usage(integration=obj)
        allocated = usage["allocated"] if usage["allocated"] is not None else "no cap"
        if usage["per_minute_quota"] is not None:
            return (
                f"{usage['used_24h']} used · {usage['used_last_minute']} in the last minute of "
                f"{usage['per_minute_quota']} per minute · allocated {allocated}"
            )
        return (
            f"{usage['used_24h']} used · allocated {allocated} · org limit {usage['limit'] or '?'}"
        )

    @admin.display(description="Sync health")
    def health_link(self, obj: Integration) -> str:
        url = reverse("admin:syncengine_integration_health", args=[obj.pk])
        if obj.kind != Integration.Kind.GOOGLE_CONTACTS:
            return format_html('<a href="{}">Sync health</a>', url)
        settings_url = reverse("admin:syncengine_integration_google_sync", args=[obj.pk])
        return format_html(
            '<a href="{}">Sync health</a> · <a href="{}">Sync settings</a>', url, settings_url
        )

    @admin.display(description="Last cycle")
    def last_cycle(self, obj: Integration) -> str:
        cycle = obj.cycles.order_by("-created_at").first()
        if cycle is None:
            return "—"
        return f"{cycle.get_status_display()} {timezone.localtime(cycle.created_at):%Y-%m-%d %H:%M}"

    def has_start_sync_permission(self, request) -> bool:
        return has_permissions(request, ["syncengine.start_sync"])

    @admin.action(description="Sync selected integrations now", permissions=["start_sync"])
    def sync_now(self, request, queryset) -> None:
        started = 0
        for integration in queryset:
            try:
                _, created = start_cycle(
                    integration=integration, trigger="manual", actor=request.user
                )
            except ValueError as exc:
                self.message_user(request, str(exc), messages.WARNING)
                continue
            started += created
        self.message_user(request, f"Started {started} sync cycle(s).", messages.SUCCESS)

    @admin.action(description="Disconnect (revoke tokens)", permissions=["change"])
    def disconnect(self, request, queryset) -> None:
        for integration in queryset:
            revoked = integration_services.disconnect_integration(
                integration=integration, actor=request.user
            )
            self.message_user(
                request,
                f"{integration} disconnected" + ("; tokens revoked." if revoked else "."),
                messages.SUCCESS,
            )

    def get_urls(self):
        urls = [
            path(
                "connect/",
                self.admin_site.admin_view(self.connect_view),
                name="syncengine_integration_connect",
            ),
            path(
                "connect-google/",
                self.admin_site.admin_view(self.connect_google_view),
                name="syncengine_integration_connect_google",
            ),
            path(
                "<int:pk>/google-sync/",
                self.admin_site.admin_view(self.google_sync_view),
                name="syncengine_integration_google_sync",
            ),
            path(
                "oauth-callback/",
                self.admin_site.admin_view(self.callback_view),
                name="syncengine_integration_oauth_callback",
            ),
        ]
        return urls + health_urls(self) + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "connect_url": reverse("admin:syncengine_integration_connect"),
            "connect_google_url": reverse("admin:syncengine_integration_connect_google"),
        }
        return super().changelist_view(request, extra_context)

    def connect_view(self, request):
        """Step 1 of the web-server flow: send the browser to Salesforce's consent page."""
        check_permissions(request, "syncengine.add_integration")  # connecting creates one
        form = ConnectForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            redirect_uri = request.build_absolute_uri(
                reverse("admin:syncengine_integration_oauth_callback")
            )
            auth = integration_services.build_authorization_request(
                login_url=data["login_url"], client_id=data["client_id"], redirect_uri=redirect_uri
            )
            request.session[SESSION_KEY] = {
                "state": auth.state,
                "verifier": auth.code_verifier,
                "redirect_uri": redirect_uri,
                "login_url": data["login_url"],
                "client_id": data["client_id"],
                "client_secret": crypto.encrypt(data["client_secret"]),
                "ca_file": data["ca_file"],
                "name": data["name"],
            }
            return HttpResponseRedirect(auth.url)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Connect Salesforce",
            "remote": "Salesforce",
            "opts": self.model._meta,
        }
        return render(request, "admin/syncengine/connect.html", context)

    def connect_google_view(self, request):
        """Step 1 for Google (SPEC G-1): the consent page for the contacts scope."""
        check_permissions(request, "syncengine.add_integration")  # connecting creates one
        form = GoogleConnectForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            redirect_uri = request.build_absolute_uri(
                reverse("admin:syncengine_integration_oauth_callback")
            )
            auth = google_services.build_authorization_request(
                oauth_url=data["oauth_url"], client_id=data["client_id"], redirect_uri=redirect_uri
            )
            request.session[SESSION_KEY] = {
                "kind": Integration.Kind.GOOGLE_CONTACTS,
                "state": auth.state,
                "verifier": auth.code_verifier,
                "redirect_uri": redirect_uri,
                "oauth_url": data["oauth_url"],
                "api_endpoint": data["api_endpoint"],
                "client_id": data["client_id"],
                "client_secret": crypto.encrypt(data["client_secret"]),
                "name": data["name"],
            }
            return HttpResponseRedirect(auth.url)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Connect Google Contacts",
            "remote": "Google",
            "opts": self.model._meta,
        }
        return render(request, "admin/syncengine/connect.html", context)

    def google_sync_view(self, request, pk: int):
        """The sync rule, Google-side filters and conflict winner (SPEC G-2, G-3)."""
        integration = self.get_object(request, str(pk))
        if integration is None or integration.kind != Integration.Kind.GOOGLE_CONTACTS:
            raise PermissionDenied
        if not self.has_change_permission(request, integration):
            raise PermissionDenied
        form = GoogleSyncForm(
            request.POST or None, initial=google_services.sync_options(integration)
        )
        if request.method == "POST" and form.is_valid():
            try:
                google_services.configure_sync(
                    integration=integration, **form.cleaned_data, actor=request.user
                )
            except ValidationError as exc:
                for field, problems in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, problems)
            else:
                self.message_user(request, "Sync settings saved.", messages.SUCCESS)
                return HttpResponseRedirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "integration": integration,
            "title": f"Sync settings of {integration}",
            "opts": self.model._meta,
        }
        return render(request, "admin/syncengine/google_sync.html", context)

    def callback_view(self, request):
        """Step 2: Salesforce sends the browser back with a code (or an error)."""
        check_permissions(request, "syncengine.add_integration")
        pending = request.session.pop(SESSION_KEY, None)
        changelist = reverse("admin:syncengine_integration_changelist")
        if not pending or request.GET.get("state") != pending["state"]:
            self.message_user(
                request, "The connection request expired; start again.", messages.ERROR
            )
            return HttpResponseRedirect(changelist)
        if request.GET.get("error"):
            reason = request.GET.get("error_description") or request.GET["error"]
            remote = (
                "Google"
                if pending.get("kind") == Integration.Kind.GOOGLE_CONTACTS
                else "Salesforce"
            )
            self.message_user(request, f"{remote} did not grant access: {reason}", messages.ERROR)
            return HttpResponseRedirect(changelist)
        try:
            if pending.get("kind") == Integration.Kind.GOOGLE_CONTACTS:
                integration = google_services.connect_google(
                    oauth_url=pending["oauth_url"],
                    api_endpoint=pending["api_endpoint"],
                    client_id=pending["client_id"],
                    client_secret=crypto.decrypt(pending["client_secret"]),
                    code=request.GET.get("code", ""),
                    redirect_uri=pending["redirect_uri"],
                    code_verifier=pending["verifier"],
                    name=pending["name"],
                    actor=request.user,
                )
            else:
                integration = integration_services.connect_salesforce(
                    login_url=pending["login_url"],
                    client_id=pending["client_id"],
                    client_secret=crypto.decrypt(pending["client_secret"]),
                    code=request.GET.get("code", ""),
                    redirect_uri=pending["redirect_uri"],
                    code_verifier=pending["verifier"],
                    ca_file=pending["ca_file"],
                    name=pending["name"],
                    actor=request.user,
                )
        except ConnectorError as exc:
            self.message_user(request, f"Connecting failed: {exc}", messages.ERROR)
            return HttpResponseRedirect(changelist)
        self.message_user(request, f"Connected {integration}.", messages.SUCCESS)
        return HttpResponseRedirect(
            reverse("admin:syncengine_integration_change", args=[integration.pk])
        )


class FieldMappingForm(forms.ModelForm):
    class Meta:
        model = FieldMapping
        fields = ["property", "remote_field", "rule", "value_map"]

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and self.has_changed():
            try:
                mapping_services.check_editable(self.instance)
            except ValidationError as exc:
                raise forms.ValidationError(exc.messages) from exc
        om = self.instance.object_mapping if self.instance.object_mapping_id else None
        om = om or getattr(self, "parent_object", None)
        if om and cleaned.get("property") and cleaned.get("remote_field"):
            try:
                mapping_services.check_field_mapping(
                    object_mapping=om,
                    prop=cleaned["property"],
                    remote_field=cleaned["remote_field"],
                )
            except ValidationError as exc:
                raise forms.ValidationError(exc.message_dict) from exc
        return cleaned


class FieldMappingFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        for form in self.deleted_forms:
            if form.instance.pk and mapping_services.is_locked(form.instance):
                raise forms.ValidationError(
                    f"{form.instance} is one of Google Contacts' default mappings, which cannot "
                    "be removed."
                )


class FieldMappingInline(admin.TabularInline):
    model = FieldMapping
    form = FieldMappingForm
    formset = FieldMappingFormSet
    extra = 0
    fields = ["property", "remote_field", "rule", "value_map", "is_default"]
    readonly_fields = ["is_default"]
    raw_id_fields = ["property"]

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form.parent_object = obj
        return formset


class ReferenceMappingInline(admin.TabularInline):
    model = ReferenceMapping
    fk_name = "object_mapping"
    extra = 0
    fields = ["remote_field", "definition", "target", "rule"]


@admin.register(ObjectMapping)
class ObjectMappingAdmin(admin.ModelAdmin):
    list_display = ["__str__", "integration", "direction", "enabled", "sync_order", "watermark"]
    list_filter = ["integration", "enabled"]
    list_select_related = ["integration", "object_type"]
    readonly_fields = ["watermark", "delete_watermark", "schema_checked_at"]
    exclude = ["remote_schema"]
    inlines = [FieldMappingInline, ReferenceMappingInline]


class SyncStageInline(admin.TabularInline):
    model = SyncStage
    extra = 0
    can_delete = False
    fields = [
        "operation",
        "remote_object",
        "status",
        "started_at",
        "ended_at",
        "new",
        "updated",
        "deleted",
        "failed",
        "skipped",
        "api_calls",
    ]
    readonly_fields = fields
    ordering = ["pk"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SyncCycle)
class SyncCycleAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "integration",
        "status",
        "trigger",
        "created_at",
        "started_at",
        "ended_at",
        "api_calls",
    ]
    list_filter = ["status", "integration"]
    list_select_related = ["integration"]
    readonly_fields = [
        "integration",
        "status",
        "trigger",
        "requested_by",
        "created_at",
        "started_at",
        "ended_at",
        "lease_until",
        "api_calls",
        "message",
    ]
    inlines = [SyncStageInline]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(SyncError)
class SyncErrorAdmin(admin.ModelAdmin):
    list_display = [
        "category",
        "code",
        "short_message",
        "record",
        "remote_object",
        "remote_id",
        "remote_field",
        "occurrences",
        "last_seen_at",
        "status",
    ]
    list_filter = ["status", "category", "direction", "integration"]
    list_select_related = ["record__object_type", "integration"]
    raw_id_fields = ["record"]
    search_fields = ["code", "message", "remote_id"]
    readonly_fields = [
        "integration",
        "category",
        "code",
        "message",
        "direction",
        "object_type",
        "record",
        "remote_object",
        "remote_id",
        "remote_field",
        "property_name",
        "details",
        "first_seen_at",
        "last_seen_at",
        "occurrences",
        "status",
        "resolved_at",
        "resync_requested_at",
    ]
    exclude = ["affected_records"]
    show_full_result_count = False

    # Errors change only through the error service, which keeps the health cards' counts;
    # staff resolve them by fixing the record and resyncing from the health page.
    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Message")
    def short_message(self, obj: SyncError) -> str:
        return obj.message[:120]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(SyncStage)
class SyncStageAdmin(admin.ModelAdmin):
    """The sync status dashboard (M-1 … M-4) replaces the plain change list."""

    def get_urls(self):
        return [
            path(
                "",
                self.admin_site.admin_view(self.dashboard_view),
                name="syncengine_syncstage_changelist",
            ),
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name="syncengine_syncstage_export",
            ),
        ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def _check(self, request) -> None:
        # M-4: admins only (superusers, or staff given the view permission on stages).
        if not self.has_view_permission(request):
            raise PermissionDenied

    def _filters(self, request) -> tuple[dict, dict]:
        get = request.GET
        tz_name = (
            get.get("tz")
            or request.session.get(TZ_SESSION_KEY)
            or timezone.get_current_timezone_name()
        )
        try:
            tz = zoneinfo.ZoneInfo(tz_name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            tz_name, tz = "UTC", zoneinfo.ZoneInfo("UTC")
        request.session[TZ_SESSION_KEY] = tz_name
        timezone.activate(tz)

        def parse(name: str) -> dt.datetime | None:
            raw = get.get(name, "").strip()
            if not raw:
                return None
            try:
                value = dt.datetime.fromisoformat(raw)
            except ValueError:
                return None
            return value if value.tzinfo else value.replace(tzinfo=tz)

        integration = get.get("integration") or None
        values = {
            "integration": int(integration) if integration and integration.isdigit() else None,
            "object_type": get.get("object_type") or None,
            "operation": get.get("operation") or None,
            "status": get.get("status") or None,
            "started_after": parse("started_after"),
            "started_before": parse("started_before"),
            "ordering": get.get("o") or "-started_at",
        }
        raw = {
            k: get.get(k, "")
            for k in (
                "integration",
                "object_type",
                "operation",
                "status",
                "started_after",
                "started_before",
            )
        }
        raw.update(o=values["ordering"], tz=tz_name)
        return values, raw

    def dashboard_view(self, request):
        self._check(request)
        values, raw = self._filters(request)
        stages = selectors.list_stages(**values)
        page = Paginator(stages, 100).get_page(request.GET.get("page"))
        query = urlencode({k: v for k, v in raw.items() if v and k != "o"})
        context = {
            **self.admin_site.each_context(request),
            "title": "Sync status",
            "opts": self.model._meta,
            "page": page,
            "filters": raw,
            "query": query,
            "integrations": selectors.list_integrations(),
            "object_types": ObjectType.objects.order_by("label_plural"),
            "operations": SyncStage.Operation.choices,
            "statuses": SyncStage.Status.choices,
            "timezones": sorted(zoneinfo.available_timezones()),
            "days": selectors.DASHBOARD_DAYS,
            "export_url": reverse("admin:syncengine_syncstage_export"),
        }
        return render(request, "admin/syncengine/dashboard.html", context)

    def export_view(self, request):
        self._check(request)
        values, _ = self._filters(request)
        return stages_csv_response(selectors.list_stages(**values), filename="sync-status.csv")
