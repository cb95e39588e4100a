"""What "Who read my data" shows: the access events about a person, as that person sees them.

Record reads (an agency's record fetched to issue a document) are one entry each. Verifications
of a document are counted per document per Bangkok calendar day, so that a document a bank
checks every morning does not bury the reads. Checks may be counted in Redis first
(``portal.services.check_counts``): the log folds them in before it reads, and a folded row
stands for ``times`` checks. Only the logged-in person's own national ID (or,
for a person without one, their passport) is ever queried: there is no parameter naming whose
log to show.

Also here: how the requester of a read is described when it is logged. The person may learn
that someone else asked for a document naming them, and for which company, but never who.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask_babel import gettext as _
from sqlalchemy import Date, case, desc, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from portal import clock
from portal.errors import BadInput, NotFound
from portal.extensions import db
from portal.issuing import DocumentType
from portal.models import AccessEvent, Certificate, DocumentRequest, User
from portal.services import runtime
from portal.services.check_counts import fold_counts, verification_purpose

__all__ = [
    "AGENCY",
    "DOCUMENT_VERIFIED",
    "KINDS",
    "OTHER_PERSON",
    "PAGE_SIZE",
    "RECORD_READ",
    "REPRESENTATIVE",
    "SELF",
    "AccessEntry",
    "AccessLog",
    "Agency",
    "describe_requester",
    "parse_page",
    "reads_for",
]

PAGE_SIZE = 25

RECORD_READ = "record_read"
DOCUMENT_VERIFIED = "document_verified"
KINDS = (RECORD_READ, DOCUMENT_VERIFIED)

#: ``AccessEvent.requested_by``: the person themself asked for the document.
SELF = "self"
#: Someone acting for a juristic person (``on_behalf_of`` names it) asked.
REPRESENTATIVE = "representative"
#: Another person asked (who is not said).
OTHER_PERSON = "other_person"
#: The agency issued it without an online request (operator issuance, bulk pushes).
AGENCY = "agency"

#: How portal.services.verification names the way a document was checked (``purpose``).
_BY_CODE = verification_purpose("code")
_BY_FILE = verification_purpose("file")

#: Longest page number accepted (25 × 10⁹ entries is far beyond any person's log).
_MAX_PAGE_DIGITS = 9


def describe_requester(
    request: DocumentRequest, *, organisation_name: str | None = None
) -> tuple[str, str | None]:
    """Who asked for ``request``, as the person it is about may be told: (requested_by, on_behalf_of).

    ``organisation_name`` is the juristic person the requester acted for, if any (the document
    names it anyway). The requester is never identified beyond that.
    """
    if request.user_id is None:
        return AGENCY, None
    requester_pid = db.session.scalar(select(User.pid).where(User.id == request.user_id))
    if requester_pid is not None and requester_pid == request.subject_pid:
        return SELF, None
    if organisation_name:
        return REPRESENTATIVE, organisation_name[:300]
    return OTHER_PERSON, None


@dataclass(frozen=True)
class Agency:
    """An agency as the filter and the rows name it."""

    id: str
    name_th: str
    name_en: str

    def name(self, lang: str) -> str:
        return self.name_th if lang == "th" else self.name_en


@dataclass(frozen=True)
class AccessEntry:
    """One line of the log: a record read, or a day's checks of one document."""

    kind: str
    agency: Agency
    #: Latest time of the entry, Bangkok time.
    occurred_at: datetime
    #: The Bangkok calendar day of the entry.
    day: date
    #: The agency's record reference (read) or the document's number (verified).
    reference: str
    #: How many events the entry stands for (1 for a read) and, for checks, by which means.
    times: int = 1
    by_code: int = 0
    by_file: int = 0
    document_title_th: str | None = None
    document_title_en: str | None = None
    #: Why the record was read: the purpose the requester agreed to.
    purpose_th: str | None = None
    purpose_en: str | None = None
    requested_by: str | None = None
    on_behalf_of: str | None = None
    #: The person's own request the read was for (id for the link, reference to show).
    own_request_id: str | None = None
    own_request_reference: str | None = None

    def document_title(self, lang: str) -> str | None:
        return self.document_title_th if lang == "th" else self.document_title_en

    def purpose(self, lang: str) -> str | None:
        return self.purpose_th if lang == "th" else self.purpose_en


