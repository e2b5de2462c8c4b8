"""API: fee items (收费项目), their billing rules (计费规则) and the price check — admin and cashiers (收费).

Money is integer fen (``amount_fen``); rates are exact decimal strings in yuan ('2.35'). A rule is never edited: a
later one supersedes it from its month; one that no bill line used yet may be deleted. Another project's item,
rule or building is 404 / unknown.
"""
from __future__ import annotations

from functools import wraps

import marshmallow as ma
from flask import g
from flask_smorest import Blueprint
from marshmallow import validate

from ..billing import fee_items as services
from ..billing import rule_admin
from ..billing.models import APPLIES_TO, CHARGINGS, CYCLES, METERS, RULE_SCOPES, BillingRule, FeeItem
from ..errors import DomainError
from ..extensions import db
from ..models_base import MAX_ID, get_or_404
from ..property.models import ROOM_TYPES
from .auth import BEARER, api_login_required
from .schemas import PageArgsSchema, errors, page_of, paginate

PREFIX = '/billing'
blp = Blueprint('api_fee_items', __name__, description='Fee items (收费项目), billing rules (计费规则), price check')

_ID = validate.Range(min=1, max=MAX_ID)
_MONTH = validate.Regexp(r'^\d{4}-\d{2}$', error='YYYY-MM')
_CASHIERS = ('admin', 'staff')


class FeeItemSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    charging = ma.fields.String(required=True, metadata={'description': 'area, fixed or meter'})
    rate = ma.fields.String(allow_none=True, metadata={'description': 'yuan, exact decimal: per m² per month (area), '
                                                                      'per unit read (meter)'})
    amount_fen = ma.fields.Integer(allow_none=True, metadata={'description': 'fixed: fen per cycle'})
    cycle = ma.fields.String(required=True, metadata={'description': 'month, quarter or year'})
    recurring = ma.fields.Boolean(required=True)
    applies_to = ma.fields.String(required=True)
    meter = ma.fields.String(allow_none=True)
    shared = ma.fields.Boolean(required=True)
    split_by = ma.fields.String(allow_none=True, metadata={'description': 'shared meter items: area or household'})
    note = ma.fields.String(allow_none=True)
    active = ma.fields.Boolean(required=True)
    sort_order = ma.fields.Integer(required=True)


class _FeeItemFields(ma.Schema):
    name = ma.fields.String(validate=validate.Length(min=1, max=60))
    charging = ma.fields.String(validate=validate.OneOf(CHARGINGS))
    rate = ma.fields.String(allow_none=True, validate=validate.Length(max=20),
                            metadata={'description': "yuan, up to 4 decimals: '2.35' (area and meter items)"})
    amount_fen = ma.fields.Integer(allow_none=True, strict=True, validate=validate.Range(min=1, max=1_000_000_000),
                                   metadata={'description': 'fixed items: fen per cycle'})
    cycle = ma.fields.String(validate=validate.OneOf(CYCLES))
    recurring = ma.fields.Boolean()
    applies_to = ma.fields.String(validate=validate.OneOf(APPLIES_TO))
    meter = ma.fields.String(allow_none=True, validate=validate.OneOf(METERS))
    shared = ma.fields.Boolean()
    split_by = ma.fields.String(allow_none=True, validate=validate.OneOf(services.SPLITS))
    note = ma.fields.String(allow_none=True, validate=validate.Length(max=200))


class FeeItemCreateSchema(_FeeItemFields):
    code = ma.fields.String(required=True, validate=validate.Length(min=1, max=40),
                            metadata={'description': "lower-case letters, digits and '_', unique in the project"})
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=60))
    charging = ma.fields.String(required=True, validate=validate.OneOf(CHARGINGS))


class FeeItemUpdateSchema(_FeeItemFields):
    active = ma.fields.Boolean(metadata={'description': 'false: no longer billed (停用); its bills stay'})


class RuleSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    fee_item_id = ma.fields.Integer(required=True)
    scope = ma.fields.String(required=True, metadata={'description': 'tenant, room_type, building, unit or room'})
    room_type = ma.fields.String(allow_none=True)
    building_id = ma.fields.Integer(allow_none=True)
    unit_id = ma.fields.Integer(allow_none=True)
    room_id = ma.fields.Integer(allow_none=True)
    rate = ma.fields.String(allow_none=True, metadata={'description': "overrides the item's rate (yuan)"})
    amount_fen = ma.fields.Integer(allow_none=True, metadata={'description': "overrides the item's amount (fen)"})
    exempt = ma.fields.Boolean(required=True, metadata={'description': '免收: nothing billed in this scope'})
    effective_from = ma.fields.Function(lambda r: r.effective_from.strftime('%Y-%m'), required=True,
                                        metadata={'description': "'YYYY-MM', the first month it applies to"})
    note = ma.fields.String(allow_none=True)
    created_by_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime(required=True)


class RuleCreateSchema(ma.Schema):
    scope = ma.fields.String(required=True, validate=validate.OneOf(RULE_SCOPES))
    room_type = ma.fields.String(validate=validate.OneOf(ROOM_TYPES), metadata={'description': 'scope room_type'})
    building_id = ma.fields.Integer(validate=_ID, metadata={'description': 'scope building'})
    unit_id = ma.fields.Integer(validate=_ID, metadata={'description': 'scope unit'})
    room_id = ma.fields.Integer(validate=_ID, metadata={'description': 'scope room (or give room)'})
    room = ma.fields.String(validate=validate.Length(min=1, max=80),
                            metadata={'description': "scope room: the address as typed, '1-2-1201'"})
    effective_from = ma.fields.String(required=True, validate=_MONTH,
                                      metadata={'description': "'YYYY-MM': from the first day of that month"})
    rate = ma.fields.String(validate=validate.Length(min=1, max=20),
                            metadata={'description': 'new rate in yuan (area and meter items)'})
    amount_fen = ma.fields.Integer(strict=True, validate=validate.Range(min=0, max=1_000_000_000),
                                   metadata={'description': 'new amount in fen (fixed items)'})
    exempt = ma.fields.Boolean(load_default=False, metadata={'description': '免收; needs a note saying why'})
    note = ma.fields.String(validate=validate.Length(max=200))


class PriceCheckArgsSchema(ma.Schema):
    room = ma.fields.String(required=True, validate=validate.Length(min=1, max=80),
                            metadata={'description': "the room's address, '1-2-1201'"})
    period = ma.fields.String(required=True, validate=_MONTH, metadata={'description': "'YYYY-MM'"})


class PriceLineSchema(ma.Schema):
    fee_item_id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    charging = ma.fields.String(required=True)
    applies = ma.fields.Boolean(required=True, metadata={'description': 'false: not billed to this room'})
    scope = ma.fields.String(required=True, metadata={'description': "the deciding rule's scope, or 'item'"})
    rule_id = ma.fields.Integer(allow_none=True)
    rule_effective_from = ma.fields.String(allow_none=True, metadata={'description': "'YYYY-MM'"})
    rule_note = ma.fields.String(allow_none=True)
    rate = ma.fields.String(allow_none=True)
    amount_fen = ma.fields.Integer(allow_none=True)
    exempt = ma.fields.Boolean(required=True)
    monthly_fen = ma.fields.Integer(allow_none=True, metadata={'description': "area items: area × rate, in fen"})


class PriceCheckSchema(ma.Schema):
    room_id = ma.fields.Integer(required=True)
    room_code = ma.fields.String(required=True)
    area_m2 = ma.fields.String(allow_none=True)
    period = ma.fields.String(required=True)
    items = ma.fields.List(ma.fields.Nested(PriceLineSchema), required=True)


def _loads_item(view):
    @wraps(view)
    def wrapper(*args, fee_item_id, **kwargs):
        return view(*args, item=get_or_404(FeeItem, fee_item_id), **kwargs)

    return wrapper


@blp.route('/fee-items', methods=['GET'])
@api_login_required(*_CASHIERS, duties=('cashier',))
@blp.arguments(PageArgsSchema, location='query')
@blp.response(200, page_of(FeeItemSchema))
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
def list_fee_items(args):
    """Every fee item, in the project's order (inactive ones too)."""
    return paginate(services.list_query(), args)


@blp.route('/fee-items', methods=['POST'])
@api_login_required(*_CASHIERS, duties=('cashier',))
@blp.arguments(FeeItemCreateSchema)
@blp.response(201, FeeItemSchema)
@errors(blp, 400, 401, 403, 415, 422)
@blp.doc(security=BEARER)
def create_fee_item(body):
    """Add a fee item: area items need ``rate``, fixed ones ``amount_fen``, metered ones ``rate`` and ``meter``."""
    item = services.create_fee_item(**body)
    db.session.commit()
    return item


