from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "CRM"

    def ready(self) -> None:
        from crm import selectors as crm_selectors
        from crm.sync_properties import queue, selectors
        from crm.usage import register_usage_provider

        queue.subscribe()
        register_usage_provider(selectors.sync_property_usages)
        register_usage_provider(crm_selectors.saved_view_usages)
