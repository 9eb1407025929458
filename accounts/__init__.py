"""Roles (super admin, admin, user) and the permission rules every API operation and admin view
names (SPEC X-1, X-4; DESIGN §10)."""
