"""The plain words of a verification report, in the current language (Thai or English).

What: :func:`plain_verdict` gives the headline, the verdict box, "what this means" and "what to
do next" for a :class:`~portal.services.report.VerificationReport`; :func:`detail_rows` the
fold-out details as (label, value) pairs. The page and the JSON (in both languages) use the
same words, so they cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import get_locale
from flask_babel import gettext as _

from portal.issuing.thai import english_date, thai_date

if TYPE_CHECKING:
    from .report import VerificationReport

__all__ = ["detail_rows", "level_description", "plain_verdict"]


def _lang() -> str:
    return str(get_locale() or "th").split("_")[0]


def _date(value: datetime) -> str:
    return thai_date(value) if _lang() == "th" else english_date(value)


def _moment(value: datetime | None) -> str:
    """A date in words plus the exact UTC time, for the details."""
    if value is None:
        return _("None")
    return f"{_date(value)} ({value.strftime('%Y-%m-%d %H:%M:%S')} UTC)"


def plain_verdict(report: VerificationReport) -> dict[str, str]:
    """``heading``, ``tag``, ``title``, ``text``, ``meaning``, ``next`` in the current language."""
    from .report import Outcome

    agency = report.agency_name(_lang()) or _("the agency")
    o = report.outcome
    if o is Outcome.VALID:
        return {
            "tag": _("Genuine and valid"),
            "title": _("This is a genuine file and the document is valid."),
            "text": _(
                "It was signed by the %(agency)s through Tra and has not been changed since.", agency=agency
            ),
            "meaning": _(
                "The file is exactly the one that was issued, and the document has not been revoked. "
                "You can rely on what it says, as of the day it was issued."
            ),
            "next": _(
                "Check that the holder and the document number below match the person and the paper "
                "in front of you."
            ),
        }
    if o in (Outcome.REVOKED_DOCUMENT, Outcome.EXPIRED_DOCUMENT, Outcome.SUPERSEDED_DOCUMENT):
        return _genuine_but(report, agency)
    if o is Outcome.REVOKED_SIGNER:
        key = report.signer
        revoked = _date(key.revoked_at) if key is not None and key.revoked_at else None
        if report.sub_indication == "REVOKED_NO_POE":
            text = _(
                "The key that signed it was revoked on %(date)s, and nothing proves the file was "
                "signed before that.",
                date=revoked,
            )
        elif revoked:
            text = _("It was signed with a key that was revoked on %(date)s, after that date.", date=revoked)
        else:
            text = _("It was signed with a key that has been revoked.")
        return {
            "heading": _("This file was signed with a revoked key"),
            "tag": _("Not genuine"),
            "title": _("Do not rely on this file."),
            "text": text,
            "meaning": _(
                "An agency revokes a signing key when it may have fallen into the wrong hands. "
                "Anything signed with it after that could have been made by someone else."
            ),
            "next": _("Ask the holder to get a new document from the agency through Tra."),
        }
    return _problems()[o]()


def _genuine_but(report: VerificationReport, agency: str) -> dict[str, str]:
    from .report import Outcome

    o = report.outcome
    words = {
        "meaning": _(
            "The file is exactly the one that was issued, but the document must not be relied on any more."
        ),
        "next": _("Ask the holder for a current document."),
    }
    if o is Outcome.REVOKED_DOCUMENT:
        revoked_at = report.record.revoked_at if report.record else None
        text = (
            _("The %(agency)s revoked it on %(date)s.", agency=agency, date=_date(revoked_at))
            if revoked_at
            else _("The %(agency)s has revoked it.", agency=agency)
        )
        return {
            "tag": _("Genuine, but revoked"),
            "title": _("This is a genuine file, but the document has been revoked."),
            "text": f"{text} {_('It is no longer valid. Do not rely on it.')}",
            **words,
        }
    if o is Outcome.EXPIRED_DOCUMENT:
        expires = report.record.expires_at if report.record else None
        return {
            "tag": _("Genuine, but expired"),
            "title": _("This is a genuine file, but the document has expired."),
            "text": _("It was valid until %(date)s.", date=_date(expires)) if expires else "",
            **words,
        }
    return {
        "tag": _("Genuine, but replaced"),
        "title": _("This is a genuine file, but the document has been replaced by a newer one."),
        "text": _("It is no longer valid."),
        **words,
    }


def _altered() -> dict[str, str]:
    return {
        "heading": _("This file was changed after it was signed"),
        "tag": _("Not genuine"),
        "title": _("Do not rely on this file."),
        "meaning": _(
            "The file carries a signature, but the file was changed after it was signed. What it says "
            "now may not be what was issued, even if it looks right."
        ),
        "next": _(
            "Ask the holder for the original file, or ask them to download it again from Tra. You can "
            "also check the verification code printed on the document."
        ),
    }


def _unknown() -> dict[str, str]:
    return {
        "heading": _("We have no record of issuing this file"),
        "tag": _("Not found"),
        "title": _("Do not rely on this file."),
        "meaning": _(
            "The file is signed with a key we trust and was not changed after signing, but we have no "
            "record of issuing this file. It may come from a test system, or it may have been issued "
            "elsewhere."
        ),
        "next": _(
            "Check the verification code printed on the document, or ask the holder to download the "
            "file again from Tra."
        ),
    }


def _untrusted() -> dict[str, str]:
    return {
        "heading": _("This file was not signed by an agency using Tra"),
        "tag": _("Unknown signer"),
        "title": _("This is not a document issued through Tra."),
        "meaning": _(
            "The file is signed, but not by any agency that issues documents through this portal. "
            "Anyone can sign a PDF file; a signature alone does not make it official."
        ),
        "next": _(
            "If the document should have come from Tra, ask the holder for the file they downloaded "
            "from Tra, or check the verification code printed on it."
        ),
    }


def _not_signed() -> dict[str, str]:
    return {
        "heading": _("This file has no digital signature"),
        "tag": _("Not signed"),
        "title": _("This file cannot be checked."),
        "meaning": _(
            "Every document from Tra is a signed PDF file. A file without a signature may be a scan, a "
            "copy saved again from a PDF viewer, or a document from somewhere else."
        ),
        "next": _(
            "Ask the holder for the original PDF file they downloaded from Tra. If you only have a "
            "paper copy, check the verification code printed under the QR code."
        ),
    }


def _not_a_pdf() -> dict[str, str]:
    return {
        "heading": _("This is not a PDF file we can read"),
        "tag": _("Cannot check"),
        "title": _("The file is not a PDF, or it is damaged."),
        "meaning": _(
            "We could not read the file as a PDF document, so we could not check it. Nothing is known "
            "about whether it is genuine."
        ),
        "next": _("Choose the PDF file you were given and try again. Documents from Tra end in .pdf."),
    }


def _problems():
    from .report import Outcome

    return {
        Outcome.ALTERED: _altered,
        Outcome.UNKNOWN_DOCUMENT: _unknown,
        Outcome.UNTRUSTED: _untrusted,
        Outcome.NOT_SIGNED: _not_signed,
        Outcome.NOT_A_PDF: _not_a_pdf,
    }


def level_description(level: str | None) -> str:
    """What a PAdES baseline level means, in a sentence (only that one is translated)."""
    return _LEVELS.get(level or "", lambda: _("None"))()


_LEVELS = {
    "B-B": lambda: _("PAdES B-B: basic signature, no proof of time"),
    "B-T": lambda: _("PAdES B-T: signature with a timestamp proving when it was made"),
    "B-LT": lambda: _("PAdES B-LT: timestamped, with the certificate status at signing kept in the file"),
    "B-LTA": lambda: _(
        "PAdES B-LTA: timestamped, with the certificate status kept in the file and an archive "
        "timestamp, so it can be checked for many years"
    ),
}


_CHANGES = {
    "none": lambda: _("The whole file: nothing was added after signing"),
    "archival": lambda: _(
        "The whole document; only archive data (certificate status, timestamps) was added after"
    ),
    "appended_data": lambda: _("Not the whole file: data was added after signing"),
    "page_content": lambda: _("Not the whole file: the document was edited after signing"),
    "form_filling": lambda: _("Not the whole file: form fields were filled in after signing"),
    "annotations": lambda: _("Not the whole file: comments or drawings were added after signing"),
    "not_archival": lambda: _(
        "Not the whole file: something other than archive data was added after the last signature "
        "or timestamp"
    ),
}


def _revocation(report: VerificationReport) -> str:
    evidence = report.check.revocation
    parts = []
    if evidence.status == "good":
        source = _("an OCSP response") if evidence.source == "ocsp" else _("a certificate revocation list")
        parts.append(
            _(
                "Not revoked, according to %(source)s of %(date)s kept in the file.",
                source=source,
                date=_moment(evidence.produced_at),
            )
        )
    elif evidence.status == "revoked":
        parts.append(
            _(
                "Revoked on %(date)s, according to the revocation data in the file.",
                date=_moment(evidence.revoked_at),
            )
        )
    else:
        parts.append(_("The file keeps no revocation data (below level B-LT)."))
    key = report.signer
    if key is not None and key.state == "revoked" and key.revoked_at:
        parts.append(_("Our key register: revoked on %(date)s.", date=_moment(key.revoked_at)))
    elif key is not None and key.state != "unknown":
        parts.append(_("Our key register: not revoked."))
    return " ".join(parts)


def detail_rows(report: VerificationReport) -> list[tuple[str, str]]:
    """The fold-out details: (label, value) in the current language."""
    c = report.check
    rows = [
        (
            _("Validation result (ETSI indication)"),
            f"{report.indication}" + (f" / {report.sub_indication}" if report.sub_indication else ""),
        ),
    ]
    if c.signature_count:
        key = report.signer
        signer = c.signer or _("None")
        if report.agency:
            signer = f"{signer} — {report.agency_name(_lang())}"
        rows += [
            (_("Signature level found"), level_description(c.level)),
            (_("Signer"), signer),
            (_("Signing certificate status"), key.state_label if key is not None else _("Not recorded")),
            (_("Signing time (as stated by the signer)"), _moment(c.signing_time)),
            (_("Time proven by a timestamp"), _moment(c.timestamp_time)),
        ]
        if c.archive_timestamp_time:
            rows.append((_("Archive timestamp"), _moment(c.archive_timestamp_time)))
        rows += [
            (_("Signature covers"), _CHANGES.get(c.changes or "", lambda: _("None"))()),
            (
                _("Chain of trust"),
                (
                    _("Reaches our trust root: %(chain)s", chain=" → ".join(c.chain))
                    if c.trusted
                    else _("Does not reach any root we trust (signer: %(signer)s)", signer=c.signer or "?")
                ),
            ),
            (_("Revocation at signing time"), _revocation(report)),
        ]
    rows += [
        (_("Our record of the document"), _record(report)),
        (_("Fingerprint of the file (SHA-256)"), c.sha256),
    ]
    return rows


def _record(report: VerificationReport) -> str:
    from portal.signing import FileFinding

    if report.check.finding is not FileFinding.INTACT:
        return _("Not looked up: this is not an intact file signed by an agency using Tra")
    return {
        "valid": _("Valid"),
        "revoked": _("Revoked"),
        "expired": _("Expired"),
        "superseded": _("Replaced by a newer document"),
    }.get(report.record_status or "", _("No record"))
