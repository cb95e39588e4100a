"""The contract every agency's issuer module fulfils.

An issuer reads the person's record from its agency's registry and turns it into the
content of a document. It never signs, never touches keys and never commits: the
issuing service does those around it.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from portal.issuing.settings import Setting

__all__ = [
    "AUDIENCES",
    "ConsentText",
    "DocumentInfo",
    "DocumentType",
    "Issuer",
    "IssuingError",
    "Mandate",
    "NATIONALITY",
    "NotAuthorised",
    "PASSPORT_NUMBER",
    "Record",
    "RecordNotFound",
    "RegistryUnavailable",
    "RegistryRejected",
    "Requester",
    "SampleCase",
    "Subject",
    "is_passport_identifier",
    "passport_identifier",
]

#: A passport number as the portal keeps it (upper case) and registries list it.
PASSPORT_NUMBER = re.compile(r"[A-Z0-9]{5,20}")
#: The passport's issuing country: ISO 3166 alpha-3, upper case.
NATIONALITY = re.compile(r"[A-Z]{3}")
_PASSPORT_IDENTIFIER = re.compile(f"{NATIONALITY.pattern}:{PASSPORT_NUMBER.pattern}")


def passport_identifier(nationality: str, number: str) -> str:
    """How a person without a Thai national ID is known to registries, in ``Record.named_people``
    and in the access log: ``<nationality>:<passport number>``."""
    return f"{nationality}:{number}"


def is_passport_identifier(value: str) -> bool:
    """Whether ``value`` has the shape :func:`passport_identifier` gives."""
    return _PASSPORT_IDENTIFIER.fullmatch(value) is not None


#: Who a document type is for: a person about themself, a company's representative, an investor.
AUDIENCES: tuple[str, ...] = ("citizen", "business", "investor")

#: A WSGI application (the sample registry an issuer ships for the demo and the contract tests).
WsgiApp = Callable[..., Iterable[bytes]]


class IssuingError(Exception):
    """Base of the errors an issuer raises; ``code`` is stored on the failed request."""

    code = "issuing_error"


class RecordNotFound(IssuingError):
    """The agency has no record for this person (a plain answer, not a fault)."""

    code = "no_record"


class RegistryUnavailable(IssuingError):
    """The agency's registry could not be reached or answered 5xx (transient: retry later)."""

    code = "registry_unavailable"


class NotAuthorised(IssuingError):
    """The registry does not list the requester as someone who may ask for this document
    (e.g. not a director of the company): a plain answer, logged, never retried."""

    code = "not_authorised"


class RegistryRejected(IssuingError):
    """The registry answered, but not with something we can use (permanent)."""

    code = "registry_rejected"


@dataclass(frozen=True)
class ConsentText:
    """What the person is told before their record is read, in both languages."""

    #: Version of this text; stored with the consent so we know what was agreed.
    version: str
    #: The record fields read, one entry per field.
    fields_th: tuple[str, ...]
    fields_en: tuple[str, ...]
    purpose_th: str
    purpose_en: str


@dataclass(frozen=True)
class DocumentType:
    """One kind of document an issuer can produce."""

    #: Identifier in URLs and the CLI, e.g. "driving-licence".
    id: str
    title_th: str
    title_en: str
    summary_th: str
    summary_en: str
    #: Who may request it: "citizen", "business", "investor".
    audience: str
    #: How long the certificate is valid after issue.
    validity_days: int
    #: Template name under the issuer's template folder.
    template: str
    consent: ConsentText
    #: Fee in baht shown on the document page (0 = free).
    fee_baht: int = 0
    #: Whether an officer must approve before issue.
    needs_approval: bool = False


