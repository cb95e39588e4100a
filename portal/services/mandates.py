"""Mandates and "acting for": which companies a person may act for, and for whom they act now.

The registries that vouch for mandates are issuers with ``provides_mandates`` (the DBD for
company directors, the BOI for investment-promotion representatives). They are asked at login,
and the answer is kept on the server-side session row so that pages never call a registry;
when a company's document is requested they are asked again, and only that fresh answer counts.

Who is asked: everyone at every registry that vouches for business or investor mandates (a
director who is also a BOI representative gets both), by national ID or, for a person without
one, by passport: the DBD lists foreign directors by passport, and they need its affidavit too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _

from portal import clock
from portal.errors import Forbidden, ServiceUnavailable
from portal.extensions import db
from portal.issuing import Issuer, IssuingError, Mandate, RecordNotFound, Requester
from portal.models import User, UserSession
from portal.services import runtime
from portal.services.audit import record_audit

log = logging.getLogger(__name__)

__all__ = [
    "MYSELF",
    "ActingContext",
    "Company",
    "MandateCheck",
    "acting_context",
    "check_at_login",
    "confirm_mandate",
    "mandate_audiences",
    "refuse",
    "requester_of",
    "switch_acting_for",
]

#: What the "acting for" form posts to act for oneself again.
MYSELF = "myself"


@dataclass(frozen=True)
class MandateCheck:
    """What the registries said about one person."""

    mandates: tuple[Mandate, ...]
    #: Ids of the issuers whose registry could not be asked.
    unavailable: tuple[str, ...]
    checked_at: datetime


@dataclass(frozen=True)
class Company:
    """A company the person may act for, with every mandate the registries gave for it."""

    juristic_id: str
    name_th: str
    name_en: str
    #: (role, source issuer id) pairs, e.g. (("director", "dbd"), ("authorised_representative", "boi")).
    roles: tuple[tuple[str, str], ...]

    def name(self, locale: str) -> str:
        return self.name_th if locale == "th" else self.name_en


@dataclass(frozen=True)
class ActingContext:
    """For whom the logged-in person acts now, and which document audiences that opens."""

    #: The company acted for; None when acting for themself.
    company: Company | None
    #: Every company the session's mandates allow.
    companies: tuple[Company, ...]
    #: Whether the person may act for themself (only with a Thai national ID).
    may_act_for_self: bool
    #: Document audiences on offer now ("citizen"; or "business" and/or "investor").
    audiences: tuple[str, ...]
    #: Names of the agencies whose registry could not be asked at login ((th, en) pairs).
    unavailable: tuple[tuple[str, str], ...] = ()

    @property
    def may_switch(self) -> bool:
        """Whether there is anyone else to act for."""
        return len(self.companies) + (1 if self.may_act_for_self else 0) > 1


def mandate_audiences(user: User) -> tuple[str, ...]:
    """Which kinds of mandate to ask about for ``user``: both, for anyone the registries can know
    (a national ID, or a passport with its nationality)."""
    if user.pid or (user.passport_number and user.nationality):
        return ("business", "investor")
    return ()


def requester_of(user: User) -> Requester:
    """The person as the registries know them: national ID, else passport and nationality."""
    if user.pid:
        return Requester(pid=user.pid, name_th=user.name_th, name_en=user.name_en)
    return Requester(
        passport_number=user.passport_number,
        nationality=user.nationality,
        name_th=user.name_th,
        name_en=user.name_en,
    )


def _vouching_issuers(audiences: tuple[str, ...]) -> list[Issuer]:
    return [i for i in runtime.issuers() if set(i.provides_mandates) & set(audiences)]


def _ask(issuers: list[Issuer], requester: Requester) -> MandateCheck:
    found: list[Mandate] = []
    unavailable: list[str] = []
    for issuer in issuers:
        try:
            answer = issuer.mandates_for(requester)
        except RecordNotFound:
            continue  # the registry does not know the person: no companies there
        except IssuingError as exc:
            # Down, or an answer we cannot read: either way we do not know, so we do not guess.
            log.warning("could not ask the %s registry for mandates: %s", issuer.id, exc.code)
            unavailable.append(issuer.id)
            continue
        except Exception:
            # A fault in the issuer's code must not stop people logging in; it is not a "no".
            log.exception("the %s issuer failed to give mandates", issuer.id)
            unavailable.append(issuer.id)
            continue
        # The source is whoever answered, whatever the answer says.
        found.extend(
            Mandate(
                juristic_id=m.juristic_id, name_th=m.name_th, name_en=m.name_en, role=m.role, source=issuer.id
            )
            for m in answer
        )
    return MandateCheck(mandates=tuple(found), unavailable=tuple(unavailable), checked_at=clock.now())


def check_at_login(user: User, login_session: UserSession) -> MandateCheck:
    """Ask the registries which companies ``user`` may act for and keep the answer on the session
    (the caller commits). A registry that cannot be asked is noted, not fatal: the person logs in
    without that registry's companies and the pages say so.

    Someone without a Thai national ID cannot act for themself, so they start acting for their
    first company (if any).
    """
    check = _ask(_vouching_issuers(mandate_audiences(user)), requester_of(user))
    login_session.mandates = [_as_json(m) for m in check.mandates]
    login_session.mandates_unavailable = list(check.unavailable)
    login_session.mandates_checked_at = check.checked_at
    login_session.acting_for = None
    if not user.pid and check.mandates:
        login_session.acting_for = check.mandates[0].juristic_id
    record_audit(
        user.id,
        "mandates.checked",
        target=login_session.provider,
        companies=sorted({m.juristic_id for m in check.mandates}),
        unavailable=list(check.unavailable),
    )
    return check


def _as_json(mandate: Mandate) -> dict[str, Any]:
    return {
        "juristic_id": mandate.juristic_id,
        "name_th": mandate.name_th,
        "name_en": mandate.name_en,
        "role": mandate.role,
        "source": mandate.source,
    }


def _companies(login_session: UserSession | None) -> tuple[Company, ...]:
    by_id: dict[str, Company] = {}
    for item in (login_session.mandates or []) if login_session is not None else []:
        try:
            juristic_id, role, source = item["juristic_id"], item["role"], item["source"]
            known = by_id.get(juristic_id)
            if known is None:
                by_id[juristic_id] = Company(juristic_id, item["name_th"], item["name_en"], ((role, source),))
            elif (role, source) not in known.roles:
                by_id[juristic_id] = Company(
                    juristic_id, known.name_th, known.name_en, (*known.roles, (role, source))
                )
        except (KeyError, TypeError):
            log.warning("session %s holds a mandate that cannot be read", login_session.id[:8])
    return tuple(by_id.values())


def _audiences_of(company: Company) -> tuple[str, ...]:
    """The audiences a company's mandates open: those the vouching registries vouch for."""
    registry = runtime.issuers()
    audiences: list[str] = []
    for _role, source in company.roles:
        issuer = registry.get(source)
        for audience in issuer.provides_mandates if issuer is not None else ():
            if audience not in audiences:
                audiences.append(audience)
    return tuple(sorted(audiences))


