"""Telling people about a repair through the notification center: the resident at each step (报修通知), the
technician when an order is assigned to them (新工单), the admins when the sweep escalates an overdue order (超时提醒).

    db.session.commit()
    notify.tell(order, event)     # after the commit: a message never goes out for a rolled-back step

The reporter is told (else the residents living in the order's room; a public-area order nobody reported for tells
no resident). Staff get the message in their inbox ('消息') and, as the template says, by SMS or e-mail to their
account's mobile and address. The message's source key is ``workorder:<id>:<action>:<event id>``: a step is told
once however often this is called, and a reopened order's second completion is told again. A project provisioned
before a template existed is logged and skipped (``flask notices add-templates`` adds it); a failed message never
undoes the step. ``tell`` commits (``notify`` does).
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..auth.models import User
from ..errors import DomainError
from ..extensions import db
from ..notices.targeting import admin_ids
from ..residents.models import Occupancy
from ..tenancy.clock import local_datetime
from ..tenancy.models import Tenant
from .models import URGENCY_NAMES, WorkOrder, WorkOrderEvent

log = logging.getLogger(__name__)

#: event action -> message template for the household (tenants/*/notices.toml [[messages]])
TEMPLATES = {
    'submitted': 'repair_accepted',
    'assigned': 'repair_assigned',
    'reassigned': 'repair_assigned',
    'completed': 'repair_completed',
    'cancelled': 'repair_cancelled',
    'auto_confirmed': 'repair_auto_confirmed',
}
#: event action -> message template for staff: the new assignee, or the admins
STAFF_TEMPLATES = {
    'assigned': 'repair_dispatched',
    'reassigned': 'repair_dispatched',
    'overdue': 'repair_escalated',
}
OVERDUE_NAMES = {'respond': _l('超过响应时限仍未派单'), 'resolve': _l('超过完成时限仍未完工')}


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


def staff_recipients(order: WorkOrder, event: WorkOrderEvent) -> list[int]:
    """User ids to tell about ``event``: the assignee it names (assigned), or every active admin (overdue)."""
    if event.action == 'overdue':
        return admin_ids()
    assignee_id = (event.data or {}).get('assignee_id') or order.assignee_id
    return [assignee_id] if assignee_id else []


def staff_context(order: WorkOrder, event: WorkOrderEvent) -> dict:
    tenant = db.session.get(Tenant, order.tenant_id)
    technician = db.session.get(User, order.assignee_id) if order.assignee_id else None
    return {'order_no': order.number, 'room': place(order), 'category': order.category.name,
            'urgency': str(URGENCY_NAMES.get(order.urgency, order.urgency)), 'description': order.description or '',
            'resolve_by': local_datetime(order.resolve_by, tenant),
            'overdue': str(OVERDUE_NAMES.get((event.data or {}).get('deadline'), _l('已超时'))),
            'technician': technician.name if technician is not None else str(_l('未派单'))}


def tell(order: WorkOrder, event: WorkOrderEvent | None) -> int:
    """Message the household, and the staff concerned, about ``event`` (a committed step of ``order``); the number
    of new messages."""
    if event is None:
        return 0
    return _send(order, event, TEMPLATES.get(event.action), recipients, context, staff=False) + \
        _send(order, event, STAFF_TEMPLATES.get(event.action), staff_recipients, staff_context, staff=True)


def _send(order, event, template, who, values, *, staff: bool) -> int:
    from ..notices.templates import notify, notify_staff

    if template is None:
        return 0
    people = who(order, event) if staff else who(order)
    if not people:
        return 0
    source_key = f'workorder:{order.id}:{event.action}:{event.id}'
    try:
        if staff:
            # an urgent order reaches its technician (and the admins) at any hour, by every channel they have
            result = notify_staff(people, template, values(order, event), source_key=source_key,
                                  link=f'/repairs/{order.id}', urgency=order.urgency)
        else:
            result = notify(people, template, values(order, event), source_key=source_key,
                            link=f'/my/repairs/{order.id}')
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
