"""Inspections and the equipment ledger (巡检与台账).

- A **device** (设备) is one entry of the project's equipment ledger: a lift, a fire pump, a generator ... with where
  it is, who made and maintains it, its warranty and status. Its **certificates** (the lift's 定期检验合格证 ...)
  carry an expiry date; staff are reminded before one lapses.
- An **inspection plan** (巡检计划) says what is checked how often (``frequency``, see inspections.schedule), with
  a checklist of items (pass/fail, a reading with an allowed range, a note), the devices it covers (one task per
  device and period) or none (a round of places: one task per period), and who does it (a duty, or one person).
- An **inspection task** (巡检任务) is one plan's round for one period and device: generated ahead by the scheduled
  job, idempotently (unique per plan, device and period start).
"""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models_base import UTCDateTime, utcnow
from ..property.models import Building
from ..tenancy.scoping import TenantScoped

DEVICE_CATEGORIES = ('lift', 'fire_pump', 'fire_facility', 'water_pump', 'water_tank', 'generator', 'switchgear',
                     'cctv', 'gate', 'other')
DEVICE_CATEGORY_NAMES = {
    'lift': _l('电梯'), 'fire_pump': _l('消防水泵'), 'fire_facility': _l('消防设施'), 'water_pump': _l('生活水泵'),
    'water_tank': _l('二次供水水箱'), 'generator': _l('发电机'), 'switchgear': _l('配电设备'), 'cctv': _l('监控'),
    'gate': _l('门禁道闸'), 'other': _l('其他'),
}
DEVICE_STATUSES = ('in_service', 'faulty', 'under_repair', 'retired')
DEVICE_STATUS_NAMES = {'in_service': _l('正常'), 'faulty': _l('故障'), 'under_repair': _l('维修中'),
                       'retired': _l('已报废')}

#: what a plan of the delivery template looks at (tenancy.delivery.INSPECTION_TARGETS) -> the device categories it
#: covers; a target with none is a round of places (the pump room, a patrol): one task per period
TARGET_DEVICES = {
    'lift': ('lift',),
    'water_tank': ('water_tank',),
    'generator': ('generator',),
    'fire': (),
    'fire_control_room': (),
    'pump_room': (),
    'switch_room': (),
    'patrol': (),
    'other': (),
}
TARGET_NAMES = {'lift': _l('电梯'), 'fire': _l('消防设施'), 'fire_control_room': _l('消防控制室'),
                'water_tank': _l('二次供水水箱'), 'pump_room': _l('水泵房'), 'switch_room': _l('配电房'),
                'generator': _l('发电机'), 'patrol': _l('安防巡逻'), 'other': _l('其他')}
TASK_STATUSES = ('open', 'done', 'missed')
TASK_STATUS_NAMES = {'open': _l('待执行'), 'done': _l('已完成'), 'missed': _l('已漏检')}
ITEM_KINDS = ('check', 'reading', 'note')


