"""What the company issuers (DBD, BOI) share: reading a registry's answer strictly, and deciding
whether the person asking may act for the company.

A company's document is asked for by a person on the company's behalf. The agency's own record
says who may do that (directors, authorised representatives), so the check is made against the
record read at issue time, never against the portal's session alone. Every value read is checked
here: anything of the wrong shape is :class:`RegistryRejected` (the registry sent something we
cannot use), so that a damaged entry can never turn into a wrong "not authorised" answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from portal.issuing import (
    NATIONALITY,
    PASSPORT_NUMBER,
    Mandate,
    NotAuthorised,
    RecordNotFound,
    RegistryRejected,
    Requester,
    Subject,
    passport_identifier,
)
from portal.issuing.http import RegistryClient
from portal.issuing.thai import BANGKOK, english_date_short, pid_is_valid, thai_date

__all__ = [
    "ROLES",
    "Entitled",
    "PersonEntry",
    "checked_at_texts",
    "dedupe",
    "entitled_requester",
    "iso_date",
    "optional_text",
    "parse_mandates",
    "parse_people",
    "required_dict",
    "required_text",
    "text_list",
    "text_pairs",
    "whole_number",
]

#: Roles a registry can give a person towards a company: (Thai, English) as printed.
ROLES: dict[str, tuple[str, str]] = {
    "director": ("กรรมการ", "Director"),
    "authorised_representative": ("ผู้รับมอบอำนาจ", "Authorised representative"),
}


def required_dict(value: Any, what: str, label: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise RegistryRejected(f"the {label} registry sent {what} that is not an object")
    return value


def required_text(body: Mapping[str, Any], key: str, label: str) -> str:
    """``body[key]`` as a non-blank string, else RegistryRejected."""
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RegistryRejected(f"the {label} registry sent a record without a usable {key}")
    return value.strip()


def optional_text(body: Mapping[str, Any], key: str, label: str) -> str | None:
    """``body[key]`` as a string, None when absent, null or blank; another type is refused."""
    value = body.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise RegistryRejected(f"the {label} registry sent a record with an unusable {key}")
    return value.strip()


def text_list(body: Mapping[str, Any], key: str, label: str) -> list[str]:
    """``body[key]`` as a list of non-blank strings (possibly empty)."""
    value = body.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RegistryRejected(f"the {label} registry sent a record with an unusable {key}")
    return [v.strip() for v in value]


def text_pairs(body: Mapping[str, Any], key: str, label: str) -> list[tuple[str, str]]:
    """``<key>_th`` and ``<key>_en``, two lists of the same length, as (Thai, English) pairs."""
    thai, english = text_list(body, f"{key}_th", label), text_list(body, f"{key}_en", label)
    if len(thai) != len(english):
        raise RegistryRejected(f"the {label} registry sent {key} that differ between Thai and English")
    return list(zip(thai, english, strict=True))


def whole_number(body: Mapping[str, Any], key: str, label: str, *, maximum: int | None = None) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RegistryRejected(f"the {label} registry sent a record with an unusable {key}")
    if maximum is not None and value > maximum:
        raise RegistryRejected(f"the {label} registry sent a record with an unusable {key}")
    return value


def iso_date(body: Mapping[str, Any], key: str, label: str) -> str:
    """``body[key]`` checked to be an ISO date (``YYYY-MM-DD``); returned as the string."""
    value = body.get(key)
    try:
        date.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RegistryRejected(f"the {label} registry sent a record with an unusable {key}") from None
    return value


@dataclass(frozen=True)
class PersonEntry:
    """A person as a company record lists them: a Thai national ID, or a passport."""

    pid: str | None
    passport_number: str | None
    nationality: str | None
    name_th: str | None
    name_en: str
    #: ``director`` or ``authorised_representative``.
    role: str
    #: Whether the person may sign for the company (DBD directors); None when not said.
    may_sign: bool | None = None

    @property
    def identifier(self) -> str:
        """The national ID, else ``<nationality>:<passport>`` (as ``Requester.identifier``)."""
        return self.pid or passport_identifier(self.nationality or "", self.passport_number or "")

    def is_requester(self, requester: Requester) -> bool:
        if self.pid:
            return requester.pid == self.pid
        return (
            bool(requester.passport_number and requester.nationality)
            and requester.passport_number.strip().upper() == self.passport_number
            and requester.nationality.strip().upper() == self.nationality
        )

    def as_printed(self) -> dict[str, Any]:
        """Names only (no IDs are printed); a foreigner without a Thai name shows the English one."""
        printed: dict[str, Any] = {"name_th": self.name_th or self.name_en, "name_en": self.name_en}
        if self.may_sign is not None:
            printed["may_sign"] = self.may_sign
        return printed


def parse_people(
    entries: Any, *, role: str, label: str, with_may_sign: bool = False, required: bool = True
) -> list[PersonEntry]:
    """A record's list of people, each with a valid national ID or passport and nationality."""
    if entries is None and not required:
        return []
    if not isinstance(entries, list):
        raise RegistryRejected(f"the {label} registry sent a record with an unusable list of people")
    people = []
    for entry in entries:
        entry = required_dict(entry, "a person", label)
        pid, passport, nationality = entry.get("pid"), entry.get("passport_number"), entry.get("nationality")
        if pid is not None:
            if not pid_is_valid(pid) or passport is not None:
                raise RegistryRejected(f"the {label} registry sent a person with an unusable ID")
        elif not (
            isinstance(passport, str)
            and PASSPORT_NUMBER.fullmatch(passport)
            and isinstance(nationality, str)
            and NATIONALITY.fullmatch(nationality)
        ):
            raise RegistryRejected(f"the {label} registry sent a person with an unusable ID")
        may_sign = entry.get("may_sign") if with_may_sign else None
        if with_may_sign and not isinstance(may_sign, bool):
            raise RegistryRejected(f"the {label} registry sent a director without a usable may_sign")
        people.append(
            PersonEntry(
                pid=pid,
                passport_number=None if pid else passport,
                nationality=None if pid else nationality,
                name_th=optional_text(entry, "name_th", label),
                name_en=required_text(entry, "name_en", label),
                role=role,
                may_sign=may_sign,
            )
        )
    return people


