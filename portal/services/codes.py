"""Verification codes: 100 random bits in Crockford base32, easy to read aloud and type."""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
CODE_LENGTH = 20  # 20 × 5 bits = 100 bits
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-]")
_VALID = re.compile(rf"^[{ALPHABET}]{{{CODE_LENGTH}}}$")


def new_verification_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str | None:
    """The canonical code for what a person typed, or None if it cannot be a code."""
    if not isinstance(text, str) or len(text) > 64:
        return None
    code = _SEPARATORS.sub("", text).upper().translate(_CONFUSABLE)
    return code if _VALID.match(code) else None


def group_code(code: str) -> str:
    """ "K7QF2M9XPA4DTR6BW3ZZ" → "K7QF-2M9X-PA4D-TR6B-W3ZZ" for print and screen."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))
