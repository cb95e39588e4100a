"""Department of Business Development (กรมพัฒนาธุรกิจการค้า): company registration affidavit.

The affidavit (หนังสือรับรองการจดทะเบียนนิติบุคคล) states a company's particulars as registered on
the day of issue. On Tra it is asked for by a person on the company's behalf: the DBD record read
at issue time must list them as a director or authorised representative, and the document says
who asked, for which company, under what authority and when the register was checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

from issuers.amounts import capital_texts
from issuers.company import CompanyIssuer, requester_content
from issuers.juristic import PersonEntry, iso_date, parse_people, required_text, text_pairs, whole_number
from issuers.sample_people import COMPANY_A, COMPANY_B, SOMCHAI, WICHAI, asked_by
from portal.issuing import (
    ConsentText,
    DocumentInfo,
    DocumentType,
    Record,
    RegistryRejected,
    SampleCase,
)

LABEL = "DBD"

#: Company statuses as the register codes them: (Thai, English).
STATUSES: dict[str, tuple[str, str]] = {
    "active": ("ยังดำเนินกิจการอยู่", "Active"),
    "restored": ("คืนสู่ทะเบียน", "Restored to the register"),
    "dissolved": ("เลิก", "Dissolved"),
    "liquidated": ("เสร็จการชำระบัญชี", "Liquidation completed"),
    "deserted": ("ร้าง", "Struck off as deserted"),
    "amalgamated": ("ควบรวม", "Amalgamated"),
}

COMPANY_AFFIDAVIT = DocumentType(
    id="company-affidavit",
    title_th="หนังสือรับรองการจดทะเบียนนิติบุคคล",
    title_en="Company Registration Affidavit",
    summary_th="รับรองรายการจดทะเบียนของบริษัท ได้แก่ ชื่อ ทุนจดทะเบียน กรรมการ อำนาจกรรมการ วัตถุประสงค์ "
    "และที่ตั้งสำนักงานใหญ่ ตามทะเบียนของกรมพัฒนาธุรกิจการค้า ณ วันที่ออกหนังสือ "
    "ขอได้โดยกรรมการหรือผู้รับมอบอำนาจของบริษัท",
    summary_en="Certifies a company's registered particulars (name, capital, directors and their "
    "signing authority, objectives, head office) as recorded by the Department of Business "
    "Development on the day of issue. Requested by a director or authorised representative.",
    audience="business",
    # No legal validity period; banks and agencies usually want one under 90 days old.
    validity_days=90,
    template="issuers/dbd/company_affidavit.html",
    consent=ConsentText(
        version="dbd-company-affidavit-1",
        fields_th=(
            "ชื่อบริษัท (ไทยและอังกฤษ) เลขทะเบียนนิติบุคคล ประเภท วันที่จดทะเบียน และสถานะ",
            "ทุนจดทะเบียนและที่ตั้งสำนักงานใหญ่",
            "วัตถุประสงค์ของบริษัท",
            "ชื่อกรรมการและอำนาจกรรมการ",
            "รายการของท่านในฐานะกรรมการหรือผู้รับมอบอำนาจ เพื่อตรวจสอบอำนาจในการขอหนังสือรับรอง",
        ),
        fields_en=(
            "Company name (Thai and English), registration number, type, registration date and status",
            "Registered capital and head-office address",
            "The company's objectives",
            "Directors' names and their signing authority",
            "Your own entry as director or authorised representative, to check that you may ask",
        ),
        purpose_th="เพื่อออกหนังสือรับรองการจดทะเบียนนิติบุคคลของบริษัทที่ท่านกระทำการแทน",
        purpose_en="To issue the registration affidavit of the company you act for",
    ),
    fee_baht=0,
)

SIGNATORY = {
    "name_th": "นางสาวรัตนา ตัวอย่าง",
    "name_en": "Ms. Rattana Tuayang",
    "position_th": "นายทะเบียนหุ้นส่วนบริษัท",
    "position_en": "Registrar of Partnerships and Companies",
    "on_behalf_th": "สำนักงานทะเบียนหุ้นส่วนบริษัทกลาง",
    "on_behalf_en": "Central Partnership and Company Registration Office",
}


class DbdIssuer(CompanyIssuer):
    """Reads company records from the DBD register over HTTP, and vouches for business mandates."""

    id: ClassVar[str] = "dbd"
    name_th: ClassVar[str] = "กรมพัฒนาธุรกิจการค้า"
    name_en: ClassVar[str] = "Department of Business Development"
    ministry_th: ClassVar[str] = "กระทรวงพาณิชย์"
    ministry_en: ClassVar[str] = "Ministry of Commerce"
    address_th: ClassVar[str] = "563 ถนนนนทบุรี ตำบลบางกระสอ อำเภอเมืองนนทบุรี จังหวัดนนทบุรี 11000"
    address_en: ClassVar[str] = "563 Nonthaburi Road, Bang Kra So, Mueang Nonthaburi, Nonthaburi 11000"
    document_types: ClassVar[tuple[DocumentType, ...]] = (COMPANY_AFFIDAVIT,)
    template_folder: ClassVar[Path] = Path(__file__).with_name("templates")
    provides_mandates: ClassVar[tuple[str, ...]] = ("business",)
    sample_registry_factory: ClassVar[str] = "issuers.dbd.sample_registry:create_registry_app"
    company_path: ClassVar[str] = "/companies/{juristic_id}"
    document_name: ClassVar[str] = "a company registration affidavit"
    record_name: ClassVar[str] = "a company record"
    no_record: ClassVar[str] = "the DBD has no company registered under this number"
    mandates_path: ClassVar[str] = "/people/{identifier}/mandates"
    mandates_key: ClassVar[str] = "mandates"

    @classmethod
    def sample_cases(cls) -> tuple[SampleCase, ...]:
        return (
            SampleCase(
                COMPANY_AFFIDAVIT.id, subject=asked_by(COMPANY_A, SOMCHAI), other=asked_by(COMPANY_B, WICHAI)
            ),
        )

    def people(self, body: Mapping[str, Any]) -> list[PersonEntry]:
        """The directors (at least one), then the authorised representatives."""
        directors = parse_people(body.get("directors"), role="director", label=LABEL, with_may_sign=True)
        if not directors:
            raise RegistryRejected("DBD registry sent a company record without directors")
        representatives = parse_people(
            body.get("authorised_representatives"),
            role="authorised_representative",
            label=LABEL,
            required=False,
        )
        return [*directors, *representatives]

    def printed_people(self, people: list[PersonEntry]) -> dict[str, Any]:
        """The directors' names (and whether each may sign), printed on the affidavit."""
        return {"directors": [p.as_printed() for p in people if p.role == "director"]}

    def particulars(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The company's particulars, each checked; RegistryRejected for anything unusable."""
        status = body.get("status")
        if not isinstance(status, str) or status not in STATUSES:
            raise RegistryRejected("DBD registry sent a company record with an unknown status")
        return {
            "juristic_id": body["juristic_id"],
            "status": status,
            "registered_on": iso_date(body, "registered_on", LABEL),
            "registered_capital_baht": whole_number(body, "registered_capital_baht", LABEL),
            "objectives": text_pairs(body, "objectives", LABEL),
            **{
                key: required_text(body, key, LABEL)
                for key in (
                    "name_th",
                    "name_en",
                    "type_th",
                    "type_en",
                    "address_th",
                    "address_en",
                    "signing_authority_th",
                    "signing_authority_en",
                )
            },
        }

    def content(self, document_type: DocumentType, record: Record, document: DocumentInfo) -> dict[str, Any]:
        data = record.data
        status_th, status_en = STATUSES[data["status"]]
        return {
            "company": {
                "name_th": data["name_th"],
                "name_en": data["name_en"],
                "juristic_id": data["juristic_id"],
                "type_th": data["type_th"],
                "type_en": data["type_en"],
                "registered_on": date.fromisoformat(data["registered_on"]),
                **capital_texts(int(data["registered_capital_baht"])),
                "address_th": data["address_th"],
                "address_en": data["address_en"],
                "signing_authority_th": data["signing_authority_th"],
                "signing_authority_en": data["signing_authority_en"],
                "status_th": status_th,
                "status_en": status_en,
            },
            "directors": [{"name_th": d["name_th"], "name_en": d["name_en"]} for d in data["directors"]],
            "objectives": [{"th": th, "en": en} for th, en in data["objectives"]],
            "requester": requester_content(data),
            "signatory": SIGNATORY,
        }
