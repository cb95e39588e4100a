"""The public verification pages: by code, by QR, by dropping a file."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal import metrics
from portal.auth.access import public
from portal.errors import BadInput, NotFound
from portal.extensions import rate_limited
from portal.services import verification
from portal.services.codes import normalise_code
from portal.services.report_texts import detail_rows, level_description, plain_verdict

bp = public(Blueprint("verify", __name__))
bp.add_app_template_global(level_description, "signature_level_text")


def lookup_counted(channel: str, code: str) -> verification.DocumentFacts:
    """``verification.lookup_code``, counted in the metrics (an unknown code counts as "unknown")."""
    try:
        facts = verification.lookup_code(code)
    except NotFound:
        metrics.count_verification(channel, "unknown")
        raise
    metrics.count_verification(channel, facts.status)
    return facts


def check_counted(channel: str, data: bytes) -> verification.FileVerdict:
    """``verification.check_file``, counted in the metrics by verdict."""
    result = verification.check_file(data)
    metrics.count_verification(channel, result.verdict.value)
    return result


def read_upload() -> bytes:
    """The uploaded file's bytes, or a plain 400 (size is capped by MAX_CONTENT_LENGTH: 413)."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise BadInput(_("Choose a PDF file to check."), title=_("No file was chosen"))
    data = upload.read()
    if not data:
        raise BadInput(
            _("The file you chose is empty (0 bytes). Choose the PDF you received."),
            title=_("The file is empty"),
        )
    return data


@bp.get("/v")
def start():
    code = request.args.get("code")
    if code is not None:
        return redirect(url_for("verify.by_code", code=normalise_code(code) or code.strip() or "-"))
    return render_template("verify/start.html")


@bp.get("/v/<code>")
@rate_limited("RATELIMIT_VERIFY")
def by_code(code: str):
    return render_template("verify/document.html", facts=lookup_counted("code", code))


@bp.post("/v")
@rate_limited("RATELIMIT_VERIFY")
def check_file():
    try:
        data = read_upload()
    except BadInput as exc:
        return render_template("verify/start.html", error_field="file", error_message=exc.message), 400
    result = check_counted("file", data)
    return render_template(
        "verify/result.html",
        result=result,
        words=plain_verdict(result.report),
        details=detail_rows(result.report),
    )
