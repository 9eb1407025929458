"""A Google Contacts integration's sync settings page (SPEC G-2, G-3)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path

from syncengine.models import Integration
from syncengine.selectors import list_fixed_field_mappings
from syncengine.services import google_contacts as google_services

FILTERS_RULE = "filters"


class GoogleSyncForm(forms.Form):
    sync_rule = forms.ChoiceField(
        choices=[
            ("two_way", "Two-way: new and updated contacts both ways; matches merged"),
            ("to_google", "One-way: Concord → Google"),
            ("from_google", "One-way: Google → Concord"),
            (FILTERS_RULE, "Sync filters: two-way, only the Google contacts the filters pass"),
        ],
        widget=forms.RadioSelect(attrs={"class": "radiolist"}),
    )
    filters = forms.MultipleChoiceField(
        choices=[
            ("my_contacts", "Only contacts in “Contacts” (not Other contacts or Trash)"),
            ("starred", "Only starred contacts"),
        ],
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "radiolist"}),
        help_text="Only with the “sync filters” rule. Filters limit what syncs; they add nothing "
        "to lists.",
    )
    conflict_winner = forms.ChoiceField(
        label="When both apps changed a field",
        choices=[("concord", "Concord wins"), ("google", "Google wins")],
        widget=forms.RadioSelect(attrs={"class": "radiolist"}),
        help_text="The winner's value is used unless it is blank: a blank never clears the other.",
    )

    def clean(self):
        cleaned = super().clean()
        # Filters apply only under the "sync filters" rule (the page disables them otherwise);
        # boxes left ticked under another rule are ignored, not an error.
        if cleaned.get("sync_rule") and cleaned["sync_rule"] != FILTERS_RULE:
            cleaned["filters"] = []
        return cleaned


def google_sync_view(model_admin, request, pk: int):
    """The sync rule, Google-side filters and conflict winner (SPEC G-2, G-3)."""
    integration = model_admin.get_object(request, str(pk))
    if integration is None or integration.kind != Integration.Kind.GOOGLE_CONTACTS:
        raise PermissionDenied
    if not model_admin.has_change_permission(request, integration):
        raise PermissionDenied
    form = GoogleSyncForm(request.POST or None, initial=google_services.sync_options(integration))
    if request.method == "POST" and form.is_valid():
        try:
            google_services.configure_sync(
                integration=integration, **form.cleaned_data, actor=request.user
            )
        except ValidationError as exc:
            for field, problems in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            messages.success(request, "Sync settings saved.")
            return HttpResponseRedirect(request.path)
    context = {
        **model_admin.admin_site.each_context(request),
        "form": form,
        "integration": integration,
        "fixed_mappings": list_fixed_field_mappings(integration=integration),
        "filters_rule": FILTERS_RULE,
        "title": f"Sync settings of {integration}",
        "opts": model_admin.model._meta,
    }
    return render(request, "admin/syncengine/google_sync.html", context)


def google_sync_urls(model_admin) -> list:
    """The sync settings page's URL, for IntegrationAdmin.get_urls."""
    view = model_admin.admin_site.admin_view(
        lambda request, pk: google_sync_view(model_admin, request, pk)
    )
    return [path("<int:pk>/google-sync/", view, name="syncengine_integration_google_sync")]
