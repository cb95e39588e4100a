"""Amounts of baht in words, as a company affidavit prints its registered capital ("in figures
and words", so that a figure cannot be altered unnoticed)."""

from __future__ import annotations

__all__ = ["capital_texts", "english_baht_text", "thai_baht_text"]

_THAI_DIGITS = ("", "หนึ่ง", "สอง", "สาม", "สี่", "ห้า", "หก", "เจ็ด", "แปด", "เก้า")
_THAI_PLACES = ("", "สิบ", "ร้อย", "พัน", "หมื่น", "แสน")

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = (
    (1_000_000_000_000, "trillion"),
    (1_000_000_000, "billion"),
    (1_000_000, "million"),
    (1000, "thousand"),
)


def _thai_below_million(n: int, *, after_higher: bool) -> str:
    digits = str(n)
    words = []
    for index, char in enumerate(digits):
        digit, place = int(char), len(digits) - index - 1
        if digit == 0:
            continue
        if place == 1 and digit == 1:
            words.append("สิบ")
        elif place == 1 and digit == 2:
            words.append("ยี่สิบ")
        elif place == 0 and digit == 1 and (len(digits) > 1 or after_higher):
            words.append("เอ็ด")
        else:
            words.append(_THAI_DIGITS[digit] + _THAI_PLACES[place])
    return "".join(words)


def _thai_number(n: int) -> str:
    millions, rest = divmod(n, 1_000_000)
    head = _thai_number(millions) + "ล้าน" if millions else ""
    return head + _thai_below_million(rest, after_higher=bool(millions))


def thai_baht_text(amount: int) -> str:
    """``5000000`` → ``ห้าล้านบาทถ้วน`` (whole baht, the way Thai banks and registries write it)."""
    if amount < 0:
        raise ValueError("an amount of baht is 0 or more")
    return ("ศูนย์" if amount == 0 else _thai_number(amount)) + "บาทถ้วน"


def _english_below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    words = [f"{_ONES[hundreds]} hundred"] if hundreds else []
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens] + (f"-{_ONES[ones]}" if ones else ""))
    elif rest:
        words.append(_ONES[rest])
    return " ".join(words)


def _english_number(n: int) -> str:
    if n == 0:
        return "zero"
    words = []
    for size, name in _SCALES:
        count, n = divmod(n, size)
        if count:
            words.append(f"{_english_number(count)} {name}")
    if n:
        words.append(_english_below_thousand(n))
    return " ".join(words)


def english_baht_text(amount: int) -> str:
    """``5000000`` → ``five million baht``."""
    if amount < 0:
        raise ValueError("an amount of baht is 0 or more")
    return f"{_english_number(amount)} baht"


def capital_texts(baht: int) -> dict[str, str]:
    """A company's registered capital as its documents print it: in figures (``5,000,000``) and
    in words in both languages (``capital_figures``, ``capital_words_th``, ``capital_words_en``)."""
    return {
        "capital_figures": f"{baht:,}",
        "capital_words_th": thai_baht_text(baht),
        "capital_words_en": english_baht_text(baht),
    }
