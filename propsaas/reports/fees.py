"""收费统计 (fee collection): per month, building and fee item, what was billed (应收), what of it was received (实收),
what is still outstanding (欠收) and the collection rate (收缴率 = received ÷ receivable).

- A bill belongs to the month of its period ('2026-12'); the range takes every month it touches. Void bills,
  voided lines and waived late fees (减免) count nowhere.
- Received is what payments settled of those bills, as of now (reversals take theirs back): the collection of the
  months billed, not the cash of the range (that is the payment journal).
- Payments settle a bill, not its lines: a part-paid bill's money is counted against its lines in order — its
  charges first, then any late fee (滞纳金), each line up to its amount — so every fen lands on one fee item and the
  items add up to the bill. This is done in SQL (a running sum over the bill's lines), never per row in Python.
- The building is the billed room's; bills of no room are '未关联房屋'.

A page runs three statements whatever the number of bills: the month totals, then the count and one page of the
month × building × fee item rows.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from ..billing.models import LATE_FEE, Bill, BillLine, FeeItem, PaymentAllocation
from ..extensions import db
from ..models_base import Page, page_of
from ..property.models import Building, Room
from .common import ReportFilter, Sheet, Yuan, book_bytes, new_book, percent

PER_PAGE = 50


@dataclass
class Collection:
    """Receivable and received fen of one month, one row or the whole range."""

    receivable_fen: int = 0
    received_fen: int = 0

    @property
    def outstanding_fen(self) -> int:
        return self.receivable_fen - self.received_fen

    @property
    def rate(self):
        return percent(self.received_fen, self.receivable_fen)


@dataclass
class MonthRow(Collection):
    period: str = ''


@dataclass
class FeeRow(Collection):
    period: str = ''
    building_id: int | None = None
    building: str = ''
    fee_item_id: int = 0
    fee_item: str = ''


@dataclass
class FeeReport:
    filter: ReportFilter
    #: every month of the range, empty ones with zeros
    months: list[MonthRow]
    total: Collection
    #: a page of FeeRow (month, then building, then fee item order)
    rows: Page


def _line_amounts(f: ReportFilter):
    """Each live line of the range's bills with what was received of it (see the module docstring)."""
    paid = (sa.select(PaymentAllocation.bill_id, sa.func.sum(PaymentAllocation.amount_fen).label('paid'))
            .group_by(PaymentAllocation.bill_id).subquery('paid'))
    late_last = sa.case((FeeItem.charging == LATE_FEE, 1), else_=0)
    before = sa.func.coalesce(sa.func.sum(BillLine.amount_fen).over(
        partition_by=BillLine.bill_id, order_by=(late_last, BillLine.id), rows=(None, -1)), 0)
    months = f.months()
    query = (sa.select(Bill.period.label('period'), Room.building_id.label('building_id'),
                       BillLine.fee_item_id.label('fee_item_id'), BillLine.amount_fen.label('amount'),
                       sa.func.coalesce(paid.c.paid, 0).label('paid'), before.label('before'))
             .select_from(BillLine)
             .join(Bill, Bill.id == BillLine.bill_id)
             .join(FeeItem, FeeItem.id == BillLine.fee_item_id)
             .outerjoin(Room, Room.id == Bill.room_id)
             .outerjoin(paid, paid.c.bill_id == Bill.id)
             .where(Bill.status != 'void', BillLine.voided.is_(False), BillLine.waived_at.is_(None),
                    Bill.period >= months[0], Bill.period <= months[-1]))
    if f.building_id is not None:
        query = query.where(Room.building_id == f.building_id)
    lines = query.subquery('lines')
    received = sa.case((lines.c.paid <= lines.c.before, 0),
                       (lines.c.paid >= lines.c.before + lines.c.amount, lines.c.amount),
                       else_=lines.c.paid - lines.c.before)
    return lines, received


