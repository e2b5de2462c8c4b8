"""Repair work orders (报修工单): from the resident's phone (or the service desk's phone line) to the technician and
back. An order has a number per project (BX-20261125-0007), a category from the delivery template, a room or a
public area, an urgency with its deadlines, photos, and a history of every transition (who, when, from, to, why).

States: submitted → assigned → in_progress → completed → confirmed; completed → assigned when the resident reopens
it (with a reason); submitted → cancelled (the resident, before assignment) and any open state → cancelled (staff,
with a reason). Nothing is deleted: the events are the order's history.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models_base import UTCDateTime, utcnow
from ..property.models import Building, Room
from ..tenancy.scoping import TenantScoped

STATUSES = ('submitted', 'assigned', 'in_progress', 'completed', 'confirmed', 'cancelled')
STATUS_NAMES = {'submitted': _l('待派单'), 'assigned': _l('已派单'), 'in_progress': _l('维修中'),
                'completed': _l('待确认'), 'confirmed': _l('已完成'), 'cancelled': _l('已取消')}
OPEN_STATUSES = ('submitted', 'assigned', 'in_progress')
CHANNELS = ('portal', 'phone', 'walk_in', 'inspection', 'staff')
CHANNEL_NAMES = {'portal': _l('住户线上报修'), 'phone': _l('电话报修'), 'walk_in': _l('到访报修'),
                 'inspection': _l('巡检发现'), 'staff': _l('员工上报')}
URGENCIES = ('normal', 'urgent')
URGENCY_NAMES = {'normal': _l('普通'), 'urgent': _l('加急')}
AREAS = ('home', 'public', 'both')
PHOTO_KINDS = ('report', 'after')


class RepairCategory(TenantScoped, db.Model):
    """报修分类 (水电, 门窗, 电梯 ...), seeded from the delivery template's repairs.toml; ``area`` says whether it is
    reported for a home, a public area, or both."""

    __tablename__ = 'repair_categories'
    __table_args__ = (
        sa.UniqueConstraint('tenant_id', 'code'),
        sa.CheckConstraint("area in ('home', 'public', 'both')", name='area'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(40))
    area: Mapped[str] = mapped_column(sa.String(10), default='both')
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)


class DispatchGroup(TenantScoped, db.Model):
    """A duty group (维修班组, 电梯组): orders dispatched to it go to its members in turn (round-robin)."""

    __tablename__ = 'dispatch_groups'
    __table_args__ = (sa.UniqueConstraint('tenant_id', 'name'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(40))
    #: user ids, in turn order
    member_ids: Mapped[list] = mapped_column(sa.JSON, default=list)
    #: the member who got the last order (the next one goes to the member after them)
    last_assigned_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    active: Mapped[bool] = mapped_column(default=True)


class DispatchRule(TenantScoped, db.Model):
    """自动派单: orders of a category (and, optionally, of one building) go to a technician or a duty group. The
    most specific rule wins (category + building over category alone)."""

    __tablename__ = 'dispatch_rules'
    __table_args__ = (
        sa.CheckConstraint('(assignee_id IS NULL) <> (group_id IS NULL)', name='one_target'),
        sa.Index('ix_dispatch_rules_category', 'tenant_id', 'category_id', 'building_id'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(sa.ForeignKey('repair_categories.id'))
    #: None: every building (and public areas)
    building_id: Mapped[int | None] = mapped_column(sa.ForeignKey('buildings.id'))
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='CASCADE'))
    group_id: Mapped[int | None] = mapped_column(sa.ForeignKey('dispatch_groups.id', ondelete='CASCADE'))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkOrder(TenantScoped, db.Model):
    """报修工单."""

    __tablename__ = 'work_orders'
    __table_args__ = (
        sa.UniqueConstraint('tenant_id', 'number'),
        sa.CheckConstraint("status in ('submitted', 'assigned', 'in_progress', 'completed', 'confirmed', "
                           "'cancelled')", name='status'),
        sa.CheckConstraint("channel in ('portal', 'phone', 'walk_in', 'inspection', 'staff')", name='channel'),
        sa.CheckConstraint("urgency in ('normal', 'urgent')", name='urgency'),
        sa.CheckConstraint('rating IS NULL OR (rating >= 1 AND rating <= 5)', name='rating'),
        sa.CheckConstraint('(room_id IS NULL) <> (public_area IS NULL)', name='room_or_public_area'),
        sa.Index('ix_work_orders_status', 'tenant_id', 'status', 'created_at'),
        sa.Index('ix_work_orders_assignee', 'tenant_id', 'assignee_id', 'status'),
        sa.Index('ix_work_orders_room', 'tenant_id', 'room_id', 'category_id', 'created_at'),
        sa.Index('ix_work_orders_created', 'tenant_id', 'created_at'),
        # an inspection task opens at most one order (its failed items together)
        sa.UniqueConstraint('tenant_id', 'inspection_task_id'),
        sa.Index('ix_work_orders_device', 'tenant_id', 'device_id', 'created_at'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: 'BX-20261125-0007': the local date of submission and a sequence per project and day
    number: Mapped[str] = mapped_column(sa.String(30))
    category_id: Mapped[int] = mapped_column(sa.ForeignKey('repair_categories.id'))
    #: a room (户内), or a public area described in words ('3栋大堂', '地下车库B区') — exactly one of them
    room_id: Mapped[int | None] = mapped_column(sa.ForeignKey('rooms.id'))
    public_area: Mapped[str | None] = mapped_column(sa.String(100))
    #: the building it happened in (the room's, or chosen for a public area): dispatch rules and statistics
    building_id: Mapped[int | None] = mapped_column(sa.ForeignKey('buildings.id'), index=True)
    description: Mapped[str] = mapped_column(sa.Text)
    urgency: Mapped[str] = mapped_column(sa.String(10), default='normal')
    #: when the resident would like the visit ('工作日晚上 7 点后'), as they typed it
    preferred_time: Mapped[str | None] = mapped_column(sa.String(100))
    channel: Mapped[str] = mapped_column(sa.String(12), default='portal')
    status: Mapped[str] = mapped_column(sa.String(12), default='submitted')
    #: who it is for (a resident of the room, or the resident who called) and who typed it
    reporter_resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey('residents.id'), index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    contact_name: Mapped[str | None] = mapped_column(sa.String(60))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(30))
    #: the technician, and the duty group it was dispatched through (if any)
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    group_id: Mapped[int | None] = mapped_column(sa.ForeignKey('dispatch_groups.id', ondelete='SET NULL'))
    #: deadlines from the urgency (delivery template response_times): first response (on site / started), resolved
    respond_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolve_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: set when a deadline passed and the admin was told (once per order and deadline)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the technician's report: what was done, parts used [{"name", "quantity", "cost_fen"}]
    completion_note: Mapped[str | None] = mapped_column(sa.Text)
    parts: Mapped[list] = mapped_column(sa.JSON, default=list)
    reopen_count: Mapped[int] = mapped_column(default=0)
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(200))
    #: the resident's rating (1-5) when confirming; True when the order was confirmed by the clock, not the resident
    rating: Mapped[int | None]
    rating_comment: Mapped[str | None] = mapped_column(sa.String(500))
    auto_confirmed: Mapped[bool] = mapped_column(default=False)
    #: found by an inspection (channel 'inspection'): the task and the device it failed on
    inspection_task_id: Mapped[int | None] = mapped_column(sa.ForeignKey('inspection_tasks.id', ondelete='SET NULL'))
    device_id: Mapped[int | None] = mapped_column(sa.ForeignKey('devices.id', ondelete='SET NULL'))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    category: Mapped[RepairCategory] = relationship()
    room: Mapped[Room | None] = relationship()
    building: Mapped[Building | None] = relationship()
    photos: Mapped[list[WorkOrderPhoto]] = relationship(back_populates='order', order_by='WorkOrderPhoto.id')
    events: Mapped[list[WorkOrderEvent]] = relationship(back_populates='order', order_by='WorkOrderEvent.id')


class WorkOrderEvent(TenantScoped, db.Model):
    """One step of an order's history: a transition (from → to), or a note on it (assigned to whom, reopened why)."""

    __tablename__ = 'work_order_events'

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey('work_orders.id'), index=True)
    action: Mapped[str] = mapped_column(sa.String(20))
    from_status: Mapped[str | None] = mapped_column(sa.String(12))
    to_status: Mapped[str | None] = mapped_column(sa.String(12))
    #: None: the clock (auto-confirmation, escalation)
    by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    #: e.g. the assignee's id, the rating
    data: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    order: Mapped[WorkOrder] = relationship(back_populates='events')


