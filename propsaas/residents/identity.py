"""Identity values of residents as people type them: ID card numbers (GB 11643), phones and plates. Pure functions.

No Flask, no database: services turn the ``reason`` of an error into a message for people.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date

#: GB 11643 / ISO 7064 MOD 11-2: weights of the first 17 characters, and remainder -> check character
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = '10X98765432'
_ID_SHAPE = re.compile(r'^[1-9]\d{16}[\dX]$')

#: a Chinese licence plate: province, issuing letter, 4-5 letters/digits, last a letter/digit or 挂学警港澳
PLATE_RE = re.compile(r'^[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-HJ-NP-Z]'
                      r'[A-HJ-NP-Z0-9]{4,5}[A-HJ-NP-Z0-9挂学警港澳]$')
#: a landline or service number as typed: '0571-8888 6666', '(021)12345678', '400-123-4567', '88886666转801'
_PHONE_RE = re.compile(r'^\+?[0-9(（][0-9\-()（） ]{4,24}(?:(?:转|ext\.?|#)[0-9]{1,6})?$', re.IGNORECASE)


class IdNumberError(ValueError):
    """Not a valid ID card number. ``reason``: 'format' (length/characters), 'birth_date' or 'check_digit'."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def id_check_char(first17: str) -> str:
    """The check character of the first 17 digits (ISO 7064 MOD 11-2)."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def normalize_id_number(text: str, *, today: date | None = None) -> str:
    """'11010119900307447x', full-width or spaced -> '11010119900307447X'. Raises IdNumberError.

    Checks the shape (18 characters, digits and a final digit or X), the birth date (a real day, not in the
    future, not before 1900) and the check character.
    """
    value = re.sub(r'\s+', '', unicodedata.normalize('NFKC', text or '')).upper()
    if not _ID_SHAPE.match(value):
        raise IdNumberError('format')
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise IdNumberError('birth_date') from None
    if born.year < 1900 or born > (today or date.today()):
        raise IdNumberError('birth_date')
    if id_check_char(value[:17]) != value[17]:
        raise IdNumberError('check_digit')
    return value


def is_valid_id_number(text: str) -> bool:
    try:
        normalize_id_number(text)
    except IdNumberError:
        return False
    return True


def mask_id_number(value: str | None) -> str:
    """'**************1234': only the last 4 characters, as ID numbers are shown on screens and paper."""
    if not value:
        return ''
    return '*' * max(len(value) - 4, 0) + value[-4:]


def mask_phone(value: str | None) -> str:
    """A mobile as 138****1234; any other number with everything but its last 4 digits starred."""
    if not value:
        return ''
    if len(value) == 11 and value.isdigit():
        return f'{value[:3]}****{value[-4:]}'
    digits = [i for i, ch in enumerate(value) if ch.isdigit()]
    keep = set(digits[-4:])
    return ''.join(ch if (i in keep or not ch.isdigit()) else '*' for i, ch in enumerate(value))


def normalize_phone(text: str) -> str | None:
    """A landline or other number as typed, tidied (full-width to half-width); None when it isn't one."""
    value = re.sub(r'\s+', ' ', unicodedata.normalize('NFKC', text or '')).strip()
    if not value or len(value) > 30 or not _PHONE_RE.match(value):
        return None
    if sum(ch.isdigit() for ch in value) < 7:  # a local number has 7-8 digits
        return None
    return value


def normalize_plate(text: str) -> str | None:
    """'浙a 12345', '浙A·12345', full-width letters -> '浙A12345'; None when it isn't a Chinese plate."""
    value = unicodedata.normalize('NFKC', text or '')
    value = re.sub(r'[\s·•.\-]+', '', value).upper()
    return value if PLATE_RE.match(value) else None