@dataclass(frozen=True)
class AccessLog:
    """One page of a person's log, with what the filters may choose from."""

    #: False for a person with neither a Thai national ID nor a passport: the log is kept by those.
    identified: bool
    entries: list[AccessEntry]
    page: int = 1
    pages: int = 1
    #: Entries (after grouping checks per day) across all pages.
    total: int = 0
    agency: str | None = None
    kind: str | None = None
    agencies: tuple[Agency, ...] = ()

    @property
    def filtered(self) -> bool:
        return self.agency is not None or self.kind is not None

    @property
    def first(self) -> int:
        """The position of this page's first entry in the whole list (from 1)."""
        return (self.page - 1) * PAGE_SIZE + 1


class _bangkok_day(FunctionElement):
    """The Bangkok calendar day of a UTC timestamp column (Thailand keeps no daylight saving)."""

    type = Date()
    inherit_cache = True


@compiles(_bangkok_day)
def _bangkok_day_sql(element, compiler, **kw):
    return f"CAST(({compiler.process(element.clauses, **kw)} AT TIME ZONE 'Asia/Bangkok') AS DATE)"


@compiles(_bangkok_day, "sqlite")
def _bangkok_day_sqlite(element, compiler, **kw):
    # SQLite keeps UTC wall-clock text; "+7 hours" is Bangkok's fixed offset.
    return f"date({compiler.process(element.clauses, **kw)}, '+7 hours')"


def parse_page(text: str | None) -> int:
    """The page number from ``?page=``: absent → 1; anything but a positive whole number → 400."""
    if text is None or text == "":
        return 1
    if not (text.isascii() and text.isdigit()) or len(text) > _MAX_PAGE_DIGITS or int(text) < 1:
        raise BadInput(_("The page number must be a whole number from 1 up."), title=_("No such page"))
    return int(text)


