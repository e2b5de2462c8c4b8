"""Fee items (收费项目): create, edit, deactivate, and delete one that nothing was billed with.

The checks mirror those of a delivery template's fees.toml: an area item has a rate (yuan per m² per month), a
fixed item an amount (fen per cycle), a metered item a rate (yuan per unit read) and a meter; codes are unique per
project, lower-case ASCII letters, digits and '_'. An item that a bill line uses is never deleted: deactivate it,
and it is no longer billed while its history stays readable.
"""
from __future__ import annotations

import re

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..errors import DomainError
from ..extensions import db
from ..money import parse_rate
from .late_fees import ITEM_CODE as LATE_FEE_CODE
from .late_fees import refuse_late_fee_item
from .models import APPLIES_TO, CHARGINGS, CYCLES, LATE_FEE, METERS, BillingRule, BillLine, FeeItem

CODE_RE = re.compile(r'[a-z][a-z0-9_]{0,39}')
SPLITS = ('area', 'household')
SPLIT_NAMES = {'area': _l('按面积'), 'household': _l('按户数')}
#: the fields an edit may change (the code is fixed once made: bill runs and reports name items by it)
EDITABLE = ('name', 'charging', 'rate', 'amount_fen', 'cycle', 'recurring', 'applies_to', 'meter', 'shared',
            'split_by', 'note', 'active')


def list_query():
    """Every fee item of the project, in the template's order (active and inactive)."""
    return sa.select(FeeItem).order_by(FeeItem.sort_order, FeeItem.id)


def active_items() -> list[FeeItem]:
    """Active items priced by rules (the late-fee item, computed from its own settings, left out)."""
    return list(db.session.execute(list_query().where(FeeItem.active.is_(True), FeeItem.charging != LATE_FEE))
                .scalars())


def is_used(item: FeeItem) -> bool:
    """Whether any bill line (voided ones included) was made from this item."""
    line = sa.select(BillLine.id).where(BillLine.fee_item_id == item.id).limit(1)
    return db.session.execute(line).first() is not None


def _text(value, *, field: str, required: bool, max_length: int, message) -> str | None:
    value = (value or '').strip() if isinstance(value, str) or value is None else str(value).strip()
    if not value:
        if required:
            raise DomainError(message, field=field)
        return None
    if len(value) > max_length:
        raise DomainError(_l('内容太长，最多 %(n)s 个字', n=max_length), field=field)
    if any(ord(ch) < 32 for ch in value):
        raise DomainError(_l('不能包含控制字符'), field=field)
    return value


def _checked(values: dict) -> dict:
    """The fields of an item, checked together and normalised (what a charging model doesn't use is cleared)."""
    out = dict(values)
    out['name'] = _text(values.get('name'), field='name', required=True, max_length=60,
                        message=_l('请填写收费项目名称，例如 物业服务费'))
    out['note'] = _text(values.get('note'), field='note', required=False, max_length=200, message=None)
    charging = values.get('charging')
    if charging not in CHARGINGS:
        raise DomainError(_l('请选择计费方式：按面积、固定金额或按抄表'), field='charging')
    cycle = values.get('cycle') or 'month'
    if cycle not in CYCLES:
        raise DomainError(_l('请选择收费周期：每月、每季度或每年'), field='cycle')
    applies_to = values.get('applies_to') or 'room'
    if applies_to not in APPLIES_TO:
        raise DomainError(_l('请选择适用范围'), field='applies_to')
    out.update(cycle=cycle, applies_to=applies_to, recurring=bool(values.get('recurring', True)))
    rate, amount_fen = values.get('rate'), values.get('amount_fen')
    if isinstance(rate, str) and not rate.strip():
        rate = None
    if charging in ('area', 'meter'):
        if rate is None:
            raise DomainError(_l('按面积或按抄表计费须填写单价（元），例如 2.35'), field='rate')
        out['rate'] = parse_rate(rate)
        out['amount_fen'] = None
    else:
        if amount_fen is None:
            raise DomainError(_l('固定金额计费须填写每期金额（元），例如 60.00'), field='amount')
        if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
            raise DomainError(_l('每期金额须大于 0'), field='amount')
        out['amount_fen'] = amount_fen
        out['rate'] = None
    if charging == 'meter':
        if values.get('meter') not in METERS:
            raise DomainError(_l('按抄表计费须选择表的种类：水、电、燃气或热'), field='meter')
        out['shared'] = bool(values.get('shared'))
        split_by = values.get('split_by') or None
        if out['shared']:
            split_by = split_by or 'area'  # by share of exclusive floor area (民法典 Art. 283)
            if split_by not in SPLITS:
                raise DomainError(_l('公摊方式只能是按面积或按户数'), field='split_by')
        out['split_by'] = split_by if out['shared'] else None
    else:
        out.update(meter=None, shared=False, split_by=None)
    if applies_to == 'parking_space' and charging != 'fixed':
        raise DomainError(_l('车位只能按固定金额收费（车位没有面积和表）'), field='applies_to')
    if not out['recurring']:
        out['cycle'] = 'month'  # a one-off item has no cycle
    return out


