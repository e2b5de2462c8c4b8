"""Inspection plans as the admin keeps them (巡检计划), and the staff's task lists (巡检任务).

    plan = save_plan(None, PlanInput(...), tenant)      # checked, saved (flushed), its coming tasks generated

Everything runs in the current tenant's scope (the scoped models): another project's plan, device or user is simply
not found. Refusals raise DomainError with a message an admin understands; nothing is saved then (the view rolls
back).

Saving a plan never deletes tasks: a changed frequency or device list applies to the rounds generated from now on,
and a disabled plan keeps its open tasks (they are done or missed as before; no new ones are generated).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from ..auth.models import User
from ..errors import DomainError
from ..extensions import db
from ..tenancy import clock
from .generation import HORIZON_DAYS, generate
from .models import (
    DEVICE_CATEGORY_NAMES,
    ITEM_KINDS,
    TARGET_DEVICES,
    TARGET_NAMES,
    TASK_STATUSES,
    Device,
    InspectionPlan,
    InspectionPlanDevice,
    InspectionTask,
)
from .schedule import Frequency

ITEM_KIND_NAMES = {'check': _l('检查（合格/不合格）'), 'reading': _l('读数'), 'note': _l('记录')}
#: a lift's inspection records are kept at least this many years (TSG T5002; the delivery template says 4)
LIFT_RETENTION_YEARS = 4
MAX_PHOTOS = 6
MAX_ITEMS = 40
MAX_POINTS = 60
#: the plan page lists this many of its latest tasks; its completion rate covers this many days
RECENT_TASKS = 30
RATE_DAYS = 30
CUSTOM_PREFIX = 'custom_'
#: the years a plan may start in, and the task list's days (dates at the calendar's ends overflow in UTC)
FIRST_YEAR, LAST_YEAR = 2000, 2200


@dataclass
class PlanInput:
    """What the plan form submits, as plain values (strings where the service parses them)."""

    name: str
    target: str
    #: {'kind': ..., 'times' | 'weekdays' | 'day' and 'months' | 'days': ...} as submitted
    frequency: dict
    starts_on: date
    #: [{'label', 'kind', 'unit', 'min', 'max'}] as submitted, blank rows included
    checklist: list[dict] = field(default_factory=list)
    points: str = ''
    device_ids: list[int] = field(default_factory=list)
    duty: str = ''
    assignee_id: int | None = None
    photos_required: int = 0
    retention_years: int | None = None
    basis: str = ''
    note: str = ''
    enabled: bool = True


# --- reading plans ----------------------------------------------------------------------------------------------

def all_plans() -> list[InspectionPlan]:
    """Every plan of the project with its chosen devices (two statements), enabled ones first, by target and name."""
    return list(db.session.execute(
        sa.select(InspectionPlan).options(selectinload(InspectionPlan.devices))
        .order_by(InspectionPlan.enabled.desc(), InspectionPlan.target, InspectionPlan.name, InspectionPlan.id)
    ).scalars())


def describe_frequency(plan: InspectionPlan) -> str:
    try:
        return Frequency.from_json(plan.frequency).describe()
    except DomainError:  # a stored frequency this version can't read: say so rather than fail the page
        return _('频次有误，请编辑')


def coverage(plan: InspectionPlan) -> str:
    """What the plan's tasks are about: the chosen devices, else every device of its target's categories ('全部电梯
    设备'), else a round of places ('巡查点位')."""
    if plan.devices:
        return '、'.join(f'{d.code} {d.name}' for d in plan.devices)
    categories = TARGET_DEVICES.get(plan.target, ())
    if categories:
        return '、'.join(_('全部%(category)s设备', category=DEVICE_CATEGORY_NAMES[c]) for c in categories)
    return _('巡查点位')


def who(plan_or_task, tenant, people: dict[int, User], duty: str | None = None) -> str:
    """The person a plan (or task) is for, else its duty's name ('电梯安全管理员')."""
    person = people.get(plan_or_task.assignee_id) if plan_or_task.assignee_id else None
    if person is not None:
        return person.name
    duty = duty if duty is not None else getattr(plan_or_task, 'duty', None)
    return tenant.duty_name(duty) if duty else ''


def users_by_id(ids) -> dict[int, User]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {u.id: u for u in db.session.execute(sa.select(User).where(User.id.in_(ids))).scalars()}


def staff_for_duties(tenant) -> list[User]:
    """Active staff having at least one of the project's duties: who a plan may name as its one person."""
    codes = {d['code'] for d in tenant.duties}
    users = db.session.execute(sa.select(User).where(User.role == 'staff', User.active.is_(True))
                               .order_by(User.name, User.id)).scalars()
    return [u for u in users if codes & set(u.duties or ())]


def devices_to_choose(chosen_ids=()) -> list[Device]:
    """The project's devices a plan may cover: all but the retired ones (unless already chosen), by code."""
    chosen_ids = list(chosen_ids)
    condition = Device.status != 'retired'
    if chosen_ids:
        condition = sa.or_(condition, Device.id.in_(chosen_ids))
    return list(db.session.execute(sa.select(Device).where(condition).order_by(Device.code, Device.id)).scalars())


# --- saving a plan ----------------------------------------------------------------------------------------------

def _decimal(value, label: str) -> str | None:
    value = (value or '').strip()
    if not value:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or abs(number) >= Decimal('1e9'):
        raise DomainError(_l('检查项“%(label)s”的范围应为数字，例如 0.2 或 1.5', label=label), field='checklist')
    return str(number)


def check_checklist(rows: list[dict]) -> list[dict]:
    """The checklist from the submitted rows: blank rows ignored; a reading's range as decimal strings with min not
    above max; at least one item. Raises DomainError."""
    items = []
    for row in rows:
        label = (row.get('label') or '').strip()
        if not label:
            continue
        if len(label) > 60:
            raise DomainError(_l('检查项名称最长 60 个字'), field='checklist')
        kind = row.get('kind') or 'check'
        if kind not in ITEM_KINDS:
            raise DomainError(_l('检查项“%(label)s”的类型不正确', label=label), field='checklist')
        if kind != 'reading':
            items.append({'label': label, 'kind': kind})
            continue
        unit = (row.get('unit') or '').strip()
        if len(unit) > 10:
            raise DomainError(_l('单位最长 10 个字'), field='checklist')
        low, high = _decimal(row.get('min'), label), _decimal(row.get('max'), label)
        if low is not None and high is not None and Decimal(low) > Decimal(high):
            raise DomainError(_l('检查项“%(label)s”的下限不能大于上限', label=label), field='checklist')
        items.append({'label': label, 'kind': 'reading', 'unit': unit, 'min': low, 'max': high})
    if not items:
        raise DomainError(_l('请至少填写一个检查项'), field='checklist')
    if len(items) > MAX_ITEMS:
        raise DomainError(_l('检查项最多 %(n)s 个', n=MAX_ITEMS), field='checklist')
    return items


def check_points(text: str) -> list[str]:
    points = [line.strip() for line in (text or '').splitlines() if line.strip()]
    if len(points) > MAX_POINTS or any(len(p) > 60 for p in points):
        raise DomainError(_l('巡查点位最多 %(n)s 个，每个最长 60 个字', n=MAX_POINTS), field='points')
    return points


def _check_who(tenant, duty: str, assignee_id: int | None) -> tuple[str, int | None]:
    if duty not in {d['code'] for d in tenant.duties}:
        raise DomainError(_l('请选择本项目的一个执行岗位'), field='duty')
    if not assignee_id:
        return duty, None
    person = db.session.execute(sa.select(User).where(User.id == assignee_id)).scalar_one_or_none()
    if person is None or not person.active or person.role != 'staff' or duty not in (person.duties or []):
        raise DomainError(_l('指定的执行人应为在职且有“%(duty)s”岗位的员工', duty=tenant.duty_name(duty)),
                          field='assignee_id')
    return duty, person.id


def _check_devices(device_ids) -> list[int]:
    wanted = sorted({int(i) for i in device_ids})
    if not wanted:
        return []
    found = set(db.session.execute(sa.select(Device.id).where(Device.id.in_(wanted))).scalars())
    if found != set(wanted):
        raise DomainError(_l('所选设备不存在，请刷新页面后重选'), field='devices')
    return wanted


def _new_code() -> str:
    """'custom_<n>', the next n after the project's highest (one statement)."""
    codes = db.session.execute(sa.select(InspectionPlan.code)
                               .where(InspectionPlan.code.like(f'{CUSTOM_PREFIX}%'))).scalars()
    numbers = [int(c[len(CUSTOM_PREFIX):]) for c in codes if c[len(CUSTOM_PREFIX):].isdigit()]
    return f'{CUSTOM_PREFIX}{max(numbers, default=0) + 1}'


def save_plan(plan: InspectionPlan | None, data: PlanInput, tenant) -> tuple[InspectionPlan, int]:
    """Create (``plan`` None, with a generated code) or update a plan from ``data``; flushes, does not commit.

    Checks: a known target; the frequency (Frequency.from_json); the checklist; a lift plan keeps its records at
    least LIFT_RETENTION_YEARS years; photos 0 to MAX_PHOTOS; the duty one of the project's, the one person (if
    any) an active staff member with that duty; the devices the project's. Raises DomainError.

    Existing tasks stay as they are. An enabled plan's tasks of today and the next HORIZON_DAYS days are generated
    at once; returns (plan, the number of tasks created).
    """
    if data.target not in TARGET_NAMES:
        raise DomainError(_l('请选择巡检对象'), field='target')
    frequency = Frequency.from_json(data.frequency)
    if not FIRST_YEAR <= data.starts_on.year <= LAST_YEAR:
        raise DomainError(_l('开始日期应在 %(a)s 年到 %(b)s 年之间', a=FIRST_YEAR, b=LAST_YEAR), field='starts_on')
    checklist = check_checklist(data.checklist)
    points = check_points(data.points)
    if not 0 <= data.photos_required <= MAX_PHOTOS:
        raise DomainError(_l('照片张数应为 0 到 %(n)s', n=MAX_PHOTOS), field='photos_required')
    if data.retention_years is not None and not 1 <= data.retention_years <= 100:
        raise DomainError(_l('记录保存年限应为 1 到 100 年'), field='retention_years')
    if data.target == 'lift' and (data.retention_years or 0) < LIFT_RETENTION_YEARS:
        raise DomainError(_l('电梯巡检记录至少保存 %(n)s 年，请填写 %(n)s 或以上的保存年限', n=LIFT_RETENTION_YEARS),
                          field='retention_years')
    duty, assignee_id = _check_who(tenant, data.duty, data.assignee_id)
    device_ids = _check_devices(data.device_ids)

    if plan is None:
        plan = InspectionPlan(code=_new_code())
        db.session.add(plan)
    plan.name = data.name.strip()
    plan.target = data.target
    plan.frequency = frequency.to_json()
    plan.starts_on = data.starts_on
    plan.checklist = checklist
    plan.points = points
    plan.duty, plan.assignee_id = duty, assignee_id
    plan.photos_required = data.photos_required
    plan.retention_years = data.retention_years
    plan.basis = data.basis.strip() or None
    plan.note = data.note.strip() or None
    plan.enabled = data.enabled
    db.session.flush()
    _set_devices(plan, device_ids)
    db.session.flush()
    db.session.expire(plan, ['devices'])
    created = 0
    if plan.enabled:
        today = clock.tenant_today(tenant)
        created = generate(today, today + timedelta(days=HORIZON_DAYS), plan_ids=[plan.id]).created
    return plan, created


def _set_devices(plan: InspectionPlan, device_ids: list[int]) -> None:
    links = db.session.execute(sa.select(InspectionPlanDevice).where(InspectionPlanDevice.plan_id == plan.id)
                               ).scalars().all()
    have = {link.device_id: link for link in links}
    for device_id, link in have.items():
        if device_id not in device_ids:
            db.session.delete(link)
    db.session.add_all([InspectionPlanDevice(plan_id=plan.id, device_id=d) for d in device_ids if d not in have])


# --- a plan's figures -------------------------------------------------------------------------------------------

@dataclass
class PlanFigures:
    #: status -> tasks of the plan (all time)
    counts: dict[str, int]
    #: open tasks past their due time (all time)
    overdue: int
    #: of the tasks that started in the last RATE_DAYS days: done, missed, open past due
    done: int
    missed: int
    late: int

    @property
    def rate(self) -> float | None:
        """done / (done + missed + open past due) of the last RATE_DAYS days; None when nothing was due."""
        total = self.done + self.missed + self.late
        return self.done / total if total else None


def plan_figures(plan: InspectionPlan, now: datetime | None = None) -> PlanFigures:
    """The plan's task counts by status and its completion rate over the tasks that started in the last RATE_DAYS
    days (not yet due open tasks don't count). One statement."""
    now = now or clock.now_utc()
    since = now - timedelta(days=RATE_DAYS)
    past_due = sa.and_(InspectionTask.status == 'open', InspectionTask.due_at <= now)
    recent = sa.and_(InspectionTask.period_start >= since, InspectionTask.period_start <= now)
    rows = db.session.execute(
        sa.select(InspectionTask.status, sa.func.count(),
                  sa.func.sum(sa.case((past_due, 1), else_=0)),
                  sa.func.sum(sa.case((recent, 1), else_=0)),
                  sa.func.sum(sa.case((sa.and_(recent, past_due), 1), else_=0)))
        .where(InspectionTask.plan_id == plan.id).group_by(InspectionTask.status)).all()
    counts = dict.fromkeys(TASK_STATUSES, 0)
    overdue = 0
    recent_by_status = dict.fromkeys(TASK_STATUSES, 0)
    late = 0
    for status, count, overdue_n, recent_n, late_n in rows:
        counts[status] = count
        overdue += int(overdue_n or 0)
        recent_by_status[status] = int(recent_n or 0)
        late += int(late_n or 0)
    return PlanFigures(counts=counts, overdue=overdue, done=recent_by_status['done'],
                       missed=recent_by_status['missed'], late=late)


def recent_tasks(plan: InspectionPlan) -> list[InspectionTask]:
    """The plan's latest RECENT_TASKS tasks (latest period first) with their devices. One statement."""
    return list(db.session.execute(
        sa.select(InspectionTask).options(joinedload(InspectionTask.device))
        .where(InspectionTask.plan_id == plan.id)
        .order_by(InspectionTask.period_start.desc(), InspectionTask.id.desc()).limit(RECENT_TASKS)).scalars())


# --- the task list ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TaskFilters:
    day: date
    plan_id: int | None = None
    status: str | None = None
    device_id: int | None = None

    def as_args(self) -> dict:
        args = {'day': self.day.isoformat()}
        for key, value in (('plan', self.plan_id), ('status', self.status), ('device', self.device_id)):
            if value:
                args[key] = value
        return args


def parse_day(value, today: date) -> date:
    """A day of the query string (2026-12-01), default today; DomainError for anything else."""
    value = (value or '').strip()
    if not value:
        return today
    try:
        day = date.fromisoformat(value)
    except ValueError:
        day = None
    if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise DomainError(_l('日期格式应为 2026-01-31'), field='day')
    return day


def _visible(user):
    """Tasks a staff member without admin rights may see: of plans whose duty they have, or assigned to them."""
    if user.role == 'admin':
        return sa.true()
    duties = [d for d in (user.duties or []) if isinstance(d, str)]
    return sa.or_(InspectionTask.assignee_id == user.id,
                  InspectionTask.plan_id.in_(sa.select(InspectionPlan.id).where(InspectionPlan.duty.in_(duties))))


def tasks_query(user, filters: TaskFilters, tenant) -> sa.Select:
    """The tasks running on the local day ``filters.day`` (started before its end, due after its start), with their
    plan and device, for ``user``: earliest first, by plan and device."""
    zone = clock.tenant_zone(tenant)
    start = datetime.combine(filters.day, time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(filters.day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    query = (sa.select(InspectionTask)
             .join(InspectionPlan, InspectionPlan.id == InspectionTask.plan_id)
             .outerjoin(Device, Device.id == InspectionTask.device_id)
             .options(contains_eager(InspectionTask.plan), contains_eager(InspectionTask.device))
             .where(InspectionTask.period_start < end, InspectionTask.due_at > start, _visible(user)))
    if filters.plan_id:
        query = query.where(InspectionTask.plan_id == filters.plan_id)
    if filters.status:
        query = query.where(InspectionTask.status == filters.status)
    if filters.device_id:
        query = query.where(InspectionTask.device_id == filters.device_id)
    return query.order_by(InspectionTask.period_start, InspectionPlan.name, Device.code, InspectionTask.id)


def visible_plans(user) -> list[InspectionPlan]:
    """The plans the task list's filter offers ``user``: all for admins, else those of their duties or for them."""
    query = sa.select(InspectionPlan).order_by(InspectionPlan.name, InspectionPlan.id)
    if user.role != 'admin':
        duties = [d for d in (user.duties or []) if isinstance(d, str)]
        query = query.where(sa.or_(InspectionPlan.duty.in_(duties), InspectionPlan.assignee_id == user.id))
    return list(db.session.execute(query).scalars())


def is_overdue(task: InspectionTask, now: datetime) -> bool:
    return task.status == 'open' and task.due_at <= now
