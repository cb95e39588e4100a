"""The sample people the development identity provider can log in as.

Their national IDs carry valid check digits and match the sample registries (DLT, DOPA, DBD,
BOI), so that every audience is covered in the demo: citizens, a director who may act for a
company, a company's staff member without a mandate, and a foreign investor who logs in with a
passport (no national ID; the ``passport_number`` and ``nationality`` claims instead).
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.issuing.thai import format_pid

__all__ = ["SAMPLE_PEOPLE", "SamplePerson", "find_person"]


@dataclass(frozen=True)
class SamplePerson:
    """One person the development identity provider can vouch for."""

    sub: str
    """Subject identifier, stable and unique within this provider."""
    pid: str | None
    """13-digit Thai national ID (the ``pid`` claim, as ThaID sends it); None for a foreigner."""
    name: str
    """Full name in Thai, with title (the ``name`` claim)."""
    name_en: str
    """Full name in English, with title (the ``name_en`` claim)."""
    email: str
    """E-mail address on a reserved test domain."""
    note_th: str
    """What this person shows in the demo, in Thai."""
    note_en: str
    """What this person shows in the demo, in English."""
    passport_number: str | None = None
    """Passport number, for a person without a Thai national ID."""
    nationality: str | None = None
    """ISO 3166 alpha-3 country of the passport."""

    @property
    def formatted_pid(self) -> str:
        """The national ID as printed on the card ("" without one)."""
        return format_pid(self.pid) if self.pid else ""

    def note(self, language: str) -> str:
        """The demo note in ``language`` ("th" or anything else for English)."""
        return self.note_th if language == "th" else self.note_en

    def claims(self) -> dict[str, str]:
        """The identity claims the provider releases for this person (ID token and userinfo)."""
        claims = {
            "sub": self.sub,
            "name": self.name,
            "name_en": self.name_en,
            "email": self.email,
            "pid": self.pid,
            "passport_number": self.passport_number,
            "nationality": self.nationality,
        }
        return {name: value for name, value in claims.items() if value is not None}


SAMPLE_PEOPLE: tuple[SamplePerson, ...] = (
    SamplePerson(
        sub="dev-somchai",
        pid="1101700123456",
        name="นายสมชาย ใจดี",
        name_en="Mr. Somchai Jaidee",
        email="somchai@example.test",
        note_th="กรรมการบริษัท ตราทดสอบ จำกัด (ขอเอกสารของบริษัทได้) มีใบขับขี่รถยนต์และรถจักรยานยนต์ ทะเบียนบ้าน และรถ",
        note_en="Director of Tra Test Company Limited (may request its documents); "
        "licences, a house and vehicles",
    ),
    SamplePerson(
        sub="dev-somying",
        pid="3100500678905",
        name="นางสาวสมหญิง รักไทย",
        name_en="Ms. Somying Rakthai",
        email="somying@example.test",
        note_th="มีใบขับขี่รถยนต์ชั่วคราว อยู่ในทะเบียนบ้านของนายสมชาย มีรถหนึ่งคัน",
        note_en="Temporary car licence; lives in the house of Somchai Jaidee; owns a car",
    ),
    SamplePerson(
        sub="dev-arunee",
        pid="1101400555555",
        name="นางอรุณี แก้วมณี",
        name_en="Mrs. Arunee Kaewmanee",
        email="arunee@example.test",
        note_th="มีใบขับขี่สาธารณะหมดอายุหนึ่งใบ และที่ยังใช้ได้อีกสองใบ กรรมการบริษัท ตราทดสอบ จำกัด",
        note_en="One expired public licence and two valid ones; director of Tra Test Company Limited",
    ),
    SamplePerson(
        sub="dev-wichai",
        pid="5709900124574",
        name="นายวิชัย ศรีสุข",
        name_en="Mr. Wichai Srisuk",
        email="wichai@example.test",
        note_th="ไม่มีใบขับขี่ (แสดงคำตอบ “ไม่พบข้อมูล”) กรรมการบริษัท สยามตัวอย่าง จำกัด",
        note_en="No driving licence (shows the “no record” answer); director of Siam Sample Company Limited",
    ),
    SamplePerson(
        sub="dev-malee",
        pid="3101200987652",
        name="นางสาวมาลี ทองดี",
        name_en="Ms. Malee Thongdee",
        email="malee@example.test",
        note_th="พนักงานบริษัท ตราทดสอบ จำกัด ไม่ใช่กรรมการ (ขอเอกสารของบริษัทไม่ได้)",
        note_en="Staff of Tra Test Company Limited, not a director (may not request its documents)",
    ),
    SamplePerson(
        sub="dev-yamada",
        pid=None,
        passport_number="TK1234567",
        nationality="JPN",
        name="นายทาโร ยามาดะ",
        name_en="Mr. Taro Yamada",
        email="taro.yamada@example.test",
        note_th="นักลงทุนต่างชาติ (หนังสือเดินทาง) ผู้แทนบริษัท ตราทดสอบ จำกัด ต่อ BOI",
        note_en="Foreign investor (passport); BOI representative of Tra Test Company Limited",
    ),
)


def find_person(sub: str | None) -> SamplePerson | None:
    """The sample person with subject ``sub``, or ``None``."""
    for person in SAMPLE_PEOPLE:
        if person.sub == sub:
            return person
    return None
