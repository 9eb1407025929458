"""Every page of the admin site, found from the site itself: its index's links, each registered
model's list, add and change pages, and every custom view the model admins and the site add (so a
view added later is covered without editing a list). URLs whose arguments cannot be filled in are
returned as skipped, each with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.admin import AdminSite
from django.test import RequestFactory
from django.urls import NoReverseMatch, URLPattern, reverse

# The model admin views every ModelAdmin has; the list, add and change pages are visited as such,
# history and delete (Django's own templates) are not what a layout test is for.
STANDARD_VIEWS = ("changelist", "add", "change", "history", "delete")
# Site-level views that are no admin page to lay out, or that would end the session.
SITE_VIEWS_SKIPPED = {
    "index": "visited as the admin index",
    "app_list": "visited through each app's link on the index",
    "login": "a signed-in user is redirected to the index",
    "logout": "signs the browser out",
    "autocomplete": "JSON for select widgets, not a page",
    "jsi18n": "a script, not a page",
    "view_on_site": "redirects away from the admin",
}
# The argument names a model admin's custom view may take for "one object of this model"; an
# argument <name>_id takes an object of the registered model called <name> (or ending so:
# error_id → syncerror, when only one model ends so).
OBJECT_ARGUMENTS = frozenset({"pk", "object_id", "id"})


@dataclass(frozen=True)
class AdminPage:
    url: str
    what: str


@dataclass(frozen=True)
class SkippedUrl:
    pattern: str
    reason: str


def list_admin_pages(site: AdminSite, user) -> tuple[list[AdminPage], list[SkippedUrl]]:
    """The pages of `site` that `user` may open, and the URL patterns left out (with why)."""
    request = RequestFactory().get(reverse(f"{site.name}:index"))
    request.user = user
    pages: dict[str, AdminPage] = {}
    skipped: list[SkippedUrl] = []

    def add(url: str, what: str) -> None:
        pages.setdefault(url, AdminPage(url=url, what=what))

    add(reverse(f"{site.name}:index"), "admin index")
    # The index's own links: each app's page, each model's list and add page, with their query
    # strings (the Records section lists every object type as ?type=<name>).
    for app in site.get_app_list(request):
        if app.get("app_url"):
            add(app["app_url"], f"{app['name']} (app)")
        for model in app["models"]:
            if model.get("admin_url"):
                add(model["admin_url"], f"{model['name']} list")
            if model.get("add_url"):
                add(model["add_url"], f"{model['name']} add")

    first_objects = {
        model._meta.model_name: model_admin.get_queryset(request).order_by("pk").first()
        for model, model_admin in site._registry.items()
    }
    for model, model_admin in site._registry.items():
        label = f"{model._meta.app_label}.{model._meta.model_name}"
        prefix = f"{site.name}:{model._meta.app_label}_{model._meta.model_name}"
        names = {p.name for p in model_admin.get_urls() if isinstance(p, URLPattern)}
        short = prefix.split(":", 1)[1]
        if f"{short}_changelist" in names and model_admin.has_view_or_change_permission(request):
            add(reverse(f"{prefix}_changelist"), f"{label} list")
        if f"{short}_add" in names and model_admin.has_add_permission(request):
            add(reverse(f"{prefix}_add"), f"{label} add")
        obj = first_objects[model._meta.model_name]
        if f"{short}_change" not in names:
            skipped.append(SkippedUrl(pattern=f"{label} change", reason="its admin has none"))
        elif obj is None:
            skipped.append(SkippedUrl(pattern=f"{label} change", reason="no object to open"))
        elif model_admin.has_view_or_change_permission(request, obj):
            add(reverse(f"{prefix}_change", args=[obj.pk]), f"{label} change #{obj.pk}")
        for pattern in model_admin.get_urls():
            if not isinstance(pattern, URLPattern) or pattern.name is None:
                continue  # the redirect of <object_id>/ to its change page
            if pattern.name.removeprefix(f"{short}_") in STANDARD_VIEWS:
                continue
            objects = {
                **_objects_by_argument(first_objects),
                **dict.fromkeys(OBJECT_ARGUMENTS, obj),
            }
            url, reason = _reverse_custom(site, pattern, objects)
            if url is None:
                skipped.append(SkippedUrl(pattern=f"{label}: {pattern.pattern}", reason=reason))
            else:
                add(url, f"{label} {pattern.name}")

    for pattern in site.get_urls():
        if not isinstance(pattern, URLPattern) or pattern.name is None:
            continue  # each model admin's include (above) and the catch-all 404
        if pattern.name in SITE_VIEWS_SKIPPED:
            skipped.append(
                SkippedUrl(pattern=str(pattern.pattern), reason=SITE_VIEWS_SKIPPED[pattern.name])
            )
            continue
        url, reason = _reverse_custom(site, pattern, _objects_by_argument(first_objects))
        if url is None:
            skipped.append(SkippedUrl(pattern=str(pattern.pattern), reason=reason))
        else:
            add(url, pattern.name)
    return list(pages.values()), skipped


def _objects_by_argument(first_objects: dict) -> dict:
    """{"<model name>_id": an object} for each registered model (see OBJECT_ARGUMENTS)."""
    return {f"{name}_id": obj for name, obj in first_objects.items()}


def _object_for(argument: str, objects: dict):
    """The object an argument names: exactly, or by the one model name ending in it."""
    if argument in objects:
        return objects[argument]
    matches = [key for key in objects if key.endswith(argument) and key.endswith("_id")]
    return objects[matches[0]] if len(matches) == 1 else None


def _reverse_custom(site: AdminSite, pattern: URLPattern, objects: dict) -> tuple[str | None, str]:
    """The URL of a custom view, its arguments filled with the pks of objects they name."""
    kwargs = {}
    for argument in sorted(pattern.pattern.regex.groupindex):
        obj = _object_for(argument, objects)
        if obj is None:
            return None, f"needs {argument}, which names no object here"
        kwargs[argument] = obj.pk
    try:
        return reverse(f"{site.name}:{pattern.name}", kwargs=kwargs), ""
    except NoReverseMatch as exc:
        return None, f"cannot be reversed ({exc})"