def _sums(lines, received):
    return (sa.func.coalesce(sa.func.sum(lines.c.amount), 0).label('receivable'),
            sa.func.coalesce(sa.func.sum(received), 0).label('received'))


def month_totals(f: ReportFilter) -> tuple[list[MonthRow], Collection]:
    """Every month of the range with its totals, and the range's: one statement."""
    lines, received = _line_amounts(f)
    found = {period: (int(receivable), int(got)) for period, receivable, got in db.session.execute(
        sa.select(lines.c.period, *_sums(lines, received)).group_by(lines.c.period)).all()}
    months = [MonthRow(*found.get(period, (0, 0)), period=period) for period in f.months()]
    return months, Collection(sum(m.receivable_fen for m in months), sum(m.received_fen for m in months))


def rows_query(f: ReportFilter):
    """Month × building × fee item rows with their names, in the report's order."""
    lines, received = _line_amounts(f)
    grouped = (sa.select(lines.c.period, lines.c.building_id, lines.c.fee_item_id, *_sums(lines, received))
               .group_by(lines.c.period, lines.c.building_id, lines.c.fee_item_id).subquery('grouped'))
    return (sa.select(grouped.c.period, grouped.c.building_id, Building.name, grouped.c.fee_item_id, FeeItem.name,
                      grouped.c.receivable, grouped.c.received)
            .select_from(grouped)
            .join(FeeItem, FeeItem.id == grouped.c.fee_item_id)
            .outerjoin(Building, Building.id == grouped.c.building_id)
            .order_by(grouped.c.period, sa.case((grouped.c.building_id.is_(None), 1), else_=0), Building.sort_order,
                      Building.name, grouped.c.building_id, FeeItem.sort_order, FeeItem.id))


def _row(values) -> FeeRow:
    period, building_id, building, fee_item_id, fee_item, receivable, got = values
    return FeeRow(int(receivable or 0), int(got or 0), period=period, building_id=building_id,
                  building=building or _('未关联房屋'), fee_item_id=fee_item_id, fee_item=fee_item)


def compute(f: ReportFilter, *, page: int = 1, per_page: int = PER_PAGE) -> FeeReport:
    """The report's page: three statements."""
    months, total = month_totals(f)
    raw = page_of(rows_query(f), page, per_page)
    rows = Page(items=[_row(values) for values in raw.items], page=raw.page, per_page=per_page, total=raw.total)
    return FeeReport(filter=f, months=months, total=total, rows=rows)


def all_rows(f: ReportFilter) -> list[FeeRow]:
    return [_row(values) for values in db.session.execute(rows_query(f)).all()]


def export_xlsx(f: ReportFilter, *, project_name: str = '', building_name: str = '') -> bytes:
    """Sheets 按月汇总 and 明细 (month × building × fee item), amounts in yuan (numbers, two decimals)."""
    months, total = month_totals(f)
    book = new_book()
    scope = building_name or _('全部楼栋')
    head = (_('应收（元）'), _('实收（元）'), _('欠收（元）'), _('收缴率（%）'))

    def money(c: Collection):
        return Yuan(c.receivable_fen), Yuan(c.received_fen), Yuan(c.outstanding_fen), c.rate

    sheet = Sheet(book, _('按月汇总'))
    sheet.row(_('%(project)s 收费统计 %(start)s 至 %(end)s（%(scope)s）', project=project_name,
                start=f.start.isoformat(), end=f.end.isoformat(), scope=scope).strip())
    sheet.row(_('月份'), *head)
    for month in months:
        sheet.row(month.period, *money(month))
    sheet.row(_('合计'), *money(total))
    sheet = Sheet(book, _('明细'))
    sheet.row(_('月份'), _('楼栋'), _('收费项目'), *head)
    for row in all_rows(f):
        sheet.row(row.period, row.building, row.fee_item, *money(row))
    sheet.row(_('合计'), '', '', *money(total))
    return book_bytes(book)
