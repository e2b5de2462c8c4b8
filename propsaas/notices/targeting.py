"""Who receives an announcement, a survey or a message: an ``Audience`` resolved to residents in one statement.

An audience is a *where* (the whole project, some buildings, some units, a floor range of one building, or a
hand-picked list of residents) narrowed by *who* (owners / renters / family) and by room tags. Residents count
through their current occupancies (moved out = no longer reached); a hand-picked resident is reached as is.

The statement is the same whatever the recipient count (one for the list, two for a preview), and it is a query
on scoped models, so another tenant's residents can't appear even if their ids are named.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql

from ..auth.models import User
from ..errors import DomainError
from ..extensions import db
from ..property.models import Building, Room, Unit
from ..residents.models import ROLE_NAMES, ROLES, Occupancy, Resident
from ..tenancy.clock import tenant_today
from ..tenancy.context import current_tenant_id
from ..tenancy.models import Tenant
from .models import ChannelPreference

SCOPES = ('all', 'buildings', 'units', 'floors', 'residents')
SCOPE_NAMES = {'all': _l('全体住户'), 'buildings': _l('指定楼栋'), 'units': _l('指定单元'),
               'floors': _l('楼层范围'), 'residents': _l('指定住户')}
MAX_IDS = 2000


@dataclass
class Audience:
    scope: str = 'all'
    building_ids: list[int] = field(default_factory=list)
    unit_ids: list[int] = field(default_factory=list)
    #: scope 'floors': floors floor_min..floor_max (inclusive) of one building
    floor_building_id: int | None = None
    floor_min: int | None = None
    floor_max: int | None = None
    resident_ids: list[int] = field(default_factory=list)
    #: empty: every role
    roles: list[str] = field(default_factory=list)
    #: empty: any room; otherwise rooms carrying at least one of these tags
    tags: list[str] = field(default_factory=list)
    #: only rooms with arrears: a bill unpaid (or part paid) after its due date (催缴 to the whole arrears list)
    arrears_only: bool = False

    @classmethod
    def from_json(cls, data: dict | None) -> Audience:
        """Read a stored or submitted audience; raises DomainError on anything malformed."""
        data = dict(data or {})
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise DomainError(_l('不认识的发送范围设置：%(keys)s', keys='、'.join(sorted(unknown))), field='audience')
        try:
            audience = cls(
                scope=str(data.get('scope') or 'all'),
                building_ids=_ids(data.get('building_ids')),
                unit_ids=_ids(data.get('unit_ids')),
                floor_building_id=_opt_id(data.get('floor_building_id')),
                floor_min=_opt_int(data.get('floor_min')),
                floor_max=_opt_int(data.get('floor_max')),
                resident_ids=_ids(data.get('resident_ids')),
                roles=[str(r) for r in data.get('roles') or []],
                tags=[str(t).strip() for t in data.get('tags') or [] if str(t).strip()],
                arrears_only=data.get('arrears_only') in (True, 1, '1', 'true', 'on', 'y'),
            )
        except (TypeError, ValueError):
            raise DomainError(_l('发送范围格式不正确'), field='audience') from None
        audience.check()
        return audience

    def to_json(self) -> dict:
        return asdict(self)

    def check(self) -> None:
        """Shape rules only (ids are checked against the tenant by ``validate``)."""
        if self.scope not in SCOPES:
            raise DomainError(_l('请选择发送范围'), field='audience')
        if self.scope == 'buildings' and not self.building_ids:
            raise DomainError(_l('请至少选择一个楼栋'), field='audience')
        if self.scope == 'units' and not self.unit_ids:
            raise DomainError(_l('请至少选择一个单元'), field='audience')
        if self.scope == 'residents' and not self.resident_ids:
            raise DomainError(_l('请至少选择一位住户'), field='audience')
        if self.scope == 'floors':
            if self.floor_building_id is None:
                raise DomainError(_l('按楼层发送时请选择楼栋'), field='audience')
            if self.floor_min is None and self.floor_max is None:
                raise DomainError(_l('请填写起始楼层或结束楼层'), field='audience')
            if self.floor_min is not None and self.floor_max is not None and self.floor_min > self.floor_max:
                raise DomainError(_l('起始楼层不能高于结束楼层'), field='audience')
        bad_roles = [r for r in self.roles if r not in ROLES]
        if bad_roles:
            raise DomainError(_l('不认识的住户身份：%(roles)s', roles='、'.join(bad_roles)), field='audience')
        if len(self.tags) > 20 or any(len(t) > 20 for t in self.tags):
            raise DomainError(_l('房屋标签最多 20 个，每个最多 20 字'), field='audience')

    def validate(self) -> None:
        """Every named building, unit and resident must be this tenant's (scoped lookups: another's is unknown)."""
        self.check()
        for ids, model, message in (
            (self.building_ids, Building, _l('所选楼栋不存在')),
            (self.unit_ids, Unit, _l('所选单元不存在')),
            ([self.floor_building_id] if self.floor_building_id else [], Building, _l('所选楼栋不存在')),
            (self.resident_ids, Resident, _l('所选住户不存在')),
        ):
            if ids:
                found = db.session.execute(sa.select(sa.func.count()).select_from(model)
                                           .where(model.id.in_(set(ids)))).scalar_one()
                if found != len(set(ids)):
                    raise DomainError(message, field='audience')

    def describe(self) -> str:
        """What staff read on the announcement: '楼层范围 · 仅业主 · 标签：高层'."""
        parts = [str(SCOPE_NAMES[self.scope])]
        if self.scope == 'floors':
            low = self.floor_min if self.floor_min is not None else '…'
            high = self.floor_max if self.floor_max is not None else '…'
            parts[0] = str(_l('%(low)s-%(high)s层', low=low, high=high))
        if self.roles:
            parts.append(str(_l('仅%(roles)s', roles='、'.join(str(ROLE_NAMES[r]) for r in self.roles))))
        if self.tags:
            parts.append(str(_l('标签：%(tags)s', tags='、'.join(self.tags))))
        if self.arrears_only:
            parts.append(str(_l('仅欠费房屋')))
        return ' · '.join(parts)


@dataclass(frozen=True)
class Recipient:
    resident_id: int
    name: str
    mobile: str | None
    email: str | None
    wechat_openid: str | None
    opted_out: tuple[str, ...]

    #: the Message column naming the recipient
    column = 'resident_id'

    @property
    def key(self) -> int:
        return self.resident_id

    def address(self, channel: str) -> str | None:
        return {'sms': self.mobile, 'email': self.email, 'wechat': self.wechat_openid}.get(channel)


@dataclass(frozen=True)
class StaffRecipient:
    """A staff user (technician, admin) receiving a work message: in their inbox, by SMS to their mobile and by
    e-mail to their address. Staff bind no WeChat and have no opt-outs: these messages are their work."""

    user_id: int
    name: str
    mobile: str | None
    email: str | None
    opted_out: tuple[str, ...] = ()
    column = 'user_id'

    @property
    def key(self) -> int:
        return self.user_id

    def address(self, channel: str) -> str | None:
        return {'sms': self.mobile, 'email': self.email}.get(channel)


def resident_ids_query(audience: Audience) -> sa.Select:
    """SELECT DISTINCT resident ids of the audience (a subquery for the statements below)."""
    if audience.scope == 'residents' and not (audience.roles or audience.tags or audience.arrears_only):
        return sa.select(Resident.id).where(Resident.id.in_(audience.resident_ids))
    query = (sa.select(Occupancy.resident_id).distinct()
             .join(Room, Room.id == Occupancy.room_id)
             .where(Occupancy.moved_out_on.is_(None), Room.active.is_(True)))
    if audience.scope == 'buildings':
        query = query.where(Room.building_id.in_(audience.building_ids))
    elif audience.scope == 'units':
        query = query.where(Room.unit_id.in_(audience.unit_ids))
    elif audience.scope == 'floors':
        query = query.where(Room.building_id == audience.floor_building_id)
        if audience.floor_min is not None:
            query = query.where(Room.floor >= audience.floor_min)
        if audience.floor_max is not None:
            query = query.where(Room.floor <= audience.floor_max)
    elif audience.scope == 'residents':
        query = query.where(Occupancy.resident_id.in_(audience.resident_ids))
    if audience.roles:
        query = query.where(Occupancy.role.in_(audience.roles))
    if audience.tags:
        query = query.where(_room_has_any_tag(audience.tags))
    if audience.arrears_only:
        query = query.where(Room.id.in_(_rooms_in_arrears()))
    return query


def _rooms_in_arrears() -> sa.Select:
    """Rooms with a bill still (partly) unpaid after its due date, as of today where the project is."""
    from ..billing.models import Bill  # billing sends through notices: imported here, not at module load

    tenant = db.session.get(Tenant, current_tenant_id())
    return sa.select(Bill.room_id).where(Bill.status.in_(('unpaid', 'partial')), Bill.due_on < tenant_today(tenant),
                                         Bill.room_id.is_not(None))


def _room_has_any_tag(tags: list[str]):
    """rooms.tags (a JSON list) shares a tag with ``tags``, on SQLite and PostgreSQL alike."""
    if db.engine.dialect.name == 'postgresql':
        text_array = postgresql.ARRAY(sa.Text)
        return sa.cast(Room.tags, postgresql.JSONB).op('?|')(sa.cast(sa.literal(list(tags), text_array), text_array))
    each = sa.func.json_each(Room.tags).table_valued('value')
    return sa.exists(sa.select(1).select_from(each).where(each.c.value.in_(tags)))


def recipients(audience: Audience) -> list[Recipient]:
    """Every resident of the audience with their addresses and opt-outs: one statement."""
    ids = resident_ids_query(audience).subquery()
    rows = db.session.execute(
        sa.select(Resident.id, Resident.name, Resident.mobile,
                  sa.func.coalesce(ChannelPreference.email, User.email),
                  ChannelPreference.wechat_openid, ChannelPreference.opted_out)
        .where(Resident.id.in_(sa.select(ids.c[0])))
        .outerjoin(ChannelPreference, ChannelPreference.resident_id == Resident.id)
        .outerjoin(User, User.id == Resident.user_id)
        .order_by(Resident.id)
    ).all()
    return [Recipient(rid, name, mobile, email, openid, tuple(opted or ()))
            for rid, name, mobile, email, openid, opted in rows]


def staff_recipients(user_ids) -> list[StaffRecipient]:
    """The active admins and staff among ``user_ids`` (this project's: the query is scoped): one statement."""
    ids = [int(i) for i in user_ids]
    if not ids:
        return []
    rows = db.session.execute(sa.select(User.id, User.name, User.mobile, User.email).where(
        User.id.in_(ids), User.role.in_(('admin', 'staff')), User.active.is_(True)).order_by(User.id)).all()
    return [StaffRecipient(uid, name, mobile, email) for uid, name, mobile, email in rows]


def admin_ids() -> list[int]:
    """The project's active admins (who escalations go to)."""
    return list(db.session.execute(sa.select(User.id).where(User.role == 'admin', User.active.is_(True))
                                   .order_by(User.id)).scalars())


def preview(audience: Audience, sample: int = 8) -> tuple[int, list[str]]:
    """How many residents, and a few of their names, before anything is sent: two statements."""
    ids = resident_ids_query(audience).subquery()
    count = db.session.execute(sa.select(sa.func.count()).select_from(ids)).scalar_one()
    names = db.session.execute(sa.select(Resident.name).where(Resident.id.in_(sa.select(ids.c[0])))
                               .order_by(Resident.id).limit(sample)).scalars().all()
    return count, list(names)


def _ids(value) -> list[int]:
    if value in (None, ''):
        return []
    if isinstance(value, (str, int)):
        value = [value]
    ids = [int(v) for v in value if str(v).strip()]
    if len(ids) > MAX_IDS or any(i <= 0 or i > 2**31 - 1 for i in ids):
        raise ValueError('bad ids')
    return ids


def _opt_id(value) -> int | None:
    ids = _ids(value)
    if len(ids) > 1:
        raise ValueError('one building')
    return ids[0] if ids else None


def _opt_int(value) -> int | None:
    if value in (None, ''):
        return None
    number = int(value)
    if not -10 <= number <= 300:
        raise ValueError('floor out of range')
    return number
