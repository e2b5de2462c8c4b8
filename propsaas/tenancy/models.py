"""Tenants (property projects), the organizations that own them, and their custom hostnames."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models_base import UTCDateTime, utcnow


class Organization(db.Model):
    """A property company (物业公司) that owns one or more tenants."""

    __tablename__ = 'organizations'
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Tenant(db.Model):
    """One property project on the platform; reached at ``<slug>.<BASE_DOMAIN>``."""

    __tablename__ = 'tenants'
    ACTIVE, SUSPENDED = 'active', 'suspended'
    #: deleted by an operator: its hosts answer 404, nothing of it runs; restorable until ``purge_after``
    DELETED = 'deleted'

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(63), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    status: Mapped[str] = mapped_column(sa.String(16), default=ACTIVE)
    timezone: Mapped[str] = mapped_column(sa.String(64), default='Asia/Shanghai')
    locale: Mapped[str] = mapped_column(sa.String(16), default='zh_CN')
    #: the delivery template (folder under tenants/) this project was provisioned from
    template: Mapped[str | None] = mapped_column(sa.String(63))
    #: settings taken from the template (billing_day, currency, staff duties ...), edited by the tenant
    settings: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    organization_id: Mapped[int | None] = mapped_column(sa.ForeignKey('organizations.id'))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: when an operator deleted the project (projectdata.deletion); None while it lives
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: after this moment the purge removes every row and file of the project (the grace period's end)
    purge_after: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization | None] = relationship()

    @property
    def is_active(self) -> bool:
        return self.status == self.ACTIVE

    @property
    def is_deleted(self) -> bool:
        return self.status == self.DELETED

    @property
    def duties(self) -> list[dict]:
        return list(self.settings.get('duties', []))

    def duty_name(self, code: str) -> str:
        return next((d['name'] for d in self.duties if d['code'] == code), code)


class TenantHostname(db.Model):
    """A custom domain a tenant registered (``wuye.example.com``); resolved like its subdomain.

    A platform table, not ``TenantScoped``: a hostname must be unique across the whole platform, and it is
    read before any tenant is known. Only host resolution and operators touch it.
    """

    __tablename__ = 'tenant_hostnames'
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(sa.ForeignKey('tenants.id', ondelete='CASCADE'), index=True)
    hostname: Mapped[str] = mapped_column(sa.String(253), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
