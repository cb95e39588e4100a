"""portal.signing.asn1fix: a definite length whose last octet is 0x80 is not BER's indefinite form.

Without the fix asn1crypto re-encodes such a value at every dump, parsing everything inside it;
where the DER left out a DEFAULT field (ESSCertIDv2's SHA-256, as in most timestamp tokens), that
parse marks the value changed for good, and a signature took a minute to write. These tests look
at what asn1crypto keeps (lazily parsed children, cached bytes): the only way to see a re-encoding
that gives the same bytes.
"""

from __future__ import annotations

import pytest
from asn1crypto import core, tsp

import portal.signing  # noqa: F401 - applies the fix, as every process that signs or verifies does
from portal.signing import asn1fix

# ESSCertIDv2 with the default SHA-256: 36 bytes of DER, the hash algorithm left out.
ESS = {"hash_algorithm": {"algorithm": "sha256"}, "cert_hash": b"\x07" * 32}
ESS_LIST = tsp.SigningCertificateV2._fields[0][1]  # SEQUENCE OF ESSCertIDv2


def ess_list_der(count: int) -> bytes:
    return ESS_LIST([ESS] * count).dump()


def test_the_sample_lengths_are_what_the_tests_need():
    assert tsp.ESSCertIDv2(ESS).dump()[1] == 34  # no hash algorithm in the DER
    assert ess_list_der(32)[:4] == bytes.fromhex("30820480")  # 1152 bytes: ends in 0x80
    assert ess_list_der(31)[:4] == bytes.fromhex("3082045c")


@pytest.mark.parametrize("count", [31, 32])
def test_a_value_read_from_der_dumps_its_own_bytes_without_parsing_them(count):
    der = ess_list_der(count)
    value = ESS_LIST.load(der)
    assert value.dump() == der and value.dump() == der
    assert value.children is None  # nothing was parsed to write it


class _Signature(core.Sequence):
    """Stands in for pyHanko's SignedData: built by us, holding a token parsed from DER."""

    _fields = [("token", ESS_LIST), ("filler", core.OctetString)]


def test_a_value_we_build_keeps_its_bytes_after_the_first_dump():
    """pyHanko builds the signature's SignedData, dumps it several times, and embeds parsed
    timestamp tokens in it: the later dumps must not reach into them."""
    token = ESS_LIST.load(ess_list_der(31))  # 1120 bytes
    signature = _Signature({"token": token, "filler": b"\x00" * 30})  # + 32 bytes = 1152
    first = signature.dump()
    assert first[:4] == bytes.fromhex("30820480")
    assert signature.dump() == first and signature.dump() == first
    assert token.children is None


def test_an_indefinite_length_is_still_re_encoded_as_der():
    # SEQUENCE OF with BER's indefinite length: 30 80 ... 00 00.
    body = tsp.ESSCertIDv2(ESS).dump()
    ber = b"\x30\x80" + body + b"\x00\x00"
    value = ESS_LIST.load(ber)
    assert value.dump() == b"\x30" + bytes([len(body)]) + body


def test_the_fix_is_applied_once():
    before = {cls: cls.__dict__["dump"] for cls in asn1fix._CLASSES}
    asn1fix.apply()
    assert all(cls.__dict__["dump"] is before[cls] for cls in asn1fix._CLASSES)
    assert all(getattr(cls.__dict__["dump"], "_tra_definite_length_fix", False) for cls in asn1fix._CLASSES)
