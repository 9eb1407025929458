"""API token authentication that reads the user's model permissions with the token.

Every API operation checks model permissions (accounts.permissions), and Django's ModelBackend
reads them with two queries of its own (the user's, then their groups'). On PostgreSQL the
token's query brings them along, so an authenticated request costs one query before the view
instead of three (the records list over HTTP, ISSUE 18). The permissions are what ModelBackend
would have loaded for an active user, stored where it keeps them for the request; elsewhere
ModelBackend reads them on first use as usual.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import connection
from django.db.models import TextField
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

# "app_label.codename" of the token's user's permissions, direct or through a group: the two
# sets ModelBackend reads, as two index lookups (an ORM filter on either path planned a join
# of every permission with both and took longer than the two queries it replaces).
_PERMISSION_NAMES = """ARRAY(
    SELECT ct.app_label || '.' || p.codename
    FROM auth_permission AS p JOIN django_content_type AS ct ON ct.id = p.content_type_id
    WHERE p.id IN (
        SELECT up.permission_id FROM auth_user_user_permissions AS up
        WHERE up.user_id = authtoken_token.user_id
        UNION
        SELECT gp.permission_id FROM auth_group_permissions AS gp
        JOIN auth_user_groups AS ug ON ug.group_id = gp.group_id
        WHERE ug.user_id = authtoken_token.user_id
    )
)"""


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication (same header, same refusals), permissions included."""

    def authenticate_credentials(self, key):
        model = self.get_model()
        tokens = model.objects.select_related("user")
        if connection.vendor == "postgresql":
            names = RawSQL(_PERMISSION_NAMES, [], output_field=ArrayField(TextField()))
            tokens = tokens.annotate(permission_names=names)
        try:
            token = tokens.get(key=key)
        except model.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if hasattr(token, "permission_names") and not token.user.is_superuser:
            # ModelBackend.get_all_permissions' own per-request cache, in its own form. (A
            # superuser holds every permission without asking, and ModelBackend lists them all.)
            token.user._perm_cache = set(token.permission_names)
        return (token.user, token)
