"""Pure rules of renovation records: money in fen, dates in the project's timezone, the plan's limits."""
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from propsaas.errors import DomainError
from propsaas.residents import renovations as r


@pytest.mark.parametrize(('text', 'fen'), [
    ('2000.05', 200005), ('2000', 200000), ('2000.5', 200050), ('0', 0), ('0.01', 1), ('0.1', 10),
    ('１２３.４５', 12345), ('2,000.00', 200000), ('¥12.30', 1230), ('88元', 8800), (' 19.99 ', 1999),
    ('999999.99', 99999999),
])
def test_yuan_to_fen_is_exact(text, fen):
    assert r.parse_yuan(text) == fen
    assert isinstance(r.parse_yuan(text), int)


@pytest.mark.parametrize('text', ['', '1.005', '-1', 'abc', '1e3', '12.', '.5', 'NaN', 'Infinity', '1000001',
                                  '2000.00.1', None])
def test_bad_amounts_are_refused_with_a_reason(text):
    with pytest.raises(DomainError) as raised:
        r.parse_yuan(text)
    assert raised.value.field == 'deposit'


def test_no_float_rounding_anywhere():
    # 0.29 * 100 is 28.999999999999996 as a float; as Decimal it is 29.
    assert r.parse_yuan('0.29') == 29
    assert r.parse_yuan('1.15') == 115
    assert r.format_yuan(200005) == '2000.05'
    assert r.format_yuan(7) == '0.07'
    assert r.format_yuan(0) == '0.00'


def test_default_deposit_from_the_projects_settings():
    assert r.default_deposit_fen(SimpleNamespace(settings={})) == 200000
    assert r.default_deposit_fen(SimpleNamespace(settings={'renovation_deposit': '1500.50'})) == 150050
    assert r.default_deposit_fen(SimpleNamespace(settings={'rules': {'renovation_deposit': '3000'}})) == 300000
    assert r.default_deposit_fen(SimpleNamespace(settings={'fees': {'rules': {'renovation_deposit': '1.01'}}})) == 101
    assert r.default_deposit_fen(SimpleNamespace(settings={'renovation_deposit': 'lots'})) == 200000


def test_today_is_the_projects_date():
    shanghai = SimpleNamespace(timezone='Asia/Shanghai')
    utc = SimpleNamespace(timezone='UTC')
    evening_utc = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)  # 01:00 on 2 March in Shanghai
    assert r.tenant_today(shanghai, evening_utc) == date(2026, 3, 2)
    assert r.tenant_today(utc, evening_utc) == date(2026, 3, 1)
    assert r.tenant_today(SimpleNamespace(timezone='Not/AZone'), evening_utc) == date(2026, 3, 2)
    assert r.local_datetime(evening_utc, shanghai) == '2026-03-02 01:00'


def test_overdue_only_when_approved_and_past_the_planned_end():
    record = SimpleNamespace(status='approved', planned_end=date(2026, 3, 1))
    assert r.is_overdue(record, date(2026, 3, 2))
    assert not r.is_overdue(record, date(2026, 3, 1))  # the last planned day is not late yet
    for status in ('pending', 'completed', 'rejected', 'cancelled'):
        assert not r.is_overdue(SimpleNamespace(status=status, planned_end=date(2026, 3, 1)), date(2027, 1, 1))


def test_the_plan_has_limits():
    r.check_plan(date(2026, 1, 1), date(2026, 1, 1))
    r.check_plan(date(2026, 1, 1), date(2026, 6, 30))  # 180 days
    with pytest.raises(DomainError) as raised:
        r.check_plan(date(2026, 1, 2), date(2026, 1, 1))
    assert raised.value.field == 'planned_end'
    with pytest.raises(DomainError) as raised:
        r.check_plan(date(2026, 1, 1), date(2026, 7, 1))  # 181 days
    assert '180' in str(raised.value.message)
    with pytest.raises(DomainError):
        r.check_plan(None, date(2026, 1, 1))
