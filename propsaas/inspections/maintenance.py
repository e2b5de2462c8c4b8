"""Maintenance records (维保记录) and the spare-parts stock (备品备件).

    record = add_record(device, done_on=..., contractor='XX电梯公司', work_done='...', parts=[...],
                        next_due_on=..., by_user=admin)

A record's parts are ``{"name", "quantity", "cost_fen", "spare_part_id"}``: one chosen from the stock
(``spare_part_id``) is taken out of it — more than is in stock is refused, the stock is counted first. A work order
whose completion names a part exactly as a stock part is called takes it out too (``use_parts_of_order``: again on a
re-completion, only the difference, so a reopened order never counts its parts twice); that never refuses the
completion, so the stock may fall below zero (the page asks for a count then). Every change is a movement: the
stock's history. A part at or below its minimum is *low*; the hourly inspection job tells the admins once
(``remind_low_stock``), again only after it was restocked above the minimum.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from ..auth.models import User
from ..errors import DomainError
from ..extensions import db
from ..models_base import utcnow
from ..money import MAX_FEN
from ..tenancy import clock
from ..tenancy.context import current_tenant_id
from ..tenancy.models import Tenant
from .models import Device, MaintenanceRecord, SparePart, SparePartMovement

MAX_WORK = 2000
MAX_QUANTITY = 100_000
MAX_PARTS = 20


@dataclass
class PartUse:
    name: str
    quantity: int
    cost_fen: int
    spare_part_id: int | None = None

    def as_json(self) -> dict:
        return {'name': self.name, 'quantity': self.quantity, 'cost_fen': self.cost_fen,
                'spare_part_id': self.spare_part_id}


def _text(value, limit: int, field: str, what, *, required: bool = False) -> str | None:
    text = (value or '').strip() if isinstance(value, str) else ('' if value is None else str(value).strip())
    if not text:
        if required:
            raise DomainError(_l('请填写%(what)s', what=what), field=field)
        return None
    if len(text) > limit:
        raise DomainError(_l('%(what)s最多 %(n)s 字', what=what, n=limit), field=field)
    return text


def _quantity(value, field: str = 'quantity') -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_QUANTITY:
        raise DomainError(_l('数量应为 1 到 %(n)s 的整数', n=MAX_QUANTITY), field=field)
    return value


# --- the stock ----------------------------------------------------------------------------------------------------

def save_part(part: SparePart | None, *, name, unit, min_stock, note=None, stock=None) -> SparePart:
    """A new part (with its opening ``stock``) or an edited one (name, unit, minimum, note; the stock changes only
    by movements). DomainError naming the field; a name taken is refused. Does not commit."""
    name = _text(name, 60, 'name', _l('配件名称'), required=True)
    unit = _text(unit, 10, 'unit', _l('单位')) or '个'
    if isinstance(min_stock, bool) or not isinstance(min_stock, int) or not 0 <= min_stock <= MAX_QUANTITY:
        raise DomainError(_l('最低库存应为 0 到 %(n)s 的整数', n=MAX_QUANTITY), field='min_stock')
    note = _text(note, 200, 'note', _l('备注'))
    taken = db.session.execute(sa.select(SparePart.id).where(SparePart.name == name)).scalar()
    if taken is not None and (part is None or taken != part.id):
        raise DomainError(_l('已有名为“%(name)s”的配件', name=name), field='name')
    if part is None:
        opening = 0 if stock in (None, '') else stock
        if isinstance(opening, bool) or not isinstance(opening, int) or not 0 <= opening <= MAX_QUANTITY:
            raise DomainError(_l('库存应为 0 到 %(n)s 的整数', n=MAX_QUANTITY), field='stock')
        part = SparePart(name=name, unit=unit, min_stock=min_stock, note=note, stock=0)
        db.session.add(part)
        try:
            db.session.flush()
        except IntegrityError:
            db.session.rollback()
            raise DomainError(_l('已有名为“%(name)s”的配件', name=name), field='name') from None
        if opening:
            _move(part, opening, 'received', note=str(_l('期初库存')))
        return part
    part.name, part.unit, part.min_stock, part.note = name, unit, min_stock, note
    _rearm(part)
    db.session.flush()
    return part


def _move(part: SparePart, change: int, reason: str, *, by_user: User | None = None, by_user_id: int | None = None,
          note=None, maintenance_record_id=None, work_order_id=None) -> SparePartMovement:
    movement = SparePartMovement(part_id=part.id, change=change, reason=reason, note=note,
                                 by_user_id=by_user.id if by_user else by_user_id,
                                 maintenance_record_id=maintenance_record_id, work_order_id=work_order_id,
                                 at=utcnow())
    part.stock += change
    db.session.add(movement)
    _rearm(part)
    return movement


def _rearm(part: SparePart) -> None:
    """A part restocked above its minimum may be reported low again."""
    if part.stock > part.min_stock:
        part.low_alerted_at = None


def receive(part: SparePart, quantity, *, by_user: User, note=None) -> SparePartMovement:
    """入库: ``quantity`` more in stock. Does not commit."""
    return _move(part, _quantity(quantity), 'received', by_user=by_user, note=_text(note, 200, 'note', _l('备注')))


def count(part: SparePart, actual, *, by_user: User, note=None) -> SparePartMovement | None:
    """盘点: the stock is what was counted (the difference is the movement); None when it was right. Does not
    commit."""
    if isinstance(actual, bool) or not isinstance(actual, int) or not 0 <= actual <= MAX_QUANTITY:
        raise DomainError(_l('盘点数量应为 0 到 %(n)s 的整数', n=MAX_QUANTITY), field='actual')
    if actual == part.stock:
        return None
    return _move(part, actual - part.stock, 'count', by_user=by_user,
                 note=_text(note, 200, 'note', _l('备注')) or str(_l('盘点')))


def movements(part: SparePart, limit: int = 50) -> list[SparePartMovement]:
    return db.session.execute(sa.select(SparePartMovement).where(SparePartMovement.part_id == part.id)
                              .order_by(SparePartMovement.id.desc()).limit(limit)).scalars().all()


def parts_in_stock() -> list[SparePart]:
    return db.session.execute(sa.select(SparePart).order_by(SparePart.name)).scalars().all()


# --- maintenance records ------------------------------------------------------------------------------------------

def read_parts(rows) -> list[PartUse]:
    """The parts of a record from form rows (name, quantity, cost in fen, spare_part_id); blank rows skipped."""
    parts = []
    for position, row in enumerate(rows or [], start=1):
        name = (row.get('name') or '').strip()
        part_id = row.get('spare_part_id')
        if not name and not part_id:
            continue
        if part_id:
            part = db.session.get(SparePart, part_id) if isinstance(part_id, int) and 0 < part_id < 2**31 else None
            if part is None:
                raise DomainError(_l('第 %(n)s 行：没有这个库存配件', n=position), field='parts')
            name = part.name
        if len(name) > 60:
            raise DomainError(_l('第 %(n)s 行：配件名称最多 60 字', n=position), field='parts')
        quantity = row.get('quantity')
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
            raise DomainError(_l('第 %(n)s 行：数量应为 1 到 %(max)s 的整数', n=position, max=MAX_QUANTITY),
                              field='parts')
        cost = row.get('cost_fen') or 0
        if isinstance(cost, bool) or not isinstance(cost, int) or not 0 <= cost <= MAX_FEN:
            raise DomainError(_l('第 %(n)s 行：金额不正确', n=position), field='parts')
        parts.append(PartUse(name, quantity, cost, part_id or None))
    if len(parts) > MAX_PARTS:
        raise DomainError(_l('一条维保记录最多 %(n)s 种配件', n=MAX_PARTS), field='parts')
    return parts


def add_record(device: Device, *, done_on: date | None, work_done, by_user: User, contractor=None,
               parts: list[PartUse] = (), next_due_on: date | None = None) -> MaintenanceRecord:
    """A maintenance visit to ``device``; the parts from the stock are taken out of it (more than is in stock is
    refused: count first). DomainError naming the field; nothing is kept then (the caller rolls back). Does not
    commit."""
    tenant = db.session.get(Tenant, current_tenant_id())
    today = clock.tenant_today(tenant)
    if done_on is None:
        raise DomainError(_l('请填写维保日期'), field='done_on')
    if done_on > today:
        raise DomainError(_l('维保日期不能晚于今天'), field='done_on')
    work_done = _text(work_done, MAX_WORK, 'work_done', _l('维保内容'), required=True)
    contractor = _text(contractor, 100, 'contractor', _l('维保单位')) or device.contractor
    if next_due_on is not None and next_due_on <= done_on:
        raise DomainError(_l('下次维保日期应晚于本次维保日期'), field='next_due_on')
    record = MaintenanceRecord(device_id=device.id, done_on=done_on, contractor=contractor, work_done=work_done,
                               parts=[part.as_json() for part in parts], next_due_on=next_due_on,
                               created_by_id=by_user.id)
    db.session.add(record)
    db.session.flush()
    for use in parts:
        if use.spare_part_id is None:
            continue
        part = db.session.execute(sa.select(SparePart).where(SparePart.id == use.spare_part_id)
                                  .with_for_update()).scalar_one()
        if part.stock < use.quantity:
            raise DomainError(_l('“%(name)s”库存不足：现有 %(stock)s%(unit)s，请先盘点或入库', name=part.name,
                                 stock=part.stock, unit=part.unit), field='parts')
        _move(part, -use.quantity, 'maintenance', by_user=by_user, maintenance_record_id=record.id,
              note=f'{device.code} {device.name}'[:200])
    db.session.flush()
    return record


def records_of(device: Device, limit: int = 20) -> list[MaintenanceRecord]:
    return db.session.execute(sa.select(MaintenanceRecord).where(MaintenanceRecord.device_id == device.id)
                              .order_by(MaintenanceRecord.done_on.desc(), MaintenanceRecord.id.desc())
                              .limit(limit)).scalars().all()


# --- work orders --------------------------------------------------------------------------------------------------

def use_parts_of_order(order, by_user_id: int | None) -> int:
    """Take the parts a completed work order names exactly like stock parts out of the stock — on a re-completion
    only the difference to what it took before (a part no longer named goes back). Never refuses. The number of
    movements. Does not commit."""
    wanted: dict[str, int] = {}
    for part in order.parts or []:
        name = (part.get('name') or '').strip()
        if name:
            wanted[name] = wanted.get(name, 0) + int(part.get('quantity') or 0)
    taken = dict(db.session.execute(
        sa.select(SparePartMovement.part_id, sa.func.sum(SparePartMovement.change))
        .where(SparePartMovement.work_order_id == order.id, SparePartMovement.reason == 'work_order')
        .group_by(SparePartMovement.part_id)).all())
    names = set(wanted)
    stock = {part.id: part for part in db.session.execute(
        sa.select(SparePart).where(sa.or_(SparePart.name.in_(names or ['']), SparePart.id.in_(list(taken) or [0])))
        .with_for_update()).scalars()}
    moved = 0
    for part in stock.values():
        delta = wanted.get(part.name, 0) + int(taken.get(part.id) or 0)  # taken holds negative changes
        if delta:
            _move(part, -delta, 'work_order', by_user_id=by_user_id, work_order_id=order.id, note=order.number)
            moved += 1
    db.session.flush()
    return moved


# --- low stock ----------------------------------------------------------------------------------------------------

def remind_low_stock(now: datetime | None = None) -> int:
    """Tell the admins, once, of the parts at or below their minimum not reported yet (spare_part_low). Commits.
    The number of parts in the message."""
    from ..notices.targeting import admin_ids
    from ..notices.templates import notify_staff

    now = now or clock.now_utc()
    low = db.session.execute(sa.select(SparePart).where(SparePart.stock <= SparePart.min_stock,
                                                        SparePart.low_alerted_at.is_(None))
                             .order_by(SparePart.name)).scalars().all()
    if not low:
        return 0
    text = '；'.join(f'{p.name}（现有 {p.stock}{p.unit}，最低 {p.min_stock}{p.unit}）' for p in low[:20]) + \
        ('等' if len(low) > 20 else '')
    for part in low:
        part.low_alerted_at = now
    db.session.commit()
    try:
        notify_staff(admin_ids(), 'spare_part_low', {'count': len(low), 'parts': text},
                     source_key=f'inspections:low-stock:{now:%Y%m%d%H%M}:{low[0].id}', link='/equipment/parts')
    except DomainError:
        db.session.rollback()
    return len(low)
