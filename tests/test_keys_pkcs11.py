"""`flask portal keys add` with a key that lives in a SoftHSM2 token (docs/keys.md, "Rotation").

The key pair is generated inside the token (sensitive, not extractable: there is no software copy
that could sign instead), its certificate is issued by the app's development root, and the real CLI
records it, makes it current and the real pipeline signs with it. Operator mistakes are one-line
errors that record nothing, and the PIN (given only by naming an environment variable) never shows
up in output, logs or the database.

SoftHSM reads ``SOFTHSM2_CONF`` only when the module is initialised, once per process; the
``hsm`` fixture therefore re-initialises the module on its own private token directory and
finalises it afterwards, so the SoftHSM tests under tests/signing work before or after it.
Each ``keys`` command runs in a new process in production: :func:`_new_process` drops this
process's token sessions before a command, so a session left by an earlier command cannot
stand in for the PIN check.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pkcs11
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11 import Attribute, KeyType
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

from portal.signing import load_trust_roots
from portal.signing.pkcs11 import Pkcs11KeySigner, close_pkcs11_sessions
from tests.keys_plugin import SOFTHSM_MODULE, issue_cert_file, softhsm_conf, softhsm_util

KEY_ROWS = sa.text("SELECT count(*) FROM signing_keys")
KEY_EVENTS = sa.text("SELECT count(*) FROM audit_events WHERE action LIKE 'signing_key.%'")
ROWS_AS_TEXT = sa.text("SELECT row_to_json(k)::text FROM signing_keys k")
EVENTS_AS_TEXT = sa.text("SELECT row_to_json(e)::text FROM audit_events e WHERE action LIKE 'signing_key.%'")


@dataclass(frozen=True)
class TokenKey:
    """An EC P-256 key pair generated in the token, and its certificate from the dev root."""

    label: str
    cert: Path
    key_id: str
    """What documents record as ``signer_key_id`` (SHA-256 of the certificate)."""
    public_der: bytes
    """The public key as the token reports it (SubjectPublicKeyInfo DER)."""


@dataclass(frozen=True)
class Hsm:
    """A SoftHSM2 token private to this module."""

    conf: Path
    token: str
    pin: str
    pin_env: str
    """Name of the variable the tests put the PIN in (set per test, never on a command line)."""
    key: TokenKey
    other: TokenKey
    """A second key in the same token, whose certificate does not belong to ``key``."""
    root_cert: Path


def _generate_in_token(session, label: str, *, root_cert: Path, root_key: Path, directory: Path) -> TokenKey:
    """Generate a key pair in the token and issue a document-signing certificate for it."""
    parameters = session.create_domain_parameters(
        KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True
    )
    public, private = parameters.generate_keypair(store=True, label=label, id=secrets.token_bytes(4))
    assert private[Attribute.SENSITIVE] and not private[Attribute.EXTRACTABLE]
    public_der = encode_ec_public_key(public)
    path = directory / f"{label}.cert.pem"
    key_id = issue_cert_file(
        serialization.load_der_public_key(public_der),
        f"DLT {label} (DEVELOPMENT)",
        path,
        issuer_cert=root_cert,
        issuer_key=root_key,
    )
    return TokenKey(label=label, cert=path, key_id=key_id, public_der=public_der)


@pytest.fixture(scope="module")
def hsm(app, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hsm]:
    """A fresh token with two keys generated in it, certificates by the app's development root."""
    from portal.services import runtime

    base = tmp_path_factory.mktemp("keys-softhsm")
    conf = softhsm_conf(base)
    with app.app_context():
        dev_pki = runtime.dev_pki()
    suffix = secrets.token_hex(4)
    token, pin, so_pin = f"tra-keys-{suffix}", secrets.token_hex(8), secrets.token_hex(8)
    softhsm_util(conf, "--init-token", "--free", "--label", token, "--pin", pin, "--so-pin", so_pin)

    saved = os.environ.get("SOFTHSM2_CONF")
    close_pkcs11_sessions()
    os.environ["SOFTHSM2_CONF"] = str(conf)
    lib = pkcs11.lib(SOFTHSM_MODULE)
    lib.reinitialize()  # it may have read another SOFTHSM2_CONF already (tests/signing)
    try:
        session = lib.get_token(token_label=token).open(rw=True, user_pin=pin)
        try:
            made = {
                label: _generate_in_token(
                    session,
                    label,
                    root_cert=dev_pki.root_cert_path,
                    root_key=dev_pki.root_key_path,
                    directory=base,
                )
                for label in ("dlt-signing-2027", "dlt-other")
            }
        finally:
            session.close()  # the last session: the token logs out, as in a new process
        yield Hsm(
            conf=conf,
            token=token,
            pin=pin,
            pin_env=f"TRA_TEST_KEYS_PIN_{suffix.upper()}",
            key=made["dlt-signing-2027"],
            other=made["dlt-other"],
            root_cert=dev_pki.root_cert_path,
        )
    finally:
        close_pkcs11_sessions()
        if saved is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = saved
        lib.finalize()  # the next user initialises it again, on its own configuration


