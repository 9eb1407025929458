"""Writes to the CRM. Admin, API, commands and tasks all go through these functions."""
