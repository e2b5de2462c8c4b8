"""Inspection figures (巡检统计) for a range of local days: completion per plan and per person, failures per device
and per device category, and the inspection records as .xlsx.

    figures = compute(tenant, date(2026, 11, 1), date(2026, 11, 30), now)

Definitions (docs/inspections.md says the same for users):

- a task *counts* when its round started in the range and is due by ``now`` (a round still running is not late);
- **completion rate** (完成率) of a plan: tasks done / tasks that count; **on time** (按时): done by the due time;
- per **person**: the tasks they completed (of those that count) and how many on time; and of the tasks assigned to
  them by name, how many they did;
- a device's **failures** (故障): the work orders linked to it (opened by an inspection, or logged against it) created
  in the range; **failures per month**: failures / the months of the range (days / 30.4375); **MTBF** (平均故障间隔,
  days): the days the device was in the ledger during the range (from its install date or its entry, whichever is
  later) / failures, none without a failure. Per **category**: the sums over its devices.

A fixed number of statements (``STATEMENTS``), however many tasks and devices.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased

from ..auth.models import User
from ..core.prepared import prepared
from ..documents.spreadsheets import safe_cell
from ..errors import DomainError
from ..extensions import db
from ..repairs.models import WorkOrder
from ..tenancy.clock import local_datetime, tenant_today, tenant_zone
from .models import DEVICE_CATEGORY_NAMES, TASK_STATUS_NAMES, Device, InspectionPlan, InspectionTask

DAYS_PER_MONTH = Decimal('30.4375')
MAX_DAYS = 366 * 2
STATEMENTS = 4


@dataclass
class PlanFigures:
    plan_id: int
    name: str
    due: int = 0
    done: int = 0
    on_time: int = 0

    @property
    def missed(self) -> int:
        return self.due - self.done

    @property
    def rate(self) -> Decimal | None:
        return percent(self.done, self.due)


@dataclass
class PersonFigures:
    user_id: int
    name: str
    done: int = 0
    on_time: int = 0
    assigned: int = 0
    assigned_done: int = 0

    @property
    def on_time_rate(self) -> Decimal | None:
        return percent(self.on_time, self.done)

    @property
    def assigned_rate(self) -> Decimal | None:
        return percent(self.assigned_done, self.assigned)


class FailureRate:
    """Failures per month and MTBF of ``failures`` over ``days`` in the ledger (the attributes of the class it is
    mixed into): for a device, or a category (its devices' sums: per device and month)."""

    failures: int
    days: int

    @property
    def per_month(self) -> Decimal:
        return per_month(self.failures, self.days)

    @property
    def mtbf_days(self) -> Decimal | None:
        return mtbf(self.days, self.failures)


@dataclass
class DeviceFigures(FailureRate):
    device_id: int
    code: str
    name: str
    category: str
    days: int
    failures: int


@dataclass
class CategoryFigures(FailureRate):
    category: str
    devices: int = 0
    days: int = 0
    failures: int = 0

    @property
    def name(self) -> str:
        return str(DEVICE_CATEGORY_NAMES.get(self.category, self.category))


@dataclass
class Figures:
    start: date
    end: date
    plans: list[PlanFigures] = field(default_factory=list)
    people: list[PersonFigures] = field(default_factory=list)
    devices: list[DeviceFigures] = field(default_factory=list)
    categories: list[CategoryFigures] = field(default_factory=list)

    @property
    def due(self) -> int:
        return sum(p.due for p in self.plans)

    @property
    def done(self) -> int:
        return sum(p.done for p in self.plans)

    @property
    def rate(self) -> Decimal | None:
        return percent(self.done, self.due)


def percent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)


def per_month(failures: int, days: int) -> Decimal:
    if not days:
        return Decimal('0.00')
    return (Decimal(failures) * DAYS_PER_MONTH / Decimal(days)).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)


def mtbf(days: int, failures: int) -> Decimal | None:
    if not failures:
        return None
    return (Decimal(days) / Decimal(failures)).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)


def days_in_ledger(device: Device, start: date, end: date, zone) -> int:
    """The days from ``start`` to ``end`` (both included) the device was in the ledger: from its install date or its
    entry, whichever is earlier."""
    entered = device.created_at.astimezone(zone).date() if device.created_at else start
    since = max(start, min(entered, device.installed_on) if device.installed_on else entered)
    return max((end - since).days + 1, 0)


