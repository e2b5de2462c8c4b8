"""Telling the resident about their repair (报修通知) at each step, through the notification center.

    db.session.commit()
    notify.tell(order, event)     # after the commit: a message never goes out for a rolled-back step

The reporter is told (else the residents living in the order's room; a public-area order nobody reported for tells
nobody). The message's source key is ``workorder:<id>:<action>:<event id>``: a step is told once however often this
is called, and a reopened order's second completion is told again. A project provisioned before a template existed
is logged and skipped; a failed message never undoes the step. ``tell`` commits (``notify`` does).
"""
from __future__ import annotations

import logging

import sqlalchemy as sa

from ..auth.models import User
from ..errors import DomainError
from ..extensions import db
from ..residents.models import Occupancy
from .models import WorkOrder, WorkOrderEvent

log = logging.getLogger(__name__)

#: event action -> message template (tenants/*/notices.toml [[messages]])
TEMPLATES = {
    'submitted': 'repair_accepted',
    'assigned': 'repair_assigned',
    'reassigned': 'repair_assigned',
    'completed': 'repair_completed',
    'cancelled': 'repair_cancelled',
    'auto_confirmed': 'repair_auto_confirmed',
}


def recipients(order: WorkOrder) -> list[int]:
    """Resident ids to tell: the reporter, else the room's current residents."""
    if order.reporter_resident_id is not None:
        return [order.reporter_resident_id]
    if order.room_id is None:
        return []
    return list(db.session.execute(sa.select(Occupancy.resident_id).where(
        Occupancy.room_id == order.room_id, Occupancy.moved_out_on.is_(None)).distinct()).scalars())


def place(order: WorkOrder) -> str:
    if order.room is not None:
        return order.room.label
    building = order.building.name if order.building is not None else ''
    return f'{building}{order.public_area or ""}'


def context(order: WorkOrder, event: WorkOrderEvent) -> dict:
    values = {'order_no': order.number, 'room': place(order), 'category': order.category.name,
              'reason': order.cancel_reason or event.note or ''}
    if event.action in ('assigned', 'reassigned'):
        technician = db.session.get(User, order.assignee_id) if order.assignee_id else None
        values['technician'] = technician.name if technician is not None else ''
        values['phone'] = (technician.mobile or '') if technician is not None else ''
    return values


def tell(order: WorkOrder, event: WorkOrderEvent | None) -> int:
    """Message the household about ``event`` (a committed step of ``order``); the number of new messages."""
    from ..notices.templates import notify

    template = TEMPLATES.get(event.action) if event is not None else None
    if template is None:
        return 0
    people = recipients(order)
    if not people:
        return 0
    try:
        result = notify(people, template, context(order, event),
                        source_key=f'workorder:{order.id}:{event.action}:{event.id}', link=f'/my/repairs/{order.id}')
    except DomainError as exc:  # e.g. a project provisioned before the template existed
        db.session.rollback()
        log.warning('repair message %s for order %s not sent: %s', template, order.id, exc.message)
        return 0
    return result.messages


def last_event_id(order: WorkOrder) -> int:
    """The id of the order's newest event (0 for none): take it before a step, pass it to ``tell_since`` after."""
    return db.session.execute(sa.select(sa.func.max(WorkOrderEvent.id)).where(
        WorkOrderEvent.order_id == order.id)).scalar() or 0


def tell_since(order: WorkOrder, event_id: int = 0) -> int:
    """After the commit: tell the household about every step of ``order`` newer than ``event_id`` (e.g. submitted
    and auto-assigned in one request)."""
    events = db.session.execute(sa.select(WorkOrderEvent).where(
        WorkOrderEvent.order_id == order.id, WorkOrderEvent.id > event_id).order_by(WorkOrderEvent.id)).scalars().all()
    return sum(tell(order, event) for event in events)
