"""Real `celery worker` processes on Redis, connected to the test's PostgreSQL database.

A pytest plugin (tests/conftest.py registers it): `celery_worker_process` is a worker running
for the whole test; `restartable_worker` one the test starts, SIGKILLs and starts again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """A real `celery worker` on its own queue that a test can SIGKILL and start again."""

    def __init__(self, queue: str, env: dict[str, str]) -> None:
        self.queue, self.env = queue, env
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start the worker (solo pool, one process) on the queue."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
             "--concurrency=1", "-Q", self.queue, "--without-heartbeat", "--without-gossip",
             "--without-mingle", "-l", "warning"],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: a kill reaches its children too
        )  # fmt: skip

    def kill(self) -> None:
        """SIGKILL the worker and its children: no shutdown code runs, nothing is acked."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=20)

    def stop(self) -> None:
        """Stop the worker (SIGTERM, then SIGKILL after 20 s), if it runs."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)


@contextmanager
def _worker(settings, *, lease_seconds: int | None = None) -> Iterator[WorkerProcess]:
    """A worker (not started) on this test's database and a private queue; tasks the test
    sends go to that queue, and no longer once the test ends. With a lease, the worker sends
    its own tasks to that queue too, and a killed worker's cycle is soon reclaimable."""
    from config.celery import app

    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{connection.settings_dict['NAME']}"
    queue = f"test-{os.getpid()}-{time.monotonic_ns()}"
    env = {**os.environ, "DATABASE_URL": url, "CONCORD_EAGER_TASKS": "0"}
    if lease_seconds is not None:
        env["CONCORD_CELERY_QUEUE"] = queue
        env["CONCORD_SYNC_LEASE_SECONDS"] = str(lease_seconds)
        settings.CONCORD_SYNC_LEASE_SECONDS = lease_seconds
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    saved = app.conf.task_default_queue, app.conf.task_always_eager
    app.conf.task_default_queue, app.conf.task_always_eager = queue, False
    worker = WorkerProcess(queue, env)
    try:
        yield worker
    finally:
        # Later tests must not send their tasks to this worker's queue once it is gone.
        worker.stop()
        app.conf.task_default_queue, app.conf.task_always_eager = saved


@pytest.fixture
def celery_worker_process(transactional_db, settings) -> Iterator[str]:
    """A real `celery worker` process on Redis, connected to this test's PostgreSQL database;
    yields its queue."""
    with _worker(settings) as worker:
        worker.start()
        yield worker.queue


@pytest.fixture
def restartable_worker(transactional_db, settings) -> Iterator[WorkerProcess]:
    """A worker (not started) on this test's PostgreSQL database, a private queue (the tasks it
    sends itself too) and a short sync lease, so a killed worker's cycle is soon reclaimable."""
    with _worker(settings, lease_seconds=4) as worker:
        yield worker
