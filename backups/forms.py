"""Admin forms of the restore wizard and the schedule: they shape input; services decide."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from backups.display import count_phrase, human_size
from backups.models import Backup, BackupSchedule


class RestoreSourceForm(forms.Form):
    """Step 1: which backup and which object type (the wizard preselects both)."""

    backup = forms.ModelChoiceField(
        queryset=Backup.objects.none(),
        help_text="Values are restored as they were when this backup's snapshot was taken.",
    )
    object_type = forms.ChoiceField(
        choices=(), help_text="One object type per restore (conversations cannot be restored)."
    )

    def __init__(self, *args, backups, object_type_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["backup"].queryset = backups
        self.fields["object_type"].choices = object_type_choices
        self.fields["backup"].label_from_instance = _backup_label


def _backup_label(backup: Backup) -> str:
    """ "#12 — 2026-12-07 09:00 (3,200 records, 2.4 MB)", in the user's time zone."""
    taken = timezone.localtime(backup.snapshot_at or backup.created_at)
    return (
        f"#{backup.pk} — {taken:%Y-%m-%d %H:%M %Z} "
        f"({count_phrase(backup.record_count, 'record')}, {human_size(backup.size)})"
    )


class RestorePropertiesForm(forms.Form):
    properties = forms.MultipleChoiceField(
        choices=(), widget=forms.CheckboxSelectMultiple, help_text="Choose what to restore."
    )

    def __init__(self, *args, property_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["properties"].choices = property_choices


class RestoreConfirmForm(forms.Form):
    confirm_irreversible = forms.BooleanField(
        required=False,
        label="I understand that the data will change and that this cannot be undone.",
    )
    otp = forms.CharField(
        required=False,
        max_length=10,
        label="Authenticator code",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class ScheduleForm(forms.ModelForm):
    class Meta:
        model = BackupSchedule
        fields = ["enabled", "frequency"]


class TotpCodeForm(forms.Form):
    code = forms.CharField(max_length=20, label="Code from the app")


class TotpStartForm(forms.Form):
    current_code = forms.CharField(
        max_length=20,
        required=False,
        label="Current code",
        help_text="A code from the authenticator you have now (needed to replace it).",
    )