def acting_context(user: User) -> ActingContext:
    """For whom ``user`` acts in this session (read from the session row; no registry is asked)."""
    login_session = getattr(user, "login_session", None)
    companies = _companies(login_session)
    acting_for = login_session.acting_for if login_session is not None else None
    company = next((c for c in companies if c.juristic_id == acting_for), None)
    may_self = bool(user.pid)
    if company is not None:
        audiences = _audiences_of(company)
    else:
        audiences = ("citizen",) if may_self else ()
    unavailable = []
    for issuer_id in (login_session.mandates_unavailable or []) if login_session is not None else []:
        issuer = runtime.issuers().get(issuer_id)
        if issuer is not None:
            unavailable.append((issuer.name_th, issuer.name_en))
    return ActingContext(
        company=company,
        companies=companies,
        may_act_for_self=may_self,
        audiences=audiences,
        unavailable=tuple(unavailable),
    )


def switch_acting_for(user: User, target: str) -> ActingContext:
    """Act for ``target`` (a juristic ID among the session's mandates, or :data:`MYSELF`) from now on.

    Refused (403, logged) for a company the session holds no mandate for, or "myself" without
    a Thai national ID. Commits.
    """
    login_session = user.login_session
    target = (target or "").strip()
    if target == MYSELF:
        if not user.pid:
            refuse(user, "no_national_id", target=MYSELF)
            raise Forbidden(
                _("You logged in with a passport, so you can only request documents for your companies.")
            )
        login_session.acting_for = None
    else:
        if target not in {c.juristic_id for c in _companies(login_session)}:
            refuse(user, "no_mandate", target=target[:13])
            raise Forbidden(_("You are not listed as someone who may act for this company."))
        login_session.acting_for = target
    record_audit(user.id, "acting_for.switch", target=login_session.acting_for or MYSELF)
    db.session.commit()
    return acting_context(user)


def refuse(user: User, reason: str, **detail: Any) -> None:
    """Log a refused request as an audit event (``request.refused``) and commit; ids only."""
    log.warning("refused for user %s: %s", user.id, reason)
    record_audit(user.id, "request.refused", reason=reason, **detail)
    db.session.commit()


def _forget(user: User, juristic_id: str, *, sources: set[str]) -> None:
    """Drop from the session the mandates for ``juristic_id`` that ``sources`` no longer give, so
    the pages stop offering what was refused; stop acting for the company if none is left."""
    login_session = getattr(user, "login_session", None)
    if login_session is None or not login_session.mandates:
        return
    kept = [
        m
        for m in login_session.mandates
        if not (isinstance(m, dict) and m.get("juristic_id") == juristic_id and m.get("source") in sources)
    ]
    login_session.mandates = kept
    if login_session.acting_for == juristic_id and not any(m.get("juristic_id") == juristic_id for m in kept):
        login_session.acting_for = None


def confirm_mandate(user: User, *, juristic_id: str, audience: str) -> Mandate:
    """Ask the registries again, now, whether ``user`` may act for ``juristic_id`` for documents of
    ``audience``; the answer at login does not count.

    Raises Forbidden (logged) when no registry lists them any more, ServiceUnavailable (503)
    when a registry that could have said yes cannot be asked: nothing is written then but the log.
    """
    issuers = _vouching_issuers((audience,))
    check = _ask(issuers, requester_of(user))
    match = next((m for m in check.mandates if m.juristic_id == juristic_id), None)
    if match is not None:
        return match
    if check.unavailable or not issuers:
        log.warning(
            "cannot check the authority of user %s for %s: %s unavailable",
            user.id,
            juristic_id,
            ",".join(check.unavailable) or "no registry",
        )
        raise ServiceUnavailable(
            _(
                "We cannot check your authority to act for this company right now, so nothing was "
                "requested. Please try again in a few minutes."
            ),
            title=_("We cannot check your authority right now"),
        )
    _forget(user, juristic_id, sources={issuer.id for issuer in issuers})
    refuse(user, "mandate_withdrawn", juristic_id=juristic_id, audience=audience)
    raise Forbidden(
        _(
            "The registry no longer lists you as someone who may act for this company, so this "
            "document cannot be requested. If this is wrong, contact the agency that keeps the register."
        ),
        title=_("You cannot request documents for this company"),
    )
