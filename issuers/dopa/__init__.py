"""Department of Provincial Administration (กรมการปกครอง): house-registration extract.

The document certifies the house in which a citizen is registered (house code, address, type)
and the residents the DOPA register lists for that house, as a point-in-time extract in the
spirit of the ท.ร.14/1 certified entry (docs: /work/shared/DOCUMENTS.md, section 4). Only the
citizen named in it may request it (audience ``citizen``, ``Subject(pid=...)``).

Privacy, decided from what the house page holds: the other residents' national IDs, birth
dates, parents and move-in history are *their* personal data, and this extract is handed to a
bank, a school or an employer who needs the requester's entry and nothing more. So:

- the requester's own row is printed in full (ID, sex, nationality, birth date and age, status,
  move-in date);
- every other resident is shown only by name and status (head of household or resident), so
  the reader sees who the household is, with the national ID masked to its first and last digit
  (``1-xxxx-xxxxx-xx-6``: enough to tell two people of the same name apart, not enough to use the
  number) and the birth date cut to the year; their sex, nationality and move-in date are left
  out. Parents' names and IDs are never read into the document at all.

The same masking applies when the requester is the head of household: the extract is about the
requester and travels outside the house, and each resident can request their own. Masking happens
in :meth:`DopaIssuer.fetch_record`, so neither the record nor the embedded ``data.json`` ever holds
another resident's full ID or birth date. Their IDs go only into ``Record.named_people``, so that
each of them sees the read in "Who read my data".
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

from issuers.sample_people import ARUNEE, SOMCHAI
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
from portal.issuing.thai import BE_OFFSET

HOUSE_REGISTRATION = DocumentType(
    id="house-registration",
    title_th="หนังสือรับรองรายการทะเบียนบ้าน",
    title_en="House Registration Extract",
    summary_th="รับรองบ้านที่ท่านมีชื่ออยู่ในทะเบียนบ้าน (เลขรหัสประจำบ้าน ที่อยู่ ประเภทบ้าน) และรายการบุคคลของท่าน "
    "พร้อมรายชื่อผู้อยู่ในบ้านเดียวกัน (ข้อมูลของผู้อื่นแสดงเพียงบางส่วน) ตามทะเบียนราษฎร ณ วันที่ออกหนังสือ",
    summary_en="Certifies the house you are registered in (house code, address, type) and your entry, "
    "with the other residents of the house (partly masked), as recorded in the civil register on the "
    "day of issue.",
    audience="citizen",
    validity_days=90,
    template="issuers/dopa/house_registration.html",
    consent=ConsentText(
        version="dopa-house-registration-1",
        fields_th=(
            "ชื่อ-นามสกุล เลขประจำตัวประชาชน เพศ สัญชาติ และวันเกิดของท่าน",
            "สถานภาพในบ้านและวันที่ย้ายเข้าของท่าน",
            "เลขรหัสประจำบ้าน บ้านเลขที่ ที่อยู่ ประเภทบ้าน และสำนักทะเบียน",
            "ชื่อและสถานภาพของผู้อยู่ในบ้านเดียวกัน (เลขประจำตัวประชาชนแบบปิดบางส่วน และปีเกิด)",
        ),
        fields_en=(
            "Your name, national ID number, sex, nationality and date of birth",
            "Your status in the house and the date you moved in",
            "House code, house number, address, house type and registration office",
            "Names and status of the other residents of the house (masked ID number, year of birth)",
        ),
        purpose_th="เพื่อออกหนังสือรับรองรายการทะเบียนบ้านในนามของท่าน",
        purpose_en="To issue a house registration extract in your name",
    ),
    fee_baht=0,
)

SIGNATORY = {
    "name_th": "นายประเสริฐ ตัวอย่าง",
    "name_en": "Mr. Prasert Tuayang",
    "position_th": "ผู้อำนวยการสำนักบริหารการทะเบียน",
    "position_en": "Director, Bureau of Registration Administration",
    "on_behalf_th": "ปฏิบัติราชการแทน อธิบดีกรมการปกครอง",
    "on_behalf_en": "for the Director-General, Department of Provincial Administration",
}

#: Sex as the register codes it: (Thai, English).
SEXES: dict[str, tuple[str, str]] = {"M": ("ชาย", "Male"), "F": ("หญิง", "Female")}

_PID = re.compile(r"[0-9]{13}")
_HOUSE_CODE = re.compile(r"[0-9]{11}")


def mask_pid(pid: str) -> str:
    """Another resident's national ID as printed: first and last digit only (``1-xxxx-xxxxx-xx-6``)."""
    return f"{pid[0]}-xxxx-xxxxx-xx-{pid[12]}"


def format_house_code(code: str) -> str:
    """The 11-digit house code as the register prints it: ``dddd-dddddd-d``."""
    return f"{code[:4]}-{code[4:10]}-{code[10]}"


def _text(item: dict, key: str) -> str:
    value = item[key]
    if not isinstance(value, str) or not value.strip():
        raise RegistryRejected(f"DOPA registry sent a house record with an unusable {key}")
    return value.strip()


