"""API: offline payments (收款), refunds and reversals, a room's account, and a resident's payment history.

Staff (admin or cashier): ``/billing/payments`` (list; POST records a payment), ``/billing/payments/<payment_id>``,
``/billing/payments/<payment_id>/refund``, ``/billing/payments/<payment_id>/reverse``,
``/billing/rooms/<room_id>/account``. Residents: ``/me/payments`` — payments of rooms they currently live in.
Receipts as PDF: ``/billing/payments/<payment_id>/receipt`` and ``/me/payments/<payment_id>/receipt``.
Money is integer fen. Another project's payment or room is 404, before any body is read.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import wraps

import marshmallow as ma
import sqlalchemy as sa
from flask import g
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import validate

from ..billing import payments as services
from ..billing.models import PAYMENT_KINDS, PAYMENT_METHODS
from ..billing.pdf_views import PDF, receipt_response
from ..errors import DomainError
from ..extensions import db
from ..models_base import MAX_ID
from ..money import MAX_FEN
from ..property.models import Room
from ..tenancy.clock import tenant_zone
from .auth import BEARER, api_login_required
from .schemas import PageArgsSchema, errors, page_of, paginate

PREFIX = ''
blp = Blueprint('api_payments', __name__, description='Payments (收款), refunds and reversals')

_ID = validate.Range(min=1, max=MAX_ID)
_FEN = validate.Range(min=1, max=MAX_FEN)
STAFF = ('admin', 'staff')
CASHIER = ('cashier',)


class AllocationSchema(ma.Schema):
    bill_id = ma.fields.Integer(required=True)
    bill_number = ma.fields.Function(lambda a: a.bill.number, required=True)
    period = ma.fields.Function(lambda a: a.bill.period, required=True)
    amount_fen = ma.fields.Integer(required=True, metadata={'description': 'negative in a reversal'})


class PaymentSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    number = ma.fields.String(required=True, metadata={'description': "receipt number 'SJ202612-000001'"})
    kind = ma.fields.String(required=True, metadata={'description': 'payment, refund or reversal'})
    method = ma.fields.String(required=True)
    amount_fen = ma.fields.Integer(required=True, metadata={'description': 'always positive; kind gives direction'})
    room_id = ma.fields.Integer(allow_none=True)
    payer_name = ma.fields.String(allow_none=True)
    reference = ma.fields.String(allow_none=True)
    reverses_id = ma.fields.Integer(allow_none=True, metadata={'description': 'the payment a refund/reversal undoes'})
    reason = ma.fields.String(allow_none=True, metadata={'description': "refund/reversal reason, or a payment's note"})
    paid_at = ma.fields.DateTime(required=True)


PaymentPageSchema = page_of(PaymentSchema)


class PaymentDetailSchema(PaymentSchema):
    allocations = ma.fields.List(ma.fields.Nested(AllocationSchema), required=True)
    allocated_fen = ma.fields.Integer(allow_none=True, metadata={'description': 'payments only'})
    refunded_fen = ma.fields.Integer(allow_none=True)
    unallocated_fen = ma.fields.Integer(allow_none=True, metadata={'description': 'prepaid part still refundable'})
    reversed = ma.fields.Boolean(allow_none=True)


class PaymentCreateSchema(ma.Schema):
    room_id = ma.fields.Integer(required=True, validate=_ID)
    amount_fen = ma.fields.Integer(required=True, strict=True, validate=_FEN)
    method = ma.fields.String(required=True, validate=validate.OneOf(services.OFFLINE_METHODS))
    paid_at = ma.fields.AwareDateTime(load_default=None, metadata={'description': 'default: now'})
    payer_name = ma.fields.String(load_default=None, validate=validate.Length(max=60))
    reference = ma.fields.String(load_default=None, validate=validate.Length(max=100))
    note = ma.fields.String(load_default=None, validate=validate.Length(max=200))
    bill_ids = ma.fields.List(ma.fields.Integer(validate=_ID), load_default=None,
                              validate=validate.Length(min=1, max=200),
                              metadata={'description': "the payer's choice; default: open bills oldest first"})


class RefundSchema(ma.Schema):
    amount_fen = ma.fields.Integer(required=True, strict=True, validate=_FEN)
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))


class ReverseSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))


class PaymentListArgsSchema(PageArgsSchema):
    start = ma.fields.Date(metadata={'description': 'first local day'})
    end = ma.fields.Date(metadata={'description': 'last local day (inclusive)'})
    method = ma.fields.String(validate=validate.OneOf(PAYMENT_METHODS))
    kind = ma.fields.String(validate=validate.OneOf(PAYMENT_KINDS))
    room_id = ma.fields.Integer(validate=_ID)


class AccountBillSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    number = ma.fields.String(required=True)
    period = ma.fields.String(required=True)
    due_on = ma.fields.Date(required=True)
    status = ma.fields.String(required=True)
    total_fen = ma.fields.Integer(required=True)
    balance_fen = ma.fields.Integer(required=True)


class AccountSchema(ma.Schema):
    room_id = ma.fields.Integer(required=True)
    room_code = ma.fields.String(required=True)
    owed_fen = ma.fields.Integer(required=True)
    prepaid_fen = ma.fields.Integer(required=True)
    prepay_cap_fen = ma.fields.Integer(allow_none=True, metadata={'description': 'null: no cap (no bills yet)'})
    open_bills = ma.fields.List(ma.fields.Nested(AccountBillSchema), required=True)
    recent_payments = ma.fields.List(ma.fields.Nested(PaymentSchema), required=True,
                                      metadata={'description': 'the latest 20'})


def _detail(payment) -> dict:
    out = {name: getattr(payment, name) for name in PaymentSchema().fields}
    out['allocations'] = payment.allocations
    state = services.payment_state(payment) if payment.kind == 'payment' else None
    out.update({'allocated_fen': state['allocated'] if state else None,
                'refunded_fen': state['refunded'] if state else None,
                'unallocated_fen': state['unallocated'] if state else None,
                'reversed': state['reversed'] if state else None})
    return out


def _existing_payment(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        services.load_payment(kwargs['payment_id'])
        return view(*args, **kwargs)

    return wrapper


def _local_start(day):
    return datetime.combine(day, time.min, tzinfo=tenant_zone(g.tenant))


@blp.route('/billing/payments', methods=['GET'])
@blp.arguments(PaymentListArgsSchema, location='query')
@blp.response(200, PaymentPageSchema)
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@api_login_required(*STAFF, duties=CASHIER)
def list_payments(args):
    """Payments, refunds and reversals, newest first; filters: start, end (local days), method, kind, room_id."""
    query = services.list_query(start=_local_start(args['start']) if args.get('start') else None,
                                end=_local_start(args['end'] + timedelta(days=1)) if args.get('end') else None,
                                method=args.get('method'), kind=args.get('kind'), room_id=args.get('room_id'))
    return paginate(query, args)


@blp.route('/billing/payments', methods=['POST'])
@blp.arguments(PaymentCreateSchema)
@blp.response(201, PaymentDetailSchema)
@errors(blp, 400, 401, 403, 415, 422)
@blp.doc(security=BEARER)
@api_login_required(*STAFF, duties=CASHIER)
def create_payment(body):
    """Record an offline payment (cash, bank_transfer, pos) for a room: allocated to ``bill_ids`` or to the room's
    open bills oldest first, the rest kept as prepaid. 422 for an unknown room, a bill that is not open for the
    room, or a prepaid balance beyond the cap."""
    room = db.session.execute(sa.select(Room).where(Room.id == body['room_id'])).scalar_one_or_none()
    if room is None:
        raise DomainError(_l('没有这个房屋'), field='room_id')
    payment = services.record_payment(room, body['amount_fen'], body['method'], paid_at=body['paid_at'],
                                      payer_name=body['payer_name'], reference=body['reference'],
                                      note=body['note'], bill_ids=body['bill_ids'], by_user_id=g.api_user.id)
    db.session.commit()
    return _detail(services.load_payment(payment.id)), 201


@blp.route('/billing/payments/<int:payment_id>', methods=['GET'])
@blp.response(200, PaymentDetailSchema)
@errors(blp, 401, 403, 404)
@blp.doc(security=BEARER)
@api_login_required(*STAFF, duties=CASHIER)
def get_payment(payment_id):
    """One payment, refund or reversal with its allocations; for a payment, what is allocated, refunded and left."""
    return _detail(services.load_payment(payment_id))


@blp.route('/billing/payments/<int:payment_id>/refund', methods=['POST'])
@api_login_required(*STAFF, duties=CASHIER)
@_existing_payment  # before the body is read: another tenant's payment is 404 whatever is posted
@blp.arguments(RefundSchema)
@blp.response(201, PaymentDetailSchema, description='the refund')
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def refund_payment(body, payment_id):
    """Refund part of a payment's unallocated (prepaid) part: a new row, kind 'refund'. 422 above what is left,
    for a reversed payment, or for a refund/reversal."""
    row = services.refund(services.load_payment(payment_id), body['amount_fen'], body['reason'],
                          by_user_id=g.api_user.id)
    db.session.commit()
    return _detail(services.load_payment(row.id)), 201


@blp.route('/billing/payments/<int:payment_id>/reverse', methods=['POST'])
@api_login_required(*STAFF, duties=CASHIER)
@_existing_payment
@blp.arguments(ReverseSchema)
@blp.response(201, PaymentDetailSchema, description='the reversal')
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def reverse_payment(body, payment_id):
    """冲正: undo a payment (what was not refunded) with negative allocations; its bills become unpaid or partial
    again. 422 when reversed already, wholly refunded, or not a payment."""
    row = services.reverse(services.load_payment(payment_id), body['reason'], by_user_id=g.api_user.id)
    db.session.commit()
    return _detail(services.load_payment(row.id)), 201


@blp.route('/billing/rooms/<int:room_id>/account', methods=['GET'])
@blp.response(200, AccountSchema)
@errors(blp, 401, 403, 404)
@blp.doc(security=BEARER)
@api_login_required(*STAFF, duties=CASHIER)
def room_account(room_id):
    """A room's account: open bills with balances, the amount owed, the prepaid balance and its cap, the latest
    payments."""
    room = services.load_room(room_id)
    summary = services.account(room)
    paid = summary['paid']
    recent = db.session.execute(services.list_query(room_id=room.id).limit(20)).scalars().all()
    return {'room_id': room.id, 'room_code': room.code, 'owed_fen': summary['owed_fen'],
            'prepaid_fen': summary['prepaid_fen'], 'prepay_cap_fen': summary['prepay_cap_fen'],
            'open_bills': [{'id': b.id, 'number': b.number, 'period': b.period, 'due_on': b.due_on,
                            'status': b.status, 'total_fen': b.total_fen,
                            'balance_fen': b.total_fen - paid.get(b.id, 0)} for b in summary['open_bills']],
            'recent_payments': recent}


@blp.route('/me/payments', methods=['GET'])
@blp.arguments(PageArgsSchema, location='query')
@blp.response(200, PaymentPageSchema)
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@api_login_required('resident')
def my_payments(args):
    """The resident's payment history: payments, refunds and reversals of rooms they currently live in."""
    return paginate(services.resident_query(g.api_user), args)




@blp.route('/billing/payments/<int:payment_id>/receipt', methods=['GET'])
@blp.response(200, description='the receipt (收据) of a payment, refund or reversal as a PDF', content_type=PDF)
@errors(blp, 401, 403, 404)
@blp.doc(security=BEARER)
@api_login_required(*STAFF, duties=CASHIER)
def get_receipt(payment_id):
    """The numbered receipt as a PDF: amount and 大写, payer, room, the bills it settled, cashier, and for a refund or
    reversal its reason."""
    return receipt_response(services.load_payment(payment_id))


@blp.route('/me/payments/<int:payment_id>/receipt', methods=['GET'])
@blp.response(200, description="the resident's receipt as a PDF", content_type=PDF)
@errors(blp, 401, 404)
@blp.doc(security=BEARER)
@api_login_required()  # anyone else has no payments of their own: 404, not 403
def my_receipt(payment_id):
    """The receipt of a payment of a room the resident lives in, as a PDF; any other is 404."""
    return receipt_response(services.resident_payment(g.api_user, payment_id))
