"""The property structure of one project: buildings (楼栋) → units (单元) → rooms (房号), and parking spaces (车位)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models_base import UTCDateTime, utcnow
from ..tenancy.scoping import TenantScoped

ROOM_TYPES = ('residence', 'shop', 'office', 'storage')
ROOM_STATUSES = ('occupied', 'vacant', 'renovating')
SPACE_KINDS = ('owned', 'rented', 'temporary')


class Building(TenantScoped, db.Model):
    __tablename__ = 'buildings'
    __table_args__ = (sa.UniqueConstraint('tenant_id', 'name'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: as people say it: '1栋', '3号楼', 'A座'
    name: Mapped[str] = mapped_column(sa.String(40))
    #: with lifts: the fee rules and the lift inspection plans depend on it
    has_lift: Mapped[bool] = mapped_column(default=True)
    floors: Mapped[int | None]
    sort_order: Mapped[int] = mapped_column(default=0)
    note: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    units: Mapped[list[Unit]] = relationship(back_populates='building', order_by='Unit.sort_order, Unit.name')


class Unit(TenantScoped, db.Model):
    __tablename__ = 'units'
    __table_args__ = (sa.UniqueConstraint('tenant_id', 'building_id', 'name'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(sa.ForeignKey('buildings.id', ondelete='CASCADE'), index=True)
    #: '1单元'; office buildings without units have none
    name: Mapped[str] = mapped_column(sa.String(40))
    sort_order: Mapped[int] = mapped_column(default=0)

    building: Mapped[Building] = relationship(back_populates='units')


class Room(TenantScoped, db.Model):
    """A room (房号). Never deleted: merging or renaming keeps the row and records a RoomEvent."""

    __tablename__ = 'rooms'
    __table_args__ = (
        # 'code' is the canonical address '1-2-1201' (building-unit-number), what search and import match on.
        sa.UniqueConstraint('tenant_id', 'code'),
        sa.CheckConstraint("type in ('residence', 'shop', 'office', 'storage')", name='type'),
        sa.CheckConstraint("status in ('occupied', 'vacant', 'renovating')", name='status'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(sa.ForeignKey('buildings.id'), index=True)
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey('units.id'), index=True)
    #: as on the door: '1201', '301'
    number: Mapped[str] = mapped_column(sa.String(20))
    code: Mapped[str] = mapped_column(sa.String(80))
    floor: Mapped[int | None]
    #: 建筑面积 in m², two decimals, as printed on the property certificate
    area_m2: Mapped[Decimal | None] = mapped_column(sa.Numeric(8, 2))
    type: Mapped[str] = mapped_column(sa.String(16), default='residence')
    status: Mapped[str] = mapped_column(sa.String(16), default='vacant')
    tags: Mapped[list] = mapped_column(sa.JSON, default=list)
    #: fees start the day after handover (developer pays before); None = not yet handed over
    billing_starts_on: Mapped[date | None]
    #: set when this room was merged into another; the row stays for its history
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey('rooms.id'))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    building: Mapped[Building] = relationship()
    unit: Mapped[Unit | None] = relationship()

    @property
    def label(self) -> str:
        """'1栋2单元1201' — how a property manager writes it."""
        parts = [self.building.name, self.unit.name if self.unit else '', self.number]
        return ''.join(parts)


class RoomEvent(TenantScoped, db.Model):
    """What happened to a room: created, renamed, merged, status changed — never rewritten."""

    __tablename__ = 'room_events'
    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(sa.ForeignKey('rooms.id'), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    #: e.g. {"from": "1-1-101", "to": "1-1-101A"} or {"into": 42}
    detail: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ParkingSpace(TenantScoped, db.Model):
    __tablename__ = 'parking_spaces'
    __table_args__ = (sa.UniqueConstraint('tenant_id', 'code'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: 'B1-023'
    code: Mapped[str] = mapped_column(sa.String(30))
    location: Mapped[str | None] = mapped_column(sa.String(60))
    kind: Mapped[str] = mapped_column(sa.String(16), default='rented')
    #: the room whose household uses it, if any
    room_id: Mapped[int | None] = mapped_column(sa.ForeignKey('rooms.id'), index=True)
    #: plate numbers allowed on it, normalised ('浙A12345')
    plates: Mapped[list] = mapped_column(sa.JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    room: Mapped[Room | None] = relationship()
