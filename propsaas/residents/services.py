"""Residents: people, their links to rooms (with history), vehicles, portal accounts, and finding them again.

Services never commit: the view, API operation or job that calls them commits once at the edge. They raise
DomainError with a message for people and the name of the field it concerns.
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload

from ..auth import services as auth_services
from ..auth.models import User
from ..errors import DomainError
from ..extensions import db
from ..models_base import MAX_ID
from ..property.addresses import parse_room_address
from ..property.models import Room, RoomEvent
from . import access
from .identity import IdNumberError, mask_id_number, mask_phone, normalize_id_number, normalize_phone, normalize_plate
from .models import ROLES, AccessGrant, Occupancy, PersonalInfoAccess, Resident, Vehicle

STATUSES = ('current', 'moved_out', 'all')
#: personal information shown masked to everyone but admins, and in full to admins only on the detail
PERSONAL_FIELDS = ('mobile', 'other_phone', 'id_number', 'emergency_phone')
TEXT_LIMITS = {'name': 60, 'emergency_contact': 60, 'note': 500}
_CONTROL = re.compile(r'[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]')


def _unsavable(value: str) -> bool:
    """Control characters, or text that isn't valid Unicode (lone surrogates from JSON): databases refuse them."""
    if _CONTROL.search(value):
        return True
    try:
        value.encode('utf-8')
    except UnicodeEncodeError:
        return True
    return False


def local_today(timezone: str = 'Asia/Shanghai') -> date:
    """Today in the project's timezone (move-in and move-out dates are the project's calendar days)."""
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo('Asia/Shanghai')
    return datetime.now(zone).date()


# --- field checks ------------------------------------------------------------------------------------------

def _text(value, field: str, *, required: bool = False) -> str | None:
    """Stripped text of at most TEXT_LIMITS[field] characters; None when empty. Control characters refused."""
    value = (value or '').strip() if isinstance(value, str) or value is None else str(value)
    if _unsavable(value):
        raise DomainError(_l('含有无法保存的控制字符，请删除后重试'), field=field)
    if required and not value:
        if field == 'name':
            raise DomainError(_l('请填写姓名（不超过 60 个字）'), field=field)
        raise DomainError(_l('请填写这一项'), field=field)
    limit = TEXT_LIMITS[field]
    if len(value) > limit:
        raise DomainError(_l('不能超过 %(n)s 个字', n=limit), field=field)
    return value or None


def _id_number(value) -> str | None:
    value = (value or '').strip()
    if not value:
        return None
    try:
        return normalize_id_number(value)
    except IdNumberError as e:
        message = {
            'format': _l('身份证号应为 18 位：前 17 位是数字，最后一位是数字或 X'),
            'birth_date': _l('身份证号中的出生日期不正确，请核对'),
            'check_digit': _l('身份证号校验位不正确，请核对是否输错'),
        }[e.reason]
        raise DomainError(message, field='id_number') from None


def _phone(value, field: str) -> str | None:
    value = (value or '').strip()
    if not value:
        return None
    if _unsavable(value) or len(value) > 40:
        raise DomainError(_l('电话号码格式不正确'), field=field)
    number = auth_services.normalize_mobile(value) or normalize_phone(value)
    if number is None:
        raise DomainError(_l('电话号码格式不正确'), field=field)
    return number


