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

This module is where callers import all of the above from. It holds the key ring and the
configured loader itself; the rest lives in :mod:`portal.signing.identity` (the identity,
its signer, the errors, certificate helpers), :mod:`portal.signing.keyfiles` (key and
certificate files, trust roots) and :mod:`portal.signing.keysettings` (the configuration).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from .identity import (
    KeyLoadError,
    KeyNotConfigured,
    PreparedKeySigner,
    SigningError,
    SigningIdentity,
    certificate_common_name,
    certificate_key_id,
)
from .keyfiles import file_identity_loader, load_file_identity, load_trust_roots
from .keysettings import (
    FileKeySpec,
    KeySpec,
    Pkcs11KeySpec,
    agency_env_prefix,
    signing_key_settings,
)

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