@dataclass(frozen=True)
class Requester:
    """The logged-in person asking for a document, when it is not about themselves alone.

    For a company's document (audience ``business`` or ``investor``) the issuer checks in its own
    registry, at issue time, that this person may ask for it (a director or authorised
    representative), raises :class:`NotAuthorised` otherwise, and prints who asked and under what
    authority. A foreign investor has no ``pid``: ``passport_number`` and ``nationality`` instead.
    """

    pid: str | None = None
    passport_number: str | None = None
    #: ISO 3166 alpha-3 country of the passport.
    nationality: str | None = None
    name_th: str | None = None
    name_en: str | None = None

    @property
    def identifier(self) -> str:
        """How the registry knows them: the national ID, else :func:`passport_identifier`."""
        return self.pid or passport_identifier(self.nationality or "", self.passport_number or "")


@dataclass(frozen=True)
class Mandate:
    """A registry's word that a person may act for a company (shown as "acting for")."""

    juristic_id: str
    name_th: str
    name_en: str
    #: ``director`` or ``authorised_representative``.
    role: str
    #: Id of the issuer whose registry vouched for it (``dbd`` for business, ``boi`` for investors).
    source: str


@dataclass(frozen=True)
class Subject:
    """Whom a document is about: a person (``pid``) or a juristic person (``juristic_id``)."""

    #: 13-digit national ID of the person (None for a company's document).
    pid: str | None = None
    name_th: str | None = None
    name_en: str | None = None
    #: 13-digit juristic-person ID of the company the document is about.
    juristic_id: str | None = None
    #: Who asked, for a company's document (None when a person asks for their own document).
    requester: Requester | None = None

    @property
    def kind(self) -> str:
        """``company`` or ``person``."""
        return "company" if self.juristic_id else "person"

    @property
    def id(self) -> str:
        """The subject's 13-digit identifier (juristic ID for a company)."""
        return self.juristic_id or self.pid or ""


@dataclass(frozen=True)
class SampleCase:
    """A request the issuer's sample registry answers: one per document type at least.

    The contract suite (tests/issuing/test_contract.py) issues ``subject``'s document from the
    sample registry, and checks that ``other``'s record, answered in place of ``subject``'s, is
    refused. The demo's sample people should be among these subjects.
    """

    #: Id of one of the issuer's document types.
    document_type: str
    #: Someone the sample registry holds a record for, usable for this document type.
    subject: Subject
    #: Someone else with a record there; every identifier of ``subject`` differs from theirs.
    other: Subject


@dataclass(frozen=True)
class DocumentInfo:
    """Facts the portal fixes before rendering; issuers place them on the document."""

    number: str
    verification_code: str
    verify_url: str
    issued_at: datetime
    expires_at: date
    sample: bool


@dataclass(frozen=True)
class Record:
    """What an issuer read from its registry."""

    #: The agency's own reference for the record (logged as an access event).
    reference: str
    #: Holder's names as the agency has them (printed on the document).
    holder_name_th: str
    holder_name_en: str
    data: Mapping[str, Any] = field(default_factory=dict)
    #: The people whose personal data the record holds besides the subject (a company's
    #: directors, a house's members), each by national ID or, without one, as
    #: ``<nationality>:<passport>`` (:attr:`Requester.identifier`): each gets an access event,
    #: shown to them in "Who read my data".
    named_people: tuple[str, ...] = ()


