"""API: online payment (在线缴费) and 代扣 for residents (what a WeChat mini-program needs), and the online orders for
cashiers.

Residents: ``POST /me/payment-orders`` (pay chosen bills: the order and where to send the payer),
``GET /me/payment-orders/<order_id>`` (its outcome), ``GET /me/autopay``, ``POST /me/autopay`` (sign),
``POST /me/autopay/<mandate_id>/cancel``. Cashiers: ``GET /billing/payment-orders``. The providers' notifications
are not API: they arrive at ``/pay/notify/<provider>``. Another room's or project's order or mandate is 404.
"""
from __future__ import annotations

from functools import wraps

import marshmallow as ma
from flask import abort, g, request
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import validate

from ..billing import online
from ..billing.models import ORDER_STATUSES, PROVIDERS, AutopayMandate, PaymentOrder
from ..errors import DomainError
from ..extensions import db
from ..models_base import MAX_ID, get_or_404
from ..property.models import Room
from .auth import BEARER, api_login_required
from .schemas import PageArgsSchema, errors, page_of, paginate

PREFIX = ''
blp = Blueprint('api_online', __name__, description='Online payment (在线缴费) and automatic payment (代扣)')

_ID = validate.Range(min=1, max=MAX_ID)


class OrderSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    number = ma.fields.String(required=True, metadata={'description': "the provider's out_trade_no"})
    provider = ma.fields.String(required=True)
    room_id = ma.fields.Integer(required=True)
    bill_ids = ma.fields.List(ma.fields.Integer(), required=True)
    amount_fen = ma.fields.Integer(required=True)
    currency = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={'description': 'pending, paid, failed or closed'})
    payment_id = ma.fields.Integer(allow_none=True, metadata={'description': 'the receipt, once paid'})
    mandate_id = ma.fields.Integer(allow_none=True, metadata={'description': 'set for a 代扣 charge'})
    failure_reason = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime(required=True)
    expires_at = ma.fields.DateTime(allow_none=True)
    paid_at = ma.fields.DateTime(allow_none=True)


class CheckoutSchema(ma.Schema):
    redirect_url = ma.fields.String(allow_none=True, metadata={'description': "open this page (the provider's)"})
    qr_text = ma.fields.String(allow_none=True, metadata={'description': "or show this as a QR code to scan"})


class StartedOrderSchema(ma.Schema):
    order = ma.fields.Nested(OrderSchema, required=True)
    checkout = ma.fields.Nested(CheckoutSchema, required=True)


class OrderCreateSchema(ma.Schema):
    bill_ids = ma.fields.List(ma.fields.Integer(validate=_ID), required=True, validate=validate.Length(min=1, max=200))
    provider = ma.fields.String(required=True, validate=validate.OneOf(PROVIDERS))
    mobile = ma.fields.Boolean(load_default=True, metadata={'description': 'H5 page (true) or a QR code (false)'})


class OrderListArgsSchema(PageArgsSchema):
    status = ma.fields.String(validate=validate.OneOf(ORDER_STATUSES))
    room_id = ma.fields.Integer(validate=_ID)


class MandateSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    number = ma.fields.String(required=True)
    provider = ma.fields.String(required=True)
    room_id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, metadata={'description': 'pending, active or cancelled'})
    signed_at = ma.fields.DateTime(allow_none=True)
    cancelled_at = ma.fields.DateTime(allow_none=True)
    cancel_reason = ma.fields.String(allow_none=True)


class AutopaySchema(ma.Schema):
    providers = ma.fields.List(ma.fields.String(), required=True,
                               metadata={'description': 'the providers this project offers 代扣 with'})
    mandates = ma.fields.List(ma.fields.Nested(MandateSchema), required=True)


class MandateCreateSchema(ma.Schema):
    room_id = ma.fields.Integer(required=True, validate=_ID)
    provider = ma.fields.String(required=True, validate=validate.OneOf(PROVIDERS))


class StartedMandateSchema(ma.Schema):
    mandate = ma.fields.Nested(MandateSchema, required=True)
    checkout = ma.fields.Nested(CheckoutSchema, required=True)


class CancelSchema(ma.Schema):
    reason = ma.fields.String(load_default=None, validate=validate.Length(max=200))


def _mine(model, object_id: int):
    """A resident's own order or mandate (a room they live in); anything else is 404."""
    found = get_or_404(model, object_id)
    if g.api_user.role != 'resident' or online.resident_of(g.api_user, found.room_id) is None:
        abort(404)
    return found


