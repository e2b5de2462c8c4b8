"""The property structure of a project: buildings (楼栋) → units (单元) → rooms (房号), and parking spaces (车位).

Services take objects, ids and plain values (never ``request``), flush but never commit (the view or job
commits once), and refuse with a ``DomainError`` whose message says what to fix. Every change to a room is
recorded as a ``RoomEvent``; rooms are never deleted (a merged room stays, inactive, with its history).

Areas (建筑面积) are ``Decimal`` with two places end to end; they become strings ('89.50') only at the edges.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, selectinload

from ..errors import DomainError
from ..extensions import db
from ..models_base import MAX_ID, utcnow
from .addresses import building_key, clean, parse_room_address, room_code, strip_suffix
from .models import ROOM_STATUSES, ROOM_TYPES, SPACE_KINDS, Building, ParkingSpace, Room, RoomEvent, Unit

#: one pattern creates at most this many rooms (a mistyped 180 floors should not make 14,400 rooms)
PATTERN_LIMIT = 5000
MAX_UNITS, MAX_FLOORS, MAX_ROOMS_PER_FLOOR = 99, 200, 999
#: Numeric(8, 2)
AREA_MAX = Decimal('999999.99')
TWO_PLACES = Decimal('0.01')
MAX_PLATES = 10
#: a mainland plate (GA 36): province, issuing letter (no I/O), 4-5 characters, then a digit/letter or 挂学警港澳
PLATE_RE = re.compile(r'^[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-HJ-NP-Z]'
                      r'[A-HJ-NP-Z0-9]{4,5}[A-HJ-NP-Z0-9挂学警港澳]$')
#: a room number as on the door, after cleaning: '1201', '1201A', 'B12'
NUMBER_RE = re.compile(r'^[0-9A-Z]{1,20}$')
CONTROL_RE = re.compile(r'[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]')
_LIST_SPLIT_RE = re.compile(r'[,，;；、\n\r]+')

ROOM_STATUS_LABELS = {'occupied': _l('已入住'), 'vacant': _l('空置'), 'renovating': _l('装修中')}
ROOM_TYPE_LABELS = {'residence': _l('住宅'), 'shop': _l('商铺'), 'office': _l('办公'), 'storage': _l('储藏室')}
SPACE_KIND_LABELS = {'owned': _l('产权车位'), 'rented': _l('租赁车位'), 'temporary': _l('临时车位')}


class _Unset:
    def __repr__(self) -> str:
        return 'UNSET'


#: "not given" for partial updates (None means "clear it")
UNSET = _Unset()


# --- pure helpers: areas, plates, numbers, text ------------------------------------------------------------------

def parse_area(value, field: str = 'area_m2') -> Decimal | None:
    """'89.5', '89.50', '８９.５０', '89.50㎡' -> Decimal('89.50'); '' or None -> None.

    Raises DomainError (with ``field``) for text that is not a number, a negative or zero area, more than two
    decimal places, or more than 999999.99 m². Floats are refused: an area is typed, not computed.
    """
    if value is None:
        return None
    if isinstance(value, float) or isinstance(value, bool):
        raise DomainError(_l('面积请写成文字形式的数字，如 "89.50"'), field=field)
    text = unicodedata.normalize('NFKC', str(value)).strip().replace(' ', '')
    for suffix in ('平方米', '平米', 'm2', 'M2'):
        text = text.removesuffix(suffix)
    if text == '':
        return None
    if not re.fullmatch(r'[+-]?[0-9]{1,12}(\.[0-9]{1,12})?', text):
        raise DomainError(_l('面积请填写数字，如 89.50'), field=field)
    try:
        number = Decimal(text)
    except InvalidOperation:  # the pattern makes this unreachable; never a 500 all the same
        raise DomainError(_l('面积请填写数字，如 89.50'), field=field) from None
    if number < 0:
        raise DomainError(_l('面积不能为负数'), field=field)
    if number.as_tuple().exponent < -2:
        raise DomainError(_l('面积最多保留两位小数，如 89.50'), field=field)
    if number == 0:
        raise DomainError(_l('面积必须大于 0'), field=field)
    if number > AREA_MAX:
        raise DomainError(_l('面积不能超过 999999.99 平方米'), field=field)
    return number.quantize(TWO_PLACES)


def format_area(value: Decimal | None) -> str | None:
    """Decimal('89.5') -> '89.50' (how areas leave the system: JSON, pages, exports)."""
    return None if value is None else str(Decimal(value).quantize(TWO_PLACES))


def normalize_plate(text: str) -> str:
    """'浙a·12345', '浙A 12345', '浙Ａ.12345' -> '浙A12345': upper case, half-width, no spaces or dots."""
    text = unicodedata.normalize('NFKC', str(text or '')).upper()
    return re.sub(r'[\s.·•・]', '', text)


def plate_ok(plate: str) -> bool:
    return bool(PLATE_RE.match(plate))


def parse_plates(value, field: str = 'plates') -> list[str]:
    """A list of plates, or text with one per line / separated by commas -> normalised, distinct, validated."""
    items = value if isinstance(value, list | tuple) else _LIST_SPLIT_RE.split(str(value or ''))
    plates: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise DomainError(_l('车牌号必须是文字'), field=field)
        plate = normalize_plate(item)
        if not plate:
            continue
        if not plate_ok(plate):
            raise DomainError(_l('车牌号「%(plate)s」格式不对，应如 浙A12345 或新能源 沪AD12345', plate=plate[:20]),
                              field=field)
        if plate not in plates:
            plates.append(plate)
    if len(plates) > MAX_PLATES:
        raise DomainError(_l('一个车位最多登记 %(n)s 个车牌', n=MAX_PLATES), field=field)
    return plates


def clean_number(text: str, field: str = 'number') -> str:
    """'1201室', '１２０１', ' 1201a ' -> '1201' / '1201A'; refuses anything but letters and digits."""
    number = strip_suffix(str(text or ''), ('室', '房', '号')).upper()
    if not NUMBER_RE.fullmatch(number):
        raise DomainError(_l('房号只能包含数字和字母（最多 20 个），如 1201、1201A'), field=field)
    return number


def check_text(value: str | None, *, field: str, label, max_length: int, required: bool = False) -> str | None:
    """Stripped text without control characters; '' -> None. Raises DomainError naming the field."""
    text = (value or '').strip()
    if CONTROL_RE.search(text):
        raise DomainError(_l('%(label)s含有无法保存的控制字符', label=label), field=field)
    if not text:
        if required:
            raise DomainError(_l('请填写%(label)s', label=label), field=field)
        return None
    if len(text) > max_length:
        raise DomainError(_l('%(label)s最多 %(n)s 个字', label=label, n=max_length), field=field)
    return text


# --- the tenant's settings ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PropertySettings:
    """The room types (code, name) and room tags a project uses, from its delivery template."""

    room_types: tuple[tuple[str, str], ...]
    room_tags: tuple[str, ...]

    @property
    def type_codes(self) -> tuple[str, ...]:
        return tuple(code for code, _ in self.room_types)

    @property
    def default_type(self) -> str:
        return self.room_types[0][0] if self.room_types else 'residence'

    def type_name(self, code: str):
        return dict(self.room_types).get(code) or ROOM_TYPE_LABELS.get(code, code)


def property_settings(tenant) -> PropertySettings:
    section = (getattr(tenant, 'settings', None) or {}).get('property') or {}
    types = tuple((t['code'], t['name']) for t in section.get('room_types') or []
                  if isinstance(t, dict) and t.get('code') in ROOM_TYPES)
    if not types:
        types = tuple((code, str(ROOM_TYPE_LABELS[code])) for code in ROOM_TYPES)
    tags = tuple(tag for tag in section.get('room_tags') or [] if isinstance(tag, str))
    return PropertySettings(types, tags)


# --- buildings from a pattern --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BuildingPattern:
    """E.g. 2 units × 18 floors × 4 rooms, numbered floor*100 + position: 101…1804 in each unit.

    ``units = 0`` is a building without units (an office tower): rooms sit directly in the building.
    ``areas`` is empty, one area for every position, or one area per position on a floor.
    """

    name: str
    units: int
    floors: int
    rooms_per_floor: int
    numbering: int = 100
    has_lift: bool = True
    areas: tuple[Decimal | None, ...] = ()
    type: str = 'residence'


@dataclass(frozen=True)
class PlannedRoom:
    unit: str | None
    unit_order: int
    floor: int
    number: str
    code: str
    area_m2: Decimal | None


@dataclass
class Plan:
    pattern: BuildingPattern
    name: str
    count: int
    unit_names: list[str] = field(default_factory=list)

    def rooms(self) -> list[PlannedRoom]:
        p = self.pattern
        areas = list(p.areas) * p.rooms_per_floor if len(p.areas) == 1 else list(p.areas)
        units = [(name, order) for order, name in enumerate(self.unit_names, 1)] or [(None, 0)]
        rooms = []
        for unit, order in units:
            for floor in range(1, p.floors + 1):
                for position in range(1, p.rooms_per_floor + 1):
                    number = str(floor * p.numbering + position)
                    rooms.append(PlannedRoom(unit, order, floor, number, room_code(self.name, unit, number),
                                             areas[position - 1] if areas else None))
        return rooms

    @property
    def first_code(self) -> str:
        p = self.pattern
        return room_code(self.name, self.unit_names[0] if self.unit_names else None, str(p.numbering + 1))

    @property
    def last_code(self) -> str:
        p = self.pattern
        last = str(p.floors * p.numbering + p.rooms_per_floor)
        return room_code(self.name, self.unit_names[-1] if self.unit_names else None, last)


def check_building_name(name: str, field: str = 'name') -> str:
    name = check_text(name, field=field, label=_l('楼栋名称'), max_length=40, required=True)
    key = building_key(name)
    if not key or '-' in key:
        raise DomainError(_l('楼栋名称不能包含「-」，请写成 1栋、3号楼、A座 这样'), field=field)
    if len(key) > 20:
        raise DomainError(_l('楼栋编号太长了，最多 20 个字'), field=field)
    return name


def plan_building(pattern: BuildingPattern) -> Plan:
    """Check a pattern and say what it would create. Pure: no database. Raises DomainError."""
    name = check_building_name(pattern.name)
    if not 0 <= pattern.units <= MAX_UNITS:
        raise DomainError(_l('单元数应在 0 到 %(n)s 之间（没有单元的写字楼填 0）', n=MAX_UNITS), field='units')
    if not 1 <= pattern.floors <= MAX_FLOORS:
        raise DomainError(_l('层数应在 1 到 %(n)s 之间', n=MAX_FLOORS), field='floors')
    if not 1 <= pattern.rooms_per_floor <= MAX_ROOMS_PER_FLOOR:
        raise DomainError(_l('每层户数应在 1 到 %(n)s 之间', n=MAX_ROOMS_PER_FLOOR), field='rooms_per_floor')
    if pattern.numbering not in (100, 1000):
        raise DomainError(_l('房号编法只能是 楼层×100（如 1201）或 楼层×1000（如 12001）'), field='numbering')
    if pattern.rooms_per_floor >= pattern.numbering:
        raise DomainError(_l('每层 %(n)s 户时，房号要用 楼层×1000 的编法（如 12001），否则房号会重复',
                             n=pattern.rooms_per_floor), field='numbering')
    if pattern.type not in ROOM_TYPES:
        raise DomainError(_l('请选择房屋类型'), field='type')
    if len(pattern.areas) not in (0, 1, pattern.rooms_per_floor):
        raise DomainError(_l('面积请填 1 个（每户相同）或 %(n)s 个（每层每个位置一个），现在是 %(got)s 个',
                             n=pattern.rooms_per_floor, got=len(pattern.areas)), field='areas')
    count = max(pattern.units, 1) * pattern.floors * pattern.rooms_per_floor
    if count > PATTERN_LIMIT:
        raise DomainError(_l('这样会生成 %(count)s 间房，一次最多 %(limit)s 间。请检查单元数、层数和每层户数',
                             count=count, limit=PATTERN_LIMIT), field='floors')
    units = [f'{i}单元' for i in range(1, pattern.units + 1)]
    return Plan(pattern, name, count, units)


def _check_building_unique(name: str, exclude_id: int | None = None, field: str = 'name') -> None:
    """Two buildings may not share a name, nor a number ('1栋' and '1号楼' would give the same room codes)."""
    key = building_key(name)
    rows = db.session.execute(sa.select(Building.id, Building.name)).all()
    for building_id, other in rows:
        if building_id == exclude_id:
            continue
        if other == name:
            raise DomainError(_l('已经有叫「%(name)s」的楼栋了', name=name), field=field)
        if building_key(other) == key:
            raise DomainError(_l('「%(name)s」和已有的「%(other)s」编号相同（都是 %(key)s），房号会重复，请换一个名称',
                                 name=name, other=other, key=key), field=field)


def preview_building(pattern: BuildingPattern, allowed_types=ROOM_TYPES) -> Plan:
    """What ``create_building`` would do, with every check it makes (also against existing buildings)."""
    plan = plan_building(pattern)
    if pattern.type not in allowed_types:
        raise DomainError(_l('本项目没有这种房屋类型'), field='type')
    _check_building_unique(plan.name)
    return plan


def create_building(pattern: BuildingPattern, *, by_user_id: int | None, allowed_types=ROOM_TYPES) -> Building:
    """Create a building with its units and rooms in the caller's transaction, with bulk inserts.

    Each room gets its canonical code and a 'created' RoomEvent. Refuses (DomainError) a pattern of more than
    PATTERN_LIMIT rooms, a bad pattern, or a building name (or number) the project already has; nothing is
    written then.
    """
    plan = preview_building(pattern, allowed_types)
    key = building_key(plan.name)
    building = Building(name=plan.name, has_lift=pattern.has_lift, floors=pattern.floors,
                        sort_order=int(key) if key.isdigit() and len(key) < 9 else 10**6)
    db.session.add(building)
    db.session.add_all([Unit(building=building, name=name, sort_order=order)
                        for order, name in enumerate(plan.unit_names, 1)])
    _flush_or_refuse(_l('已经有同名或同编号的楼栋了，请换一个名称'), 'name')
    unit_ids = {unit.name: unit.id for unit in building.units}
    # Rows inherit the tenant of their building (stamped by the flush above): bulk INSERTs skip the ORM's
    # per-object flush, which on SQLite would issue one INSERT per room to read its id back.
    owner = {'tenant_id': building.tenant_id, 'building_id': building.id}
    now = utcnow()
    db.session.execute(sa.insert(Room), [
        {**owner, 'unit_id': unit_ids.get(r.unit), 'number': r.number, 'code': r.code, 'floor': r.floor,
         'area_m2': r.area_m2, 'type': pattern.type, 'status': 'vacant', 'tags': [], 'active': True,
         'created_at': now} for r in plan.rooms()])
    room_ids = db.session.execute(sa.select(Room.id).where(Room.building_id == building.id)).scalars().all()
    detail = {'pattern': f'{pattern.units}×{pattern.floors}×{pattern.rooms_per_floor}', 'building': plan.name}
    db.session.execute(sa.insert(RoomEvent), [
        {'tenant_id': building.tenant_id, 'room_id': room_id, 'kind': 'created', 'detail': detail,
         'by_user_id': by_user_id, 'at': now} for room_id in room_ids])
    return building


def _flush_or_refuse(message, field: str) -> None:
    """Flush; a unique constraint another request won meanwhile becomes a DomainError (the transaction is over)."""
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise DomainError(message, field=field) from None


def update_building(building: Building, *, name: str, has_lift: bool, note: str | None) -> Building:
    """Rename a building (every room's code follows) or change whether it has lifts."""
    name = check_building_name(name)
    note = check_text(note, field='note', label=_l('备注'), max_length=200)
    if name != building.name:
        _check_building_unique(name, exclude_id=building.id)
        building.name = name
        rooms = db.session.execute(sa.select(Room).where(Room.building_id == building.id)
                                   .options(selectinload(Room.unit))).scalars().all()
        for room in rooms:
            room.code = room_code(name, room.unit.name if room.unit else None, room.number)
    building.has_lift = bool(has_lift)
    building.note = note
    _flush_or_refuse(_l('已经有同名或同编号的楼栋了，请换一个名称'), 'name')
    return building


def room_counts(building_ids: list[int]) -> dict[int, dict[str, int]]:
    """Active rooms per building and status, in one query: {building_id: {'occupied': n, ..., 'total': n}}."""
    counts = {bid: {**dict.fromkeys(ROOM_STATUSES, 0), 'total': 0} for bid in building_ids}
    if not building_ids:
        return counts
    rows = db.session.execute(
        sa.select(Room.building_id, Room.status, sa.func.count(Room.id))
        .where(Room.building_id.in_(building_ids), Room.active.is_(True))
        .group_by(Room.building_id, Room.status)).all()
    for building_id, status, n in rows:
        counts[building_id][status] = n
        counts[building_id]['total'] += n
    return counts


def buildings_query() -> sa.Select:
    return (sa.select(Building).options(selectinload(Building.units))
            .order_by(Building.sort_order, Building.name, Building.id))


def units_rooms(building: Building, unit: Unit | None) -> list[Room]:
    """The active rooms of one unit (or of a building without units), top floor first, for the floor grid."""
    query = sa.select(Room).where(Room.building_id == building.id, Room.active.is_(True))
    query = query.where(Room.unit_id == unit.id) if unit else query.where(Room.unit_id.is_(None))
    return db.session.execute(query.order_by(Room.floor.desc(), sa.func.length(Room.number), Room.number)
                              ).scalars().all()


# --- finding rooms ------------------------------------------------------------------------------------------------

@dataclass
class RoomFilter:
    building_id: int | None = None
    unit_id: int | None = None
    status: str | None = None
    type: str | None = None
    tag: str | None = None
    q: str | None = None
    include_inactive: bool = False


def _like_escape(text: str) -> str:
    return text.replace('\\', '\\\\').replace('%', '\\%').replace('_', '\\_')


def search_condition(text: str):
    """Room codes matching what a person typed: '3-2-1201', '3栋2单元1201', '3号楼1201', '1201', '3栋'."""
    address = parse_room_address(text)
    if address is None:
        cleaned = _like_escape(clean(text).upper())
        key = _like_escape(building_key(text))
        return sa.or_(Room.code.like(f'%{cleaned}%', escape='\\'), Room.code.like(f'{key}-%', escape='\\'))
    number = _like_escape(address.number)
    if address.building is not None and address.unit is not None:
        return Room.code == address.code
    if address.building is not None:
        key = _like_escape(address.building)
        # '3-1201': building 3 without units, or room 1201 of any unit of building 3
        return sa.or_(Room.code == address.code, Room.code.like(f'{key}-%-{number}', escape='\\'))
    if address.unit is not None:
        return Room.code.like(f'%-{_like_escape(address.unit)}-{number}', escape='\\')
    return sa.or_(Room.code == address.number, Room.code.like(f'%-{number}', escape='\\'))


def tag_condition(tag: str):
    """Rooms whose JSON tag list holds ``tag`` (the JSON functions differ between SQLite and PostgreSQL)."""
    if db.session.get_bind().dialect.name == 'postgresql':
        from sqlalchemy.dialects.postgresql import JSONB

        return sa.cast(Room.tags, JSONB).contains([tag])
    each = sa.func.json_each(Room.tags).table_valued('value')
    return sa.select(1).select_from(each).where(each.c.value == tag).exists()


def rooms_query(f: RoomFilter) -> sa.Select:
    """Rooms with their building and unit loaded (one query per page), in building/unit/floor/number order."""
    query = (sa.select(Room).join(Room.building).outerjoin(Room.unit)
             .options(contains_eager(Room.building), contains_eager(Room.unit)))
    if not f.include_inactive:
        query = query.where(Room.active.is_(True))
    if f.building_id:
        query = query.where(Room.building_id == f.building_id)
    if f.unit_id:
        query = query.where(Room.unit_id == f.unit_id)
    if f.status:
        query = query.where(Room.status == f.status)
    if f.type:
        query = query.where(Room.type == f.type)
    if f.tag:
        query = query.where(tag_condition(f.tag))
    if f.q and f.q.strip():
        query = query.where(search_condition(f.q))
    return query.order_by(Building.sort_order, Building.name, Unit.sort_order, Room.floor,
                          sa.func.length(Room.number), Room.number, Room.id)


def find_room(room_id) -> Room | None:
    """A room of this project by id (a form's or body's value), or None: ids out of range are just missing."""
    try:
        room_id = int(room_id)
    except (TypeError, ValueError):
        return None
    if not 0 < room_id <= MAX_ID:
        return None
    return db.session.execute(sa.select(Room).where(Room.id == room_id)).scalar_one_or_none()


def room_by_address(text: str, field: str = 'room') -> Room | None:
    """The room a typed address names ('3-2-1201', '3栋2单元1201'); '' -> None; DomainError when there is none."""
    text = (text or '').strip()
    if not text:
        return None
    address = parse_room_address(text)
    if address is None or address.code is None:
        raise DomainError(_l('请写完整的房号，如 3-2-1201 或 3栋2单元1201'), field=field)
    room = db.session.execute(sa.select(Room).where(Room.code == address.code)).scalar_one_or_none()
    if room is None:
        raise DomainError(_l('找不到房间 %(code)s', code=address.code), field=field)
    return room


def room_events(room: Room) -> sa.Select:
    return sa.select(RoomEvent).where(RoomEvent.room_id == room.id).order_by(RoomEvent.at.desc(), RoomEvent.id.desc())


# --- changing rooms -----------------------------------------------------------------------------------------------

def _event(room: Room, kind: str, detail: dict, by_user_id: int | None) -> RoomEvent:
    event = RoomEvent(room_id=room.id, kind=kind, detail=detail, by_user_id=by_user_id)
    db.session.add(event)
    return event


def _require_active(room: Room) -> None:
    if not room.active:
        raise DomainError(_l('房间 %(code)s 已合并到其他房间，不能再修改', code=room.code))


def update_room(room: Room, *, by_user_id: int | None, settings: PropertySettings, area_m2=UNSET, type=UNSET,
                status=UNSET, tags=UNSET, billing_starts_on=UNSET) -> Room:
    """Change a room's facts; only the keyword arguments given change (``None`` clears area / billing start).

    ``area_m2`` is a Decimal (parse it with ``parse_area``). ``type`` must be one of the project's room types
    (or the room's own), ``tags`` from the project's tag list (tags the room has already may stay). Records a
    'status_changed' event for a new status and an 'updated' event with the other changes.
    """
    _require_active(room)
    changes: dict[str, list] = {}
    if area_m2 is not UNSET:
        if area_m2 is not None and not isinstance(area_m2, Decimal):
            raise DomainError(_l('面积请填写数字，如 89.50'), field='area_m2')
        area = parse_area(area_m2) if area_m2 is not None else None
        if area != room.area_m2:
            changes['area_m2'] = [format_area(room.area_m2), format_area(area)]
            room.area_m2 = area
    if type is not UNSET:
        if type not in ROOM_TYPES or (type not in settings.type_codes and type != room.type):
            raise DomainError(_l('请从本项目的房屋类型中选择'), field='type')
        if type != room.type:
            changes['type'] = [room.type, type]
            room.type = type
    if tags is not UNSET:
        allowed = set(settings.room_tags) | set(room.tags or [])
        wanted = list(dict.fromkeys(tags or []))
        unknown = [tag for tag in wanted if tag not in allowed]
        if unknown:
            raise DomainError(_l('标签「%(tag)s」不在本项目的标签里', tag=str(unknown[0])[:20]), field='tags')
        if wanted != list(room.tags or []):
            changes['tags'] = [list(room.tags or []), wanted]
            room.tags = wanted
    if billing_starts_on is not UNSET:
        if billing_starts_on is not None and not isinstance(billing_starts_on, date):
            raise DomainError(_l('请填写日期，如 2024-01-31'), field='billing_starts_on')
        if billing_starts_on != room.billing_starts_on:
            changes['billing_starts_on'] = [_iso(room.billing_starts_on), _iso(billing_starts_on)]
            room.billing_starts_on = billing_starts_on
    old_status = room.status
    if status is not UNSET:
        if status not in ROOM_STATUSES:
            raise DomainError(_l('请选择房屋状态'), field='status')
        room.status = status
    if room.status != old_status:
        _event(room, 'status_changed', {'from': old_status, 'to': room.status}, by_user_id)
    if changes:
        _event(room, 'updated', {'changes': changes}, by_user_id)
    db.session.flush()
    return room


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def rename_room(room: Room, new_number: str, *, by_user_id: int | None) -> Room:
    """Give a room a new number (and so a new code); refuses a code the project has already (even merged)."""
    _require_active(room)
    number = clean_number(new_number)
    code = room_code(room.building.name, room.unit.name if room.unit else None, number)
    if code == room.code:
        raise DomainError(_l('新房号和原来的一样'), field='number')
    if db.session.execute(sa.select(Room.id).where(Room.code == code)).first():
        raise DomainError(_l('房号 %(code)s 已经存在', code=code), field='number')
    _event(room, 'renamed', {'from': room.code, 'to': code, 'from_number': room.number, 'to_number': number},
           by_user_id)
    room.number, room.code = number, code
    _flush_or_refuse(_l('房号 %(code)s 已经存在', code=code), 'number')
    return room


def rooms_in_unit_by_text(target: Room, text: str, field: str = 'rooms') -> list[Room]:
    """'1202, 1203' or '3-2-1202、3-2-1203' -> those rooms; bare numbers are looked up in the target's unit."""
    tokens = [t for t in re.split(r'[,，;；、\s]+', text or '') if t]
    if not tokens:
        raise DomainError(_l('请填写要并入的房号，如 1202、1203'), field=field)
    if len(tokens) > 50:
        raise DomainError(_l('一次最多合并 50 间房'), field=field)
    rooms = []
    for token in tokens:
        address = parse_room_address(token)
        if address is None:
            raise DomainError(_l('看不懂「%(text)s」，请填写房号，如 1202', text=token[:30]), field=field)
        code = address.code or room_code(target.building.name, target.unit.name if target.unit else None,
                                         address.number)
        room = db.session.execute(sa.select(Room).where(Room.code == code)).scalar_one_or_none()
        if room is None:
            raise DomainError(_l('找不到房间 %(code)s', code=code), field=field)
        rooms.append(room)
    return rooms


def merge_rooms(target: Room, others: list[Room], *, by_user_id: int | None) -> Room:
    """Merge rooms of the same building and unit into ``target`` (e.g. two flats bought and joined).

    The others keep their rows and history, become inactive with ``merged_into_id``; the target's area is the
    sum of all areas; their parking spaces move to the target. Every room gets a 'merged' event.
    """
    _require_active(target)
    seen: dict[int, Room] = {}
    for room in others:
        if room.id == target.id:
            raise DomainError(_l('不能把房间并入它自己'), field='rooms')
        seen.setdefault(room.id, room)
    others = list(seen.values())
    if not others:
        raise DomainError(_l('请至少选择一间要并入的房间'), field='rooms')
    for room in others:
        if room.building_id != target.building_id or room.unit_id != target.unit_id:
            raise DomainError(_l('只能合并同一楼栋同一单元的房间，%(code)s 不在 %(target)s 所在的单元',
                                 code=room.code, target=target.code), field='rooms')
        if not room.active:
            raise DomainError(_l('房间 %(code)s 已经合并过了', code=room.code), field='rooms')
    everyone = [target, *others]
    missing = [room.code for room in everyone if room.area_m2 is None]
    if missing and len(missing) < len(everyone):
        raise DomainError(_l('房间 %(codes)s 还没有登记面积，请先填写面积再合并', codes='、'.join(missing)),
                          field='rooms')
    area_before = target.area_m2
    total = sum((room.area_m2 for room in everyone), Decimal('0')) if not missing else None
    if total is not None and total > AREA_MAX:
        raise DomainError(_l('合并后面积超过 999999.99 平方米'), field='rooms')
    target.area_m2 = total
    codes = [room.code for room in others]
    _event(target, 'merged', {'merged': codes, 'area_from': format_area(area_before), 'area_to': format_area(total)},
           by_user_id)
    for room in others:
        _event(room, 'merged', {'into': target.id, 'into_code': target.code}, by_user_id)
        room.merged_into_id = target.id
        room.active = False
    db.session.execute(sa.update(ParkingSpace).where(ParkingSpace.room_id.in_([r.id for r in others]))
                       .values(room_id=target.id), execution_options={'synchronize_session': 'fetch'})
    db.session.flush()
    return target


# --- parking spaces ------------------------------------------------------------------------------------------------

def spaces_query(q: str | None = None, kind: str | None = None, include_inactive: bool = False) -> sa.Select:
    query = (sa.select(ParkingSpace).outerjoin(ParkingSpace.room)
             .options(contains_eager(ParkingSpace.room)))
    if not include_inactive:
        query = query.where(ParkingSpace.active.is_(True))
    if kind:
        query = query.where(ParkingSpace.kind == kind)
    if q and q.strip():
        code = _like_escape(clean(q).upper())
        plate = _like_escape(normalize_plate(q))
        # plates are a JSON list: searching its text finds '浙A12345' in ["\u6d59A12345"] only when encoded alike
        encoded = _like_escape(_json_fragment(plate))
        query = query.where(sa.or_(ParkingSpace.code.like(f'%{code}%', escape='\\'),
                                   Room.code.like(f'%{code}%', escape='\\'),
                                   sa.cast(ParkingSpace.plates, sa.Text).like(f'%{encoded}%', escape='\\')))
    return query.order_by(ParkingSpace.code, ParkingSpace.id)


def _json_fragment(text: str) -> str:
    """How ``text`` appears inside the stored JSON (SQLAlchemy writes JSON with ASCII escapes)."""
    import json

    return json.dumps(text)[1:-1]


def save_space(space: ParkingSpace | None, *, code: str, location: str | None, kind: str, room: Room | None,
               plates, active: bool = True) -> ParkingSpace:
    """Create (``space=None``) or change a parking space. Plates are normalised and checked; a code is unique."""
    code = check_text(unicodedata.normalize('NFKC', code or '').upper().replace(' ', ''), field='code',
                      label=_l('车位编号'), max_length=30, required=True)
    location = check_text(location, field='location', label=_l('位置'), max_length=60)
    if kind not in SPACE_KINDS:
        raise DomainError(_l('请选择车位类型'), field='kind')
    plates = parse_plates(plates)
    if room is not None and not room.active and (space is None or space.room_id != room.id):
        raise DomainError(_l('房间 %(code)s 已合并到其他房间', code=room.code), field='room')
    clash = sa.select(ParkingSpace.id).where(ParkingSpace.code == code)
    if space is not None:
        clash = clash.where(ParkingSpace.id != space.id)
    if db.session.execute(clash).first():
        raise DomainError(_l('车位编号 %(code)s 已经存在', code=code), field='code')
    if space is None:
        space = ParkingSpace()
        db.session.add(space)
    space.code, space.location, space.kind, space.plates, space.active = code, location, kind, plates, bool(active)
    space.room = room
    _flush_or_refuse(_l('车位编号 %(code)s 已经存在', code=code), 'code')
    return space


__all__ = ['BuildingPattern', 'PATTERN_LIMIT', 'RoomFilter', 'UNSET', 'create_building', 'merge_rooms',
           'parse_area', 'parse_plates', 'plan_building', 'rename_room', 'rooms_query', 'save_space', 'update_room']
