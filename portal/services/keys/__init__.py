"""Key rotation: an agency's signing certificates over time, and which one signs now.

What: the ``signing_keys`` table lists each agency's signing certificates (public part only)
and where their private keys live. At most one is *current* per agency (a partial unique
index, plus a check under a row lock for a clear message). :class:`RotatingKeyRing`
signs with the current key and falls back to the key configured by environment
(docs/keys.md) while an agency has no current key in the table.

Why: documents must keep verifying after a key is replaced, and a verifier must learn
which certificate signed and whether it was since retired (normal) or revoked (a problem).

Public API (import from here; the modules each hold one concept):

- :mod:`.ring`: :func:`key_ring` (a :class:`RotatingKeyRing`), what the running processes sign
  with, and :class:`SigningKeyUnusable`, its refusal of a retired or revoked key.
- :mod:`.register`: :func:`list_keys` (:class:`KeyRow`) and :func:`find_key`.
- :mod:`.adding`: :func:`add_key` from a key file or a token (a ``FileKeySpec`` or
  ``Pkcs11KeySpec`` of :mod:`portal.signing`).
- :mod:`.lifecycle`: :func:`make_current`, :func:`retire_key`, :func:`revoke_key`.
- :mod:`.signers`: :func:`signer_facts` (:class:`SignerFacts`) and :func:`key_agency`, for
  verification.
- :mod:`.configured` and :mod:`.locations`: the keys configured by environment, and key
  locations as a row records them (helpers of the modules above).

The decisions behind rotation (docs/keys.md, "Rotation") are told where they are kept: the
table is not seeded (:mod:`.register`, :mod:`.lifecycle`), and running processes pick up a
switch within ``SIGNING_KEY_REFRESH_SECONDS`` (:mod:`.ring`).
"""

from .adding import add_key
from .lifecycle import make_current, retire_key, revoke_key
from .register import MIN_PREFIX as MIN_PREFIX
from .register import KeyRow, find_key, list_keys
from .ring import RotatingKeyRing, SigningKeyUnusable, key_ring
from .signers import KeyRecord, SignerFacts, key_agency, signer_facts

__all__ = [
    "KeyRecord",
    "KeyRow",
    "RotatingKeyRing",
    "SignerFacts",
    "SigningKeyUnusable",
    "add_key",
    "find_key",
    "key_agency",
    "key_ring",
    "list_keys",
    "make_current",
    "retire_key",
    "revoke_key",
    "signer_facts",
]
