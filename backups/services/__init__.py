"""Backup and restore services: every write of the backups app goes through these."""
