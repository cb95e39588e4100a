"""check_pdf_signature on genuine, tampered, foreign, unsigned and broken files."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from io import BytesIO

import pytest
from asn1crypto import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from portal.signing import (
    FileFinding,
    SignatureCheck,
    SigningIdentity,
    check_pdf_signature,
    sign_pdf,
)
from portal.signing.keys import certificate_common_name

PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


def _contents_span(pdf: bytes) -> tuple[int, int]:
    """Start and end offsets of the signature's /Contents hex string."""
    start = pdf.rindex(b"/Contents <")
    return start, pdf.index(b">", start)


def _add_page_text(pdf: bytes) -> bytes:
    """Incremental update drawing extra text on page 1 (what a forger would do)."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    font = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Font"),
            generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
            generic.NameObject("/BaseFont"): generic.NameObject("/Helvetica"),
        }
    )
    resources = generic.DictionaryObject(
        {
            generic.NameObject("/Font"): generic.DictionaryObject(
                {generic.NameObject("/FTra"): writer.add_object(font)}
            )
        }
    )
    stream = generic.StreamObject(stream_data=b"BT /FTra 24 Tf 72 72 Td (VOID) Tj ET")
    writer.add_stream_to_page(0, writer.add_object(stream), resources=resources)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def _add_annotation(pdf: bytes) -> bytes:
    """Incremental update adding a FreeText annotation to page 1."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    page = writer.root["/Pages"]["/Kids"][0]
    annot = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Annot"),
            generic.NameObject("/Subtype"): generic.NameObject("/FreeText"),
            generic.NameObject("/Rect"): generic.ArrayObject(
                [generic.NumberObject(n) for n in (72, 72, 300, 120)]
            ),
            generic.NameObject("/Contents"): generic.TextStringObject("VOID"),
            generic.NameObject("/DA"): generic.TextStringObject("/Helv 12 Tf 0 g"),
        }
    )
    existing = page.get("/Annots") or generic.ArrayObject()  # holds our signature widget
    page[generic.NameObject("/Annots")] = generic.ArrayObject(
        [existing.raw_get(i) for i in range(len(existing))] + [writer.add_object(annot)]
    )
    writer.update_container(page)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def _check(data: bytes, roots: list[x509.Certificate]) -> SignatureCheck:
    result = check_pdf_signature(data, roots)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.detail
    return result


def test_genuine_signed_pdf_is_intact(
    signed_pdf: bytes,
    signing_identity: SigningIdentity,
    signing_trust_roots: list[x509.Certificate],
) -> None:
    before = dt.datetime.now(dt.UTC)
    result = _check(signed_pdf, signing_trust_roots)

    assert result.finding is FileFinding.INTACT
    assert result.indication == "TOTAL-PASSED"
    assert result.signer == "Department of Land Transport Document Signing (DEVELOPMENT)"
    assert result.signer == signing_identity.subject
    assert result.signer_key_id == signing_identity.key_id
    assert result.coverage == "entire_file"
    assert result.modification_level == "none"
    assert result.timestamp_time is None  # B-B: no timestamp
    assert result.sub_indication is None
    assert result.level == "B-B"
    assert result.trusted is True
    assert result.chain[0] == signing_identity.subject
    assert result.chain[-1] == certificate_common_name(signing_trust_roots[0])  # up to our root
    assert result.changes == "none"
    assert result.revocation.status == "not_in_file"
    assert result.signature_count == 1
    assert result.signing_time is not None
    assert result.signing_time.tzinfo is dt.UTC
    assert before - dt.timedelta(hours=1) < result.signing_time <= before


def test_freshly_signed_weasyprint_pdf_is_intact(
    signing_identity: SigningIdentity, signing_trust_roots: list[x509.Certificate]
) -> None:
    import weasyprint

    pdf = weasyprint.HTML(string="<p>สวัสดี hello</p>").write_pdf()
    result = _check(sign_pdf(pdf, signing_identity), signing_trust_roots)
    assert result.finding is FileFinding.INTACT


