"""Second factor for restores: TOTP authenticators (django-otp) and the SSO exemption."""

from __future__ import annotations

import segno
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from backups.errors import BackupError

DEVICE_NAME = "Concord authenticator"


def signed_in_via_sso(request) -> bool:
    """Did this session sign in through a backend listed in CONCORD_SSO_BACKENDS?"""
    session = getattr(request, "session", None)
    backend = session.get(BACKEND_SESSION_KEY) if session is not None else None
    return bool(backend) and backend in settings.CONCORD_SSO_BACKENDS


def has_authenticator(*, user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


@transaction.atomic
def start_totp_setup(*, user) -> TOTPDevice:
    """A new, unconfirmed authenticator for the user (replacing an earlier unconfirmed one)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def pending_totp_device(*, user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()


def confirm_totp_setup(*, user, code: str) -> TOTPDevice:
    """Confirm the pending authenticator with a first code from the app."""
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=False)
            .order_by("-pk")
            .first()
        )
        if device is None:
            raise BackupError("Start the authenticator set-up first.", field="code")
        ok = device.verify_token(_clean(code))
        if ok:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
    if not ok:
        raise BackupError(
            "That code is not the current one; check the app and the clock.", field="code"
        )
    return device


def verify_code(*, user, code: str) -> bool:
    """Is the code current for one of the user's confirmed authenticators? (Throttled.)"""
    token = _clean(code)
    if not token:
        return False
    # Committed even when the code is wrong: the failure counter is what throttles guessing.
    with transaction.atomic():
        devices = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True)
        return any(device.verify_token(token) for device in devices)


def qr_svg(device: TOTPDevice) -> str:
    """The otpauth URL as an inline SVG QR code, for the admin's set-up page."""
    return segno.make(device.config_url, error="m").svg_inline(scale=4)


def _clean(code: str | None) -> str:
    return "".join((code or "").split())
