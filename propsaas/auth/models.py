"""Users of a tenant, their session and API tokens, and platform operators."""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models_base import UTCDateTime, utcnow
from ..tenancy.scoping import TenantScoped

MOBILE_RE = re.compile(r'^1[3-9]\d{9}$')
ROLES = ('admin', 'staff', 'resident')


def hash_token(raw: str) -> str:
    """Tokens are stored as SHA-256: a leaked table can't be replayed."""
    return hashlib.sha256(raw.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def mask_mobile(mobile: str | None) -> str:
    """138****1234, as personal information is shown on screens and paper."""
    if not mobile or len(mobile) != 11:
        return mobile or ''
    return f'{mobile[:3]}****{mobile[-4:]}'


class User(TenantScoped, db.Model):
    """A person who logs into one tenant: its admins, staff (with duties) and residents."""

    __tablename__ = 'users'
    __table_args__ = (
        sa.UniqueConstraint('tenant_id', 'email'),
        sa.UniqueConstraint('tenant_id', 'mobile'),
        sa.CheckConstraint("role in ('admin', 'staff', 'resident')", name='role'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    #: lowercased; optional because residents usually log in with their mobile number
    email: Mapped[str | None] = mapped_column(sa.String(254))
    #: mainland mobile, 11 digits, no +86
    mobile: Mapped[str | None] = mapped_column(sa.String(11))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16))
    #: staff duty codes from the tenant's settings (service_desk, cashier, technician ...)
    duties: Mapped[list] = mapped_column(sa.JSON, default=list)
    #: None follows the tenant's locale
    locale: Mapped[str | None] = mapped_column(sa.String(16))
    active: Mapped[bool] = mapped_column(default=True)
    #: SHA-256 of the invitation link's token while the invitation is open
    invite_token_hash: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    invite_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Flask-Login: the raw session token this request authenticated with (never stored).
    session_token = None

    @property
    def is_active(self) -> bool:
        return self.active and self.password_hash is not None

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        # Flask-Login keeps this in the cookie; it is the session token, so revoking it logs the cookie out.
        return f'u:{self.session_token}'

    @property
    def is_staff(self) -> bool:
        return self.role in ('admin', 'staff')

    @property
    def invited(self) -> bool:
        return self.password_hash is None and self.invite_token_hash is not None

    @property
    def masked_mobile(self) -> str | None:
        return mask_mobile(self.mobile) or None

    @property
    def login_label(self) -> str:
        return self.email or mask_mobile(self.mobile)

    def has_duty(self, code: str) -> bool:
        return self.role == 'admin' or code in (self.duties or [])


class AccessToken(TenantScoped, db.Model):
    """A login session (cookie) or an API bearer token: revocable, expiring, bound to one tenant and user."""

    __tablename__ = 'access_tokens'
    SESSION, API = 'session', 'api'

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey('users.id', ondelete='CASCADE'), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    token_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    __table_args__ = (sa.UniqueConstraint('tenant_id', 'token_hash'),)


class Operator(db.Model):
    """Platform staff. Works only on the platform host; never a user of any tenant."""

    __tablename__ = 'operators'
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    session_token = None
    is_staff = False
    role = 'operator'

    @property
    def is_active(self) -> bool:
        return self.active

    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        return f'o:{self.session_token}'


class OperatorSession(db.Model):
    __tablename__ = 'operator_sessions'
    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(sa.ForeignKey('operators.id', ondelete='CASCADE'), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    operator: Mapped[Operator] = relationship()


class OperatorAction(db.Model):
    """操作日志: what an operator did on the platform (logged in, suspended or resumed a project, answered or closed
    feedback), for the audit page. A platform table: no tenant scope; the project it concerned, if any."""

    __tablename__ = 'operator_actions'
    __table_args__ = (sa.Index('ix_operator_actions_at', 'at'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int | None] = mapped_column(sa.ForeignKey('operators.id', ondelete='SET NULL'), index=True)
    action: Mapped[str] = mapped_column(sa.String(30))
    #: the project it concerned (None: the platform itself); named so it is no tenant-scoped column
    project_id: Mapped[int | None] = mapped_column(sa.ForeignKey('tenants.id', ondelete='SET NULL'))
    detail: Mapped[str | None] = mapped_column(sa.String(300))
    #: where the request came from
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    operator: Mapped[Operator | None] = relationship()
