"""Payments (收款): offline payments allocated to a room's bills, the room's prepaid balance (预存款), refunds and
reversals, receipt numbers, and the lookups the pages and the API show.

Nothing financial is edited or deleted. A payment is one ``payments`` row (kind 'payment') and the allocations
(``payment_allocations``) that settle bills with it; what is not allocated is the room's prepaid balance. Later
allocations of that balance (``settle_from_prepaid``) are further allocation rows of the same payment, so each
payment always says where its money went:

    unallocated(payment) = amount − its allocations − its refunds          (0 once it is reversed)
    prepaid(room)        = Σ unallocated(payment) over the room's payments
    balance(bill)        = total − Σ allocations of the bill               (SECURITY.md item 16)

A refund (kind 'refund') pays back at most a payment's unallocated part; a reversal (kind 'reversal', 冲正) undoes
a payment entirely: negative allocations mirror what it settled and the bills' statuses are recomputed. Both are
new rows pointing at the payment (``reverses_id``) with their reason, and each gets its own receipt number.

Amounts are integer fen. Services never commit: the caller commits once per request.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import abort
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload

from ..errors import DomainError
from ..extensions import db
from ..models_base import get_or_404, utcnow
from ..money import MAX_FEN, format_yuan
from ..property.models import Room
from ..residents.models import Occupancy, Resident
from ..tenancy.clock import local_datetime
from ..tenancy.context import current_tenant_id
from ..tenancy.models import Tenant
from . import numbering
from .bills import current_room_ids
from .models import Bill, BillLine, Payment, PaymentAllocation

OFFLINE_METHODS = ('cash', 'bank_transfer', 'pos')
OPEN_STATUSES = ('unpaid', 'partial')
DEFAULT_PREPAY_MONTHS = 12


# --- sums --------------------------------------------------------------------------------------------------------

def paid_by_bill(bill_ids) -> dict[int, int]:
    """Net allocations per bill (fen), in one statement; bills with none are left out."""
    ids = list(bill_ids)
    if not ids:
        return {}
    rows = db.session.execute(sa.select(PaymentAllocation.bill_id, sa.func.sum(PaymentAllocation.amount_fen))
                              .where(PaymentAllocation.bill_id.in_(ids)).group_by(PaymentAllocation.bill_id)).all()
    return {bill_id: int(total or 0) for bill_id, total in rows}


def balance(bill: Bill) -> int:
    """What is still owed on ``bill`` (fen): its total minus the sum of its allocations."""
    return int(bill.total_fen) - paid_by_bill([bill.id]).get(bill.id, 0)


def _reversed_ids(payment_ids) -> set[int]:
    ids = list(payment_ids)
    if not ids:
        return set()
    return set(db.session.execute(sa.select(Payment.reverses_id).where(
        Payment.kind == 'reversal', Payment.reverses_id.in_(ids))).scalars())


def _refunded(payment_ids) -> dict[int, int]:
    ids = list(payment_ids)
    if not ids:
        return {}
    rows = db.session.execute(sa.select(Payment.reverses_id, sa.func.sum(Payment.amount_fen)).where(
        Payment.kind == 'refund', Payment.reverses_id.in_(ids)).group_by(Payment.reverses_id)).all()
    return {payment_id: int(total or 0) for payment_id, total in rows}


def _allocated(payment_ids) -> dict[int, int]:
    ids = list(payment_ids)
    if not ids:
        return {}
    rows = db.session.execute(sa.select(PaymentAllocation.payment_id, sa.func.sum(PaymentAllocation.amount_fen))
                              .where(PaymentAllocation.payment_id.in_(ids))
                              .group_by(PaymentAllocation.payment_id)).all()
    return {payment_id: int(total or 0) for payment_id, total in rows}


def payment_state(payment: Payment) -> dict:
    """{'allocated', 'refunded', 'reversed', 'unallocated'} of a payment (kind 'payment'), in fen."""
    allocated = _allocated([payment.id]).get(payment.id, 0)
    refunded = _refunded([payment.id]).get(payment.id, 0)
    reversed_ = payment.id in _reversed_ids([payment.id])
    unallocated = 0 if reversed_ or payment.kind != 'payment' else payment.amount_fen - allocated - refunded
    return {'allocated': allocated, 'refunded': refunded, 'reversed': reversed_, 'unallocated': unallocated}


def _remainders(room_id: int) -> list[tuple[int, int]]:
    """(payment id, unallocated fen) of the room's live payments with money left, oldest first."""
    rows = db.session.execute(sa.select(Payment.id, Payment.amount_fen).where(
        Payment.room_id == room_id, Payment.kind == 'payment').order_by(Payment.paid_at, Payment.id)).all()
    ids = [payment_id for payment_id, _amount in rows]
    gone = _reversed_ids(ids)
    allocated, refunded = _allocated(ids), _refunded(ids)
    out = []
    for payment_id, amount in rows:
        if payment_id in gone:
            continue
        left = int(amount) - allocated.get(payment_id, 0) - refunded.get(payment_id, 0)
        if left > 0:
            out.append((payment_id, left))
    return out


