"""Work orders (报修工单): submitting, the state machine, and its history.

    order = submit(category_id=3, description='卫生间漏水', room_id=12, reporter_resident_id=5, by_user=user)
    assign(order, technician_id, by_user=desk)        # submitted|assigned → assigned (a reassignment stays assigned)
    start(order, by_user=tech)                         # assigned → in_progress
    complete(order, by_user=tech, note='换了阀门', parts=[{'name': '角阀', 'quantity': 1, 'cost_fen': 3500}])
    confirm(order, by_user=resident, rating=5, comment='很快')   # completed → confirmed
    reopen(order, by_user=resident, reason='还在漏')            # completed → assigned (same technician)
    cancel(order, by_user=..., reason=...)                       # resident: only while submitted; staff: any open

Every transition is checked against ``TRANSITIONS`` and the actor's role; an illegal one raises
``IllegalTransition`` (a DomainError: a 4xx with a message) and changes nothing. Every accepted one writes a
``WorkOrderEvent`` (who, when, from, to, note) in the caller's transaction. Services never commit.

Numbers are 'BX-<local date>-<4 digits>', a sequence per project and day taken from the billing counters
(``UPDATE .. RETURNING``), so concurrent submissions never share one.

Deadlines come from the delivery template's response times (``tenant.settings['repairs']['response_times']``):
an urgent order must be responded to (assigned and on the way) within the 'emergency_utility' priority's
``onsite_minutes`` (爆管漏水, 整户停电: the resident's 加急) and resolved within ``URGENT_RESOLVE_HOURS``; a normal
one responded to within ``NORMAL_RESPOND_HOURS`` and resolved within the 'ordinary' priority's ``working_days``
working days (Chinese public holidays and make-up days, plus the project's own days).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..billing import calendar
from ..billing.numbering import allocate
from ..errors import DomainError
from ..extensions import db
from ..models_base import get_or_404, utcnow
from ..money import MAX_FEN
from ..property.models import Room
from ..residents.models import Occupancy, Resident
from ..tenancy.clock import local_datetime, tenant_zone
from ..tenancy.context import current_tenant_id
from ..tenancy.models import Tenant
from .models import CHANNELS, OPEN_STATUSES, STATUS_NAMES, URGENCIES, RepairCategory, WorkOrder, WorkOrderEvent

MAX_DESCRIPTION = 2000
MAX_PARTS = 30
URGENT_RESOLVE_HOURS = 24
NORMAL_RESPOND_HOURS = 24
DEFAULT_URGENT_MINUTES = 30
DEFAULT_ORDINARY_DAYS = 3
AUTO_CONFIRM_DAYS = 3

#: status -> the statuses it may go to
TRANSITIONS = {
    'submitted': ('assigned', 'cancelled'),
    'assigned': ('assigned', 'in_progress', 'cancelled'),
    'in_progress': ('completed', 'assigned', 'cancelled'),
    'completed': ('confirmed', 'assigned'),
    'confirmed': (),
    'cancelled': (),
}


class IllegalTransition(DomainError):
    status_code = 409


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (id, role, duties) or the clock (``user_id`` None)."""

    user_id: int | None
    role: str
    duties: tuple[str, ...] = ()

    @classmethod
    def of(cls, user) -> Actor:
        return cls(user.id, user.role, tuple(user.duties or ()))

    @property
    def staff(self) -> bool:
        return self.role in ('admin', 'staff')


CLOCK = Actor(None, 'system')


def _actor(by_user) -> Actor:
    return by_user if isinstance(by_user, Actor) else Actor.of(by_user)


# --- numbers and deadlines ----------------------------------------------------------------------------------------

def next_number(tenant: Tenant, now: datetime) -> str:
    day = local_datetime(now, tenant, '%Y%m%d')
    return f'BX-{day}-{allocate(f"repair:{day}", 1)[0]:04d}'


def _response_times(tenant: Tenant) -> dict[str, dict]:
    entries = ((tenant.settings or {}).get('repairs') or {}).get('response_times') or []
    return {entry.get('priority'): entry for entry in entries if isinstance(entry, dict)}


