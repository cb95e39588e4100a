"""Job functions. They take ids, reload state, and are safe to run twice."""

from __future__ import annotations

import logging

from flask import Flask, has_app_context

from portal.logs import bind_request_id

log = logging.getLogger(__name__)

__all__ = ["issue_request"]

_fallback_app: Flask | None = None


def issue_request(request_id: str, log_request_id: str | None = None) -> str:
    """Issue the certificate for one request; returns the request's status.

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
    from portal.services.issuance import run_issuance

    job = get_current_job()
    retry_in = job.get_retry_interval() if job is not None and job.retries_left else None
    with bind_request_id(log_request_id):
        run_issuance(request_id, retry_in=retry_in)
        request = db.session.get(DocumentRequest, request_id)
        return request.status if request is not None else "unknown"