def _existing_mandate(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        _mine(AutopayMandate, kwargs['mandate_id'])
        return view(*args, **kwargs)

    return wrapper


def _provider_error(exc):
    raise DomainError(exc.message) from None


@blp.route('/me/payment-orders', methods=['POST'])
@blp.arguments(OrderCreateSchema)
@blp.response(201, StartedOrderSchema)
@errors(blp, 400, 401, 403, 415, 422)
@blp.doc(security=BEARER)
@api_login_required('resident')
def start_order(body):
    """Pay chosen open bills of one room the resident lives in: a pending order for what they owe, and where to send
    the payer (``redirect_url``) or what to show (``qr_text``). The outcome arrives from the provider; poll the
    order. 422 for bills not open or not one room's, or a provider the project has not enabled."""
    from ..billing.providers import ProviderError

    bills_room = _room_of_bills(body['bill_ids'])
    order = online.start_order(g.api_user, bills_room, body['provider'], body['bill_ids'])
    db.session.commit()
    try:
        checkout = online.begin_checkout(order, client_ip=request.remote_addr or '', mobile=body['mobile'])
    except ProviderError as exc:
        _provider_error(exc)
    return {'order': order, 'checkout': checkout}, 201


def _room_of_bills(bill_ids) -> Room:
    from ..billing import bills as bill_queries

    rooms = {bill_queries.resident_bill(g.api_user, bill_id).room_id for bill_id in bill_ids}
    if len(rooms) != 1 or None in rooms:
        raise DomainError(_l('一次只能缴一个房屋的账单'), field='bill_ids')
    return db.session.get(Room, rooms.pop())


@blp.route('/me/payment-orders/<int:order_id>', methods=['GET'])
@blp.response(200, OrderSchema)
@errors(blp, 401, 403, 404)
@blp.doc(security=BEARER)
@api_login_required()  # anyone else has no order of their own: 404, not 403
def get_order(order_id):
    """One of the resident's orders: pending until the provider's notification arrives, then paid (with the
    payment's id, the receipt) or failed."""
    return _mine(PaymentOrder, order_id)


@blp.route('/me/autopay', methods=['GET'])
@blp.response(200, AutopaySchema)
@errors(blp, 401, 403)
@blp.doc(security=BEARER)
@api_login_required('resident')
def my_autopay():
    """The 代扣 mandates (pending or active) of the rooms the resident lives in, and the providers offering it."""
    rooms = online.resident_rooms(g.api_user)
    return {'providers': online.autopay_providers(),
            'mandates': list(online.room_mandates(room.id for room in rooms).values())}


@blp.route('/me/autopay', methods=['POST'])
@blp.arguments(MandateCreateSchema)
@blp.response(201, StartedMandateSchema)
@errors(blp, 400, 401, 403, 415, 422)
@blp.doc(security=BEARER)
@api_login_required('resident')
def sign_autopay(body):
    """Start a 代扣 mandate for a room the resident lives in; the resident signs it at the provider (checkout)."""
    from ..billing.providers import ProviderError

    room = next((room for room in online.resident_rooms(g.api_user) if room.id == body['room_id']), None)
    if room is None:
        raise DomainError(_l('请选择你居住的房屋'), field='room_id')
    mandate = online.start_mandate(g.api_user, room, body['provider'])
    db.session.commit()
    try:
        checkout = online.mandate_checkout(mandate)
    except ProviderError as exc:
        _provider_error(exc)
    return {'mandate': mandate, 'checkout': checkout}, 201


@blp.route('/me/autopay/<int:mandate_id>/cancel', methods=['POST'])
@api_login_required()  # anyone else has no mandate of their own: 404, not 403
@_existing_mandate  # before the body is read: another room's mandate is 404 whatever is posted
@blp.arguments(CancelSchema)
@blp.response(200, MandateSchema)
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def cancel_autopay(body, mandate_id):
    """End a mandate: later bills are no longer charged. 422 when it is cancelled already."""
    mandate = _mine(AutopayMandate, mandate_id)
    online.cancel_mandate(mandate, body['reason'] or '住户解约')
    db.session.commit()
    return mandate


@blp.route('/billing/payment-orders', methods=['GET'])
@blp.arguments(OrderListArgsSchema, location='query')
@blp.response(200, page_of(OrderSchema))
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@api_login_required('admin', 'staff', duties=('cashier',))
def list_orders(args):
    """Online orders, newest first (for reconciliation with the provider's statement); filters: status, room_id."""
    return paginate(online.orders_query(status=args.get('status'), room_id=args.get('room_id')), args)
