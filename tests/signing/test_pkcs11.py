"""Signing keys in a PKCS#11 token (SoftHSM2), and the per-agency key configuration."""

from __future__ import annotations

import logging
import os
import statistics
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import pkcs11
import pytest
from asn1crypto import x509

from portal.signing import (
    FileFinding,
    FileKeySpec,
    KeyLoadError,
    KeyNotConfigured,
    KeyRing,
    Pkcs11KeySpec,
    SigningIdentity,
    check_pdf_signature,
    configured_identity_loader,
    load_file_identity,
    sign_pdf,
    signing_key_settings,
)
from portal.signing import pkcs11 as tra_pkcs11
from portal.signing.pkcs11 import close_pkcs11_sessions, load_pkcs11_identity, pkcs11_session_count

from .conftest import SoftHsm

AGENCIES = ["dlt", "dopa"]


def _spec(hsm: SoftHsm, **overrides) -> Pkcs11KeySpec:
    values = {
        "agency": "dlt",
        "module": hsm.module,
        "token_label": hsm.token,
        "key_label": "ec",
        "pin_env": hsm.pin_env,
        "cert": hsm.ec_cert,
        "chain": (hsm.root_cert,),
        "env_prefix": "DLT_SIGNING_PKCS11_",
    }
    values.update(overrides)
    return Pkcs11KeySpec(**values)


@pytest.fixture(scope="module")
def hsm_identity(signing_softhsm: SoftHsm) -> SigningIdentity:
    return load_pkcs11_identity(_spec(signing_softhsm))


class _LoginCounter:
    """Wraps python-pkcs11's library object to count sessions opened and logins attempted."""

    def __init__(self) -> None:
        self.opens = 0
        self.logins = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> _LoginCounter:
        real_lib = pkcs11.lib
        counter = self

        class _Token:
            def __init__(self, token):
                self._token = token

            def open(self, **kwargs):
                counter.opens += 1
                counter.logins += kwargs.get("user_pin") is not None
                return self._token.open(**kwargs)

        class _Lib:
            def __init__(self, lib):
                self._lib = lib

            def get_token(self, **kwargs):
                return _Token(self._lib.get_token(**kwargs))

            def reinitialize(self):
                self._lib.reinitialize()

        monkeypatch.setattr(pkcs11, "lib", lambda so: _Lib(real_lib(so)))
        return self


def _check(pdf: bytes, roots: list[x509.Certificate]):
    result = check_pdf_signature(pdf, roots)
    assert result.finding is FileFinding.INTACT, result.detail
    assert result.indication == "TOTAL-PASSED"
    assert result.coverage == "entire_file"
    return result


# --- signing through the token ---


def test_pdf_signed_in_softhsm_validates_against_our_root(
    hsm_identity: SigningIdentity,
    signing_unsigned_pdf: bytes,
    signing_trust_roots: list[x509.Certificate],
) -> None:
    signed = sign_pdf(signing_unsigned_pdf, hsm_identity, reason="test", location="Bangkok")
    result = _check(signed, signing_trust_roots)
    assert result.signer == "HSM ec Document Signing (DEVELOPMENT)" == hsm_identity.subject
    assert result.signer_key_id == hsm_identity.key_id


def test_foreign_root_does_not_trust_the_hsm_signature(
    hsm_identity: SigningIdentity, signing_unsigned_pdf: bytes, signing_foreign_pki
) -> None:
    from portal.signing import load_trust_roots

    signed = sign_pdf(signing_unsigned_pdf, hsm_identity)
    result = check_pdf_signature(signed, load_trust_roots([signing_foreign_pki.root_cert_path]))
    assert result.finding is FileFinding.UNTRUSTED_SIGNATURE


def test_certificate_read_from_the_token(
    signing_softhsm: SoftHsm,
    hsm_identity: SigningIdentity,
    signing_unsigned_pdf: bytes,
    signing_trust_roots: list[x509.Certificate],
) -> None:
    identity = load_pkcs11_identity(_spec(signing_softhsm, cert=None, key_label=None, key_id=b"\x01"))
    assert identity.certificate.dump() == hsm_identity.certificate.dump()
    assert identity.key_id == hsm_identity.key_id
    _check(sign_pdf(signing_unsigned_pdf, identity), signing_trust_roots)


