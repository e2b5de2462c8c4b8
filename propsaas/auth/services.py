"""Logins, sessions, API tokens, invitations and password changes for users of one tenant.

Services never commit: the view, CLI command or job that calls them commits once at the edge.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from ..errors import DomainError
from ..extensions import db
from ..models_base import utcnow
from .models import MOBILE_RE, ROLES, AccessToken, Operator, OperatorSession, User, hash_token, new_token
from .passwords import hash_password, password_problem, verify_password

INVITE_DAYS = 7
_EMAIL_RE = re.compile(r'^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$')


def normalize_mobile(value: str) -> str | None:
    """'+86 138-0013-8000', full-width '１３８…' -> '13800138000'; None when it is not a mainland mobile number."""
    digits = re.sub(r'[\s\-()（）]', '', unicodedata.normalize('NFKC', value or ''))
    for prefix in ('+86', '0086', '86'):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix):]
    return digits if MOBILE_RE.match(digits) else None


def normalize_email(value: str) -> str | None:
    value = (value or '').strip().lower()
    return value if len(value) <= 254 and _EMAIL_RE.match(value) else None


def find_user_by_login(login: str) -> User | None:
    """A login is a mainland mobile number or an e-mail address, within the current tenant."""
    mobile = normalize_mobile(login)
    if mobile:
        where = User.mobile == mobile
    else:
        email = normalize_email(login)
        if not email:
            return None
        where = User.email == email
    return db.session.execute(sa.select(User).where(where)).scalar_one_or_none()


def authenticate(login: str, password: str) -> User | None:
    """The active user with this login and password, or None. Takes the same time either way."""
    user = find_user_by_login(login)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        return None
    return user


def _lifetime() -> timedelta:
    return timedelta(seconds=current_app.config['PERMANENT_SESSION_LIFETIME'])


def _issue(user: User, kind: str, lifetime: timedelta) -> tuple[str, datetime]:
    raw = new_token()
    expires_at = utcnow() + lifetime
    db.session.add(AccessToken(user=user, kind=kind, token_hash=hash_token(raw), expires_at=expires_at))
    return raw, expires_at.replace(tzinfo=UTC)


def start_session(user: User) -> str:
    """A new session token for a fresh login (a new id every login; the old cookie's token stays revoked)."""
    raw, _ = _issue(user, AccessToken.SESSION, _lifetime())
    user.last_login_at = utcnow()
    user.session_token = raw
    return raw


def issue_api_token(user: User) -> tuple[str, datetime]:
    raw, expires_at = _issue(user, AccessToken.API, timedelta(days=current_app.config['API_TOKEN_DAYS']))
    user.last_login_at = utcnow()
    return raw, expires_at


@functools.cache
def _live_token_query() -> sa.Select:
    # Built once: every request runs it, and building a statement costs more than running it from SQLAlchemy's
    # compiled cache. The tenant criteria are still added per execution by the scoped session.
    return sa.select(AccessToken).options(joinedload(AccessToken.user)).where(  # the user comes along: one query
        AccessToken.token_hash == sa.bindparam('token_hash'),
        AccessToken.kind == sa.bindparam('kind'),
        AccessToken.revoked_at.is_(None),
        AccessToken.expires_at > sa.bindparam('now'),
    )


def _live_token(raw: str, kind: str) -> AccessToken | None:
    if not raw or len(raw) > 200:
        return None
    return db.session.execute(
        _live_token_query(), {'token_hash': hash_token(raw), 'kind': kind, 'now': utcnow()}
    ).scalar_one_or_none()


def user_for_token(raw: str, kind: str) -> User | None:
    token = _live_token(raw, kind)
    if token is None or not token.user.is_active:
        return None
    token.user.session_token = raw if kind == AccessToken.SESSION else None
    return token.user


def revoke_token(raw: str, kind: str) -> bool:
    token = _live_token(raw, kind)
    if token is not None:
        token.revoked_at = utcnow()
    return token is not None


def revoke_all_tokens(user: User) -> None:
    db.session.execute(
        sa.update(AccessToken).where(AccessToken.user_id == user.id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def _check_duties(role: str, duties: list[str], allowed: set[str]) -> list[str]:
    if role != 'staff':
        return []
    unknown = [d for d in duties if d not in allowed]
    if unknown:
        raise DomainError(_l('未知的岗位：%(duties)s', duties='、'.join(unknown)), field='duties')
    return sorted(set(duties))


def invite_user(*, name: str, email: str = '', mobile: str = '', role: str, duties: list[str] | None = None,
                allowed_duties: set[str]) -> tuple[User, str]:
    """Create an invited user of the current tenant; returns it with the raw invitation token for the link.

    The user sets their own password through the link (valid ``INVITE_DAYS`` days).
    Raises DomainError for a bad or already used login.
    """
    name = (name or '').strip()
    if not name or len(name) > 60:
        raise DomainError(_l('请填写姓名（不超过 60 个字）'), field='name')
    if role not in ROLES:
        raise DomainError(_l('未知的角色'), field='role')
    norm_email = normalize_email(email) if email else None
    norm_mobile = normalize_mobile(mobile) if mobile else None
    if email and not norm_email:
        raise DomainError(_l('邮箱格式不正确'), field='email')
    if mobile and not norm_mobile:
        raise DomainError(_l('请填写 11 位中国大陆手机号'), field='mobile')
    if not norm_email and not norm_mobile:
        raise DomainError(_l('手机号和邮箱至少填写一个，用于登录'), field='mobile')
    taken = {'email': _l('这个邮箱已经有账号了'), 'mobile': _l('这个手机号已经有账号了')}
    for field, value in (('email', norm_email), ('mobile', norm_mobile)):
        if value and db.session.execute(sa.select(User.id).where(getattr(User, field) == value)).first():
            raise DomainError(taken[field], field=field)
    raw = new_token()
    user = User(name=name, email=norm_email, mobile=norm_mobile, role=role,
                duties=_check_duties(role, duties or [], allowed_duties),
                invite_token_hash=hash_token(raw), invite_expires_at=utcnow() + timedelta(days=INVITE_DAYS))
    db.session.add(user)
    return user, raw


def open_invitation(raw: str) -> User | None:
    if not raw or len(raw) > 200:
        return None
    user = db.session.execute(sa.select(User).where(User.invite_token_hash == hash_token(raw))).scalar_one_or_none()
    if user is None or not user.active or user.invite_expires_at is None or user.invite_expires_at < _aware_now():
        return None
    return user


def _aware_now() -> datetime:
    return datetime.now(UTC)


def accept_invitation(user: User, password: str) -> None:
    set_password(user, password)
    user.invite_token_hash = None
    user.invite_expires_at = None


def set_password(user: User, password: str) -> None:
    problem = password_problem(password, login_names=(user.email or '', user.mobile or ''))
    if problem:
        raise DomainError(problem, field='password')
    user.password_hash = hash_password(password)


def change_password(user: User, current: str, new: str) -> None:
    """Check the current password, set the new one, and log out every other session and token."""
    if not verify_password(user.password_hash, current):
        raise DomainError(_l('当前密码不正确'), field='current_password')
    set_password(user, new)
    keep = user.session_token
    revoke_all_tokens(user)
    if keep:
        token = db.session.execute(
            sa.select(AccessToken).where(AccessToken.token_hash == hash_token(keep))).scalar_one()
        token.revoked_at = None


def deactivate_user(user: User, *, by: User) -> None:
    if user.id == by.id:
        raise DomainError(_l('不能停用自己的账号'))
    if user.role == 'admin':
        admins = db.session.execute(
            sa.select(sa.func.count(User.id)).where(User.role == 'admin', User.active.is_(True))
        ).scalar_one()
        if admins <= 1:
            raise DomainError(_l('至少要保留一名启用的管理员'))
    user.active = False
    revoke_all_tokens(user)


def reactivate_user(user: User) -> None:
    user.active = True


# --- platform operators -------------------------------------------------------------------------------------

def create_operator(email: str, name: str, password: str) -> Operator:
    norm = normalize_email(email)
    if not norm:
        raise DomainError('invalid e-mail address')
    problem = password_problem(password, login_names=(norm,))
    if problem:
        raise DomainError(problem)
    if db.session.execute(sa.select(Operator.id).where(Operator.email == norm)).first():
        raise DomainError(f'operator {norm} exists already')
    operator = Operator(email=norm, name=name or norm, password_hash=hash_password(password))
    db.session.add(operator)
    return operator


def authenticate_operator(login: str, password: str) -> Operator | None:
    norm = normalize_email(login)
    operator = None
    if norm:
        operator = db.session.execute(sa.select(Operator).where(Operator.email == norm)).scalar_one_or_none()
    ok = verify_password(operator.password_hash if operator else None, password)
    return operator if operator is not None and ok and operator.active else None


def start_operator_session(operator: Operator) -> str:
    raw = new_token()
    db.session.add(OperatorSession(operator=operator, token_hash=hash_token(raw), expires_at=utcnow() + _lifetime()))
    operator.session_token = raw
    return raw


def operator_for_token(raw: str) -> Operator | None:
    row = db.session.execute(
        sa.select(OperatorSession).where(OperatorSession.token_hash == hash_token(raw),
                                         OperatorSession.revoked_at.is_(None), OperatorSession.expires_at > utcnow())
    ).scalar_one_or_none()
    if row is None or not row.operator.active:
        return None
    row.operator.session_token = raw
    return row.operator


def end_operator_session(raw: str) -> None:
    db.session.execute(sa.update(OperatorSession).where(OperatorSession.token_hash == hash_token(raw))
                       .values(revoked_at=utcnow()))
