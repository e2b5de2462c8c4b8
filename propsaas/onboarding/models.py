"""Activation codes (激活码): one per household (room), printed on the invitation sheets of the onboarding pack."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models_base import UTCDateTime, utcnow
from ..property.models import Room
from ..tenancy.scoping import TenantScoped


class ActivationCode(TenantScoped, db.Model):
    """A single-use code that proves a person belongs to a household: with it (and their name and mobile) they open
    a portal account without anyone at the desk. Stored as SHA-256 only; issuing a new code for the room deletes
    its unused older one, so the latest printed sheet is the one that works."""

    __tablename__ = 'activation_codes'
    __table_args__ = (sa.UniqueConstraint('tenant_id', 'code_hash'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(sa.ForeignKey('rooms.id', ondelete='CASCADE'), index=True)
    #: SHA-256 of the normalised code (8 characters, no dash)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    room: Mapped[Room] = relationship()