def test_flipped_byte_in_signed_range_is_altered(
    signed_pdf: bytes, signing_trust_roots: list[x509.Certificate]
) -> None:
    # Change one letter of the producer name (in the signed range, outside /Contents).
    offset = signed_pdf.index(b"WeasyPrint")
    assert offset < _contents_span(signed_pdf)[0]
    tampered = bytearray(signed_pdf)
    tampered[offset] ^= 0x20  # W -> w
    result = _check(bytes(tampered), signing_trust_roots)

    assert result.finding is FileFinding.ALTERED
    assert (result.indication, result.sub_indication) == ("TOTAL-FAILED", "HASH_FAILURE")
    assert result.signer_key_id is not None  # still says who signed the original


def _flip_hex_digit(pdf: bytes, offset: int) -> bytes:
    tampered = bytearray(pdf)
    tampered[offset] = ord("1") if tampered[offset] == ord("0") else ord("0")
    return bytes(tampered)


def test_changed_signature_value_is_altered(
    signed_pdf: bytes, signing_trust_roots: list[x509.Certificate]
) -> None:
    start, end = _contents_span(signed_pdf)
    hex_digits = signed_pdf[start + len(b"/Contents <") : end]
    used_end = start + len(b"/Contents <") + len(hex_digits.rstrip(b"0"))
    # The raw signature value is the last thing in the CMS, just before the padding.
    result = _check(_flip_hex_digit(signed_pdf, used_end - 10), signing_trust_roots)

    assert result.finding is FileFinding.ALTERED
    assert (result.indication, result.sub_indication) == ("TOTAL-FAILED", "SIG_CRYPTO_FAILURE")


