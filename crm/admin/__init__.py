"""Staff screens of the CRM, one module per area; importing them registers them."""

from crm.admin import associations, audit, records, saved_views, schema

__all__ = ["associations", "audit", "records", "saved_views", "schema"]