def _date(item: dict, key: str) -> date:
    value = item[key]
    if not isinstance(value, str):
        raise RegistryRejected(f"DOPA registry sent a house record with an unusable {key}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RegistryRejected(f"DOPA registry sent a house record with an unusable {key}") from None


def _pid(item: dict) -> str:
    value = item["pid"]
    if not isinstance(value, str) or not _PID.fullmatch(value):
        raise RegistryRejected("DOPA registry sent a resident without a 13-digit national ID")
    return value


def _age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


class DopaIssuer(RegistryIssuer):
    """Reads house pages from the DOPA civil register over HTTP."""

    id: ClassVar[str] = "dopa"
    name_th: ClassVar[str] = "กรมการปกครอง"
    name_en: ClassVar[str] = "Department of Provincial Administration"
    ministry_th: ClassVar[str] = "กระทรวงมหาดไทย"
    ministry_en: ClassVar[str] = "Ministry of Interior"
    address_th: ClassVar[str] = "ถนนอัษฎางค์ แขวงวังบูรพาภิรมย์ เขตพระนคร กรุงเทพมหานคร 10200"
    address_en: ClassVar[str] = "Atsadang Road, Wang Burapha Phirom, Phra Nakhon, Bangkok 10200"
    number_prefix: ClassVar[str] = "มท"
    document_types: ClassVar[tuple[DocumentType, ...]] = (HOUSE_REGISTRATION,)
    template_folder: ClassVar[Path] = Path(__file__).with_name("templates")
    sample_registry_factory: ClassVar[str] = "issuers.dopa.sample_registry:create_registry_app"
    unusable_record: ClassVar[str] = "a house record"

    @classmethod
    def sample_cases(cls) -> tuple[SampleCase, ...]:
        return (SampleCase(HOUSE_REGISTRATION.id, subject=SOMCHAI, other=ARUNEE),)

    def fetch_record(self, document_type: DocumentType, subject: Subject) -> Record:
        body = self.read_registry(
            "/houses/by-resident/{pid}",
            {"pid": subject.pid},
            not_found="the DOPA has no house registration for this person",
        )
        try:
            return self._record(body, subject)
        except (KeyError, TypeError, AttributeError) as exc:
            raise RegistryRejected("DOPA registry sent a house record we cannot read") from exc

    def _record(self, body: dict, subject: Subject) -> Record:
        if not isinstance(body, dict) or not isinstance(body["members"], list):
            raise RegistryRejected("DOPA registry sent a house record we cannot read")
        code = _text(body, "house_code").replace("-", "")
        if not _HOUSE_CODE.fullmatch(code):
            raise RegistryRejected("DOPA registry sent a house code that is not 11 digits")
        house = {
            "code": format_house_code(code),
            "house_no": _text(body, "house_no"),
            "address_th": _text(body, "address_th"),
            "address_en": _text(body, "address_en"),
            "type_th": _text(body, "house_type_th"),
            "type_en": _text(body, "house_type_en"),
            "registry_office_th": _text(body, "registry_office_th"),
            "registry_office_en": _text(body, "registry_office_en"),
        }
        resident: dict[str, Any] | None = None
        members: list[dict[str, Any]] = []
        others: list[str] = []
        for item in body["members"]:
            pid = _pid(item)
            row = {
                "name_th": _text(item, "name_th"),
                "name_en": _text(item, "name_en"),
                "relation_th": _text(item, "relation_th"),
                "relation_en": _text(item, "relation_en"),
            }
            birth = _date(item, "birth_date")
            if pid == subject.pid and resident is None:
                sex = item["sex"]
                if sex not in SEXES:
                    raise RegistryRejected("DOPA registry sent a resident whose sex is not coded M or F")
                resident = row | {
                    "pid": pid,
                    "sex_th": SEXES[sex][0],
                    "sex_en": SEXES[sex][1],
                    "nationality_th": _text(item, "nationality_th"),
                    "nationality_en": _text(item, "nationality_en"),
                    "birth_date": birth,
                    "moved_in_on": _date(item, "moved_in_on"),
                }
                members.append(row | {"is_requester": True, "pid": pid, "birth_date": birth})
            else:
                # Masked here, before anything downstream (template, data.json) sees it.
                members.append(
                    row | {"is_requester": False, "pid_masked": mask_pid(pid), "birth_year": birth.year}
                )
                if pid != subject.pid and pid not in others:
                    others.append(pid)
        if resident is None:
            raise RegistryRejected("DOPA registry returned a house in which this person is not registered")
        return Record(
            reference=_text(body, "record_id"),
            holder_name_th=resident["name_th"],
            holder_name_en=resident["name_en"],
            data={"house": house, "resident": resident, "members": members},
            named_people=tuple(others),
        )

    def content(self, document_type: DocumentType, record: Record, document: DocumentInfo) -> dict[str, Any]:
        resident = dict(record.data["resident"])
        resident["age"] = _age_on(resident["birth_date"], document.issued_at.date())
        members = []
        for row in record.data["members"]:
            row = dict(row)
            if "birth_year" in row:
                row["birth_year_be"] = row["birth_year"] + BE_OFFSET
            members.append(row)
        return {
            "house": dict(record.data["house"]),
            "holder": resident,
            "members": members,
            "signatory": SIGNATORY,
        }
