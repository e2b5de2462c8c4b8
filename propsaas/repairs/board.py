"""The staff side's lookups: the service desk's board (待派单, 已派单, 维修中, 待确认 with overdue flags and filters),
one order with everything about it, the technician's own orders, the technicians one can dispatch to, and the
return-visit list.

Every list loads a page of orders with their category, room, building and assignee in a constant number of
statements, whatever the number of orders.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from ..auth.models import User
from ..core.prepared import prepared
from ..extensions import db
from ..property.models import Room
from ..tenancy import clock
from .models import OPEN_STATUSES, ReturnVisit, WorkOrder

#: the board's columns, in the order work moves through them
BOARD_STATUSES = ('submitted', 'assigned', 'in_progress', 'completed')
URGENCY_ORDER = sa.case((WorkOrder.urgency == 'urgent', 0), else_=1)


@dataclass
class BoardFilters:
    status: str | None = None
    category_id: int | None = None
    building_id: int | None = None
    urgency: str | None = None
    assignee_id: int | None = None
    overdue: bool = False

    def as_args(self) -> dict:
        """The query arguments that keep these filters (for the pager and the links)."""
        args = {'status': self.status, 'category': self.category_id, 'building': self.building_id,
                'urgency': self.urgency, 'technician': self.assignee_id, 'overdue': 1 if self.overdue else None}
        return {k: v for k, v in args.items() if v is not None}


def overdue_condition(now: datetime):
    """SQL: the order is past a deadline — not responded to (still 待派单) by ``respond_by``, or not completed by
    ``resolve_by``."""
    return sa.or_(
        sa.and_(WorkOrder.status == 'submitted', WorkOrder.respond_by < now),
        sa.and_(WorkOrder.status.in_(OPEN_STATUSES), WorkOrder.resolve_by < now),
    )


def is_overdue(order: WorkOrder, now: datetime) -> bool:
    if order.status == 'submitted' and order.respond_by is not None and order.respond_by < now:
        return True
    return order.status in OPEN_STATUSES and order.resolve_by is not None and order.resolve_by < now


def _with_places(query):
    return query.options(joinedload(WorkOrder.category), joinedload(WorkOrder.building),
                         joinedload(WorkOrder.room).joinedload(Room.building),
                         joinedload(WorkOrder.room).joinedload(Room.unit))


def board_query(filters: BoardFilters, now: datetime | None = None):
    """The board's orders: open ones and those waiting for the resident's confirmation, urgent and oldest first."""
    now = now or clock.now_utc()
    statuses = (filters.status,) if filters.status in BOARD_STATUSES else BOARD_STATUSES
    query = sa.select(WorkOrder).where(WorkOrder.status.in_(statuses))
    if filters.category_id:
        query = query.where(WorkOrder.category_id == filters.category_id)
    if filters.building_id:
        query = query.where(WorkOrder.building_id == filters.building_id)
    if filters.urgency in ('normal', 'urgent'):
        query = query.where(WorkOrder.urgency == filters.urgency)
    if filters.assignee_id:
        query = query.where(WorkOrder.assignee_id == filters.assignee_id)
    if filters.overdue:
        query = query.where(overdue_condition(now))
    return _with_places(query).order_by(URGENCY_ORDER, WorkOrder.created_at, WorkOrder.id)


@prepared
def _status_counts():
    overdue = sa.case((overdue_condition(sa.bindparam('now')), 1), else_=0)
    escalated = sa.case((sa.and_(WorkOrder.escalated_at.is_not(None), WorkOrder.status.in_(OPEN_STATUSES)), 1),
                        else_=0)
    return (sa.select(WorkOrder.status, sa.func.count(), sa.func.sum(overdue), sa.func.sum(escalated))
            .where(WorkOrder.status.in_(BOARD_STATUSES)).group_by(WorkOrder.status))


def status_counts(now: datetime | None = None) -> dict[str, int]:
    """How many orders wait in each column, plus 'overdue' (past a deadline) and 'escalated' (flagged by the sweep
    and still open): one statement."""
    rows = db.session.execute(_status_counts(), {'now': now or clock.now_utc()}).all()
    counts = dict.fromkeys(BOARD_STATUSES, 0) | {'overdue': 0, 'escalated': 0}
    for status, count, late, flagged in rows:
        counts[status] = count
        counts['overdue'] += int(late or 0)
        counts['escalated'] += int(flagged or 0)
    return counts


def users_by_id(ids) -> dict[int, User]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {u.id: u for u in db.session.execute(sa.select(User).where(User.id.in_(ids))).scalars()}


def technicians() -> list[User]:
    """Active staff who can take orders (the technician duty; admins are not listed but may be dispatched to by
    rules), by name."""
    users = db.session.execute(sa.select(User).where(User.role == 'staff', User.active.is_(True))
                               .order_by(User.name, User.id)).scalars()
    return [u for u in users if 'technician' in (u.duties or [])]


def my_orders_query(user_id: int):
    """The technician's orders: 维修中 then 已派单, urgent first, earliest deadline first; then those waiting for the
    resident's confirmation."""
    rank = sa.case((WorkOrder.status == 'in_progress', 0), (WorkOrder.status == 'assigned', 1), else_=2)
    return _with_places(sa.select(WorkOrder).where(
        WorkOrder.assignee_id == user_id, WorkOrder.status.in_(('assigned', 'in_progress', 'completed')))
    ).order_by(rank, URGENCY_ORDER, WorkOrder.resolve_by, WorkOrder.id)


