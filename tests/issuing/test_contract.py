"""The contract every issuer passes: run over each issuer class the ``portal.issuers`` entry points
name, so a new issuer is tested by installing it (no change here).

What an issuer provides for it (docs/writing-an-issuer.md, "Testing"): ``sample_registry()``, a
WSGI app standing in for the agency's registry, served here on loopback and read over real HTTP;
and ``sample_cases()``, at least one request per document type that the sample answers, each with
another person whose record must be refused in its place.

Checked: metadata complete in Thai and English; each sample case renders to a PDF that signs and
validates as INTACT against the development trust roots; garbage answers, damaged records and
another person's record are refused with RegistryRejected, never a crash.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from markupsafe import escape

from portal import clock
from portal.issuing import (
    AUDIENCES,
    DocumentInfo,
    Issuer,
    Record,
    RegistryRejected,
    SampleCase,
    Subject,
    discover_issuer_classes,
    validate_issuer_class,
)
from portal.issuing.registry import ISSUER_ID, has_sample_registry
from portal.issuing.settings import IssuerSettings, merge_specs

ISSUER_CLASSES = discover_issuer_classes()
CASES = [(cls, case) for cls in ISSUER_CLASSES for case in cls.sample_cases()]


def _case_id(value) -> str:
    if isinstance(value, type):
        return value.id
    return f"{value.document_type}" if isinstance(value, SampleCase) else str(value)


by_issuer = pytest.mark.parametrize("cls", ISSUER_CLASSES, ids=_case_id)
by_case = pytest.mark.parametrize(("cls", "case"), CASES, ids=_case_id)


def _issuer(cls: type[Issuer], registry_url: str) -> Issuer:
    """The issuer as the registry would build it, reading the given registry, failing fast."""
    settings = IssuerSettings.build(
        cls.id, merge_specs(cls.settings_schema), {"registry_url": registry_url, "retries": 0, "timeout": 5}
    )
    return cls(settings)


def _document(cls: type[Issuer], case: SampleCase) -> DocumentInfo:
    issued_at = datetime(2026, 6, 1, 10, 30, tzinfo=clock.BANGKOK)
    return DocumentInfo(
        number=f"{cls.id.upper()}-2569-000001",
        verification_code="ABCD-EFGH-JKMN-PQRS-TVWX",
        verify_url="http://portal.test/v/ABCDEFGHJKMNPQRSTVWX",
        issued_at=issued_at,
        expires_at=issued_at.date(),
        sample=True,
    )


def _render_html(app, cls, case: SampleCase, issuer: Issuer, record: Record) -> str:
    from portal.services.certificate_content import certificate_context

    doc_type = issuer.document_type(case.document_type)
    context = certificate_context(issuer, doc_type, record, _document(cls, case))
    return app.jinja_env.get_template(doc_type.template).render(**context)


# --- metadata ---------------------------------------------------------------------------------------


def test_the_built_in_issuers_are_found_through_entry_points() -> None:
    assert "dlt" in [cls.id for cls in ISSUER_CLASSES]


@by_issuer
def test_metadata_is_complete_in_both_languages(cls: type[Issuer]) -> None:
    validate_issuer_class(cls)  # raises InvalidIssuer with every problem
    assert ISSUER_ID.match(cls.id)
    assert cls.name_th.strip() and cls.name_en.strip()
    for doc_type in cls.document_types:
        assert doc_type.audience in AUDIENCES
        for lang in ("th", "en"):
            for name in ("title", "summary"):
                assert getattr(doc_type, f"{name}_{lang}").strip(), (doc_type.id, name, lang)
            assert getattr(doc_type.consent, f"purpose_{lang}").strip()
            assert all(f.strip() for f in getattr(doc_type.consent, f"fields_{lang}"))
        assert (cls.template_folder / doc_type.template).is_file()


@by_issuer
def test_every_document_type_has_a_sample_case_and_a_sample_registry(cls: type[Issuer]) -> None:
    assert has_sample_registry(cls), f"{cls.id} ships no sample_registry()"
    covered = {case.document_type for case in cls.sample_cases()}
    assert covered == {t.id for t in cls.document_types}
    for case in cls.sample_cases():
        assert isinstance(case.subject, Subject) and isinstance(case.other, Subject)
        assert _identifiers(case.subject, case.other), "the other person must differ from the subject"


# --- a sample request renders, signs and validates ----------------------------------------------------


@by_case
def test_sample_request_renders_signs_and_validates(app, app_ctx, serve, cls, case) -> None:
    from portal.services import keys, runtime
    from portal.services.certificate_content import certificate_context, certificate_data
    from portal.signing import FileFinding, SignatureLevel, Stamp, check_pdf_signature, sign_pdf

    issuer = _issuer(cls, serve(cls.sample_registry()))
    doc_type = issuer.document_type(case.document_type)
    record = issuer.fetch_record(doc_type, case.subject)
    assert record.reference and record.holder_name_th.strip() and record.holder_name_en.strip()

    document = _document(cls, case)
    context = certificate_context(issuer, doc_type, record, document)
    html = app.jinja_env.get_template(doc_type.template).render(**context)
    for text in (
        doc_type.title_th,
        doc_type.title_en,
        record.holder_name_th,
        record.holder_name_en,
        cls.name_th,
    ):
        assert str(escape(text)) in html, text  # both languages, and whose document it is

    pdf = runtime.renderer().render(
        html,
        title=f"{doc_type.title_en} {document.number}",
        data=certificate_data(issuer, doc_type, record, context),
        data_created=document.issued_at,
    )
    signed = sign_pdf(
        pdf,
        keys.key_ring().get(cls.id),
        reason=f"{doc_type.title_en} {document.number}",
        location="Thailand",
        level=SignatureLevel.B_B,
        services=None,
        stamp=Stamp(agency_th=cls.name_th, agency_en=cls.name_en, signed_at=clock.now()),
    )
    check = check_pdf_signature(signed, runtime.trust_roots())
    assert check.finding == FileFinding.INTACT, check
    keep = os.environ.get("TRA_KEEP_SAMPLE_PDFS")  # a folder: keep each signed sample to look at it
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / f"{cls.id}-{case.document_type}.pdf").write_bytes(signed)


# --- bad records are refused cleanly --------------------------------------------------------------------


def _identifiers(subject: Subject, other: Subject) -> list[tuple[str, str]]:
    """(subject's value, other's value) for every text field in which the two differ."""
    pairs = []
    for f in fields(subject):
        mine, theirs = getattr(subject, f.name), getattr(other, f.name)
        if isinstance(mine, str) and isinstance(theirs, str) and mine and mine != theirs:
            pairs.append((mine, theirs))
    return pairs


def _answering_for(registry, pairs):
    """The registry, asked about the subject, answering with the other person's record."""

    def app(environ, start_response):
        environ = dict(environ)
        path, query = unquote(environ.get("PATH_INFO", "")), environ.get("QUERY_STRING", "")
        for mine, theirs in pairs:
            path = path.replace(mine, theirs)
            query = query.replace(quote(mine), quote(theirs)).replace(mine, theirs)
        environ["PATH_INFO"], environ["QUERY_STRING"] = path, query
        return registry(environ, start_response)

    return app


