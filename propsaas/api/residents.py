"""API: Residents, their rooms and vehicles; a resident's own rooms.

Personal values (mobile, other phone, ID number, emergency phone) are masked for everyone; an admin gets them
in full only from ``GET /residents/{resident_id}``, and each value shown is recorded (PersonalInfoAccess).
Writes answer with masked values. Object lookups run before the body is read: another project's ids are 404
whatever the body.
"""
from __future__ import annotations

from functools import wraps

import marshmallow as ma
from flask import abort, g, request, url_for
from flask_smorest import Blueprint
from marshmallow import validate

from ..auth import services as auth_services
from ..auth.models import AccessToken
from ..extensions import db
from ..models_base import MAX_ID
from ..residents import services
from ..residents.export import start_export
from ..residents.models import ROLES
from ..residents.services import STATUSES, ResidentFilters
from .auth import BEARER, _bearer, api_login_required
from .jobs import JobSchema
from .schemas import ErrorSchema, PageArgsSchema, errors, page_of, paginate

PREFIX = '/residents'
blp = Blueprint('api_residents', __name__, description='Residents, their rooms and vehicles')

ROLE_DOC = 'owner (业主), renter (租户) or family (家属)'


# --- schemas -------------------------------------------------------------------------------------------------

class OccupancySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    room_id = ma.fields.Integer(required=True)
    room_code = ma.fields.String(required=True, metadata={'description': "canonical address: '3-2-1201'"})
    room_label = ma.fields.String(required=True, metadata={'description': "as people write it: '3栋2单元1201'"})
    building_id = ma.fields.Integer(required=True)
    role = ma.fields.String(required=True, metadata={'description': ROLE_DOC})
    moved_in_on = ma.fields.Date(allow_none=True)
    moved_out_on = ma.fields.Date(allow_none=True, metadata={'description': 'null while they live there'})
    current = ma.fields.Boolean(required=True)


class MoveOutResultSchema(OccupancySchema):
    revoked_grants = ma.fields.Integer(required=True, metadata={
        'description': 'access grants revoked because the resident lives in no room any more'})


class VehicleSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    plate = ma.fields.String(required=True, metadata={'description': "normalised: '浙A12345'"})
    note = ma.fields.String(allow_none=True)


class GrantSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    gate_id = ma.fields.Integer(required=True)
    gate_name = ma.fields.String(required=True)
    credential_kind = ma.fields.String(required=True, metadata={'description': 'card, face or qr'})
    granted_at = ma.fields.DateTime(required=True)
    revoked_at = ma.fields.DateTime(allow_none=True)
    revoke_reason = ma.fields.String(allow_none=True)


_MASKED = 'masked (138****1234, **************1234) unless `masked` is false'


class ResidentSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    mobile = ma.fields.String(allow_none=True, metadata={'description': _MASKED})
    other_phone = ma.fields.String(allow_none=True, metadata={'description': _MASKED})
    id_number = ma.fields.String(allow_none=True, metadata={'description': _MASKED})
    emergency_contact = ma.fields.String(allow_none=True)
    emergency_phone = ma.fields.String(allow_none=True, metadata={'description': _MASKED})
    note = ma.fields.String(allow_none=True)
    masked = ma.fields.Boolean(required=True, metadata={
        'description': 'false only for an admin reading one resident (the view is recorded)'})
    has_portal_account = ma.fields.Boolean(required=True)
    occupancies = ma.fields.List(ma.fields.Nested(OccupancySchema), required=True,
                                 metadata={'description': 'current rooms first, then history'})
    vehicles = ma.fields.List(ma.fields.Nested(VehicleSchema), required=True)


class ResidentDetailSchema(ResidentSchema):
    access_grants = ma.fields.List(ma.fields.Nested(GrantSchema), required=True)


class FilterSchema(ma.Schema):
    q = ma.fields.String(validate=validate.Length(max=100), metadata={
        'description': "name, mobile in any typed form or its last digits, or a room: '3-2-1201', "
                       "'3栋2单元1201', '1201' (every room numbered 1201)"})
    building_id = ma.fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    role = ma.fields.String(validate=validate.OneOf(ROLES), metadata={'description': ROLE_DOC})
    status = ma.fields.String(load_default='current', validate=validate.OneOf(STATUSES),
                              metadata={'description': 'current (default), moved_out or all'})
    has_vehicle = ma.fields.Boolean()


class ResidentQuerySchema(PageArgsSchema, FilterSchema):
    pass