def _new_process() -> None:
    """What a new `flask portal keys …` process starts from: no session with any token."""
    close_pkcs11_sessions()


def _add_args(hsm: Hsm, **changes: str) -> list[str]:
    """``keys add`` of ``hsm.key`` with the PIN named by ``--pin-env``; ``changes`` replace options."""
    options = {
        "--agency": "dlt",
        "--cert": str(hsm.key.cert),
        "--pkcs11-module": SOFTHSM_MODULE,
        "--pkcs11-token": hsm.token,
        "--pkcs11-key-label": hsm.key.label,
        "--pin-env": hsm.pin_env,
        "--chain": str(hsm.root_cert),
    }
    options.update({f"--{name.replace('_', '-')}": value for name, value in changes.items()})
    return ["add", *(part for pair in options.items() for part in pair)]


def _count(db_session, query) -> int:
    return db_session.execute(query).scalar_one()


def _stored_text(db_session) -> str:
    rows = db_session.execute(ROWS_AS_TEXT).scalars().all()
    events = db_session.execute(EVENTS_AS_TEXT).scalars().all()
    return "\n".join([*rows, *events])


def test_a_token_key_added_by_the_cli_signs_documents_that_verify(
    app, client, cli, issue, ring, db_session, hsm, monkeypatch, caplog
):
    from pyhanko.pdf_utils.reader import PdfFileReader

    from portal.models import SigningKey
    from portal.services import runtime

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(hsm.pin_env, hsm.pin)
    outputs = []

    _new_process()
    added = cli(*_add_args(hsm))
    outputs.append(added.output)
    assert added.exit_code == 0, added.output
    assert added.output.strip() == (
        f"Added key {hsm.key.key_id[:16]} (DLT {hsm.key.label} (DEVELOPMENT)) for dlt: standby"
    )
    row = db_session.scalar(sa.select(SigningKey).where(SigningKey.key_id == hsm.key.key_id))
    assert (row.store, row.reference, row.status) == ("pkcs11", hsm.key.label, "standby")
    assert row.settings == {
        "module": SOFTHSM_MODULE,
        "token": hsm.token,
        "pin_env": hsm.pin_env,
        "cert": str(hsm.key.cert),
    }
    assert row.chain == [str(hsm.root_cert)]

    _new_process()
    switched = cli("current", hsm.key.key_id[:12])
    outputs.append(switched.output)
    assert switched.exit_code == 0, switched.output
    assert f"Key {hsm.key.key_id[:16]} is now the current key of dlt" in switched.output

    with app.app_context():
        identity = ring.get("dlt")
    assert identity.key_id == hsm.key.key_id
    assert isinstance(identity.signer, Pkcs11KeySigner)  # loaded from the row's token location
    certificate = issue().certificate
    assert certificate.signer_key_id == hsm.key.key_id
    with app.app_context():
        pdf = runtime.blob_store().get(certificate.sha256)

    # The PDF carries the token key's certificate, and the token's public key verifies the signature.
    signature = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    assert signature.signer_cert.dump() == load_trust_roots([hsm.key.cert])[0].dump()
    signer_info = signature.signer_info
    assert signer_info["digest_algorithm"]["algorithm"].native == "sha256"
    signed_attrs = signer_info["signed_attrs"].dump()
    token_public_key = serialization.load_der_public_key(hsm.key.public_der)
    token_public_key.verify(
        signer_info["signature"].native, b"\x31" + signed_attrs[1:], ec.ECDSA(hashes.SHA256())
    )

    body = client.post("/api/v1/verify", data={"file": (io.BytesIO(pdf), "doc.pdf")}).json
    assert body["verdict"] == "genuine", body
    assert body["signature"]["signer_key_id"] == hsm.key.key_id
    assert body["document"]["signer"]["key_id"] == hsm.key.key_id
    assert body["document"]["signer"]["state"] == "current"

    _new_process()
    listing = cli("list", "--agency", "dlt")
    outputs.append(listing.output)
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert "STORE" in lines[0].split()
    (line,) = [line for line in lines[1:] if hsm.key.key_id[:16] in line]
    assert line.split()[0] == "dlt" and " pkcs11 " in line and " current " in line
    assert f"DLT {hsm.key.label} (DEVELOPMENT)" in line
    (adopted,) = [line for line in lines[1:] if hsm.key.key_id[:16] not in line]
    assert " file " in adopted and " retired " in adopted

    # The PIN is only ever named.
    everything = "\n".join([*outputs, caplog.text, _stored_text(db_session)])
    assert hsm.pin_env in _stored_text(db_session)
    assert hsm.pin not in everything
    assert all(hsm.pin not in str(record.args) for record in caplog.records)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong PIN", "refused the PIN (--pin-env): PinIncorrect"),
        ("PIN variable unset", "_UNSET named by --pin-env is not set or empty"),
        (
            "unknown token",
            f"no PKCS#11 token labelled 'tra-keys-nope' in module {SOFTHSM_MODULE} (--pkcs11-token)",
        ),
        ("unknown key label", "holds no private key labelled 'dlt-nope' (--pkcs11-key-label)"),
        (
            "certificate of another key",
            "does not match the signing certificate 'DLT dlt-other (DEVELOPMENT)'",
        ),
    ],
)
def test_token_mistakes_are_one_line_errors_that_record_nothing(
    cli, db_session, hsm, monkeypatch, caplog, case, expected
):
    caplog.set_level(logging.DEBUG)
    wrong_pin = secrets.token_hex(8)
    monkeypatch.setenv(hsm.pin_env, wrong_pin if case == "wrong PIN" else hsm.pin)
    args = {
        "wrong PIN": _add_args(hsm),
        "PIN variable unset": _add_args(hsm, pin_env=f"{hsm.pin_env}_UNSET"),
        "unknown token": _add_args(hsm, pkcs11_token="tra-keys-nope"),
        "unknown key label": _add_args(hsm, pkcs11_key_label="dlt-nope"),
        "certificate of another key": _add_args(hsm, cert=str(hsm.other.cert)),
    }[case]
    rows, events = _count(db_session, KEY_ROWS), _count(db_session, KEY_EVENTS)

    _new_process()
    result = cli(*args)

    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: agency dlt: ") and result.output.count("\n") == 1, result.output
    assert expected in result.output
    assert "Traceback" not in result.output
    assert (_count(db_session, KEY_ROWS), _count(db_session, KEY_EVENTS)) == (rows, events)
    for secret in (hsm.pin, wrong_pin):
        assert secret not in result.output and secret not in caplog.text
        assert all(secret not in str(record.args) for record in caplog.records)


