"""Key rotation: re-encrypt every stored secret under the newest CONCORD_ENCRYPTION_KEYS key."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.apps import apps
from django.db import models, transaction

from crm.audit import record_audit
from syncengine import crypto


@dataclass
class RotationReport:
    """What a rotation did, per value: re-encrypted, already current, empty or unreadable."""

    rotated: int = 0
    current: int = 0
    empty: int = 0
    unreadable: list[str] = field(default_factory=list)  # "app_label.model:pk.field"


def encrypted_fields() -> list[tuple[type[models.Model], list[str]]]:
    """Every model with fields holding `crypto.encrypt()` values (named `*_encrypted`)."""
    found = []
    for model in apps.get_models():
        names = [
            f.name
            for f in model._meta.concrete_fields
            if f.name.endswith(crypto.ENCRYPTED_FIELD_SUFFIX)
        ]
        if names:
            found.append((model, names))
    return found


@transaction.atomic
def rotate_encryption_keys(
    *, actor=None, source: str, legacy_secret_key: bool = False
) -> RotationReport:
    """Re-encrypt every stored secret under the newest key; values already under it stay.

    With `legacy_secret_key`, values stored under the key Concord once derived from SECRET_KEY
    are read too (and re-encrypted under the newest configured key). Unreadable values are left
    as they are and reported, so no old key should be removed before they are dealt with.
    """
    extra_keys = [crypto.legacy_key_from_secret_key()] if legacy_secret_key else []
    report = RotationReport()
    for model, names in encrypted_fields():
        # Locked rows: a token refresh writing at the same time must not be overwritten.
        for row in model._default_manager.select_for_update().order_by("pk"):
            changed = {}
            for name in names:
                value = getattr(row, name)
                if not value:
                    report.empty += 1
                elif crypto.is_under_newest_key(value):
                    report.current += 1
                else:
                    try:
                        changed[name] = crypto.reencrypt(value, extra_keys=extra_keys)
                    except crypto.UnreadableSecret:
                        report.unreadable.append(f"{model._meta.label_lower}:{row.pk}.{name}")
            if changed:
                model._default_manager.filter(pk=row.pk).update(**changed)
                report.rotated += len(changed)
    record_audit(
        verb="rotate_encryption_keys",
        source=source,
        actor=actor,
        target_repr="stored secrets",
        detail={
            "rotated": report.rotated,
            "current": report.current,
            "empty": report.empty,
            "unreadable": report.unreadable,
            "legacy_secret_key": legacy_secret_key,
        },
    )
    return report
