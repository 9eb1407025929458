"""Owners: create, update and deactivate the people records are assigned to.

Emails are stored lower-cased and trimmed (owners are matched by email: Salesforce users,
imports). A deactivated owner keeps the records it owns; it gets no new ones (the record write
path refuses it), so deactivating never rewrites records.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from crm import sources
from crm.audit import record_audit
from crm.errors import OwnerError
from crm.models import Owner

MAX_NAME = Owner._meta.get_field("name").max_length
EDITABLE = frozenset({"name", "email", "is_active", "user"})


def normalise_email(email: str) -> str:
    """The stored form of an owner's email: trimmed and lower-cased."""
    return (email or "").strip().lower()


@transaction.atomic
def create_owner(
    *,
    name: str,
    email: str,
    is_active: bool = True,
    user=None,
    actor=None,
    source: str,
) -> Owner:
    """Create an owner; refuses (OwnerError) a missing name, a bad email or one in use."""
    sources.validate_source(source)
    owner = Owner(name=_clean_name(name), email=_clean_email(email), is_active=is_active, user=user)
    _save(owner)
    _audit("create_owner", owner, actor, source, {"email": owner.email, "active": is_active})
    return owner


@transaction.atomic
def update_owner(*, owner: Owner, changes: Mapping[str, object], actor=None, source: str) -> Owner:
    """Change an owner's name, email, active flag or login; audited with old and new values."""
    sources.validate_source(source)
    unknown = sorted(set(changes) - EDITABLE)
    if unknown:
        raise OwnerError(f"An owner has no field {unknown[0]!r} to change.", field=unknown[0])
    owner = Owner.objects.select_for_update().get(pk=owner.pk)
    cleaned = dict(changes)
    if "name" in cleaned:
        cleaned["name"] = _clean_name(cleaned["name"])
    if "email" in cleaned:
        cleaned["email"] = _clean_email(cleaned["email"])
    diff = {}
    for field, value in cleaned.items():
        before = getattr(owner, field)
        if before != value:
            diff[field] = [_shown(before), _shown(value)]
            setattr(owner, field, value)
    if diff:
        _save(owner)
        _audit("update_owner", owner, actor, source, {"changes": diff})
    return owner


def deactivate_owner(*, owner: Owner, actor=None, source: str) -> Owner:
    """Mark an owner inactive: its records keep it; it can no longer be given new ones."""
    return update_owner(owner=owner, changes={"is_active": False}, actor=actor, source=source)


def _clean_name(name: object) -> str:
    name = " ".join(str(name or "").split())
    if not name:
        raise OwnerError("Give the owner a name.", field="name")
    if len(name) > MAX_NAME:
        raise OwnerError(f"An owner's name has at most {MAX_NAME} characters.", field="name")
    return name


def _clean_email(email: object) -> str:
    email = normalise_email(str(email or ""))
    try:
        validate_email(email)
    except ValidationError:
        raise OwnerError(f"{email!r} is not an email address.", field="email") from None
    return email


def _save(owner: Owner) -> None:
    others = Owner.objects.exclude(pk=owner.pk)
    if others.filter(email=owner.email).exists():
        raise OwnerError(f"Another owner has the email {owner.email}.", field="email")
    if owner.user_id is not None and others.filter(user_id=owner.user_id).exists():
        raise OwnerError("That login already belongs to another owner.", field="user")
    try:
        with transaction.atomic():
            owner.save()
    except IntegrityError:  # the same email or login saved at the same moment
        raise OwnerError("Another owner has that email or login; try again.") from None


def _audit(verb: str, owner: Owner, actor, source: str, detail: dict) -> None:
    record_audit(
        verb=verb,
        source=source,
        actor=actor,
        target_id=owner.pk,
        target_repr=f"Owner {owner}",
        detail={"owner": owner.pk, **detail},
    )


def _shown(value: object) -> object:
    return getattr(value, "pk", value)