def clean_fields(values: dict, *, current_other_phone: str | None = None) -> dict:
    """Check and normalise the resident fields present in ``values`` (the others are left out).

    A mobile is normalised ('+86 138-0013-8000', full-width digits -> '13800138000'); a landline typed as the
    mobile goes to ``other_phone`` when that is free; an ID number is checked by GB 11643 and stored upper case.
    Raises DomainError naming the field.
    """
    out = {}
    for field in ('name', 'emergency_contact', 'note'):
        if field in values:
            out[field] = _text(values[field], field, required=field == 'name')
    if 'id_number' in values:
        out['id_number'] = _id_number(values['id_number'])
    if 'emergency_phone' in values:
        out['emergency_phone'] = _phone(values['emergency_phone'], 'emergency_phone')
    if 'other_phone' in values:
        out['other_phone'] = _phone(values['other_phone'], 'other_phone')
    if 'mobile' in values:
        raw = (values['mobile'] or '').strip()
        mobile = auth_services.normalize_mobile(raw) if raw else None
        if raw and mobile is None:
            landline = normalize_phone(raw) if not _unsavable(raw) else None
            other_free = not out.get('other_phone') and ('other_phone' in values or not current_other_phone)
            if landline is None or not other_free:
                raise DomainError(_l('请填写 11 位中国大陆手机号；座机请填在“其他电话”'), field='mobile')
            out['other_phone'] = landline
        out['mobile'] = mobile
    return out


def _role(role) -> str:
    if role not in ROLES:
        raise DomainError(_l('请选择身份：业主、租户或家属'), field='role')
    return role


def _check_date(value: date | None, field: str) -> date | None:
    if value is not None and not (date(1900, 1, 1) <= value <= date(2199, 12, 31)):
        raise DomainError(_l('日期不正确'), field=field)
    return value


# --- rooms by address --------------------------------------------------------------------------------------

def _escape_like(text: str) -> str:
    return text.replace('\\', '\\\\').replace('%', '\\%').replace('_', '\\_')


def _room_condition(text: str):
    """A condition on Room for an address in any usual form; None when ``text`` isn't an address.

    '3-2-1201' and '3栋2单元1201' match the code; '3-1201' also every unit of building 3; a bare '1201' every
    room numbered 1201.
    """
    address = parse_room_address(text)
    if address is None:
        return None
    number = _escape_like(address.number)
    if address.building is None:
        if address.unit:
            return Room.code.like(f'%-{_escape_like(address.unit)}-{number}', escape='\\')
        return sa.func.upper(Room.number) == address.number
    if address.unit:
        return Room.code == address.code
    return sa.or_(Room.code == address.code,
                  Room.code.like(f'{_escape_like(address.building)}-%-{number}', escape='\\'))


def find_room(text: str) -> Room:
    """The one room an address names (through the scoped session). Raises DomainError(field='room')."""
    text = (text or '').strip()[:80]
    if not text:
        raise DomainError(_l('请填写房号，如 3-2-1201 或 3栋2单元1201'), field='room')
    condition = _room_condition(text) if not _unsavable(text) else None
    if condition is None:
        raise DomainError(_l('看不懂房号“%(room)s”，请按 3-2-1201 或 3栋2单元1201 的格式填写', room=text),
                          field='room')
    rooms = db.session.execute(
        sa.select(Room).where(condition).options(joinedload(Room.building), joinedload(Room.unit))
        .order_by(Room.code).limit(6)).scalars().all()
    if not rooms:
        raise DomainError(_l('找不到房屋“%(room)s”，请核对房号，或先在楼栋房屋中建好这间房', room=text),
                          field='room')
    address = parse_room_address(text)
    exact = [room for room in rooms if room.code == address.code]
    if len(rooms) > 1 and len(exact) != 1:
        codes = '、'.join(room.code for room in rooms[:5])
        raise DomainError(_l('“%(room)s”对应多间房屋（%(codes)s），请写完整的楼栋、单元和房号', room=text,
                             codes=codes), field='room')
    room = exact[0] if exact else rooms[0]
    if not room.active or room.merged_into_id is not None:
        raise DomainError(_l('房屋 %(room)s 已停用或已合并，不能再登记住户', room=room.code), field='room')
    return room


# --- residents and their rooms -----------------------------------------------------------------------------

