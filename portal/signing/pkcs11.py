"""Signing keys held in a PKCS#11 token: an HSM in production, SoftHSM2 in tests.

What: :func:`load_pkcs11_identity` turns a :class:`~portal.signing.keys.Pkcs11KeySpec`
into the same :class:`~portal.signing.keys.SigningIdentity` a key file gives, so
:func:`~portal.signing.sign_pdf` cannot tell the two apart. The private key never
leaves the token; the certificate comes from a file or from the token.

Where things are: this process's sessions with its tokens and the keys in them
(one logged-in session per token, shared by its keys, reopened after a fork or an HSM
restart; a refused PIN not offered again) are :mod:`portal.signing.pkcs11_token`, which
says why they work that way; the pyHanko signer and :func:`load_pkcs11_identity` are
:mod:`portal.signing.pkcs11_signer`. Import from this module, which re-exports them;
:mod:`portal.signing.keys` imports it only when a token is configured, so python-pkcs11
is needed only then.
"""

from __future__ import annotations

from .pkcs11_signer import Pkcs11KeySigner, load_pkcs11_identity
from .pkcs11_token import Pkcs11TokenKey, close_pkcs11_sessions, pkcs11_session_count

__all__ = [
    "Pkcs11KeySigner",
    "Pkcs11TokenKey",
    "close_pkcs11_sessions",
    "load_pkcs11_identity",
    "pkcs11_session_count",
]
