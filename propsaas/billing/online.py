"""Online payments (在线缴费): orders, the providers' notifications, and automatic payment (线上代扣).

    order = start_order(user, room, 'wechat', bill_ids)     # a pending PaymentOrder for what the bills owe
    checkout = begin_checkout(order, client_ip=..., mobile=True)   # where the browser goes (or a QR code)
    ok, answer = receive('wechat', headers, body, form)      # the provider's signed notification, at /pay/notify/…

A notification is believed only when the provider's adapter verifies its signature and freshness, and then only if
it names this project's merchant, an order of this project with the same provider, the order's currency and exactly
its amount; otherwise it is refused and nothing changes (SECURITY.md 15). A believed success credits the order once:
the order row is locked, an order already paid with the same transaction answers success again and changes nothing,
and the provider's transaction id is unique per project on payments, so ten copies of one notification arriving
together make one payment and ten successes (SECURITY.md 14). Money that arrives is always recorded, even for an
order that expired meanwhile or bills paid at the counter since (it becomes prepaid balance).

代扣: a resident signs a mandate for a room with a provider that supports it; each day ``charge_due_bills`` charges
every open bill of a room with an active mandate on (or after) its due date, once per (mandate, bill): the order is
committed before the provider is asked, a declined charge fails the order (and the resident is told; the ordinary
reminders go on), an accepted one is credited when its notification arrives, like any other.
"""
from __future__ import annotations

import logging
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError, OperationalError

from ..errors import DomainError
from ..extensions import db
from ..jobs.queue import enqueue, job, maintenance_task, start_unless_current
from ..models_base import utcnow
from ..money import format_yuan
from ..property.models import Room
from ..residents.models import Occupancy, Resident
from ..tenancy.clock import local_datetime, now_utc, tenant_today
from ..tenancy.context import current_tenant_id, platform_scope, tenant_scope
from ..tenancy.models import Tenant
from ..tenancy.urls import tenant_url
from . import payments
from .bills import current_room_ids
from .models import (
    PROVIDER_NAMES,
    PROVIDERS,
    AutopayMandate,
    Bill,
    PaymentOrder,
    PaymentProviderSetting,
)
from .providers import ChargeResult, Checkout, Notice, Provider, ProviderError, Refused, Urls, provider_class

log = logging.getLogger(__name__)

ORDER_MINUTES = 30
#: a notification that meets a locked database is tried again this many times before the provider is told to retry
BUSY_ATTEMPTS = 5


# --- providers of the project --------------------------------------------------------------------------------------

def sandbox_allowed() -> bool:
    return bool(current_app.config.get('PAYMENT_SANDBOX'))


def offered_providers() -> list[str]:
    """The providers an admin may configure here: WeChat Pay and Alipay, and the sandbox where the operator allows
    it."""
    return [name for name in PROVIDERS if name != 'sandbox' or sandbox_allowed()]


def settings() -> dict[str, PaymentProviderSetting]:
    rows = db.session.execute(sa.select(PaymentProviderSetting)).scalars()
    return {row.provider: row for row in rows}


def enabled_providers() -> list[str]:
    """The providers residents may pay with now, in a stable order."""
    on = {row.provider for row in settings().values() if row.enabled}
    return [name for name in offered_providers() if name in on]


def adapter(name: str) -> Provider:
    """The project's adapter for ``name``; DomainError when it is not enabled here."""
    if name not in enabled_providers():
        raise DomainError(_l('本项目没有开通这种支付方式'), field='provider')
    row = settings()[name]
    return provider_class(name)(row.config or {}, tenant_id=current_tenant_id())


