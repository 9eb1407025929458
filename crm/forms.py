"""The admin's record form, built from an object type's schema: one typed field a property."""

from __future__ import annotations

from django import forms
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html

from crm import sources
from crm.errors import BatchValidationError, CrmError
from crm.models import Property, Record, SyncPropertyConfig
from crm.owners import owner_label
from crm.schema import Schema, option_labels
from crm.selectors import list_owners
from crm.services.records import RecordInput, write_records
from crm.sync_properties.selectors import get_copy_source, get_sync_config


class CopiedValueWidget(forms.Widget):
    """A sync property's value on a record's page: its option label, and where it came from."""

    def __init__(
        self, *, labels: dict[str, str], config: SyncPropertyConfig, source: Record | None
    ):
        super().__init__()
        self.labels, self.config, self.source = labels, config, source

    def render(self, name, value, attrs=None, renderer=None):
        if isinstance(value, list):
            shown = ", ".join(self.labels.get(item, item) for item in value)
        else:
            shown = "" if value is None else self.labels.get(value, value)
        source_property = self.config.source_property.label
        if self.source is None:
            origin = format_html(
                "no associated {} to copy {} from",
                self.config.source_object_type.label_singular.lower(),
                source_property,
            )
        else:
            origin = format_html(
                'copied from {} <a href="{}">{}</a> · {}',
                self.source.object_type.label_singular,
                reverse("admin:crm_record_change", args=[self.source.pk]),
                self.source,
                source_property,
            )
        return format_html(
            '<div class="readonly copied-value" id="copied-{}">{} '
            '<span class="help">({})</span></div>',
            name,
            shown or "—",
            origin,
        )


def _form_field(prop: Property, disabled: bool) -> forms.Field:
    common = {
        "label": prop.label,
        "required": False,
        "disabled": disabled,
        "help_text": prop.description or f"Internal name: {prop.name}",
    }
    options = [(o.value, o.label) for o in prop.options.all() if not o.hidden]
    match prop.type:
        case Property.Type.TEXTAREA:
            return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **common)
        case Property.Type.BOOLEAN:
            return forms.NullBooleanField(**common)
        case Property.Type.ENUMERATION:
            return forms.ChoiceField(choices=[("", "—"), *options], **common)
        case Property.Type.MULTISELECT:
            return forms.MultipleChoiceField(
                choices=options, widget=forms.CheckboxSelectMultiple, **common
            )
        case Property.Type.DATE:
            return forms.CharField(widget=forms.DateInput(attrs={"type": "date"}), **common)
        case Property.Type.OWNER:
            # The owners are read per form (RecordForm._offer_owners), not per form class.
            return forms.TypedChoiceField(choices=[], coerce=int, empty_value=None, **common)
        case Property.Type.NUMBER:
            return forms.CharField(widget=forms.TextInput(attrs={"inputmode": "decimal"}), **common)
        case _:
            return forms.CharField(**common)


class RecordForm(forms.ModelForm):
    """Edits a record's property values through the record services.

    Validation runs the service in dry-run mode, so every refused value shows on its field
    (type errors, unknown options, a unique value already taken) before anything is saved.
    """

    class Meta:
        model = Record
        fields: list[str] = []

    schema: Schema  # set by for_schema()
    user = None

    @classmethod
    def for_schema(cls, schema: Schema, user) -> type[RecordForm]:
        fields = {}
        for name, prop in schema.properties.items():
            if schema.can_view(user, name):
                fields[name] = _form_field(prop, disabled=prop.read_only)
        attrs = {"schema": schema, "user": user, **fields}
        return type(f"{schema.object_type.name.title()}RecordForm", (cls,), attrs)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            for name, value in self.instance.properties.items():
                if name in self.fields:
                    self.initial[name] = value
            self._show_copied_values()
        self._offer_owners()

    def _offer_owners(self) -> None:
        """Active owners to choose from, and a record's current owner if it has left, so
        saving the form does not drop it: one query for the form."""
        names = [n for n in self.fields if self.schema.properties[n].type == Property.Type.OWNER]
        if not names:
            return
        current = {self.instance.properties.get(n) for n in names} if self.instance.pk else set()
        owners = list_owners().filter(Q(is_active=True) | Q(pk__in=current - {None}))
        labelled = [(o.pk, o.is_active, owner_label(o.name, o.email, o.is_active)) for o in owners]
        for name in names:
            kept = self.instance.properties.get(name) if self.instance.pk else None
            choices = [(pk, label) for pk, active, label in labelled if active or pk == kept]
            self.fields[name].choices = [("", "—"), *choices]

    def _show_copied_values(self) -> None:
        """Sync properties show their value's label and the record it was copied from."""
        for name, field in self.fields.items():
            prop = self.schema.properties[name]
            config = get_sync_config(prop=prop) if prop.is_sync else None
            if config is None:
                continue
            field.widget = CopiedValueWidget(
                labels=option_labels(prop),
                config=config,
                source=get_copy_source(config=config, record=self.instance),
            )

    def property_values(self) -> dict[str, object]:
        """The submitted values that differ from the record's, ready for the services."""
        current = self.instance.properties if self.instance.pk else {}
        values = {}
        for name, field in self.fields.items():
            if field.disabled:
                continue
            value = self.cleaned_data.get(name)
            if value in ([], ""):
                value = None
            if value != current.get(name) and not (value is None and name not in current):
                values[name] = value
        return values

    def clean(self):
        cleaned = super().clean()
        try:
            write_records(
                object_type=self.schema.object_type,
                inputs=[RecordInput(properties=self.property_values(), id=self.instance.pk)],
                mode="update" if self.instance.pk else "create",
                actor=self.user,
                source=sources.USER,
                dry_run=True,
            )
        except BatchValidationError as exc:
            for name, messages in exc.errors[0].items():
                self.add_error(name if name in self.fields else None, messages)
        except CrmError as exc:
            self.add_error(None, exc.message)
        return cleaned
