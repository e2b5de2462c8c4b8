"""Managing billing rules (计费规则) and the price check (价格查询). Which rule applies stays in ``rules.RuleBook``.

A rule prices one fee item in one scope — the project, a room type, a building, a unit or a room — from the first
day of a month on: another rate, another amount, or exempt (免收, with the reason). A rule is never edited; a later
one supersedes it from its month, so what was billed before keeps its basis. Only a rule no bill line used yet may
be deleted (a mistake caught in time).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from ..errors import DomainError
from ..extensions import db
from ..models_base import MAX_ID
from ..money import MAX_FEN, parse_rate, parse_yuan, round_fen
from ..property.addresses import parse_room_address
from ..property.models import ROOM_TYPES, Building, Room, Unit
from .models import RULE_SCOPES, BillingRule, BillLine, FeeItem
from .rules import Price, RuleBook

_PERIOD_RE = re.compile(r'^(\d{4})-(\d{2})$')
#: the columns naming a scope's target
ROOM_NOT_FOUND = _l('找不到这个房号，请按“楼栋-单元-房号”填写，例如 1-2-1201')
TARGET_COLUMNS = {'tenant': None, 'room_type': 'room_type', 'building': 'building_id', 'unit': 'unit_id',
                  'room': 'room_id'}


def parse_period(text, *, field: str = 'period') -> date:
    """'2026-12' -> date(2026, 12, 1). Raises DomainError naming ``field``."""
    match = _PERIOD_RE.match(str(text or '').strip())
    year, month = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    if not match or not 2000 <= year <= 2100 or not 1 <= month <= 12:
        raise DomainError(_l('请按 年-月 填写月份，例如 2026-12'), field=field)
    return date(year, month, 1)


def find_room(text: str) -> Room | None:
    """The room a typed address names ('1-2-1201', '1栋2单元1201'), through the scoped session."""
    address = parse_room_address(text or '')
    if address is None or address.code is None:
        return None
    return db.session.execute(sa.select(Room).where(Room.code == address.code)
                              .options(selectinload(Room.building), selectinload(Room.unit))).scalar_one_or_none()


def rules_of(item: FeeItem) -> list[BillingRule]:
    """An item's rules, broadest scope first, then by month (one statement)."""
    order = sa.case({scope: i for i, scope in enumerate(RULE_SCOPES)}, value=BillingRule.scope)
    return list(db.session.execute(
        sa.select(BillingRule).where(BillingRule.fee_item_id == item.id)
        .order_by(order, BillingRule.effective_from, BillingRule.id)).scalars())


def rule_targets(rules: list[BillingRule]) -> dict[tuple[str, int], str]:
    """('building'|'unit'|'room', id) -> how people name it ('1栋', '1栋1单元', '1栋1单元101'), in three statements
    at most whatever the number of rules."""
    names: dict[tuple[str, int], str] = {}
    building_ids = {r.building_id for r in rules if r.building_id}
    unit_ids = {r.unit_id for r in rules if r.unit_id}
    room_ids = {r.room_id for r in rules if r.room_id}
    if building_ids:
        for b in db.session.execute(sa.select(Building).where(Building.id.in_(building_ids))).scalars():
            names[('building', b.id)] = b.name
    if unit_ids:
        for u in db.session.execute(sa.select(Unit).where(Unit.id.in_(unit_ids))
                                    .options(selectinload(Unit.building))).scalars():
            names[('unit', u.id)] = u.building.name + u.name
    if room_ids:
        for r in db.session.execute(sa.select(Room).where(Room.id.in_(room_ids))
                                    .options(selectinload(Room.building), selectinload(Room.unit))).scalars():
            names[('room', r.id)] = r.label
    return names


def _id(value) -> int | None:
    """An id as given, or None when it can't be one (ids past the column's range would make PostgreSQL raise)."""
    try:
        value = int(value)
    except (TypeError, ValueError):
        return None
    return value if 0 < value <= MAX_ID else None


def _target(scope: str, *, room_type=None, building_id=None, unit_id=None, room_id=None, room=None) -> dict:
    """The target columns of a rule in ``scope``, each looked up through the scoped session (another project's
    building is as unknown as a missing one)."""
    if scope == 'tenant':
        return {}
    if scope == 'room_type':
        if room_type not in ROOM_TYPES:
            raise DomainError(_l('请选择房屋类型'), field='room_type')
        return {'room_type': room_type}
    if scope == 'building':
        ident = _id(building_id)
        found = ident and db.session.execute(sa.select(Building.id).where(Building.id == ident)).scalar()
        if not found:
            raise DomainError(_l('找不到这个楼栋，请从列表中选择'), field='building_id')
        return {'building_id': found}
    if scope == 'unit':
        ident = _id(unit_id)
        found = ident and db.session.execute(sa.select(Unit.id).where(Unit.id == ident)).scalar()
        if not found:
            raise DomainError(_l('找不到这个单元，请从列表中选择'), field='unit_id')
        return {'unit_id': found}
    target = None
    if room_id is not None:
        target = _id(room_id) and db.session.execute(sa.select(Room.id).where(Room.id == _id(room_id))).scalar()
    elif room:
        found_room = find_room(room)
        target = found_room.id if found_room else None
    if not target:
        raise DomainError(ROOM_NOT_FOUND, field='room')
    return {'room_id': target}


