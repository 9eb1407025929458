"""Settings come from the environment: run a fresh interpreter for each combination."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "from config.celery import app; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], "
    "'db': str(s.DATABASES['default']['NAME']), 'broker': app.conf.broker_url, "
    "'eager': app.conf.task_always_eager, 'cache': s.CACHES['default']['BACKEND'], "
    "'scheduler': app.conf.beat_scheduler, "
    "'broker_folders': app.conf.broker_transport_options}))"
)


def probe(tmp_path, **env) -> dict:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CONCORD_EAGER_TASKS")
    }
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings", CONCORD_VAR_DIR=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=clean,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_no_variables_means_sqlite_and_a_filesystem_broker_under_var(tmp_path):
    found = probe(tmp_path)
    assert found["engine"] == "django.db.backends.sqlite3"
    assert found["db"] == str(tmp_path / "concord.sqlite3")
    assert found["broker"].startswith("filesystem")
    assert (tmp_path / "celery-broker" / "queue").is_dir()
    # Every folder the filesystem transport writes is under var/ (kombu's default is ./control).
    folders = {k: v for k, v in found["broker_folders"].items() if "folder" in k}
    assert folders["control_folder"] == str(tmp_path / "celery-broker" / "control")
    assert all(v.startswith(str(tmp_path)) for v in folders.values())
    assert found["eager"] is False
    assert found["scheduler"] == "django_celery_beat.schedulers:DatabaseScheduler"


def test_database_and_redis_urls(tmp_path):
    found = probe(
        tmp_path,
        DATABASE_URL="postgresql://u@db.invalid:5432/crm",
        REDIS_URL="redis://cache.invalid:6379/1",
    )
    assert found["engine"] == "django.db.backends.postgresql" and found["db"] == "crm"
    assert found["broker"] == "redis://cache.invalid:6379/1"
    assert found["cache"] == "django.core.cache.backends.redis.RedisCache"


@pytest.mark.parametrize(("value", "eager"), [("1", True), ("0", False)])
def test_eager_tasks_switch(tmp_path, value, eager):
    assert probe(tmp_path, CONCORD_EAGER_TASKS=value)["eager"] is eager
