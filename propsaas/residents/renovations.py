"""Renovation registration (装修备案): filing, review, inspection visits, completion and the deposit.

The life of a record::

    pending ──approve──> approved ──complete──> completed
       │  └──reject───> rejected
       └──cancel───> cancelled

Approving puts the room in status 'renovating' (and holds the deposit when there is one); completing puts it
back to 'occupied' or 'vacant'. The deposit (装修押金, integer fen) is then refunded or withheld once: that
decision is final. Services never commit; the view or API call that uses them commits once.
"""
from __future__ import annotations

import unicodedata
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload

from .. import money
from ..auth.models import User
from ..auth.services import normalize_mobile
from ..errors import DomainError, NotAllowed
from ..extensions import db
from ..models_base import utcnow
from ..property.addresses import parse_room_address
from ..property.models import Room, RoomEvent
from ..tenancy.clock import local_datetime, tenant_today, tenant_zone  # noqa: F401  (re-exported to views)
from .models import Occupancy, Renovation, RenovationVisit, Resident

STATUSES = ('pending', 'approved', 'rejected', 'completed', 'cancelled')
#: a room has at most one of these at a time
OPEN_STATUSES = ('pending', 'approved')
DEPOSIT_STATUSES = ('none', 'held', 'refunded', 'withheld')
DEFAULT_DEPOSIT = '2000.00'  # yuan (DOMAIN.md: one city caps deposits at 2,000 yuan)
MAX_DAYS = 180
MAX_DEPOSIT_FEN = 100_000_000  # 1,000,000 yuan: anything above is a typo


# --- pure helpers ----------------------------------------------------------------------------------------------

def parse_yuan(text) -> int:
    """A deposit typed in yuan ('2000.05', '¥2,000元') -> fen; DomainError(field='deposit') when it is not one."""
    return money.parse_yuan(text, field='deposit', max_fen=MAX_DEPOSIT_FEN)


format_yuan = money.format_yuan


def default_deposit_fen(tenant) -> int:
    """The project's default deposit: ``renovation_deposit`` (yuan) from its settings, else 2000.00 yuan.

    Provisioning keeps the template's settings; fees.toml's ``[rules] renovation_deposit`` is read wherever it
    ended up (top level, ``rules`` or ``fees.rules``).
    """
    settings = dict(getattr(tenant, 'settings', None) or {})
    candidates = [settings.get('renovation_deposit'), (settings.get('rules') or {}).get('renovation_deposit'),
                  ((settings.get('fees') or {}).get('rules') or {}).get('renovation_deposit')]
    for value in candidates:
        if value is None:
            continue
        try:
            return parse_yuan(value)
        except DomainError:
            continue
    return parse_yuan(DEFAULT_DEPOSIT)


def is_overdue(renovation: Renovation, today: date) -> bool:
    """Approved, not completed, and its planned end is before ``today`` (the project's date)."""
    return renovation.status == 'approved' and renovation.planned_end < today


def overdue_clause(today: date):
    return sa.and_(Renovation.status == 'approved', Renovation.planned_end < today)


def check_plan(planned_start: date | None, planned_end: date | None) -> None:
    if planned_start is None:
        raise DomainError(_l('请填写计划开工日期'), field='planned_start')
    if planned_end is None:
        raise DomainError(_l('请填写计划完工日期'), field='planned_end')
    if planned_end < planned_start:
        raise DomainError(_l('计划完工日期不能早于开工日期'), field='planned_end')
    if (planned_end - planned_start).days > MAX_DAYS:
        raise DomainError(_l('装修工期最长 %(days)s 天，请分期备案', days=MAX_DAYS), field='planned_end')


def _text(value, field: str, max_length: int, message, *, required: bool = True) -> str | None:
    value = (value or '').strip()
    if not value:
        if required:
            raise DomainError(message, field=field)
        return None
    if len(value) > max_length:
        raise DomainError(_l('最多 %(n)s 个字', n=max_length), field=field)
    if any(unicodedata.category(ch) == 'Cc' and ch not in '\r\n\t' for ch in value):
        raise DomainError(_l('包含无法保存的控制字符'), field=field)
    return value


# --- who may do what ---------------------------------------------------------------------------------------------

def can_review(user) -> bool:
    """Approve, reject, complete, file for any room: admins and the service desk (客服)."""
    return bool(user.is_staff and user.has_duty('service_desk'))


