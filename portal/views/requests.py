"""A logged-in person's pages: consent and request, request status, "My documents", download,
and "acting for" (switching between oneself and the companies one may act for)."""

from __future__ import annotations

from flask import (
    Blueprint,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user

from portal import clock
from portal.auth.access import login_required, safe_next
from portal.services import catalogue, documents, issuance_requests, mandates

bp = login_required(Blueprint("requests", __name__))


@bp.get("/documents/<issuer_id>/<type_id>/request")
def consent(issuer_id: str, type_id: str):
    entry, _context = catalogue.entry_for(current_user, issuer_id, type_id)
    return render_template("requests/consent.html", entry=entry, error=None)


@bp.post("/documents/<issuer_id>/<type_id>/request")
def submit(issuer_id: str, type_id: str):
    entry, _context = catalogue.entry_for(current_user, issuer_id, type_id)
    if request.form.get("consent") != "yes":
        return render_template("requests/consent.html", entry=entry, error="consent"), 400
    doc_request = issuance_requests.request_document(
        user=current_user, issuer_id=issuer_id, type_id=type_id, consent_given=True
    )
    return redirect(url_for("requests.status", request_id=doc_request.id))


@bp.get("/requests/<request_id>")
def status(request_id: str):
    doc_request = documents.get_request(current_user, request_id)
    return render_template(
        "requests/status.html",
        doc_request=doc_request,
        entry=catalogue.entry(doc_request.issuer, doc_request.document_type),
    )


@bp.get("/requests/<request_id>/status.json")
def status_json(request_id: str):
    doc_request = documents.get_request(current_user, request_id)
    response = jsonify(
        status=doc_request.status,
        finished=doc_request.status_enum.finished,
        failure_code=doc_request.failure_code if doc_request.status == "failed" else None,
        can_retry=doc_request.can_retry,
        next_attempt_at=doc_request.next_attempt_at.isoformat() if doc_request.next_attempt_at else None,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/requests/<request_id>/retry")
def retry(request_id: str):
    doc_request = issuance_requests.retry_request(user=current_user, request_id=request_id)
    return redirect(url_for("requests.status", request_id=doc_request.id))


@bp.get("/my/documents")
def my_documents():
    return render_template(
        "requests/my_documents.html",
        requests=documents.my_requests(current_user),
        entries=catalogue.entries(),
        offered=catalogue.entries_for(mandates.acting_context(current_user)),
        today=clock.today_bangkok(),
    )


@bp.get("/my/documents/<certificate_id>.pdf")
def download(certificate_id: str):
    certificate, path = documents.get_certificate_file(current_user, certificate_id)
    return send_file(
        path,
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"tra-{certificate.issuer}-{certificate.document_type}-{certificate.verification_code}.pdf",
        etag=certificate.sha256,
        max_age=0,
    )


@bp.get("/acting-for")
def acting_for():
    return render_template("requests/acting_for.html", next_url=safe_next(request.args.get("next")))


@bp.post("/acting-for")
def switch_acting_for():
    mandates.switch_acting_for(current_user, request.form.get("acting_for", ""))
    return redirect(safe_next(request.form.get("next")) or url_for("main.index"))
