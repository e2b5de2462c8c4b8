"""API: arrears (欠费) and the reminder log (催缴记录) for staff (admin or cashier).

``GET /billing/arrears``: rooms in arrears as of today in the project's timezone, largest first, with their age
buckets (0-30, 31-90, 91-180, over 180 days overdue) and the project's (or building's) totals.
``GET /billing/reminders``: the reminder log, latest first. Money is integer fen; mobiles are masked but for admins.
"""
from __future__ import annotations

import marshmallow as ma
from flask import g
from flask_smorest import Blueprint
from marshmallow import validate

from ..billing import arrears, dunning
from ..models_base import MAX_ID
from ..tenancy.clock import tenant_today
from .auth import BEARER, api_login_required
from .schemas import PageArgsSchema, errors, paginate

PREFIX = '/billing'
blp = Blueprint('api_arrears', __name__, description='Arrears (欠费) and payment reminders (催缴)')

_ID = validate.Range(min=1, max=MAX_ID)
STAFF = ('admin', 'staff')
CASHIER = ('cashier',)


class BucketsSchema(ma.Schema):
    d30 = ma.fields.Integer(required=True, metadata={'description': 'fen, 0-30 days overdue'})
    d90 = ma.fields.Integer(required=True, metadata={'description': 'fen, 31-90 days overdue'})
    d180 = ma.fields.Integer(required=True, metadata={'description': 'fen, 91-180 days overdue'})
    over180 = ma.fields.Integer(required=True, metadata={'description': 'fen, over 180 days overdue'})


class ArrearsRowSchema(ma.Schema):
    room_id = ma.fields.Integer(allow_none=True)
    place = ma.fields.String(required=True, metadata={'description': "'1栋1单元101'"})
    building_id = ma.fields.Integer(allow_none=True)
    payer_resident_id = ma.fields.Integer(allow_none=True)
    payer_name = ma.fields.String(required=True)
    payer_mobile = ma.fields.String(required=True, metadata={'description': 'masked (138****1234) but for admins'})
    oldest_due_on = ma.fields.Date(required=True)
    days_overdue = ma.fields.Integer(required=True)
    bills = ma.fields.Integer(required=True)
    buckets = ma.fields.Nested(BucketsSchema, required=True)
    total_fen = ma.fields.Integer(required=True)
    on_hold = ma.fields.Boolean(required=True, metadata={'description': '不催缴: reminders paused'})


class TotalsSchema(ma.Schema):
    buckets = ma.fields.Nested(BucketsSchema, required=True)
    total_fen = ma.fields.Integer(required=True)
    rooms = ma.fields.Integer(required=True)
    bills = ma.fields.Integer(required=True)


class ArrearsPageSchema(ma.Schema):
    as_of = ma.fields.Date(required=True, metadata={'description': "today in the project's timezone"})
    totals = ma.fields.Nested(TotalsSchema, required=True, metadata={'description': 'project or building'})
    items = ma.fields.List(ma.fields.Nested(ArrearsRowSchema), required=True)
    page = ma.fields.Integer(required=True)
    per_page = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True)
    pages = ma.fields.Integer(required=True)


class ArrearsArgsSchema(PageArgsSchema):
    building_id = ma.fields.Integer(validate=_ID)


class ReminderSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    bill_id = ma.fields.Integer(required=True)
    step = ma.fields.Integer(required=True, metadata={'description': 'days relative to the due date'})
    due_on = ma.fields.Date(required=True, metadata={'description': 'the day the schedule put it on'})
    sent_on = ma.fields.Date(allow_none=True, metadata={'description': 'the day it went out (after holidays)'})
    resident_id = ma.fields.Integer(allow_none=True)
    status = ma.fields.String(required=True, metadata={'description': 'sent, skipped or failed'})
    note = ma.fields.String(allow_none=True)
    source_key = ma.fields.String(allow_none=True, metadata={'description': "the notification's source key"})
    created_at = ma.fields.DateTime(required=True)


class ReminderPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ReminderSchema), required=True)
    page = ma.fields.Integer(required=True)
    per_page = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True)
    pages = ma.fields.Integer(required=True)


class ReminderArgsSchema(PageArgsSchema):
    status = ma.fields.String(validate=validate.OneOf(dunning.REMINDER_STATUSES))
    bill_id = ma.fields.Integer(validate=_ID)


@blp.route('/arrears', methods=['GET'])
@blp.arguments(ArrearsArgsSchema, location='query')
@blp.response(200, ArrearsPageSchema)
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@api_login_required(*STAFF, duties=CASHIER)
def list_arrears(args):
    """Rooms in arrears, largest total first, with age buckets; ``building_id`` narrows to one building. 401 without
    a token, 403 for other roles, 422 for a bad page or building id."""
    today = tenant_today(g.tenant)
    page = arrears.room_page(today, building_id=args.get('building_id'), page=args['page'],
                             per_page=args['per_page'])
    held = {hold.room_id for hold, _room in dunning.active_holds()}
    admin = g.api_user.role == 'admin'
    items = [{**row.__dict__, 'payer_mobile': row.mobile if admin else row.masked_mobile,
              'on_hold': row.room_id in held} for row in page.items]
    return {'as_of': today, 'totals': arrears.project_totals(today, args.get('building_id')).__dict__,
            'items': items, 'page': page.page, 'per_page': page.per_page, 'total': page.total, 'pages': page.pages}


@blp.route('/reminders', methods=['GET'])
@blp.arguments(ReminderArgsSchema, location='query')
@blp.response(200, ReminderPageSchema)
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@api_login_required(*STAFF, duties=CASHIER)
def list_reminders(args):
    """The reminder log, latest first; filters: status, bill_id. 401 without a token, 403 for other roles, 422 for
    a bad filter or page."""
    return paginate(dunning.log_query(status=args.get('status'), bill_id=args.get('bill_id')), args)



