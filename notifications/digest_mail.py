"""Sync-error digest emails: what every recipient of a window shares is rendered once.

An integration's part of a digest (its counts, cards and top errors) is the same for everyone
who receives that integration's digest of one window; only its times depend on the reader's
time zone. `DigestMailer` renders that part once per integration, window and time zone and
reuses it for every recipient; per user it renders only the header (the window in their zone,
their totals) and the footer (their unsubscribe link).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings as django_settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import get_template
from django.utils import timezone

from notifications import selectors
from notifications.models import Frequency, NotificationSetting

TEXT = "notifications/email/sync_errors.txt"
HTML = "notifications/email/sync_errors.html"
TEXT_PART = "notifications/email/_integration.txt"
HTML_PART = "notifications/email/_integration.html"

FragmentKey = tuple[int, dt.datetime, dt.datetime, str]  # integration, window, time zone


class DigestMailer:
    """Builds the digest emails of one fan-out batch (one instance per batch)."""

    def __init__(self) -> None:
        # The loader caches compiled templates; looking them up once spares the lookups.
        self.text, self.html = get_template(TEXT), get_template(HTML)
        self.text_part, self.html_part = get_template(TEXT_PART), get_template(HTML_PART)
        self.base_url = selectors.absolute("")
        self.settings_url = selectors.absolute("/admin/notifications/notificationsetting/")
        self._parts: dict[FragmentKey, tuple[str, str]] = {}

    def message(
        self, *, user, setting: NotificationSetting, digest: selectors.Digest, token: str
    ) -> EmailMultiAlternatives:
        """The user's digest email; `token` is their unsubscribe token."""
        unsubscribe_url = selectors.absolute(f"/notifications/unsubscribe/{token}/")
        with timezone.override(setting.time_zone):
            parts = [self._part(item, digest, setting.time_zone) for item in digest.integrations]
            context = {
                "digest": digest,
                "time_zone": setting.time_zone,
                "unsubscribe_url": unsubscribe_url,
                "settings_url": self.settings_url,
            }
            text = self.text.render({**context, "fragments": [t for t, _ in parts]})
            html = self.html.render({**context, "fragments": [h for _, h in parts]})
        label = dict(Frequency.choices)[digest.frequency]
        message = EmailMultiAlternatives(
            subject=(
                f"Sync errors: {digest.new} new, {digest.resolved} resolved "
                f"({label.lower()} digest)"
            ),
            body=text,
            from_email=django_settings.DEFAULT_FROM_EMAIL,
            to=[user.email],
            headers={
                "List-Unsubscribe": f"<{unsubscribe_url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        message.attach_alternative(html, "text/html")
        return message

    def _part(
        self, item: selectors.IntegrationDigest, digest: selectors.Digest, time_zone: str
    ) -> tuple[str, str]:
        """The integration's text and HTML part (rendered in the current, the user's, zone)."""
        key = (item.integration.pk, digest.window_start, digest.window_end, time_zone)
        if key not in self._parts:
            context = {"item": item, "base_url": self.base_url}
            self._parts[key] = (self.text_part.render(context), self.html_part.render(context))
        return self._parts[key]