def default_range(today: date) -> tuple[date, date]:
    """The last 30 days, today included."""
    return today - timedelta(days=29), today


def check_range(tenant, start=None, end=None) -> tuple[date, date]:
    """The range asked for (ISO strings or None), checked; DomainError for a bad date, start after end, or more
    than MAX_DAYS days."""
    default_start, default_end = default_range(tenant_today(tenant))

    def day(value, name):
        if value in (None, ''):
            return None
        try:
            return date.fromisoformat(str(value).strip())
        except ValueError:
            raise DomainError(_l('日期格式应为 2026-01-31'), field=name) from None

    start, end = day(start, 'start') or default_start, day(end, 'end') or default_end
    if start > end:
        raise DomainError(_l('开始日期不能晚于结束日期'), field='start')
    if (end - start).days >= MAX_DAYS:
        raise DomainError(_l('统计区间最长 %(n)s 天', n=MAX_DAYS), field='start')
    return start, end


def _bounds(tenant, start: date, end: date) -> tuple[datetime, datetime]:
    zone = tenant_zone(tenant)
    return (datetime.combine(start, time(), tzinfo=zone).astimezone(UTC),
            datetime.combine(end + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC))


def _counts(low: datetime, high: datetime, now: datetime) -> list:
    """SQL: the tasks that count: their round started in [low, high) and they are due by ``now``."""
    return [InspectionTask.period_start >= low, InspectionTask.period_start < high, InspectionTask.due_at <= now]


def _total(condition):
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


_DONE = InspectionTask.status == 'done'
_ON_TIME = sa.and_(_DONE, InspectionTask.completed_at <= InspectionTask.due_at)


@prepared
def _completion():
    return (sa.select(InspectionPlan.id, InspectionPlan.name, sa.func.count(InspectionTask.id), _total(_DONE),
                      _total(_ON_TIME))
            .join(InspectionTask, InspectionTask.plan_id == InspectionPlan.id)
            .where(*_counts(sa.bindparam('low'), sa.bindparam('high'), sa.bindparam('now')))
            .group_by(InspectionPlan.id, InspectionPlan.name).order_by(InspectionPlan.name, InspectionPlan.id))


def completion(low: datetime, high: datetime, now: datetime) -> list[PlanFigures]:
    """Per plan, the tasks that count, done and done on time: one statement."""
    return [PlanFigures(plan_id, name, int(due), int(done), int(on_time)) for plan_id, name, due, done, on_time in
            db.session.execute(_completion(), {'low': low, 'high': high, 'now': now})]


def people(low: datetime, high: datetime, now: datetime) -> list[PersonFigures]:
    """Per person, what they completed, and what was assigned to them by name: one statement over both."""
    person = sa.func.coalesce(InspectionTask.completed_by_id, InspectionTask.assignee_id)
    completer, assignee = aliased(User), aliased(User)
    rows = db.session.execute(
        sa.select(InspectionTask.completed_by_id, InspectionTask.assignee_id, completer.name, assignee.name,
                  sa.func.count(), _total(_DONE), _total(_ON_TIME))
        .outerjoin(completer, completer.id == InspectionTask.completed_by_id)
        .outerjoin(assignee, assignee.id == InspectionTask.assignee_id)
        .where(*_counts(low, high, now), person.is_not(None))
        .group_by(InspectionTask.completed_by_id, InspectionTask.assignee_id, completer.name, assignee.name)).all()
    found: dict[int, PersonFigures] = {}
    for completed_by, assigned_to, completer_name, assignee_name, count, done_count, on_time_count in rows:
        if completed_by is not None:
            entry = found.setdefault(completed_by, PersonFigures(completed_by, completer_name))
            entry.done += int(done_count)
            entry.on_time += int(on_time_count)
        if assigned_to is not None:
            entry = found.setdefault(assigned_to, PersonFigures(assigned_to, assignee_name))
            entry.assigned += int(count)
            entry.assigned_done += int(done_count) if completed_by == assigned_to else 0
    return sorted(found.values(), key=lambda p: (-p.done, p.name))


