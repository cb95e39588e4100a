"""Issuance as queued work: the task a worker runs for one request, queueing it, "issuing is
paused", and the workers' safety net over requests that never finished.

``portal.jobs`` knows queues and workers and imports no service; it reaches the task here by its
dotted name (``ISSUE_TASK``), and the workers' maintenance reaches ``requeue_stalled`` through
``WORKER_MAINTENANCE`` in the configuration. Each request has one job id and is enqueued with RQ's
``unique=True``, so a request has at most one live job; the database (a unique key on
``certificates.request_id``) makes a duplicated or re-run job harmless all the same.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask, current_app, has_app_context
from flask_babel import lazy_gettext as _l

from portal import jobs
from portal.errors import ServiceUnavailable
from portal.logs import bind_request_id, current_request_id
from portal.services.issuance_run import run_issuance
from portal.services.issuance_status import give_up, unfinished_requests

# The logger keeps the name it had in ``portal.jobs``, so log filters and captures see the same name.
log = logging.getLogger("portal.jobs")

__all__ = [
    "ISSUE_TASK",
    "IssuingPaused",
    "enqueue_issuance",
    "ensure_issuing_available",
    "issuance_job_id",
    "issue_request",
    "requeue_stalled",
    "warm_up",
]

#: The dotted name RQ stores for the issuance job (``issue_request`` below).
ISSUE_TASK = f"{__name__}.issue_request"

_fallback_app: Flask | None = None


class IssuingPaused(ServiceUnavailable):
    """Redis (the job queue) is unreachable: no new document can be asked for just now."""

    title = _l("Issuing documents is paused")
    type = "issuing-paused"

    def __init__(self) -> None:
        super().__init__(
            _l(
                "We cannot take new requests for documents at the moment. Nothing was requested. "
                "Please try again in a few minutes. Checking documents and downloading the ones "
                "you already have still works."
            )
        )


def issuance_job_id(request_id: str) -> str:
    """One job id per request: RQ's ``unique=True`` then refuses a second live job for it."""
    return jobs.job_id_for(f"issue-{request_id}")


def ensure_issuing_available() -> None:
    """Raise ``IssuingPaused`` (503) when jobs go through Redis and Redis does not answer."""
    if not jobs.queue_answers():
        log.warning("issuing paused: the job queue does not answer")
        raise IssuingPaused()


def enqueue_issuance(request_id: str, *, replace_finished: bool = False) -> bool:
    """Have the certificate for ``request_id`` issued; True when a job was queued (or it ran inline).

    Without Redis it runs now, in this process, with no retries. With Redis, a live job for the
    request is left alone; a finished or failed one is replaced only with ``replace_finished``
    ("Try again", the safety net). A Redis failure is logged, not raised: the request stays
    QUEUED and ``requeue_stalled`` picks it up once Redis is back.
    """
    config = current_app.config
    return jobs.enqueue(
        ISSUE_TASK,
        request_id,
        current_request_id(),
        queue_base=jobs.ISSUANCE_QUEUE,
        job_id=issuance_job_id(request_id),
        description=f"issue request {request_id}",
        timeout=config["ISSUANCE_JOB_TIMEOUT"],
        retry_intervals=config["ISSUANCE_RETRY_INTERVALS"],
        replace_finished=replace_finished,
    )


def issue_request(request_id: str, log_request_id: str | None = None) -> str:
    """The job: issue the certificate for one request; returns the request's status.

    While RQ has retries left, a transient failure (agency registry unreachable) leaves the
    request WAITING and raises, so that RQ schedules the next try; on the last try it fails
    the request with its reason instead.
    """
    if has_app_context():
        return _run(request_id, log_request_id)
    # Run by a plain ``rq worker`` rather than ours: build the app once per process.
    global _fallback_app
    if _fallback_app is None:
        from portal import create_app

        _fallback_app = create_app()
    with _fallback_app.app_context():
        return _run(request_id, log_request_id)


def _run(request_id: str, log_request_id: str | None) -> str:
    from rq import get_current_job

    from portal.extensions import db
    from portal.models import DocumentRequest

    job = get_current_job()
    retry_in = job.get_retry_interval() if job is not None and job.retries_left else None
    with bind_request_id(log_request_id):
        run_issuance(request_id, retry_in=retry_in)
        request = db.session.get(DocumentRequest, request_id)
        return request.status if request is not None else "unknown"


def requeue_stalled(*, older_than_seconds: float | None = None) -> list[str]:
    """Safety net: queue again every unfinished request that has no live job.

    That happens when Redis lost its data, when enqueueing failed after the request was
    saved, or when a job was abandoned with no retries left. Requests that have started too
    often without finishing are failed for good instead (a poison request must not loop).
    Returns the ids queued again.
    """
    if jobs.redis_connection() is None:
        return []
    config = current_app.config
    if older_than_seconds is None:
        older_than_seconds = config["REQUEUE_AFTER_SECONDS"]
    requeued = []
    for request_id, attempts in unfinished_requests(older_than=timedelta(seconds=older_than_seconds)):
        state = jobs.job_state(issuance_job_id(request_id))
        if state in jobs.LIVE_STATES:
            continue
        if attempts >= config["ISSUANCE_MAX_ATTEMPTS"]:
            give_up(request_id)
            continue
        if enqueue_issuance(request_id, replace_finished=True):
            log.warning("re-queued stalled request %s (its job was %s)", request_id, state or "missing")
            requeued.append(request_id)
    if requeued:
        log.warning("safety net re-queued %d request(s)", len(requeued))
    return requeued


def warm_up(app: Flask) -> None:
    """Build once, before a worker's first job, what every job would otherwise build: the issuers,
    the renderer and its fonts, the blob store, each agency's signing key (jobs run in the worker's
    process, so the keys loaded here are the ones that sign) and the stamp's font."""
    from portal.services import runtime
    from portal.services.keys import key_ring
    from portal.signing.stamp import stamp_style

    with app.app_context():
        registry = runtime.issuers()
        runtime.renderer().warm()
        runtime.blob_store()
        ring = key_ring()
        for issuer in registry:
            ring.get(issuer.id)
    stamp_style()  # the visible signature's font, cut down once
