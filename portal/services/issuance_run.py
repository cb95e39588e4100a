"""Running the issuance job for one request: count the attempt, reserve its number and code, issue,
and turn each failure into a status, a failure code and (for transient ones) a retry.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from portal import clock
from portal.errors import NotFound
from portal.extensions import db
from portal.issuing import Issuer, IssuingError, NotAuthorised, RegistryUnavailable
from portal.issuing.thai import BE_OFFSET
from portal.metrics import observe_issuance_stage
from portal.models import DocumentRequest, DocumentSequence, RequestStatus
from portal.services.catalogue import find_document_type
from portal.services.codes import new_verification_code
from portal.services.issuance_certificate import StageTimes, issue_certificate
from portal.services.issuance_status import fail_request, mark_ready_if_issued, wait_for_retry
from portal.signing import SignerCertificateUnusable, SigningServiceUnavailable

# The logger keeps the name it had before the split, so log filters and captures see the same name.
log = logging.getLogger("portal.services.issuance")

__all__ = [
    "IssuanceDeferred",
    "run_issuance",
]


#: What a transient failure's record says (the errors' own text can hold service URLs).
_TRANSIENT_REASONS = {
    "tsa_unavailable": "the time-stamping service did not answer",
    "revocation_info_unavailable": "the certificate status service (OCSP/CRL) did not answer",
}


class IssuanceDeferred(Exception):
    """A transient failure while retries remain: the request is WAITING and the job must be retried."""


def _start_attempt(request_id: str, issuer: Issuer) -> DocumentRequest | None:
    """Count the attempt, reserve number and code on first use, move to FETCHING; one short transaction.

    The request row is locked, so two runs at once cannot both reserve a number for it.
    Returns None when the request needs no work (already issued).
    """
    year_be = clock.today_bangkok().year + BE_OFFSET
    for attempt in range(3):
        try:
            request = db.session.execute(
                select(DocumentRequest)
                .where(DocumentRequest.id == request_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).scalar_one()
            if request.status == RequestStatus.READY.value:
                db.session.commit()
                return None
            request.attempts = (request.attempts or 0) + 1
            request.status = RequestStatus.FETCHING.value
            request.next_attempt_at = None
            if request.document_number:
                db.session.commit()
                return request
            seq = db.session.scalar(
                select(DocumentSequence)
                .where(
                    DocumentSequence.issuer == issuer.id,
                    DocumentSequence.document_type == request.document_type,
                    DocumentSequence.year_be == year_be,
                )
                .with_for_update()
            )
            if seq is None:
                seq = DocumentSequence(
                    issuer=issuer.id, document_type=request.document_type, year_be=year_be, last_value=0
                )
                db.session.add(seq)
            seq.last_value += 1
            prefix = issuer.number_prefix_for(request.document_type)
            request.document_number = f"{prefix} {seq.last_value:06d}/{year_be}"
            request.verification_code = new_verification_code()
            db.session.commit()
            return request
        except IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise
    return None


def run_issuance(request_id: str, *, retry_in: float | None = None) -> StageTimes:
    """Issue the certificate for one request. Safe to run twice, even at once: a request yields
    one certificate (unique key on ``certificates.request_id``); the run that loses the race
    rolls back quietly.

    Failures the person can act on (no record, registry down) leave the request FAILED with a
    plain reason; they are not raised. Except: when ``retry_in`` is given (a job with retries
    left), a registry outage leaves the request WAITING, due again in ``retry_in`` seconds, and
    raises ``IssuanceDeferred`` so that the job is retried.
    """
    times = StageTimes()
    request = db.session.get(DocumentRequest, request_id)
    if request is None:
        log.warning("issuance job for unknown request %s", request_id)
        return times
    if request.certificate is not None:
        mark_ready_if_issued(request_id)
        return times
    try:
        issuer, doc_type = find_document_type(request.issuer, request.document_type)
    except NotFound:
        # The issuer was switched off (or removed) after the request was made: no try can succeed.
        log.warning(
            "request %s: document type %s/%s is not available",
            request_id,
            request.issuer,
            request.document_type,
        )
        fail_request(request_id, "not_available", "this document is no longer issued here")
        return times
    try:
        request = _start_attempt(request_id, issuer)
        if request is None:
            return times
        issue_certificate(request, issuer, doc_type, times)
    except (RegistryUnavailable, SigningServiceUnavailable) as exc:
        # The agency's registry, or the time-stamping / revocation service, did not answer.
        db.session.rollback()
        reason = _TRANSIENT_REASONS.get(exc.code, str(exc))
        if retry_in is not None:
            wait_for_retry(request_id, exc.code, reason, retry_in)
            raise IssuanceDeferred(reason) from exc
        fail_request(request_id, exc.code, reason, transient=True)
    except SignerCertificateUnusable as exc:
        # The agency's own signing certificate is revoked, expired or untrusted: operators must act.
        db.session.rollback()
        log.error("request %s: the signing certificate of %s cannot be used: %s", request_id, issuer.id, exc)
        fail_request(request_id, "signer_unusable", "the agency's signing certificate cannot be used")
    except IssuingError as exc:
        db.session.rollback()
        if isinstance(exc, NotAuthorised):
            # The registry does not list the requester for this company (any more): final, logged.
            log.warning("request %s refused by the %s registry: not authorised", request_id, issuer.id)
        fail_request(request_id, exc.code, str(exc))
    except IntegrityError:
        db.session.rollback()
        if mark_ready_if_issued(request_id):
            # Another run of this job issued the certificate first; theirs stands.
            log.info("request %s was issued by a concurrent run", request_id)
        else:
            log.exception("issuance failed for request %s", request_id)
            fail_request(request_id, "internal", "internal error")
    except OperationalError:
        # The database went away: nothing to record now; let the job's retries have it.
        db.session.rollback()
        if retry_in is None:
            raise
        log.warning("database unavailable while issuing request %s; will retry", request_id)
        raise
    except Exception:
        db.session.rollback()
        log.exception("issuance failed for request %s", request_id)
        fail_request(request_id, "internal", "internal error")
    else:
        for stage in ("fetch", "render", "sign", "store"):
            observe_issuance_stage(stage, getattr(times, stage))
    return times
