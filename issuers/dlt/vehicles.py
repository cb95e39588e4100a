"""DLT vehicle registration certificate (รายการจดทะเบียนรถ): every vehicle registered to an owner.

A point-in-time certificate listing, for each vehicle the DLT register holds for the owner, the
facts of the registration book's "รายการจดทะเบียน" page (/work/shared/DOCUMENTS.md, section 2):
plate and province, type with its code (รย.1 …), brand, model, model year (C.E., as the book
prints it), colour, fuel and engine size, chassis number (VIN), registration date, the date of
possession, the legal owner when it is not the holder (a finance company on a hire-purchase
car) and the date up to which the annual tax is paid.

Two audiences, one template: a ``DocumentType`` has one audience, so there are two types.

- ``vehicle-registration`` (citizen): a person's own vehicles, ``Subject(pid=...)``.
- ``company-vehicle-registration`` (business): a company's vehicles, asked by a director or
  representative, ``Subject(juristic_id=..., requester=Requester(...))``. The DLT register knows
  owners, not who may act for a company, so this issuer cannot check the mandate and does not
  raise ``NotAuthorised``: the portal checks it with the DBD registry (the mandate source)
  before it asks the DLT. The certificate prints who requested it and "acting for" the company.

The VIN is masked except its last five characters: the full number is what a cloned plate or
a fraudulent re-registration needs, while the last five are enough to match the certificate to
the car in front of you.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from portal.issuing import ConsentText, DocumentType, Record, RegistryRejected, Subject
from portal.issuing.thai import format_pid

__all__ = [
    "COMPANY_VEHICLE_REGISTRATION",
    "VEHICLE_REGISTRATION",
    "VEHICLE_TYPES",
    "mask_vin",
    "vehicle_content",
    "vehicle_record",
]

TEMPLATE = "issuers/dlt/vehicle_registration.html"

_FIELDS_TH = (
    "ชื่อ และเลขประจำตัวของเจ้าของรถ",
    "เลขทะเบียน จังหวัด ประเภท ยี่ห้อ แบบ รุ่นปี สี เชื้อเพลิง และขนาดเครื่องยนต์ของรถแต่ละคัน",
    "เลขตัวรถ (แสดง 5 หลักท้าย)",
    "วันจดทะเบียน วันที่ครอบครอง ผู้ถือกรรมสิทธิ์ และวันที่ชำระภาษีถึง",
)
_FIELDS_EN = (
    "Name and ID number of the registered owner",
    "Plate, province, type, brand, model, model year, colour, fuel and engine size of each vehicle",
    "Chassis number (VIN; last 5 characters shown)",
    "Registration date, date of possession, legal owner and date up to which tax is paid",
)

VEHICLE_REGISTRATION = DocumentType(
    id="vehicle-registration",
    title_th="หนังสือรับรองรายการจดทะเบียนรถ",
    title_en="Vehicle Registration Certificate",
    summary_th="รับรองรายการจดทะเบียนรถทุกคันที่จดทะเบียนในนามของท่าน ตามทะเบียนของกรมการขนส่งทางบก ณ วันที่ออกหนังสือ",
    summary_en="Certifies every vehicle registered in your name, with its registration particulars, as "
    "recorded by the Department of Land Transport on the day of issue.",
    audience="citizen",
    validity_days=90,
    template=TEMPLATE,
    consent=ConsentText(
        version="dlt-vehicle-registration-1",
        fields_th=_FIELDS_TH,
        fields_en=_FIELDS_EN,
        purpose_th="เพื่อออกหนังสือรับรองรายการจดทะเบียนรถในนามของท่าน",
        purpose_en="To issue a vehicle registration certificate in your name",
    ),
    fee_baht=0,
)

COMPANY_VEHICLE_REGISTRATION = DocumentType(
    id="company-vehicle-registration",
    title_th="หนังสือรับรองรายการจดทะเบียนรถของนิติบุคคล",
    title_en="Company Vehicle Registration Certificate",
    summary_th="รับรองรายการจดทะเบียนรถทุกคันที่จดทะเบียนในนามของนิติบุคคล ขอได้โดยกรรมการหรือผู้มีอำนาจกระทำการแทน",
    summary_en="Certifies every vehicle registered to a company, with its registration particulars; "
    "requested by a director or authorised representative.",
    audience="business",
    validity_days=90,
    template=TEMPLATE,
    consent=ConsentText(
        version="dlt-company-vehicle-registration-1",
        fields_th=(*_FIELDS_TH, "ชื่อและเลขประจำตัวของผู้ยื่นคำขอ (พิมพ์ในหนังสือ)"),
        fields_en=(*_FIELDS_EN, "Your name and ID number as the requester (printed on the certificate)"),
        purpose_th="เพื่อออกหนังสือรับรองรายการจดทะเบียนรถของนิติบุคคลที่ท่านกระทำการแทน",
        purpose_en="To issue a vehicle registration certificate for the company you act for",
    ),
    fee_baht=0,
)

#: The DLT's vehicle type codes (พ.ร.บ. รถยนต์ พ.ศ. 2522) the template knows how to name in both
#: languages when the registry sends only the code.
VEHICLE_TYPES: dict[str, tuple[str, str]] = {
    "รย.1": ("รถยนต์นั่งส่วนบุคคลไม่เกิน 7 คน", "Private car, up to 7 passengers"),
    "รย.2": ("รถยนต์นั่งส่วนบุคคลเกิน 7 คน", "Private passenger van, over 7 passengers"),
    "รย.3": ("รถยนต์บรรทุกส่วนบุคคล", "Private truck (pickup)"),
    "รย.12": ("รถจักรยานยนต์ส่วนบุคคล", "Private motorcycle"),
}

_TEXT = ("plate", "province_th", "province_en", "type_code", "brand", "model", "colour_th", "colour_en")
_TEXT += ("fuel_th", "fuel_en")


def mask_vin(vin: str) -> str:
    """The chassis number as printed: every character but the last five replaced by ``x``."""
    return "x" * (len(vin) - 5) + vin[-5:]


def _rejected(what: str) -> RegistryRejected:
    return RegistryRejected(f"DLT registry sent a vehicle record with an unusable {what}")


def _text(item: dict, key: str) -> str:
    value = item[key]
    if not isinstance(value, str) or not value.strip():
        raise _rejected(key)
    return value.strip()


def _date(item: dict, key: str) -> date:
    value = item[key]
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise _rejected(key) from None


def _whole(item: dict, key: str, low: int, high: int) -> int:
    value = item[key]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _rejected(key)
    return value


def _vehicle(item: dict) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise _rejected("vehicle")
    vehicle: dict[str, Any] = {key: _text(item, key) for key in _TEXT}
    code = vehicle["type_code"]
    known_th, known_en = VEHICLE_TYPES.get(code, (None, None))
    vehicle["type_th"] = item.get("type_th") or known_th
    vehicle["type_en"] = item.get("type_en") or known_en
    if not isinstance(vehicle["type_th"], str) or not isinstance(vehicle["type_en"], str):
        raise _rejected("type")
    vin = _text(item, "vin")
    if len(vin) < 8 or not vin.isalnum():
        raise _rejected("chassis number")
    # Masked here: neither the record nor the embedded data.json holds the full number.
    vehicle["vin_masked"] = mask_vin(vin.upper())
    vehicle["model_year"] = _whole(item, "model_year", 1900, 2200)
    vehicle["engine_cc"] = _whole(item, "engine_cc", 1, 100_000)
    vehicle["registered_on"] = _date(item, "registered_on")
    vehicle["possessed_on"] = _date(item, "possessed_on")
    vehicle["tax_paid_until"] = _date(item, "tax_paid_until")
    legal_th, legal_en = item.get("legal_owner_th"), item.get("legal_owner_en")
    if legal_th is None and legal_en is None:
        vehicle["legal_owner"] = None
    else:
        vehicle["legal_owner"] = {
            "name_th": _text(item, "legal_owner_th"),
            "name_en": _text(item, "legal_owner_en"),
        }
    return vehicle


def _requester(subject: Subject) -> dict[str, Any]:
    requester = subject.requester
    if requester is None:
        raise ValueError("a company's vehicle certificate needs the requester (Subject.requester)")
    if requester.pid:
        id_th, id_en = (
            f"เลขประจำตัวประชาชน {format_pid(requester.pid)}",
            f"citizen ID {format_pid(requester.pid)}",
        )
    else:
        id_th = f"หนังสือเดินทาง {requester.passport_number} ({requester.nationality})"
        id_en = f"passport {requester.passport_number} ({requester.nationality})"
    return {
        "name_th": requester.name_th or requester.name_en or requester.identifier,
        "name_en": requester.name_en or requester.identifier,
        "id_th": id_th,
        "id_en": id_en,
    }


def vehicle_record(body: Any, subject: Subject) -> Record:
    """The Record of a ``/vehicles/by-owner/<id>`` answer for ``subject`` (a person or a company).

    Raises RegistryRejected for another owner's record or anything we cannot read.
    """
    try:
        owner = body["owner"]
        if owner["id"] != subject.id:
            raise RegistryRejected("DLT registry returned another owner's vehicles")
        if owner["kind"] != subject.kind:
            raise RegistryRejected("DLT registry returned an owner of the wrong kind")
        if not isinstance(body["vehicles"], list):
            raise _rejected("vehicle list")
        data: dict[str, Any] = {
            "owner": {"id": owner["id"], "kind": owner["kind"]},
            "vehicles": [_vehicle(item) for item in body["vehicles"]],
        }
        if subject.kind == "company":
            data["requester"] = _requester(subject)
        return Record(
            reference=_text(body, "record_id"),
            holder_name_th=_text(owner, "name_th"),
            holder_name_en=_text(owner, "name_en"),
            data=data,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise RegistryRejected("DLT registry sent a vehicle record we cannot read") from exc


def vehicle_content(record: Record, as_of: date) -> dict[str, Any]:
    """The template's owner, vehicles and requester (see vehicle_registration.html)."""
    owner = record.data["owner"]
    vehicles = []
    for item in record.data["vehicles"]:
        paid = item["tax_paid_until"] >= as_of
        vehicles.append(
            dict(item)
            | {
                "tax_status_th": "ชำระแล้ว" if paid else "ค้างชำระ",
                "tax_status_en": "Paid" if paid else "Overdue",
            }
        )
    return {
        "holder": {
            "name_th": record.holder_name_th,
            "name_en": record.holder_name_en,
            "kind": owner["kind"],
            "id": owner["id"],
        },
        "vehicles": vehicles,
        "requester": record.data.get("requester"),
    }