def create_fee_item(*, code: str, name: str, charging: str, rate: str | None = None, amount_fen: int | None = None,
                    cycle: str = 'month', recurring: bool = True, applies_to: str = 'room', meter: str | None = None,
                    shared: bool = False, split_by: str | None = None, note: str | None = None) -> FeeItem:
    """Add a fee item (active, last in the list). ``rate`` is yuan as typed ('2.35'), ``amount_fen`` fen.

    Raises DomainError (field named) for a missing or malformed value or a code the project uses already.
    """
    code = (code or '').strip()
    if not code:
        raise DomainError(_l('请填写项目代码，例如 service_fee'), field='code')
    if not CODE_RE.fullmatch(code):
        raise DomainError(_l('项目代码只能用小写英文字母、数字和下划线，以字母开头，最多 40 位，例如 service_fee'),
                          field='code')
    values = _checked({'name': name, 'charging': charging, 'rate': rate, 'amount_fen': amount_fen, 'cycle': cycle,
                       'recurring': recurring, 'applies_to': applies_to, 'meter': meter, 'shared': shared,
                       'split_by': split_by, 'note': note})
    taken = db.session.execute(sa.select(FeeItem.id).where(FeeItem.code == code)).first() is not None
    if taken or code == LATE_FEE_CODE:  # 'late_fee' is kept for the project's late-fee item, made when needed
        raise DomainError(_l('项目代码“%(code)s”已被使用，请换一个', code=code), field='code')
    last = db.session.execute(sa.select(sa.func.max(FeeItem.sort_order))).scalar() or 0
    item = FeeItem(code=code, active=True, sort_order=last + 1, **values)
    db.session.add(item)
    db.session.flush()
    return item


def update_fee_item(item: FeeItem, **changes) -> FeeItem:
    """Change an item's fields (not its code). Bills made earlier keep the basis they were made with.

    ``changes`` may name any of EDITABLE; those not given keep their value. Raises DomainError (also for the
    late-fee item, which is computed from its settings).
    """
    refuse_late_fee_item(item)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f'not editable: {sorted(unknown)}')
    current = {name: getattr(item, name) for name in EDITABLE}
    current.update(changes)
    values = _checked(current)
    values['active'] = bool(current['active'])
    for name in EDITABLE:
        setattr(item, name, values[name])
    db.session.flush()
    return item


def deactivate_fee_item(item: FeeItem) -> FeeItem:
    """Stop billing an item (停用): it stays, with its rules and its bills. Not the late-fee item."""
    refuse_late_fee_item(item)
    item.active = False
    db.session.flush()
    return item


def delete_fee_item(item: FeeItem) -> None:
    """Delete an item nothing was billed with, and its rules. One that a bill line uses is refused: deactivate it."""
    refuse_late_fee_item(item)
    if is_used(item):
        raise DomainError(_l('已有账单使用了这个收费项目，不能删除；如不再收取，请改为“停用”'))
    db.session.execute(sa.delete(BillingRule).where(BillingRule.fee_item_id == item.id))
    db.session.delete(item)
    db.session.flush()
