"""Liveness, readiness and metrics for load balancers, operators and Prometheus.

``/healthz`` answers from the process alone; ``/readyz`` and the queue depths of ``/metrics`` come
from ``portal.services.health`` (each dependency checked under one deadline).
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, jsonify, request

from portal import metrics
from portal.auth.access import public
from portal.services import health

bp = public(Blueprint("health", __name__))


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    ready = health.readiness()
    if ready.failing:
        return jsonify(status="unavailable", failing=ready.failing, checks=ready.checks), 503
    return jsonify(status="ok", checks=ready.checks)


@bp.get("/metrics")
def metrics_endpoint():
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        supplied = request.headers.get("Authorization", "")
        if not hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode()):
            response = Response("unauthorised\n", status=401, mimetype="text/plain")
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return Response(metrics.render_latest(health.queue_depths()), mimetype=metrics.CONTENT_TYPE)