@dataclass(frozen=True)
class Entitled:
    """The requester as the record lists them, and the authority that lets them ask."""

    entry: PersonEntry

    def as_data(self) -> dict[str, str]:
        """What the document prints about who asked: names and role (no ID number)."""
        role_th, role_en = ROLES[self.entry.role]
        return {
            "name_th": self.entry.name_th or self.entry.name_en,
            "name_en": self.entry.name_en,
            "role": self.entry.role,
            "role_th": role_th,
            "role_en": role_en,
        }


def entitled_requester(
    requester: Requester | None, people: Iterable[PersonEntry], *, company_label: str
) -> Entitled:
    """The first entry (directors before representatives) that is the requester, else NotAuthorised.

    The message is plain and names nobody: it is shown to the person and written to the log.
    """
    if requester is not None and (requester.pid or (requester.passport_number and requester.nationality)):
        for entry in people:
            if entry.is_requester(requester):
                return Entitled(entry)
    raise NotAuthorised(
        f"the {company_label} does not list you as a director or authorised representative of this company"
    )


def fetch_company_record(
    client: RegistryClient,
    subject: Subject,
    *,
    document: str,
    path: str,
    what: str,
    not_found: str,
    label: str,
) -> Mapping[str, Any]:
    """The registry's record of ``subject``'s company (``path`` takes ``{juristic_id}``).

    An invalid juristic ID is RecordNotFound without asking; another company's record is the
    registry's fault (RegistryRejected), checked before anyone's authority is.
    """
    if not pid_is_valid(subject.juristic_id or ""):
        raise RecordNotFound(f"{document} needs a valid juristic-person number")
    body = client.get_json(path, {"juristic_id": subject.juristic_id}, not_found_message=not_found)
    body = required_dict(body, what, label)
    if body.get("juristic_id") != subject.juristic_id:
        raise RegistryRejected(f"{label} registry returned another company's record")
    return body


def registry_mandates(
    client: RegistryClient, requester: Requester, *, path: str, key: str, source: str, label: str
) -> tuple[Mandate, ...]:
    """The companies a registry lists ``requester`` for (``path`` takes ``{identifier}``)."""
    if not (requester.pid or (requester.passport_number and requester.nationality)):
        return ()
    body = client.get_json(
        path,
        {"identifier": requester.identifier},
        not_found_message=f"the {label} has no record of this person",
    )
    return parse_mandates(body, key=key, source=source, label=label)


def parse_mandates(body: Any, *, key: str, source: str, label: str) -> tuple[Mandate, ...]:
    """``{key: [{juristic_id, name_th, name_en, role}]}`` as Mandates, one per company and role."""
    body = required_dict(body, "an answer", label)
    items = body.get(key)
    if not isinstance(items, list):
        raise RegistryRejected(f"the {label} registry sent a list of companies we cannot read")
    mandates: dict[tuple[str, str], Mandate] = {}
    for item in items:
        item = required_dict(item, "a company", label)
        juristic_id, role = item.get("juristic_id"), item.get("role")
        if not pid_is_valid(juristic_id) or not isinstance(role, str) or role not in ROLES:
            raise RegistryRejected(f"the {label} registry sent a company we cannot read")
        mandates.setdefault(
            (juristic_id, role),
            Mandate(
                juristic_id=juristic_id,
                name_th=required_text(item, "name_th", label),
                name_en=required_text(item, "name_en", label),
                role=role,
                source=source,
            ),
        )
    return tuple(mandates.values())


def checked_at_texts(checked_at: datetime) -> dict[str, str]:
    """When the registry was read, as printed: Bangkok wall-clock date and time in both languages."""
    local = checked_at.astimezone(BANGKOK)
    clock_time = local.strftime("%H:%M")
    return {
        "th": f"{thai_date(local)} เวลา {clock_time} น.",
        "en": f"{english_date_short(local)} at {clock_time} (Bangkok time)",
    }


def dedupe(values: Sequence[str]) -> tuple[str, ...]:
    """``values`` in order without repeats (named_people)."""
    return tuple(dict.fromkeys(values))
