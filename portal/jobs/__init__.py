"""Background work: issuance as an RQ job when ``REDIS_URL`` is set, in-process when not.

The job takes the request id (and the enqueuer's log request id); its function is
``portal.jobs.tasks.issue_request``. Each request has one job id and is enqueued with RQ's
``unique=True``, so a request has at most one live job; the database (a unique key on
``certificates.request_id``) makes a duplicated or re-run job harmless all the same.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from redis import Redis
from redis.exceptions import RedisError

from portal.errors import ServiceUnavailable
from portal.jobs.queues import ALL_QUEUES, ISSUANCE_QUEUE, issuance_job_id, queue_name
from portal.logs import current_request_id

log = logging.getLogger(__name__)

__all__ = [
    "ALL_QUEUES",
    "ISSUANCE_QUEUE",
    "IssuingPaused",
    "enqueue_issuance",
    "ensure_issuing_available",
    "issuance_queue",
    "redis_connection",
    "requeue_stalled",
]

#: Job states in which a job will still run (or is running): nothing to re-enqueue.
_LIVE_STATES = frozenset({"queued", "started", "scheduled", "deferred"})


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


def redis_connection() -> Redis | None:
    """The app's Redis client (one pool per process), or None when ``REDIS_URL`` is unset."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    ext = current_app.extensions
    client = ext.get("tra.redis")
    if client is None:
        client = ext["tra.redis"] = Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=10, health_check_interval=30
        )
    return client


def issuance_queue():
    from rq import Queue

    return Queue(queue_name(ISSUANCE_QUEUE), connection=redis_connection())


def ensure_issuing_available() -> None:
    """Raise ``IssuingPaused`` (503) when jobs go through Redis and Redis does not answer."""
    connection = redis_connection()
    if connection is None:
        return
    try:
        connection.ping()
    except RedisError as exc:
        log.warning("Redis unreachable, issuing paused: %s", exc)
        raise IssuingPaused() from None


def enqueue_issuance(request_id: str, *, replace_finished: bool = False) -> bool:
    """Have the certificate for ``request_id`` issued; True when a job was queued (or it ran inline).

    Without Redis it runs now, in this process, with no retries. With Redis, a live job for the
    request is left alone; a finished or failed one is replaced only with ``replace_finished``
    ("Try again", the safety net). A Redis failure is logged, not raised: the request stays
    QUEUED and ``requeue_stalled`` picks it up once Redis is back.
    """
    connection = redis_connection()
    if connection is None:
        from portal.services.issuance import run_issuance

        run_issuance(request_id)
        return True
    try:
        return _enqueue(request_id, replace_finished=replace_finished)
    except RedisError as exc:
        log.warning("could not queue issuance of request %s (will be re-queued): %s", request_id, exc)
        return False


def _enqueue(request_id: str, *, replace_finished: bool) -> bool:
    from rq import Retry
    from rq.exceptions import DuplicateJobError
    from rq.job import Job

    from portal.jobs.tasks import issue_request

    config = current_app.config
    intervals = list(config["ISSUANCE_RETRY_INTERVALS"])
    job_id = issuance_job_id(request_id)
    queue = issuance_queue()
    for _attempt in range(2):
        try:
            queue.enqueue(
                issue_request,
                request_id,
                current_request_id(),
                job_id=job_id,
                unique=True,
                retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
                job_timeout=config["ISSUANCE_JOB_TIMEOUT"],
                result_ttl=config["RQ_RESULT_TTL"],
                failure_ttl=config["RQ_FAILURE_TTL"],
                description=f"issue request {request_id}",
            )
            log.info("queued issuance of request %s as job %s", request_id, job_id)
            return True
        except DuplicateJobError:
            connection = queue.connection
            job = Job.fetch(job_id, connection=connection) if Job.exists(job_id, connection) else None
            status = job.get_status(refresh=False) if job else None
            if job is not None and (status in _LIVE_STATES or not replace_finished):
                log.info("request %s already has job %s (%s)", request_id, job_id, status and status.value)
                return False
            if job is not None:
                job.delete()
    return False


def job_state(request_id: str) -> str | None:
    """The RQ state of the request's job ("queued", "started", "failed", …), or None if there is none."""
    from rq.job import Job

    connection = redis_connection()
    job_id = issuance_job_id(request_id)
    if connection is None or not Job.exists(job_id, connection):
        return None
    status = Job.fetch(job_id, connection=connection).get_status(refresh=False)
    return status.value if status is not None else None


def requeue_stalled(*, older_than_seconds: float | None = None) -> list[str]:
    """Safety net: queue again every unfinished request that has no live job.

    That happens when Redis lost its data, when enqueueing failed after the request was
    saved, or when a job was abandoned with no retries left. Requests that have started too
    often without finishing are failed for good instead (a poison request must not loop).
    Returns the ids queued again.
    """
    from portal.services import issuance

    if redis_connection() is None:
        return []
    config = current_app.config
    if older_than_seconds is None:
        older_than_seconds = config["REQUEUE_AFTER_SECONDS"]
    requeued = []
    stalled = issuance.unfinished_requests(older_than=timedelta(seconds=older_than_seconds))
    for request_id, attempts in stalled:
        state = job_state(request_id)
        if state in _LIVE_STATES:
            continue
        if attempts >= config["ISSUANCE_MAX_ATTEMPTS"]:
            issuance.give_up(request_id)
            continue
        if _enqueue(request_id, replace_finished=True):
            log.warning("re-queued stalled request %s (its job was %s)", request_id, state or "missing")
            requeued.append(request_id)
    return requeued
