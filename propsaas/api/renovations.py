"""API: Renovation registrations (装修备案).

Residents file for, list and cancel their own records; staff list all, approve or reject (admin or service
desk), record inspection visits, complete, and refund or withhold the deposit. Money is integer fen. A record
of another household, or of another project, is 404.
"""
from __future__ import annotations

from functools import wraps

import marshmallow as ma
import sqlalchemy as sa
from flask import abort, g
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import validate

from ..auth.models import mask_mobile
from ..errors import DomainError
from ..extensions import db
from ..models_base import MAX_ID, get_or_404
from ..residents import renovations as services
from ..residents.models import Renovation
from .auth import BEARER, api_login_required
from .schemas import PageArgsSchema, errors, page_of, paginate

PREFIX = '/renovations'
blp = Blueprint('api_renovations', __name__, description='Renovation registrations (装修备案)')

_ID = validate.Range(min=1, max=MAX_ID)


class RenovationRoomSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True, metadata={'description': "canonical address, e.g. '1-2-1201'"})
    label = ma.fields.String(required=True, metadata={'description': "as people write it, e.g. '1栋2单元1201'"})
    status = ma.fields.String(required=True, metadata={'description': 'occupied, vacant or renovating'})


class RenovationVisitSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    visited_at = ma.fields.DateTime(required=True)
    by_user_id = ma.fields.Integer(allow_none=True)
    note = ma.fields.String(required=True)


class RenovationSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    room = ma.fields.Nested(RenovationRoomSchema, required=True)
    resident_id = ma.fields.Integer(allow_none=True)
    filed_by_id = ma.fields.Integer(allow_none=True)
    contractor = ma.fields.String(required=True)
    manager_name = ma.fields.String(required=True)
    manager_phone = ma.fields.Function(lambda r: mask_mobile(r.manager_phone), required=True,
                                       metadata={'description': 'masked: 138****1234'})
    planned_start = ma.fields.Date(required=True)
    planned_end = ma.fields.Date(required=True)
    scope = ma.fields.String(required=True)
    deposit_fen = ma.fields.Integer(required=True, metadata={'description': '装修押金 in fen (1 yuan = 100 fen)'})
    deposit_status = ma.fields.String(required=True, metadata={'description': 'none, held, refunded or withheld'})
    deposit_note = ma.fields.String(allow_none=True, metadata={'description': 'why withheld, or a refund note'})
    status = ma.fields.String(required=True,
                              metadata={'description': 'pending, approved, rejected, completed or cancelled'})
    overdue = ma.fields.Function(lambda r: services.is_overdue(r, services.tenant_today(g.tenant)), required=True,
                                 metadata={'description': "approved, not completed, planned end before today "
                                                          "(the project's timezone)"})
    review_comment = ma.fields.String(allow_none=True)
    reviewed_by_id = ma.fields.Integer(allow_none=True)
    reviewed_at = ma.fields.DateTime(allow_none=True)
    completed_on = ma.fields.Date(allow_none=True)
    created_at = ma.fields.DateTime(required=True)


class RenovationDetailSchema(RenovationSchema):
    visits = ma.fields.List(ma.fields.Nested(RenovationVisitSchema), required=True,
                            metadata={'description': 'inspection visits (装修巡查), oldest first'})


class RenovationListArgsSchema(PageArgsSchema):
    status = ma.fields.String(validate=validate.OneOf(services.STATUSES))
    overdue = ma.fields.Boolean(metadata={'description': 'only approved ones past their planned end'})
    building_id = ma.fields.Integer(validate=_ID)
    room_id = ma.fields.Integer(validate=_ID)
    room = ma.fields.String(validate=validate.Length(max=80), metadata={'description': "room address, '1-2-1201'"})


