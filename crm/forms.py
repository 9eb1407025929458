"""The admin's record form, built from an object type's schema: one typed field a property."""

from __future__ import annotations

from django import forms

from crm import sources
from crm.errors import BatchValidationError, CrmError
from crm.models import Property, Record
from crm.schema import Schema
from crm.services.records import RecordInput, write_records


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
