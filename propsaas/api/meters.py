"""API: Meter readings (抄表).

Readings are exact decimal strings (at most three places), never floats. A room's meter, or the project's master
meter of a kind (``room_id`` null) whose usage minus the sub-meters' is shared (公摊). For admins, and staff with
the cashier (收费) or technician (工程) duty. Another project's reading is 404.
"""
from __future__ import annotations

import marshmallow as ma
from flask import g
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import validate

from ..billing import metering
from ..billing.models import METERS, MeterReading
from ..errors import DomainError
from ..extensions import db
from ..models_base import MAX_ID, get_or_404
from ..property.services import find_room, room_by_address
from .auth import BEARER, api_login_required
from .schemas import PageArgsSchema, errors, page_of, paginate

PREFIX = '/billing'
blp = Blueprint('api_meters', __name__, description='Meter readings (抄表)')
ACCESS = {'duties': ('cashier', 'technician')}
_PERIOD = validate.Regexp(r'^\d{4}-(0[1-9]|1[0-2])$', error='YYYY-MM')


class MeterReadingSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    meter = ma.fields.String(required=True, metadata={'description': 'water, electricity, gas or heat'})
    room_id = ma.fields.Integer(allow_none=True, metadata={'description': 'null: the master meter (总表)'})
    period = ma.fields.String(required=True, metadata={'description': "'YYYY-MM', the month the reading closes"})
    reading = ma.fields.String(required=True, metadata={'description': "exact decimal: '1234.5'"})
    replaced = ma.fields.Boolean(required=True, metadata={'description': 'a new meter: usage = reading'})
    read_on = ma.fields.Date(allow_none=True)
    note = ma.fields.String(allow_none=True)
    entered_by_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime(required=True)


class MeterReadingListArgsSchema(PageArgsSchema):
    period = ma.fields.String(validate=_PERIOD, metadata={'description': "'YYYY-MM'"})
    meter = ma.fields.String(validate=validate.OneOf(METERS))


class MeterReadingCreateSchema(ma.Schema):
    meter = ma.fields.String(required=True, validate=validate.OneOf(METERS))
    period = ma.fields.String(required=True, validate=_PERIOD, metadata={'description': "'YYYY-MM'"})
    reading = ma.fields.String(required=True, validate=validate.Length(min=1, max=30),
                               metadata={'description': "exact decimal as a string, at most 3 places: '1234.5'"})
    room = ma.fields.String(validate=validate.Length(min=1, max=80),
                            metadata={'description': "room address: '1-2-1201'; omit room and room_id for the "
                                                     "master meter"})
    room_id = ma.fields.Integer(validate=validate.Range(min=1, max=MAX_ID), metadata={'description': 'instead of room'})
    replaced = ma.fields.Boolean(load_default=False,
                                 metadata={'description': 'a new meter was fitted: a lower reading is accepted'})
    read_on = ma.fields.Date(allow_none=True)
    note = ma.fields.String(allow_none=True, validate=validate.Length(max=200))


@blp.route('/meter-readings', methods=['GET'])
@blp.arguments(MeterReadingListArgsSchema, location='query')
@blp.response(200, page_of(MeterReadingSchema))
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@api_login_required('admin', 'staff', **ACCESS)
def list_meter_readings(args):
    """Readings, latest period first, the master meter before the rooms; filter by period and meter."""
    return paginate(metering.readings_query(period=args.get('period'), meter=args.get('meter')), args)


@blp.route('/meter-readings', methods=['POST'])
@blp.arguments(MeterReadingCreateSchema)
@blp.response(201, MeterReadingSchema)
@errors(blp, 400, 401, 403, 415, 422)
@blp.doc(security=BEARER)
@api_login_required('admin', 'staff', **ACCESS)
def create_meter_reading(body):
    """Record one reading, or correct the period's reading while no bill line used it. 422 (with the field) when:
    the reading is not a non-negative decimal with at most three places; the room is unknown; it is lower than the
    previous reading and ``replaced`` is false (the message names the previous reading); a later reading is lower;
    or the period's reading is already billed."""
    room_id = None
    if body.get('room_id') is not None:
        room = find_room(body['room_id'])
        if room is None:
            raise DomainError(_l('找不到这个房屋'), field='room_id')
        room_id = room.id
    elif body.get('room'):
        room_id = room_by_address(body['room'], field='room').id
    reading = metering.record_reading(body['meter'], room_id, body['period'], body['reading'],
                                      replaced=body['replaced'], read_on=body.get('read_on'), note=body.get('note'),
                                      by_user_id=g.api_user.id)
    db.session.commit()
    return reading


@blp.route('/meter-readings/<int:reading_id>', methods=['GET'])
@blp.response(200, MeterReadingSchema)
@errors(blp, 401, 403, 404)
@blp.doc(security=BEARER)
@api_login_required('admin', 'staff', **ACCESS)
def get_meter_reading(reading_id):
    """One reading."""
    return get_or_404(MeterReading, reading_id)
