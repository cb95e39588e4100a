"""The space reserved for the CMS signature (portal.signing.signer._bytes_reserved).

It is sized from the signer's certificates, issuer name and key, not guessed: big enough for the
largest case we support (RSA-4096, a long Thai issuer name) and leaving little zero padding in the
file (padding is written twice, as hex, into every certificate).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from asn1crypto import x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from portal.signing import Stamp, load_file_identity, load_trust_roots, sign_pdf

LONG_THAI_ORG = "สำนักงานคณะกรรมการส่งเสริมการลงทุน สำนักนายกรัฐมนตรี ราชอาณาจักรไทย"


def _name(common: str) -> cx509.Name:
    """A long Thai name: several attributes of up to 64 bytes each (about 21 Thai letters)."""
    return cx509.Name(
        [
            cx509.NameAttribute(NameOID.COUNTRY_NAME, "TH"),
            cx509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "กรุงเทพมหานคร"),
            cx509.NameAttribute(NameOID.LOCALITY_NAME, "เขตบางรัก แขวงสีลม"),
            cx509.NameAttribute(NameOID.ORGANIZATION_NAME, "สำนักงานบีโอไอ ส่วนกลาง"),
            cx509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "ศูนย์สารสนเทศ ส่วนกลาง"),
            cx509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "กลุ่มงานใบรับรอง"),
            cx509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _pem(path: Path, obj) -> Path:
    if isinstance(obj, cx509.Certificate):
        path.write_bytes(obj.public_bytes(serialization.Encoding.PEM))
    else:
        path.write_bytes(
            obj.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return path


def _identity(tmp_path: Path, key_kind: str):
    """A root and a document-signing certificate, both with long Thai names; the signer's key is
    ``key_kind`` (``rsa4096`` or ``p256``)."""
    now = dt.datetime.now(dt.UTC)
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    root_name = _name("ผู้ออกใบรับรอง (ทดสอบ)")
    root = (
        cx509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(cx509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(cx509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            cx509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(root_key, hashes.SHA256())
    )
    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=4096)
        if key_kind == "rsa4096"
        else ec.generate_private_key(ec.SECP256R1())
    )
    leaf = (
        cx509.CertificateBuilder()
        .subject_name(_name("ผู้ลงนามเอกสาร (ทดสอบ)"))
        .issuer_name(root_name)
        .public_key(key.public_key())
        .serial_number(cx509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            cx509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
        )
        .add_extension(cx509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    root_path = _pem(tmp_path / f"{key_kind}-root.pem", root)
    identity = load_file_identity(
        "boi", _pem(tmp_path / f"{key_kind}.key", key), _pem(tmp_path / f"{key_kind}.pem", leaf), [root_path]
    )
    return identity, load_trust_roots([root_path])


@pytest.mark.parametrize("key_kind", ["rsa4096", "p256"])
def test_reservation_fits_long_names_and_big_keys_with_little_padding(
    signing_unsigned_pdf: bytes, tmp_path: Path, key_kind: str
) -> None:
    identity, roots = _identity(tmp_path, key_kind)
    stamp = Stamp(
        agency_th=LONG_THAI_ORG,
        agency_en="Office of the Board of Investment",
        signed_at=dt.datetime.now(dt.UTC),
    )
    signed = sign_pdf(signing_unsigned_pdf, identity, reason="test", location="Thailand", stamp=stamp)

    signature = PdfFileReader(io.BytesIO(signed)).embedded_signatures[0]
    status = validate_pdf_signature(signature, ValidationContext(trust_roots=roots, allow_fetching=False))
    assert status.bottom_line and status.coverage.name == "ENTIRE_FILE"

    contents = bytes(signature.sig_object["/Contents"])
    used = len(signature.signed_data.dump()) + 19  # ContentInfo wrapper: OID and two headers
    assert used <= len(contents)
    assert all(b == 0 for b in contents[used + 8 :])  # the rest is padding
    assert len(contents) - used < 600  # was about 1,000 bytes (2,000 hex characters) before


def test_roots_stay_in_the_signature(signing_unsigned_pdf: bytes, tmp_path: Path) -> None:
    """Without the root in the CMS and the DSS, pyHanko's ETSI B-LTA validation ends NO_POE; the
    reservation counts it."""
    identity, roots = _identity(tmp_path, "p256")
    signed = sign_pdf(signing_unsigned_pdf, identity)
    certificates = PdfFileReader(io.BytesIO(signed)).embedded_signatures[0].signed_data["certificates"]
    embedded = {c.chosen.sha256 for c in certificates}
    assert isinstance(roots[0], x509.Certificate) and roots[0].sha256 in embedded