class RenovationCreateSchema(ma.Schema):
    room = ma.fields.String(validate=validate.Length(min=1, max=80),
                            metadata={'description': "room address as typed: '1-2-1201', '1栋2单元1201'"})
    room_id = ma.fields.Integer(validate=_ID, metadata={'description': 'instead of room'})
    contractor = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    manager_name = ma.fields.String(required=True, validate=validate.Length(min=1, max=60))
    manager_phone = ma.fields.String(required=True, validate=validate.Length(min=1, max=30),
                                     metadata={'description': 'mainland mobile; +86, spaces and dashes are removed'})
    planned_start = ma.fields.Date(required=True)
    planned_end = ma.fields.Date(required=True, metadata={'description': 'not before planned_start, at most '
                                                          f'{services.MAX_DAYS} days after it'})
    scope = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))
    deposit_fen = ma.fields.Integer(strict=True, validate=validate.Range(min=0, max=services.MAX_DEPOSIT_FEN),
                                    metadata={'description': "staff only; default: the project's deposit"})


class RenovationApproveSchema(ma.Schema):
    comment = ma.fields.String(validate=validate.Length(max=500))
    deposit_fen = ma.fields.Integer(strict=True, validate=validate.Range(min=0, max=services.MAX_DEPOSIT_FEN),
                                    metadata={'description': 'change the deposit before it is held'})


class RenovationRejectSchema(ma.Schema):
    comment = ma.fields.String(required=True, validate=validate.Length(min=1, max=500),
                               metadata={'description': 'why: required'})


class RenovationCompleteSchema(ma.Schema):
    completed_on = ma.fields.Date(metadata={'description': "default: today in the project's timezone"})


class RenovationVisitCreateSchema(ma.Schema):
    note = ma.fields.String(required=True, validate=validate.Length(min=1, max=500))


class DepositRefundSchema(ma.Schema):
    note = ma.fields.String(validate=validate.Length(max=500))


class DepositWithholdSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=500),
                              metadata={'description': 'why the deposit is kept: required'})


def _loads_renovation(view):
    """Resolve the path's renovation before the body is read: another household's or project's is 404."""

    @wraps(view)
    def wrapper(*args, renovation_id, **kwargs):
        renovation = get_or_404(Renovation, renovation_id)
        if not services.can_view(g.api_user, renovation):
            abort(404)
        return view(*args, renovation=renovation, **kwargs)

    return wrapper


def _detail(renovation: Renovation) -> Renovation:
    db.session.commit()
    return db.session.execute(sa.select(Renovation).where(Renovation.id == renovation.id)
                              .options(*services.detail_options())).scalar_one()


@blp.route('', methods=['GET'])
@blp.arguments(RenovationListArgsSchema, location='query')
@blp.response(200, page_of(RenovationSchema))
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@api_login_required()
def list_renovations(args):
    """Renovations, newest first: staff see all, a resident their own. Filters: status, overdue, building, room."""
    room_id = args.get('room_id')
    query = None
    if args.get('room'):
        room = services.find_room(args['room'])
        if room is None:
            query = services.list_query(user=g.api_user, today=services.tenant_today(g.tenant)).where(sa.false())
        else:
            room_id = room.id
    if query is None:
        query = services.list_query(user=g.api_user, today=services.tenant_today(g.tenant), status=args.get('status'),
                                    overdue=bool(args.get('overdue')), building_id=args.get('building_id'),
                                    room_id=room_id)
    return paginate(query, args)


@blp.route('', methods=['POST'])
@blp.arguments(RenovationCreateSchema)
@blp.response(201, RenovationDetailSchema)
@errors(blp, 400, 401, 403, 415, 422)
@blp.doc(security=BEARER)
@api_login_required()
def create_renovation(body):
    """File a renovation (status pending). A resident only for a room they live in (else 422); staff (admin or
    service desk) for any room, with a deposit. Give ``room`` (the address) or ``room_id``."""
    user = g.api_user
    if user.is_staff and not services.can_review(user):
        abort(403)
    if not body.get('room') and body.get('room_id') is None:
        raise DomainError(_l('请填写房号（room）或房屋编号（room_id）'), field='room')
    room = services.room_for_filing(user, room_text=body.get('room'), room_id=body.get('room_id'))
    renovation = services.file_renovation(
        by=user, tenant=g.tenant, room=room, contractor=body['contractor'], manager_name=body['manager_name'],
        manager_phone=body['manager_phone'], planned_start=body['planned_start'], planned_end=body['planned_end'],
        scope=body['scope'], deposit_fen=body.get('deposit_fen'))
    return _detail(renovation)