class Issuer(abc.ABC):
    """An agency's issuer module. Subclasses set the class-level metadata and two methods.

    The registry checks the metadata when it loads the class (portal/issuing/registry.py) and
    refuses to start with an incomplete one; docs/writing-an-issuer.md describes each part.
    """

    #: Short identifier ("dlt"; ``^[a-z][a-z0-9_]{1,31}$``), used in URLs, the CLI, settings names
    #: (``ISSUER_DLT_…``) and as the entry point's name.
    id: ClassVar[str]
    name_th: ClassVar[str]
    name_en: ClassVar[str]
    document_types: ClassVar[tuple[DocumentType, ...]]
    #: Folder holding this issuer's templates, namespaced ``issuers/<id>/…``.
    template_folder: ClassVar[Path]
    #: The agency's ministry and head-office address, printed in the letterhead.
    ministry_th: ClassVar[str] = ""
    ministry_en: ClassVar[str] = ""
    address_th: ClassVar[str] = ""
    address_en: ClassVar[str] = ""
    #: The issuer's own settings, besides the standard ones every issuer has
    #: (:data:`portal.issuing.settings.STANDARD_SETTINGS`).
    settings_schema: ClassVar[tuple[Setting, ...]] = ()
    #: Prefix of the document numbers (``"ขบ"`` gives ``ขบ 000001/2569``); empty: the upper-cased id.
    number_prefix: ClassVar[str] = ""
    #: A prefix per document type id, for types that need their own: numbers run per document
    #: type, so two types sharing a prefix would give their first documents the same number.
    #: A type not listed gets ``number_prefix`` if it is the first type, else ``<prefix>-<n>``.
    number_prefixes: ClassVar[Mapping[str, str]] = MappingProxyType({})

    def __init__(self, settings: Mapping[str, Any]) -> None:
        #: Checked, typed and read-only (an :class:`~portal.issuing.settings.IssuerSettings`
        #: when the registry builds the issuer); secrets are masked when shown.
        self.settings = settings

    @classmethod
    def sample_registry(cls) -> WsgiApp | None:
        """A WSGI app standing in for the agency's registry (demo and tests), or None.

        Development mounts it at ``/_sample/<id>``; the contract suite serves it on loopback.
        """
        return None

    @classmethod
    def sample_cases(cls) -> tuple[SampleCase, ...]:
        """Requests the sample registry answers, at least one per document type."""
        return ()

    @classmethod
    def agency_facts(cls) -> dict[str, str]:
        """The letterhead's ``agency``: names, ministry and address in both languages. The portal
        puts it in every document's template context unless ``build_content`` gives its own."""
        return {
            "name_th": cls.name_th,
            "name_en": cls.name_en,
            "ministry_th": cls.ministry_th,
            "ministry_en": cls.ministry_en,
            "address_th": cls.address_th,
            "address_en": cls.address_en,
        }

    def document_type(self, type_id: str) -> DocumentType | None:
        return next((t for t in self.document_types if t.id == type_id), None)

    @classmethod
    def number_prefix_for(cls, type_id: str) -> str:
        """The prefix of a document number of ``type_id`` (see :attr:`number_prefixes`)."""
        if type_id in cls.number_prefixes:
            return cls.number_prefixes[type_id]
        prefix = cls.number_prefix or cls.id.upper()
        type_ids = [t.id for t in cls.document_types]
        index = type_ids.index(type_id) if type_id in type_ids else 0
        return prefix if index == 0 else f"{prefix}-{index + 1}"

    #: Audiences this issuer's registry vouches mandates for (``("business",)`` for the DBD):
    #: the portal asks :meth:`mandates_for` at login and again at request time.
    provides_mandates: ClassVar[tuple[str, ...]] = ()

    def mandates_for(self, requester: Requester) -> tuple[Mandate, ...]:
        """The companies the registry lists ``requester`` as director or representative of.

        Only issuers with ``provides_mandates`` implement it; raise :class:`RegistryUnavailable`
        when the registry cannot be asked (the portal then refuses to guess).
        """
        return ()

    @abc.abstractmethod
    def fetch_record(self, document_type: DocumentType, subject: Subject) -> Record:
        """Read the subject's record from the agency.

        Raises RecordNotFound (no record for this subject), RegistryUnavailable (the registry did not
        answer or answered 5xx: retried later) or RegistryRejected (an answer we cannot use: not the
        expected shape, or another person's record); never anything else for a bad answer.
        """

    @abc.abstractmethod
    def build_content(
        self, document_type: DocumentType, record: Record, document: DocumentInfo
    ) -> dict[str, Any]:
        """The issuer's part of the template context (record facts, agency, signatory).

        The portal adds ``document`` itself (number, verification code and URL, dates, titles,
        sample mark), the same for every issuer; ``document`` is passed here for what depends on
        it, such as a licence's status on the day of issue. A record whose content cannot be used
        raises RegistryRejected here (the request fails with a plain reason), never another error.
        """
