"""Department of Land Transport (กรมการขนส่งทางบก): driving-licence certificate, and the vehicle
registration certificates of a person or a company (issuers/dlt/vehicles.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, ClassVar

from issuers.sample_people import COMPANY_A, COMPANY_B, SOMCHAI, SOMYING, WICHAI, asked_by
from portal.issuing import (
    ConsentText,
    DocumentInfo,
    DocumentType,
    Record,
    RegistryRejected,
    SampleCase,
    Subject,
)
from portal.issuing.registry_issuer import RegistryIssuer

from .vehicles import COMPANY_VEHICLE_REGISTRATION, VEHICLE_REGISTRATION, vehicle_content, vehicle_record

#: The vehicle certificates (a person's, a company's): one registry call, one template.
VEHICLE_TYPE_IDS = frozenset({VEHICLE_REGISTRATION.id, COMPANY_VEHICLE_REGISTRATION.id})

#: Licence kinds as the registry codes them: (Thai, English).
LICENCE_KINDS: dict[str, tuple[str, str]] = {
    "temporary_car": ("ใบอนุญาตขับรถยนต์ชั่วคราว", "Temporary Car Driving Licence"),
    "private_car": ("ใบอนุญาตขับรถยนต์ส่วนบุคคล", "Private Car Driving Licence"),
    "public_car": ("ใบอนุญาตขับรถยนต์สาธารณะ", "Public Car Driving Licence"),
    "temporary_motorcycle": ("ใบอนุญาตขับรถจักรยานยนต์ชั่วคราว", "Temporary Motorcycle Driving Licence"),
    "private_motorcycle": ("ใบอนุญาตขับรถจักรยานยนต์ส่วนบุคคล", "Private Motorcycle Driving Licence"),
    "public_motorcycle": ("ใบอนุญาตขับรถจักรยานยนต์สาธารณะ", "Public Motorcycle Driving Licence"),
    "private_tricycle": ("ใบอนุญาตขับรถยนต์สามล้อส่วนบุคคล", "Private Tricycle Driving Licence"),
    "international": ("ใบอนุญาตขับรถระหว่างประเทศ", "International Driving Permit"),
}

DRIVING_LICENCE = DocumentType(
    id="driving-licence",
    title_th="หนังสือรับรองใบอนุญาตขับรถ",
    title_en="Driving Licence Certificate",
    summary_th="รับรองข้อมูลใบอนุญาตขับรถทุกประเภทที่ท่านถืออยู่ ตามทะเบียนของกรมการขนส่งทางบก ณ วันที่ออกหนังสือ",
    summary_en="Certifies every driving licence you hold, as recorded by the Department of Land "
    "Transport on the day of issue.",
    audience="citizen",
    validity_days=90,
    template="issuers/dlt/driving_licence.html",
    consent=ConsentText(
        version="dlt-driving-licence-1",
        fields_th=(
            "ชื่อ-นามสกุล (ไทยและอังกฤษ)",
            "เลขประจำตัวประชาชน",
            "วันเกิด",
            "ประเภท เลขที่ วันออก และวันหมดอายุของใบอนุญาตขับรถ",
        ),
        fields_en=(
            "Name (Thai and English)",
            "National ID number",
            "Date of birth",
            "Kind, number, issue and expiry dates of your driving licences",
        ),
        purpose_th="เพื่อออกหนังสือรับรองใบอนุญาตขับรถในนามของท่าน",
        purpose_en="To issue a driving licence certificate in your name",
    ),
    fee_baht=0,
)

SIGNATORY = {
    "name_th": "นางสาวกานดา ตัวอย่าง",
    "name_en": "Ms. Kanda Tuayang",
    "position_th": "ผู้อำนวยการสำนักทะเบียนและภาษีรถ",
    "position_en": "Director, Bureau of Registration and Vehicle Tax",
    "on_behalf_th": "ปฏิบัติราชการแทน อธิบดีกรมการขนส่งทางบก",
    "on_behalf_en": "for the Director-General, Department of Land Transport",
}


class DltIssuer(RegistryIssuer):
    """Reads licence records from the DLT registry over HTTP."""

    id: ClassVar[str] = "dlt"
    name_th: ClassVar[str] = "กรมการขนส่งทางบก"
    name_en: ClassVar[str] = "Department of Land Transport"
    ministry_th: ClassVar[str] = "กระทรวงคมนาคม"
    ministry_en: ClassVar[str] = "Ministry of Transport"
    address_th: ClassVar[str] = "1032 ถนนพหลโยธิน แขวงจอมพล เขตจตุจักร กรุงเทพมหานคร 10900"
    address_en: ClassVar[str] = "1032 Phahonyothin Road, Chom Phon, Chatuchak, Bangkok 10900"
    number_prefix: ClassVar[str] = "ขบ"
    document_types: ClassVar[tuple[DocumentType, ...]] = (
        DRIVING_LICENCE,
        VEHICLE_REGISTRATION,
        COMPANY_VEHICLE_REGISTRATION,
    )
    template_folder: ClassVar[Path] = Path(__file__).with_name("templates")
    sample_registry_factory: ClassVar[str] = "issuers.dlt.sample_registry:create_registry_app"

    @classmethod
    def sample_cases(cls) -> tuple[SampleCase, ...]:
        return (
            SampleCase(DRIVING_LICENCE.id, subject=SOMCHAI, other=SOMYING),
            SampleCase(VEHICLE_REGISTRATION.id, subject=SOMCHAI, other=SOMYING),
            SampleCase(
                COMPANY_VEHICLE_REGISTRATION.id,
                subject=asked_by(COMPANY_A, SOMCHAI),
                other=asked_by(COMPANY_B, WICHAI),
            ),
        )

    def fetch_record(self, document_type: DocumentType, subject: Subject) -> Record:
        if document_type.id in VEHICLE_TYPE_IDS:
            return self._fetch_vehicles(subject)
        body = self.read_registry(
            "/licences/{pid}",
            {"pid": subject.pid},
            not_found="the DLT has no driving-licence record for this person",
        )
        try:
            if body["pid"] != subject.pid:
                raise RegistryRejected("DLT registry returned another person's record")
            return Record(
                reference=body["record_id"],
                holder_name_th=body["name_th"],
                holder_name_en=body["name_en"],
                data={
                    "pid": body["pid"],
                    "birth_date": body["birth_date"],
                    "licences": list(body["licences"]),
                },
            )
        except (KeyError, TypeError) as exc:
            raise RegistryRejected("DLT registry sent a record we cannot read") from exc

    def _fetch_vehicles(self, subject: Subject) -> Record:
        # A person's vehicles by national ID, a company's by juristic ID: one endpoint. The
        # company's mandate was checked by the portal with the DBD (see issuers/dlt/vehicles.py).
        body = self.read_registry(
            "/vehicles/by-owner/{owner_id}",
            {"owner_id": subject.id},
            not_found="the DLT has no vehicle registered to this owner",
        )
        return vehicle_record(body, subject)

    def content(self, document_type: DocumentType, record: Record, document: DocumentInfo) -> dict[str, Any]:
        as_of = document.issued_at.date()
        if document_type.id in VEHICLE_TYPE_IDS:
            return vehicle_content(record, as_of) | {"signatory": SIGNATORY}
        licences = []
        for item in record.data["licences"]:
            kind_th, kind_en = LICENCE_KINDS.get(item["kind"], (item["kind"], item["kind"]))
            expires_on = date.fromisoformat(item["expires_on"])
            valid = expires_on >= as_of
            licences.append(
                {
                    "kind_th": kind_th,
                    "kind_en": kind_en,
                    "number": item["number"],
                    "issued_on": date.fromisoformat(item["issued_on"]),
                    "expires_on": expires_on,
                    "status_th": "ใช้ได้" if valid else "หมดอายุ",
                    "status_en": "Valid" if valid else "Expired",
                }
            )
        return {
            "holder": {
                "name_th": record.holder_name_th,
                "name_en": record.holder_name_en,
                "pid": record.data["pid"],
                "birth_date": date.fromisoformat(record.data["birth_date"]),
            },
            "licences": licences,
            "signatory": SIGNATORY,
        }
