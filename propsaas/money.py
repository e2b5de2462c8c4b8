"""Money: integer fen in, integer fen out; Decimal in between; no float anywhere.

- ``parse_yuan('2,000.05元')`` -> 200005 and ``format_yuan(200005)`` -> '2000.05' at the edges (forms, Excel, PDFs);
- ``round_fen(Decimal('256.595'))`` -> 25660: a computed amount in yuan rounded once, ROUND_HALF_UP, to fen;
- ``split(total_fen, weights)``: a shared amount over rooms by the largest-remainder method — integer parts that
  sum exactly to the total, each within one fen of its exact share, whatever the order of the input;
- ``capital(fen)`` -> '贰佰伍拾陆元陆角整': the amount in Chinese capitals (大写) a receipt shows.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Hashable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l

from .errors import DomainError

FEN = Decimal('0.01')
#: 10 million yuan: an amount above it is a typo in a property project
MAX_FEN = 1_000_000_000
_YUAN_RE = re.compile(r'^-?\d{1,10}(\.\d{1,2})?$')
_RATE_RE = re.compile(r'^\d{1,6}(\.\d{1,4})?$')


def parse_yuan(text, *, field: str = 'amount', max_fen: int = MAX_FEN, negative: bool = False) -> int:
    """'2000.05' -> 200005 fen. Full-width digits, spaces, thousands commas, a leading '¥' and a trailing '元' are
    accepted as people type them; at most two decimals. Raises DomainError naming ``field``."""
    raw = unicodedata.normalize('NFKC', str(text if text is not None else '')).strip()
    raw = re.sub(r'[\s,，]', '', raw).removeprefix('¥').removesuffix('元')
    if not _YUAN_RE.match(raw) or (raw.startswith('-') and not negative):
        raise DomainError(_l('请填写金额（元），最多两位小数，例如 2000.00'), field=field)
    try:
        fen = int((Decimal(raw) * 100).to_integral_exact())
    except InvalidOperation:  # pragma: no cover - the pattern already ensures it is exact
        raise DomainError(_l('请填写金额（元），最多两位小数，例如 2000.00'), field=field) from None
    if abs(fen) > max_fen:
        raise DomainError(_l('金额过大，请检查'), field=field)
    return fen


def parse_rate(text, *, field: str = 'rate') -> str:
    """A unit price in yuan with up to 4 decimals ('2.35', '0.6'), returned as its canonical decimal string."""
    raw = unicodedata.normalize('NFKC', str(text if text is not None else '')).strip().removesuffix('元')
    if not _RATE_RE.match(raw):
        raise DomainError(_l('请填写单价（元），最多四位小数，例如 2.35'), field=field)
    return str(Decimal(raw).normalize()) if '.' in raw else raw


def format_yuan(fen: int | None) -> str:
    """200005 -> '2000.05' (integer arithmetic)."""
    fen = int(fen or 0)
    sign = '-' if fen < 0 else ''
    fen = abs(fen)
    return f'{sign}{fen // 100}.{fen % 100:02d}'


def round_fen(yuan: Decimal) -> int:
    """A computed amount in yuan to integer fen, rounded once, half up (0.005 yuan -> 1 fen)."""
    return int((yuan / FEN).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def split(total_fen: int, weights: Mapping[Hashable, Decimal | int]) -> dict[Hashable, int]:
    """Share ``total_fen`` out in proportion to ``weights`` (area, 1 per household ...) by the largest remainder.

    Every part is the floor of its exact share, plus one fen for the parts with the largest remainders until the
    total is reached; ties go to the smaller key, so the result never depends on the order of ``weights``.
    Weights must be non-negative with a positive sum; a negative total splits as the negation of its opposite.
    """
    if not weights:
        raise ValueError('nothing to split over')
    if total_fen < 0:
        return {key: -part for key, part in split(-total_fen, weights).items()}
    exact = {key: Decimal(weight) for key, weight in weights.items()}
    if any(weight < 0 for weight in exact.values()):
        raise ValueError('weights must not be negative')
    whole = sum(exact.values())
    if whole <= 0:
        raise ValueError('weights must have a positive sum')
    parts, remainders = {}, []
    for key, weight in exact.items():
        # floor(total * w / whole) and its remainder, exactly (Decimal division would round)
        numerator = total_fen * weight
        part = int(numerator // whole)
        parts[key] = part
        remainders.append((-(numerator - part * whole), _order(key), key))
    short = total_fen - sum(parts.values())
    for _, _, key in sorted(remainders)[:short]:
        parts[key] += 1
    return parts


def _order(key) -> tuple:
    # keys of mixed types still sort deterministically
    return (type(key).__name__, key)


_DIGITS = '零壹贰叁肆伍陆柒捌玖'
_SMALL_UNITS = ('', '拾', '佰', '仟')
_BIG_UNITS = ('', '万', '亿', '万亿')


def capital(fen: int) -> str:
    """Chinese capitals (大写) of an amount, as receipts and invoices print it: 25660 -> '贰佰伍拾陆元陆角整'."""
    if fen < 0:
        return '负' + capital(-fen)
    yuan, rest = divmod(int(fen), 100)
    jiao, fen_ = divmod(rest, 10)
    text = (_integer_capital(yuan) + '元') if yuan else ''
    if jiao:
        text += _DIGITS[jiao] + '角'
    elif yuan and fen_:
        text += '零'
    if fen_:
        text += _DIGITS[fen_] + '分'
    else:
        text += '整'
    return text if yuan or rest else '零元整'


def _integer_capital(number: int) -> str:
    groups = []
    while number:
        number, group = divmod(number, 10_000)
        groups.append(group)
    text, zero_pending = '', False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            zero_pending = bool(text)
            continue
        if text and (zero_pending or group < 1000):
            text += '零'
        text += _group_capital(group) + _BIG_UNITS[index]
        zero_pending = False
    return text


def _group_capital(group: int) -> str:
    text, zero = '', False
    for position in range(3, -1, -1):
        digit = group // 10**position % 10
        if digit == 0:
            zero = bool(text)
            continue
        if zero:
            text += '零'
            zero = False
        text += _DIGITS[digit] + _SMALL_UNITS[position]
    return text