class _DetailFields(ma.Schema):
    mobile = ma.fields.String(allow_none=True, validate=validate.Length(max=40), metadata={
        'description': "mainland mobile in any form ('+86 138-0013-8000'); a landline goes to other_phone"})
    other_phone = ma.fields.String(allow_none=True, validate=validate.Length(max=40))
    id_number = ma.fields.String(allow_none=True, validate=validate.Length(max=30),
                                 metadata={'description': 'GB 11643, 18 characters; checked'})
    emergency_contact = ma.fields.String(allow_none=True, validate=validate.Length(max=60))
    emergency_phone = ma.fields.String(allow_none=True, validate=validate.Length(max=40))
    note = ma.fields.String(allow_none=True, validate=validate.Length(max=500))


class ResidentCreateSchema(_DetailFields):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=60))
    room = ma.fields.String(required=True, validate=validate.Length(min=1, max=80),
                            metadata={'description': "the first room: '3-2-1201' or '3栋2单元1201'"})
    role = ma.fields.String(required=True, validate=validate.OneOf(ROLES), metadata={'description': ROLE_DOC})
    moved_in_on = ma.fields.Date(allow_none=True, metadata={'description': 'default: today'})


class ResidentPatchSchema(_DetailFields):
    name = ma.fields.String(validate=validate.Length(min=1, max=60))


class OccupancyCreateSchema(ma.Schema):
    room = ma.fields.String(required=True, validate=validate.Length(min=1, max=80))
    role = ma.fields.String(required=True, validate=validate.OneOf(ROLES), metadata={'description': ROLE_DOC})
    moved_in_on = ma.fields.Date(allow_none=True, metadata={'description': 'default: today'})


class MoveOutSchema(ma.Schema):
    moved_out_on = ma.fields.Date(allow_none=True, metadata={'description': 'default: today; not in the future'})


class VehicleCreateSchema(ma.Schema):
    plate = ma.fields.String(required=True, validate=validate.Length(min=1, max=20))
    note = ma.fields.String(allow_none=True, validate=validate.Length(max=100))


class PortalAccountSchema(ma.Schema):
    user_id = ma.fields.Integer(required=True)
    invited = ma.fields.Boolean(required=True, metadata={
        'description': 'true: a new login was invited (send invite_link); false: an existing one was linked'})
    invite_link = ma.fields.String(allow_none=True, metadata={'description': 'shown this once'})


class MemberSchema(ma.Schema):
    name = ma.fields.String(required=True)
    role = ma.fields.String(required=True, metadata={'description': ROLE_DOC})
    mobile = ma.fields.String(allow_none=True, metadata={'description': 'masked: 138****1234'})
    is_me = ma.fields.Boolean(required=True)


class MyRoomSchema(ma.Schema):
    occupancy_id = ma.fields.Integer(required=True)
    room_id = ma.fields.Integer(required=True)
    room_code = ma.fields.String(required=True)
    room_label = ma.fields.String(required=True)
    role = ma.fields.String(required=True, metadata={'description': ROLE_DOC})
    moved_in_on = ma.fields.Date(allow_none=True)
    household = ma.fields.List(ma.fields.Nested(MemberSchema), required=True,
                               metadata={'description': 'the current occupants of the room'})


# --- helpers -------------------------------------------------------------------------------------------------

def _occupancy(o) -> dict:
    return {'id': o.id, 'room_id': o.room_id, 'room_code': o.room.code, 'room_label': o.room.label,
            'building_id': o.room.building_id, 'role': o.role, 'moved_in_on': o.moved_in_on,
            'moved_out_on': o.moved_out_on, 'current': o.moved_out_on is None}


def _present(resident, info: dict | None = None, full: bool = False) -> dict:
    info = info if info is not None else services.masked_info(resident)
    occupancies = sorted(resident.occupancies, key=lambda o: (o.moved_out_on is not None, o.room.code))
    return {'id': resident.id, 'name': resident.name, 'emergency_contact': resident.emergency_contact,
            'note': resident.note, **{key: value or None for key, value in info.items()}, 'masked': not full,
            'has_portal_account': resident.user_id is not None,
            'occupancies': [_occupancy(o) for o in occupancies],
            'vehicles': [{'id': v.id, 'plate': v.plate, 'note': v.note} for v in resident.vehicles]}


def _reloaded(resident_id: int):
    db.session.expire_all()
    return services.load_resident(resident_id)


#: admins and service-desk staff (客服) write; other staff read; residents neither
manager_required = api_login_required('admin', 'staff', duties=('service_desk',))


