"""Backups and restores in the admin: super admins only.

The changelists are read-only records of what happened; every change goes through a view here
that calls one service: back up now, the schedule, the restore wizard (source → properties →
plan → confirm), rollback, and the authenticator set-up a restore needs. django-otp's own device
admin (which shows every secret and adds confirmed devices at will) is replaced by a read-only
list where a super admin resets another user's lost authenticator.
"""

from __future__ import annotations

from base64 import b32encode

from django.contrib import admin, messages
from django.http import FileResponse, Http404, HttpResponseGone, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.permissions import check_permissions
from backups import forms as f
from backups import selectors
from backups.display import count_phrase, human_size
from backups.errors import (
    BackupError,
    BackupTooSoon,
    BackupUnavailable,
)
from backups.models import BACKUP_RETENTION_DAYS, Backup, Restore
from backups.services import backups as backup_services
from backups.services import restore_apply, restore_plan, two_factor
from config.admin import ReadOnlyInAdmin
from config.bounds import parse_id
from crm import sources
from crm.models import ObjectType

WARNING = (
    "A backup holds every property value, sensitive ones included: store the file safely. "
    "Associations and activities are not part of it, nor are records in the recycle bin."
)


def _when(moment) -> str:
    """A date and time on one line, in the user's time zone ("2026-12-07 09:00")."""
    return date_format(timezone.localtime(moment), "Y-m-d H:i") if moment else "—"


def _two_lines(first, second) -> str:
    """A list cell of two lines that never wrap inside (backups/admin.css)."""
    return format_html(
        '<span class="cell-line">{}</span><span class="cell-line minor">{}</span>', first, second
    )


class SuperAdminOnly(ReadOnlyInAdmin):
    """Backups expose every value of the CRM: only super admins (the role holding the backups
    permissions) see or touch them; each view here names the permission it needs."""