def can_settle_deposit(user) -> bool:
    """Refund or withhold a deposit: admins, the service desk and the cashier (收费)."""
    return bool(user.is_staff and (user.has_duty('service_desk') or user.has_duty('cashier')))


def residents_of_user(user) -> list[Resident]:
    if user.role != 'resident':
        return []
    return list(db.session.execute(sa.select(Resident).where(Resident.user_id == user.id)).scalars())


def rooms_of_user(user) -> list[Room]:
    """The rooms a resident user currently lives in (a current Occupancy of a Resident linked to the user)."""
    if user.role != 'resident':
        return []
    rows = db.session.execute(
        sa.select(Room).join(Occupancy, Occupancy.room_id == Room.id)
        .join(Resident, Resident.id == Occupancy.resident_id)
        .where(Resident.user_id == user.id, Occupancy.moved_out_on.is_(None))
        .options(joinedload(Room.building), joinedload(Room.unit))
        .order_by(Room.code)).unique().scalars().all()
    return list(dict.fromkeys(rows))  # one room lived in twice (two linked residents) is listed once


def can_view(user, renovation: Renovation) -> bool:
    if user.is_staff:
        return True
    if renovation.filed_by_id == user.id:
        return True
    return renovation.resident_id is not None and renovation.resident_id in {r.id for r in residents_of_user(user)}


def find_room(text: str) -> Room | None:
    """The room a typed address names ('3-2-1201', '3栋2单元1201室'), through the scoped session."""
    address = parse_room_address(text or '')
    if address is None or address.code is None:
        return None
    return db.session.execute(sa.select(Room).where(Room.code == address.code)).scalar_one_or_none()


def room_for_filing(user, *, room_text: str | None = None, room_id: int | None = None) -> Room:
    """The room a user may file for: staff any room of the project; a resident only one they live in.

    A room that isn't the resident's is reported like a missing one (nothing confirms it exists).
    """
    if user.role == 'resident':
        mine = rooms_of_user(user)
        if not mine:
            raise DomainError(_l('你的账号还没有关联到房屋，请联系物业服务中心登记'), field='room')
        wanted = None
        if room_id is not None:
            wanted = next((r for r in mine if r.id == room_id), None)
        elif room_text:
            address = parse_room_address(room_text)
            wanted = next((r for r in mine if address is not None and r.code == address.code), None)
        if wanted is None:
            raise DomainError(_l('只能为你自己居住的房屋申请装修，请从列表中选择'), field='room')
        return wanted
    room = None
    if room_id is not None:
        room = db.session.execute(sa.select(Room).where(Room.id == room_id)).scalar_one_or_none()
    elif room_text:
        room = find_room(room_text)
    if room is None:
        raise DomainError(_l('找不到这个房号，请按“楼栋-单元-房号”填写，例如 1-2-1201'), field='room')
    return room


# --- the verbs ---------------------------------------------------------------------------------------------------

def _record_room_status(room: Room, status: str, by: User | None, renovation: Renovation) -> None:
    if room.status == status:
        return
    db.session.add(RoomEvent(room_id=room.id, kind='status', by_user_id=getattr(by, 'id', None),
                             detail={'from': room.status, 'to': status, 'renovation_id': renovation.id}))
    room.status = status


def _resident_for(user, room: Room) -> Resident | None:
    """Who the record is for: the filing resident, or (staff filing) the room's current owner, else renter."""
    query = (sa.select(Resident).join(Occupancy, Occupancy.resident_id == Resident.id)
             .where(Occupancy.room_id == room.id, Occupancy.moved_out_on.is_(None)))
    if user.role == 'resident':
        query = query.where(Resident.user_id == user.id)
    order = sa.case({'owner': 0, 'renter': 1}, value=Occupancy.role, else_=2)
    return db.session.execute(query.order_by(order, Occupancy.id).limit(1)).scalar_one_or_none()


