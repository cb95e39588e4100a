"""A sample out-of-tree issuer: the membership certificate of a fictional registry.

It shows the smallest complete issuer an agency could ship as its own package: class-level
metadata, one document type, a template under ``templates/issuers/<id>/``, one setting of its
own, a sample registry and sample cases for the contract suite.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import requests

from portal.issuing import (
    ConsentText,
    DocumentInfo,
    DocumentType,
    Issuer,
    Record,
    RecordNotFound,
    RegistryRejected,
    RegistryUnavailable,
    SampleCase,
    Setting,
    Subject,
)

HERE = Path(__file__).parent

MEMBERSHIP = DocumentType(
    id="membership",
    title_th="หนังสือรับรองการเป็นสมาชิก (ตัวอย่าง)",
    title_en="Membership Certificate (sample)",
    summary_th="รับรองการเป็นสมาชิกของทะเบียนตัวอย่าง ใช้ทดสอบการติดตั้งผู้ออกเอกสารจากภายนอก",
    summary_en="Certifies membership of a sample registry; used to test an issuer installed from outside.",
    audience="citizen",
    validity_days=30,
    template="issuers/tra_sample_issuer/membership.html",
    consent=ConsentText(
        version="tra-sample-membership-1",
        fields_th=("ชื่อ-นามสกุล", "เลขที่สมาชิกและวันที่เข้าเป็นสมาชิก"),
        fields_en=("Name", "Membership number and date of joining"),
        purpose_th="เพื่อออกหนังสือรับรองการเป็นสมาชิกในนามของท่าน",
        purpose_en="To issue a membership certificate in your name",
    ),
)


class SampleIssuer(Issuer):
    """Reads members from the sample registry over HTTP."""

    id: ClassVar[str] = "tra_sample_issuer"
    name_th: ClassVar[str] = "สำนักทะเบียนตัวอย่าง"
    name_en: ClassVar[str] = "Sample Registry Office"
    document_types: ClassVar[tuple[DocumentType, ...]] = (MEMBERSHIP,)
    template_folder: ClassVar[Path] = HERE / "templates"
    settings_schema: ClassVar[tuple[Setting, ...]] = (
        Setting("office_code", "str", "BKK", help_en="Printed after the member number."),
    )

    @classmethod
    def sample_registry(cls):
        from flask import Flask, jsonify

        app = Flask(__name__)
        records = json.loads((HERE / "sample_records.json").read_text(encoding="utf-8"))

        @app.get("/members/<pid>")
        def member(pid: str):
            if pid not in records:
                return jsonify(error="not_found"), 404
            return jsonify(pid=pid, **records[pid])

        return app

    @classmethod
    def sample_cases(cls) -> tuple[SampleCase, ...]:
        return (
            SampleCase(
                MEMBERSHIP.id, subject=Subject(pid="1101700123456"), other=Subject(pid="3100500678905")
            ),
        )

    def fetch_record(self, document_type: DocumentType, subject: Subject) -> Record:
        base = self.settings.get("registry_url")
        if not base:
            raise RegistryUnavailable("the sample registry address is not configured")
        timeout = self.settings.get("timeout") or 5
        try:
            response = requests.get(f"{base.rstrip('/')}/members/{subject.pid}", timeout=timeout)
        except requests.RequestException as exc:
            raise RegistryUnavailable(f"sample registry unreachable: {type(exc).__name__}") from exc
        if response.status_code == 404:
            raise RecordNotFound("the sample registry has no member record for this person")
        if response.status_code >= 500:
            raise RegistryUnavailable(f"sample registry answered {response.status_code}")
        if response.status_code != 200:
            raise RegistryRejected(f"sample registry answered {response.status_code}")
        try:
            body = response.json()
            if body["pid"] != subject.pid:
                raise RegistryRejected("the sample registry returned another person's record")
            names = (body["name_th"], body["name_en"], body["member_no"])
            if not all(isinstance(n, str) and n.strip() for n in names):
                raise RegistryRejected("the sample registry sent an empty name or number")
            return Record(
                reference=body["member_no"],
                holder_name_th=body["name_th"],
                holder_name_en=body["name_en"],
                data={"joined_on": date.fromisoformat(body["joined_on"]).isoformat()},
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise RegistryRejected("the sample registry sent a record we cannot read") from exc

    def build_content(
        self, document_type: DocumentType, record: Record, document: DocumentInfo
    ) -> dict[str, Any]:
        return {
            "agency": {"name_th": self.name_th, "name_en": self.name_en},
            "member": {
                "name_th": record.holder_name_th,
                "name_en": record.holder_name_en,
                "number": f"{record.reference}/{self.settings['office_code']}",
                "joined_on": date.fromisoformat(record.data["joined_on"]),
            },
            "signatory": {
                "name_th": "นายทะเบียนตัวอย่าง",
                "name_en": "Sample Registrar",
                "position_th": "นายทะเบียน",
                "position_en": "Registrar",
            },
        }