def with_resident(view):
    """Look the resident (and its occupancy or vehicle) up before the body is read: not ours -> 404."""

    @wraps(view)
    def wrapper(*args, resident_id, **kwargs):
        resident = services.load_resident(resident_id)
        if resident is None:
            abort(404)
        if 'occupancy_id' in kwargs:
            kwargs['occupancy'] = services.occupancy_of(resident, kwargs.pop('occupancy_id'))
            if kwargs['occupancy'] is None:
                abort(404)
        if 'vehicle_id' in kwargs:
            kwargs['vehicle'] = services.vehicle_of(resident, kwargs.pop('vehicle_id'))
            if kwargs['vehicle'] is None:
                abort(404)
        return view(*args, resident=resident, **kwargs)

    return wrapper


@blp.before_request
def _objects_before_body():
    """Another project's (or a missing) resident, occupancy or vehicle is 404 whatever the request's body: the
    token is checked (401/403) and the objects looked up here, before the API checks the body's content type.
    Registered at import, so it runs ahead of the checks ``api.init_api`` adds to every API blueprint."""
    args = request.view_args or {}
    if 'resident_id' not in args or not g.get('tenant'):
        return None
    raw = _bearer()
    user = auth_services.user_for_token(raw, AccessToken.API) if raw else None
    if user is None:
        abort(401)
    if user.role not in ('admin', 'staff'):
        abort(403)
    resident = services.load_resident(args['resident_id'])
    if resident is None:
        abort(404)
    if 'occupancy_id' in args and services.occupancy_of(resident, args['occupancy_id']) is None:
        abort(404)
    if 'vehicle_id' in args and services.vehicle_of(resident, args['vehicle_id']) is None:
        abort(404)
    return None


def _filters(args: dict) -> ResidentFilters:
    return ResidentFilters.of(**{key: args.get(key) for key in ('q', 'building_id', 'role', 'status', 'has_vehicle')})


# --- staff operations ----------------------------------------------------------------------------------------

@blp.route('', methods=['GET'])
@errors(blp, 401, 403, 422)
@blp.response(200, page_of(ResidentSchema))
@blp.doc(security=BEARER)
@api_login_required('admin', 'staff')
@blp.arguments(ResidentQuerySchema, location='query')
def list_residents(args):
    """Residents by name, filtered and searched; personal values masked. Staff."""
    page = paginate(services.resident_select(_filters(args)), args)
    page['items'] = [_present(resident) for resident in page['items']]
    return page


@blp.route('', methods=['POST'])
@errors(blp, 400, 401, 403, 415, 422)
@blp.response(201, ResidentSchema)
@blp.doc(security=BEARER)
@manager_required
@blp.arguments(ResidentCreateSchema)
def create_resident(body):
    """Register a resident with their first room (found by its address). Admins and service desk."""
    values = {key: body.get(key) for key in services.PERSONAL_FIELDS + ('name', 'emergency_contact', 'note')}
    resident = services.create_resident(values, room_text=body['room'], role=body['role'],
                                        moved_in_on=body.get('moved_in_on'),
                                        today=services.local_today(g.tenant.timezone))
    db.session.commit()
    return _present(_reloaded(resident.id))


@blp.route('/<int:resident_id>', methods=['GET'])
@errors(blp, 401, 403, 404)
@blp.response(200, ResidentDetailSchema)
@blp.doc(security=BEARER)
@api_login_required('admin', 'staff')
@with_resident
def get_resident(resident):
    """One resident with rooms (history), vehicles and access grants. Full personal values for admins only,
    each view recorded; masked for other staff."""
    info, full = services.info_for(resident, g.api_user, 'api')
    grants = services.access_grants(resident)
    body = {**_present(resident, info, full), 'access_grants': [
        {'id': a.id, 'gate_id': a.gate_id, 'gate_name': a.gate.name, 'credential_kind': a.credential_kind,
         'granted_at': a.granted_at, 'revoked_at': a.revoked_at, 'revoke_reason': a.revoke_reason} for a in grants]}
    if full:
        db.session.commit()
    return body


@blp.route('/<int:resident_id>', methods=['PATCH'])
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.response(200, ResidentSchema)
@blp.doc(security=BEARER)
@manager_required
@with_resident
@blp.arguments(ResidentPatchSchema)
def patch_resident(body, resident):
    """Change the fields sent; null or "" clears an optional one. Answers with masked values."""
    services.update_resident(resident, body)
    db.session.commit()
    return _present(_reloaded(resident.id))


