"""Signing identities: an agency's private key and certificate, parsed once per process.

What: :func:`load_file_identity` reads a PEM key and certificate into a
:class:`SigningIdentity` holding a ready pyHanko signer; :class:`KeyRing` caches one
identity per agency for the life of the process; :func:`load_trust_roots` reads the CA
certificates that validation trusts.

Why: pyHanko's stock ``SimpleSigner`` re-parses the private key on every raw signature
(FIELD-NOTES: most of the signing time). :class:`PreparedKeySigner` keeps the parsed
``cryptography`` key object instead, so a signature costs only the PDF writing and the
raw ECDSA/RSA operation. Keys that live in an HSM (PKCS#11) are loaded by
:mod:`portal.signing.pkcs11` into the same :class:`SigningIdentity` shape.

Which store each agency uses is configuration (docs/keys.md):
:func:`signing_key_settings` reads it into :class:`FileKeySpec` /
:class:`Pkcs11KeySpec` values, and :func:`configured_identity_loader` gives the
:class:`KeyRing` loader that honours them.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import pem, tsp, x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.sign.attributes import (
    CMSAttributeProvider,
    SignedAttributeProviderSpec,
    SigningCertificateV2Provider,
)
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.signers import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore

__all__ = [
    "FileKeySpec",
    "KeyLoadError",
    "KeyNotConfigured",
    "KeyRing",
    "KeySpec",
    "Pkcs11KeySpec",
    "PreparedKeySigner",
    "SigningError",
    "SigningIdentity",
    "agency_env_prefix",
    "certificate_common_name",
    "certificate_key_id",
    "configured_identity_loader",
    "file_identity_loader",
    "load_file_identity",
    "load_trust_roots",
    "signing_key_settings",
]

logger = logging.getLogger(__name__)

_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class SigningError(Exception):
    """Base class of every error raised by :mod:`portal.signing`."""


class KeyNotConfigured(SigningError):
    """No signing key is configured for the requested agency."""


class KeyLoadError(SigningError):
    """A key or certificate file is missing, unreadable or not what it should be."""


PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class SigningIdentity:
    """Everything needed to sign on behalf of one agency."""

    agency: str
    """Agency id, e.g. ``"dlt"``."""

    key_id: str
    """Hex SHA-256 of the signing certificate's DER; names the key that signed a document."""

    signer: Signer
    """pyHanko signer with the private key already parsed; safe to reuse for many PDFs."""

    certificate: x509.Certificate
    """The signing certificate (asn1crypto)."""

    subject: str
    """Human-readable signer name: the certificate's common name."""


class _CachedSigningCertificateV2(SigningCertificateV2Provider):
    """signing-certificate-v2 attribute provider returning a value built once.

    pyHanko rebuilds this value for every signature; asn1crypto then re-encodes the
    freshly built (hence "mutated") tree over and over, which cost about 14 ms per PDF.
    A value parsed back from its DER is cached and re-encodes for free.
    """

    def __init__(self, signing_cert: x509.Certificate) -> None:
        super().__init__(signing_cert)
        self._value = tsp.SigningCertificateV2.load(as_signing_certificate_v2(signing_cert).dump())

    async def build_attr_value(self, dry_run: bool = False) -> tsp.SigningCertificateV2:
        return self._value


class _PadesBaselineSignedAttributes(SignedAttributeProviderSpec):
    """Signed attributes of a PAdES baseline signature: signing-certificate-v2.

    pyHanko adds content-type and message-digest itself. PAdES forbids the CMS
    signing-time attribute (the time goes in the signature dictionary's /M), and we
    use no commitment types or signer attributes, so nothing else is needed.
    """

    def __init__(self, signing_cert: x509.Certificate) -> None:
        self._provider = _CachedSigningCertificateV2(signing_cert)

    def signed_attr_providers(
        self, data_digest: bytes, digest_algorithm: str
    ) -> Iterator[CMSAttributeProvider]:
        yield self._provider


