"""The sample people the development identity provider can log in as.

Their national IDs carry valid check digits and match the sample DLT registry records, so each
person leads to a different answer from the driving-licence issuer.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.rendering.dates import format_pid

__all__ = ["SAMPLE_PEOPLE", "SamplePerson", "find_person"]


@dataclass(frozen=True)
class SamplePerson:
    """One person the development identity provider can vouch for."""

    sub: str
    """Subject identifier, stable and unique within this provider."""
    pid: str
    """13-digit Thai national ID (the ``pid`` claim, as ThaID sends it)."""
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

    @property
    def formatted_pid(self) -> str:
        """The national ID as printed on the card."""
        return format_pid(self.pid)

    def note(self, language: str) -> str:
        """The demo note in ``language`` ("th" or anything else for English)."""
        return self.note_th if language == "th" else self.note_en

    def claims(self) -> dict[str, str]:
        """The identity claims the provider releases for this person (ID token and userinfo)."""
        return {
            "sub": self.sub,
            "name": self.name,
            "name_en": self.name_en,
            "email": self.email,
            "pid": self.pid,
        }


SAMPLE_PEOPLE: tuple[SamplePerson, ...] = (
    SamplePerson(
        sub="dev-somchai",
        pid="1101700123456",
        name="นายสมชาย ใจดี",
        name_en="Mr. Somchai Jaidee",
        email="somchai@example.test",
        note_th="มีใบขับขี่รถยนต์และรถจักรยานยนต์",
        note_en="Holds car and motorcycle licences",
    ),
    SamplePerson(
        sub="dev-somying",
        pid="3100500678905",
        name="นางสาวสมหญิง รักไทย",
        name_en="Ms. Somying Rakthai",
        email="somying@example.test",
        note_th="มีใบขับขี่รถยนต์ชั่วคราว",
        note_en="Holds a temporary car licence",
    ),
    SamplePerson(
        sub="dev-arunee",
        pid="1101400555555",
        name="นางอรุณี แก้วมณี",
        name_en="Mrs. Arunee Kaewmanee",
        email="arunee@example.test",
        note_th="มีใบขับขี่สาธารณะหมดอายุหนึ่งใบ และที่ยังใช้ได้อีกสองใบ",
        note_en="One expired public licence and two valid ones",
    ),
    SamplePerson(
        sub="dev-wichai",
        pid="5709900124574",
        name="นายวิชัย ศรีสุข",
        name_en="Mr. Wichai Srisuk",
        email="wichai@example.test",
        note_th="ไม่มีใบขับขี่ (แสดงคำตอบ “ไม่พบข้อมูล”)",
        note_en="No driving licence (shows the “no record” answer)",
    ),
)


def find_person(sub: str | None) -> SamplePerson | None:
    """The sample person with subject ``sub``, or ``None``."""
    for person in SAMPLE_PEOPLE:
        if person.sub == sub:
            return person
    return None