def _add_working_days(start: datetime, days: int, tenant: Tenant) -> datetime:
    """The same local time ``days`` working days after ``start`` (the day itself not counted)."""
    zone = tenant_zone(tenant)
    local = start.astimezone(zone)
    day = local.date()
    overrides = calendar.project_days(day, day + timedelta(days=days * 3 + 30))
    for _ in range(days):
        day += timedelta(days=1)
        while not calendar.is_working_day(day, overrides):
            day += timedelta(days=1)
    return datetime.combine(day, local.timetz()).astimezone(start.tzinfo)


def deadlines(urgency: str, submitted_at: datetime, tenant: Tenant) -> tuple[datetime, datetime]:
    """(respond by, resolve by) of an order submitted at ``submitted_at`` (UTC)."""
    times = _response_times(tenant)
    if urgency == 'urgent':
        minutes = (times.get('emergency_utility') or {}).get('onsite_minutes') or DEFAULT_URGENT_MINUTES
        return submitted_at + timedelta(minutes=int(minutes)), submitted_at + timedelta(hours=URGENT_RESOLVE_HOURS)
    days = (times.get('ordinary') or {}).get('working_days') or DEFAULT_ORDINARY_DAYS
    return (submitted_at + timedelta(hours=NORMAL_RESPOND_HOURS),
            _add_working_days(submitted_at, int(days), tenant))


def auto_confirm_days(tenant: Tenant) -> int:
    value = ((tenant.settings or {}).get('repairs') or {}).get('auto_confirm_days', AUTO_CONFIRM_DAYS)
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return AUTO_CONFIRM_DAYS


# --- submitting ---------------------------------------------------------------------------------------------------

def _text(value, limit: int, field: str, message, *, required: bool = False) -> str | None:
    value = (value or '').strip() if isinstance(value, str) or value is None else None
    if value is None:
        raise DomainError(message, field=field)
    if required and not value:
        raise DomainError(message, field=field)
    if len(value) > limit:
        raise DomainError(_l('%(field)s 最多 %(limit)s 字', field=message, limit=limit), field=field)
    return value or None


def rooms_of_resident(resident_id: int) -> list[int]:
    """The rooms a resident currently lives in."""
    return list(db.session.execute(sa.select(Occupancy.room_id).where(
        Occupancy.resident_id == resident_id, Occupancy.moved_out_on.is_(None))).scalars())