def create_resident(values: dict, *, room_text: str, role: str, moved_in_on: date | None, today: date) -> Resident:
    """A new resident living in one room from ``moved_in_on`` (default ``today``) as ``role``.

    ``values`` are the resident fields (name, mobile, other_phone, id_number, emergency_contact,
    emergency_phone, note). Everything is checked before anything is added: an error saves nothing.
    """
    fields = clean_fields({key: values.get(key) for key in ('name', 'mobile', 'other_phone', 'id_number',
                                                           'emergency_contact', 'emergency_phone', 'note')})
    role = _role(role)
    moved_in_on = _check_date(moved_in_on, 'moved_in_on') or today
    room = find_room(room_text)
    resident = Resident(**fields)
    db.session.add(resident)
    db.session.add(Occupancy(resident=resident, room=room, role=role, moved_in_on=moved_in_on))
    _room_occupied(room, True)
    return resident


def update_resident(resident: Resident, values: dict) -> Resident:
    """Change the fields present in ``values`` (None or '' clears an optional one)."""
    fields = clean_fields(values, current_other_phone=resident.other_phone)
    for key, value in fields.items():
        setattr(resident, key, value)
    return resident


def add_occupancy(resident: Resident, *, room_text: str, role: str, moved_in_on: date | None,
                  today: date) -> Occupancy:
    """Link a resident to one more room. Raises DomainError when they already live there."""
    role = _role(role)
    moved_in_on = _check_date(moved_in_on, 'moved_in_on') or today
    room = find_room(room_text)
    already = db.session.execute(sa.select(Occupancy.id).where(
        Occupancy.resident_id == resident.id, Occupancy.room_id == room.id, Occupancy.moved_out_on.is_(None))).first()
    if already:
        raise DomainError(_l('%(name)s 已经是 %(room)s 的住户', name=resident.name, room=room.code), field='room')
    occupancy = Occupancy(resident=resident, room=room, role=role, moved_in_on=moved_in_on)
    db.session.add(occupancy)
    _room_occupied(room, True)
    return occupancy


def end_occupancy(occupancy: Occupancy, *, moved_out_on: date | None, today: date) -> int:
    """Move out: set ``moved_out_on`` (default ``today``), keep the row, and in the same transaction revoke the
    resident's access grants when they live in no room any more. Returns how many grants were revoked."""
    if occupancy.moved_out_on is not None:
        raise DomainError(_l('这条入住记录已于 %(day)s 迁出', day=occupancy.moved_out_on.isoformat()),
                          field='moved_out_on')
    moved_out_on = _check_date(moved_out_on, 'moved_out_on') or today
    if moved_out_on > today:
        raise DomainError(_l('迁出日期不能晚于今天'), field='moved_out_on')
    if occupancy.moved_in_on and moved_out_on < occupancy.moved_in_on:
        raise DomainError(_l('迁出日期不能早于入住日期 %(day)s', day=occupancy.moved_in_on.isoformat()),
                          field='moved_out_on')
    occupancy.moved_out_on = moved_out_on
    db.session.flush()
    still_lived_in = db.session.execute(sa.select(Occupancy.id).where(
        Occupancy.room_id == occupancy.room_id, Occupancy.moved_out_on.is_(None))).first()
    _room_occupied(occupancy.room, bool(still_lived_in))
    return access.revoke_if_moved_out(occupancy.resident_id)


def _room_occupied(room: Room, occupied: bool) -> None:
    """Keep the room's status true to who lives there (a renovating room stays renovating), with its history."""
    status = {(True, 'vacant'): 'occupied', (False, 'occupied'): 'vacant'}.get((occupied, room.status))
    if status:
        db.session.add(RoomEvent(room_id=room.id, kind='status', detail={'from': room.status, 'to': status}))
        room.status = status


def occupancy_of(resident: Resident, occupancy_id) -> Occupancy | None:
    """One of this resident's occupancies (scoped), or None."""
    try:
        ident = int(occupancy_id)
    except (TypeError, ValueError):
        return None
    if not 0 < ident <= MAX_ID:
        return None
    return db.session.execute(sa.select(Occupancy).where(
        Occupancy.id == ident, Occupancy.resident_id == resident.id)).scalar_one_or_none()