def test_rsa_key_in_the_token(
    signing_softhsm: SoftHsm, signing_unsigned_pdf: bytes, signing_trust_roots: list[x509.Certificate]
) -> None:
    identity = load_pkcs11_identity(_spec(signing_softhsm, key_label="rsa", cert=signing_softhsm.rsa_cert))
    assert identity.certificate.public_key.algorithm == "rsa"
    result = _check(sign_pdf(signing_unsigned_pdf, identity), signing_trust_roots)
    assert result.signer == "HSM rsa Document Signing (DEVELOPMENT)"


def test_twenty_documents_one_session_one_login_one_key_lookup(
    signing_softhsm: SoftHsm,
    signing_unsigned_pdf: bytes,
    signing_trust_roots: list[x509.Certificate],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    close_pkcs11_sessions()  # start from no session, so that the count below is all of it
    counter = _LoginCounter().install(monkeypatch)
    sessions_before = pkcs11_session_count(signing_softhsm.module, signing_softhsm.token)

    identity = load_pkcs11_identity(_spec(signing_softhsm))
    key = identity.signer.key
    lookups_before = key.key_lookups - 1  # loading looked the key up once
    signed = [sign_pdf(signing_unsigned_pdf, identity) for _ in range(20)]

    assert counter.opens == 1
    assert counter.logins == 1
    assert pkcs11_session_count(signing_softhsm.module, signing_softhsm.token) == sessions_before + 1
    assert key.key_lookups == lookups_before + 1
    assert len(set(signed)) == 20  # ECDSA is randomised: twenty distinct signatures
    for pdf in signed[:3] + signed[-2:]:
        _check(pdf, signing_trust_roots)


def test_several_threads_share_the_session(
    hsm_identity: SigningIdentity,
    signing_softhsm: SoftHsm,
    signing_unsigned_pdf: bytes,
    signing_trust_roots: list[x509.Certificate],
) -> None:
    sign_pdf(signing_unsigned_pdf, hsm_identity)  # the session exists before the threads start
    sessions_before = pkcs11_session_count(signing_softhsm.module, signing_softhsm.token)
    results: list[bytes] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                results.append(sign_pdf(signing_unsigned_pdf, hsm_identity))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 20
    assert pkcs11_session_count(signing_softhsm.module, signing_softhsm.token) == sessions_before
    for pdf in results[::5]:
        _check(pdf, signing_trust_roots)


def test_forked_child_opens_its_own_session(
    hsm_identity: SigningIdentity,
    signing_softhsm: SoftHsm,
    signing_unsigned_pdf: bytes,
    signing_trust_roots: list[x509.Certificate],
    tmp_path: Path,
) -> None:
    sign_pdf(signing_unsigned_pdf, hsm_identity)  # the parent holds a session
    parent_sessions = pkcs11_session_count(signing_softhsm.module, signing_softhsm.token)
    out = tmp_path / "child.pdf"
    pid = os.fork()
    if pid == 0:  # child: sign with the identity loaded by the parent, report, exit at once
        code = 1
        try:
            out.write_bytes(sign_pdf(signing_unsigned_pdf, hsm_identity))
            sessions = pkcs11_session_count(signing_softhsm.module, signing_softhsm.token)
            (tmp_path / "sessions").write_text(str(sessions))
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert int((tmp_path / "sessions").read_text()) == parent_sessions + 1
    _check(out.read_bytes(), signing_trust_roots)
    # The parent's session is untouched by the child.
    _check(sign_pdf(signing_unsigned_pdf, hsm_identity), signing_trust_roots)
    assert pkcs11_session_count(signing_softhsm.module, signing_softhsm.token) == parent_sessions


def test_key_ring_loads_the_hsm_identity_once(signing_softhsm: SoftHsm) -> None:
    settings = {"dlt": _spec(signing_softhsm)}
    calls: list[str] = []
    loader = configured_identity_loader(settings)

    def counting(agency: str) -> SigningIdentity:
        calls.append(agency)
        return loader(agency)

    ring = KeyRing(counting)
    first = ring.get("dlt")
    assert ring.get("dlt") is first
    assert calls == ["dlt"]
    with pytest.raises(KeyNotConfigured):
        ring.get("dopa")


def test_signature_time_file_key_vs_softhsm(
    hsm_identity: SigningIdentity,
    signing_identity: SigningIdentity,
    signing_unsigned_pdf: bytes,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Not an assertion on time: the numbers go to the report (run with -s or see the summary)."""

    def per_signature_ms(identity: SigningIdentity, rounds: int = 30) -> float:
        sign_pdf(signing_unsigned_pdf, identity)  # warm
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            sign_pdf(signing_unsigned_pdf, identity)
            samples.append((time.perf_counter() - start) * 1000)
        return statistics.median(samples)

    file_ms = per_signature_ms(signing_identity)
    hsm_ms = per_signature_ms(hsm_identity)
    raw = []
    for _ in range(200):
        start = time.perf_counter()
        hsm_identity.signer.sign_raw(b"x" * 200, "sha256")
        raw.append((time.perf_counter() - start) * 1000)
    with capsys.disabled():
        print(
            f"\n[pkcs11] B-B signature, median of 30: file key {file_ms:.2f} ms, "
            f"SoftHSM {hsm_ms:.2f} ms; raw SoftHSM ECDSA P-256 {statistics.median(raw):.3f} ms"
        )
    assert file_ms > 0 and hsm_ms > 0


# --- errors: clear, naming agency and setting, never the PIN ---


@pytest.fixture
def logged_out(signing_softhsm: SoftHsm) -> Iterator[None]:
    """No session is logged in, so that the token checks the PIN we give."""
    close_pkcs11_sessions()
    yield
    close_pkcs11_sessions()


def _full_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def test_wrong_pin_is_a_clear_error_without_the_pin(
    signing_softhsm: SoftHsm,
    logged_out: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong_pin = "wrong-" + signing_softhsm.pin[::-1]
    monkeypatch.setenv("TRA_TEST_WRONG_PIN", wrong_pin)
    counter = _LoginCounter().install(monkeypatch)
    spec = _spec(
        signing_softhsm,
        token_label=signing_softhsm.pin_token,
        key_label="pin-ec",
        cert=signing_softhsm.pin_ec_cert,
        pin_env="TRA_TEST_WRONG_PIN",
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(KeyLoadError) as first:
        load_pkcs11_identity(spec)
    message = str(first.value)
    assert "agency dlt" in message
    assert signing_softhsm.pin_token in message
    assert "refused the PIN" in message
    assert "DLT_SIGNING_PKCS11_PIN_ENV" in message
    assert counter.logins == 1

    # The same wrong PIN is not offered to the token again (a real HSM would lock the PIN).
    with pytest.raises(KeyLoadError) as second:
        load_pkcs11_identity(spec)
    assert "refused this PIN before" in str(second.value)
    assert counter.logins == 1

    for text in (_full_text(first.value), _full_text(second.value), caplog.text):
        assert wrong_pin not in text
        assert signing_softhsm.pin not in text

    # The right PIN still works: the failures did not lock the token.
    identity = load_pkcs11_identity(_spec(signing_softhsm, **{**_pin_token_args(signing_softhsm)}))
    assert identity.subject == "HSM pin-ec Document Signing (DEVELOPMENT)"
    assert counter.logins == 2
    assert signing_softhsm.pin not in caplog.text


def _pin_token_args(hsm: SoftHsm) -> dict:
    return {"token_label": hsm.pin_token, "key_label": "pin-ec", "cert": hsm.pin_ec_cert}


def test_pin_from_a_file(signing_softhsm: SoftHsm, logged_out: None, tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text(signing_softhsm.pin + "\n")
    pin_file.chmod(0o600)
    spec = _spec(signing_softhsm, pin_env=None, pin_file=pin_file, **_pin_token_args(signing_softhsm))
    assert load_pkcs11_identity(spec).subject == "HSM pin-ec Document Signing (DEVELOPMENT)"


def test_missing_pin_variable_and_file(signing_softhsm: SoftHsm, logged_out: None, tmp_path: Path) -> None:
    with pytest.raises(KeyLoadError, match=r"TRA_TEST_UNSET_PIN named by DLT_SIGNING_PKCS11_PIN_ENV is not"):
        load_pkcs11_identity(_spec(signing_softhsm, pin_env="TRA_TEST_UNSET_PIN"))
    missing = tmp_path / "no-pin"
    with pytest.raises(KeyLoadError, match=r"PIN file .*no-pin named by DLT_SIGNING_PKCS11_PIN_FILE"):
        load_pkcs11_identity(_spec(signing_softhsm, pin_env=None, pin_file=missing))


def test_missing_token(signing_softhsm: SoftHsm) -> None:
    with pytest.raises(KeyLoadError) as info:
        load_pkcs11_identity(_spec(signing_softhsm, token_label="no-such-token"))
    message = str(info.value)
    assert "agency dlt" in message and "'no-such-token'" in message
    assert "DLT_SIGNING_PKCS11_TOKEN" in message
    assert signing_softhsm.pin not in _full_text(info.value)


def test_missing_key_label(signing_softhsm: SoftHsm) -> None:
    with pytest.raises(KeyLoadError) as info:
        load_pkcs11_identity(_spec(signing_softhsm, key_label="no-such-key"))
    message = str(info.value)
    assert "agency dlt" in message and "no private key labelled 'no-such-key'" in message
    assert "DLT_SIGNING_PKCS11_KEY_LABEL" in message


def test_missing_module(signing_softhsm: SoftHsm, tmp_path: Path) -> None:
    with pytest.raises(KeyLoadError, match=r"agency dlt: the PKCS#11 module .* cannot be loaded .*MODULE"):
        load_pkcs11_identity(_spec(signing_softhsm, module=str(tmp_path / "nothing.so")))


def test_key_that_does_not_match_the_certificate(signing_softhsm: SoftHsm) -> None:
    with pytest.raises(KeyLoadError, match=r"agency dlt: .*'rsa'.* does not match the signing certificate"):
        load_pkcs11_identity(_spec(signing_softhsm, key_label="rsa", cert=signing_softhsm.ec_cert))


def test_no_certificate_in_the_token_for_that_label(signing_softhsm: SoftHsm) -> None:
    spec = _spec(signing_softhsm, key_label="rsa", cert=None)
    with pytest.raises(KeyLoadError, match=r"no certificate labelled 'rsa'; set DLT_SIGNING_PKCS11_CERT"):
        load_pkcs11_identity(spec)


# --- configuration ---


def _env(hsm: SoftHsm, **extra: str) -> dict[str, str]:
    return {
        "DLT_SIGNING_PKCS11_MODULE": hsm.module,
        "DLT_SIGNING_PKCS11_TOKEN": hsm.token,
        "DLT_SIGNING_PKCS11_KEY_LABEL": "ec",
        "DLT_SIGNING_PKCS11_PIN_ENV": hsm.pin_env,
        "DLT_SIGNING_PKCS11_CERT": str(hsm.ec_cert),
        "DLT_SIGNING_PKCS11_CHAIN": str(hsm.root_cert),
        **extra,
    }


def test_environment_variables_configure_one_agency(
    signing_softhsm: SoftHsm, signing_unsigned_pdf: bytes, signing_trust_roots: list[x509.Certificate]
) -> None:
    settings = signing_key_settings(AGENCIES, environ=_env(signing_softhsm, DLT_SIGNING_PKCS11_KEY_ID="01"))
    assert set(settings) == {"dlt"}
    spec = settings["dlt"]
    assert isinstance(spec, Pkcs11KeySpec)
    assert (spec.token_label, spec.key_label, spec.key_id) == (signing_softhsm.token, "ec", b"\x01")
    assert spec.chain == (signing_softhsm.root_cert,)
    identity = configured_identity_loader(settings)("dlt")
    _check(sign_pdf(signing_unsigned_pdf, identity), signing_trust_roots)


def test_a_pin_in_the_environment_is_refused_without_echoing_it(signing_softhsm: SoftHsm) -> None:
    env = _env(signing_softhsm, DLT_SIGNING_PKCS11_PIN="s3cret-value")
    with pytest.raises(KeyLoadError) as info:
        signing_key_settings(AGENCIES, environ=env)
    message = str(info.value)
    assert "DLT_SIGNING_PKCS11_PIN is not a setting" in message
    assert "DLT_SIGNING_PKCS11_PIN_ENV" in message and "DLT_SIGNING_PKCS11_PIN_FILE" in message
    assert "s3cret-value" not in _full_text(info.value)


@pytest.mark.parametrize(
    ("drop", "extra", "expected"),
    [
        ("DLT_SIGNING_PKCS11_TOKEN", {}, r"agency dlt: PKCS#11 key needs DLT_SIGNING_PKCS11_TOKEN"),
        ("DLT_SIGNING_PKCS11_KEY_LABEL", {}, r"needs DLT_SIGNING_PKCS11_KEY_LABEL or .*KEY_ID"),
        ("DLT_SIGNING_PKCS11_PIN_ENV", {}, r"set exactly one of DLT_SIGNING_PKCS11_PIN_ENV .*_PIN_FILE"),
        (None, {"DLT_SIGNING_PKCS11_PIN_FILE": "/x"}, r"set exactly one of DLT_SIGNING_PKCS11_PIN_ENV"),
        (None, {"DLT_SIGNING_PKCS11_KEY_ID": "zz"}, r"DLT_SIGNING_PKCS11_KEY_ID must be hexadecimal"),
        (None, {"DLTX_SIGNING_PKCS11_MODULE": "/x"}, r"DLTX_SIGNING_PKCS11_MODULE name\(s\) no known agency"),
    ],
)
def test_environment_mistakes(signing_softhsm: SoftHsm, drop: str | None, extra: dict, expected: str) -> None:
    env = _env(signing_softhsm, **extra)
    if drop:
        env.pop(drop)
    with pytest.raises(KeyLoadError, match=expected):
        signing_key_settings(AGENCIES, environ=env)


def test_keys_file_with_both_stores(signing_softhsm: SoftHsm, signing_pki, tmp_path: Path) -> None:
    dopa_key, dopa_cert = signing_pki.agency_paths["dopa"]
    keys_file = tmp_path / "keys.toml"
    keys_file.write_text(
        f"""
[agencies.dlt]
store = "pkcs11"
module = "{signing_softhsm.module}"
token = "{signing_softhsm.token}"
key_id = "01"
pin_env = "{signing_softhsm.pin_env}"
chain = ["{signing_softhsm.root_cert}"]

[agencies.dopa]
store = "file"
key = "{dopa_key}"
cert = "{dopa_cert.name}"
""".replace(f'"{dopa_cert.name}"', f'"{dopa_cert}"')
    )
    settings = signing_key_settings(AGENCIES, keys_file=keys_file)
    dlt, dopa = settings["dlt"], settings["dopa"]
    assert isinstance(dlt, Pkcs11KeySpec) and dlt.cert is None and dlt.key_id == b"\x01"
    assert isinstance(dopa, FileKeySpec) and dopa.key == dopa_key
    loader = configured_identity_loader(settings)
    assert loader("dlt").subject == "HSM ec Document Signing (DEVELOPMENT)"  # certificate from the token
    expected = load_file_identity("dopa", dopa_key, dopa_cert)
    assert loader("dopa").key_id == expected.key_id


def test_keys_file_relative_paths_and_mistakes(signing_softhsm: SoftHsm, tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.toml"
    keys_file.write_text('[agencies.dopa]\nstore = "file"\nkey = "k.pem"\ncert = "c.pem"\n')
    spec = signing_key_settings(AGENCIES, keys_file=keys_file)["dopa"]
    assert spec == FileKeySpec(agency="dopa", key=tmp_path / "k.pem", cert=tmp_path / "c.pem")

    cases = {
        '[agencies.dlt]\nstore = "hsm"\n': r'agency dlt: store in \[agencies.dlt\] .* be "file" or "pkcs11"',
        '[agencies.nope]\nstore = "file"\n': r"\[agencies.nope\] .* names no known agency",
        '[agencies.dlt]\nstore = "pkcs11"\nmodule = "/m"\ntoken = "t"\nkey_label = "k"\npin = "1"\n': (
            r"agency dlt: unknown setting\(s\) pin in \[agencies.dlt\]"
        ),
        '[agencies.dlt]\nstore = "pkcs11"\nmodule = "/m"\ntoken = "t"\npin_env = "P"\n': (
            r"needs key_label in \[agencies.dlt\] of .* or key_id"
        ),
        "[agencies.dlt\n": r"is not valid TOML",
    }
    for text, expected in cases.items():
        keys_file.write_text(text)
        with pytest.raises(KeyLoadError, match=expected):
            signing_key_settings(AGENCIES, keys_file=keys_file)
    with pytest.raises(KeyLoadError, match=r"does not exist"):
        signing_key_settings(AGENCIES, keys_file=tmp_path / "missing.toml")


def test_agency_configured_twice_is_refused(signing_softhsm: SoftHsm, tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.toml"
    keys_file.write_text('[agencies.dlt]\nstore = "file"\nkey = "k.pem"\ncert = "c.pem"\n')
    with pytest.raises(KeyLoadError, match=r"agency dlt: signing key configured twice"):
        signing_key_settings(AGENCIES, keys_file=keys_file, environ=_env(signing_softhsm))


def test_unconfigured_agencies_fall_back(signing_softhsm: SoftHsm, signing_identity: SigningIdentity) -> None:
    settings = signing_key_settings(AGENCIES, environ=_env(signing_softhsm))
    loader = configured_identity_loader(settings, fallback=lambda agency: signing_identity)
    assert loader("dopa") is signing_identity
    assert isinstance(loader("dlt").signer, tra_pkcs11.Pkcs11KeySigner)


def test_runtime_key_ring_uses_the_configured_token(
    signing_softhsm: SoftHsm, tmp_path: Path, signing_unsigned_pdf: bytes
) -> None:
    """The portal's own key ring: DLT through the token from environment settings, roots still trusted."""
    from portal import create_app
    from portal.services import keys, runtime

    app = create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'portal.db'}",
            "DEV_PKI_DIR": str(tmp_path / "dev-pki"),
            "BLOB_DIR": str(tmp_path / "blobs"),
            "SIGNING_KEY_ENV": _env(signing_softhsm),
            "TRUST_ROOTS": str(signing_softhsm.root_cert),
        },
    )
    with app.app_context():
        identity = keys.key_ring().get("dlt")
        assert isinstance(identity.signer, tra_pkcs11.Pkcs11KeySigner)
        assert keys.key_ring().get("dlt") is identity
        _check(sign_pdf(signing_unsigned_pdf, identity), runtime.trust_roots())


def test_runtime_key_ring_reports_a_bad_setting(tmp_path: Path) -> None:
    from portal import create_app
    from portal.services import keys

    app = create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'portal.db'}",
            "DEV_PKI_DIR": str(tmp_path / "dev-pki"),
            "SIGNING_KEY_ENV": {"DLT_SIGNING_PKCS11_MODULE": "/x"},
        },
    )
    with app.app_context(), pytest.raises(KeyLoadError, match=r"agency dlt: PKCS#11 key needs .*_TOKEN"):
        keys.key_ring()