def save_settings(name: str, *, enabled: bool, values: dict, by_user_id: int | None = None) -> PaymentProviderSetting:
    """Set a provider's merchant settings. A secret left blank keeps what is stored (secrets are write-only).
    Enabling needs every required field. Does not commit."""
    if name not in offered_providers():
        raise DomainError(_l('不支持的支付方式'), field='provider')
    row = settings().get(name) or PaymentProviderSetting(provider=name, config={})
    config = dict(row.config or {})
    for spec in provider_class(name).fields:
        value = (values.get(spec.name) or '').strip()
        if len(value) > 8000:
            raise DomainError(_l('%(field)s 太长', field=spec.label), field=spec.name)
        if value or not spec.secret:
            config[spec.name] = value
    if enabled:
        missing = [spec.label for spec in provider_class(name).fields if spec.required and not config.get(spec.name)]
        if missing:
            raise DomainError(_l('开通前请填写：%(fields)s', fields='、'.join(str(label) for label in missing)))
    row.config, row.enabled, row.updated_by_id = config, bool(enabled), by_user_id
    db.session.add(row)
    db.session.flush()
    return row


def notify_url(name: str) -> str:
    return tenant_url(f'/pay/notify/{name}')


def _urls(name: str, back_path: str) -> Urls:
    return Urls(notify=notify_url(name), back=tenant_url(back_path))


# --- orders ------------------------------------------------------------------------------------------------------

def _order_number(tenant: Tenant) -> str:
    return 'PO' + local_datetime(utcnow(), tenant, '%Y%m%d%H%M%S') + f'{secrets.randbelow(10 ** 6):06d}'


def resident_rooms(user) -> list[Room]:
    """The rooms the resident user currently lives in."""
    if user.role != 'resident':
        return []
    return list(db.session.execute(sa.select(Room).where(Room.id.in_(current_room_ids(user)))
                                   .order_by(Room.id)).scalars())


def resident_of(user, room_id: int) -> Resident | None:
    return db.session.execute(
        sa.select(Resident).join(Occupancy, Occupancy.resident_id == Resident.id)
        .where(Resident.user_id == user.id, Occupancy.room_id == room_id, Occupancy.moved_out_on.is_(None))
        .limit(1)).scalar_one_or_none()


def start_order(user, room: Room, provider: str, bill_ids) -> PaymentOrder:
    """A pending order for what the chosen open bills of ``room`` still owe. The user must live in the room.
    Raises DomainError for no bills chosen, a bill that is not open or not the room's, nothing owed, or a provider
    the project has not enabled. Does not commit."""
    adapter(provider)  # enabled?
    resident = resident_of(user, room.id)
    if resident is None:
        raise DomainError(_l('只能为自己居住的房屋缴费'))
    try:
        chosen = sorted({int(bill_id) for bill_id in bill_ids or ()})
    except (TypeError, ValueError):
        raise DomainError(_l('请选择要缴的账单'), field='bill_ids') from None
    if not chosen:
        raise DomainError(_l('请选择要缴的账单'), field='bill_ids')
    bills = payments.open_bills(room.id, chosen)
    if len(bills) != len(chosen):
        raise DomainError(_l('所选账单不是这个房屋的未缴账单，请刷新后重选'), field='bill_ids')
    amount = payments.owed_fen(bills)
    if amount <= 0:
        raise DomainError(_l('所选账单已缴清'), field='bill_ids')
    tenant = db.session.get(Tenant, current_tenant_id())
    order = PaymentOrder(number=_order_number(tenant), provider=provider, room_id=room.id, bill_ids=chosen,
                         amount_fen=amount, currency='CNY', status='pending', resident_id=resident.id,
                         user_id=user.id, expires_at=utcnow() + timedelta(minutes=ORDER_MINUTES))
    db.session.add(order)
    db.session.flush()
    return order


def subject(order_or_room_id) -> str:
    """What the payer's app shows: '阳光花园 1-2-301 物业费等'."""
    tenant = db.session.get(Tenant, current_tenant_id())
    room = db.session.get(Room, getattr(order_or_room_id, 'room_id', order_or_room_id))
    return f'{tenant.name} {room.code if room else ""} 物业费等'.strip()


def begin_checkout(order: PaymentOrder, *, client_ip: str = '', mobile: bool = True) -> Checkout:
    """Ask the provider where the payer goes next. ProviderError when it cannot be reached."""
    return adapter(order.provider).checkout(order, _urls(order.provider, f'/my/pay/orders/{order.id}'),
                                            subject=subject(order), client_ip=client_ip, mobile=mobile)