def vehicle_of(resident: Resident, vehicle_id) -> Vehicle | None:
    try:
        ident = int(vehicle_id)
    except (TypeError, ValueError):
        return None
    if not 0 < ident <= MAX_ID:
        return None
    return db.session.execute(sa.select(Vehicle).where(
        Vehicle.id == ident, Vehicle.resident_id == resident.id)).scalar_one_or_none()


def add_vehicle(resident: Resident, *, plate: str, note: str | None = None) -> Vehicle:
    """Register a plate ('浙a 12345' -> '浙A12345'). A plate is registered once per project."""
    normalized = normalize_plate(plate if isinstance(plate, str) else '')
    if normalized is None:
        raise DomainError(_l('车牌号格式不正确，如 浙A12345 或 沪AD12345'), field='plate')
    note = (note or '').strip() or None
    if note and (len(note) > 100 or _unsavable(note)):
        raise DomainError(_l('备注不能超过 100 个字'), field='note')
    owner = db.session.execute(sa.select(Resident.name).join(Vehicle, Vehicle.resident_id == Resident.id)
                               .where(Vehicle.plate == normalized)).scalar_one_or_none()
    if owner is not None:
        raise DomainError(_l('车牌 %(plate)s 已登记在 %(name)s 名下', plate=normalized, name=owner), field='plate')
    vehicle = Vehicle(resident=resident, plate=normalized, note=note)
    db.session.add(vehicle)
    return vehicle


def remove_vehicle(vehicle: Vehicle) -> None:
    db.session.delete(vehicle)


# --- personal information ----------------------------------------------------------------------------------

def masked_info(resident: Resident) -> dict:
    """Personal values as everyone but an admin on a resident's detail sees them."""
    return {'mobile': mask_phone(resident.mobile), 'other_phone': mask_phone(resident.other_phone),
            'id_number': mask_id_number(resident.id_number), 'emergency_phone': mask_phone(resident.emergency_phone)}


def reveal_info(resident: Resident, user: User, channel: str) -> dict:
    """The full values for an admin, writing one PersonalInfoAccess row per value shown (PIPL Art. 51)."""
    if user.role != 'admin':
        raise DomainError(_l('只有管理员可以查看完整的个人信息'))
    values = {field: getattr(resident, field) or '' for field in PERSONAL_FIELDS}
    for field, value in values.items():
        if value:
            db.session.add(PersonalInfoAccess(resident_id=resident.id, user_id=user.id, field=field, channel=channel))
    return values


def info_for(resident: Resident, user: User, channel: str) -> tuple[dict, bool]:
    """(values, full): full values for an admin (logged), masked for everyone else."""
    if user.role == 'admin':
        return reveal_info(resident, user, channel), True
    return masked_info(resident), False


def access_grants(resident: Resident) -> list[AccessGrant]:
    return db.session.execute(sa.select(AccessGrant).where(AccessGrant.resident_id == resident.id)
                              .options(joinedload(AccessGrant.gate))
                              .order_by(AccessGrant.revoked_at.is_not(None), AccessGrant.granted_at.desc())
                              ).scalars().all()


def load_resident(resident_id) -> Resident | None:
    """One resident with rooms (history) and vehicles, scoped; None when not of this project."""
    try:
        ident = int(resident_id)
    except (TypeError, ValueError):
        return None
    if not 0 < ident <= MAX_ID:
        return None
    return db.session.execute(sa.select(Resident).where(Resident.id == ident).options(*LIST_OPTIONS)
                              ).scalar_one_or_none()


# --- the list: filters and search --------------------------------------------------------------------------

