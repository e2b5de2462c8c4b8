"""Bills as staff and residents look them up: lists with filters, one bill with its lines, a resident's own.

Every list is one SELECT for the page (rooms, buildings, units and parking spaces joined in) plus one for the
payers' names, whatever the page size. A resident sees the bills of rooms they currently live in; any other bill
is reported as missing (404), like another project's.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort
from sqlalchemy.orm import joinedload, selectinload

from ..extensions import db
from ..models_base import get_or_404
from ..property.addresses import parse_room_address
from ..property.models import Room
from ..residents.models import Occupancy, Resident
from .models import BILL_STATUSES, Bill, BillLine, BillRun


def _bill_options():
    return (joinedload(Bill.room).joinedload(Room.building), joinedload(Bill.room).joinedload(Room.unit),
            joinedload(Bill.parking_space))


def room_by_text(text: str) -> Room | None:
    """The room a typed address names ('1-2-1201', '1栋2单元1201'), or None."""
    text = (text or '').strip()[:80]
    if not text:
        return None
    found = db.session.execute(sa.select(Room).where(Room.code == text)).scalar_one_or_none()
    if found is not None:
        return found
    address = parse_room_address(text)
    if address is None or address.code is None:
        return None
    return db.session.execute(sa.select(Room).where(Room.code == address.code)).scalar_one_or_none()


def list_query(*, period: str | None = None, building_id: int | None = None, status: str | None = None,
               room_id: int | None = None, run_id: int | None = None):
    """Bills, newest period first, then by number; each filter optional. Eager-loads what a list row shows."""
    query = sa.select(Bill).options(*_bill_options())
    if period:
        query = query.where(Bill.period == period)
    if status in BILL_STATUSES:
        query = query.where(Bill.status == status)
    if room_id is not None:
        query = query.where(Bill.room_id == room_id)
    if run_id is not None:
        query = query.where(Bill.run_id == run_id)
    if building_id is not None:
        query = query.where(Bill.room_id.in_(sa.select(Room.id).where(Room.building_id == building_id)))
    return query.order_by(Bill.period.desc(), Bill.number.desc())


def payers(bills) -> dict[int, Resident]:
    """Payer residents of ``bills`` by id, in one statement."""
    ids = {bill.payer_resident_id for bill in bills if bill.payer_resident_id is not None}
    if not ids:
        return {}
    rows = db.session.execute(sa.select(Resident).where(Resident.id.in_(ids))).scalars().all()
    return {resident.id: resident for resident in rows}


def load_bill(bill_id: int) -> Bill:
    """One bill of the project with its lines and their fee items; another project's is 404."""
    bill = get_or_404(Bill, bill_id)
    return db.session.execute(sa.select(Bill).where(Bill.id == bill.id).options(
        *_bill_options(), selectinload(Bill.lines).joinedload(BillLine.fee_item))).unique().scalar_one()


def load_run(run_id: int) -> BillRun:
    return get_or_404(BillRun, run_id)


# --- a resident's own bills -------------------------------------------------------------------------------------

def current_room_ids(user):
    """The ids of rooms ``user`` currently lives in, as a subquery."""
    return (sa.select(Occupancy.room_id).join(Resident, Resident.id == Occupancy.resident_id)
            .where(Resident.user_id == user.id, Occupancy.moved_out_on.is_(None)))


def resident_query(user):
    """Bills of the rooms the resident user lives in (void ones left out): unpaid and part-paid first, then the
    latest period first."""
    if user.role != 'resident':
        return sa.select(Bill).where(sa.false())
    open_first = sa.case((Bill.status.in_(('unpaid', 'partial')), 0), else_=1)
    return (sa.select(Bill).where(Bill.room_id.in_(current_room_ids(user)), Bill.status != 'void')
            .options(*_bill_options()).order_by(open_first, Bill.period.desc(), Bill.number.desc()))


def resident_bill(user, bill_id: int) -> Bill:
    """One bill of a room the resident lives in; any other bill (another room's, another project's) is 404."""
    bill = load_bill(bill_id)
    if user.role != 'resident' or bill.room_id is None:
        abort(404)
    mine = db.session.execute(current_room_ids(user).where(Occupancy.room_id == bill.room_id).limit(1)).first()
    if mine is None:
        abort(404)
    return bill


def place(bill: Bill) -> str:
    """'1栋1单元101' or '1栋1单元101 车位 B1-023': what the bill is for."""
    text = bill.room.label if bill.room is not None else ''
    if bill.parking_space is not None:
        text = f'{text} {bill.parking_space.code}'.strip()
    return text
