"""A resident's notification preferences (通知设置): their e-mail address, WeChat binding and the channels they
refuse for non-urgent messages.

Preferences are stored per resident record (``ChannelPreference``); a portal user linked to several resident
records (an owner of two rooms entered twice) sees them as one and a change applies to all of them. The inbox
can't be turned off, and urgent messages go out on every channel whatever the opt-outs (see
``delivery.channels_for``).
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..auth.models import mask_mobile
from ..auth.services import normalize_email
from ..errors import DomainError
from ..extensions import db
from ..residents.models import Resident
from .delivery import enabled_channels
from .models import EXTERNAL_CHANNELS, ChannelPreference

NO_RESIDENT = _l('你的账号还没有关联到住户信息，请联系物业服务中心')


@dataclass(frozen=True)
class Preferences:
    #: the address set here ('' when none: the login e-mail, if any, is used instead)
    email: str
    #: the portal login's e-mail, used when ``email`` is empty
    login_email: str
    #: a WeChat openid is bound to the resident (the openid itself is never exposed)
    wechat_bound: bool
    #: 138****1234, the number SMS go to
    mobile: str
    #: the external channels refused for non-urgent messages, in channel order
    opted_out: tuple[str, ...]
    #: the external channels the project has switched on, in channel order
    enabled_channels: tuple[str, ...]


def _residents(user) -> list[Resident]:
    residents = db.session.execute(sa.select(Resident).where(Resident.user_id == user.id)
                                   .order_by(Resident.id)).scalars().all()
    if not residents:
        raise DomainError(NO_RESIDENT)
    return list(residents)


def _stored(residents: list[Resident]) -> dict[int, ChannelPreference]:
    rows = db.session.execute(sa.select(ChannelPreference).where(
        ChannelPreference.resident_id.in_([r.id for r in residents]))).scalars()
    return {row.resident_id: row for row in rows}


def get_preferences(user) -> Preferences:
    """The user's preferences across their resident records. Raises DomainError when they have none."""
    residents = _residents(user)
    stored = _stored(residents)
    rows = [stored[r.id] for r in residents if r.id in stored]
    email = next((row.email for row in rows if row.email), '')
    refused = {channel for row in rows for channel in (row.opted_out or ())}
    mobile = next((r.mobile for r in residents if r.mobile), None) or user.mobile
    enabled = enabled_channels()
    return Preferences(
        email=email or '', login_email=user.email or '',
        wechat_bound=any(row.wechat_openid for row in rows),
        mobile=mask_mobile(mobile) if mobile else '',
        opted_out=tuple(c for c in EXTERNAL_CHANNELS if c in refused),
        enabled_channels=tuple(c for c in EXTERNAL_CHANNELS if c in enabled))


def update_preferences(user, email: str | None, opted_out) -> Preferences:
    """Set the e-mail address (validated; empty clears it) and the refused channels ('sms', 'email', 'wechat';
    the inbox can't be refused) on every resident record of the user, creating the rows that are missing.

    Raises DomainError (nothing changed) on a bad address or channel, or when the user has no resident record.
    Does not commit.
    """
    residents = _residents(user)
    raw = (email or '').strip()
    address = None
    if raw:
        address = normalize_email(raw)
        if address is None:
            raise DomainError(_l('邮箱格式不正确，请检查后重新填写（例如 name@example.com）'), field='email')
    chosen = [str(c).strip() for c in (opted_out or ())]
    if 'inbox' in chosen:
        raise DomainError(_l('站内消息不能关闭：重要通知都会在这里保留'), field='opted_out')
    unknown = [c for c in chosen if c not in EXTERNAL_CHANNELS]
    if unknown:
        raise DomainError(_l('不认识的通知渠道：%(names)s', names='、'.join(unknown)[:100]), field='opted_out')
    refused = [c for c in EXTERNAL_CHANNELS if c in set(chosen)]
    stored = _stored(residents)
    for resident in residents:
        row = stored.get(resident.id)
        if row is None:
            row = ChannelPreference(resident_id=resident.id)
            db.session.add(row)
        row.email = address
        row.opted_out = list(refused)
    db.session.flush()
    return get_preferences(user)