@dataclass(frozen=True)
class ResidentFilters:
    """What the residents list (and its export) is narrowed to. ``status``: current, moved_out or all."""

    q: str = ''
    building_id: int | None = None
    role: str | None = None
    status: str = 'current'
    has_vehicle: bool | None = None

    @classmethod
    def of(cls, *, q=None, building_id=None, role=None, status=None, has_vehicle=None) -> ResidentFilters:
        """Checked filters from loose values; raises DomainError naming the bad one."""
        q = _CONTROL.sub('', unicodedata.normalize('NFKC', str(q or ''))).strip()
        if _unsavable(q):
            raise DomainError(_l('含有无法保存的控制字符，请删除后重试'), field='q')
        if len(q) > 100:
            raise DomainError(_l('搜索内容不能超过 100 个字'), field='q')
        if building_id in (None, ''):
            building_id = None
        else:
            try:
                building_id = int(building_id)
            except (TypeError, ValueError):
                raise DomainError(_l('请选择楼栋'), field='building_id') from None
            if not 0 < building_id <= MAX_ID:
                raise DomainError(_l('请选择楼栋'), field='building_id')
        role = role or None
        if role is not None and role not in ROLES:
            raise DomainError(_l('请选择身份：业主、租户或家属'), field='role')
        status = status or 'current'
        if status not in STATUSES:
            raise DomainError(_l('请选择在住或已迁出'), field='status')
        if has_vehicle in ('', None):
            has_vehicle = None
        elif has_vehicle in ('yes', 'true', '1', True):
            has_vehicle = True
        elif has_vehicle in ('no', 'false', '0', False):
            has_vehicle = False
        else:
            raise DomainError(_l('请选择是否有车辆'), field='has_vehicle')
        return cls(q=q, building_id=building_id, role=role, status=status, has_vehicle=has_vehicle)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True, separators=(',', ':'))

    @classmethod
    def from_json(cls, text: str) -> ResidentFilters:
        try:
            data = json.loads(text)
        except (TypeError, ValueError):
            raise DomainError(_l('导出条件不正确')) from None
        if not isinstance(data, dict):
            raise DomainError(_l('导出条件不正确'))
        return cls.of(**{key: data.get(key) for key in ('q', 'building_id', 'role', 'status', 'has_vehicle')})


LIST_OPTIONS = (
    selectinload(Resident.occupancies).joinedload(Occupancy.room).joinedload(Room.building),
    selectinload(Resident.occupancies).joinedload(Occupancy.room).joinedload(Room.unit),
    selectinload(Resident.vehicles),
)


def occupancy_conditions(filters: ResidentFilters) -> list:
    """Conditions on Occupancy (joined to Room) that the building, role and status filters put."""
    conditions = []
    if filters.building_id is not None:
        conditions.append(Room.building_id == filters.building_id)
    if filters.role:
        conditions.append(Occupancy.role == filters.role)
    if filters.status == 'current':
        conditions.append(Occupancy.moved_out_on.is_(None))
    elif filters.status == 'moved_out':
        conditions.append(Occupancy.moved_out_on.is_not(None))
    return conditions


def _occupancy_exists(*conditions):
    return (sa.select(Occupancy.id).join(Room, Room.id == Occupancy.room_id)
            .where(Occupancy.resident_id == Resident.id, *conditions).exists())


def _search_condition(q: str, occ_conditions: list):
    """Name contains q; or the mobile is q in any typed form, or ends with its digits (last 4 and more); or a
    room of the resident (under the other filters) has the address q."""
    either = [Resident.name.ilike(f'%{_escape_like(q)}%', escape='\\')]
    mobile = auth_services.normalize_mobile(q)
    digits = re.sub(r'[\s\-()（）+]', '', q)
    if mobile:
        either.append(Resident.mobile == mobile)
    elif digits.isdigit() and 4 <= len(digits) <= 11:
        either.append(Resident.mobile.like(f'%{digits}', escape='\\'))
        either.append(Resident.other_phone.like(f'%{digits}%', escape='\\'))
    room = _room_condition(q)
    if room is not None:
        either.append(_occupancy_exists(room, *occ_conditions))
    return sa.or_(*either)