class PreparedKeySigner(Signer):
    """pyHanko signer over an already parsed ``cryptography`` private key.

    Supports ECDSA (any curve) and RSA PKCS#1 v1.5, for PAdES signatures (see
    :class:`_PadesBaselineSignedAttributes`; not for plain CAdES, which would need a
    signing-time attribute). Nothing is mutated after construction, so one instance
    can serve several threads.
    """

    def __init__(
        self,
        private_key: PrivateKey,
        signing_cert: x509.Certificate,
        other_certs: Sequence[x509.Certificate] = (),
    ) -> None:
        if not isinstance(private_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise KeyLoadError("only EC and RSA signing keys are supported")
        registry = SimpleCertificateStore()
        registry.register_multiple(other_certs)
        super().__init__(
            signing_cert=signing_cert,
            cert_registry=registry,
            embed_roots=True,
        )
        self._private_key = private_key
        self.signed_attr_prov_spec = _PadesBaselineSignedAttributes(signing_cert)

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        """Sign ``data`` (the DER of the signed attributes) with the prepared key."""
        return self.sign_raw(data, digest_algorithm)

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        """Synchronous raw signature; ``digest_algorithm`` is e.g. ``"sha256"``."""
        try:
            hash_algo = _HASHES[digest_algorithm.lower()]()
        except KeyError:
            raise PyHankoSigningError(f"digest algorithm {digest_algorithm} is not supported") from None
        key = self._private_key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(hash_algo))
        return key.sign(data, padding.PKCS1v15(), hash_algo)


