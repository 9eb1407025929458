from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from notifications import listeners
        from syncengine import hooks

        # syncengine tells of its events through its hooks; it imports nothing of ours.
        hooks.on_integration_needs_reconnect(listeners.on_integration_needs_reconnect)
        hooks.on_mass_delete_held(listeners.on_mass_delete_held)
        hooks.on_sync_health_viewed(listeners.on_sync_health_viewed)
