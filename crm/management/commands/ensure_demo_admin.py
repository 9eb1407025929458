"""Create the demo's super admin (admin / admin) if it does not exist."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the demo super admin login if missing."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="admin")

    def handle(self, *args, username: str, password: str, **options):
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Admin login {username!r} already exists.")
            return
        User.objects.create_superuser(
            username=username, email=f"{username}@example.com", password=password
        )
        self.stdout.write(f"Created admin login {username!r}.")
