"""Thai official formats every layer shares: Bangkok time, Buddhist-era dates, national IDs.

They live in the issuing package because issuers import only ``portal.issuing`` (a company's
juristic number is checked, a citizen ID printed, a registry's read time dated here), and the
renderer, the signer's stamp and the services import them from here too: one definition each.

Thai official documents write dates as day, full month name and Buddhist-era year
(B.E. = C.E. + 543), e.g. ``31 มกราคม 2563``; the English side of a bilingual certificate
adds the B.E. year in brackets so the two lines can be compared at a glance.

Everything here is locale-independent on purpose: month names live in our own tables, so the
output does not change with the server's ``LANG`` or with what locales the OS happens to have.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal

from portal import clock
from portal.clock import BANGKOK

__all__ = [
    "BANGKOK",
    "BE_OFFSET",
    "english_date",
    "english_date_short",
    "format_pid",
    "now",
    "pid_is_valid",
    "thai_date",
    "today",
]

#: Years to add to a Gregorian (C.E.) year to get the Buddhist-era (B.E.) year.
BE_OFFSET = 543

THAI_MONTHS: tuple[str, ...] = (
    "มกราคม",
    "กุมภาพันธ์",
    "มีนาคม",
    "เมษายน",
    "พฤษภาคม",
    "มิถุนายน",
    "กรกฎาคม",
    "สิงหาคม",
    "กันยายน",
    "ตุลาคม",
    "พฤศจิกายน",
    "ธันวาคม",
)

ENGLISH_MONTHS: tuple[str, ...] = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

_THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")
_PID_RE = re.compile(r"[0-9]{13}")
_PID_SEPARATORS_RE = re.compile(r"[\s-]")

Digits = Literal["arabic", "thai"]


def _as_local_date(d: date | datetime) -> date:
    """Return the calendar date to print for ``d``.

    An aware datetime is first converted to Asia/Bangkok, so that an instant stored in UTC
    (e.g. 2020-01-30T20:00Z) prints as the Thai calendar day (31 January). A naive datetime is
    taken to be Bangkok wall-clock time already; a plain ``date`` is used as is.
    """
    if isinstance(d, datetime):
        if d.tzinfo is not None and d.utcoffset() is not None:
            d = d.astimezone(BANGKOK)
        return d.date()
    if isinstance(d, date):
        return d
    raise TypeError(f"expected a date or datetime, got {type(d).__name__}")


def thai_date(d: date | datetime, *, digits: Digits = "arabic") -> str:
    """Format ``d`` the Thai official way: ``31 มกราคม 2563``.

    ``digits="thai"`` gives Thai numerals (``๓๑ มกราคม ๒๕๖๓``), which suit a letter-style
    header; Arabic digits are the default because they are what data fields use and a
    document should keep to one style.
    """
    if digits not in ("arabic", "thai"):
        raise ValueError(f"digits must be 'arabic' or 'thai', not {digits!r}")
    day = _as_local_date(d)
    text = f"{day.day} {THAI_MONTHS[day.month - 1]} {day.year + BE_OFFSET}"
    return text.translate(_THAI_DIGITS) if digits == "thai" else text


def english_date_short(d: date | datetime) -> str:
    """Format ``d`` as ``31 January 2020`` (day-month-year, as British/Thai English does)."""
    day = _as_local_date(d)
    return f"{day.day} {ENGLISH_MONTHS[day.month - 1]} {day.year}"


def english_date(d: date | datetime) -> str:
    """Format ``d`` as ``31 January 2020 (B.E. 2563)``.

    The B.E. year lets a reader match the English line against the Thai one, which gives only
    the Buddhist-era year.
    """
    day = _as_local_date(d)
    return f"{english_date_short(day)} (B.E. {day.year + BE_OFFSET})"


def pid_is_valid(pid: str) -> bool:
    """Tell whether ``pid`` is a well-formed 13-digit Thai citizen ID with a correct check digit.

    Only the bare 13 ASCII digits are accepted (no dashes, no Thai numerals): normalise user
    input before asking. The check digit is ``(11 - Σ dᵢ·(13 - i) mod 11) mod 10`` over the
    first twelve digits d₀…d₁₁. The same rule covers juristic-person numbers.
    """
    if not isinstance(pid, str) or not _PID_RE.fullmatch(pid):
        return False
    total = sum(int(pid[i]) * (13 - i) for i in range(12))
    return (11 - total % 11) % 10 == int(pid[12])


def format_pid(pid: str) -> str:
    """Print a citizen ID as ``X-XXXX-XXXXX-XX-X`` (e.g. ``1-1017-00123-45-6``).

    Dashes and spaces in the input are ignored, so an already formatted ID comes back
    unchanged. Anything that is not 13 digits raises ``ValueError``: a certificate must not be
    issued with a malformed ID. The check digit is *not* enforced here (that is input
    validation's job, see :func:`pid_is_valid`), so historic records still print.
    """
    digits = _PID_SEPARATORS_RE.sub("", pid)
    if not _PID_RE.fullmatch(digits):
        raise ValueError("a citizen ID has exactly 13 digits")
    return f"{digits[0]}-{digits[1:5]}-{digits[5:10]}-{digits[10:12]}-{digits[12]}"


def now() -> datetime:
    """Aware UTC now from the portal's one clock (:func:`portal.clock.now`, which tests move).

    Looked up at each call, so an issuer stamping when it read a registry sees the moved clock.
    """
    return clock.now()


def today() -> date:
    """Today's date in Bangkok, where documents are issued (:func:`portal.clock.today_bangkok`)."""
    return clock.today_bangkok()