class WorkOrderPhoto(TenantScoped, db.Model):
    """A photo of the problem (kind 'report', at most 6) or of the work done ('after'): re-encoded, EXIF gone,
    with a thumbnail; served only to the project's staff and the reporting household."""

    __tablename__ = 'work_order_photos'
    __table_args__ = (sa.CheckConstraint("kind in ('report', 'after')", name='kind'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey('work_orders.id'), index=True)
    kind: Mapped[str] = mapped_column(sa.String(10), default='report')
    #: storage keys of the re-encoded image and its thumbnail
    key: Mapped[str] = mapped_column(sa.String(200))
    thumb_key: Mapped[str] = mapped_column(sa.String(200))
    content_type: Mapped[str] = mapped_column(sa.String(30))
    width: Mapped[int]
    height: Mapped[int]
    size: Mapped[int]
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    order: Mapped[WorkOrder] = relationship(back_populates='photos')


class ReturnVisit(TenantScoped, db.Model):
    """回访: an order rated 2 or less (or chosen by the desk) waits on the return-visit list until the desk records
    the visit's outcome."""

    __tablename__ = 'return_visits'
    __table_args__ = (sa.UniqueConstraint('tenant_id', 'order_id'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey('work_orders.id'))
    reason: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    visited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    visited_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    outcome: Mapped[str | None] = mapped_column(sa.String(500))
    #: did the visit leave the resident satisfied (None until visited)
    resolved: Mapped[bool | None]

    order: Mapped[WorkOrder] = relationship()
