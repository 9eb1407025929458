"""The test suite's settings: config.settings, with test-only secrets.

They are put in the environment before config.settings reads it, so the processes tests start
(the Celery worker, the sandboxes, servers) inherit the same keys. Random per run: nothing a
test stores is readable afterwards, and no key is committed.
"""

import os
import secrets

from cryptography.fernet import Fernet

os.environ.setdefault("DJANGO_SECRET_KEY", f"tests-{secrets.token_urlsafe(50)}")
os.environ.setdefault("CONCORD_ENCRYPTION_KEYS", Fernet.generate_key().decode())

from config.settings import *  # noqa: F403

# One cache per test process, emptied before each test (tests/conftest.py): throttle counts never
# carry over from one test, or one run, to the next. Never Redis here: clearing it would flush
# the Celery broker's queues that share its database.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
