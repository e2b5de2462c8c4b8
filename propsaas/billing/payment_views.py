"""Payment pages (收款) for admins and cashiers: the list, a new offline payment, the receipt with refund and reversal,
a room's account statement; and the resident portal's 缴费记录. Another project's payment or room is 404, and so is
another room's payment for a resident."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..auth.models import User
from ..auth.sessions import require_duty, require_role
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from ..money import capital, format_yuan, parse_yuan
from ..tenancy.clock import local_datetime, tenant_zone
from . import bills as bill_queries
from . import bp
from . import payments as services
from .models import BILL_STATUS_NAMES, PAYMENT_METHOD_NAMES, PAYMENT_METHODS, Payment
from .payment_forms import PaymentForm, RefundForm, ReverseForm

PER_PAGE = 30
KIND_NAMES = {'payment': _l('收款'), 'refund': _l('退款'), 'reversal': _l('冲正')}


def _context(**extra) -> dict:
    return {'yuan': format_yuan, 'methods': PAYMENT_METHOD_NAMES, 'kinds': KIND_NAMES,
            'bill_statuses': BILL_STATUS_NAMES, 'when': lambda value: local_datetime(value, g.tenant), **extra}


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat((request.args.get(name) or '').strip())
    except ValueError:
        return None


def _local_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tenant_zone(g.tenant))


@bp.get('/billing/payments')
@require_duty('cashier')
def payments():
    """收款记录: payments, refunds and reversals, newest first; filter by date range (local days), method, room."""
    start, end = _day('start'), _day('end')
    method = request.args.get('method') if request.args.get('method') in PAYMENT_METHODS else None
    room_text = (request.args.get('room') or '').strip()[:80]
    room_id, room_missing = None, False
    if room_text:
        room = bill_queries.room_by_text(room_text)
        room_id, room_missing = (room.id, False) if room else (None, True)
    query = services.list_query(start=_local_start(start) if start else None,
                                end=_local_start(end + timedelta(days=1)) if end else None,
                                method=method, room_id=room_id)
    if room_missing:
        query = query.where(sa.false())
    page = max(request.args.get('page', 1, type=int), 1)
    pagination = db.paginate(query, page=page, per_page=PER_PAGE, error_out=False)
    filters = {k: v for k, v in (('start', start.isoformat() if start else None),
                                 ('end', end.isoformat() if end else None), ('method', method),
                                 ('room', room_text or None)) if v}
    return render_template('billing/payments.html', pagination=pagination, rooms=services.rooms_of(pagination.items),
                           filters=filters, room_missing=room_missing, **_context())


add_nav('billing.payments', _l('收款'), ('admin', 'staff'), duties=('cashier',))


def _new_page(form: PaymentForm, status: int = 200):
    room = bill_queries.room_by_text(form.room.data) if form.room.data else None
    bills, paid, prepaid = [], {}, 0
    if room is not None:
        bills = services.open_bills(room.id)
        paid = services.paid_by_bill(bill.id for bill in bills)
        prepaid = services.prepaid_fen(room.id)
    return render_template('billing/payments_new.html', form=form, room=room, bills=bills, paid=paid,
                           prepaid=prepaid, **_context()), status


@bp.get('/billing/payments/new')
@require_duty('cashier')
def new_payment():
    """收款 form; with ?room=1-2-1201 it lists that room's open bills to choose from."""
    form = PaymentForm()
    form.room.data = (request.args.get('room') or '').strip()[:80] or None
    return _new_page(form)


def _field_error(form, error: DomainError, names: dict) -> None:
    name = names.get(error.field or '')
    if name is None:
        flash(error.message, 'error')
    else:
        field = getattr(form, name)
        field.errors = [*field.errors, error.message]


@bp.post('/billing/payments/new')
@require_duty('cashier')
def create_payment():
    form = PaymentForm()
    if not form.validate_on_submit():
        return _new_page(form, 422)
    room = bill_queries.room_by_text(form.room.data)
    if room is None:
        form.room.errors = [*form.room.errors, _('找不到这个房号，请按“楼栋-单元-房号”填写')]
        return _new_page(form, 422)
    names = {'amount': 'amount', 'method': 'method', 'bill_ids': 'bill_ids'}
    try:
        amount = parse_yuan(form.amount.data)
        payment = services.record_payment(room, amount, form.method.data, payer_name=form.payer_name.data,
                                          reference=form.reference.data, note=form.note.data,
                                          bill_ids=form.bill_ids.data or None, by_user_id=current_user.id)
    except DomainError as e:
        db.session.rollback()
        _field_error(form, e, names)
        return _new_page(form, e.status_code)
    db.session.commit()
    flash(_('已收款 %(amount)s 元，收据号 %(number)s', amount=format_yuan(amount), number=payment.number))
    return redirect(url_for('billing.payment_detail', payment_id=payment.id))


