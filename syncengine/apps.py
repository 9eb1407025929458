from django.apps import AppConfig


class SyncEngineConfig(AppConfig):
    name = "syncengine"
    verbose_name = "Sync engine"

    def ready(self) -> None:
        from crm import hooks, record_filters, record_panels, usage
        from syncengine.admin.record_card import record_sync_panel
        from syncengine.health.record_filter import SYNC_ERROR_FILTER
        from syncengine.selectors import field_mapping_usages
        from syncengine.services import changes, errors

        # Dirty marks are written inside the CRM's own transaction (DESIGN principle 1).
        hooks.on_records_changed(changes.on_records_changed)
        hooks.on_associations_changed(changes.on_associations_changed)
        # Purged records' errors leave the health cards' counts before the cascade deletes them.
        hooks.on_records_changed(errors.on_records_changed)
        usage.register_usage_provider(field_mapping_usages)
        # "Create view" on the health page: the record list filtered to an error's records.
        record_filters.register_record_filter(SYNC_ERROR_FILTER)
        # The sync card on each record's admin page.
        record_panels.register_record_panel(record_sync_panel)