def test_the_pin_itself_cannot_be_given_on_the_command_line(cli, db_session, hsm):
    """There is no --pin option: a PIN typed there would land in shell history and `ps`."""
    rows = _count(db_session, KEY_ROWS)
    result = cli(*_add_args(hsm), "--pin", hsm.pin)
    assert result.exit_code == 2 and "No such option '--pin'" in result.output
    assert hsm.pin not in result.output
    assert _count(db_session, KEY_ROWS) == rows


def test_a_process_without_the_pin_variable_names_the_recorded_setting(
    app, cli, ring, db_session, hsm, monkeypatch, caplog
):
    """A worker started without the variable the row names: the error points at the key table."""
    from portal.services.keys import RotatingKeyRing
    from portal.signing import KeyLoadError

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(hsm.pin_env, hsm.pin)
    _new_process()
    assert cli(*_add_args(hsm), "--make-current").exit_code == 0

    monkeypatch.delenv(hsm.pin_env)
    _new_process()
    expected = (
        f"agency dlt: the environment variable {hsm.pin_env} named by pin_env recorded for key "
        f"{hsm.key.key_id[:16]} in the key table is not set or empty"
    )
    new_ring = RotatingKeyRing(ring.configured, refresh_seconds=0)  # no identity loaded yet
    with app.app_context(), pytest.raises(KeyLoadError) as failure:
        new_ring.get("dlt")
    assert str(failure.value) == expected
    assert hsm.pin not in caplog.text
