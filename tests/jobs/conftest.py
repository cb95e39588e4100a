"""Fixtures for issuance as an RQ job: real Redis, real worker processes, a registry that can be
stopped, slowed and started again on the same port, and a portal served over HTTP.

Isolation from other test runs on the same Redis: every session has its own queue-name prefix
(job ids carry it too); nothing here flushes Redis. The database is this package's own, built
by the migrations and dropped at the end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from portal import create_app
from tests.conftest import _create_database, _migrate
from tests.loopback import LoopbackServer, free_port

ROOT_DIR = Path(__file__).resolve().parents[2]

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_reachable() -> bool:
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        return bool(Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except RedisError:
        return False


class Registry:
    """The sample DLT registry on a fixed loopback port, with a switch and a brake."""

    def __init__(self) -> None:
        from issuers.dlt.sample_registry import create_registry_app

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.delay = 0.0
        self.calls = 0
        inner = create_registry_app()

        def app(environ, start_response):
            self.calls += 1
            if self.delay:
                time.sleep(self.delay)
            return inner(environ, start_response)

        self._app = app
        self._server = None
        self.start()

    def start(self) -> None:
        if self._server is None:
            self._server = LoopbackServer(self._app, self.port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None


@dataclass
class JobsEnv:
    """What worker processes and the in-process app share."""

    database_url: str
    prefix: str
    base_url: str
    registry: Registry
    tmp: Path
    settings: dict = field(default_factory=dict)

    def environ(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "RQ_", "ISSUANCE_"))}
        env.update(
            PORTAL_ENV="testing",
            PYTHONPATH=str(ROOT_DIR),
            DATABASE_URL=self.database_url,
            REDIS_URL=REDIS_URL,
            RQ_QUEUE_PREFIX=self.prefix,
            PORTAL_BLOB_DIR=str(self.tmp / "blobs"),
            PORTAL_DEV_PKI_DIR=self.settings["DEV_PKI_DIR"],
            DLT_REGISTRY_URL=self.registry.url,
            PORTAL_BASE_URL=self.base_url,
            **{k: str(v) for k, v in self.settings["env"].items()},
        )
        env.update(extra)
        return env


#: Small intervals so that the fault tests take seconds. Three retries, one second apart.
FAST = {
    "ISSUANCE_RETRY_INTERVALS": "1,1,1",
    "ISSUANCE_JOB_TIMEOUT": "60",
    "RQ_WORKER_TTL": "5",
    "RQ_JOB_MONITORING_INTERVAL": "1",
    "RQ_HEARTBEAT_GRACE": "2",
    "RQ_MAINTENANCE_INTERVAL": "1",
    "REQUEUE_AFTER_SECONDS": "3600",
    "REGISTRY_TIMEOUT_SECONDS": "10",
}


def _config_values(env: dict[str, str]) -> dict:
    return {
        "ISSUANCE_RETRY_INTERVALS": tuple(int(s) for s in env["ISSUANCE_RETRY_INTERVALS"].split(",")),
        "ISSUANCE_JOB_TIMEOUT": int(env["ISSUANCE_JOB_TIMEOUT"]),
        "RQ_WORKER_TTL": int(env["RQ_WORKER_TTL"]),
        "RQ_JOB_MONITORING_INTERVAL": int(env["RQ_JOB_MONITORING_INTERVAL"]),
        "RQ_HEARTBEAT_GRACE": int(env["RQ_HEARTBEAT_GRACE"]),
        "RQ_MAINTENANCE_INTERVAL": int(env["RQ_MAINTENANCE_INTERVAL"]),
        "REQUEUE_AFTER_SECONDS": int(env["REQUEUE_AFTER_SECONDS"]),
        "REGISTRY_TIMEOUT_SECONDS": float(env["REGISTRY_TIMEOUT_SECONDS"]),
    }


@pytest.fixture(scope="session")
def jobs_env(tmp_path_factory, pki_dir) -> Iterator[JobsEnv]:
    if not _redis_reachable():
        if os.environ.get("CI"):
            pytest.fail("Redis must be reachable on CI (scripts/ensure-services.sh starts it)")
        pytest.skip("Redis is not reachable at " + REDIS_URL)
    tmp = tmp_path_factory.mktemp("jobs")
    database_url, drop = _create_database(tmp, "jobs")
    if database_url.startswith("sqlite"):
        pytest.skip("the job tests need PostgreSQL (worker processes share the database)")
    registry = Registry()
    port = free_port()
    env = JobsEnv(
        database_url=database_url,
        prefix=f"test-{uuid.uuid4().hex[:10]}-",
        base_url=f"http://127.0.0.1:{port}",
        registry=registry,
        tmp=tmp,
        settings={"DEV_PKI_DIR": str(pki_dir), "env": dict(FAST), "port": port},
    )
    yield env
    registry.stop()
    _forget_queues(env.prefix)
    drop()


def _forget_queues(prefix: str) -> None:
    """Delete this session's RQ keys (only ours: they all carry the session's prefix)."""
    from redis import Redis

    connection = Redis.from_url(REDIS_URL)
    for pattern in (f"rq:*{prefix}*",):
        keys = list(connection.scan_iter(match=pattern, count=500))
        if keys:
            connection.delete(*keys)


@pytest.fixture(scope="session")
def jobs_app(jobs_env):
    """The portal (with Redis) on the jobs database, served over HTTP for the browser-like tests."""
    app = create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": jobs_env.database_url,
            "REDIS_URL": REDIS_URL,
            "RQ_QUEUE_PREFIX": jobs_env.prefix,
            "BLOB_DIR": str(jobs_env.tmp / "blobs"),
            "DEV_PKI_DIR": jobs_env.settings["DEV_PKI_DIR"],
            "DLT_REGISTRY_URL": jobs_env.registry.url,
            "PUBLIC_BASE_URL": jobs_env.base_url,
            "SAMPLE_REGISTRIES_MOUNTED": False,
            **_config_values(jobs_env.settings["env"]),
        },
    )
    _migrate(app)
    server = LoopbackServer(app, jobs_env.settings["port"])
    yield app
    server.close()
    from portal.extensions import db

    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def registry(jobs_env) -> Iterator[Registry]:
    """The registry, up and fast at the start and at the end of each test."""
    jobs_env.registry.delay = 0
    jobs_env.registry.calls = 0
    jobs_env.registry.start()
    yield jobs_env.registry
    jobs_env.registry.delay = 0
    jobs_env.registry.start()


class Workers:
    """Worker processes (``python -m portal.jobs.worker``), each in its own session."""

    def __init__(self, env: JobsEnv) -> None:
        self.env = env
        self.procs: list[subprocess.Popen] = []

    def start(self, *, scheduler: bool = True, burst: bool = False, **env: str) -> subprocess.Popen:
        args = [sys.executable, "-m", "portal.jobs.worker"]
        if burst:
            args.append("--burst")
        if not scheduler:
            args.append("--no-with-scheduler")
        log = open(self.env.tmp / f"worker-{len(self.procs)}-{uuid.uuid4().hex[:6]}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            args,
            cwd=ROOT_DIR,
            env=self.env.environ(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc.log_path = log.name  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def wait_ready(self, proc: subprocess.Popen, timeout: float = 30) -> None:
        """Until the worker has registered itself on our queue (caches warmed)."""
        from redis import Redis
        from rq import Queue, Worker

        connection = Redis.from_url(REDIS_URL)
        queue = Queue(f"{self.env.prefix}tra-issuance", connection=connection)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"worker exited early:\n{Path(proc.log_path).read_text()[-3000:]}")
            if any(w.pid == proc.pid for w in Worker.all(queue=queue)):
                return
            time.sleep(0.1)
        raise AssertionError("worker did not start in time")

    def stop_all(self) -> None:
        """Warm shutdown (the scheduler gives up its lock for the next test's workers), then kill."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                kill_tree(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> list[int]:
    """Kill a process and all its descendants (the work horse runs in its own process group),
    as losing the machine would. Returns the pids signalled."""
    pids = []
    stack = [pid]
    while stack:
        current = stack.pop()
        pids.append(current)
        stack.extend(_children(current))
    for current in pids:
        try:
            os.kill(current, sig)
        except ProcessLookupError:
            pass
    return pids


@pytest.fixture
def workers(jobs_env, jobs_app) -> Iterator[Workers]:
    pool = Workers(jobs_env)
    yield pool
    pool.stop_all()


def wait_for(predicate: Callable[[], object], *, timeout: float = 30, interval: float = 0.1, what: str = ""):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
