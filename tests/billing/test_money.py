"""Money is integer fen; splits are exact and order-independent (SECURITY.md items 12 and 13)."""
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from propsaas.errors import DomainError
from propsaas.money import capital, format_yuan, parse_rate, parse_yuan, round_fen, split

weights = st.lists(st.decimals(min_value=0, max_value=10_000, places=2, allow_nan=False, allow_infinity=False),
                   min_size=1, max_size=500).filter(lambda ws: sum(ws) > 0)


@settings(max_examples=300, deadline=None)
@given(total=st.integers(min_value=0, max_value=10**9), ws=weights, data=st.data())
def test_a_split_sums_exactly_each_part_within_a_fen_and_order_does_not_matter(total, ws, data):
    by_room = {room: w for room, w in enumerate(ws, start=1)}
    parts = split(total, by_room)
    assert sum(parts.values()) == total
    whole = sum(Fraction(w) for w in ws)
    for room, w in by_room.items():
        assert isinstance(parts[room], int)
        assert abs(parts[room] - Fraction(total) * Fraction(w) / whole) < 1
    shuffled = data.draw(st.permutations(list(by_room.items())))
    assert split(total, dict(shuffled)) == parts


def test_ties_go_to_the_smaller_key_whatever_the_order():
    assert split(1, {2: 1, 1: 1}) == {1: 1, 2: 0}
    assert split(2, {3: 1, 1: 1, 2: 1}) == {1: 1, 2: 1, 3: 0}


def test_nothing_to_split_over_is_an_error():
    with pytest.raises(ValueError):
        split(100, {})
    with pytest.raises(ValueError):
        split(100, {1: 0, 2: 0})


@pytest.mark.parametrize('text, fen', [('2000', 200000), ('2000.05', 200005), ('0.29', 29), ('1.15', 115),
                                       ('¥2,000元', 200000), ('２０００．５', 200050), (' 7 ', 700)])
def test_amounts_typed_in_yuan_become_exact_fen(app, text, fen):
    assert parse_yuan(text) == fen and isinstance(parse_yuan(text), int)


@pytest.mark.parametrize('text', ['', 'abc', '1.234', '-5', '1e3', 'NaN', '99999999999'])
def test_what_is_not_an_amount_is_refused(app, text):
    with app.test_request_context(), pytest.raises(DomainError):
        parse_yuan(text)


def test_rates_keep_four_decimals_exactly(app):
    assert parse_rate('2.35') == '2.35' and parse_rate('0.6000') == '0.6' and parse_rate('12') == '12'
    with app.test_request_context(), pytest.raises(DomainError):
        parse_rate('2.35001')


def test_rounding_is_half_up_once():
    assert round_fen(Decimal('256.595')) == 25660
    assert round_fen(Decimal('256.594')) == 25659
    assert round_fen(Decimal('0.005')) == 1
    assert format_yuan(25660) == '256.60' and format_yuan(-5) == '-0.05' and format_yuan(None) == '0.00'


@pytest.mark.parametrize('fen, text', [
    (25660, '贰佰伍拾陆元陆角整'), (100, '壹元整'), (1, '壹分'), (10, '壹角整'), (101, '壹元零壹分'),
    (110, '壹元壹角整'), (100000, '壹仟元整'), (10010000, '壹拾万零壹佰元整'),
    (1234567891, '壹仟贰佰叁拾肆万伍仟陆佰柒拾捌元玖角壹分'), (0, '零元整'), (10000000000, '壹亿元整'),
    (100005000, '壹佰万零伍拾元整'),
])
def test_chinese_capitals_as_receipts_print_them(fen, text):
    assert capital(fen) == text
