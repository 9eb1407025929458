"""Second factor for restores: one TOTP authenticator per user (django-otp), the SSO exemption.

The rules (SPEC X-4): a user has at most one confirmed authenticator — this module enforces it and
a partial unique index (migration backups 0003) backs it up; replacing it needs a current code
from it, or another super admin's reset; its secret is handed out once, when a set-up starts,
and never again; every code is checked through django-otp's throttling, whose failure counter is
committed even when the code is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable

import segno
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY, get_user_model
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request

from backups.errors import BackupError, VerificationFailed, VerificationThrottled
from crm import sources
from crm.audit import record_audit

DEVICE_NAME = "Concord authenticator"
# A reset removes the user's devices.
RESET_PERMISSION = "otp_totp.delete_totpdevice"
WRONG_CODE = "The authenticator code is wrong or has expired; nothing was changed."
ALREADY_SET_UP = (
    "An authenticator is already set up: enter a current code from it to replace it, or ask "
    "another super admin to reset it."
)


def signed_in_via_sso(request) -> bool:
    """Did this request come with a session that signed in through a CONCORD_SSO_BACKENDS backend?

    Only such a session counts. An API request authenticated by a token (or by any authenticator
    but the session one) is never exempt, even when an SSO session's cookie rides along: the
    token alone must not stand in for the second factor.
    """
    if isinstance(request, Request) and (
        request.auth is not None
        or not isinstance(request.successful_authenticator, SessionAuthentication)
    ):
        return False
    session = getattr(request, "session", None)
    user = getattr(request, "user", None)
    if session is None or user is None or not user.is_authenticated:
        return False
    backend = session.get(BACKEND_SESSION_KEY)
    # The session must be the sign-in of the user the request acts as.
    same_user = session.get(SESSION_KEY) == str(user.pk)
    return same_user and bool(backend) and backend in settings.CONCORD_SSO_BACKENDS


def get_authenticator(*, user) -> TOTPDevice | None:
    """The user's confirmed authenticator, if one is set up."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def has_authenticator(*, user) -> bool:
    """Has the user a confirmed authenticator?"""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def has_pending_setup(*, user) -> bool:
    """Has the user started a set-up that is not confirmed yet?"""
    return TOTPDevice.objects.filter(user=user, confirmed=False).exists()


def start_totp_setup(*, user, current_code: str | None = None, source: str) -> TOTPDevice:
    """A new, unconfirmed authenticator whose secret the caller shows once.

    While a confirmed authenticator exists this needs a current code from it (checked, and
    throttled, like a restore's); the confirmed one keeps working until the new one is confirmed.
    An earlier unconfirmed set-up is replaced.
    """
    sources.validate_source(source)
    replacing = has_authenticator(user=user)
    if replacing:
        if not _clean(current_code):
            raise BackupError(ALREADY_SET_UP, field="current_code")
        check_code(user=user, code=current_code, field="current_code")
    with transaction.atomic():
        _lock_user(user)
        if not replacing and has_authenticator(user=user):
            # Confirmed by a concurrent request since the check above: same rule as then.
            raise BackupError(ALREADY_SET_UP, field="current_code")
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
        record_audit(
            verb="authenticator_setup_started",
            source=source,
            actor=user,
            target_repr=user.get_username(),
            detail={"user": user.pk, "device": device.pk, "replacing": replacing},
        )
    return device


def confirm_totp_setup(*, user, code: str, source: str) -> TOTPDevice:
    """Confirm the pending authenticator with a first code from the app; it replaces the old one."""
    sources.validate_source(source)
    # Committed even when the code is wrong: the failure counter is what throttles guessing.
    with transaction.atomic():
        _lock_user(user)
        device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
        if device is None:
            raise BackupError(
                "No set-up is pending: start one first (it shows the key to scan).", field="code"
            )
        _refuse_if_throttled(device, field="code")
        ok = device.verify_token(_clean(code))
        if ok:
            # Never two confirmed: the old authenticator goes in the same transaction.
            replaced = list(
                TOTPDevice.objects.filter(user=user)
                .exclude(pk=device.pk)
                .values_list("pk", "confirmed")
            )
            TOTPDevice.objects.filter(pk__in=[pk for pk, _ in replaced]).delete()
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            was_replaced = [pk for pk, confirmed in replaced if confirmed]
            record_audit(
                verb="authenticator_replaced" if was_replaced else "authenticator_confirmed",
                source=source,
                actor=user,
                target_repr=user.get_username(),
                detail={"user": user.pk, "device": device.pk, "replaced": was_replaced},
            )
    if not ok:
        raise BackupError(
            "That code is not the current one; check the app and the clock.", field="code"
        )
    return device


def check_code(*, user, code: str | None, field: str = "otp") -> None:
    """Refuse unless the code is current for the user's confirmed authenticator (throttled)."""
    token = _clean(code)
    # Committed even when the code is wrong: the failure counter is what throttles guessing. So
    # this runs in its own (savepoint) block that ends normally; callers must not roll back an
    # enclosing transaction on refusal.
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        if device is None:
            raise BackupError(
                "A restore needs a code from an authenticator app: set one up first "
                "(admin: Two-factor authenticator; API: POST /api/v1/auth/totp/).",
                field=field,
            )
        _refuse_if_throttled(device, field=field)
        ok = bool(token) and device.verify_token(token)
    if not ok:
        raise VerificationFailed(WRONG_CODE, field=field)


@transaction.atomic
def reset_authenticators(*, users: Iterable, actor, source: str) -> int:
    """A super admin removes other users' authenticators; each then sets up a new one."""
    sources.validate_source(source)
    users = list(users)
    # The Super admin role holds this permission (so do superusers): a role, not the flag.
    if not (actor.is_active and actor.has_perm(RESET_PERMISSION)):
        raise BackupError("Only a super admin can reset an authenticator.")
    if any(user.pk == actor.pk for user in users):
        # Otherwise a stolen password alone would be enough to set up a new second factor.
        raise BackupError(
            "You cannot reset your own authenticator: replace it with a current code from it, "
            "or ask another super admin."
        )
    reset = 0
    for user in users:
        _lock_user(user)
        devices = list(TOTPDevice.objects.filter(user=user).values_list("pk", "confirmed"))
        if not devices:
            continue
        TOTPDevice.objects.filter(pk__in=[pk for pk, _ in devices]).delete()
        record_audit(
            verb="authenticator_reset",
            source=source,
            actor=actor,
            target_repr=user.get_username(),
            detail={
                "user": user.pk,
                "devices": [pk for pk, _ in devices],
                "had_confirmed": any(confirmed for _, confirmed in devices),
            },
        )
        reset += 1
    return reset


def qr_svg(device: TOTPDevice) -> str:
    """The otpauth URL as an inline SVG QR code, for the admin's set-up page."""
    return segno.make(device.config_url, error="m").svg_inline(scale=4)


def _refuse_if_throttled(device: TOTPDevice, *, field: str) -> None:
    """django-otp's throttle: after n wrong codes in a row, none is checked for factor·2^(n-1) s."""
    allowed, info = device.verify_is_allowed()
    if allowed:
        return
    locked_until = (info or {}).get("locked_until")
    if locked_until is None:
        raise VerificationFailed("The authenticator cannot check a code now.", field=field)
    raise VerificationThrottled(
        failures=(info or {}).get("failure_count", device.throttling_failure_count),
        locked_until=locked_until,
        now=timezone.now(),
        field=field,
    )


def _lock_user(user) -> None:
    # One writer per user's authenticators at a time, so two requests never both confirm one.
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()


def _clean(code: str | None) -> str:
    return "".join((code or "").split())