def _receipt(payment: Payment) -> dict:
    """What a receipt shows: the room, the cashier, the bills settled, the state and the related rows."""
    room = services.rooms_of([payment]).get(payment.room_id)
    cashier = db.session.get(User, payment.recorded_by_id) if payment.recorded_by_id else None
    state = services.payment_state(payment) if payment.kind == 'payment' else None
    return {'payment': payment, 'room': room, 'cashier': cashier, 'state': state,
            'related': services.related(payment), 'capital': capital(payment.amount_fen),
            'place': bill_queries.place}


def _detail(payment: Payment, refund_form=None, reverse_form=None, status: int = 200):
    return render_template('billing/payments_detail.html', refund_form=refund_form or RefundForm(),
                           reverse_form=reverse_form or ReverseForm(), **_receipt(payment), **_context()), status


@bp.get('/billing/payments/<int:payment_id>')
@require_duty('cashier')
def payment_detail(payment_id):
    """收据: number, payer, room and area, the bills settled with their periods, the amount in figures and capitals,
    the cashier and the date; refund and reversal forms."""
    return _detail(services.load_payment(payment_id))


@bp.post('/billing/payments/<int:payment_id>/refund')
@require_duty('cashier')
def refund_payment(payment_id):
    payment = services.load_payment(payment_id)
    form = RefundForm()
    if not form.validate_on_submit():
        return _detail(payment, refund_form=form, status=422)
    try:
        row = services.refund(payment, parse_yuan(form.amount.data), form.reason.data, by_user_id=current_user.id)
    except DomainError as e:
        db.session.rollback()
        _field_error(form, e, {'amount': 'amount', 'reason': 'reason'})
        return _detail(services.load_payment(payment_id), refund_form=form, status=e.status_code)
    db.session.commit()
    flash(_('已退款 %(amount)s 元，单号 %(number)s', amount=format_yuan(row.amount_fen), number=row.number))
    return redirect(url_for('billing.payment_detail', payment_id=row.id))


@bp.post('/billing/payments/<int:payment_id>/reverse')
@require_duty('cashier')
def reverse_payment(payment_id):
    payment = services.load_payment(payment_id)
    form = ReverseForm()
    if not form.validate_on_submit():
        return _detail(payment, reverse_form=form, status=422)
    try:
        row = services.reverse(payment, form.reason.data, by_user_id=current_user.id)
    except DomainError as e:
        db.session.rollback()
        _field_error(form, e, {'reason': 'reason'})
        return _detail(services.load_payment(payment_id), reverse_form=form, status=e.status_code)
    db.session.commit()
    flash(_('已冲正，单号 %(number)s', number=row.number))
    return redirect(url_for('billing.payment_detail', payment_id=row.id))


@bp.get('/billing/rooms/<int:room_id>/account')
@require_duty('cashier')
def room_account(room_id):
    """房屋账户: the room's bills with their balances, its payments, the amount owed and the prepaid balance."""
    room = services.load_room(room_id)
    summary = services.account(room)
    page = max(request.args.get('page', 1, type=int), 1)
    bills = db.paginate(services.room_bills_query(room.id), page=page, per_page=PER_PAGE, error_out=False)
    paid = services.paid_by_bill(bill.id for bill in bills.items)
    recent = db.session.execute(services.list_query(room_id=room.id).limit(PER_PAGE)).scalars().all()
    return render_template('billing/payments_account.html', room=room, summary=summary, pagination=bills, paid=paid,
                           recent=recent, place=bill_queries.place, filters={'room_id': room.id}, **_context())


# --- the resident portal -----------------------------------------------------------------------------------------

@bp.get('/my/payments')
@require_role('resident')
def my_payments():
    page = max(request.args.get('page', 1, type=int), 1)
    pagination = db.paginate(services.resident_query(current_user), page=page, per_page=20, error_out=False)
    return render_template('billing/my_payments.html', pagination=pagination,
                           rooms=services.rooms_of(pagination.items), filters={}, **_context())


add_nav('billing.my_payments', _l('缴费记录'), ('resident',))


@bp.get('/my/payments/<int:payment_id>')
@require_role('resident', 'admin', 'staff')
def my_payment(payment_id):
    if current_user.role != 'resident':
        abort(404)  # nobody else has payments of their own: like another room's, it isn't there for them
    payment = services.resident_payment(current_user, payment_id)
    return render_template('billing/my_payments_detail.html', **_receipt(payment), **_context())