def resident_select(filters: ResidentFilters, *, ids_only: bool = False):
    """The residents matching ``filters``, by name; with their rooms, buildings, units and vehicles loaded in a
    fixed number of queries (never one per row). ``ids_only``: just their ids, in the same order."""
    statement = sa.select(Resident.id if ids_only else Resident)
    occ = occupancy_conditions(filters)
    if occ:
        statement = statement.where(_occupancy_exists(*occ))
    if filters.status == 'moved_out':
        statement = statement.where(~_occupancy_exists(Occupancy.moved_out_on.is_(None)))
    if filters.has_vehicle is not None:
        has = sa.select(Vehicle.id).where(Vehicle.resident_id == Resident.id).exists()
        statement = statement.where(has if filters.has_vehicle else ~has)
    if filters.q:
        statement = statement.where(_search_condition(filters.q, occ))
    statement = statement.order_by(Resident.name, Resident.id)
    return statement if ids_only else statement.options(*LIST_OPTIONS)


def shown_occupancies(resident: Resident, filters: ResidentFilters) -> list[Occupancy]:
    """A resident's rooms as the list shows them: current ones first, then history (status 'current': current
    only)."""
    rows = sorted(resident.occupancies, key=lambda o: (o.moved_out_on is not None, o.room.code))
    if filters.status == 'current':
        rows = [o for o in rows if o.moved_out_on is None]
    return rows


# --- portal accounts and the resident's own view -----------------------------------------------------------

def open_portal_account(resident: Resident) -> tuple[User, str | None]:
    """Give a resident a portal login: link the resident user with the same mobile, or invite a new one.

    Returns (user, raw invitation token or None when an existing user was linked). Raises DomainError when the
    resident has an account already, has no mobile, or the mobile belongs to a staff login.
    """
    if resident.user_id is not None:
        raise DomainError(_l('%(name)s 已开通住户账号', name=resident.name))
    if not resident.mobile:
        raise DomainError(_l('请先为 %(name)s 填写手机号，住户用手机号登录', name=resident.name), field='mobile')
    user = db.session.execute(sa.select(User).where(User.mobile == resident.mobile)).scalar_one_or_none()
    if user is not None:
        if user.role != 'resident':
            raise DomainError(_l('这个手机号已是员工账号，不能作为住户账号'), field='mobile')
        resident.user_id = user.id
        return user, None
    user, raw = auth_services.invite_user(name=resident.name, mobile=resident.mobile, role='resident',
                                          allowed_duties=set())
    db.session.flush()
    resident.user_id = user.id
    return user, raw


def my_occupancies_select(user_id: int):
    """The current room links of the residents a portal user is (never ended ones), by room code."""
    return (sa.select(Occupancy).join(Resident, Resident.id == Occupancy.resident_id)
            .join(Room, Room.id == Occupancy.room_id)
            .where(Resident.user_id == user_id, Occupancy.moved_out_on.is_(None))
            .options(joinedload(Occupancy.room).joinedload(Room.building), joinedload(Occupancy.room)
                     .joinedload(Room.unit))
            .order_by(Room.code, Occupancy.id))


def my_resident_ids(user_id: int) -> set[int]:
    return set(db.session.execute(sa.select(Resident.id).where(Resident.user_id == user_id)).scalars())


def households(room_ids: list[int]) -> dict[int, list[dict]]:
    """room id -> its current occupants as a resident may see them: name, role, masked mobile."""
    if not room_ids:
        return {}
    rows = db.session.execute(
        sa.select(Occupancy).where(Occupancy.room_id.in_(room_ids), Occupancy.moved_out_on.is_(None))
        .options(joinedload(Occupancy.resident)).order_by(Occupancy.role, Occupancy.id)).scalars().all()
    order = {role: i for i, role in enumerate(ROLES)}
    out: dict[int, list[dict]] = {room_id: [] for room_id in room_ids}
    for occupancy in sorted(rows, key=lambda o: (order[o.role], o.id)):
        out[occupancy.room_id].append({'resident_id': occupancy.resident_id, 'name': occupancy.resident.name,
                                       'role': occupancy.role, 'mobile': mask_phone(occupancy.resident.mobile)})
    return out
