"""Residents and their links to rooms (with history), vehicles, renovation records, access permissions, imports."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models_base import UTCDateTime, utcnow
from ..property.models import ParkingSpace, Room
from ..tenancy.scoping import TenantScoped

ROLES = ('owner', 'renter', 'family')  # 业主, 租户, 家属
#: what people call each role, in the reader's language (Excel files and jobs: Chinese)
ROLE_NAMES = {'owner': _l('业主'), 'renter': _l('租户'), 'family': _l('家属')}


class Resident(TenantScoped, db.Model):
    """A person of the project. Personal information: shown masked, in full only to admins (PIPL Art. 51)."""

    __tablename__ = 'residents'
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    #: mainland mobile, normalised to 11 digits
    mobile: Mapped[str | None] = mapped_column(sa.String(11), index=True)
    #: a landline or other number, as typed
    other_phone: Mapped[str | None] = mapped_column(sa.String(30))
    #: 居民身份证号 (GB 11643), validated; optional
    id_number: Mapped[str | None] = mapped_column(sa.String(18))
    emergency_contact: Mapped[str | None] = mapped_column(sa.String(60))
    emergency_phone: Mapped[str | None] = mapped_column(sa.String(30))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    #: the portal login of this person, when they have one
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    occupancies: Mapped[list[Occupancy]] = relationship(back_populates='resident',
                                                        order_by='Occupancy.moved_in_on.desc()')
    vehicles: Mapped[list[Vehicle]] = relationship(back_populates='resident')


class Occupancy(TenantScoped, db.Model):
    """A resident's link to a room with a role (业主/租户/家属). Moving out ends it; it is never deleted."""

    __tablename__ = 'occupancies'
    __table_args__ = (sa.CheckConstraint("role in ('owner', 'renter', 'family')", name='role'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(sa.ForeignKey('rooms.id'), index=True)
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey('residents.id'), index=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    moved_in_on: Mapped[date | None]
    moved_out_on: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    room: Mapped[Room] = relationship()
    resident: Mapped[Resident] = relationship(back_populates='occupancies')

    @property
    def current(self) -> bool:
        return self.moved_out_on is None


class Vehicle(TenantScoped, db.Model):
    __tablename__ = 'vehicles'
    __table_args__ = (sa.UniqueConstraint('tenant_id', 'plate'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey('residents.id'), index=True)
    #: normalised: upper case, no spaces or dots ('浙A12345', '沪AD12345' for new energy)
    plate: Mapped[str] = mapped_column(sa.String(12))
    parking_space_id: Mapped[int | None] = mapped_column(sa.ForeignKey('parking_spaces.id'))
    note: Mapped[str | None] = mapped_column(sa.String(100))

    resident: Mapped[Resident] = relationship(back_populates='vehicles')
    parking_space: Mapped[ParkingSpace | None] = relationship()


class Renovation(TenantScoped, db.Model):
    """装修备案: filed by a resident or staff, approved or rejected by staff, with its deposit in fen."""

    __tablename__ = 'renovations'
    __table_args__ = (
        sa.CheckConstraint("status in ('pending', 'approved', 'rejected', 'completed', 'cancelled')", name='status'),
        sa.CheckConstraint("deposit_status in ('none', 'held', 'refunded', 'withheld')", name='deposit_status'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(sa.ForeignKey('rooms.id'), index=True)
    resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey('residents.id'))
    filed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    contractor: Mapped[str] = mapped_column(sa.String(100))
    manager_name: Mapped[str] = mapped_column(sa.String(60))
    manager_phone: Mapped[str] = mapped_column(sa.String(30))
    planned_start: Mapped[date]
    planned_end: Mapped[date]
    scope: Mapped[str] = mapped_column(sa.Text)
    #: 装修押金 in fen (default from the template: 2000 yuan)
    deposit_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    status: Mapped[str] = mapped_column(sa.String(16), default='pending')
    review_comment: Mapped[str | None] = mapped_column(sa.String(500))
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_on: Mapped[date | None]
    deposit_status: Mapped[str] = mapped_column(sa.String(16), default='none')
    #: why a deposit was withheld (or a note on its refund)
    deposit_note: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    room: Mapped[Room] = relationship()
    visits: Mapped[list[RenovationVisit]] = relationship(order_by='RenovationVisit.visited_at')


class RenovationVisit(TenantScoped, db.Model):
    """An inspection visit to a renovation site (装修巡查)."""

    __tablename__ = 'renovation_visits'
    id: Mapped[int] = mapped_column(primary_key=True)
    renovation_id: Mapped[int] = mapped_column(sa.ForeignKey('renovations.id'), index=True)
    visited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    note: Mapped[str] = mapped_column(sa.String(500))


class Gate(TenantScoped, db.Model):
    """A gate or door of the project's access control (门禁点)."""

    __tablename__ = 'gates'
    __table_args__ = (sa.UniqueConstraint('tenant_id', 'code'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: what the door controller calls it: 'north-gate', '1-1-door'
    code: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(60))
    active: Mapped[bool] = mapped_column(default=True)


class AccessGrant(TenantScoped, db.Model):
    """A resident may pass a gate with a credential (card number, face record reference, QR code).

    Revoking sets ``revoked_at``; moving out revokes automatically. ``updated_at`` drives incremental sync.
    """

    __tablename__ = 'access_grants'
    __table_args__ = (sa.CheckConstraint("credential_kind in ('card', 'face', 'qr')", name='credential_kind'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey('residents.id'), index=True)
    gate_id: Mapped[int] = mapped_column(sa.ForeignKey('gates.id'), index=True)
    credential_kind: Mapped[str] = mapped_column(sa.String(8))
    credential_ref: Mapped[str] = mapped_column(sa.String(80))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoke_reason: Mapped[str | None] = mapped_column(sa.String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, index=True)

    resident: Mapped[Resident] = relationship()
    gate: Mapped[Gate] = relationship()


class ImportBatch(TenantScoped, db.Model):
    """One uploaded residents file: previewed, then committed (or not). The parsed rows live in a stored file."""

    __tablename__ = 'import_batches'
    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(sa.String(200))
    #: previewing, previewed, committing, committed, failed
    status: Mapped[str] = mapped_column(sa.String(16), default='previewing')
    #: storage keys of the upload, the preview (JSON) and the error report (.xlsx)
    upload_file: Mapped[str | None] = mapped_column(sa.String(255))
    preview_file: Mapped[str | None] = mapped_column(sa.String(255))
    report_file: Mapped[str | None] = mapped_column(sa.String(255))
    #: {"new": n, "update": n, "duplicate": n, "error": n, "rooms_created": n, ...}
    stats: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    committed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PersonalInfoAccess(TenantScoped, db.Model):
    """Who saw a resident's full ID number or phone, and when (PIPL: access control and a record of it)."""

    __tablename__ = 'personal_info_access'
    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey('residents.id'), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    #: which value: 'id_number', 'mobile'
    field: Mapped[str] = mapped_column(sa.String(20))
    #: where: 'page', 'api', 'export'
    channel: Mapped[str] = mapped_column(sa.String(10))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