def submit(*, category_id, description, by_user, room_id=None, public_area=None, building_id=None,
           urgency: str = 'normal', preferred_time=None, channel: str = 'portal', reporter_resident_id=None,
           contact_name=None, contact_phone=None, now: datetime | None = None) -> WorkOrder:
    """A new order (status 'submitted') with its number and deadlines, and its first event. Exactly one of
    ``room_id`` (a room; a resident may report only for a room they live in) and ``public_area`` (words; with an
    optional ``building_id``). Raises DomainError naming the field. Does not commit; auto-dispatch is the caller's
    next step (``dispatch.auto_assign``)."""
    actor = _actor(by_user)
    category = db.session.get(RepairCategory, category_id) if isinstance(category_id, int) else None
    if category is None or not category.active:
        raise DomainError(_l('请选择报修分类'), field='category_id')
    description = _text(description, MAX_DESCRIPTION, 'description', _l('请描述需要维修的问题'), required=True)
    if urgency not in URGENCIES:
        raise DomainError(_l('请选择紧急程度'), field='urgency')
    if channel not in CHANNELS:
        raise DomainError(_l('请选择报修渠道'), field='channel')
    preferred_time = _text(preferred_time, 100, 'preferred_time', _l('期望上门时间'))
    contact_name = _text(contact_name, 60, 'contact_name', _l('联系人'))
    contact_phone = _text(contact_phone, 30, 'contact_phone', _l('联系电话'))
    public_area = _text(public_area, 100, 'public_area', _l('公共区域位置'))
    room = None
    if room_id is not None:
        room = db.session.get(Room, room_id) if isinstance(room_id, int) else None
        if room is None:
            raise DomainError(_l('没有这个房屋'), field='room_id')
    if (room is None) == (public_area is None):
        raise DomainError(_l('请选择报修的房屋，或填写公共区域的位置'), field='room_id')
    if room is not None and category.area == 'public':
        raise DomainError(_l('%(name)s 属于公共区域报修，请填写公共区域的位置', name=category.name),
                          field='category_id')
    if room is None and category.area == 'home':
        raise DomainError(_l('%(name)s 属于户内报修，请选择房屋', name=category.name), field='category_id')
    if room is None and building_id is not None:
        from ..property.models import Building

        if not isinstance(building_id, int) or db.session.get(Building, building_id) is None:
            raise DomainError(_l('没有这个楼栋'), field='building_id')
    if reporter_resident_id is not None and db.session.get(Resident, reporter_resident_id) is None:
        raise DomainError(_l('没有这个住户'), field='reporter_resident_id')
    if actor.role == 'resident':
        mine = set(db.session.execute(sa.select(Resident.id).where(Resident.user_id == actor.user_id)).scalars())
        if reporter_resident_id is None or reporter_resident_id not in mine:
            raise DomainError(_l('你的账号还没有关联住户信息，请联系物业服务中心'))
        if room is not None and room.id not in rooms_of_resident(reporter_resident_id):
            raise DomainError(_l('只能为自己居住的房屋报修'), field='room_id')
        channel = 'portal'
    tenant = db.session.get(Tenant, current_tenant_id())
    now = now or utcnow()
    respond_by, resolve_by = deadlines(urgency, now, tenant)
    if reporter_resident_id is not None and not (contact_name and contact_phone):
        reporter = db.session.get(Resident, reporter_resident_id)
        contact_name = contact_name or reporter.name
        contact_phone = contact_phone or reporter.mobile
    order = WorkOrder(number=next_number(tenant, now), category_id=category.id,
                      room_id=room.id if room else None, public_area=public_area,
                      building_id=room.building_id if room else building_id, description=description,
                      urgency=urgency, preferred_time=preferred_time, channel=channel, status='submitted',
                      reporter_resident_id=reporter_resident_id, created_by_id=actor.user_id,
                      contact_name=contact_name, contact_phone=contact_phone, respond_by=respond_by,
                      resolve_by=resolve_by, created_at=now, updated_at=now)
    db.session.add(order)
    db.session.flush()
    _event(order, 'submitted', None, 'submitted', actor, now=now, data={'channel': channel})
    return order


# --- the state machine --------------------------------------------------------------------------------------------

def _event(order: WorkOrder, action: str, from_status, to_status, actor: Actor, *, note=None, data=None,
           now: datetime | None = None) -> WorkOrderEvent:
    event = WorkOrderEvent(order_id=order.id, action=action, from_status=from_status, to_status=to_status,
                           by_user_id=actor.user_id, note=note, data=data or {}, at=now or utcnow())
    db.session.add(event)
    return event


def _move(order: WorkOrder, to: str, actor: Actor, action: str, *, note=None, data=None,
          now: datetime | None = None) -> None:
    if to not in TRANSITIONS.get(order.status, ()):
        raise IllegalTransition(_l('工单%(status)s，不能%(action)s', status=STATUS_NAMES[order.status],
                                   action=ACTION_NAMES[action]))
    now = now or utcnow()
    _event(order, action, order.status, to, actor, note=note, data=data, now=now)
    order.status, order.updated_at = to, now
    db.session.flush()


ACTION_NAMES = {'submitted': _l('提交'), 'assigned': _l('派单'), 'reassigned': _l('改派'), 'started': _l('开始维修'),
                'completed': _l('完工'), 'confirmed': _l('确认'), 'reopened': _l('返修'), 'cancelled': _l('取消'),
                'auto_confirmed': _l('自动确认'), 'rated': _l('评价'), 'overdue': _l('超时提醒')}


def _need_staff(actor: Actor, action: str) -> None:
    if not actor.staff:
        raise IllegalTransition(_l('只有物业工作人员可以%(action)s', action=ACTION_NAMES[action]))


