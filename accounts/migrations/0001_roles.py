"""The three roles as groups (SPEC X-1): super admin, admin and user; the README says what each
may do. The lists are frozen here: a later change of a role is a new migration."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SUPER_ADMIN, ADMIN, USER = "Super admin", "Admin", "User"

# Everything Concord has, plus users, groups, API tokens, authenticators and schedules.
SUPER_ADMIN_APPS = [
    "crm",
    "syncengine",
    "backups",
    "notifications",
    "auth",
    "authtoken",
    "otp_totp",
    "django_celery_beat",
]

# Records and associations, reading the schema, one's own notifications and their settings.
USER_PERMISSIONS = [
    "crm.view_objecttype",
    "crm.view_property",
    "crm.view_propertyoption",
    "crm.view_associationdefinition",
    "crm.view_record",
    "crm.add_record",
    "crm.change_record",
    "crm.delete_record",
    "crm.view_association",
    "crm.add_association",
    "crm.delete_association",
    "notifications.view_notification",
    "notifications.change_notification",
    "notifications.view_notificationsetting",
    "notifications.change_notificationsetting",
    "notifications.view_integrationnotificationsetting",
    "notifications.add_integrationnotificationsetting",
    "notifications.change_integrationnotificationsetting",
    "notifications.delete_integrationnotificationsetting",
]

# The CRM (schema, records, audit log) and the sync engine, and the schedules; not sensitive
# values, backups, restores, users or tokens, which stay with super admins.
ADMIN_APPS = ["crm", "syncengine"]
ADMIN_EXCLUDED = ["crm.view_sensitive_values"]
ADMIN_SCHEDULES = ["view", "change"]  # django_celery_beat: pause or move schedules, not remove


def _ensure_permissions(apps, using: str) -> None:
    # Permissions are created after all migrations run (post_migrate); a fresh database has none
    # yet, so create them now for the historical models, custom Meta.permissions included.
    # (Historical app configs have no models module, which create_permissions looks for.)
    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        try:
            create_permissions(app_config, apps=apps, verbosity=0, using=using)
        finally:
            app_config.models_module = models_module


def _named(permission_model, using: str, names: list[str]):
    pairs = [name.split(".", 1) for name in names]
    found = list(
        permission_model.objects.using(using)
        .filter(content_type__app_label__in={app for app, _ in pairs})
        .select_related("content_type")
    )
    wanted = {tuple(p) for p in pairs}
    chosen = [p for p in found if (p.content_type.app_label, p.codename) in wanted]
    missing = wanted - {(p.content_type.app_label, p.codename) for p in chosen}
    if missing:
        raise RuntimeError(f"permissions missing for the roles: {sorted(missing)}")
    return chosen


def create_roles(apps, schema_editor) -> None:
    """Create (or complete) the three groups with their permissions."""
    using = schema_editor.connection.alias
    _ensure_permissions(apps, using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.using(using).select_related("content_type")

    super_admin = list(perms.filter(content_type__app_label__in=SUPER_ADMIN_APPS))
    user = _named(Permission, using, USER_PERMISSIONS)
    excluded = {tuple(name.split(".", 1)) for name in ADMIN_EXCLUDED}
    admin = [
        p
        for p in perms.filter(content_type__app_label__in=ADMIN_APPS)
        if (p.content_type.app_label, p.codename) not in excluded
    ]
    admin += [
        p
        for p in perms.filter(content_type__app_label="django_celery_beat")
        if p.codename.split("_", 1)[0] in ADMIN_SCHEDULES
    ]
    admin += [p for p in user if p.content_type.app_label not in ADMIN_APPS]

    for name, chosen in ((SUPER_ADMIN, super_admin), (ADMIN, admin), (USER, user)):
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.set(chosen)


def delete_roles(apps, schema_editor) -> None:
    """Remove the three groups (their members keep any permissions given to them directly)."""
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(
        name__in=[SUPER_ADMIN, ADMIN, USER]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("authtoken", "0004_alter_tokenproxy_options"),
        ("otp_totp", "0003_add_timestamps"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("crm", "0006_sync_property_sweep"),
        ("syncengine", "0006_permissions"),
        ("backups", "0004_permissions"),
        ("notifications", "0003_periodic_tasks"),
    ]

    operations = [migrations.RunPython(create_roles, delete_roles)]
