"""The one permission rule of the API and the admin's custom views: a model permission, named
by the view for each of its operations (DESIGN §10 "Permissions").

An API view lists what each operation needs in `required_permissions`, keyed by viewset action
(``"list"``, ``"sync"``), by action and method for actions answering several methods
(``"mappings:patch"``), or by method on a plain APIView (``"get"``, ``"put"``). An operation the
view does not name is refused: a new endpoint without a rule cannot leak by default, and the
permission-matrix test fails until the rule and its expected answers are written down.
`staff_actions` names the operations that also need a staff account. Views set nothing else:
this class is the project's default, so apps need not import it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

if TYPE_CHECKING:  # DRF imports this module while its views module loads: no cycle at runtime
    from django.http import HttpRequest
    from rest_framework.request import Request
    from rest_framework.views import APIView


def operation_key(view: APIView, method: str) -> tuple[str, str | None]:
    """The names an operation's rule may be filed under: (action or method, action:method)."""
    method = "get" if method.lower() == "head" else method.lower()
    action = getattr(view, "action", None)
    if action == "metadata":  # OPTIONS asking about another method (DRF clones the request)
        action = view.action_map.get(method)
    if action is None:
        return method, None
    return action, f"{action}:{method}"


def required_permissions(view: APIView, method: str) -> tuple[str, ...] | None:
    """The permissions the view names for this operation, or None when it names none."""
    rules = getattr(view, "required_permissions", {})
    key, specific = operation_key(view, method)
    if specific is not None and specific in rules:
        return tuple(rules[specific])
    return tuple(rules[key]) if key in rules else None


class ModelPermissions(BasePermission):
    """Signed in, active, and holding every model permission the view names for the operation."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if getattr(view, "_ignore_model_permissions", False):  # the router's API root
            return True
        if request.method == "OPTIONS":
            # DRF's metadata describes only the methods this check lets through.
            return True
        if not _answers(view, request.method):
            return True  # nothing to guard: the view answers 405 Method Not Allowed
        perms = required_permissions(view, request.method)
        if perms is None:
            return False
        key, _ = operation_key(view, request.method)
        if key in getattr(view, "staff_actions", ()) and not user.is_staff:
            return False
        return user.has_perms(perms)


def _answers(view: APIView, method: str) -> bool:
    """Whether the view has a handler for the method (DRF answers 405 when it has none)."""
    method = method.lower()
    if method not in view.http_method_names:
        return False
    if hasattr(view, "action_map"):  # a viewset: the router maps the method to an action
        return operation_key(view, method)[1] is not None
    return hasattr(view, method)


def check_permissions(request: HttpRequest, *perms: str) -> None:
    """Refuse an admin view (403) unless the signed-in user holds every named permission."""
    if not has_permissions(request, perms):
        raise PermissionDenied


def has_permissions(request: HttpRequest, perms: Iterable[str]) -> bool:
    """Whether the signed-in user is active and holds every named permission."""
    user = request.user
    return bool(user.is_active and user.has_perms(tuple(perms)))