def prepaid_fen(room_id: int) -> int:
    """The room's prepaid balance (预存款), fen: money received and not yet allocated to bills or refunded."""
    return sum(left for _payment_id, left in _remainders(room_id))


def open_bills(room_id: int, bill_ids=None, *, lock: bool = False) -> list[Bill]:
    """The room's open bills (unpaid or partial; void never), oldest first (due date, then id); only ``bill_ids``
    when given. ``lock``: SELECT .. FOR UPDATE (PostgreSQL; SQLite serialises writers anyway)."""
    query = (sa.select(Bill).where(Bill.room_id == room_id, Bill.status.in_(OPEN_STATUSES))
             .order_by(Bill.due_on, Bill.id))
    if bill_ids is not None:
        query = query.where(Bill.id.in_(list(bill_ids)))
    if lock:
        query = query.with_for_update()
    return list(db.session.execute(query).scalars())


def _lock_room(room: Room) -> None:
    """Serialise money movements of one room (the row lock lasts until the transaction ends)."""
    db.session.execute(sa.select(Room.id).where(Room.id == room.id).with_for_update())


def _set_statuses(bills) -> None:
    """Recompute each bill's status from its allocations: paid (balance 0), partial (some paid) or unpaid."""
    bills = [bill for bill in bills if bill.status != 'void']
    paid = paid_by_bill(bill.id for bill in bills)
    for bill in bills:
        settled = paid.get(bill.id, 0)
        if settled >= bill.total_fen:
            status = 'paid'
        elif settled > 0:
            status = 'partial'
        else:
            status = 'unpaid'
        if bill.status != status:
            bill.status = status


def _allocate(payment_id: int, bills: list[Bill], amount_fen: int) -> int:
    """Allocate up to ``amount_fen`` of a payment to ``bills`` in order, each up to its balance. Returns what was
    allocated."""
    paid = paid_by_bill(bill.id for bill in bills)
    left, touched = amount_fen, []
    for bill in bills:
        if left <= 0:
            break
        owed = int(bill.total_fen) - paid.get(bill.id, 0)
        part = min(owed, left)
        if part <= 0:
            continue
        db.session.add(PaymentAllocation(payment_id=payment_id, bill_id=bill.id, amount_fen=part))
        paid[bill.id] = paid.get(bill.id, 0) + part
        left -= part
        touched.append(bill)
    db.session.flush()
    _set_statuses(touched)
    return amount_fen - left


# --- prepayment cap ------------------------------------------------------------------------------------------------