class Device(TenantScoped, db.Model):
    """设备台账: one device of the project."""

    __tablename__ = 'devices'
    __table_args__ = (
        sa.UniqueConstraint('tenant_id', 'code'),
        sa.CheckConstraint("category in ('lift', 'fire_pump', 'fire_facility', 'water_pump', 'water_tank', "
                           "'generator', 'switchgear', 'cctv', 'gate', 'other')", name='category'),
        sa.CheckConstraint("status in ('in_service', 'faulty', 'under_repair', 'retired')", name='status'),
        sa.Index('ix_devices_category', 'tenant_id', 'category', 'status'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the project's own number, printed on the label: 'DT-01', '1栋-消防泵-2'
    code: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(60))
    category: Mapped[str] = mapped_column(sa.String(20))
    building_id: Mapped[int | None] = mapped_column(sa.ForeignKey('buildings.id'), index=True)
    #: where in (or outside) the building: '1单元 东侧', '地下一层水泵房'
    location: Mapped[str | None] = mapped_column(sa.String(100))
    model: Mapped[str | None] = mapped_column(sa.String(60))
    vendor: Mapped[str | None] = mapped_column(sa.String(60))
    serial_number: Mapped[str | None] = mapped_column(sa.String(60))
    installed_on: Mapped[date | None]
    warranty_until: Mapped[date | None]
    #: the maintenance contractor (维保单位) and its phone
    contractor: Mapped[str | None] = mapped_column(sa.String(100))
    contractor_phone: Mapped[str | None] = mapped_column(sa.String(30))
    status: Mapped[str] = mapped_column(sa.String(16), default='in_service')
    note: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    building: Mapped[Building | None] = relationship()
    certificates: Mapped[list[DeviceCertificate]] = relationship(
        back_populates='device', order_by='DeviceCertificate.expires_on', cascade='all, delete-orphan')


class DeviceCertificate(TenantScoped, db.Model):
    """A certificate a device must hold (电梯定期检验合格证, 压力容器检验报告 ...) with its expiry; staff are reminded
    ``remind_days`` before it lapses (once: ``reminded_at``)."""

    __tablename__ = 'device_certificates'
    __table_args__ = (sa.Index('ix_device_certificates_expiry', 'tenant_id', 'expires_on'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(sa.ForeignKey('devices.id', ondelete='CASCADE'), index=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    number: Mapped[str | None] = mapped_column(sa.String(60))
    issued_on: Mapped[date | None]
    expires_on: Mapped[date]
    remind_days: Mapped[int] = mapped_column(default=30)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    device: Mapped[Device] = relationship(back_populates='certificates')


class InspectionPlan(TenantScoped, db.Model):
    """巡检计划. ``frequency`` (inspections.schedule.Frequency as JSON): daily n times, weekly on chosen days,
    monthly on a day every n months, or every n days from ``starts_on``. ``checklist``: [{"label", "kind": check |
    reading | note, "unit", "min", "max"}] (a reading's range as decimal strings)."""

    __tablename__ = 'inspection_plans'
    __table_args__ = (sa.UniqueConstraint('tenant_id', 'code'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(60))
    target: Mapped[str] = mapped_column(sa.String(20))
    frequency: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    #: the first day the plan runs (every-n-days plans count from it)
    starts_on: Mapped[date]
    checklist: Mapped[list] = mapped_column(sa.JSON, default=list)
    #: a round of places without devices: the check points in order ('1号岗', '地下车库B区' ...)
    points: Mapped[list] = mapped_column(sa.JSON, default=list)
    #: who does it: anyone with the duty, or (when set) one person
    duty: Mapped[str | None] = mapped_column(sa.String(40))
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    photos_required: Mapped[int] = mapped_column(default=0)
    duration_minutes: Mapped[int | None]
    #: records are kept at least this many years (lifts: 4)
    retention_years: Mapped[int | None]
    #: the rule or practice the frequency comes from
    basis: Mapped[str | None] = mapped_column(sa.String(200))
    note: Mapped[str | None] = mapped_column(sa.String(200))
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    devices: Mapped[list[Device]] = relationship(secondary='inspection_plan_devices', order_by='Device.code')


class InspectionPlanDevice(TenantScoped, db.Model):
    """The devices a plan covers (chosen by the admin; none chosen: every device of the target's categories)."""

    __tablename__ = 'inspection_plan_devices'
    __table_args__ = (sa.UniqueConstraint('tenant_id', 'plan_id', 'device_id'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey('inspection_plans.id', ondelete='CASCADE'), index=True)
    device_id: Mapped[int] = mapped_column(sa.ForeignKey('devices.id', ondelete='CASCADE'), index=True)


class InspectionTask(TenantScoped, db.Model):
    """巡检任务: one plan's round for one period (``period_start`` to ``due_at``) and device (or none)."""

    __tablename__ = 'inspection_tasks'
    __table_args__ = (
        # target_key is the device id, or 0 for a round of places: a unique key NULL can't break
        sa.UniqueConstraint('tenant_id', 'plan_id', 'target_key', 'period_start'),
        sa.CheckConstraint("status in ('open', 'done', 'missed')", name='status'),
        sa.Index('ix_inspection_tasks_due', 'tenant_id', 'status', 'due_at'),
        sa.Index('ix_inspection_tasks_device', 'tenant_id', 'device_id', 'period_start'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey('inspection_plans.id', ondelete='CASCADE'))
    device_id: Mapped[int | None] = mapped_column(sa.ForeignKey('devices.id', ondelete='CASCADE'))
    target_key: Mapped[int] = mapped_column(default=0)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(sa.String(10), default='open')
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    #: per checklist item: [{"ok": bool, "value": "1.25", "note": "..."}]
    results: Mapped[list] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    plan: Mapped[InspectionPlan] = relationship()
    device: Mapped[Device | None] = relationship()
    photos: Mapped[list[InspectionPhoto]] = relationship(back_populates='task', order_by='InspectionPhoto.id')


class InspectionPhoto(TenantScoped, db.Model):
    """A photo taken during a task (the plan may require some): re-encoded, EXIF gone, with a thumbnail, like a
    repair photo (repairs.photos.store_photo); seen by the project's staff only."""

    __tablename__ = 'inspection_photos'

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(sa.ForeignKey('inspection_tasks.id', ondelete='CASCADE'), index=True)
    key: Mapped[str] = mapped_column(sa.String(200))
    thumb_key: Mapped[str] = mapped_column(sa.String(200))
    width: Mapped[int]
    height: Mapped[int]
    size: Mapped[int]
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    task: Mapped[InspectionTask] = relationship(back_populates='photos')


class MaintenanceRecord(TenantScoped, db.Model):
    """维保记录: a maintenance visit to a device — when, by which contractor, what was done, the parts replaced
    ([{"name", "quantity", "cost_fen", "spare_part_id"}], those from the stock taken out of it) and when the next
    one is due."""

    __tablename__ = 'maintenance_records'
    __table_args__ = (sa.Index('ix_maintenance_records_device', 'tenant_id', 'device_id', 'done_on'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(sa.ForeignKey('devices.id', ondelete='CASCADE'))
    done_on: Mapped[date]
    contractor: Mapped[str | None] = mapped_column(sa.String(100))
    work_done: Mapped[str] = mapped_column(sa.Text)
    parts: Mapped[list] = mapped_column(sa.JSON, default=list)
    next_due_on: Mapped[date | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    device: Mapped[Device] = relationship()

    @property
    def parts_cost_fen(self) -> int:
        return sum(int(part.get('cost_fen') or 0) for part in self.parts or [])


class SparePart(TenantScoped, db.Model):
    """A spare part kept in stock (备品备件): taken out by maintenance records and by work orders that name it; a
    stock at or below ``min_stock`` is low (the admins are told when it falls there)."""

    __tablename__ = 'spare_parts'
    __table_args__ = (sa.UniqueConstraint('tenant_id', 'name'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: as technicians write it on a work order: a work order's part of exactly this name takes from the stock
    name: Mapped[str] = mapped_column(sa.String(60))
    unit: Mapped[str] = mapped_column(sa.String(10), default='个')
    #: may fall below 0 when a work order used more than was recorded: a count is due then
    stock: Mapped[int] = mapped_column(default=0)
    min_stock: Mapped[int] = mapped_column(default=0)
    note: Mapped[str | None] = mapped_column(sa.String(200))
    #: when the admins were told it is low (cleared when the stock rises above min_stock again)
    low_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def low(self) -> bool:
        return self.stock <= self.min_stock


class SparePartMovement(TenantScoped, db.Model):
    """One change of a part's stock: received (+), used by a maintenance record or a work order (−), or a count
    (盘点, the difference). The stock's history."""

    __tablename__ = 'spare_part_movements'
    __table_args__ = (
        sa.CheckConstraint("reason in ('received', 'maintenance', 'work_order', 'count')", name='reason'),
        sa.Index('ix_spare_part_movements_part', 'tenant_id', 'part_id', 'id'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    part_id: Mapped[int] = mapped_column(sa.ForeignKey('spare_parts.id', ondelete='CASCADE'))
    change: Mapped[int]
    reason: Mapped[str] = mapped_column(sa.String(12))
    maintenance_record_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey('maintenance_records.id', ondelete='SET NULL'), index=True)
    work_order_id: Mapped[int | None] = mapped_column(sa.ForeignKey('work_orders.id', ondelete='SET NULL'),
                                                      index=True)
    note: Mapped[str | None] = mapped_column(sa.String(200))
    by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