@blp.route('/<int:resident_id>/occupancies', methods=['POST'])
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.response(201, OccupancySchema)
@blp.doc(security=BEARER)
@manager_required
@with_resident
@blp.arguments(OccupancyCreateSchema)
def add_occupancy(body, resident):
    """Link the resident to one more room."""
    occupancy = services.add_occupancy(resident, room_text=body['room'], role=body['role'],
                                       moved_in_on=body.get('moved_in_on'),
                                       today=services.local_today(g.tenant.timezone))
    db.session.commit()
    return _occupancy(occupancy)


@blp.route('/<int:resident_id>/occupancies/<int:occupancy_id>/end', methods=['POST'])
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.response(200, MoveOutResultSchema)
@blp.doc(security=BEARER)
@manager_required
@with_resident
@blp.arguments(MoveOutSchema)
def end_occupancy(body, resident, occupancy):
    """Move out of a room: the link is kept with its move-out date; when the resident lives in no room any more,
    their access grants are revoked in the same transaction."""
    revoked = services.end_occupancy(occupancy, moved_out_on=body.get('moved_out_on'),
                                     today=services.local_today(g.tenant.timezone))
    db.session.commit()
    return {**_occupancy(occupancy), 'revoked_grants': revoked}


@blp.route('/<int:resident_id>/vehicles', methods=['POST'])
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.response(201, VehicleSchema)
@blp.doc(security=BEARER)
@manager_required
@with_resident
@blp.arguments(VehicleCreateSchema)
def add_vehicle(body, resident):
    """Register a vehicle ('浙a 12345' is stored as '浙A12345'); a plate once per project."""
    vehicle = services.add_vehicle(resident, plate=body['plate'], note=body.get('note'))
    db.session.commit()
    return {'id': vehicle.id, 'plate': vehicle.plate, 'note': vehicle.note}


@blp.route('/<int:resident_id>/vehicles/<int:vehicle_id>', methods=['DELETE'])
@errors(blp, 401, 403, 404)
@blp.response(204)
@blp.doc(security=BEARER)
@manager_required
@with_resident
def remove_vehicle(resident, vehicle):
    """Remove a vehicle of the resident."""
    services.remove_vehicle(vehicle)
    db.session.commit()


@blp.route('/<int:resident_id>/portal-account', methods=['POST'])
@errors(blp, 401, 403, 404, 415, 422)
@blp.response(201, PortalAccountSchema)
@blp.doc(security=BEARER)
@manager_required
@with_resident
def open_portal_account(resident):
    """Open a portal login for the resident (开通住户账号): links the resident user with the same mobile, or
    invites a new one; the invitation link is in the answer, this once. 422 when the resident already has one,
    has no mobile, or the mobile is a staff login."""
    user, raw = services.open_portal_account(resident)
    db.session.commit()
    link = url_for('auth.accept_invite', token=raw, _external=True) if raw else None
    return {'user_id': user.id, 'invited': raw is not None, 'invite_link': link}


@blp.route('/export', methods=['POST'])
@errors(blp, 400, 401, 403, 415, 422)
@blp.alt_response(503, schema=ErrorSchema, description='the job queue is unavailable; the job is recorded and '
                  'runs when it is back')
@blp.response(202, JobSchema)
@blp.doc(security=BEARER)
@manager_required
@blp.arguments(FilterSchema)
def export_residents(body):
    """Export the residents matching the filters (same as the list) to .xlsx as a background job: follow it at
    /api/v1/jobs/{job_id}; the file is downloaded from the job page. Mobiles and ID numbers are masked."""
    return start_export(_filters(body), g.api_user.id)


# --- the resident's own rooms --------------------------------------------------------------------------------

@blp.route('/me/rooms', methods=['GET'])
@errors(blp, 401, 403, 422)
@blp.response(200, page_of(MyRoomSchema))
@blp.doc(security=BEARER)
@api_login_required('resident')
@blp.arguments(PageArgsSchema, location='query')
def my_rooms(args):
    """The rooms the logged-in resident lives in now, each with its household (names, roles, masked mobiles).
    Rooms they moved out of are not listed."""
    page = paginate(services.my_occupancies_select(g.api_user.id), args)
    households = services.households([o.room_id for o in page['items']])
    mine = services.my_resident_ids(g.api_user.id)
    page['items'] = [{'occupancy_id': o.id, 'room_id': o.room_id, 'room_code': o.room.code,
                      'room_label': o.room.label, 'role': o.role, 'moved_in_on': o.moved_in_on,
                      'household': [{'name': m['name'], 'role': m['role'], 'mobile': m['mobile'] or None,
                                     'is_me': m['resident_id'] in mine} for m in households[o.room_id]]}
                     for o in page['items']]
    return page