def file_renovation(*, by: User, tenant, room: Room, contractor: str, manager_name: str, manager_phone: str,
                    planned_start: date | None, planned_end: date | None, scope: str,
                    deposit_fen: int | None = None) -> Renovation:
    """File a record (status pending). ``room`` comes from ``room_for_filing``.

    ``deposit_fen`` None takes the project's default; residents can't set it (staff may, 0 for none).
    Raises DomainError with the field at fault.
    """
    contractor = _text(contractor, 'contractor', 100, _l('请填写装修公司或施工队'))
    manager_name = _text(manager_name, 'manager_name', 60, _l('请填写现场负责人'))
    phone = normalize_mobile(manager_phone or '')
    if phone is None:
        raise DomainError(_l('请填写负责人的手机号（11 位）'), field='manager_phone')
    scope = _text(scope, 'scope', 2000, _l('请填写装修内容'))
    check_plan(planned_start, planned_end)
    if deposit_fen is None:
        deposit_fen = default_deposit_fen(tenant)
    elif by.role == 'resident':
        raise DomainError(_l('押金金额由物业确定'), field='deposit')
    if not 0 <= deposit_fen <= MAX_DEPOSIT_FEN:
        raise DomainError(_l('押金金额过大，请检查'), field='deposit')
    open_one = db.session.execute(sa.select(Renovation.id).where(
        Renovation.room_id == room.id, Renovation.status.in_(OPEN_STATUSES)).limit(1)).first()
    if open_one:
        raise DomainError(_l('这间房屋已有一条待审核或装修中的备案，请先处理那一条'), field='room')
    resident = _resident_for(by, room)
    renovation = Renovation(room=room, resident_id=resident.id if resident else None, filed_by_id=by.id,
                            contractor=contractor, manager_name=manager_name, manager_phone=phone,
                            planned_start=planned_start, planned_end=planned_end, scope=scope,
                            deposit_fen=deposit_fen, status='pending', deposit_status='none')
    db.session.add(renovation)
    db.session.flush()
    return renovation


def _require(renovation: Renovation, *statuses: str) -> None:
    if renovation.status not in statuses:
        raise DomainError(_l('这条备案当前的状态不能进行这个操作'))


def approve(renovation: Renovation, *, by: User, comment: str | None = None,
            deposit_fen: int | None = None) -> Renovation:
    """pending -> approved: the room becomes 'renovating', a deposit above 0 is marked held.

    ``deposit_fen`` (optional) changes the deposit before it is held (e.g. 0 for painting only).
    """
    if not can_review(by):
        raise NotAllowed(_l('只有管理员或客服可以审核装修备案'))
    _require(renovation, 'pending')
    comment = _text(comment, 'comment', 500, None, required=False)
    if deposit_fen is not None:
        if not 0 <= deposit_fen <= MAX_DEPOSIT_FEN:
            raise DomainError(_l('押金金额过大，请检查'), field='deposit')
        renovation.deposit_fen = deposit_fen
    renovation.status = 'approved'
    renovation.review_comment = comment
    renovation.reviewed_by_id = by.id
    renovation.reviewed_at = utcnow()
    renovation.deposit_status = 'held' if renovation.deposit_fen > 0 else 'none'
    _record_room_status(renovation.room, 'renovating', by, renovation)
    return renovation


def reject(renovation: Renovation, *, by: User, comment: str | None) -> Renovation:
    """pending -> rejected; the comment (why) is required so the resident knows what to fix."""
    if not can_review(by):
        raise NotAllowed(_l('只有管理员或客服可以审核装修备案'))
    _require(renovation, 'pending')
    comment = _text(comment, 'comment', 500, _l('驳回时请写明原因，方便住户修改后重新申请'))
    renovation.status = 'rejected'
    renovation.review_comment = comment
    renovation.reviewed_by_id = by.id
    renovation.reviewed_at = utcnow()
    return renovation


def cancel(renovation: Renovation, *, by: User) -> Renovation:
    """pending -> cancelled: by the resident who filed it (or for whom it was filed), or by a reviewer."""
    if not (can_review(by) or (by.role == 'resident' and can_view(by, renovation))):
        raise NotAllowed(_l('只能撤销自己的装修申请'))
    _require(renovation, 'pending')
    renovation.status = 'cancelled'
    return renovation


def complete(renovation: Renovation, *, by: User, tenant, completed_on: date | None = None) -> Renovation:
    """approved -> completed on ``completed_on`` (default today, project time). The room goes back to
    'occupied' if someone lives there now, else 'vacant'."""
    if not can_review(by):
        raise NotAllowed(_l('只有管理员或客服可以办理装修完工'))
    _require(renovation, 'approved')
    today = tenant_today(tenant)
    completed_on = completed_on or today
    if completed_on > today:
        raise DomainError(_l('完工日期不能晚于今天'), field='completed_on')
    if (renovation.planned_start - completed_on).days > MAX_DAYS:
        raise DomainError(_l('完工日期不合理，请检查'), field='completed_on')
    renovation.status = 'completed'
    renovation.completed_on = completed_on
    lived_in = db.session.execute(sa.select(Occupancy.id).where(
        Occupancy.room_id == renovation.room_id, Occupancy.moved_out_on.is_(None)).limit(1)).first()
    _record_room_status(renovation.room, 'occupied' if lived_in else 'vacant', by, renovation)
    return renovation