def _is_reporter(order: WorkOrder, actor: Actor) -> bool:
    if actor.role != 'resident' or actor.user_id is None:
        return False
    mine = sa.select(Resident.id).where(Resident.user_id == actor.user_id)
    if order.reporter_resident_id is not None and order.reporter_resident_id in set(db.session.execute(mine).scalars()):
        return True
    if order.room_id is None:
        return False
    return db.session.execute(sa.select(Occupancy.id).where(
        Occupancy.room_id == order.room_id, Occupancy.moved_out_on.is_(None), Occupancy.resident_id.in_(mine))
        .limit(1)).first() is not None


def assign(order: WorkOrder, assignee_id: int, *, by_user, group_id: int | None = None, note=None,
           now: datetime | None = None) -> WorkOrder:
    """派单 (or 改派 while assigned/in progress): the assignee must be an active staff member of the project with
    the technician duty (or an admin). Does not commit."""
    from ..auth.models import User

    actor = _actor(by_user)
    if actor.user_id is not None:
        _need_staff(actor, 'assigned')
    assignee = db.session.get(User, assignee_id) if isinstance(assignee_id, int) else None
    if assignee is None or not assignee.active or assignee.role not in ('admin', 'staff') \
            or not assignee.has_duty('technician'):
        raise DomainError(_l('请选择一位维修人员'), field='assignee_id')
    action = 'assigned' if order.status == 'submitted' else 'reassigned'
    now = now or utcnow()
    _move(order, 'assigned', actor, action, note=note, data={'assignee_id': assignee.id, 'group_id': group_id},
          now=now)
    order.assignee_id, order.group_id = assignee.id, group_id
    order.assigned_at = order.assigned_at or now
    order.started_at = None if action == 'reassigned' else order.started_at
    return order


def start(order: WorkOrder, *, by_user, now: datetime | None = None) -> WorkOrder:
    """开始维修: the assignee (or an admin) starts the work."""
    actor = _actor(by_user)
    _need_staff(actor, 'started')
    if actor.role != 'admin' and order.assignee_id != actor.user_id:
        raise IllegalTransition(_l('这张工单派给了其他维修人员'))
    now = now or utcnow()
    _move(order, 'in_progress', actor, 'started', now=now)
    order.started_at = now
    return order


def _parts(parts) -> list[dict]:
    if parts is None:
        return []
    if not isinstance(parts, list) or len(parts) > MAX_PARTS:
        raise DomainError(_l('配件最多 %(n)s 项', n=MAX_PARTS), field='parts')
    out = []
    for part in parts:
        if not isinstance(part, dict):
            raise DomainError(_l('配件须有名称、数量和金额'), field='parts')
        name = (part.get('name') or '').strip() if isinstance(part.get('name'), str) else ''
        quantity, cost = part.get('quantity', 1), part.get('cost_fen', 0)
        if not name or len(name) > 60:
            raise DomainError(_l('请填写配件名称（最多 60 字）'), field='parts')
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 10_000:
            raise DomainError(_l('配件数量须为 1 到 10000 的整数'), field='parts')
        if isinstance(cost, bool) or not isinstance(cost, int) or not 0 <= cost <= MAX_FEN:
            raise DomainError(_l('配件金额须为整数（分），不能为负'), field='parts')
        out.append({'name': name, 'quantity': quantity, 'cost_fen': cost})
    return out


def complete(order: WorkOrder, *, by_user, note, parts=None, now: datetime | None = None) -> WorkOrder:
    """完工: the assignee reports what was done and the parts used; the resident is asked to confirm."""
    actor = _actor(by_user)
    _need_staff(actor, 'completed')
    if actor.role != 'admin' and order.assignee_id != actor.user_id:
        raise IllegalTransition(_l('这张工单派给了其他维修人员'))
    note = _text(note, MAX_DESCRIPTION, 'completion_note', _l('请填写维修情况'), required=True)
    parts = _parts(parts)
    now = now or utcnow()
    _move(order, 'completed', actor, 'completed', note=note[:500], now=now)
    order.completion_note, order.parts, order.completed_at = note, parts, now
    from ..inspections.maintenance import use_parts_of_order

    use_parts_of_order(order, actor.user_id)  # the parts named like stock parts leave the stock
    return order