def close_expired(now=None) -> int:
    """Close the project's pending orders past their expiry (a late notification still credits them)."""
    now = now or utcnow()
    return db.session.execute(sa.update(PaymentOrder).where(
        PaymentOrder.status == 'pending', PaymentOrder.expires_at < now, PaymentOrder.mandate_id.is_(None))
        .values(status='closed', closed_at=now)).rowcount


# --- notifications -------------------------------------------------------------------------------------------------

class _Refusal(Exception):
    pass


def receive(provider: str, headers, body: bytes, form) -> tuple[bool, tuple]:
    """Handle one notification of ``provider`` for the current project. Returns (believed, the HTTP answer the
    provider expects). Commits what it credits; a refused notification changes nothing."""
    try:
        handler = adapter(provider)
    except (DomainError, KeyError):
        log.warning('payment notification for provider %s, which project %s has not enabled', provider,
                    current_tenant_id())
        return False, _plain_refusal()
    try:
        notice = handler.verify(headers, body, form)
    except Refused as refused:
        log.warning('payment notification refused (%s, project %s): %s', provider, current_tenant_id(),
                    refused.reason)
        return False, handler.answer(False)
    for attempt in range(1, BUSY_ATTEMPTS + 1):
        try:
            _apply(provider, handler, notice)
            db.session.commit()
            send_messages()
            return True, handler.answer(True)
        except _Refusal as refusal:
            db.session.rollback()
            log.warning('payment notification refused (%s, project %s, %s): %s', provider, current_tenant_id(),
                        notice.order_number, refusal)
            return False, handler.answer(False)
        except IntegrityError:
            # Another copy of the same notification credited it first (the transaction id is unique): look again.
            db.session.rollback()
        except OperationalError as exc:
            # SQLite's single writer (database is locked) or a PostgreSQL deadlock: try again, then let the
            # provider retry.
            db.session.rollback()
            if attempt == BUSY_ATTEMPTS:
                log.warning('payment notification %s not applied, the database is busy: %s', notice.order_number, exc)
    return False, handler.answer(False)


def _plain_refusal():
    return 'refused', 404, {'Content-Type': 'text/plain; charset=utf-8'}


def _apply(provider: str, handler: Provider, notice: Notice) -> None:
    if notice.merchant_id != handler.merchant_id:
        raise _Refusal(f'merchant {notice.merchant_id!r} is not this project\'s')
    if notice.kind == 'payment':
        _payment_notice(provider, notice)
    elif notice.kind == 'mandate':
        _mandate_notice(provider, notice)
    elif notice.kind != 'pending':  # still waiting for the payer: nothing to do, but understood
        raise _Refusal(f'unknown notice kind {notice.kind!r}')


def _payment_notice(provider: str, notice: Notice) -> None:
    order = db.session.execute(sa.select(PaymentOrder).where(PaymentOrder.number == notice.order_number)
                               .with_for_update()).scalar_one_or_none()
    if order is None or order.provider != provider:
        raise _Refusal('no such order')
    if not notice.succeeded:
        if order.status == 'pending':
            order.status, order.closed_at = 'failed', utcnow()
            order.failure_reason = (notice.failure_reason or '支付未成功')[:200]
            if order.mandate_id is not None:
                _tell_autopay_failed(order)
        return
    if notice.currency != order.currency:
        raise _Refusal(f'currency {notice.currency!r}, order in {order.currency}')
    if notice.amount_fen != order.amount_fen:
        raise _Refusal(f'amount {notice.amount_fen} fen, order of {order.amount_fen}')
    if not notice.txn_id:
        raise _Refusal('no transaction id')
    if order.status == 'paid':
        if order.provider_txn_id == notice.txn_id:
            return  # the same notification again: success, nothing changes
        raise _Refusal(f'order paid already by transaction {order.provider_txn_id}, not {notice.txn_id}')
    room = db.session.get(Room, order.room_id)
    payment = payments.record_online_payment(room, order.amount_fen, provider, provider_txn_id=notice.txn_id,
                                             bill_ids=order.bill_ids, paid_at=notice.paid_at,
                                             payer_resident_id=order.resident_id, reference=order.number)
    order.status, order.payment_id, order.provider_txn_id = 'paid', payment.id, notice.txn_id
    order.paid_at, order.failure_reason = payment.paid_at, None
    db.session.flush()
    _tell_paid(order, payment)