@prepared
def _failures():
    return (sa.select(WorkOrder.device_id, sa.func.count())
            .where(WorkOrder.device_id.is_not(None), WorkOrder.created_at >= sa.bindparam('low'),
                   WorkOrder.created_at < sa.bindparam('high'), WorkOrder.status != 'cancelled')
            .group_by(WorkOrder.device_id))


@prepared
def _devices():
    return sa.select(Device).order_by(Device.category, Device.code)


def equipment(tenant, start: date, end: date) -> tuple[list[DeviceFigures], list[CategoryFigures]]:
    """Failures per device in the range and the days each device was in the ledger during it, and the sums per
    category, the most failures first: two statements."""
    low, high = _bounds(tenant, start, end)
    failures = dict(db.session.execute(_failures(), {'low': low, 'high': high}).all())
    zone = tenant_zone(tenant)
    devices, categories = [], {}
    for device in db.session.execute(_devices()).scalars():
        days = days_in_ledger(device, start, end, zone)
        if days == 0 and not failures.get(device.id):
            continue
        if device.status == 'retired' and not failures.get(device.id):
            continue
        row = DeviceFigures(device.id, device.code, device.name, device.category, days, failures.get(device.id, 0))
        devices.append(row)
        category = categories.setdefault(device.category, CategoryFigures(device.category))
        category.devices += 1
        category.days += days
        category.failures += row.failures
    return (sorted(devices, key=lambda d: (-d.failures, d.code)),
            sorted(categories.values(), key=lambda c: (-c.failures, c.category)))


def compute(tenant, start: date, end: date, now: datetime) -> Figures:
    """Every figure of the range as of ``now``: STATEMENTS statements."""
    low, high = _bounds(tenant, start, end)
    devices, categories = equipment(tenant, start, end)
    return Figures(start=start, end=end, plans=completion(low, high, now), people=people(low, high, now),
                   devices=devices, categories=categories)


# --- the records export -------------------------------------------------------------------------------------------

def records_xlsx(tenant, start: date, end: date) -> bytes:
    """Every task whose round started in the range: plan, device, times, status, who, each item's result, and the
    work order a failure opened. One statement for the rows."""
    from openpyxl import Workbook

    low, high = _bounds(tenant, start, end)
    completer = aliased(User)
    rows = db.session.execute(
        sa.select(InspectionTask, InspectionPlan.name, InspectionPlan.checklist, Device.code, Device.name,
                  completer.name, WorkOrder.number)
        .join(InspectionPlan, InspectionPlan.id == InspectionTask.plan_id)
        .outerjoin(Device, Device.id == InspectionTask.device_id)
        .outerjoin(completer, completer.id == InspectionTask.completed_by_id)
        .outerjoin(WorkOrder, WorkOrder.inspection_task_id == InspectionTask.id)
        .where(InspectionTask.period_start >= low, InspectionTask.period_start < high)
        .order_by(InspectionTask.period_start, InspectionPlan.name, InspectionTask.id)).all()
    book = Workbook()
    sheet = book.active
    sheet.title = _('巡检记录')
    sheet.append([safe_cell(_('巡检记录（%(start)s 至 %(end)s）', start=start.isoformat(), end=end.isoformat()))])
    sheet.append([safe_cell(h) for h in (_('巡检计划'), _('设备编号'), _('设备'), _('开始'), _('截止'), _('状态'),
                                         _('到场签到'), _('完成时间'), _('完成人'), _('检查结果'), _('异常项'),
                                         _('报修工单'))])

    def local(value):
        return local_datetime(value, tenant) if value else ''

    for task, plan_name, checklist, device_code, device_name, completed_by, order_number in rows:
        results = task.results or []
        parts, failed = [], 0
        for item, result in zip(checklist or [], results, strict=False):
            kind = item.get('kind')
            if kind == 'reading':
                shown = f"{result.get('value') or ''}{item.get('unit') or ''}"
            elif kind == 'check':
                shown = _('正常') if result.get('ok') else _('异常')
            else:
                shown = result.get('note') or ''
            failed += result.get('ok') is False
            parts.append(f"{item.get('label')}：{shown}")
        sheet.append([safe_cell(value) for value in (
            plan_name, device_code or '', device_name or '', local(task.period_start), local(task.due_at),
            str(TASK_STATUS_NAMES[task.status]), local(task.checked_in_at), local(task.completed_at),
            completed_by or '', '；'.join(parts), failed, order_number or '')])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
