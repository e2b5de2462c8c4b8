"""The audience picker shared by announcements and surveys: form fields <-> ``Audience``.

Fields (all prefixed ``audience-``): ``scope`` (all/buildings/units/floors/residents), ``building_ids`` and
``unit_ids`` (checkboxes), ``floor_building_id`` / ``floor_min`` / ``floor_max``, ``roles`` and ``tags``
(checkboxes), ``arrears_only`` (a checkbox), and ``people``: room numbers or mobiles typed one per line for a
hand-picked list, resolved to residents here (a line that matches nobody is reported, so nothing is silently
dropped).
"""
from __future__ import annotations

import re

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..auth.services import normalize_mobile
from ..errors import DomainError
from ..extensions import db
from ..property.addresses import parse_room_address
from ..property.models import Building, Room
from ..residents.models import Occupancy, Resident
from .targeting import Audience

PREFIX = 'audience-'
MAX_LINES = 500


def audience_from_form(form) -> Audience:
    """Read the picker's fields (a MultiDict) into a validated Audience; raises DomainError with the reason."""
    scope = form.get(PREFIX + 'scope') or 'all'
    data = {
        'scope': scope,
        'building_ids': form.getlist(PREFIX + 'building_ids') if scope == 'buildings' else [],
        'unit_ids': form.getlist(PREFIX + 'unit_ids') if scope == 'units' else [],
        'roles': form.getlist(PREFIX + 'roles'),
        'tags': form.getlist(PREFIX + 'tags'),
        'arrears_only': bool(form.get(PREFIX + 'arrears_only')),
    }
    if scope == 'floors':
        data.update(floor_building_id=form.get(PREFIX + 'floor_building_id'),
                    floor_min=form.get(PREFIX + 'floor_min'), floor_max=form.get(PREFIX + 'floor_max'))
    if scope == 'residents':
        data['resident_ids'] = resolve_people(form.get(PREFIX + 'people', ''))
    audience = Audience.from_json(data)
    audience.validate()
    return audience


def resolve_people(text: str) -> list[int]:
    """'1-2-1201' or '1栋2单元1201' (everyone living there) or '13800001234' (that resident), one per line."""
    lines = [line.strip() for line in re.split(r'[\n,，;；]+', text or '') if line.strip()]
    if len(lines) > MAX_LINES:
        raise DomainError(_l('一次最多指定 %(n)s 行', n=MAX_LINES), field='audience')
    mobiles, codes, unknown = {}, {}, []
    for line in lines:
        mobile = normalize_mobile(line)
        address = None if mobile else parse_room_address(line)
        if mobile:
            mobiles[mobile] = line
        elif address is not None and address.code:
            codes[address.code] = line
        else:
            unknown.append(line)
    found: set[int] = set()
    matched: set[str] = set()
    if mobiles:
        for rid, mobile in db.session.execute(sa.select(Resident.id, Resident.mobile)
                                              .where(Resident.mobile.in_(mobiles))):
            found.add(rid)
            matched.add(mobiles[mobile])
    if codes:
        rows = db.session.execute(
            sa.select(Occupancy.resident_id, Room.code).join(Room, Room.id == Occupancy.room_id)
            .where(Room.code.in_(codes), Occupancy.moved_out_on.is_(None)))
        for rid, code in rows:
            found.add(rid)
            matched.add(codes[code])
    unknown += [line for line in [*mobiles.values(), *codes.values()] if line not in matched]
    if unknown:
        raise DomainError(_l('这些房号或手机号找不到住户：%(lines)s', lines='、'.join(unknown[:10])), field='audience')
    if not found:
        raise DomainError(_l('请至少选择一位住户'), field='audience')
    return sorted(found)


def people_text(audience: Audience) -> str:
    """The hand-picked residents as the picker shows them again: their mobiles, or their room codes."""
    if not audience.resident_ids:
        return ''
    rows = db.session.execute(
        sa.select(Resident.id, Resident.mobile, sa.func.min(Room.code))
        .outerjoin(Occupancy, sa.and_(Occupancy.resident_id == Resident.id, Occupancy.moved_out_on.is_(None)))
        .outerjoin(Room, Room.id == Occupancy.room_id)
        .where(Resident.id.in_(audience.resident_ids)).group_by(Resident.id, Resident.mobile)).all()
    return '\n'.join(mobile or code or '' for _rid, mobile, code in rows if mobile or code)


def audience_choices(tenant) -> dict:
    """What the picker offers: buildings with their units (two statements) and the tenant's room tags."""
    buildings = db.session.execute(sa.select(Building).options(sa.orm.selectinload(Building.units))
                                   .order_by(Building.sort_order, Building.name)).scalars().all()
    tags = list(((tenant.settings or {}).get('property') or {}).get('room_tags') or [])
    return {'buildings': buildings, 'tags': tags}