def new_for_technician(user) -> int:
    """The badge on the technician's '我的工单': orders assigned to them and not started yet."""
    if not getattr(user, 'is_authenticated', False) or getattr(user, 'role', None) != 'staff' \
            or 'technician' not in (user.duties or []):
        return 0
    return db.session.execute(sa.select(sa.func.count()).select_from(WorkOrder).where(
        WorkOrder.assignee_id == user.id, WorkOrder.status == 'assigned')).scalar_one()


def escalated_badge(user) -> int:
    """The badge on '报修工单' for admins: open orders the sweep flagged overdue (超时工单)."""
    if not getattr(user, 'is_authenticated', False) or getattr(user, 'role', None) != 'admin':
        return 0
    return db.session.execute(sa.select(sa.func.count()).select_from(WorkOrder).where(
        WorkOrder.escalated_at.is_not(None), WorkOrder.status.in_(OPEN_STATUSES))).scalar_one()


def order_for_detail(order_id: int) -> WorkOrder:
    """One order of the project with its places, photos and history loaded (another project's is 404)."""
    from flask import abort

    order = db.session.execute(_with_places(sa.select(WorkOrder).where(WorkOrder.id == order_id))
                               .options(selectinload(WorkOrder.photos), selectinload(WorkOrder.events))
                               ).unique().scalar_one_or_none()
    if order is None:
        abort(404)
    return order


def people_of(order: WorkOrder) -> dict[int, User]:
    """The users named by the order and its history (assignee, reporter's typist, each event's actor)."""
    ids = {order.assignee_id, order.created_by_id}
    for event in order.events:
        ids.add(event.by_user_id)
        if isinstance(event.data, dict) and isinstance(event.data.get('assignee_id'), int):
            ids.add(event.data['assignee_id'])
    return users_by_id(ids)


def return_visit_of(order_id: int) -> ReturnVisit | None:
    return db.session.execute(sa.select(ReturnVisit).where(ReturnVisit.order_id == order_id)).scalar_one_or_none()


def return_visits_query():
    """The return-visit list: open ones first (oldest first), then visited ones (latest first)."""
    return (sa.select(ReturnVisit)
            .options(joinedload(ReturnVisit.order).joinedload(WorkOrder.category),
                     joinedload(ReturnVisit.order).joinedload(WorkOrder.room).joinedload(Room.building),
                     joinedload(ReturnVisit.order).joinedload(WorkOrder.room).joinedload(Room.unit))
            .order_by(ReturnVisit.visited_at.is_not(None), ReturnVisit.created_at, ReturnVisit.id))
