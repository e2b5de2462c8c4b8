"""The household's side of repairs, shared by the resident pages and the API: whose orders a resident sees, the
rooms and categories they may report for, and reporting with photos in one transaction."""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from ..errors import DomainError
from ..extensions import db
from ..property.models import Building, Room
from ..residents.models import Occupancy, Resident
from . import dispatch, orders, photos
from .models import OPEN_STATUSES, RepairCategory, WorkOrder, WorkOrderPhoto

#: waiting for someone (the technician or the resident) first
_ORDER = sa.case((WorkOrder.status.in_(OPEN_STATUSES), 0), (WorkOrder.status == 'completed', 1), else_=2)


def residents_of(user) -> list[int]:
    return list(db.session.execute(sa.select(Resident.id).where(Resident.user_id == user.id)
                                   .order_by(Resident.id)).scalars())


def rooms_of(user) -> list[tuple[Room, int]]:
    """(room, resident id) for each room the user lives in now."""
    rows = db.session.execute(
        sa.select(Room, Occupancy.resident_id).join(Occupancy, Occupancy.room_id == Room.id)
        .join(Resident, Resident.id == Occupancy.resident_id)
        .where(Resident.user_id == user.id, Occupancy.moved_out_on.is_(None))
        .order_by(Room.code, Occupancy.resident_id)).all()
    seen, out = set(), []
    for room, resident_id in rows:
        if room.id not in seen:
            seen.add(room.id)
            out.append((room, resident_id))
    return out


def household_query(user):
    """The orders of the user's household: reported by them, or of a room they live in; open first."""
    mine = sa.select(Resident.id).where(Resident.user_id == user.id)
    rooms = sa.select(Occupancy.room_id).where(Occupancy.resident_id.in_(mine), Occupancy.moved_out_on.is_(None))
    return (sa.select(WorkOrder).where(sa.or_(WorkOrder.reporter_resident_id.in_(mine), WorkOrder.room_id.in_(rooms)))
            .options(selectinload(WorkOrder.category), selectinload(WorkOrder.room),
                     selectinload(WorkOrder.building))
            .order_by(_ORDER, WorkOrder.created_at.desc(), WorkOrder.id.desc()))


def household_order(user, order_id: int) -> WorkOrder | None:
    """The order if it is the user's household's; another household's or project's: None."""
    order = db.session.get(WorkOrder, order_id) if isinstance(order_id, int) else None
    if order is None or user.role != 'resident' or not photos.can_see(order, user):
        return None
    return order


def categories(area: str | None = None) -> list[RepairCategory]:
    query = sa.select(RepairCategory).where(RepairCategory.active.is_(True))
    if area is not None:
        query = query.where(RepairCategory.area.in_((area, 'both')))
    return list(db.session.execute(query.order_by(RepairCategory.sort_order, RepairCategory.id)).scalars())


def buildings() -> list[Building]:
    return list(db.session.execute(sa.select(Building).order_by(Building.sort_order, Building.name)).scalars())


def report(user, *, room_id, category_id, description, urgency='normal', preferred_time=None, public_area=None,
           building_id=None, uploads=()) -> WorkOrder:
    """A resident's report: for one of their rooms (``room_id``) or a public area (``room_id`` None), with up to
    6 photos, then auto-dispatched. Raises DomainError; does not commit."""
    rooms = rooms_of(user)
    mine = residents_of(user)
    if not mine:
        raise DomainError(_l('你的账号还没有关联住户信息，请联系物业服务中心'))
    if len(uploads) > photos.MAX_PER_KIND:
        raise photos.PhotoError(_l('每张工单最多 %(n)s 张照片', n=photos.MAX_PER_KIND), field='photos')
    reporter = mine[0]
    if room_id is not None:
        match = [resident for room, resident in rooms if room.id == room_id]
        if not match:
            raise DomainError(_l('只能为自己居住的房屋报修'), field='room_id')
        reporter = match[0]
    elif not (public_area or '').strip():
        raise DomainError(_l('请填写公共区域的位置'), field='public_area')
    order = orders.submit(category_id=category_id, description=description, by_user=user, room_id=room_id,
                          public_area=public_area if room_id is None else None,
                          building_id=building_id if room_id is None else None, urgency=urgency,
                          preferred_time=preferred_time, channel='portal', reporter_resident_id=reporter)
    for data in uploads:
        photos.add_photo(order, data, kind='report', by_user_id=user.id)
    dispatch.auto_assign(order)
    return order


def photos_of(order: WorkOrder) -> dict[str, list[WorkOrderPhoto]]:
    grouped = {'report': [], 'after': []}
    for photo in order.photos:
        grouped[photo.kind].append(photo)
    return grouped
