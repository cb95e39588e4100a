"""Readiness of what the portal depends on, and the queue depths that metrics report.

What: :func:`readiness` checks the database (``SELECT 1``), Redis (``PING``) and the issuance
queues (their length) in worker threads under one deadline (``READINESS_TIMEOUT_SECONDS``);
:func:`queue_depths` reads the queues' lengths the same way. Redis is asked through the app's
own client (``portal.jobs.redis_connection``).

Why threads and a deadline: a hanging dependency must give a 503 in time instead of a hanging
probe; a check still running from an earlier probe is not started again (it is reported as a
timeout), so probes do not pile up behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from threading import Lock

from flask import Flask, current_app
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import text

from portal import jobs
from portal.extensions import db
from portal.jobs.queues import queue_name

__all__ = ["NOT_CONFIGURED", "Readiness", "queue_depths", "readiness"]

#: A dependency the configuration does not use (no ``REDIS_URL``): not a failure.
NOT_CONFIGURED = "not configured"


@dataclass(frozen=True)
class Readiness:
    """Each dependency's result: ``ok``, ``not configured``, ``timeout`` or ``error: <type>``."""

    checks: dict[str, str]

    @property
    def failing(self) -> list[str]:
        return [name for name, result in self.checks.items() if result not in ("ok", NOT_CONFIGURED)]


def readiness() -> Readiness:
    """Check the database, Redis and the queues within ``READINESS_TIMEOUT_SECONDS``."""
    engine = db.engine
    client = jobs.redis_connection()

    def database() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    checks: dict[str, Callable[[], object] | None] = {"database": database, "redis": None, "queue": None}
    if client is not None:
        names = [queue_name(q) for q in jobs.ALL_QUEUES]
        checks["redis"] = client.ping
        checks["queue"] = lambda: [jobs.queue_length(name, client) for name in names]
    return Readiness(_probes(current_app).run(checks))


def queue_depths() -> dict[str, int | None] | None:
    """Jobs waiting per queue (``None`` for a queue whose Redis did not answer in time); ``None``
    without Redis."""
    client = jobs.redis_connection()
    if client is None:
        return None
    names = {base: queue_name(base) for base in jobs.ALL_QUEUES}
    return _probes(current_app).depths(
        lambda: {base: jobs.queue_length(name, client) for base, name in names.items()}, names
    )


class _Probes:
    """Dependency checks with a deadline, one in flight per dependency (one per process)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tra-probe")
        self._lock = Lock()
        self._in_flight: dict[str, Future] = {}

    def _submit(self, name: str, check: Callable[[], object]) -> Future | None:
        with self._lock:
            previous = self._in_flight.get(name)
            if previous is not None and not previous.done():
                return None
            future = self._in_flight[name] = self._pool.submit(check)
            return future

    def run(self, checks: dict[str, Callable[[], object] | None]) -> dict[str, str]:
        submitted = {name: self._submit(name, check) for name, check in checks.items() if check is not None}
        wait([f for f in submitted.values() if f is not None], timeout=self.timeout)
        results = {}
        for name, check in checks.items():
            future = submitted.get(name)
            if check is None:
                results[name] = NOT_CONFIGURED
            elif future is None or not future.done():
                results[name] = "timeout"
            elif isinstance(future.exception(), TimeoutError | RedisTimeoutError):
                results[name] = "timeout"
            elif future.exception() is not None:
                results[name] = f"error: {type(future.exception()).__name__}"
            else:
                results[name] = "ok"
        return results

    def depths(self, read: Callable[[], dict[str, int]], names: dict[str, str]) -> dict[str, int | None]:
        future = self._submit("metrics-queue", read)
        if future is not None:
            wait([future], timeout=self.timeout)
        if future is None or not future.done() or future.exception() is not None:
            return dict.fromkeys(names)
        return future.result()


def _probes(app: Flask) -> _Probes:
    probes = app.extensions.get("tra.probes")
    if probes is None:
        probes = app.extensions.setdefault(
            "tra.probes", _Probes(float(app.config["READINESS_TIMEOUT_SECONDS"]))
        )
    return probes