def add_rule(item: FeeItem, *, scope: str, effective_month: str, rate=None, amount=None, amount_fen: int | None = None,
             exempt: bool = False, note: str | None = None, room_type: str | None = None,
             building_id: int | None = None, unit_id: int | None = None, room_id: int | None = None,
             room: str | None = None, by=None) -> BillingRule:
    """Price ``item`` in a scope from a month on ('YYYY-MM'): a rate (yuan, area and metered items), an amount
    (yuan as typed in ``amount`` or fen in ``amount_fen``, fixed items) or exempt (免收, ``note`` says why).

    The target is named by the field of its scope (room_type, building_id, unit_id, room_id or room as typed).
    Raises DomainError for a missing or unknown target, a malformed price, or a rule that exists already for the
    same item, scope, target and month, or for the late-fee item (滞纳金: computed from its settings, never priced).
    """
    from .late_fees import refuse_late_fee_item

    refuse_late_fee_item(item)
    if scope not in RULE_SCOPES:
        raise DomainError(_l('请选择适用范围：全项目、房屋类型、楼栋、单元或房屋'), field='scope')
    target = _target(scope, room_type=room_type, building_id=building_id, unit_id=unit_id, room_id=room_id,
                     room=room)
    effective_from = parse_period(effective_month, field='effective_from')
    note = (note or '').strip() or None
    if note and (len(note) > 200 or any(ord(ch) < 32 for ch in note)):
        raise DomainError(_l('备注最多 200 个字'), field='note')
    has_rate = rate is not None and str(rate).strip() != ''
    has_amount = amount_fen is not None or (amount is not None and str(amount).strip() != '')
    if exempt + has_rate + has_amount != 1:
        raise DomainError(_l('请选择一种：新单价、新金额或免收'),
                          field='rate' if item.charging != 'fixed' else 'amount')
    values = {'rate': None, 'amount_fen': None, 'exempt': bool(exempt)}
    if exempt:
        if not note:
            raise DomainError(_l('免收须写明原因，例如 合同约定一楼免收电梯费'), field='note')
    elif has_rate:
        if item.charging == 'fixed':
            raise DomainError(_l('这是固定金额的项目，请填写新金额（元）而不是单价'), field='rate')
        values['rate'] = parse_rate(rate)
    else:
        if item.charging != 'fixed':
            raise DomainError(_l('这个项目按单价计费，请填写新单价（元）而不是金额'), field='amount')
        if amount_fen is None:
            amount_fen = parse_yuan(amount)
        if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or not 0 <= amount_fen <= MAX_FEN:
            raise DomainError(_l('请填写金额（元），最多两位小数，例如 2000.00'), field='amount')
        values['amount_fen'] = amount_fen
    same = [BillingRule.fee_item_id == item.id, BillingRule.scope == scope,
            BillingRule.effective_from == effective_from]
    if scope != 'tenant':
        column = TARGET_COLUMNS[scope]
        same.append(getattr(BillingRule, column) == target[column])
    if db.session.execute(sa.select(BillingRule.id).where(*same).limit(1)).first() is not None:
        raise DomainError(_l('同一范围从 %(month)s 起已有一条规则；如要更改，请删除它（未出账时）'
                             '或从之后的月份另加一条', month=effective_from.strftime('%Y-%m')), field='effective_from')
    rule = BillingRule(fee_item_id=item.id, scope=scope, effective_from=effective_from, note=note,
                       created_by_id=getattr(by, 'id', None), **target, **values)
    db.session.add(rule)
    db.session.flush()
    return rule


def rule_used(rule: BillingRule) -> bool:
    """Whether a bill line (voided ones too) was priced by this rule: its basis names the rule's id. One statement,
    a JSON lookup that SQLite and PostgreSQL both answer."""
    return db.session.execute(sa.select(BillLine.id).where(
        BillLine.fee_item_id == rule.fee_item_id,
        BillLine.basis['rule_id'].as_integer() == rule.id).limit(1)).first() is not None


def delete_rule(rule: BillingRule) -> None:
    """Delete a rule no bill has used. One that priced a bill line is refused: add a later rule to supersede it."""
    if rule_used(rule):
        raise DomainError(_l('已有账单按这条规则计费，不能删除；如要调整，请另加一条从之后月份起生效的规则'))
    db.session.delete(rule)
    db.session.flush()


# --- price check ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PriceLine:
    item: FeeItem
    price: Price
    #: False when the item isn't billed to this room (a lift fee in a building without lifts, a parking item)
    applies: bool
    #: the deciding rule, None when the item's own price applies
    rule: BillingRule | None
    #: area items: the month's amount for this room's area (fen), None without an area
    monthly_fen: int | None


def _applies(item: FeeItem, room: Room) -> bool:
    if item.applies_to == 'parking_space':
        return False
    if item.applies_to == 'room_with_lift':
        return bool(room.building.has_lift)
    if item.applies_to == 'room_without_lift':
        return not room.building.has_lift
    return True


def price_check(room: Room, period: str) -> list[PriceLine]:
    """Every active fee item's price for ``room`` in the month ``period`` ('YYYY-MM'), with the deciding rule:
    what staff read to answer "why this rate". The rules are loaded in one statement."""
    from .fee_items import active_items

    month_start = parse_period(period)
    items = active_items()
    rules = list(db.session.execute(sa.select(BillingRule).where(
        BillingRule.fee_item_id.in_([item.id for item in items]))).scalars()) if items else []
    book, by_id = RuleBook(rules), {rule.id: rule for rule in rules}
    lines = []
    for item in items:
        applies = _applies(item, room)
        price = book.price(item, None if item.applies_to == 'parking_space' else room, month_start)
        monthly = None
        if item.charging == 'area' and room.area_m2 is not None and price.rate is not None and not price.exempt:
            monthly = round_fen(Decimal(room.area_m2) * price.rate)
        lines.append(PriceLine(item, price, applies, by_id.get(price.rule_id), monthly))
    return lines