@by_case
def test_another_persons_record_is_refused(app, serve, cls, case) -> None:
    issuer = _issuer(cls, serve(cls.sample_registry()))
    doc_type = issuer.document_type(case.document_type)
    issuer.fetch_record(doc_type, case.other)  # the other person does have a record there

    swapped = _issuer(
        cls, serve(_answering_for(cls.sample_registry(), _identifiers(case.subject, case.other)))
    )
    with pytest.raises(RegistryRejected):
        swapped.fetch_record(doc_type, case.subject)


def _fixed_answer(status: int, body: bytes, content_type: str):
    def app(environ, start_response):
        start_response(f"{status} X", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    return app


GARBAGE = [
    pytest.param(b"<html><body>Service temporarily moved</body></html>", "text/html", id="html"),
    pytest.param(b"{", "application/json", id="broken-json"),
    pytest.param(b"{}", "application/json", id="empty-object"),
    pytest.param(b"[]", "application/json", id="list"),
    pytest.param(b'"ok"', "application/json", id="string"),
    pytest.param(b"null", "application/json", id="null"),
    pytest.param(b'{"ok": true}', "application/json", id="other-object"),
    pytest.param(b"", "application/json", id="empty-body"),
]


@by_case
@pytest.mark.parametrize(("body", "content_type"), GARBAGE)
def test_garbage_from_the_registry_is_refused(app, serve, cls, case, body, content_type) -> None:
    issuer = _issuer(cls, serve(_fixed_answer(200, body, content_type)))
    with pytest.raises(RegistryRejected):
        issuer.fetch_record(issuer.document_type(case.document_type), case.subject)


class _Recorder:
    """A registry in front of the sample one that keeps its answers, or answers ``body`` when set."""

    def __init__(self, registry) -> None:
        self.registry = registry
        self.answers: list[bytes] = []
        self.body: bytes | None = None

    def __call__(self, environ, start_response):
        if self.body is not None:
            return _fixed_answer(200, self.body, "application/json")(environ, start_response)
        answer = b"".join(self.registry(environ, start_response))
        self.answers.append(answer)
        return [answer]


def _leaves(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path


def _with(value, path, new):
    value = copy.deepcopy(value)
    target = value
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return value


@by_case
def test_damaged_records_are_refused_or_issued_never_a_crash(app, app_ctx, serve, cls, case) -> None:
    """Each value of the real record in turn made missing, empty, of the wrong type or nonsense:
    the issuer refuses it with RegistryRejected, or builds a document that renders."""
    recorder = _Recorder(cls.sample_registry())
    issuer = _issuer(cls, serve(recorder))
    doc_type = issuer.document_type(case.document_type)
    issuer.fetch_record(doc_type, case.subject)
    original = json.loads(recorder.answers[-1])

    crashes = []
    for path in list(_leaves(original)):
        for replacement in (None, "", 7, "ไม่ใช่ข้อมูล", [], {}):
            recorder.body = json.dumps(_with(original, path, replacement)).encode()
            try:
                record = issuer.fetch_record(doc_type, case.subject)
                _render_html(app, cls, case, issuer, record)
            except RegistryRejected:
                continue
            except Exception as exc:  # noqa: BLE001 - what the contract forbids, collected
                crashes.append(f"{'/'.join(map(str, path))} = {replacement!r}: {type(exc).__name__}: {exc}")
    assert not crashes, "\n".join(crashes)