@blp.route('/fee-items/<int:fee_item_id>', methods=['GET'])
@api_login_required(*_CASHIERS, duties=('cashier',))
@_loads_item
@blp.response(200, FeeItemSchema)
@errors(blp, 401, 403, 404)
@blp.doc(security=BEARER)
def get_fee_item(item):
    """One fee item."""
    return item


@blp.route('/fee-items/<int:fee_item_id>', methods=['PATCH'])
@api_login_required(*_CASHIERS, duties=('cashier',))
@_loads_item
@blp.arguments(FeeItemUpdateSchema)
@blp.response(200, FeeItemSchema)
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def update_fee_item(body, item):
    """Change fields of an item (not its code); ``active: false`` deactivates it (停用). Fields a charging model
    doesn't use are cleared."""
    services.update_fee_item(item, **body)
    db.session.commit()
    return item


@blp.route('/fee-items/<int:fee_item_id>/rules', methods=['GET'])
@api_login_required(*_CASHIERS, duties=('cashier',))
@_loads_item
@blp.response(200, RuleSchema(many=True))
@errors(blp, 401, 403, 404)
@blp.doc(security=BEARER)
def list_rules(item):
    """The item's rules, broadest scope first, then by month."""
    return rule_admin.rules_of(item)


@blp.route('/fee-items/<int:fee_item_id>/rules', methods=['POST'])
@api_login_required(*_CASHIERS, duties=('cashier',))
@_loads_item
@blp.arguments(RuleCreateSchema)
@blp.response(201, RuleSchema)
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def add_rule(body, item):
    """Add a rule: exactly one of ``rate``, ``amount_fen`` or ``exempt`` (with a ``note``), from a month on. The
    target is named by the scope's field; one of another project is unknown (422). A duplicate (same scope,
    target and month) is 422."""
    rule = rule_admin.add_rule(item, scope=body['scope'], effective_month=body['effective_from'],
                               rate=body.get('rate'), amount_fen=body.get('amount_fen'), exempt=body['exempt'],
                               note=body.get('note'), room_type=body.get('room_type'),
                               building_id=body.get('building_id'), unit_id=body.get('unit_id'),
                               room_id=body.get('room_id'), room=body.get('room'), by=g.api_user)
    db.session.commit()
    return rule


@blp.route('/rules/<int:rule_id>', methods=['DELETE'])
@api_login_required(*_CASHIERS, duties=('cashier',))
@blp.response(204)
@errors(blp, 401, 403, 404, 422)
@blp.doc(security=BEARER)
def delete_rule(rule_id):
    """Delete a rule no bill line used yet; one that priced a bill is 422 (add a later rule to supersede it)."""
    rule_admin.delete_rule(get_or_404(BillingRule, rule_id))
    db.session.commit()


@blp.route('/price-check', methods=['GET'])
@api_login_required(*_CASHIERS, duties=('cashier',))
@blp.arguments(PriceCheckArgsSchema, location='query')
@blp.response(200, PriceCheckSchema)
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
def price_check(args):
    """Every active item's price for a room in a month, with the rule that decided it ("why this rate")."""
    room = rule_admin.find_room(args['room'])
    if room is None:
        raise DomainError(rule_admin.ROOM_NOT_FOUND, field='room')
    lines = rule_admin.price_check(room, args['period'])
    return {'room_id': room.id, 'room_code': room.code, 'period': args['period'],
            'area_m2': str(room.area_m2) if room.area_m2 is not None else None,
            'items': [{'fee_item_id': line.item.id, 'code': line.item.code, 'name': line.item.name,
                       'charging': line.item.charging, 'applies': line.applies, 'scope': line.price.scope,
                       'rule_id': line.price.rule_id,
                       'rule_effective_from': line.rule.effective_from.strftime('%Y-%m') if line.rule else None,
                       'rule_note': line.rule.note if line.rule else None,
                       'rate': str(line.price.rate) if line.price.rate is not None else None,
                       'amount_fen': line.price.amount_fen, 'exempt': line.price.exempt,
                       'monthly_fen': line.monthly_fen} for line in lines]}
