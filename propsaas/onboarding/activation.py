"""Residents activating their own portal accounts (住户自助激活), on the project's host, without the desk.

Two ways to prove who they are:

- the household's **activation code** (激活码) from the invitation sheet of the onboarding pack, with their name and
  mobile: the code proves the household, so a person the project has not imported yet is added to the room as a
  family member (家属) in the same transaction;
- their **mobile + room + name** matching an imported resident record that lives in that room now.

Then they set a password and are logged in. The account is a User with role 'resident' linked to the Resident
(as ``residents.services.open_portal_account`` links them); a resident login that exists already for the mobile is
linked too (its owner proves it with the account's current password). A mobile that belongs to a staff login is
refused with the reason.

Codes: 8 characters from an alphabet without look-alikes (no 0/O, 1/I/L), shown as ``XXXX-XXXX``; stored only as
SHA-256; expire after ``ACTIVATION_CODE_DAYS`` (default 60) days; work once (claimed with one conditional UPDATE, so
two people racing with one code can't both win). Services never commit: the view commits once at the edge.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from ..auth import services as auth_services
from ..auth.models import User
from ..auth.passwords import hash_password, password_problem, verify_password
from ..errors import DomainError
from ..extensions import db
from ..models_base import utcnow
from ..property.models import Room
from ..residents import services as resident_services
from ..residents.models import Occupancy, Resident
from .models import ActivationCode

#: no 0/O, 1/I/L: read aloud and copied from paper without doubt
ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789'
CODE_LENGTH = 8
_NOT_CODE = re.compile(r'[^0-9A-Z]')


class NoMatch(DomainError):
    """A wrong, used or expired code, or no record matching: what the throttle counts."""

    status_code = 422


def code_days() -> int:
    """How long a code works (config ``ACTIVATION_CODE_DAYS``)."""
    return max(1, int(current_app.config['ACTIVATION_CODE_DAYS']))


def new_code() -> str:
    return ''.join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    """'ABCD2345' -> 'ABCD-2345', as printed."""
    return f'{code[:4]}-{code[4:]}'


def normalize_code(text: str) -> str | None:
    """What a person typed ('abcd 2345', full-width, with or without the dash) -> 'ABCD2345'; None when it can't be
    a code."""
    code = _NOT_CODE.sub('', unicodedata.normalize('NFKC', str(text or '')).upper())
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def new_codes(room_ids: list[int]) -> dict[int, str]:
    """A fresh code for each room (room id -> 'XXXX-XXXX'), not stored yet (``store_codes`` does)."""
    codes: dict[int, str] = {}
    seen: set[str] = set()
    for room_id in room_ids:
        code = new_code()
        while code in seen:  # ~40 bits: a repeat within one batch is as good as impossible, but cheap to rule out
            code = new_code()
        seen.add(code)
        codes[room_id] = format_code(code)
    return codes


def store_codes(codes: dict[int, str]) -> None:
    """Store ``codes`` (room id -> code) as the rooms' valid codes, deleting each room's unused older ones, so only
    the newest sheet works. A constant number of statements whatever the number of rooms."""
    if not codes:
        return
    db.session.execute(sa.delete(ActivationCode).where(ActivationCode.room_id.in_(list(codes)),
                                                       ActivationCode.used_at.is_(None)))
    expires_at = utcnow() + timedelta(days=code_days())
    db.session.add_all([ActivationCode(room_id=room_id, code_hash=hash_code(normalize_code(code)),
                                       expires_at=expires_at) for room_id, code in codes.items()])
    db.session.flush()


def issue_codes(room_ids: list[int]) -> dict[int, str]:
    """New stored codes for these rooms (room id -> 'XXXX-XXXX'); their unused older codes stop working."""
    codes = new_codes(room_ids)
    store_codes(codes)
    return codes


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def live_code(text: str) -> ActivationCode | None:
    """The unused, unexpired code this text names, or None."""
    code = normalize_code(text)
    if code is None:
        return None
    row = db.session.execute(sa.select(ActivationCode).where(ActivationCode.code_hash == hash_code(code))
                             ).scalar_one_or_none()
    if row is None or row.used_at is not None or _aware(row.expires_at) <= datetime.now(UTC):
        return None
    return row


# --- the person ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Applicant:
    name: str
    mobile: str
    password: str


def applicant(name: str, mobile: str, password: str) -> Applicant:
    """Checked name, mobile (normalised) and password; DomainError with the field otherwise."""
    name = unicodedata.normalize('NFKC', name or '').strip()
    if not name or len(name) > 60:
        raise DomainError(_l('请填写姓名（不超过 60 个字）'), field='name')
    normalized = auth_services.normalize_mobile(mobile or '')
    if not normalized:
        raise DomainError(_l('请填写 11 位中国大陆手机号'), field='mobile')
    problem = password_problem(password or '', login_names=(normalized,))
    if problem:
        raise DomainError(problem, field='password')
    return Applicant(name, normalized, password)


def _same_name(a: str, b: str) -> bool:
    def clean(text):
        return re.sub(r'\s+', '', unicodedata.normalize('NFKC', text or ''))
    return clean(a) == clean(b)


def _user_with_mobile(mobile: str) -> User | None:
    return db.session.execute(sa.select(User).where(User.mobile == mobile)).scalar_one_or_none()


def _check_mobile_free(person: Applicant) -> User | None:
    """The resident login that exists for this mobile (its owner proves it with its password), or None.

    Refuses a staff login's mobile, a deactivated login, and a wrong password for an existing one."""
    user = _user_with_mobile(person.mobile)
    if user is None:
        return None
    if user.role != 'resident':
        raise DomainError(_l('这个手机号已是本项目员工的登录账号，不能再开通住户账号；'
                             '请换一个手机号，或联系物业服务中心'), field='mobile')
    if not user.active:
        raise DomainError(_l('这个手机号的账号已停用，请联系物业服务中心'), field='mobile')
    if user.password_hash is not None and not verify_password(user.password_hash, person.password):
        raise DomainError(_l('这个手机号已开通住户账号：请输入该账号现在的登录密码，以便把这间房屋加到账号下；'
                             '忘记密码请联系物业服务中心'), field='password')
    return user