def reads_for(user: User, *, page: int = 1, agency: str | None = None, kind: str | None = None) -> AccessLog:
    """One page of what was read about ``user``, newest first, optionally for one agency or kind.

    An agency or kind the person cannot choose is a 400; a page past the last one a 404.
    """
    whose = _whose(user)
    if whose is None:
        return AccessLog(identified=False, entries=[])
    fold_counts()  # checks still counted in Redis join the log first
    agencies = _agencies_for(whose)
    if agency is not None and agency not in {a.id for a in agencies}:
        raise BadInput(_("There is no such agency to choose."), title=_("Unknown agency"))
    if kind is not None and kind not in KINDS:
        raise BadInput(_("There is no such kind of access to choose."), title=_("Unknown kind of access"))

    conditions = [whose]
    if agency is not None:
        conditions.append(AccessEvent.agency == agency)
    if kind is not None:
        conditions.append(AccessEvent.kind == kind)
    grouped = _grouped(conditions)
    total = db.session.scalar(select(func.count()).select_from(grouped.subquery())) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page > pages:
        raise NotFound(_("This page of the list does not exist."), title=_("No such page"))
    rows = db.session.execute(
        grouped.order_by(desc("last_at"), desc("last_id")).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    entries = _entries(user, rows, {a.id: a for a in agencies})
    db.session.commit()  # end the read transaction; nothing was written
    return AccessLog(
        identified=True,
        entries=entries,
        page=page,
        pages=pages,
        total=total,
        agency=agency,
        kind=kind,
        agencies=agencies,
    )


def _whose(user: User):
    """The condition picking the person's own events, None if nothing identifies them."""
    if user.pid:
        return AccessEvent.subject_pid == user.pid
    if user.identifier:
        return AccessEvent.subject_passport == user.identifier
    return None


def _agencies_for(whose) -> tuple[Agency, ...]:
    """The agencies offered now, plus any other agency found in the person's log."""
    known = {issuer.id: Agency(issuer.id, issuer.name_th, issuer.name_en) for issuer in runtime.issuers()}
    logged = db.session.scalars(select(AccessEvent.agency).where(whose).distinct())
    for agency_id in logged:
        known.setdefault(agency_id, Agency(agency_id, agency_id.upper(), agency_id.upper()))
    return tuple(sorted(known.values(), key=lambda a: a.id))


def _grouped(conditions):
    """One row per record read, one per (document, Bangkok day) of checks."""
    day = _bangkok_day(AccessEvent.occurred_at)
    own_row = case((AccessEvent.kind == RECORD_READ, AccessEvent.id), else_=0)
    return (
        select(
            AccessEvent.kind,
            AccessEvent.agency,
            AccessEvent.reference,
            day.label("day"),
            func.max(AccessEvent.id).label("last_id"),
            func.max(AccessEvent.occurred_at).label("last_at"),
            func.sum(AccessEvent.times).label("times"),
            func.sum(case((AccessEvent.purpose == _BY_CODE, AccessEvent.times), else_=0)).label("by_code"),
            func.sum(case((AccessEvent.purpose == _BY_FILE, AccessEvent.times), else_=0)).label("by_file"),
        )
        .where(*conditions)
        .group_by(AccessEvent.kind, AccessEvent.agency, AccessEvent.reference, day, own_row)
    )


def _entries(user: User, rows, agencies: dict[str, Agency]) -> list[AccessEntry]:
    """The page's rows in plain terms: titles, purposes and requesters looked up in one go each."""
    read_ids = [row.last_id for row in rows if row.kind == RECORD_READ]
    reads = {e.id: e for e in db.session.scalars(select(AccessEvent).where(AccessEvent.id.in_(read_ids)))}
    request_ids = {e.request_id for e in reads.values() if e.request_id}
    requests = {
        r.id: r
        for r in db.session.scalars(select(DocumentRequest).where(DocumentRequest.id.in_(request_ids)))
    }
    numbers = [row.reference for row in rows if row.kind == DOCUMENT_VERIFIED]
    certificates = {
        c.number: c
        for c in db.session.scalars(
            select(Certificate).where(Certificate.number.in_(numbers), Certificate.subject_pid == user.pid)
        )
    }
    entries = []
    for row in rows:
        agency = agencies.get(row.agency) or Agency(row.agency, row.agency.upper(), row.agency.upper())
        common = {
            "kind": row.kind,
            "agency": agency,
            "occurred_at": _as_bangkok(row.last_at),
            "day": _as_date(row.day),
            "reference": row.reference,
        }
        if row.kind == RECORD_READ:
            event = reads[row.last_id]
            entries.append(_read_entry(user, event, requests.get(event.request_id or ""), common))
        else:
            certificate = certificates.get(row.reference)
            titles = _titles(row.agency, certificate.document_type) if certificate else (None, None)
            entries.append(
                AccessEntry(
                    **common,
                    times=int(row.times),
                    by_code=int(row.by_code or 0),
                    by_file=int(row.by_file or 0),
                    document_title_th=titles[0],
                    document_title_en=titles[1],
                )
            )
    return entries


def _read_entry(user: User, event: AccessEvent, request: DocumentRequest | None, common: dict) -> AccessEntry:
    requested_by, on_behalf_of = event.requested_by, event.on_behalf_of
    titles: tuple[str | None, str | None] = (None, None)
    purpose_th = purpose_en = event.purpose
    if request is None:
        # No request to ask (e.g. it was removed): the document type whose purpose was logged.
        doc_type = _document_type_with_purpose(event.agency, event.purpose)
        if doc_type is not None:
            titles = (doc_type.title_th, doc_type.title_en)
            purpose_th, purpose_en = doc_type.consent.purpose_th, doc_type.consent.purpose_en
    else:
        titles = _titles(request.issuer, request.document_type)
        consent = request.consent or {}
        # The purpose the requester agreed to, in both languages, as it was worded then.
        purpose_th = consent.get("purpose_th") or purpose_th
        purpose_en = consent.get("purpose_en") or purpose_en
        if requested_by is None:  # logged before requesters were recorded
            requested_by = (
                SELF if request.user_id == user.id else AGENCY if request.user_id is None else OTHER_PERSON
            )
    own = request is not None and request.user_id == user.id
    return AccessEntry(
        **common,
        document_title_th=titles[0],
        document_title_en=titles[1],
        purpose_th=purpose_th,
        purpose_en=purpose_en,
        requested_by=requested_by,
        on_behalf_of=on_behalf_of if requested_by == REPRESENTATIVE else None,
        own_request_id=request.id if own else None,
        own_request_reference=request.reference if own else None,
    )


def _document_type_with_purpose(issuer_id: str, purpose_en: str) -> DocumentType | None:
    issuer = runtime.issuers().get(issuer_id)
    if issuer is None:
        return None
    return next((t for t in issuer.document_types if t.consent.purpose_en == purpose_en), None)


def _titles(issuer_id: str, type_id: str) -> tuple[str | None, str | None]:
    found = runtime.issuers().find(issuer_id, type_id)
    if found is None:
        return None, None
    return found[1].title_th, found[1].title_en


def _as_bangkok(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite hands aggregates back as text
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:  # UTC wall-clock time (SQLite)
        value = value.replace(tzinfo=UTC)
    return value.astimezone(clock.BANGKOK)


def _as_date(value: date | str) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value