def _rating(rating) -> int:
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise DomainError(_l('请给出 1 到 5 星的评价'), field='rating')
    return rating


def confirm(order: WorkOrder, *, by_user, rating, comment=None, now: datetime | None = None) -> WorkOrder:
    """确认完成 with a rating (1-5) and a comment, by the reporting household (or staff on its behalf, e.g. on the
    phone). A rating of 2 or less puts the order on the return-visit list."""
    from .models import ReturnVisit

    actor = _actor(by_user)
    if not (actor.staff or _is_reporter(order, actor)):
        raise IllegalTransition(_l('只有报修的住户可以确认'))
    rating = _rating(rating)
    comment = _text(comment, 500, 'rating_comment', _l('评价'))
    now = now or utcnow()
    _move(order, 'confirmed', actor, 'confirmed', note=comment, data={'rating': rating}, now=now)
    order.rating, order.rating_comment, order.confirmed_at = rating, comment, now
    if rating <= 2:
        db.session.add(ReturnVisit(order_id=order.id, reason=f'评价 {rating} 星' + (f'：{comment}' if comment else ''),
                                   created_at=now))
        db.session.flush()
    return order


def reopen(order: WorkOrder, *, by_user, reason, now: datetime | None = None) -> WorkOrder:
    """返修: the resident says it is not fixed; back to the same technician (assigned) with the reason."""
    actor = _actor(by_user)
    if not (actor.staff or _is_reporter(order, actor)):
        raise IllegalTransition(_l('只有报修的住户可以要求返修'))
    if order.status != 'completed':
        raise IllegalTransition(_l('工单%(status)s，不能%(action)s', status=STATUS_NAMES[order.status],
                                   action=ACTION_NAMES['reopened']))
    reason = _text(reason, 500, 'reason', _l('请说明返修原因'), required=True)
    now = now or utcnow()
    _move(order, 'assigned', actor, 'reopened', note=reason, now=now)
    order.reopen_count += 1
    order.started_at = order.completed_at = None
    return order


def cancel(order: WorkOrder, *, by_user, reason=None, now: datetime | None = None) -> WorkOrder:
    """取消: the reporting household while nobody is assigned yet; staff at any open stage, with a reason."""
    actor = _actor(by_user)
    if actor.staff:
        reason = _text(reason, 200, 'reason', _l('请填写取消原因'), required=True)
    elif _is_reporter(order, actor):
        if order.status != 'submitted':
            raise IllegalTransition(_l('工单已派单，如需取消请联系物业服务中心'))
        reason = _text(reason, 200, 'reason', _l('取消原因')) or '住户取消'
    else:
        raise IllegalTransition(_l('只有报修的住户或物业工作人员可以取消'))
    now = now or utcnow()
    _move(order, 'cancelled', actor, 'cancelled', note=reason, now=now)
    order.cancel_reason, order.cancelled_at = reason, now
    return order


def auto_confirm_due(now: datetime | None = None) -> list[WorkOrder]:
    """Confirm (by the clock) the project's orders completed ``auto_confirm_days`` ago that nobody confirmed or
    reopened. No rating. Does not commit."""
    tenant = db.session.get(Tenant, current_tenant_id())
    now = now or utcnow()
    cutoff = now - timedelta(days=auto_confirm_days(tenant))
    orders = list(db.session.execute(sa.select(WorkOrder).where(
        WorkOrder.status == 'completed', WorkOrder.completed_at <= cutoff).order_by(WorkOrder.id)).scalars())
    for order in orders:
        _move(order, 'confirmed', CLOCK, 'auto_confirmed', note=f'{auto_confirm_days(tenant)} 天未确认，系统自动确认',
              now=now)
        order.confirmed_at, order.auto_confirmed = now, True
    return orders


def load(order_id: int) -> WorkOrder:
    """One order of the project (another project's is 404)."""
    return get_or_404(WorkOrder, order_id)


def is_open(order: WorkOrder) -> bool:
    return order.status in OPEN_STATUSES
