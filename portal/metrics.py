"""Prometheus metrics.

Metrics are process-wide (prometheus_client's registry), created on first use, never at import.
With ``PROMETHEUS_MULTIPROC_DIR`` set (``scripts/serve.sh`` sets and empties it), every gunicorn
worker and RQ worker writes its samples to files there and ``/metrics`` adds them up; gunicorn's
``child_exit`` hook marks dead workers (``gunicorn.conf.py``). Without it, the plain registry.

Labels are bounded: the route pattern (never the raw path), the HTTP method, the status code, the
issuing stage, the verification channel and result. No personal data ever becomes a label.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

__all__ = [
    "CONTENT_TYPE",
    "count_verification",
    "observe_issuance_stage",
    "observe_request",
    "render_latest",
]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Stage names come from the jobs code, not from outside: any short lowercase name is a label.
_STAGE_RE = re.compile(r"[a-z_]{1,32}")
_CHANNELS = frozenset({"code", "file", "api_code", "api_file"})
#: Statuses of a record and verdicts on a file: anything else is counted as "other".
_RESULTS = frozenset(
    {
        "valid",
        "revoked",
        "expired",
        "superseded",
        "unknown",
        "genuine",
        "altered",
        "unknown_document",
        "untrusted_signature",
        "not_signed",
        "not_a_pdf",
    }
)


@dataclass(frozen=True)
class _Metrics:
    requests: Histogram
    issuance: Histogram
    verifications: Counter


_lock = threading.Lock()
_metrics: _Metrics | None = None


def _get() -> _Metrics:
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                _metrics = _Metrics(
                    requests=Histogram(
                        "tra_http_request_duration_seconds",
                        "Time to answer a web request, by route pattern, method and status.",
                        ["route", "method", "status"],
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                    ),
                    issuance=Histogram(
                        "tra_issuance_stage_duration_seconds",
                        "Time spent in one issuing stage (fetch, render, sign, store, total).",
                        ["stage"],
                        buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
                    ),
                    verifications=Counter(
                        "tra_verifications",
                        "Verifications answered, by channel (code, file, api_code, api_file) and result.",
                        ["channel", "result"],
                    ),
                )
    return _metrics


#: The request histogram's child per (route, method, status): ``labels()`` checks and joins
#: the label values and takes the family's lock on every call; the set of children is bounded
#: (route patterns × methods × statuses), so each is looked up once per process.
_request_children: dict[tuple[str, str, int], Any] = {}


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """One web request answered (called by the request hook in ``portal.logs``)."""
    method = method if method in _METHODS else "OTHER"
    key = (route, method, status)
    child = _request_children.get(key)
    if child is None:
        child = _get().requests.labels(route=route, method=method, status=str(status))
        _request_children[key] = child
    child.observe(seconds)


def observe_issuance_stage(stage: str, seconds: float) -> None:
    """Time spent in one issuing stage: fetch, render, sign, store (and total)."""
    _get().issuance.labels(stage=stage if _STAGE_RE.fullmatch(stage) else "other").observe(seconds)


def count_verification(channel: str, result: str) -> None:
    """One verification answered: channel code|file|api_code|api_file, result the status or verdict."""
    _get().verifications.labels(
        channel=channel if channel in _CHANNELS else "other",
        result=result if result in _RESULTS else "other",
    ).inc()


class _QueueDepthCollector:
    """Reads the length of each issuance queue from Redis at scrape time."""

    def __init__(self, depths: dict[str, int | None]) -> None:
        self._depths = depths

    def collect(self):
        depth = GaugeMetricFamily("tra_queue_depth", "Jobs waiting in each RQ queue.", labels=["queue"])
        up = GaugeMetricFamily(
            "tra_queue_up", "1 when the queue's Redis answered this scrape.", labels=["queue"]
        )
        for name, value in self._depths.items():
            up.add_metric([name], 0 if value is None else 1)
            if value is not None:
                depth.add_metric([name], value)
        yield depth
        yield up


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def render_latest(queue_depths: dict[str, int | None] | None = None) -> bytes:
    """The text exposition for one scrape: this process's (or all processes') samples plus the
    queue depths read just now (``None`` for a queue whose Redis did not answer)."""
    _get()  # the families appear (empty) before the first observation
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry.register(_Forward(REGISTRY))
    if queue_depths is not None:
        registry.register(_QueueDepthCollector(queue_depths))
    return generate_latest(registry)


class _Forward:
    """Exposes another registry's metrics through this scrape's registry."""

    def __init__(self, source: Any) -> None:
        self._source = source

    def collect(self):
        return self._source.collect()


def mark_process_dead(pid: int) -> None:
    """gunicorn's ``child_exit``: forget the live gauges of a dead worker (multiprocess mode)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)