class BackupStatusFilter(admin.SimpleListFilter):
    """Status by the clock: a ready backup past its expiry is listed as expired."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return Backup.Status.choices

    def queryset(self, request, queryset):
        value = self.value()
        if value not in Backup.Status.values:
            return queryset
        return queryset.filter(selectors.status_filter(value, timezone.now()))


@admin.register(Backup)
class BackupAdmin(SuperAdminOnly, admin.ModelAdmin):
    # Two-line cells keep the list inside 1280 px beside the sidebar and the filters: the
    # Download and Restore links must be visible without scrolling sideways.
    list_display = ["name", "taken", "summary", "status_now", "row_actions"]
    list_display_links = ["name"]
    list_filter = [BackupStatusFilter, "kind"]
    list_select_related = ["requested_by"]
    change_list_template = "admin/backups/backup/change_list.html"
    readonly_fields = [
        "status_now",
        "requested",
        "created_at",
        "snapshot_at",
        "finished_at",
        "expires_at",
        "records",
        "size_display",
        "contents",
        "error",
        "row_actions",
    ]
    fieldsets = [
        (None, {"fields": ["status_now", "requested", "records", "size_display", "row_actions"]}),
        ("When", {"fields": ["created_at", "snapshot_at", "finished_at", "expires_at"]}),
        ("Files in the ZIP", {"fields": ["contents"]}),
        ("Error", {"fields": ["error"], "classes": ["collapse"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        # The error section only where there is one.
        if obj is not None and obj.error:
            return self.fieldsets
        return [section for section in self.fieldsets if section[0] != "Error"]

    @admin.display(description="backup", ordering="created_at")
    def name(self, obj):
        return f"#{obj.pk}"

    @admin.display(description="status")
    def status_now(self, obj):
        """The status by the clock, and until when a ready file can be downloaded."""
        status = obj.status_at(timezone.now())
        if status == Backup.Status.READY and obj.expires_at:
            return _two_lines("Ready", f"until {_when(obj.expires_at)}")
        if status == Backup.Status.EXPIRED and obj.expires_at:
            return _two_lines("Expired", f"on {_when(obj.expires_at)}")
        return Backup.Status(status).label

    @admin.display(description="taken", ordering="created_at")
    def taken(self, obj):
        """When (the snapshot, or the request while none was taken yet) and at whose request."""
        who = obj.requested_by.get_username() if obj.requested_by else "a deleted user"
        by = "scheduled" if obj.kind == Backup.Kind.SCHEDULED else f"by {who}"
        return _two_lines(_when(obj.snapshot_at or obj.created_at), by)

    @admin.display(description="contents", ordering="size")
    def summary(self, obj):
        """ "3,200 records" over "2.4 MB"."""
        return _two_lines(self.records(obj), self.size_display(obj))

    @admin.display(description="requested")
    def requested(self, obj):
        if obj.kind == Backup.Kind.SCHEDULED:
            return "Scheduled"
        who = obj.requested_by.get_username() if obj.requested_by else "a deleted user"
        return f"On demand, by {who}"

    @admin.display(description="records")
    def records(self, obj):
        return count_phrase(obj.record_count, "record") if obj.counts else "—"

    @admin.display(description="size", ordering="size")
    def size_display(self, obj):
        return human_size(obj.size)

    @admin.display(description="file")
    def row_actions(self, obj):
        """Download ZIP and Restore for a ready backup; otherwise what became of it."""
        status = obj.status_at(timezone.now())
        if status == Backup.Status.READY:
            return format_html(
                '<span class="cell-line"><a href="{}" class="download">Download ZIP</a></span>'
                '<span class="cell-line"><a href="{}?backup={}" class="restore">Restore…</a>'
                "</span>",
                backup_services.download_path(obj),
                reverse("admin:backups_restore_new"),
                obj.pk,
            )
        if status == Backup.Status.EXPIRED:
            return f"File deleted after {BACKUP_RETENTION_DAYS} days"
        if status == Backup.Status.FAILED:
            return "No file"
        return "Being written…"

    @admin.display(description="contents")
    def contents(self, obj):
        rows = selectors.backup_contents(backup=obj)
        if not rows:
            return "No files yet." if obj.status_at(timezone.now()) != "ready" else "No records."
        return format_html(
            '<table class="backup-contents"><thead><tr><th>Object</th><th>File</th>'
            '<th class="numeric">Records</th></tr></thead><tbody>{}</tbody></table>',
            format_html_join(
                "",
                '<tr><td>{}</td><td><code>{}</code></td><td class="numeric">{}</td></tr>',
                (
                    (
                        row["object_type"] + ("" if row["restorable"] else " (not restorable)"),
                        row["file"],
                        count_phrase(row["records"], "record"),
                    )
                    for row in rows
                ),
            ),
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("create/", view(self.create_view), name="backups_backup_create"),
            path("schedule/", view(self.schedule_view), name="backups_backup_schedule"),
            path("<int:pk>/download/", view(self.download_view), name="backups_backup_download"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        schedule = backup_services.get_schedule()
        extra = {
            "warning": WARNING,
            "plan": backup_services.PLAN_LABELS.get(backup_services.current_plan()),
            "next_allowed_at": backup_services.next_backup_allowed_at(),
            "schedule": schedule,
            "next_scheduled_at": backup_services.next_scheduled_backup_at(schedule=schedule),
        }
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    def create_view(self, request):
        """GET asks for confirmation (it writes nothing); the confirmation POSTs back here."""
        check_permissions(request, "backups.add_backup")
        if request.method != "POST":
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Back up now?",
                "warning": WARNING,
                "plan": backup_services.PLAN_LABELS.get(backup_services.current_plan()),
                "period": backup_services.plan_period(backup_services.current_plan()),
                "next_allowed_at": backup_services.next_backup_allowed_at(),
            }
            return TemplateResponse(request, "admin/backups/backup/create.html", context)
        try:
            backup = backup_services.create_backup(requested_by=request.user, source=sources.USER)
        except BackupTooSoon as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                f"{backup} is being written; a notification with the download link follows.",
            )
        return HttpResponseRedirect(reverse("admin:backups_backup_changelist"))

    def download_view(self, request, pk):
        check_permissions(request, "backups.download_backup")
        backup = get_object_or_404(Backup, pk=pk)
        try:
            file = backup_services.open_backup_file(backup=backup)
        except BackupUnavailable as exc:
            if exc.expired:
                return HttpResponseGone(exc.message)
            raise Http404(exc.message) from None
        return FileResponse(
            file,
            as_attachment=True,
            filename=f"concord-backup-{backup.pk}.zip",
            content_type="application/zip",
        )

    def schedule_view(self, request):
        check_permissions(request, "backups.view_backupschedule")
        if request.method == "POST":
            check_permissions(request, "backups.change_backupschedule")
        schedule = backup_services.get_schedule()
        form = f.ScheduleForm(request.POST or None, instance=schedule)
        if request.method == "POST" and form.is_valid():
            try:
                backup_services.update_schedule(
                    enabled=form.cleaned_data["enabled"],
                    frequency=form.cleaned_data["frequency"],
                    actor=request.user,
                    source=sources.USER,
                )
            except BackupError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, "The backup schedule was saved.")
                return HttpResponseRedirect(reverse("admin:backups_backup_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Backup schedule",
            "form": form,
            "is_enterprise": backup_services.current_plan() == "enterprise",
            "plan": backup_services.PLAN_LABELS.get(backup_services.current_plan()),
            "next_scheduled_at": backup_services.next_scheduled_backup_at(schedule=schedule),
        }
        return TemplateResponse(request, "admin/backups/backup/schedule.html", context)


@admin.register(Restore)
class RestoreAdmin(SuperAdminOnly, admin.ModelAdmin):
    """The list of imports and restores: "Data restore - Deal", with its counts."""

    list_display = [
        "name",
        "status",
        "backup",
        "requested_by",
        "created_at",
        "finished_at",
        "updated_count",
        "missing_count",
        "failed_count",
    ]
    list_filter = ["status", "object_type"]
    list_select_related = ["object_type", "requested_by", "backup"]
    change_list_template = "admin/backups/restore/change_list.html"
    change_form_template = "admin/backups/restore/change_form.html"
    readonly_fields = [
        "name",
        "status",
        "backup",
        "object_type",
        "properties",
        "rollback_of",
        "requested_by",
        "confirmed_by",
        "verified_by",
        "created_at",
        "confirmed_at",
        "started_at",
        "finished_at",
        "updated_count",
        "unchanged_count",
        "missing_count",
        "failed_count",
        "errors",
        "error",
    ]
    fields = readonly_fields

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("new/", view(self.new_view), name="backups_restore_new"),
            path("two-factor/", view(self.two_factor_view), name="backups_restore_two_factor"),
            path("<int:pk>/plan/", view(self.plan_view), name="backups_restore_plan"),
            path("<int:pk>/confirm/", view(self.confirm_view), name="backups_restore_confirm"),
            path("<int:pk>/rollback/", view(self.rollback_view), name="backups_restore_rollback"),
            *super().get_urls(),
        ]

    def _context(self, request, title: str, **extra) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            **extra,
        }

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra = dict(extra_context or {})
        if object_id:
            restore = get_object_or_404(Restore, pk=object_id)
            extra["restore"] = restore
            extra["plan_rows"] = selectors.plan_rows(restore=restore)
            extra["can_roll_back"] = (
                restore.status == Restore.Status.DONE and restore.updated_count > 0
            )
        return super().changeform_view(request, object_id, form_url, extra)

    def new_view(self, request):
        """Step 1: backup and object type (preselected); step 2: properties; then the plan.

        Step 1 is a GET form, so a backup's "Restore…" link (?backup=<id>) opens it with that
        backup chosen; the form counts as submitted once it carries an object type.
        """
        check_permissions(request, "backups.add_restore")
        backups = selectors.list_backups(status=Backup.Status.READY)
        type_choices = [
            (ot.name, ot.label_plural) for ot in selectors.list_restorable_object_types()
        ]
        data = request.POST if request.method == "POST" else request.GET
        if "object_type" in data:
            source_form = f.RestoreSourceForm(
                data, backups=backups, object_type_choices=type_choices
            )
        else:
            backup_id = parse_id(data.get("backup"))
            chosen = backups.filter(pk=backup_id).first() if backup_id else None
            backup, object_type = selectors.get_default_restore_source(backup=chosen)
            source_form = f.RestoreSourceForm(
                backups=backups,
                object_type_choices=type_choices,
                initial={"backup": backup, "object_type": object_type and object_type.name},
            )
            if data.get("backup") and chosen is None:
                messages.warning(
                    request,
                    f"Backup #{data['backup']} cannot be restored from (it is not ready or has "
                    "expired); the newest ready backup is chosen instead.",
                )
        wizard = self._wizard_context(request, source_form=source_form)
        if not source_form.is_bound or not source_form.is_valid():
            return TemplateResponse(
                request,
                "admin/backups/restore/new.html",
                self._context(request, "Restore property values", **wizard),
            )
        backup = source_form.cleaned_data["backup"]
        object_type = ObjectType.objects.get(name=source_form.cleaned_data["object_type"])
        if not (backup.counts or {}).get(object_type.name):
            source_form.add_error(
                "object_type", f"Backup #{backup.pk} holds no {object_type.label_plural.lower()}."
            )
            return TemplateResponse(
                request,
                "admin/backups/restore/new.html",
                self._context(request, "Restore property values", **wizard),
            )
        names = restore_plan.restorable_properties(backup=backup, object_type=object_type)
        labels = dict(object_type.property_definitions.values_list("name", "label"))
        choices = [(name, f"{labels.get(name, name)} ({name})") for name in names]
        properties_form = f.RestorePropertiesForm(
            request.POST if request.method == "POST" else None, property_choices=choices
        )
        if request.method == "POST" and properties_form.is_valid():
            try:
                restore = restore_plan.plan_restore(
                    backup=backup,
                    object_type_name=object_type.name,
                    properties=properties_form.cleaned_data["properties"],
                    actor=request.user,
                    source=sources.USER,
                )
            except BackupError as exc:
                properties_form.add_error(None, exc.message)
            else:
                return HttpResponseRedirect(
                    reverse("admin:backups_restore_plan", args=[restore.pk])
                )
        return TemplateResponse(
            request,
            "admin/backups/restore/new.html",
            self._context(
                request,
                f"Restore {object_type.label_plural.lower()} from backup #{backup.pk}",
                **wizard,
                properties_form=properties_form,
                backup=backup,
                object_type=object_type,
            ),
        )

    def _wizard_context(self, request, *, source_form) -> dict:
        """What every step of the wizard shows: its form and the second factor it will need."""
        return {
            "source_form": source_form,
            "sso": two_factor.signed_in_via_sso(request),
            "has_authenticator": two_factor.has_authenticator(user=request.user),
        }

    def plan_view(self, request, pk):
        check_permissions(request, "backups.view_restore")
        restore = get_object_or_404(Restore.objects.select_related("object_type", "backup"), pk=pk)
        return TemplateResponse(
            request,
            "admin/backups/restore/plan.html",
            self._context(
                request,
                f"Plan: {restore.name}",
                restore=restore,
                rows=selectors.plan_rows(restore=restore),
                sample=selectors.plan_sample(restore=restore),
            ),
        )

    def confirm_view(self, request, pk):
        check_permissions(request, "backups.run_restore")
        restore = get_object_or_404(Restore.objects.select_related("object_type", "backup"), pk=pk)
        sso = two_factor.signed_in_via_sso(request)
        form = f.RestoreConfirmForm(request.POST or None)
        status = 200
        if request.method == "POST" and form.is_valid():
            try:
                restore_apply.confirm_restore(
                    restore=restore,
                    user=request.user,
                    confirm_irreversible=form.cleaned_data["confirm_irreversible"],
                    otp=form.cleaned_data["otp"],
                    sso=sso,
                    source=sources.USER,
                )
            except BackupError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                status = exc.status
            else:
                messages.success(
                    request, f"{restore.name} is running; a notification follows when done."
                )
                return HttpResponseRedirect(
                    reverse("admin:backups_restore_change", args=[restore.pk])
                )
        context = self._context(
            request,
            f"Confirm: {restore.name}",
            restore=restore,
            form=form,
            sso=sso,
            has_authenticator=two_factor.has_authenticator(user=request.user),
            rows=selectors.plan_rows(restore=restore),
        )
        return TemplateResponse(
            request, "admin/backups/restore/confirm.html", context, status=status
        )

    def rollback_view(self, request, pk):
        check_permissions(request, "backups.add_restore")
        restore = get_object_or_404(Restore, pk=pk)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:backups_restore_change", args=[pk]))
        try:
            rollback = restore_plan.plan_rollback(
                restore=restore, actor=request.user, source=sources.USER
            )
        except BackupError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("admin:backups_restore_change", args=[pk]))
        return HttpResponseRedirect(reverse("admin:backups_restore_plan", args=[rollback.pk]))

    def two_factor_view(self, request):
        """Set up (or replace) the authenticator app a restore asks a code of."""
        check_permissions(request, "backups.run_restore")
        user = request.user
        posted = request.method == "POST"
        start_form = f.TotpStartForm(request.POST if posted and "start" in request.POST else None)
        code_form = f.TotpCodeForm(request.POST if posted and "code" in request.POST else None)
        status = 200
        new_device = None
        if start_form.is_bound and start_form.is_valid():
            try:
                new_device = two_factor.start_totp_setup(
                    user=user,
                    current_code=start_form.cleaned_data["current_code"],
                    source=sources.USER,
                )
            except BackupError as exc:
                start_form.add_error("current_code", exc.message)
                status = exc.status
        elif code_form.is_bound and code_form.is_valid():
            try:
                two_factor.confirm_totp_setup(
                    user=user, code=code_form.cleaned_data["code"], source=sources.USER
                )
            except BackupError as exc:
                code_form.add_error("code", exc.message)
                status = exc.status
            else:
                messages.success(request, "Your authenticator is set up.")
                return HttpResponseRedirect(reverse("admin:backups_restore_changelist"))
        elif start_form.is_bound or code_form.is_bound:
            status = 400
        context = self._context(
            request,
            "Two-factor authenticator",
            start_form=start_form,
            code_form=f.TotpCodeForm() if new_device else code_form,
            # The secret is on this page only in the answer that started the set-up.
            new_setup=_setup_secret(new_device) if new_device else None,
            authenticator=two_factor.get_authenticator(user=user),
            setup_pending=two_factor.has_pending_setup(user=user),
        )
        response = TemplateResponse(
            request, "admin/backups/restore/two_factor.html", context, status=status
        )
        add_never_cache_headers(response)
        return response


def _setup_secret(device: TOTPDevice) -> dict:
    """What the set-up page shows once: the QR code, the key and the otpauth URL."""
    return {
        "qr_svg": two_factor.qr_svg(device),
        "key": b32encode(device.bin_key).decode(),
        "config_url": device.config_url,
    }


# django-otp registers an admin that shows each device's key and QR code and adds confirmed
# devices at will: both would undo "one authenticator per user, its secret shown once".
if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class AuthenticatorAdmin(SuperAdminOnly, admin.ModelAdmin):
    """Users' authenticators, never their secrets: a super admin resets a lost one here."""

    list_display = ["user", "confirmed", "created_at", "last_used_at", "throttling_failure_count"]
    list_filter = ["confirmed"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]
    readonly_fields = [
        "user",
        "name",
        "confirmed",
        "created_at",
        "last_used_at",
        "throttling_failure_count",
        "throttling_failure_timestamp",
    ]
    fields = readonly_fields
    actions = ["reset_authenticators"]

    @admin.action(description="Reset the selected users' authenticators (they set up new ones)")
    def reset_authenticators(self, request, queryset):
        check_permissions(request, two_factor.RESET_PERMISSION)
        users = {device.user_id: device.user for device in queryset.select_related("user")}
        try:
            reset = two_factor.reset_authenticators(
                users=users.values(), actor=request.user, source=sources.USER
            )
        except BackupError as exc:
            messages.error(request, exc.message)
            return
        names = ", ".join(sorted(user.get_username() for user in users.values()))
        messages.success(
            request,
            f"Authenticators reset for {reset} user{'' if reset == 1 else 's'} ({names}); "
            "each sets up a new one before the next restore.",
        )
