"""Staff screens of the CRM, one module per area; importing them registers them."""

from crm.admin import associations, audit, records, schema

__all__ = ["associations", "audit", "records", "schema"]