def _tell_paid(order: PaymentOrder, payment) -> None:
    """The payer hears that the money arrived (the 'payment_received' template), after the commit."""
    if order.resident_id is None:
        return
    room = db.session.get(Room, order.room_id)
    _after_commit(order.resident_id, 'payment_received',
                  {'room': room.code if room else '', 'amount': format_yuan(payment.amount_fen),
                   'receipt_no': payment.number},
                  f'payment:{payment.id}:received', f'/my/payments/{payment.id}')


def _tell_autopay_failed(order: PaymentOrder) -> None:
    if order.resident_id is None:
        return
    room = db.session.get(Room, order.room_id)
    _after_commit(order.resident_id, 'autopay_failed',
                  {'room': room.code if room else '', 'amount': format_yuan(order.amount_fen),
                   'reason': order.failure_reason or ''},
                  f'autopay:{order.id}:failed', '/my/bills')


def _after_commit(resident_id: int, template: str, context: dict, source_key: str, link: str) -> None:
    pending = db.session.info.setdefault('billing_messages', [])
    pending.append((resident_id, template, context, source_key, link))


def send_messages() -> int:
    """Send the messages collected by the last committed credit (a message never goes out for a rolled-back one).
    Called by the callers after their commit; failures to message never undo a payment."""
    from ..notices.templates import notify

    pending = db.session.info.pop('billing_messages', [])
    sent = 0
    for resident_id, template, context, source_key, link in pending:
        try:
            notify([resident_id], template, context, source_key=source_key, link=link)
            sent += 1
        except DomainError as exc:  # e.g. a project provisioned before the template existed
            db.session.rollback()
            log.warning('message %s not sent: %s', template, exc.message)
    return sent


# --- the sandbox's own asynchronous callback ---------------------------------------------------------------------

def deliver_sandbox_notice(record, *, succeeded: bool) -> None:
    """Have the sandbox notify the outcome of ``record`` (a PaymentOrder or an AutopayMandate) asynchronously, by
    job, the way a real provider calls back later. The order or mandate must be committed first (enqueue commits)."""
    kind = 'payment' if isinstance(record, PaymentOrder) else 'mandate'
    outcome = 'ok' if succeeded else 'failed'
    enqueue(sandbox_notify, kind, record.id, outcome, key=f'sandbox-notify:{kind}:{record.id}:{outcome}')


@job(_l('模拟支付回调'))
def sandbox_notify(kind: str, record_id: int, outcome: str) -> dict:
    """The sandbox provider's callback: a signed notification handled exactly as one arriving over HTTP."""
    sandbox = provider_class('sandbox')(settings().get('sandbox').config if settings().get('sandbox') else {},
                                        tenant_id=current_tenant_id())
    if kind == 'payment':
        order = db.session.get(PaymentOrder, int(record_id))
        headers, body = sandbox.notification('payment', order.number, succeeded=outcome == 'ok',
                                             amount_fen=order.amount_fen, txn_id=f'SBX{order.number}')
    else:
        mandate = db.session.get(AutopayMandate, int(record_id))
        headers, body = sandbox.notification('mandate', mandate.number, succeeded=outcome == 'ok',
                                             agreement_no=f'SBXA{mandate.number}')
    db.session.rollback()
    believed, _answer = receive('sandbox', headers, body, {})
    return {'believed': believed}


# --- 代扣 ---------------------------------------------------------------------------------------------------------

def autopay_providers() -> list[str]:
    """The enabled providers whose merchant account here can 代扣 (Alipay: once 商家扣款 is signed)."""
    return [name for name in enabled_providers() if adapter(name).autopay_ready]


def room_mandates(room_ids) -> dict[int, AutopayMandate]:
    """The live (pending or active) mandate of each room, newest first wins."""
    ids = list(room_ids)
    if not ids:
        return {}
    rows = db.session.execute(sa.select(AutopayMandate).where(
        AutopayMandate.room_id.in_(ids), AutopayMandate.status.in_(('pending', 'active')))
        .order_by(AutopayMandate.id)).scalars()
    return {row.room_id: row for row in rows}


