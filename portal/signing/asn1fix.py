"""A fix for asn1crypto's test for BER indefinite lengths, which fires on some definite ones.

What: asn1crypto 1.5.1 (the latest release; pyHanko builds every CMS structure with it) re-encodes
a value at every ``dump()`` when the last byte of its header is 0x80. That is meant to catch BER's
indefinite length (a single length octet 0x80), but it also catches every definite length whose
last octet is 0x80: 128 (``81 80``), 3712 (``82 0e 80``) and so on, one length in 256. Reported
upstream as asn1crypto#249; the fix (#302) was not merged. :func:`apply` wraps the five ``dump``
methods concerned so that a value whose length is definite keeps its bytes.

Why: the forced re-encoding runs down through everything inside the value and parses it. Where a
DEFAULT field was left out of the DER (RFC 5816's ESSCertIDv2 hash algorithm, SHA-256, in almost
every timestamp token), the parse builds that field afresh, which asn1crypto then counts as a
change, for good; each later dump of the signature pyHanko is writing re-encodes the whole path
again, more times the deeper it is. Whenever pyHanko's SignedData came out 3712 bytes long, a
signature at B-T or B-LTA took 18-66 s instead of 60 ms (docs/keys.md, "A slow path in
asn1crypto, and its fix"). Verifying such a file goes through the same code.

How: a value parsed with an indefinite length keeps its end-of-contents octets (``00 00``) as
``_trailer``; a definite one, or one we built, has none. For the latter the wrapper drops the
cached header before calling asn1crypto, which builds the same DER header again instead of
re-encoding the contents.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from asn1crypto import core

__all__ = ["apply"]

#: The classes whose own ``dump`` holds asn1crypto's header test (asn1crypto/core.py, 1.5.1).
_CLASSES = (core.Asn1Value, core.Choice, core.Primitive, core.Sequence, core.SequenceOf)


def apply() -> None:
    """Wrap the ``dump`` methods once per process (later calls do nothing)."""
    for cls in _CLASSES:
        dump = cls.__dict__["dump"]
        if not getattr(dump, "_tra_definite_length_fix", False):
            cls.dump = _keeping_definite_lengths(dump)


def _keeping_definite_lengths(dump: Callable) -> Callable:
    @functools.wraps(dump)
    def wrapped(self, force=False):
        header = self._header
        if not force and header is not None and header[-1:] == b"\x80" and not self._trailer:
            # A definite length whose last octet is 0x80: not BER's indefinite form.
            self._header = None
        return dump(self, force)

    wrapped._tra_definite_length_fix = True  # type: ignore[attr-defined]
    return wrapped
