"""Importing meter readings from .xlsx/.csv: the sample's bad row is refused and nothing is committed with errors."""
from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from propsaas.billing import meter_import, metering
from propsaas.billing.models import MeterReading
from propsaas.errors import DomainError
from tests.billing.test_metering import build_meter_estate

SAMPLE = Path(__file__).parent / 'samples' / 'meter_readings.xlsx'


@pytest.fixture
def meter_estate(make_tenant, make_user, in_tenant):
    return lambda name='抄表小区': build_meter_estate(make_tenant, make_user, in_tenant, name)


def _count(session):
    return session.execute(sa.select(sa.func.count(MeterReading.id))).scalar()


def test_the_samples_last_row_is_refused_and_nothing_committed_while_errors_remain(meter_estate, in_tenant):
    e = meter_estate()
    with in_tenant(e.tenant):
        token = meter_import.store_upload(SAMPLE.read_bytes())
        result = meter_import.preview(token, '2026-10')
    assert len(result.rows) == 19 and result.error_count == 1 and result.ok_count == 18
    bad = result.rows[-1]
    assert bad.line == 20 and bad.room_text == '1-1-201' and not bad.ok
    assert '本期读数 480 低于上期读数 500' in bad.reason
    first = result.rows[0]
    assert first.ok and first.current == Decimal('305.6') and first.previous == Decimal('281.4')
    assert isinstance(first.current, Decimal) and first.read_on.isoformat() == '2026-10-31'
    assert first.usage == Decimal('24.2') and first.baseline
    with in_tenant(e.tenant) as session:
        with pytest.raises(DomainError) as refused:
            meter_import.commit(token, '2026-10')
        assert '1 行有错误' in str(refused.value.message)
        session.rollback()
        assert _count(session) == 0
    with in_tenant(e.tenant):
        done = meter_import.commit(token, '2026-10', skip_errors=True)
        assert done.ok_count == 18
    with in_tenant(e.tenant) as session:
        # 18 current readings and 18 opening readings (期初) for 2026-09
        assert _count(session) == 36
        usage = metering.usage('water', [e.rooms['1-1-101'], e.rooms['1-1-201']], '2026-10')
        assert usage == {e.rooms['1-1-101']: Decimal('24.2'), e.rooms['1-1-201']: Decimal('18.5')}


def _xlsx(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(['房号', '表类型', '上期读数', '本期读数', '抄表日期', '换表'])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_stored_previous_is_checked_and_replacement_accepted(meter_estate, in_tenant):
    e = meter_estate()
    with in_tenant(e.tenant):
        metering.record_reading('water', e.rooms['1-1-101'], '2026-09', '100')
        metering.record_reading('electricity', e.rooms['1-1-201'], '2026-09', '900')
    data = _xlsx([['1-1-101', '水表', 99, 120, '2026-10-31', '否'],
                  ['1栋1单元201', '电表', None, 5.5, '2026/10/30', '是'],
                  ['1-1-301', '水表', None, 0.1 + 0.2, None, None],
                  ['9-9-999', '水表', None, 1, None, None],
                  ['1-1-401', '煤表', None, 1, '2026-13-45', '也许']])
    with in_tenant(e.tenant):
        result = meter_import.preview(meter_import.store_upload(data), '2026-10')
    rows = result.rows
    assert '与系统记录的 100（2026-09）不一致' in rows[0].reason
    assert rows[1].ok and rows[1].replaced and rows[1].usage == Decimal('5.5')
    assert rows[2].ok and rows[2].current == Decimal('0.300') and rows[2].usage is None
    assert '找不到房号' in rows[3].reason
    assert '表类型' in rows[4].reason and '抄表日期' in rows[4].reason and '换表' in rows[4].reason


def test_csv_in_gbk_and_a_file_that_is_not_a_table(meter_estate, in_tenant):
    e = meter_estate()
    text = '房号,表类型,本期读数\n1-1-101,水表,12.345\n1-1-101,水表,13\n'
    with in_tenant(e.tenant):
        result = meter_import.preview(meter_import.store_upload(text.encode('gbk')), '2026-10')
        assert [row.ok for row in result.rows] == [True, False]
        assert '与第 2 行重复' in result.rows[1].reason
        with pytest.raises(DomainError):
            meter_import.store_upload(b'%PDF-1.4 nothing')
        with pytest.raises(DomainError):
            meter_import.store_upload('姓名,电话\n张三,1\n'.encode())
        with pytest.raises(DomainError):
            meter_import.preview('../../etc/passwd', '2026-10')