def start_mandate(user, room: Room, provider: str) -> AutopayMandate:
    """A pending mandate for ``room`` with ``provider``; the resident signs it at the provider. Refused when the
    provider has no 代扣, the user does not live in the room, or the room has an active one. Does not commit."""
    if provider not in autopay_providers():
        raise DomainError(_l('这种支付方式不支持自动代扣'), field='provider')
    resident = resident_of(user, room.id)
    if resident is None:
        raise DomainError(_l('只能为自己居住的房屋开通代扣'))
    live = room_mandates([room.id]).get(room.id)
    if live is not None and live.status == 'active':
        raise DomainError(_l('这个房屋已开通自动代扣'))
    if live is not None:  # an unsigned attempt: replaced by this one
        live.status, live.cancelled_at, live.cancel_reason = 'cancelled', utcnow(), '重新签约'
    tenant = db.session.get(Tenant, current_tenant_id())
    mandate = AutopayMandate(number='DK' + _order_number(tenant)[2:], provider=provider, room_id=room.id,
                             resident_id=resident.id, user_id=user.id, status='pending')
    db.session.add(mandate)
    db.session.flush()
    return mandate


def mandate_checkout(mandate: AutopayMandate) -> Checkout:
    return adapter(mandate.provider).mandate_checkout(mandate, _urls(mandate.provider, '/my/autopay'),
                                                      subject=subject(mandate.room_id))


def cancel_mandate(mandate: AutopayMandate, reason: str, *, tell_provider: bool = True) -> AutopayMandate:
    """End a mandate (the resident may at any time). The provider is told first; if it cannot be reached the
    mandate stays as it was and the resident is asked to try again. Does not commit."""
    if mandate.status == 'cancelled':
        raise DomainError(_l('这项代扣已解约'))
    if tell_provider and mandate.status == 'active':
        try:
            adapter(mandate.provider).cancel_mandate(mandate)
        except ProviderError as exc:
            raise DomainError(exc.message) from None
        except DomainError:
            pass  # the provider was switched off here: nothing can be charged anyway
    mandate.status, mandate.cancelled_at = 'cancelled', utcnow()
    mandate.cancel_reason = (reason or '').strip()[:200] or None
    db.session.flush()
    return mandate


def _mandate_notice(provider: str, notice: Notice) -> None:
    mandate = db.session.execute(sa.select(AutopayMandate).where(AutopayMandate.number == notice.order_number)
                                 .with_for_update()).scalar_one_or_none()
    if mandate is None or mandate.provider != provider:
        raise _Refusal('no such mandate')
    if notice.succeeded:
        if mandate.status == 'pending':
            mandate.status, mandate.signed_at, mandate.agreement_no = 'active', utcnow(), notice.agreement_no
        elif mandate.status == 'active' and mandate.agreement_no != notice.agreement_no:
            raise _Refusal('a different agreement for an active mandate')
    elif mandate.status != 'cancelled':  # ended at the provider (the resident cancelled in the provider's app)
        mandate.status, mandate.cancelled_at = 'cancelled', utcnow()
        mandate.cancel_reason = (notice.failure_reason or '在支付平台解约')[:200]


def due_charges(today) -> list[tuple[AutopayMandate, Bill]]:
    """(mandate, bill) pairs to charge: open bills due on or before ``today`` of rooms with an active mandate,
    not charged under that mandate before. Two statements."""
    mandates = {m.room_id: m for m in db.session.execute(
        sa.select(AutopayMandate).where(AutopayMandate.status == 'active')).scalars()}
    if not mandates:
        return []
    charged = set(db.session.execute(sa.select(PaymentOrder.autopay_key).where(
        PaymentOrder.mandate_id.in_([m.id for m in mandates.values()]))).scalars())
    bills = db.session.execute(sa.select(Bill).where(
        Bill.room_id.in_(list(mandates)), Bill.status.in_(payments.OPEN_STATUSES), Bill.due_on <= today)
        .order_by(Bill.due_on, Bill.id)).scalars()
    return [(mandates[bill.room_id], bill) for bill in bills
            if _autopay_key(mandates[bill.room_id], bill) not in charged]


