"""The contract every agency's issuer module fulfils.

An issuer reads the person's record from its agency's registry and turns it into the
content of a document. It never signs, never touches keys and never commits: the
issuing service does those around it.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar

__all__ = [
    "ConsentText",
    "DocumentInfo",
    "DocumentType",
    "Issuer",
    "IssuingError",
    "Record",
    "RecordNotFound",
    "RegistryUnavailable",
    "RegistryRejected",
    "Subject",
]


class IssuingError(Exception):
    """Base of the errors an issuer raises; ``code`` is stored on the failed request."""

    code = "issuing_error"


class RecordNotFound(IssuingError):
    """The agency has no record for this person (a plain answer, not a fault)."""

    code = "no_record"


class RegistryUnavailable(IssuingError):
    """The agency's registry could not be reached or answered 5xx (transient: retry later)."""

    code = "registry_unavailable"


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
class Subject:
    """The person a document is about."""

    #: 13-digit national ID.
    pid: str
    name_th: str | None = None
    name_en: str | None = None


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


class Issuer(abc.ABC):
    """An agency's issuer module. Subclasses set the class-level metadata and two methods."""

    #: Short identifier ("dlt"), used in URLs, the CLI and the entry point name.
    id: ClassVar[str]
    name_th: ClassVar[str]
    name_en: ClassVar[str]
    document_types: ClassVar[tuple[DocumentType, ...]]
    #: Folder holding this issuer's templates, namespaced ``issuers/<id>/…``.
    template_folder: ClassVar[Path]

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = settings

    def document_type(self, type_id: str) -> DocumentType | None:
        return next((t for t in self.document_types if t.id == type_id), None)

    @abc.abstractmethod
    def fetch_record(self, document_type: DocumentType, subject: Subject) -> Record:
        """Read the subject's record from the agency (raise RecordNotFound / RegistryUnavailable)."""

    @abc.abstractmethod
    def build_content(
        self, document_type: DocumentType, record: Record, document: DocumentInfo
    ) -> dict[str, Any]:
        """The issuer's part of the template context (record facts, agency, signatory).

        The portal adds ``document`` itself (number, verification code and URL, dates, titles,
        sample mark), the same for every issuer; ``document`` is passed here for what depends on
        it, such as a licence's status on the day of issue.
        """