def add_visit(renovation: Renovation, *, by: User, note: str) -> RenovationVisit:
    """Note an inspection visit (装修巡查) to an approved site. Any staff member may record one."""
    if not by.is_staff:
        raise NotAllowed(_l('只有物业员工可以登记巡查'))
    _require(renovation, 'approved', 'completed')
    note = _text(note, 'note', 500, _l('请填写巡查情况'))
    visit = RenovationVisit(renovation_id=renovation.id, by_user_id=by.id, note=note, visited_at=utcnow())
    db.session.add(visit)
    db.session.flush()
    return visit


def _settle(renovation: Renovation, by: User) -> None:
    if not can_settle_deposit(by):
        raise NotAllowed(_l('只有管理员、客服或收费员可以处理押金'))
    if renovation.deposit_status in ('refunded', 'withheld'):
        raise DomainError(_l('押金已经处理过（%(how)s），财务决定不能再修改',
                             how=_l('已退还') if renovation.deposit_status == 'refunded' else _l('已扣留')))
    if renovation.deposit_status != 'held':
        raise DomainError(_l('这条备案没有收取押金'))
    if renovation.status != 'completed':
        raise DomainError(_l('装修完工验收后才能处理押金'))


def refund_deposit(renovation: Renovation, *, by: User, note: str | None = None) -> Renovation:
    """held -> refunded, with an optional note. Final: a second refund or withholding is refused."""
    _settle(renovation, by)
    renovation.deposit_status = 'refunded'
    renovation.deposit_note = _text(note, 'note', 500, None, required=False)
    return renovation


def withhold_deposit(renovation: Renovation, *, by: User, reason: str | None) -> Renovation:
    """held -> withheld; the reason is required (what was damaged, which rule was broken). Final."""
    _settle(renovation, by)
    renovation.deposit_note = _text(reason, 'reason', 500, _l('扣留押金必须写明原因'))
    renovation.deposit_status = 'withheld'
    return renovation


# --- lists ----------------------------------------------------------------------------------------------------

def list_query(*, user, today: date, status: str | None = None, overdue: bool = False,
               building_id: int | None = None, room_id: int | None = None):
    """The renovations ``user`` may see (staff: all; a resident: their own), newest first, rows eager-loaded."""
    query = (sa.select(Renovation)
             .options(joinedload(Renovation.room).joinedload(Room.building),
                      joinedload(Renovation.room).joinedload(Room.unit))
             .order_by(Renovation.created_at.desc(), Renovation.id.desc()))
    if not user.is_staff:
        mine = [r.id for r in residents_of_user(user)]
        query = query.where(sa.or_(Renovation.filed_by_id == user.id, Renovation.resident_id.in_(mine or [-1])))
    if status in STATUSES:
        query = query.where(Renovation.status == status)
    if overdue:
        query = query.where(overdue_clause(today))
    if building_id is not None:
        query = query.join(Room, Room.id == Renovation.room_id).where(Room.building_id == building_id)
    if room_id is not None:
        query = query.where(Renovation.room_id == room_id)
    return query


def open_for_room(room_id: int) -> Renovation | None:
    """The room's pending or approved renovation, if any (for the room page: status, overdue, a link)."""
    return db.session.execute(sa.select(Renovation).where(Renovation.room_id == room_id,
                                                          Renovation.status.in_(OPEN_STATUSES))
                              .order_by(Renovation.id.desc()).limit(1)).scalar_one_or_none()


def detail_options():
    return (joinedload(Renovation.room).joinedload(Room.building), joinedload(Renovation.room).joinedload(Room.unit),
            selectinload(Renovation.visits))


def load_users(ids) -> dict[int, User]:
    """Names for filed-by / reviewed-by / visited-by columns, in one query."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {u.id: u for u in db.session.execute(sa.select(User).where(User.id.in_(ids))).scalars()}
