"""API: bill runs (出账) and bills for staff (admin or cashier), and a resident's own bills.

Staff: ``/billing/runs`` (list; POST starts a run, or with ``preview: true`` returns what it would bill without
saving), ``/billing/runs/<run_id>``, ``/billing/runs/<run_id>/void``, ``/billing/bills``, ``/billing/bills/<bill_id>``.
Residents: ``/me/bills`` and ``/me/bills/<bill_id>`` — bills of rooms they currently live in; any other bill is 404.
PDFs (application/pdf): ``/billing/bills/<bill_id>/pdf`` and ``/me/bills/<bill_id>/pdf``.
Money is integer fen; rates are decimal strings in yuan.
"""
from __future__ import annotations

from functools import wraps

import marshmallow as ma
import sqlalchemy as sa
from flask import g, jsonify
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import validate

from ..auth.models import mask_mobile
from ..billing import bills as queries
from ..billing import runs as services
from ..billing.models import BILL_STATUSES, BillRun
from ..billing.pdf_views import PDF, bill_response
from ..errors import DomainError
from ..extensions import db
from ..jobs.models import JobRecord
from ..models_base import MAX_ID
from .auth import BEARER, api_login_required
from .schemas import PageArgsSchema, errors, page_of, paginate

PREFIX = ''
blp = Blueprint('api_bills', __name__, description='Bill runs (出账) and bills (账单)')

_ID = validate.Range(min=1, max=MAX_ID)
_PERIOD = validate.Regexp(r'^20\d{2}-(0[1-9]|1[0-2])$', error='YYYY-MM')
STAFF = ('admin', 'staff')
CASHIER = ('cashier',)


class BillLineSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    fee_item_id = ma.fields.Integer(required=True)
    subject = ma.fields.String(required=True, metadata={'description': "'room:12' or 'space:5'"})
    description = ma.fields.String(required=True)
    amount_fen = ma.fields.Integer(required=True)
    basis = ma.fields.Dict(required=True, metadata={'description': 'rule_id, scope, rate, area_m2, months, formula'})
    voided = ma.fields.Boolean(required=True)
    waived_at = ma.fields.DateTime(allow_none=True, metadata={'description': '减免: a waived late fee no longer '
                                                                              "counts in the bill's total"})
    waive_reason = ma.fields.String(allow_none=True)


class BillSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    number = ma.fields.String(required=True, metadata={'description': "'ZD202612-000123', unique per project"})
    run_id = ma.fields.Integer(allow_none=True)
    room_id = ma.fields.Integer(allow_none=True)
    room_code = ma.fields.Function(lambda b: b.room.code if b.room else None, allow_none=True)
    parking_space_id = ma.fields.Integer(allow_none=True)
    place = ma.fields.Function(queries.place, required=True, metadata={'description': "'1栋1单元101 B1-001'"})
    payer_resident_id = ma.fields.Integer(allow_none=True)
    period = ma.fields.String(required=True)
    issued_on = ma.fields.Date(required=True)
    due_on = ma.fields.Date(required=True)
    status = ma.fields.String(required=True, metadata={'description': 'unpaid, partial, paid or void'})
    total_fen = ma.fields.Integer(required=True)
    void_reason = ma.fields.String(allow_none=True)
    voided_at = ma.fields.DateTime(allow_none=True)


class BillDetailSchema(BillSchema):
    lines = ma.fields.List(ma.fields.Nested(BillLineSchema), required=True)
    payer_name = ma.fields.String(allow_none=True)
    payer_mobile = ma.fields.String(allow_none=True, metadata={'description': 'masked (138****1234) but for admins'})


class MyBillSchema(BillSchema):
    class Meta:
        exclude = ('payer_resident_id', 'run_id')


class MyBillDetailSchema(MyBillSchema):
    lines = ma.fields.List(ma.fields.Nested(BillLineSchema), required=True)


class RunSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    period = ma.fields.String(required=True)
    building_id = ma.fields.Integer(allow_none=True)
    fee_item_ids = ma.fields.List(ma.fields.Integer(), required=True, metadata={'description': 'empty: all'})
    due_on = ma.fields.Date(required=True)
    status = ma.fields.String(required=True, metadata={'description': 'pending, running, done, failed or voided'})
    bill_count = ma.fields.Integer(required=True)
    total_fen = ma.fields.Integer(required=True)
    summary = ma.fields.Dict(required=True, metadata={'description': 'items {code: {name, lines, fen}}, skipped '
                                                                     '[{subject, label, reason}], notes'})
    job_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime(required=True)
    finished_at = ma.fields.DateTime(allow_none=True)
    voided_at = ma.fields.DateTime(allow_none=True)
    void_reason = ma.fields.String(allow_none=True)


