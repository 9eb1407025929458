"""The integrations list and change form: status, API usage, sync now, disconnect."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.permissions import has_permissions
from syncengine import selectors
from syncengine.admin.connect import connect_urls
from syncengine.admin.google_sync import google_sync_urls
from syncengine.admin.health import health_urls
from syncengine.engine.cycles import start_cycle
from syncengine.errors import SyncEngineError
from syncengine.models import Integration
from syncengine.services import integrations as integration_services
from syncengine.services import usage as usage_services


class IntegrationAdminForm(forms.ModelForm):
    """The integration's change form: engine settings are checked like the API's."""

    class Meta:
        model = Integration
        fields = ["name", "client_id", "ca_file", "settings", "api_allocation"]

    def clean_api_allocation(self):
        value = self.cleaned_data.get("api_allocation")
        try:
            usage_services.check_api_allocation(
                integration=self.instance, allocated=value, field="api_allocation"
            )
        except SyncEngineError as exc:
            raise ValidationError(exc.message) from exc
        return value

    def clean_settings(self):
        value = self.cleaned_data.get("settings")
        if not isinstance(value, dict):
            raise ValidationError('Enter an object of settings, e.g. {"api_version": "62.0"}.')
        changed = integration_services.changed_settings(self.instance, value)
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
        # Where triage starts (SPEC T-3): before the wide columns, visible without scrolling.
        "open_errors",
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

    def get_queryset(self, request):
        # One annotation for the whole page, not a count per row.
        return selectors.with_open_error_counts(super().get_queryset(request))

    @admin.display(description="Open sync errors", ordering="open_errors")
    def open_errors(self, obj: Integration) -> str:
        count = obj.open_errors
        if not count:
            return "0"
        url = reverse("admin:syncengine_integration_health", args=[obj.pk])
        return format_html('<a class="open-errors" href="{}"><b>{}</b></a>', url, count)

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
            except SyncEngineError as exc:
                self.message_user(request, exc.message, messages.WARNING)
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
        extra = connect_urls(self) + google_sync_urls(self) + health_urls(self)
        return extra + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "connect_url": reverse("admin:syncengine_integration_connect"),
            "connect_google_url": reverse("admin:syncengine_integration_connect_google"),
        }
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change) -> None:
        """Changes go through the integration service, which checks and audits them."""
        data = form.cleaned_data
        integration_services.update_integration(
            integration=Integration.objects.get(pk=obj.pk),  # as stored: the audit's "before"
            name=data["name"],
            settings=data["settings"],
            api_allocation=data["api_allocation"],
            client_id=data["client_id"],
            ca_file=data["ca_file"],
            actor=request.user,
        )