def load_file_identity(
    agency: str,
    key_path: Path,
    cert_path: Path,
    chain: Sequence[Path] = (),
) -> SigningIdentity:
    """Load an agency's identity from an unencrypted PEM key and a PEM/DER certificate.

    ``chain`` lists files with intermediate (and, if wanted, root) certificates to embed
    in signatures. Raises :class:`KeyLoadError` with a plain message on any problem,
    including a key that does not belong to the certificate.
    """
    key_bytes = _read(Path(key_path), "signing key")
    try:
        private_key = serialization.load_pem_private_key(key_bytes, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyLoadError(f"signing key {key_path} is not an unencrypted PEM private key") from exc
    if not isinstance(private_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise KeyLoadError(f"signing key {key_path} is neither EC nor RSA")

    certificate = _one_cert(Path(cert_path), "signing certificate")
    if not _same_public_key(private_key, certificate):
        raise KeyLoadError(f"signing key {key_path} does not match certificate {cert_path}")
    others: list[x509.Certificate] = []
    for path in chain:
        others.extend(_certs_from_file(Path(path), "chain certificate"))

    subject = certificate_common_name(certificate)
    identity = SigningIdentity(
        agency=agency,
        key_id=certificate_key_id(certificate),
        signer=PreparedKeySigner(private_key, certificate, others),
        certificate=certificate,
        subject=subject,
    )
    logger.info("loaded signing identity for agency %s (key id %s)", agency, identity.key_id[:16])
    return identity


def file_identity_loader(
    paths: Mapping[str, tuple[Path, Path]], chain: Sequence[Path] = ()
) -> Callable[[str], SigningIdentity]:
    """A :class:`KeyRing` loader over ``agency -> (key path, cert path)`` (e.g. ``DevPki.agency_paths``).

    Unknown agencies raise :class:`KeyNotConfigured`.
    """
    table = dict(paths)
    chain = tuple(chain)

    def load(agency: str) -> SigningIdentity:
        try:
            key_path, cert_path = table[agency]
        except KeyError:
            raise KeyNotConfigured(f"no signing key configured for agency {agency!r}") from None
        return load_file_identity(agency, key_path, cert_path, chain)

    return load


@dataclass(frozen=True)
class FileKeySpec:
    """An agency's key and certificate in files (development; small deployments)."""

    agency: str
    """Agency id, e.g. ``"dlt"``."""

    key: Path
    """Unencrypted PEM private key (mode 0600)."""

    cert: Path
    """PEM or DER signing certificate."""

    chain: tuple[Path, ...] = ()
    """Files of intermediate (and root) certificates to embed in signatures."""


@dataclass(frozen=True)
class Pkcs11KeySpec:
    """Where an agency's key lives in a PKCS#11 token, and how to log in to it.

    Holds no secret: the PIN is read from the named environment variable or file
    when the session opens. Exactly one of ``pin_env`` and ``pin_file`` is set, and
    at least one of ``key_label`` and ``key_id``.
    """

    agency: str
    """Agency id, e.g. ``"dlt"``."""

    module: str
    """Path of the PKCS#11 module, e.g. ``/usr/lib/softhsm/libsofthsm2.so``."""

    token_label: str
    """Label of the token holding the key."""

    key_label: str | None = None
    """``CKA_LABEL`` of the private key."""

    key_id: bytes | None = None
    """``CKA_ID`` of the private key (configured as hex)."""

    pin_env: str | None = None
    """Name of the environment variable holding the user PIN."""

    pin_file: Path | None = None
    """File holding the user PIN (trailing newline ignored)."""

    cert: Path | None = None
    """Signing certificate file; when unset, the certificate object is read from the token."""

    cert_label: str | None = None
    """Label of the certificate object in the token (default: the key's label, or its id)."""

    chain: tuple[Path, ...] = ()
    """Files of intermediate (and root) certificates to embed in signatures."""

    env_prefix: str | None = None
    """``"DLT_SIGNING_PKCS11_"`` when configured by environment variables (for messages)."""

    keys_file: Path | None = None
    """The signing-keys TOML file when configured there (for messages)."""

    setting_names: Mapping[str, str] | None = field(default=None, compare=False, hash=False)
    """How the command or table that gave this key names each setting, e.g. ``{"pin_env":
    "--pin-env"}`` (for messages, when neither ``env_prefix`` nor the TOML file applies)."""

    def __post_init__(self) -> None:
        missing = [name for name in ("module", "token") if not getattr(self, _FIELD_ATTR[name])]
        if missing:
            raise KeyLoadError(
                f"agency {self.agency}: PKCS#11 key needs {' and '.join(self.setting(m) for m in missing)}"
            )
        if self.key_label is None and self.key_id is None:
            raise KeyLoadError(
                f"agency {self.agency}: PKCS#11 key needs {self.setting('key_label')} "
                f"or {self.setting('key_id')}"
            )
        if (self.pin_env is None) == (self.pin_file is None):
            raise KeyLoadError(
                f"agency {self.agency}: set exactly one of {self.setting('pin_env')} "
                f"(an environment variable's name) and {self.setting('pin_file')} (a file's path)"
            )

    def setting(self, name: str) -> str:
        """How an operator spells setting ``name`` (``"pin_env"``) where this key was configured."""
        if self.setting_names and name in self.setting_names:
            return self.setting_names[name]
        if self.env_prefix is not None:
            return self.env_prefix + name.upper()
        where = f" of {self.keys_file}" if self.keys_file is not None else ""
        return f"{name} in [agencies.{self.agency}]{where}"

    def describe_key(self) -> str:
        """``labelled 'x' with id 01``: the key as the configuration names it."""
        parts = []
        if self.key_label is not None:
            parts.append(f"labelled {self.key_label!r}")
        if self.key_id is not None:
            parts.append(f"with id {self.key_id.hex()}")
        return " ".join(parts)


KeySpec = FileKeySpec | Pkcs11KeySpec

_FIELD_ATTR = {"module": "module", "token": "token_label"}
_PKCS11_FIELDS = (
    "module",
    "token",
    "key_label",
    "key_id",
    "pin_env",
    "pin_file",
    "cert",
    "cert_label",
    "chain",
)
_FILE_FIELDS = ("key", "cert", "chain")
_ENV_INFIX = "_SIGNING_PKCS11_"


def agency_env_prefix(agency: str) -> str:
    """Prefix of an agency's PKCS#11 environment variables: ``"dlt"`` -> ``"DLT_SIGNING_PKCS11_"``."""
    return re.sub(r"[^A-Za-z0-9]", "_", agency).upper() + _ENV_INFIX


def signing_key_settings(
    agencies: Iterable[str],
    *,
    keys_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, KeySpec]:
    """Which key store each agency uses, from a TOML file and/or environment variables.

    ``keys_file`` (``PORTAL_SIGNING_KEYS``) has one ``[agencies.<id>]`` table per
    agency with ``store = "file"`` or ``store = "pkcs11"``; ``environ`` holds
    ``<AGENCY>_SIGNING_PKCS11_*`` variables. Agencies configured in neither are absent
    from the result (the caller falls back to the development PKI). Any mistake raises
    :class:`KeyLoadError` naming the agency and the setting; values are never echoed.
    """
    known = list(agencies)
    settings: dict[str, KeySpec] = {}
    if keys_file:
        settings.update(_settings_from_file(Path(keys_file), known))
    for agency, spec in _settings_from_env(dict(environ or {}), known).items():
        if agency in settings:
            raise KeyLoadError(
                f"agency {agency}: signing key configured twice, in {keys_file} and by "
                f"{agency_env_prefix(agency)}* environment variables; keep one"
            )
        settings[agency] = spec
    return settings


def _settings_from_file(path: Path, known: list[str]) -> dict[str, KeySpec]:
    try:
        with path.open("rb") as fh:
            document = tomllib.load(fh)
    except FileNotFoundError:
        raise KeyLoadError(f"signing keys file {path} (PORTAL_SIGNING_KEYS) does not exist") from None
    except OSError as exc:
        raise KeyLoadError(f"signing keys file {path} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise KeyLoadError(f"signing keys file {path} is not valid TOML: {exc}") from None
    extra = set(document) - {"agencies"}
    if extra:
        raise KeyLoadError(
            f"signing keys file {path}: unknown top-level setting(s) {', '.join(sorted(extra))}"
        )
    tables = document.get("agencies", {})
    if not isinstance(tables, dict):
        raise KeyLoadError(f"signing keys file {path}: 'agencies' must be a table")
    base = path.parent
    result: dict[str, KeySpec] = {}
    for agency, table in tables.items():
        where = f"[agencies.{agency}] of {path}"
        if agency not in known:
            raise KeyLoadError(f"signing keys file {path}: {where} names no known agency")
        if not isinstance(table, dict):
            raise KeyLoadError(f"agency {agency}: {where} must be a table")
        store = table.get("store")
        fields = (
            {"file": _FILE_FIELDS, "pkcs11": _PKCS11_FIELDS}.get(store) if isinstance(store, str) else None
        )
        if fields is None:
            raise KeyLoadError(f'agency {agency}: store in {where} must be "file" or "pkcs11"')
        unknown = set(table) - set(fields) - {"store"}
        if unknown:
            raise KeyLoadError(f"agency {agency}: unknown setting(s) {', '.join(sorted(unknown))} in {where}")

        def text(name: str, table=table, where=where, agency=agency) -> str | None:
            value = table.get(name)
            if value is not None and (not isinstance(value, str) or not value):
                raise KeyLoadError(f"agency {agency}: {name} in {where} must be a non-empty string")
            return value

        def file(name: str, text=text) -> Path | None:
            value = text(name)
            return None if value is None else base / value

        chain = table.get("chain", [])
        if not isinstance(chain, list) or not all(isinstance(p, str) and p for p in chain):
            raise KeyLoadError(f"agency {agency}: chain in {where} must be a list of file paths")
        chain_paths = tuple(base / p for p in chain)
        if store == "file":
            key, cert = file("key"), file("cert")
            if key is None or cert is None:
                raise KeyLoadError(f"agency {agency}: {where} needs both key and cert")
            result[agency] = FileKeySpec(agency=agency, key=key, cert=cert, chain=chain_paths)
        else:
            result[agency] = Pkcs11KeySpec(
                agency=agency,
                module=text("module") or "",
                token_label=text("token") or "",
                key_label=text("key_label"),
                key_id=_hex_id(agency, text("key_id"), f"key_id in {where}"),
                pin_env=text("pin_env"),
                pin_file=file("pin_file"),
                cert=file("cert"),
                cert_label=text("cert_label"),
                chain=chain_paths,
                keys_file=path,
            )
    return result


def _settings_from_env(environ: dict[str, str], known: list[str]) -> dict[str, KeySpec]:
    result: dict[str, KeySpec] = {}
    used: set[str] = set()
    for agency in known:
        prefix = agency_env_prefix(agency)
        values = {
            name[len(prefix) :].lower(): v for name, v in environ.items() if name.startswith(prefix) and v
        }
        used.update(prefix + name.upper() for name in values)
        if not values:
            continue
        unknown = set(values) - set(_PKCS11_FIELDS)
        if unknown:
            names = ", ".join(prefix + n.upper() for n in sorted(unknown))
            hint = ""
            if any("pin" in n for n in unknown):
                hint = (
                    f"; the PIN itself never goes in configuration: name an environment variable "
                    f"({prefix}PIN_ENV) or a file ({prefix}PIN_FILE) that holds it"
                )
            raise KeyLoadError(f"agency {agency}: {names} is not a setting{hint}")
        result[agency] = Pkcs11KeySpec(
            agency=agency,
            module=values.get("module", ""),
            token_label=values.get("token", ""),
            key_label=values.get("key_label"),
            key_id=_hex_id(agency, values.get("key_id"), prefix + "KEY_ID"),
            pin_env=values.get("pin_env"),
            pin_file=Path(values["pin_file"]) if "pin_file" in values else None,
            cert=Path(values["cert"]) if "cert" in values else None,
            cert_label=values.get("cert_label"),
            chain=tuple(Path(p) for p in values.get("chain", "").split(":") if p),
            env_prefix=prefix,
        )
    strays = sorted(name for name in environ if _ENV_INFIX in name and environ[name] and name not in used)
    if strays:
        raise KeyLoadError(f"{', '.join(strays)} name(s) no known agency (known: {', '.join(known)})")
    return result


def _hex_id(agency: str, value: str | None, setting: str) -> bytes | None:
    if value is None:
        return None
    try:
        return bytes.fromhex(value.replace(":", ""))
    except ValueError:
        raise KeyLoadError(f"agency {agency}: {setting} must be hexadecimal (e.g. 01 or a1:b2)") from None


def configured_identity_loader(
    settings: Mapping[str, KeySpec],
    fallback: Callable[[str], SigningIdentity] | None = None,
) -> Callable[[str], SigningIdentity]:
    """A :class:`KeyRing` loader honouring ``settings``; other agencies go to ``fallback``.

    Without a fallback, an agency missing from ``settings`` raises :class:`KeyNotConfigured`.
    """
    table = dict(settings)

    def load(agency: str) -> SigningIdentity:
        spec = table.get(agency)
        if isinstance(spec, FileKeySpec):
            return load_file_identity(agency, spec.key, spec.cert, spec.chain)
        if isinstance(spec, Pkcs11KeySpec):
            from .pkcs11 import load_pkcs11_identity  # python-pkcs11 only where a token is configured

            return load_pkcs11_identity(spec)
        if fallback is not None:
            return fallback(agency)
        raise KeyNotConfigured(f"no signing key configured for agency {agency!r}")

    return load


class KeyRing:
    """Per-process cache of signing identities: each agency is loaded once.

    Thread-safe: concurrent first calls for the same agency run the loader once.
    Failures are not cached, so a fixed configuration is picked up on the next call.
    """

    def __init__(self, loader: Callable[[str], SigningIdentity]) -> None:
        self._loader = loader
        self._identities: dict[str, SigningIdentity] = {}
        self._lock = threading.Lock()

    def get(self, agency: str) -> SigningIdentity:
        """The identity of ``agency``; raises :class:`KeyNotConfigured`/:class:`KeyLoadError`."""
        identity = self._identities.get(agency)
        if identity is not None:
            return identity
        with self._lock:
            identity = self._identities.get(agency)
            if identity is None:
                identity = self._loader(agency)
                if identity.agency != agency:
                    raise KeyLoadError(f"loader returned the identity of {identity.agency!r} for {agency!r}")
                self._identities[agency] = identity
            return identity


def load_trust_roots(paths: Sequence[Path]) -> list[x509.Certificate]:
    """Read trust-root certificates (PEM, possibly several per file, or DER)."""
    roots: list[x509.Certificate] = []
    for path in paths:
        roots.extend(_certs_from_file(Path(path), "trust root"))
    return roots


def certificate_key_id(certificate: x509.Certificate) -> str:
    """Hex SHA-256 of a certificate's DER encoding (the ``key_id`` of an identity)."""
    return hashlib.sha256(certificate.dump()).hexdigest()


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyLoadError(f"{what} file {path} does not exist") from None
    except OSError as exc:
        raise KeyLoadError(f"{what} file {path} cannot be read: {exc.strerror}") from None


def _certs_from_file(path: Path, what: str) -> list[x509.Certificate]:
    data = _read(path, what)
    try:
        if pem.detect(data):
            certs = [
                x509.Certificate.load(der)
                for kind, _headers, der in pem.unarmor(data, multiple=True)
                if kind == "CERTIFICATE"
            ]
        else:
            certs = [x509.Certificate.load(data)]
        for cert in certs:
            cert.native  # noqa: B018 - forces a full parse so that bad DER fails here
    except (ValueError, TypeError) as exc:
        raise KeyLoadError(f"{what} file {path} does not hold a valid certificate") from exc
    if not certs:
        raise KeyLoadError(f"{what} file {path} holds no certificate")
    return certs


def _one_cert(path: Path, what: str) -> x509.Certificate:
    certs = _certs_from_file(path, what)
    if len(certs) != 1:
        raise KeyLoadError(f"{what} file {path} must hold exactly one certificate")
    return certs[0]


def _same_public_key(private_key: PrivateKey, certificate: x509.Certificate) -> bool:
    try:
        cert_key = serialization.load_der_public_key(certificate.public_key.dump())
    except (ValueError, UnsupportedAlgorithm):
        return False
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return private_key.public_key().public_bytes(der, spki) == cert_key.public_bytes(der, spki)


def certificate_common_name(certificate: x509.Certificate) -> str:
    """The subject common name (or organisation) of a certificate, for display."""
    names = certificate.subject.native
    return str(names.get("common_name") or names.get("organization_name") or "unknown")