class RunDetailSchema(RunSchema):
    job_status = ma.fields.String(allow_none=True, metadata={'description': 'queued, running, done or failed'})
    progress = ma.fields.Integer(allow_none=True, metadata={'description': '0-100'})


class RunCreateSchema(ma.Schema):
    period = ma.fields.String(required=True, validate=_PERIOD, metadata={'description': "'2026-12'"})
    due_on = ma.fields.Date(metadata={'description': 'required unless preview'})
    building_id = ma.fields.Integer(validate=_ID, allow_none=True, metadata={'description': 'default: all'})
    fee_item_ids = ma.fields.List(ma.fields.Integer(validate=_ID), load_default=list,
                                  validate=validate.Length(max=100), metadata={'description': 'default: all'})
    notify = ma.fields.Boolean(load_default=False, metadata={'description': "send 'bill issued' to payers"})
    preview = ma.fields.Boolean(load_default=False, metadata={'description': 'true: compute only, save nothing'})


class PreviewItemSchema(ma.Schema):
    fee_item_id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    lines = ma.fields.Integer(required=True)
    fen = ma.fields.Integer(required=True)


class PreviewSchema(ma.Schema):
    items = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(PreviewItemSchema), required=True,
                           metadata={'description': 'per fee item code'})
    bills = ma.fields.Integer(required=True)
    lines = ma.fields.Integer(required=True)
    total_fen = ma.fields.Integer(required=True)
    existing = ma.fields.Integer(required=True, metadata={'description': 'lines billed before: left out'})
    skipped_counts = ma.fields.Dict(required=True, metadata={'description': 'reason -> count: no_area, '
                                                                            'not_handed_over, not_started, no_payer'})
    skipped = ma.fields.List(ma.fields.Dict(), required=True)
    notes = ma.fields.List(ma.fields.String(), required=True)


class RunVoidSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))


class BillListArgsSchema(PageArgsSchema):
    period = ma.fields.String(validate=_PERIOD)
    building_id = ma.fields.Integer(validate=_ID)
    status = ma.fields.String(validate=validate.OneOf(BILL_STATUSES))
    room = ma.fields.String(validate=validate.Length(max=80), metadata={'description': "'1-2-1201'"})
    run_id = ma.fields.Integer(validate=_ID)


def _run_detail(run: BillRun) -> dict:
    record = None
    if run.job_id is not None:
        record = db.session.execute(sa.select(JobRecord).where(JobRecord.id == run.job_id)).scalar_one_or_none()
    return {**{name: getattr(run, name) for name in RunSchema().fields},
            'job_status': record.status if record else None, 'progress': record.progress if record else None}


@blp.route('/billing/runs', methods=['GET'])
@blp.arguments(PageArgsSchema, location='query')
@blp.response(200, page_of(RunSchema))
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@api_login_required(*STAFF, duties=CASHIER)
def list_runs(args):
    """Bill runs, newest first (admin or cashier)."""
    return paginate(sa.select(BillRun).order_by(BillRun.created_at.desc(), BillRun.id.desc()), args)


@blp.route('/billing/runs', methods=['POST'])
@blp.arguments(RunCreateSchema)
@blp.response(202, RunDetailSchema, description='the run, its job started')
@blp.alt_response(200, schema=PreviewSchema, description='preview: what the run would bill now (nothing saved)')
@errors(blp, 400, 401, 403, 415, 422, 503)
@blp.doc(security=BEARER)
@api_login_required(*STAFF, duties=CASHIER)
def create_run(body):
    """Start a bill run for a period (202), or with ``preview: true`` return what it would bill (200). 422 for a bad
    period, due date, building or fee item, or while another run of the period is working; 503 when the queue is
    down (the run is recorded and starts when it is back)."""
    args = {'building_id': body.get('building_id'), 'fee_item_ids': body.get('fee_item_ids') or []}
    if body['preview']:
        preview = services.preview(g.tenant, body['period'], **args)
        db.session.rollback()
        return jsonify(PreviewSchema().dump(preview)), 200
    if body.get('due_on') is None:
        raise DomainError(_l('请填写缴费截止日期'), field='due_on')
    run = services.start_run(g.tenant, body['period'], due_on=body['due_on'], notify=body['notify'],
                             by_user_id=g.api_user.id, **args)
    db.session.commit()
    return _run_detail(queries.load_run(run.id)), 202