def prepay_cap_fen(room_id: int, tenant: Tenant | None = None) -> int | None:
    """The most a room may hold as prepaid balance: ``max_prepay_months`` (tenant rules, default 12) months of its
    charges, estimated from its latest (up to 12) billed periods: their non-void totals × months ÷ periods.
    None (no cap) when the room has no bills yet or the rule is 0/off."""
    tenant = tenant or db.session.get(Tenant, current_tenant_id())
    rules = (getattr(tenant, 'settings', None) or {}).get('rules') or {}
    try:
        months = int(rules.get('max_prepay_months', DEFAULT_PREPAY_MONTHS) or 0)
    except (TypeError, ValueError):
        months = DEFAULT_PREPAY_MONTHS
    if months <= 0:
        return None
    rows = db.session.execute(sa.select(Bill.period, sa.func.sum(Bill.total_fen)).where(
        Bill.room_id == room_id, Bill.status != 'void').group_by(Bill.period)
        .order_by(Bill.period.desc()).limit(12)).all()
    if not rows:
        return None
    total = sum(int(fen or 0) for _period, fen in rows)
    return -(-total * months // len(rows))  # ceiling: never refuse a payment for a rounding fen


# --- payments ------------------------------------------------------------------------------------------------------

def _check_amount(amount_fen, field: str = 'amount') -> int:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise DomainError(_l('金额须为整数（分）'), field=field)
    if amount_fen <= 0:
        raise DomainError(_l('金额须大于 0'), field=field)
    if amount_fen > MAX_FEN:
        raise DomainError(_l('金额过大，请检查'), field=field)
    return amount_fen


def _text(value, limit: int) -> str | None:
    value = (value or '').strip()
    return value[:limit] or None


def _tenant() -> Tenant:
    return db.session.get(Tenant, current_tenant_id())


def _number(paid_at: datetime, tenant: Tenant) -> str:
    return numbering.next_receipt_number(local_datetime(paid_at, tenant, '%Y-%m'))


def default_payer(room_id: int) -> Resident | None:
    """Who is asked to pay for the room: the payer of its latest bill, else its current owner."""
    resident_id = db.session.execute(sa.select(Bill.payer_resident_id).where(
        Bill.room_id == room_id, Bill.payer_resident_id.is_not(None))
        .order_by(Bill.period.desc(), Bill.id.desc()).limit(1)).scalar_one_or_none()
    if resident_id is None:
        resident_id = db.session.execute(sa.select(Occupancy.resident_id).where(
            Occupancy.room_id == room_id, Occupancy.role == 'owner', Occupancy.moved_out_on.is_(None))
            .order_by(Occupancy.id).limit(1)).scalar_one_or_none()
    return db.session.get(Resident, resident_id) if resident_id is not None else None


def record_payment(room: Room, amount_fen: int, method: str, *, paid_at: datetime | None = None,
                   payer_name: str | None = None, payer_resident_id: int | None = None,
                   reference: str | None = None, note: str | None = None, bill_ids=None,
                   by_user_id: int | None = None) -> Payment:
    """Record an offline payment (cash, bank transfer, POS) for ``room`` and allocate it.

    ``bill_ids`` (the payer's choice, settled oldest first among them) or, when None, the room's open bills oldest
    first (due date, then id); each bill gets at most its balance and becomes 'paid' or 'partial'. The remainder
    stays as the room's prepaid balance. Gets a receipt number ('SJ202612-000001'). ``note`` is kept in the
    payment's ``reason`` column. Does not commit.

    Raises DomainError for an amount that is not a positive integer of fen, an unknown method, a chosen bill that
    is not an open bill of the room, or a prepaid balance beyond the cap (``prepay_cap_fen``).
    """
    amount_fen = _check_amount(amount_fen)
    if method not in OFFLINE_METHODS:
        raise DomainError(_l('请选择收款方式'), field='method')
    tenant = _tenant()
    _lock_room(room)
    chosen = None
    if bill_ids is not None:
        chosen = sorted({int(bill_id) for bill_id in bill_ids})
        if not chosen:
            raise DomainError(_l('请选择要缴的账单'), field='bill_ids')
    bills = open_bills(room.id, chosen, lock=True)
    if chosen is not None and len(bills) != len(chosen):
        raise DomainError(_l('所选账单不是这个房屋的未缴账单，请刷新后重选'), field='bill_ids')
    remainder = max(amount_fen - owed_fen(bills), 0)
    if remainder:
        cap = prepay_cap_fen(room.id, tenant)
        if cap is not None and prepaid_fen(room.id) + remainder > cap:
            raise DomainError(_l('预存款最多 %(cap)s 元（约 %(months)s 个月的费用），本次会超出，请减少金额',
                                 cap=format_yuan(cap), months=_prepay_months(tenant)), field='amount')
    payment = _new_payment(tenant, room, amount_fen, method, paid_at=paid_at, payer_name=payer_name,
                           payer_resident_id=payer_resident_id, reference=reference, note=note,
                           by_user_id=by_user_id)
    _allocate(payment.id, bills, amount_fen)
    return payment


def owed_fen(bills) -> int:
    """What ``bills`` still owe together (fen)."""
    bills = list(bills)
    return int(sum(bill.total_fen for bill in bills)) - sum(paid_by_bill(bill.id for bill in bills).values())


def _new_payment(tenant, room: Room, amount_fen: int, method: str, *, paid_at, payer_name, payer_resident_id,
                 reference=None, note=None, by_user_id=None, provider_txn_id=None) -> Payment:
    if payer_resident_id is None and not payer_name:
        payer = default_payer(room.id)
        payer_resident_id, payer_name = (payer.id, payer.name) if payer else (None, None)
    elif payer_resident_id is not None and not payer_name:
        payer = db.session.get(Resident, payer_resident_id)
        payer_name = payer.name if payer else None
    paid_at = paid_at or utcnow()
    payment = Payment(number=_number(paid_at, tenant), kind='payment', method=method, amount_fen=amount_fen,
                      room_id=room.id, payer_resident_id=payer_resident_id, payer_name=_text(payer_name, 60),
                      reference=_text(reference, 100), reason=_text(note, 200), paid_at=paid_at,
                      recorded_by_id=by_user_id, provider_txn_id=provider_txn_id)
    db.session.add(payment)
    db.session.flush()
    return payment


def record_online_payment(room: Room, amount_fen: int, method: str, *, provider_txn_id: str, bill_ids,
                          paid_at: datetime | None = None, payer_resident_id: int | None = None,
                          reference: str | None = None) -> Payment:
    """Credit money an online provider has confirmed (its notification was verified): a payment, method 'wechat',
    'alipay' or 'sandbox', with the provider's transaction id (unique per project: a second credit of the same
    transaction fails on the constraint). Allocated to the chosen bills that are still open, then to the room's
    other open bills oldest first; what is left is prepaid. Money that has arrived is always recorded, so neither
    the chosen bills being paid meanwhile nor the prepayment cap refuses it. Does not commit."""
    _check_amount(amount_fen)
    tenant = _tenant()
    _lock_room(room)
    bills = open_bills(room.id, lock=True)
    chosen = {int(bill_id) for bill_id in bill_ids or ()}
    bills = [bill for bill in bills if bill.id in chosen] + [bill for bill in bills if bill.id not in chosen]
    payment = _new_payment(tenant, room, amount_fen, method, paid_at=paid_at, payer_name=None,
                           payer_resident_id=payer_resident_id, reference=reference, provider_txn_id=provider_txn_id)
    _allocate(payment.id, bills, amount_fen)
    return payment


def _prepay_months(tenant) -> int:
    rules = (getattr(tenant, 'settings', None) or {}).get('rules') or {}
    try:
        return int(rules.get('max_prepay_months', DEFAULT_PREPAY_MONTHS) or DEFAULT_PREPAY_MONTHS)
    except (TypeError, ValueError):
        return DEFAULT_PREPAY_MONTHS


def settle_from_prepaid(room: Room) -> int:
    """Allocate the room's prepaid balance to its open bills, oldest bills first, the oldest payments' money first.
    Returns the fen settled (0 when nothing is prepaid or owed). Idempotent; does not commit.

    Call it after a bill run for the rooms billed (``settle_rooms``)."""
    _lock_room(room)
    remainders = _remainders(room.id)
    if not remainders:
        return 0
    bills = open_bills(room.id, lock=True)
    settled = 0
    for payment_id, left in remainders:
        if not bills:
            break
        settled += _allocate(payment_id, bills, left)
        bills = [bill for bill in bills if bill.status != 'paid']
    return settled


def settle_rooms(room_ids=None) -> int:
    """``settle_from_prepaid`` for each room (all when None) that has prepaid money; a constant number of statements
    to find them, then a few per such room. Returns the fen settled in all."""
    query = (sa.select(Payment.room_id).where(Payment.kind == 'payment', Payment.room_id.is_not(None))
             .group_by(Payment.room_id))
    if room_ids is not None:
        query = query.where(Payment.room_id.in_(list(room_ids)))
    candidates = list(db.session.execute(query).scalars())
    if not candidates:
        return 0
    with_open = set(db.session.execute(sa.select(Bill.room_id).where(
        Bill.room_id.in_(candidates), Bill.status.in_(OPEN_STATUSES)).group_by(Bill.room_id)).scalars())
    total = 0
    for room in db.session.execute(sa.select(Room).where(Room.id.in_(with_open)).order_by(Room.id)).scalars():
        total += settle_from_prepaid(room)
    return total


def _original(payment: Payment) -> None:
    if payment.kind != 'payment':
        raise DomainError(_l('只能对收款记录退款或冲正'))


def _reason(reason) -> str:
    reason = (reason or '').strip()
    if not reason or len(reason) > 200:
        raise DomainError(_l('请填写原因（最多 200 字）'), field='reason')
    return reason


def refund(payment: Payment, amount_fen: int, reason: str, *, by_user_id: int | None = None) -> Payment:
    """Pay back part or all of a payment's unallocated (prepaid) part: a new row, kind 'refund', with its own receipt
    number. Does not commit.

    Raises DomainError without a reason, for an amount above what is unallocated, or for a reversed payment."""
    _original(payment)
    reason = _reason(reason)
    amount_fen = _check_amount(amount_fen)
    room = db.session.get(Room, payment.room_id) if payment.room_id else None
    if room is not None:
        _lock_room(room)
    state = payment_state(payment)
    if state['reversed']:
        raise DomainError(_l('这笔收款已冲正，不能再退款'))
    if amount_fen > state['unallocated']:
        raise DomainError(_l('最多可退 %(yuan)s 元（未抵扣账单的预存部分）', yuan=format_yuan(state['unallocated'])),
                          field='amount')
    tenant, now = _tenant(), utcnow()
    row = Payment(number=_number(now, tenant), kind='refund', method=payment.method, amount_fen=amount_fen,
                  room_id=payment.room_id, payer_resident_id=payment.payer_resident_id, payer_name=payment.payer_name,
                  reverses_id=payment.id, reason=reason, paid_at=now, recorded_by_id=by_user_id)
    db.session.add(row)
    db.session.flush()
    return row


def reverse(payment: Payment, reason: str, *, by_user_id: int | None = None) -> Payment:
    """冲正: undo a payment entered in error. A new row, kind 'reversal', for what was not refunded already, with
    negative allocations mirroring what the payment settled; those bills' statuses are recomputed. Does not commit.

    Raises DomainError without a reason, or when the payment is reversed or wholly refunded already."""
    _original(payment)
    reason = _reason(reason)
    room = db.session.get(Room, payment.room_id) if payment.room_id else None
    if room is not None:
        _lock_room(room)
    state = payment_state(payment)
    if state['reversed']:
        raise DomainError(_l('这笔收款已经冲正过了'))
    amount = payment.amount_fen - state['refunded']
    if amount <= 0:
        raise DomainError(_l('这笔收款已全额退款，无需冲正'))
    per_bill = dict(db.session.execute(
        sa.select(PaymentAllocation.bill_id, sa.func.sum(PaymentAllocation.amount_fen))
        .where(PaymentAllocation.payment_id == payment.id).group_by(PaymentAllocation.bill_id)).all())
    bills = list(db.session.execute(sa.select(Bill).where(Bill.id.in_(list(per_bill))).order_by(Bill.id)
                                    .with_for_update()).scalars()) if per_bill else []
    tenant, now = _tenant(), utcnow()
    row = Payment(number=_number(now, tenant), kind='reversal', method=payment.method, amount_fen=amount,
                  room_id=payment.room_id, payer_resident_id=payment.payer_resident_id, payer_name=payment.payer_name,
                  reverses_id=payment.id, reason=reason, paid_at=now, recorded_by_id=by_user_id)
    db.session.add(row)
    db.session.flush()
    for bill in bills:
        fen = int(per_bill[bill.id] or 0)
        if fen:
            db.session.add(PaymentAllocation(payment_id=row.id, bill_id=bill.id, amount_fen=-fen))
    db.session.flush()
    _set_statuses(bills)
    return row


# --- lookups -------------------------------------------------------------------------------------------------------

def rooms_of(payments) -> dict[int, Room]:
    """The rooms of ``payments`` by id, with their buildings and units, in one statement."""
    ids = {payment.room_id for payment in payments if payment.room_id is not None}
    if not ids:
        return {}
    rows = db.session.execute(sa.select(Room).where(Room.id.in_(ids)).options(
        joinedload(Room.building), joinedload(Room.unit))).scalars().all()
    return {room.id: room for room in rows}


def list_query(*, start=None, end=None, method: str | None = None, room_id: int | None = None,
               kind: str | None = None):
    """Payments, refunds and reversals, newest first; ``start``/``end`` are aware datetimes (end exclusive)."""
    query = sa.select(Payment)
    if start is not None:
        query = query.where(Payment.paid_at >= start)
    if end is not None:
        query = query.where(Payment.paid_at < end)
    if method:
        query = query.where(Payment.method == method)
    if kind:
        query = query.where(Payment.kind == kind)
    if room_id is not None:
        query = query.where(Payment.room_id == room_id)
    return query.order_by(Payment.paid_at.desc(), Payment.id.desc())


def load_payment(payment_id: int) -> Payment:
    """One payment of the project with its allocations and their bills and lines; another project's is 404."""
    found = get_or_404(Payment, payment_id)
    return db.session.execute(sa.select(Payment).where(Payment.id == found.id).options(
        selectinload(Payment.allocations).joinedload(PaymentAllocation.bill).selectinload(Bill.lines)
        .joinedload(BillLine.fee_item),
        selectinload(Payment.allocations).joinedload(PaymentAllocation.bill).joinedload(Bill.parking_space),
    )).unique().scalar_one()


def related(payment: Payment) -> list[Payment]:
    """The refunds and reversals of a payment, or the payment a refund/reversal undoes, oldest first."""
    if payment.kind == 'payment':
        query = sa.select(Payment).where(Payment.reverses_id == payment.id)
    else:
        query = sa.select(Payment).where(Payment.id == payment.reverses_id)
    return list(db.session.execute(query.order_by(Payment.id)).scalars())


def resident_query(user):
    """Payments (and refunds, reversals) of the rooms the resident user currently lives in, newest first."""
    if user.role != 'resident':
        return sa.select(Payment).where(sa.false())
    return (sa.select(Payment).where(Payment.room_id.in_(current_room_ids(user)))
            .order_by(Payment.paid_at.desc(), Payment.id.desc()))


def resident_payment(user, payment_id: int) -> Payment:
    """One payment of a room the resident lives in; anything else (another room's, another project's, or a user
    who is not a resident) is 404."""
    if user.role != 'resident':
        abort(404)
    payment = load_payment(payment_id)
    if payment.room_id is None:
        abort(404)
    mine = db.session.execute(current_room_ids(user).where(Occupancy.room_id == payment.room_id).limit(1)).first()
    if mine is None:
        abort(404)
    return payment


def account(room: Room) -> dict:
    """The room's account statement: open bills with their balances, the amount owed, the prepaid balance and the
    cap. (Lists of all bills and payments are paginated by the callers.)"""
    bills = open_bills(room.id)
    paid = paid_by_bill(bill.id for bill in bills)
    owed = sum(int(bill.total_fen) - paid.get(bill.id, 0) for bill in bills)
    return {'room': room, 'open_bills': bills, 'paid': paid, 'owed_fen': owed, 'prepaid_fen': prepaid_fen(room.id),
            'prepay_cap_fen': prepay_cap_fen(room.id)}


def room_bills_query(room_id: int):
    """All bills of a room (void ones too), latest period first."""
    return (sa.select(Bill).where(Bill.room_id == room_id).options(joinedload(Bill.parking_space))
            .order_by(Bill.period.desc(), Bill.id.desc()))


def load_room(room_id: int) -> Room:
    found = get_or_404(Room, room_id)
    return db.session.execute(sa.select(Room).where(Room.id == found.id).options(
        joinedload(Room.building), joinedload(Room.unit))).scalar_one()


def reversed_payment_ids(payments) -> set[int]:
    """Which of ``payments`` have been reversed, in one statement."""
    return _reversed_ids(payment.id for payment in payments if payment.kind == 'payment')