def _autopay_key(mandate: AutopayMandate, bill: Bill) -> str:
    return f'{mandate.id}:{bill.id}'


def charge(mandate: AutopayMandate, bill: Bill) -> PaymentOrder | None:
    """Charge one bill's balance under the mandate. The order is committed before the provider is asked, so a
    crash in between leaves a record, never a charge nobody knows of. Returns the order (None when nothing is
    owed)."""
    owed = payments.balance(bill)
    if owed <= 0:
        return None
    tenant = db.session.get(Tenant, current_tenant_id())
    order = PaymentOrder(number=_order_number(tenant), provider=mandate.provider, room_id=bill.room_id,
                         bill_ids=[bill.id], amount_fen=owed, currency='CNY', status='pending',
                         resident_id=mandate.resident_id, user_id=mandate.user_id, mandate_id=mandate.id,
                         autopay_key=_autopay_key(mandate, bill))
    db.session.add(order)
    db.session.commit()
    try:
        result = adapter(mandate.provider).charge(mandate, order, _urls(mandate.provider, '/my/bills'),
                                                  subject=subject(order))
    except (ProviderError, DomainError) as exc:
        result = ChargeResult(accepted=False, reason=str(exc.message))
    db.session.refresh(order)
    if not result.accepted and order.status == 'pending':
        order.status, order.closed_at = 'failed', utcnow()
        order.failure_reason = (result.reason or '代扣未成功')[:200]
        _tell_autopay_failed(order)
    db.session.commit()
    send_messages()
    return order


@job(_l('自动代扣'))
def charge_due_bills(day: str) -> dict:
    """One day's 代扣 of the project: every due open bill of a room with an active mandate, once."""
    from datetime import date as date_

    today = date_.fromisoformat(day)
    accepted = declined = 0
    for mandate, bill in due_charges(today):
        order = charge(mandate, bill)
        if order is None:
            continue
        if order.status == 'failed':
            declined += 1
        else:
            accepted += 1
    closed = close_expired()
    db.session.commit()
    return {'charged': accepted, 'declined': declined, 'closed_orders': closed}


@maintenance_task
def sweep(now=None) -> dict:
    """Platform maintenance: once a day per project with an active mandate, start ``charge_due_bills``."""
    now = now or now_utc()
    with platform_scope():
        tenant_ids = list(db.session.execute(sa.select(AutopayMandate.tenant_id).where(
            AutopayMandate.status == 'active').group_by(AutopayMandate.tenant_id)).scalars())
    started = 0
    for tenant_id in tenant_ids:
        with tenant_scope(tenant_id):
            today = tenant_today(db.session.get(Tenant, tenant_id), now)
            started += start_unless_current(charge_due_bills, today.isoformat(), key=f'autopay:{today.isoformat()}')
    return {'started': started}


def provider_label(name: str):
    return PROVIDER_NAMES.get(name, name)


# --- lookups for the pages -----------------------------------------------------------------------------------------

def orders_query(*, status: str | None = None, room_id: int | None = None):
    """Online orders, newest first."""
    query = sa.select(PaymentOrder)
    if status:
        query = query.where(PaymentOrder.status == status)
    if room_id is not None:
        query = query.where(PaymentOrder.room_id == room_id)
    return query.order_by(PaymentOrder.created_at.desc(), PaymentOrder.id.desc())


def autopay_orders(mandate_ids, limit: int = 20) -> list[PaymentOrder]:
    """The latest charges under these mandates, newest first."""
    ids = list(mandate_ids)
    if not ids:
        return []
    return list(db.session.execute(sa.select(PaymentOrder).where(PaymentOrder.mandate_id.in_(ids))
                                   .order_by(PaymentOrder.created_at.desc(), PaymentOrder.id.desc())
                                   .limit(limit)).scalars())


def rooms_by_id(room_ids) -> dict[int, Room]:
    ids = set(room_ids)
    if not ids:
        return {}
    return {room.id: room for room in db.session.execute(sa.select(Room).where(Room.id.in_(ids))).scalars()}
