"""Liveness, readiness and metrics for load balancers, operators and Prometheus.

``/healthz`` answers from the process alone. ``/readyz`` checks the database (``SELECT 1``), Redis
(``PING``) and the issuance queues (their length) in worker threads under one deadline
(``READINESS_TIMEOUT_SECONDS``), so a hanging dependency gives a 503 in time instead of a hanging
probe; a check still running from an earlier probe is not started again (reported as a timeout).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from threading import Lock

import redis
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from rq import Queue
from sqlalchemy import Engine, text

from portal import metrics
from portal.auth.access import public
from portal.extensions import db
from portal.jobs.queues import ALL_QUEUES, queue_name

bp = public(Blueprint("health", __name__))

NOT_CONFIGURED = "not configured"


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks = _probes(current_app._get_current_object()).run(
        db.engine, current_app.config.get("REDIS_URL"), [queue_name(q) for q in ALL_QUEUES]
    )
    failing = [name for name, result in checks.items() if result not in ("ok", NOT_CONFIGURED)]
    if failing:
        return jsonify(status="unavailable", failing=failing, checks=checks), 503
    return jsonify(status="ok", checks=checks)


@bp.get("/metrics")
def metrics_endpoint():
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        supplied = request.headers.get("Authorization", "")
        if not hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode()):
            response = Response("unauthorised\n", status=401, mimetype="text/plain")
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    depths = None
    if current_app.config.get("REDIS_URL"):
        depths = _probes(current_app._get_current_object()).queue_depths(
            current_app.config["REDIS_URL"], {q: queue_name(q) for q in ALL_QUEUES}
        )
    return Response(metrics.render_latest(depths), mimetype=metrics.CONTENT_TYPE)


class _Probes:
    """Dependency checks with a deadline, one in flight per dependency."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tra-probe")
        self._lock = Lock()
        self._in_flight: dict[str, Future] = {}
        self._redis: dict[str, redis.Redis] = {}

    def _client(self, url: str) -> redis.Redis:
        with self._lock:
            if url not in self._redis:
                self._redis[url] = redis.Redis.from_url(
                    url, socket_connect_timeout=self.timeout, socket_timeout=self.timeout
                )
            return self._redis[url]

    def _submit(self, name: str, check: Callable[[], object]) -> Future | None:
        with self._lock:
            previous = self._in_flight.get(name)
            if previous is not None and not previous.done():
                return None
            future = self._in_flight[name] = self._pool.submit(check)
            return future

    def run(self, engine: Engine, redis_url: str | None, queues: list[str]) -> dict[str, str]:
        def database() -> None:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        submitted: dict[str, Future | None] = {"database": self._submit("database", database)}
        results = {"redis": NOT_CONFIGURED, "queue": NOT_CONFIGURED}
        if redis_url:
            client = self._client(redis_url)
            submitted["redis"] = self._submit("redis", client.ping)
            submitted["queue"] = self._submit(
                "queue", lambda: [Queue(name, connection=client).count for name in queues]
            )
        wait([f for f in submitted.values() if f is not None], timeout=self.timeout)
        for name, future in submitted.items():
            if future is None or not future.done():
                results[name] = "timeout"
            elif isinstance(future.exception(), (TimeoutError, redis.exceptions.TimeoutError)):
                results[name] = "timeout"
            elif future.exception() is not None:
                results[name] = f"error: {type(future.exception()).__name__}"
            else:
                results[name] = "ok"
        return {"database": results.pop("database"), **results}

    def queue_depths(self, redis_url: str, queues: dict[str, str]) -> dict[str, int | None]:
        client = self._client(redis_url)
        future = self._submit(
            "metrics-queue",
            lambda: {base: Queue(name, connection=client).count for base, name in queues.items()},
        )
        if future is not None:
            wait([future], timeout=self.timeout)
        if future is None or not future.done() or future.exception() is not None:
            return dict.fromkeys(queues)
        return future.result()


def _probes(app: Flask) -> _Probes:
    probes = app.extensions.get("tra.probes")
    if probes is None:
        probes = app.extensions.setdefault(
            "tra.probes", _Probes(float(app.config["READINESS_TIMEOUT_SECONDS"]))
        )
    return probes