def _link_account(resident: Resident, person: Applicant, existing: User | None) -> User:
    if resident.user_id is not None and (existing is None or resident.user_id != existing.id):
        raise DomainError(_l('这位住户已开通账号，请直接登录；忘记密码请联系物业服务中心'), field='mobile')
    user = existing
    if user is None:
        user = User(name=person.name, mobile=person.mobile, role='resident', duties=[])
        db.session.add(user)
    if user.password_hash is None:  # a new login, or one an invitation opened that was never accepted
        user.password_hash = hash_password(person.password)
        user.invite_token_hash = user.invite_expires_at = None
    db.session.flush()
    resident.user_id = user.id
    if not resident.mobile:
        resident.mobile = person.mobile
    return user


def _room_residents(room_id: int) -> list[Resident]:
    return list(db.session.execute(
        sa.select(Resident).join(Occupancy, Occupancy.resident_id == Resident.id)
        .where(Occupancy.room_id == room_id, Occupancy.moved_out_on.is_(None)).order_by(Resident.id)).scalars())


def activate_with_code(code_text: str, name: str, mobile: str, password: str, *, today) -> User:
    """Open (or link) the portal account of a person of the code's household; the code is used up.

    The room's current resident with this mobile is linked (the name must match); with none, the person is added to
    the room as a family member. Raises NoMatch for a wrong, used or expired code, DomainError for the rest.
    """
    person = applicant(name, mobile, password)
    code = live_code(code_text)
    if code is None:
        raise NoMatch(_l('激活码不正确、已使用或已过期，请核对；新的激活码请向物业服务中心索取'), field='code')
    room = db.session.get(Room, code.room_id)
    if room is None or not room.active or room.merged_into_id is not None:
        raise NoMatch(_l('这个激活码的房屋已停用，请联系物业服务中心'), field='code')
    existing = _check_mobile_free(person)
    same_mobile = [r for r in _room_residents(room.id) if r.mobile == person.mobile]
    if same_mobile:
        resident = next((r for r in same_mobile if _same_name(r.name, person.name)), None)
        if resident is None:
            raise DomainError(_l('这个手机号在本户登记的姓名与填写的不一致，请核对姓名'), field='name')
    else:
        resident = Resident(name=person.name, mobile=person.mobile)
        db.session.add(resident)
        db.session.add(Occupancy(resident=resident, room=room, role='family', moved_in_on=today))
        resident_services._room_occupied(room, True)  # the room's status and its history, as a move-in keeps them
    user = _link_account(resident, person, existing)
    claimed = db.session.execute(
        sa.update(ActivationCode).where(ActivationCode.id == code.id, ActivationCode.used_at.is_(None))
        .values(used_at=utcnow(), used_by_user_id=user.id)).rowcount
    if claimed != 1:  # someone else used it a moment ago: the caller rolls everything back
        raise NoMatch(_l('激活码不正确、已使用或已过期，请核对；新的激活码请向物业服务中心索取'), field='code')
    return user


def activate_with_room(room_text: str, name: str, mobile: str, password: str) -> User:
    """Open (or link) the portal account of an imported resident who lives in the room now, found by mobile + name.

    Raises NoMatch when no current resident of that room has this mobile and name (the same message whatever did
    not match, so the form can't be used to find out who lives where), DomainError for the rest."""
    person = applicant(name, mobile, password)
    try:
        room = resident_services.find_room(room_text)
    except DomainError as exc:
        raise NoMatch(exc.message, field='room') from exc
    resident = next((r for r in _room_residents(room.id)
                     if r.mobile == person.mobile and _same_name(r.name, person.name)), None)
    if resident is None:
        raise NoMatch(_l('没有找到与房号、姓名、手机号都相符的住户登记，请核对；或用激活码激活，或联系物业服务中心'),
                      field='room')
    existing = _check_mobile_free(person)
    return _link_account(resident, person, existing)