@blp.route('/<int:renovation_id>', methods=['GET'])
@api_login_required()
@_loads_renovation
@blp.response(200, RenovationDetailSchema)
@errors(blp, 401, 404)
@blp.doc(security=BEARER)
def get_renovation(renovation):
    """One renovation with its inspection visits."""
    return renovation


@blp.route('/<int:renovation_id>/approve', methods=['POST'])
@api_login_required('admin', 'staff')
@_loads_renovation
@blp.arguments(RenovationApproveSchema)
@blp.response(200, RenovationDetailSchema)
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def approve_renovation(body, renovation):
    """pending -> approved (admin or service desk): the room becomes 'renovating'; a deposit > 0 is held."""
    services.approve(renovation, by=g.api_user, comment=body.get('comment'), deposit_fen=body.get('deposit_fen'))
    return _detail(renovation)


@blp.route('/<int:renovation_id>/reject', methods=['POST'])
@api_login_required('admin', 'staff')
@_loads_renovation
@blp.arguments(RenovationRejectSchema)
@blp.response(200, RenovationDetailSchema)
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def reject_renovation(body, renovation):
    """pending -> rejected (admin or service desk), with the reason in ``comment``."""
    services.reject(renovation, by=g.api_user, comment=body['comment'])
    return _detail(renovation)


@blp.route('/<int:renovation_id>/cancel', methods=['POST'])
@api_login_required()
@_loads_renovation
@blp.response(200, RenovationDetailSchema)
@errors(blp, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def cancel_renovation(renovation):
    """pending -> cancelled: by the resident it belongs to, or by admin/service desk."""
    services.cancel(renovation, by=g.api_user)
    return _detail(renovation)


@blp.route('/<int:renovation_id>/complete', methods=['POST'])
@api_login_required('admin', 'staff')
@_loads_renovation
@blp.arguments(RenovationCompleteSchema)
@blp.response(200, RenovationDetailSchema)
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def complete_renovation(body, renovation):
    """approved -> completed: the room goes back to 'occupied' (someone lives there) or 'vacant'."""
    services.complete(renovation, by=g.api_user, tenant=g.tenant, completed_on=body.get('completed_on'))
    return _detail(renovation)


@blp.route('/<int:renovation_id>/visits', methods=['POST'])
@api_login_required('admin', 'staff')
@_loads_renovation
@blp.arguments(RenovationVisitCreateSchema)
@blp.response(201, RenovationDetailSchema)
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def add_visit(body, renovation):
    """Record an inspection visit (装修巡查) to an approved or completed renovation (any staff member)."""
    services.add_visit(renovation, by=g.api_user, note=body['note'])
    return _detail(renovation)


@blp.route('/<int:renovation_id>/deposit/refund', methods=['POST'])
@api_login_required('admin', 'staff')
@_loads_renovation
@blp.arguments(DepositRefundSchema)
@blp.response(200, RenovationDetailSchema)
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def refund_deposit(body, renovation):
    """held -> refunded, after completion (admin, service desk or cashier). Final: a second change is 422."""
    services.refund_deposit(renovation, by=g.api_user, note=body.get('note'))
    return _detail(renovation)


@blp.route('/<int:renovation_id>/deposit/withhold', methods=['POST'])
@api_login_required('admin', 'staff')
@_loads_renovation
@blp.arguments(DepositWithholdSchema)
@blp.response(200, RenovationDetailSchema)
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def withhold_deposit(body, renovation):
    """held -> withheld, with a required ``reason``, after completion. Final: a second change is 422."""
    services.withhold_deposit(renovation, by=g.api_user, reason=body['reason'])
    return _detail(renovation)
