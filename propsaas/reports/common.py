"""What every report shares: the filter (a range of local days and one building or all), checked from a query's
strings; the range as UTC bounds; percentages; and the .xlsx helpers (money in yuan as numbers, text cells
formula-safe, times in the project's timezone)."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..documents.spreadsheets import safe_cell
from ..errors import DomainError
from ..extensions import db
from ..property.models import Building
from ..repairs.stats import parse_day
from ..tenancy.clock import tenant_today, tenant_zone

#: the longest range a report may ask for: a year (and a day for leap years)
MAX_DAYS = 366
XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'


@dataclass(frozen=True)
class ReportFilter:
    """Local days ``start`` to ``end`` (both included) in the project's timezone; ``building_id`` None: all."""

    start: date
    end: date
    building_id: int | None = None

    def bounds(self, tenant) -> tuple[datetime, datetime]:
        """The range as aware UTC datetimes: local midnight of ``start``, local midnight after ``end`` (exclusive)."""
        zone = tenant_zone(tenant)
        return (datetime.combine(self.start, time(), tzinfo=zone).astimezone(UTC),
                datetime.combine(self.end + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC))

    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def months(self) -> list[str]:
        """Every 'YYYY-MM' the range touches, in order."""
        first = self.start.year * 12 + self.start.month - 1
        last = self.end.year * 12 + self.end.month - 1
        return [f'{m // 12}-{m % 12 + 1:02d}' for m in range(first, last + 1)]

    def args(self) -> dict:
        """The query arguments that ask for this filter again (links, the export, the pager)."""
        args = {'start': self.start.isoformat(), 'end': self.end.isoformat()}
        if self.building_id is not None:
            args['building'] = self.building_id
        return args

    def slug(self) -> str:
        """For file names: '2026-12-01-2026-12-31'."""
        return f'{self.start.isoformat()}-{self.end.isoformat()}'


def this_month(today: date) -> tuple[date, date]:
    """The default range: the first to the last day of today's month."""
    first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def parse_filter(tenant, start=None, end=None, building=None, *, max_days: int = MAX_DAYS) -> ReportFilter:
    """The filter asked for (strings from a query, dates or None), checked: this month for missing days, start not
    after end, at most ``max_days`` days, the building one of the project's (another project's is '没有这个楼栋',
    as one that never existed). Raises DomainError (422)."""
    default_start, default_end = this_month(tenant_today(tenant))
    start = parse_day(start, 'start') or default_start
    end = parse_day(end, 'end') or default_end
    if start > end:
        raise DomainError(_l('开始日期不能晚于结束日期'), field='start')
    if (end - start).days >= max_days:
        raise DomainError(_l('报表区间最长 %(n)s 天', n=max_days), field='start')
    building_id = None
    if building not in (None, ''):
        try:
            building_id = int(building)
        except (TypeError, ValueError):
            raise DomainError(_l('没有这个楼栋'), field='building') from None
        if not 0 < building_id < 2**31 or db.session.get(Building, building_id) is None:
            raise DomainError(_l('没有这个楼栋'), field='building')
    return ReportFilter(start, end, building_id)


def building_choices() -> list[tuple[int, str]]:
    """The project's buildings (id, name) in their order, for the filter."""
    return [tuple(row) for row in db.session.execute(
        sa.select(Building.id, Building.name).order_by(Building.sort_order, Building.name, Building.id)).all()]


def percent(part: int, whole: int) -> Decimal | None:
    """Percent with one decimal, half up; None when there is nothing to divide by."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)


def as_utc(value):
    """A timestamp from a raw select as aware UTC (SQLite hands back naive values or strings)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def seconds_as_int(value) -> int | None:
    """A duration in seconds from SQL (float on SQLite, Decimal on PostgreSQL) as whole seconds, half up."""
    if value is None:
        return None
    return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# --- .xlsx --------------------------------------------------------------------------------------------------------

class Sheet:
    """A write-only sheet whose ``row`` makes text formula-safe and money (``Yuan``) a number with two decimals."""

    def __init__(self, book, title: str):
        self.sheet = book.create_sheet(str(title))

    def row(self, *values) -> None:
        from openpyxl.cell import WriteOnlyCell

        cells = []
        for value in values:
            if isinstance(value, Yuan):
                cell = WriteOnlyCell(self.sheet, value=Decimal(value.fen) / 100)
                cell.number_format = '0.00'
                cells.append(cell)
            elif value is None or isinstance(value, int | Decimal | date):
                cells.append(value)
            else:
                cells.append(safe_cell(str(value)))
        self.sheet.append(cells)


@dataclass(frozen=True)
class Yuan:
    """Fen to be written as yuan (a number, '0.00')."""

    fen: int


def new_book():
    from openpyxl import Workbook

    return Workbook(write_only=True)


def book_bytes(book) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
