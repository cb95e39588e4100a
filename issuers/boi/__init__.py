"""Office of the Board of Investment (สำนักงานคณะกรรมการส่งเสริมการลงทุน): a certified statement of a
company's investment-promotion certificate (บัตรส่งเสริมการลงทุน).

The promotion certificate is issued to a juristic person; investors, many of them foreign, ask
for a certified statement of it to show banks, customs and partners. On Tra it is asked for by
one of the company's authorised representatives as the BOI lists them (a Thai national ID or a
passport), checked at issue time. English is the BOI's working language with foreign investors,
so the document puts English first and Thai second.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

from issuers.amounts import capital_texts
from issuers.company import CompanyIssuer, requester_content
from issuers.juristic import PersonEntry, iso_date, parse_people, required_text, text_pairs, whole_number
from issuers.sample_people import COMPANY_A, COMPANY_C, SCHMIDT, YAMADA, asked_by
from portal.issuing import (
    ConsentText,
    DocumentInfo,
    DocumentType,
    Record,
    RegistryRejected,
    SampleCase,
)

LABEL = "BOI"

#: Incentive groups of the BOI's activity list (A1+ the most privileged, B no income-tax holiday).
INCENTIVE_GROUPS = ("A1+", "A1", "A2", "A3", "A4", "B")
_CATEGORY_CODE = re.compile(r"[0-9]{1,2}(\.[0-9]{1,2}){1,3}")

PROMOTION_CERTIFICATE = DocumentType(
    id="promotion-certificate",
    title_th="หนังสือรับรองบัตรส่งเสริมการลงทุน",
    title_en="Certified Statement of Investment Promotion Certificate",
    summary_th="รับรองรายการในบัตรส่งเสริมการลงทุนของบริษัท ได้แก่ กิจการที่ได้รับการส่งเสริม ผลิตภัณฑ์ "
    "ที่ตั้ง สิทธิและประโยชน์ และเงื่อนไข ตามทะเบียนของสำนักงานคณะกรรมการส่งเสริมการลงทุน "
    "ขอได้โดยผู้รับมอบอำนาจของบริษัท",
    summary_en="Certifies the particulars of a company's investment promotion certificate (promoted "
    "activity, products, location, incentives and conditions) as recorded by the Board of "
    "Investment. Requested by the company's authorised representative.",
    audience="investor",
    validity_days=90,
    template="issuers/boi/promotion_certificate.html",
    consent=ConsentText(
        version="boi-promotion-certificate-1",
        fields_th=(
            "ชื่อบริษัท เลขทะเบียนนิติบุคคล และเลขที่บัตรส่งเสริม",
            "กิจการที่ได้รับการส่งเสริม ประเภทกิจการ ผลิตภัณฑ์ และที่ตั้งโครงการ",
            "ทุนจดทะเบียนและสัดส่วนการถือหุ้นของชาวต่างชาติ",
            "สิทธิและประโยชน์ และเงื่อนไขของบัตรส่งเสริม",
            "รายการของท่านในฐานะผู้รับมอบอำนาจ เพื่อตรวจสอบอำนาจในการขอหนังสือรับรอง",
        ),
        fields_en=(
            "Company name, registration number and promotion certificate number",
            "Promoted activity, its category, products and project location",
            "Registered capital and foreign shareholding",
            "Incentives and conditions of the certificate",
            "Your own entry as authorised representative, to check that you may ask",
        ),
        purpose_th="เพื่อออกหนังสือรับรองบัตรส่งเสริมการลงทุนของบริษัทที่ท่านเป็นผู้รับมอบอำนาจ",
        purpose_en="To issue a certified statement of the promotion certificate of the company you represent",
    ),
    fee_baht=0,
)

SIGNATORY = {
    "name_th": "นายธีระ ตัวอย่าง",
    "name_en": "Mr. Theera Tuayang",
    "position_th": "ผู้อำนวยการกองบริการลงทุน",
    "position_en": "Director, Investment Services Division",
    "on_behalf_th": "ปฏิบัติราชการแทน เลขาธิการคณะกรรมการส่งเสริมการลงทุน",
    "on_behalf_en": "for the Secretary-General, Board of Investment",
}


class BoiIssuer(CompanyIssuer):
    """Reads promotion records from the BOI register over HTTP, and vouches for investor mandates."""

    id: ClassVar[str] = "boi"
    name_th: ClassVar[str] = "สำนักงานคณะกรรมการส่งเสริมการลงทุน"
    name_en: ClassVar[str] = "Office of the Board of Investment"
    ministry_th: ClassVar[str] = "สำนักนายกรัฐมนตรี"
    ministry_en: ClassVar[str] = "Office of the Prime Minister"
    address_th: ClassVar[str] = "555 ถนนวิภาวดีรังสิต แขวงจตุจักร เขตจตุจักร กรุงเทพมหานคร 10900"
    address_en: ClassVar[str] = "555 Vibhavadi-Rangsit Road, Chatuchak, Bangkok 10900"
    document_types: ClassVar[tuple[DocumentType, ...]] = (PROMOTION_CERTIFICATE,)
    template_folder: ClassVar[Path] = Path(__file__).with_name("templates")
    provides_mandates: ClassVar[tuple[str, ...]] = ("investor",)
    sample_registry_factory: ClassVar[str] = "issuers.boi.sample_registry:create_registry_app"
    company_path: ClassVar[str] = "/promotions/{juristic_id}"
    document_name: ClassVar[str] = "a promotion certificate"
    record_name: ClassVar[str] = "a promotion record"
    no_record: ClassVar[str] = "the BOI has no promotion certificate for this company"
    mandates_path: ClassVar[str] = "/people/{identifier}/companies"
    mandates_key: ClassVar[str] = "companies"

    @classmethod
    def sample_cases(cls) -> tuple[SampleCase, ...]:
        return (
            SampleCase(
                PROMOTION_CERTIFICATE.id,
                subject=asked_by(COMPANY_A, YAMADA),
                other=asked_by(COMPANY_C, SCHMIDT),
            ),
        )

    def people(self, body: Mapping[str, Any]) -> list[PersonEntry]:
        """The authorised representatives (at least one list, possibly empty)."""
        return parse_people(body.get("representatives"), role="authorised_representative", label=LABEL)

    def particulars(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The certificate's particulars, each checked; RegistryRejected for anything unusable."""
        if body.get("incentive_group") not in INCENTIVE_GROUPS:
            raise RegistryRejected("BOI registry sent a record with an unknown incentive group")
        code = body.get("category_code")
        if not isinstance(code, str) or not _CATEGORY_CODE.fullmatch(code):
            raise RegistryRejected("BOI registry sent a record with an unusable category code")
        return {
            "juristic_id": body["juristic_id"],
            "incentive_group": body["incentive_group"],
            "category_code": code,
            "approved_on": iso_date(body, "approved_on", LABEL),
            "issued_on": iso_date(body, "issued_on", LABEL),
            "registered_capital_baht": whole_number(body, "registered_capital_baht", LABEL),
            "foreign_share_percent": whole_number(body, "foreign_share_percent", LABEL, maximum=100),
            "products": text_pairs(body, "products", LABEL),
            "incentives": text_pairs(body, "incentives", LABEL),
            "conditions": text_pairs(body, "conditions", LABEL),
            **{
                key: required_text(body, key, LABEL)
                for key in (
                    "certificate_no",
                    "name_th",
                    "name_en",
                    "activity_th",
                    "activity_en",
                    "section_th",
                    "section_en",
                    "location_th",
                    "location_en",
                )
            },
        }

    def content(self, document_type: DocumentType, record: Record, document: DocumentInfo) -> dict[str, Any]:
        data = record.data

        def pairs(key: str) -> list[dict[str, str]]:
            return [{"th": th, "en": en} for th, en in data[key]]

        return {
            "promotion": {
                "certificate_no": data["certificate_no"],
                "company_name_th": data["name_th"],
                "company_name_en": data["name_en"],
                "juristic_id": data["juristic_id"],
                "approved_on": date.fromisoformat(data["approved_on"]),
                "issued_on": date.fromisoformat(data["issued_on"]),
                "activity_th": data["activity_th"],
                "activity_en": data["activity_en"],
                "category_code": data["category_code"],
                "section_th": data["section_th"],
                "section_en": data["section_en"],
                "incentive_group": data["incentive_group"],
                "location_th": data["location_th"],
                "location_en": data["location_en"],
                **capital_texts(int(data["registered_capital_baht"])),
                "foreign_share_percent": int(data["foreign_share_percent"]),
            },
            "products": pairs("products"),
            "incentives": pairs("incentives"),
            "conditions": pairs("conditions"),
            "requester": requester_content(data),
            "signatory": SIGNATORY,
        }
