"""API: late fees (滞纳金) — the project's settings (admins) and waiving (减免) a late-fee line of a bill (admins and
cashiers).

``/billing/late-fee-settings`` (GET, PUT): ``daily_rate`` is a fraction per day as a decimal string ('0.0005' is
0.05 % a day, 万分之五; between 0.00001 and 0.001), ``grace_days`` 0-365, ``cap_percent`` a percentage of the
principal (0 < cap <= 100). ``/billing/bills/<bill_id>/lines/<line_id>/waive`` (POST {reason}): another project's bill
or line is 404 before the body is read.
"""
from __future__ import annotations

from functools import wraps

import marshmallow as ma
from flask import g
from flask_smorest import Blueprint
from marshmallow import validate

from ..auth.models import mask_mobile
from ..billing import bills as queries
from ..billing import late_fees as services
from ..extensions import db
from ..tenancy.models import Tenant
from .auth import BEARER, api_login_required
from .bills import BillDetailSchema
from .schemas import errors

PREFIX = ''
blp = Blueprint('api_late_fees', __name__, description='Late fees (滞纳金): settings and waivers (减免)')

STAFF = ('admin', 'staff')
CASHIER = ('cashier',)


class LateFeeSettingsSchema(ma.Schema):
    enabled = ma.fields.Boolean(required=True, metadata={'description': 'false: no late fee is assessed'})
    daily_rate = ma.fields.String(required=True, validate=validate.Length(min=1, max=20),
                                  metadata={'description': "a fraction per day: '0.0005' is 0.05 % (万分之五); "
                                                           '0.00001 to 0.001'})
    grace_days = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=365),
                                   metadata={'description': 'days after the due date without late fee'})
    cap_percent = ma.fields.String(required=True, validate=validate.Length(min=1, max=12),
                                   metadata={'description': "at most this % of the principal: '100'"})


class LateFeeSettingsOutSchema(LateFeeSettingsSchema):
    percent_per_day = ma.fields.String(required=True, metadata={'description': "'0.05' for a rate of 0.0005"})
    since = ma.fields.Date(allow_none=True, metadata={'description': 'the day late fees were switched on: no day '
                                                                     'before it is charged'})


class WaiveSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))


def _out(settings: services.LateFeeSettings) -> dict:
    return {**settings.as_dict(), 'since': settings.since, 'percent_per_day': settings.percent_per_day}


@blp.route('/billing/late-fee-settings', methods=['GET'])
@blp.response(200, LateFeeSettingsOutSchema)
@errors(blp, 401, 403)
@blp.doc(security=BEARER)
@api_login_required('admin')
def get_settings():
    """The project's late-fee settings (admins)."""
    return _out(services.settings_of(g.tenant))


@blp.route('/billing/late-fee-settings', methods=['PUT'])
@api_login_required('admin')
@blp.arguments(LateFeeSettingsSchema)
@blp.response(200, LateFeeSettingsOutSchema)
@errors(blp, 400, 401, 403, 415, 422)
@blp.doc(security=BEARER)
def put_settings(body):
    """Replace the late-fee settings (admins). 422 for a rate, grace period or cap out of bounds, with why."""
    tenant = db.session.get(Tenant, g.tenant.id)
    saved = services.save_settings(tenant, **body)
    db.session.commit()
    return _out(saved)


def _existing_line(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        services.line_of(queries.load_bill(kwargs['bill_id']), kwargs['line_id'])
        return view(*args, **kwargs)

    return wrapper


@blp.route('/billing/bills/<int:bill_id>/lines/<int:line_id>/waive', methods=['POST'])
@api_login_required(*STAFF, duties=CASHIER)
@_existing_line  # before the body is read: another tenant's bill or line is 404 whatever is posted
@blp.arguments(WaiveSchema)
@blp.response(200, BillDetailSchema)
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def waive_line(body, bill_id, line_id):
    """减免: waive a late-fee line with a reason. The line stays (``waived_at``, ``waive_reason``) and the bill's
    total drops by its amount. 422 for a line that is not a late fee, one waived already, a void bill, or a bill
    whose balance is below the line's amount (refund instead)."""
    line = services.line_of(queries.load_bill(bill_id), line_id)
    services.waive_line(line, body['reason'], by_user_id=g.api_user.id)
    db.session.commit()
    bill = queries.load_bill(bill_id)
    payer = queries.payers([bill]).get(bill.payer_resident_id)
    bill.payer_name = payer.name if payer else None  # shown only: not columns
    bill.payer_mobile = None
    if payer is not None and payer.mobile:
        bill.payer_mobile = payer.mobile if g.api_user.role == 'admin' else mask_mobile(payer.mobile)
    return bill