@blp.route('/billing/runs/<int:run_id>', methods=['GET'])
@blp.response(200, RunDetailSchema)
@errors(blp, 401, 403, 404)
@blp.doc(security=BEARER)
@api_login_required(*STAFF, duties=CASHIER)
def get_run(run_id):
    """One run with its summary and its job's status and progress."""
    return _run_detail(queries.load_run(run_id))


def _existing_run(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        queries.load_run(kwargs['run_id'])
        return view(*args, **kwargs)

    return wrapper


@blp.route('/billing/runs/<int:run_id>/void', methods=['POST'])
@api_login_required(*STAFF, duties=CASHIER)
@_existing_run  # before the body is read: another tenant's run is 404 whatever is posted
@blp.arguments(RunVoidSchema)
@blp.response(200, RunDetailSchema)
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def void_run(body, run_id):
    """Void a finished run: its unpaid bills become void with the reason (nothing deleted; a re-run bills them
    again). 422 without a reason, while the run is working, or when it is voided already."""
    run = queries.load_run(run_id)
    services.void_run(run, body['reason'], by_user_id=g.api_user.id)
    db.session.commit()
    return _run_detail(queries.load_run(run_id))


@blp.route('/billing/bills', methods=['GET'])
@blp.arguments(BillListArgsSchema, location='query')
@blp.response(200, page_of(BillSchema))
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@api_login_required(*STAFF, duties=CASHIER)
def list_bills(args):
    """Bills, latest period first; filters: period, building_id, status, room (address), run_id."""
    room_id, none = None, False
    if args.get('room'):
        room = queries.room_by_text(args['room'])
        room_id, none = (room.id, False) if room else (None, True)
    query = queries.list_query(period=args.get('period'), building_id=args.get('building_id'),
                               status=args.get('status'), room_id=room_id, run_id=args.get('run_id'))
    return paginate(query.where(sa.false()) if none else query, args)


@blp.route('/billing/bills/<int:bill_id>', methods=['GET'])
@blp.response(200, BillDetailSchema)
@errors(blp, 401, 403, 404)
@blp.doc(security=BEARER)
@api_login_required(*STAFF, duties=CASHIER)
def get_bill(bill_id):
    """One bill with its lines and their basis; the payer's mobile masked for all but admins."""
    bill = queries.load_bill(bill_id)
    payer = queries.payers([bill]).get(bill.payer_resident_id)
    bill.payer_name = payer.name if payer else None  # shown only: not columns
    bill.payer_mobile = None
    if payer is not None and payer.mobile:
        bill.payer_mobile = payer.mobile if g.api_user.role == 'admin' else mask_mobile(payer.mobile)
    return bill


@blp.route('/me/bills', methods=['GET'])
@blp.arguments(PageArgsSchema, location='query')
@blp.response(200, page_of(MyBillSchema))
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@api_login_required('resident')
def my_bills(args):
    """The resident's bills (rooms they currently live in), unpaid first, then the latest period first."""
    return paginate(queries.resident_query(g.api_user), args)


@blp.route('/me/bills/<int:bill_id>', methods=['GET'])
@blp.response(200, MyBillDetailSchema)
@errors(blp, 401, 404)
@blp.doc(security=BEARER)
@api_login_required()  # anyone else has no bill of their own: 404, not 403
def my_bill(bill_id):
    """One of the resident's bills with its lines and their basis; another room's bill is 404."""
    return queries.resident_bill(g.api_user, bill_id)



@blp.route('/billing/bills/<int:bill_id>/pdf', methods=['GET'])
@blp.response(200, description='the bill as a PDF (缴费通知单): lines with their basis, earlier arrears, 大写, '
                               'a QR code to pay', content_type=PDF)
@errors(blp, 401, 403, 404)
@blp.doc(security=BEARER)
@api_login_required(*STAFF, duties=CASHIER)
def get_bill_pdf(bill_id):
    """One bill as a PDF (the stored per-household file, or rendered now); a void bill is 404."""
    return bill_response(queries.load_bill(bill_id))


@blp.route('/me/bills/<int:bill_id>/pdf', methods=['GET'])
@blp.response(200, description="the resident's bill as a PDF", content_type=PDF)
@errors(blp, 401, 404)
@blp.doc(security=BEARER)
@api_login_required()  # anyone else has no bill of their own: 404, not 403
def my_bill_pdf(bill_id):
    """One of the resident's bills as a PDF; another room's bill is 404."""
    return bill_response(queries.resident_bill(g.api_user, bill_id))
