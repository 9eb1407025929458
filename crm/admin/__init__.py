"""Staff screens of the CRM, one module per area; importing them registers them."""

from crm.admin import associations, audit, owners, records, saved_views, schema

__all__ = ["associations", "audit", "owners", "records", "saved_views", "schema"]
