"""Admin form helpers: what a change page would post back unchanged."""

from __future__ import annotations


def change_form_data(response) -> dict[str, object]:
    """What the change page would post back unchanged: its form, inlines and management forms."""
    forms = [response.context["adminform"].form]
    data: dict[str, object] = {}
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        forms.extend(formset.forms)
        management = formset.management_form
        data.update(
            {management[name].html_name: management[name].value() for name in management.fields}
        )
    for form in forms:
        for name in form.fields:
            bound = form[name]
            names = [bound.html_name]
            if bound.field.show_hidden_initial:  # a callable default's hidden initial input
                names.append(bound.html_initial_name)
            for html_name in names:
                if bound.value() is True:
                    data[html_name] = "on"
                elif bound.value() not in (None, False):
                    data[html_name] = bound.value()
    return data
