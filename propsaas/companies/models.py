"""Company accounts (企业账号) on the platform host, their sign-ups and sessions, and the single-use login links that
take the company's contact from the console into one of its projects.

All platform tables: none of them is tenant-scoped (a company spans projects), so none has a ``tenant_id`` column;
the project a row concerns is ``project_id``.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models_base import UTCDateTime, utcnow
from ..tenancy.models import Organization

#: waiting for the e-mail link to be followed / for an operator / project created / refused
SIGNUP_STATUSES = ('verifying', 'pending', 'done', 'rejected')
SIGNUP_STATUS_NAMES = {'verifying': _l('待验证邮箱'), 'pending': _l('待审核'), 'done': _l('已开通'),
                       'rejected': _l('已拒绝')}
OPEN_SIGNUP_STATUSES = ('verifying', 'pending')


class CompanyAccount(db.Model):
    """The login of a property company's contact person on the platform host; one per Organization."""

    __tablename__ = 'company_accounts'

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey('organizations.id', ondelete='CASCADE'), unique=True)
    contact_name: Mapped[str] = mapped_column(sa.String(60))
    #: lowercased; the login, and the e-mail of the company's admin account in each of its projects
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    #: mainland mobile, 11 digits; also a login
    mobile: Mapped[str] = mapped_column(sa.String(11), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship()

    # Flask-Login: the raw session token this request authenticated with (never stored).
    session_token = None
    is_staff = False
    role = 'company'
    is_authenticated = True
    is_anonymous = False
    locale = None

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def name(self) -> str:
        return self.contact_name

    def get_id(self) -> str:
        return f'c:{self.session_token}'


class CompanySession(db.Model):
    """A company account's login session on the platform host: revocable, expiring, stored as SHA-256."""

    __tablename__ = 'company_sessions'

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey('company_accounts.id', ondelete='CASCADE'), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[CompanyAccount] = relationship()


class CompanySignup(db.Model):
    """注册申请: a company and its first project as typed on the sign-up page, until the e-mail link is followed or
    an operator approves it. Not a project yet: the project (and the company account) are created only then."""

    __tablename__ = 'company_signups'
    __table_args__ = (
        sa.CheckConstraint("status in ('verifying', 'pending', 'done', 'rejected')", name='status'),
        sa.Index('ix_company_signups_status', 'status', 'created_at'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_name: Mapped[str] = mapped_column(sa.String(120))
    contact_name: Mapped[str] = mapped_column(sa.String(60))
    email: Mapped[str] = mapped_column(sa.String(254), index=True)
    mobile: Mapped[str] = mapped_column(sa.String(11))
    #: argon2 of the password chosen at sign-up; copied to the account and the project's admin, then cleared
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    project_name: Mapped[str] = mapped_column(sa.String(120))
    project_slug: Mapped[str] = mapped_column(sa.String(63))
    #: the delivery template (folder under tenants/) chosen
    template: Mapped[str] = mapped_column(sa.String(63))
    status: Mapped[str] = mapped_column(sa.String(12))
    #: where the sign-up came from
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the operator who approved or rejected it (None: the e-mail link)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('operators.id', ondelete='SET NULL'))
    reject_reason: Mapped[str | None] = mapped_column(sa.String(200))
    account_id: Mapped[int | None] = mapped_column(sa.ForeignKey('company_accounts.id', ondelete='SET NULL'))
    project_id: Mapped[int | None] = mapped_column(sa.ForeignKey('tenants.id', ondelete='SET NULL'))

    @property
    def status_name(self) -> str:
        return SIGNUP_STATUS_NAMES.get(self.status, self.status)


class ProjectLoginLink(db.Model):
    """A single-use, short-lived link from the company console into one project as its admin (sessions don't cross
    hosts). Only the SHA-256 of the token is stored; the project's host consumes it with one conditional UPDATE."""

    __tablename__ = 'project_login_links'

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey('tenants.id', ondelete='CASCADE'), index=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey('company_accounts.id', ondelete='CASCADE'), index=True)
    #: the admin user it logs in, in that project (users.id) and the e-mail it was minted for
    user_id: Mapped[int] = mapped_column(sa.ForeignKey('users.id', ondelete='CASCADE'))
    user_email: Mapped[str] = mapped_column(sa.String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
