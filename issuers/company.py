"""A base for the company issuers (DBD, BOI): one company record, read at issue time, that lists
who may ask for the company's document.

Both registries answer the same two questions: "the record of company X" (which must be X's,
and must list the requester as someone who may ask) and "the companies person P may act for"
(the mandates the portal shows as "acting for"). :class:`CompanyIssuer` asks them and keeps the
time the register was read; a subclass says where to ask and reads its own particulars
(:meth:`CompanyIssuer.particulars`) and people (:meth:`CompanyIssuer.people`).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from issuers.juristic import (
    ROLES,
    PersonEntry,
    checked_at_texts,
    dedupe,
    entitled_requester,
    fetch_company_record,
    registry_mandates,
    required_text,
)
from portal.issuing import DocumentType, Mandate, Record, Requester, Subject
from portal.issuing.registry_issuer import RegistryIssuer
from portal.issuing.thai import now

__all__ = ["CompanyIssuer", "requester_content"]


class CompanyIssuer(RegistryIssuer):
    """Reads a company's record and vouches for the mandates of the people it lists."""

    #: The registry's path for a company (takes ``{juristic_id}``) and how its answer is named in
    #: messages: the document ("a company registration affidavit"), the record ("a company
    #: record"), the plain 404 message.
    company_path: ClassVar[str]
    document_name: ClassVar[str]
    record_name: ClassVar[str]
    no_record: ClassVar[str]
    #: The registry's path for a person's companies (takes ``{identifier}``) and the answer's key.
    mandates_path: ClassVar[str]
    mandates_key: ClassVar[str]

    def mandates_for(self, requester: Requester) -> tuple[Mandate, ...]:
        """The companies whose record lists ``requester`` as someone who may act for them."""
        return registry_mandates(
            self.registry(),
            requester,
            path=self.mandates_path,
            key=self.mandates_key,
            source=self.id,
            label=self.label,
        )

    def fetch_record(self, document_type: DocumentType, subject: Subject) -> Record:
        """The company's record, refused (NotAuthorised) unless it lists the requester."""
        checked_at = now()
        body = fetch_company_record(
            self.registry(),
            subject,
            document=self.document_name,
            path=self.company_path,
            what=self.record_name,
            not_found=self.no_record,
            label=self.label,
        )
        particulars = self.particulars(body)
        people = self.people(body)
        entitled = entitled_requester(subject.requester, people, company_label=f"{self.label} register")
        return Record(
            reference=required_text(body, "record_id", self.label),
            holder_name_th=particulars["name_th"],
            holder_name_en=particulars["name_en"],
            data={
                **particulars,
                **self.printed_people(people),
                "requester": entitled.as_data(),
                "checked_at": checked_at.isoformat(),
            },
            named_people=dedupe([p.identifier for p in people]),
        )

    @abc.abstractmethod
    def particulars(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The record's facts as the document keeps them (``name_th`` and ``name_en`` at least),
        each checked; RegistryRejected for anything unusable."""

    @abc.abstractmethod
    def people(self, body: Mapping[str, Any]) -> list[PersonEntry]:
        """Everyone the record lists as able to ask, most authority first (their IDs are logged
        as read, in ``named_people``)."""

    def printed_people(self, people: list[PersonEntry]) -> dict[str, Any]:
        """What of ``people`` the record keeps for printing (nothing by default: no IDs are)."""
        return {}


def requester_content(data: Mapping[str, Any]) -> dict[str, Any]:
    """The template's ``requester``: who asked, their role in both languages, and when the
    register was checked (``checked_th``, ``checked_en``), from a record ``CompanyIssuer`` made."""
    requester = dict(data["requester"])
    requester["role_th"], requester["role_en"] = ROLES[requester["role"]]
    checked = checked_at_texts(datetime.fromisoformat(data["checked_at"]))
    return {**requester, "checked_th": checked["th"], "checked_en": checked["en"]}
