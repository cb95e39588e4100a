"""The sample people and companies the built-in issuers' sample registries hold records for.

They are the demo's people (portal/devidp/people.py logs them in) and the subjects of the
issuers' :meth:`~portal.issuing.Issuer.sample_cases`: named once here, so that DLT, DOPA, DBD and
BOI speak of the same Somchai and the same company.
"""

from __future__ import annotations

from dataclasses import replace

from portal.issuing import Requester, Subject

__all__ = [
    "ARUNEE",
    "COMPANY_A",
    "COMPANY_B",
    "COMPANY_C",
    "SCHMIDT",
    "SOMCHAI",
    "SOMYING",
    "WICHAI",
    "YAMADA",
    "asked_by",
    "requester",
]

SOMCHAI = Subject(pid="1101700123456", name_th="นายสมชาย ใจดี", name_en="Mr. Somchai Jaidee")
SOMYING = Subject(pid="3100500678905", name_th="นางสาวสมหญิง รักไทย", name_en="Ms. Somying Rakthai")
ARUNEE = Subject(pid="1101400555555", name_th="นางอรุณี แก้วมณี", name_en="Mrs. Arunee Kaewmanee")
WICHAI = Subject(pid="5709900124574", name_th="นายวิชัย ศรีสุข", name_en="Mr. Wichai Srisuk")
#: Foreign investors, known by passport.
YAMADA = Requester(passport_number="TK1234567", nationality="JPN", name_en="Mr. Taro Yamada")
SCHMIDT = Requester(passport_number="C01X00T47", nationality="DEU", name_en="Ms. Anna Schmidt")

COMPANY_A = Subject(
    juristic_id="0105556012341", name_th="บริษัท ตราทดสอบ จำกัด", name_en="Tra Test Company Limited"
)
COMPANY_B = Subject(
    juristic_id="0105560098760", name_th="บริษัท สยามตัวอย่าง จำกัด", name_en="Siam Sample Company Limited"
)
COMPANY_C = Subject(
    juristic_id="0105561234560",
    name_th="บริษัท เอ็กแซมเปิล พรีซิชั่น (ประเทศไทย) จำกัด",
    name_en="Example Precision (Thailand) Co., Ltd.",
)


def requester(person: Subject) -> Requester:
    """A sample person as the one asking for a company's document."""
    return Requester(pid=person.pid, name_th=person.name_th, name_en=person.name_en)


def asked_by(company: Subject, person: Subject | Requester) -> Subject:
    """``company``'s document as ``person`` asks for it."""
    return replace(company, requester=person if isinstance(person, Requester) else requester(person))