def test_changed_copy_of_the_root_in_the_cms_keeps_the_signature_intact(
    signed_pdf: bytes,
    signing_trust_roots: list[x509.Certificate],
) -> None:
    """The CMS certificate bag is not signed, and the trust anchor comes from our own
    store, so damaging the embedded copy of the root changes nothing about the
    signature. Only the file's SHA-256 changes: the record lookup catches that."""
    start, end = _contents_span(signed_pdf)
    root_hex = signing_trust_roots[0].dump().hex().encode()
    contents = signed_pdf[start:end].lower()
    root_at = contents.index(root_hex)
    tampered = _flip_hex_digit(signed_pdf, start + root_at + len(root_hex) // 2)
    result = _check(tampered, signing_trust_roots)

    assert result.finding is FileFinding.INTACT
    assert result.sha256 != hashlib.sha256(signed_pdf).hexdigest()


def test_bytes_appended_after_eof_are_altered(
    signed_pdf: bytes, signing_trust_roots: list[x509.Certificate]
) -> None:
    result = _check(signed_pdf + b"\n% appended after signing\n", signing_trust_roots)

    assert result.finding is FileFinding.ALTERED
    assert result.coverage == "entire_revision"
    assert result.changes == "appended_data"
    # pyHanko judges the signed revision fine; our policy allows nothing after a signature.
    assert (result.indication, result.sub_indication) == ("TOTAL-FAILED", "SIG_CONSTRAINTS_FAILURE")


def test_incremental_update_drawing_on_the_page_is_altered(
    signed_pdf: bytes, signing_trust_roots: list[x509.Certificate]
) -> None:
    result = _check(_add_page_text(signed_pdf), signing_trust_roots)

    assert result.finding is FileFinding.ALTERED
    assert result.modification_level == "other"
    assert result.coverage == "entire_revision"
    assert result.changes == "page_content"
    assert (result.indication, result.sub_indication) == ("TOTAL-FAILED", "SIG_CONSTRAINTS_FAILURE")


def test_incremental_update_adding_an_annotation_is_altered(
    signed_pdf: bytes, signing_trust_roots: list[x509.Certificate]
) -> None:
    result = _check(_add_annotation(signed_pdf), signing_trust_roots)

    assert result.finding is FileFinding.ALTERED
    assert result.modification_level in ("annotations", "other")


def test_foreign_signature_is_untrusted(
    signing_unsigned_pdf: bytes,
    signing_foreign_identity: SigningIdentity,
    signing_trust_roots: list[x509.Certificate],
) -> None:
    forged = sign_pdf(signing_unsigned_pdf, signing_foreign_identity)
    result = _check(forged, signing_trust_roots)

    assert result.finding is FileFinding.UNTRUSTED_SIGNATURE
    # The forger named its root like ours: the path reaches a "root" whose signature fails.
    assert result.indication == "INDETERMINATE"
    assert result.sub_indication == "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    assert result.trusted is False
    assert result.chain == (result.signer,)  # no path to any of our roots
    # Same name as ours (the forger chose it), but a different key.
    assert result.signer == "Department of Land Transport Document Signing (DEVELOPMENT)"
    assert result.signer_key_id == signing_foreign_identity.key_id


def test_no_trust_roots_means_nothing_is_trusted(signed_pdf: bytes) -> None:
    result = _check(signed_pdf, [])
    assert result.finding is FileFinding.UNTRUSTED_SIGNATURE


def test_unsigned_pdf_is_not_signed(
    signing_unsigned_pdf: bytes, signing_trust_roots: list[x509.Certificate]
) -> None:
    result = _check(signing_unsigned_pdf, signing_trust_roots)

    assert result.finding is FileFinding.NOT_SIGNED
    assert (result.indication, result.sub_indication) == ("TOTAL-FAILED", "FORMAT_FAILURE")
    assert result.signer is None
    assert result.signature_count == 0 and result.level is None


@pytest.mark.parametrize(
    "data",
    [b"", b"hello", PNG_HEADER, b"%PDF-1.7\nthis is not really a PDF\n%%EOF\n"],
    ids=["empty", "text", "png", "fake-header"],
)
def test_non_pdf_input_is_not_a_pdf(data: bytes, signing_trust_roots: list[x509.Certificate]) -> None:
    result = _check(data, signing_trust_roots)

    assert result.finding is FileFinding.NOT_A_PDF
    assert result.signer is None
    assert (result.indication, result.sub_indication) == ("TOTAL-FAILED", "FORMAT_FAILURE")


@pytest.mark.parametrize("fraction", [0.5, 0.1, 0.9, 0.99])
def test_truncated_signed_pdf_never_raises(
    fraction: float, signed_pdf: bytes, signing_trust_roots: list[x509.Certificate]
) -> None:
    result = _check(signed_pdf[: int(len(signed_pdf) * fraction)], signing_trust_roots)
    assert result.finding in (FileFinding.NOT_A_PDF, FileFinding.ALTERED)


def test_signed_pdf_cut_in_half(signed_pdf: bytes, signing_trust_roots: list[x509.Certificate]) -> None:
    result = _check(signed_pdf[: len(signed_pdf) // 2], signing_trust_roots)
    assert result.finding in (FileFinding.NOT_A_PDF, FileFinding.ALTERED)


def test_expected_problems_do_not_log_pyhanko_warnings(
    signed_pdf: bytes,
    signing_trust_roots: list[x509.Certificate],
    caplog: pytest.LogCaptureFixture,
) -> None:
    tampered = signed_pdf.replace(b"WeasyPrint", b"weasyPrint", 1)
    with caplog.at_level(logging.WARNING):
        check_pdf_signature(tampered, signing_trust_roots)
        check_pdf_signature(signed_pdf[: len(signed_pdf) // 2], signing_trust_roots)
        check_pdf_signature(signed_pdf, [])
    noisy = [r for r in caplog.records if r.name.startswith("pyhanko")]
    assert noisy == []


def test_calling_from_an_event_loop_is_a_programming_error(
    signed_pdf: bytes, signing_trust_roots: list[x509.Certificate]
) -> None:
    async def inside_loop() -> None:
        check_pdf_signature(signed_pdf, signing_trust_roots)

    with pytest.raises(RuntimeError, match="event loop"):
        asyncio.run(inside_loop())
