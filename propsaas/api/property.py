"""API: Buildings, units, rooms and parking spaces.

Staff (admin, staff) read; admins and the service desk (duty ``service_desk``) write. Areas are decimal strings
with two places ('89.50'), never JSON numbers. A service's refusal is a 422 whose ``fields`` names the field.
"""
from __future__ import annotations

from functools import wraps

import marshmallow as ma
from flask import g
from flask_babel import gettext as _
from flask_smorest import Blueprint, abort
from marshmallow import validate

from ..errors import DomainError
from ..extensions import db
from ..models_base import MAX_ID, get_or_404
from ..property import services
from ..property.models import ROOM_STATUSES, ROOM_TYPES, SPACE_KINDS, Building, ParkingSpace, Room
from ..property.services import CONTROL_RE
from .auth import BEARER, api_login_required
from .schemas import PageArgsSchema, errors, page_of, paginate

PREFIX = '/property'
blp = Blueprint('api_property', __name__, description='Buildings, units, rooms and parking spaces')
STAFF = ('admin', 'staff')
AREA_PATTERN = r'^[0-9]{1,6}(\.[0-9]{1,2})?$'


# --- fields ----------------------------------------------------------------------------------------------------

def _no_control(value: str) -> None:
    if CONTROL_RE.search(value):
        raise ma.ValidationError(_('含有无法保存的控制字符'))


class Text(ma.fields.String):
    """A string without control characters (PostgreSQL can't store NUL; nobody means to type them)."""

    def __init__(self, *args, max_length: int = 200, min_length: int = 0, **kwargs):
        validators = [validate.Length(min=min_length, max=max_length), _no_control]
        super().__init__(*args, validate=validators, **kwargs)


class Area(ma.fields.String):
    """建筑面积 in m² as a decimal string with at most two places: '89.50'. A JSON number is refused."""

    def __init__(self, **kwargs):
        metadata = {'pattern': AREA_PATTERN, 'example': '89.50',
                    'description': '建筑面积 m², a decimal string with at most two places (never a JSON number)'}
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return services.format_area(value)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ma.ValidationError(_('面积请写成字符串，如 "89.50"'))
        try:
            area = services.parse_area(value)
        except DomainError as e:
            raise ma.ValidationError(str(e.message)) from None
        if area is None:
            raise ma.ValidationError(_('面积请填写数字，如 89.50'))
        return area


def _id(**kwargs):
    return ma.fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


# --- schemas -----------------------------------------------------------------------------------------------------

class RoomCountsSchema(ma.Schema):
    occupied = ma.fields.Integer(required=True)
    vacant = ma.fields.Integer(required=True)
    renovating = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True, metadata={'description': 'active rooms (merged ones not counted)'})


class UnitSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)


class BuildingSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    has_lift = ma.fields.Boolean(required=True)
    floors = ma.fields.Integer(allow_none=True)
    note = ma.fields.String(allow_none=True)
    units = ma.fields.List(ma.fields.Nested(UnitSchema), required=True)
    room_counts = ma.fields.Nested(RoomCountsSchema, required=True)


class BuildingPatternSchema(ma.Schema):
    name = Text(required=True, min_length=1, max_length=40, metadata={'example': '1栋'})
    has_lift = ma.fields.Boolean(load_default=True)
    units = ma.fields.Integer(required=True, validate=validate.Range(min=0, max=services.MAX_UNITS),
                              metadata={'description': '0 for a building without units (an office tower)'})
    floors = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=services.MAX_FLOORS))
    rooms_per_floor = ma.fields.Integer(required=True,
                                        validate=validate.Range(min=1, max=services.MAX_ROOMS_PER_FLOOR))
    numbering = ma.fields.Integer(load_default=100, validate=validate.OneOf([100, 1000]),
                                  metadata={'description': 'room number = floor × numbering + position'})
    areas = ma.fields.List(Area(), load_default=list, validate=validate.Length(max=services.MAX_ROOMS_PER_FLOOR),
                           metadata={'description': 'none, one for every room, or one per position on a floor'})
    type = ma.fields.String(validate=validate.OneOf(ROOM_TYPES),
                            metadata={'description': "one of the project's room types; default: its first"})


class BuildingPreviewSchema(ma.Schema):
    name = ma.fields.String(required=True)
    count = ma.fields.Integer(required=True, metadata={'description': 'rooms the pattern creates'})
    units = ma.fields.List(ma.fields.String(), required=True, attribute='unit_names')
    first_code = ma.fields.String(required=True)
    last_code = ma.fields.String(required=True)


class BuildingPatchSchema(ma.Schema):
    name = Text(min_length=1, max_length=40, metadata={'description': "renaming updates every room's code"})
    has_lift = ma.fields.Boolean()
    note = Text(allow_none=True, max_length=200)


class RoomSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True, metadata={'description': "canonical: '1-2-1201' (building-unit-number)"})
    label = ma.fields.String(required=True, metadata={'description': "as written: '1栋2单元1201'"})
    building_id = ma.fields.Integer(required=True)
    building_name = ma.fields.String(attribute='building.name', required=True)
    unit_id = ma.fields.Integer(allow_none=True)
    unit_name = ma.fields.Function(lambda room: room.unit.name if room.unit else None, allow_none=True,
                                   metadata={'type': 'string'})
    number = ma.fields.String(required=True)
    floor = ma.fields.Integer(allow_none=True)
    area_m2 = Area(allow_none=True)
    type = ma.fields.String(required=True, metadata={'description': ', '.join(ROOM_TYPES)})
    status = ma.fields.String(required=True, metadata={'description': ', '.join(ROOM_STATUSES)})
    tags = ma.fields.List(ma.fields.String(), required=True)
    billing_starts_on = ma.fields.Date(allow_none=True)
    active = ma.fields.Boolean(required=True, metadata={'description': 'false once merged into another room'})
    merged_into_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime()


class RoomArgsSchema(PageArgsSchema):
    building_id = _id()
    unit_id = _id()
    status = ma.fields.String(validate=validate.OneOf(ROOM_STATUSES))
    type = ma.fields.String(validate=validate.OneOf(ROOM_TYPES))
    tag = Text(max_length=20)
    q = Text(max_length=80, metadata={'description': "a room as people write it: '3-2-1201', '3栋2单元1201', '1201'"})
    include_inactive = ma.fields.Boolean(load_default=False, metadata={'description': 'also merged rooms'})


class RoomPatchSchema(ma.Schema):
    area_m2 = Area(allow_none=True)
    type = ma.fields.String(validate=validate.OneOf(ROOM_TYPES))
    status = ma.fields.String(validate=validate.OneOf(ROOM_STATUSES))
    tags = ma.fields.List(Text(min_length=1, max_length=20), validate=validate.Length(max=50),
                          metadata={'description': "from the project's room tags"})
    billing_starts_on = ma.fields.Date(allow_none=True, metadata={'description': 'fees start; null: not handed over'})


class RenameSchema(ma.Schema):
    number = Text(required=True, min_length=1, max_length=20, metadata={'example': '1201A'})


class MergeSchema(ma.Schema):
    room_ids = ma.fields.List(ma.fields.Integer(), required=True, validate=validate.Length(min=1, max=50),
                              metadata={'description': 'rooms of the same building and unit to merge into this one'})


class RoomEventSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True,
                            metadata={'description': 'created, renamed, merged, status_changed, updated'})
    detail = ma.fields.Dict(required=True)
    by_user_id = ma.fields.Integer(allow_none=True)
    at = ma.fields.DateTime(required=True)


class SpaceSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    location = ma.fields.String(allow_none=True)
    kind = ma.fields.String(required=True, metadata={'description': ', '.join(SPACE_KINDS)})
    room_id = ma.fields.Integer(allow_none=True)
    room_code = ma.fields.Function(lambda space: space.room.code if space.room else None, allow_none=True,
                                   metadata={'type': 'string'})
    plates = ma.fields.List(ma.fields.String(), required=True, metadata={'description': "normalised: '浙A12345'"})
    active = ma.fields.Boolean(required=True)


class SpaceArgsSchema(PageArgsSchema):
    q = Text(max_length=40, metadata={'description': 'part of a space code, room code or plate'})
    kind = ma.fields.String(validate=validate.OneOf(SPACE_KINDS))
    include_inactive = ma.fields.Boolean(load_default=False)


class SpacePatchSchema(ma.Schema):
    code = Text(min_length=1, max_length=30, metadata={'example': 'B1-023'})
    location = Text(allow_none=True, max_length=60)
    kind = ma.fields.String(validate=validate.OneOf(SPACE_KINDS))
    room_id = ma.fields.Integer(allow_none=True)
    plates = ma.fields.List(Text(max_length=20), validate=validate.Length(max=services.MAX_PLATES),
                            metadata={'description': "Chinese plates; spaces and dots are removed: '浙A·12345'"})
    active = ma.fields.Boolean()


class SpaceCreateSchema(SpacePatchSchema):
    code = Text(required=True, min_length=1, max_length=30, metadata={'example': 'B1-023'})
    kind = ma.fields.String(load_default='rented', validate=validate.OneOf(SPACE_KINDS))
    plates = ma.fields.List(Text(max_length=20), load_default=list, validate=validate.Length(max=services.MAX_PLATES))
    active = ma.fields.Boolean(load_default=True)


# --- helpers -----------------------------------------------------------------------------------------------------

def editors_only(view):
    """Writes: admins and the service desk. Placed after api_login_required, before the body is read."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not g.api_user.has_duty('service_desk'):
            abort(403, message=_('只有管理员和客服可以修改房屋信息'))
        return view(*args, **kwargs)

    return wrapper


def found(model, param: str):
    """Look the path's object up (404) before the body is validated: another project's id is a 404, whatever
    the body says."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            g.found = get_or_404(model, kwargs[param])
            return view(*args, **kwargs)

        return wrapper

    return decorator


def _settings() -> services.PropertySettings:
    return services.property_settings(g.tenant)


def _with_counts(buildings: list[Building]) -> list[Building]:
    counts = services.room_counts([b.id for b in buildings])
    for b in buildings:
        b.room_counts = counts[b.id]  # a plain attribute for the response, not a column
    return buildings


def _room_or_422(room_id, field: str) -> Room | None:
    if room_id is None:
        return None
    room = services.find_room(room_id)
    if room is None:
        raise DomainError(_('找不到房间 %(id)s', id=room_id), field=field)
    return room


# --- buildings ---------------------------------------------------------------------------------------------------

@blp.route('/buildings', methods=['GET'])
@api_login_required(*STAFF)
@blp.arguments(PageArgsSchema, location='query')
@blp.response(200, page_of(BuildingSchema))
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
def list_buildings(args):
    """Buildings with their units and active room counts by status."""
    page = paginate(services.buildings_query(), args)
    _with_counts(page['items'])
    return page


@blp.route('/buildings', methods=['POST'])
@api_login_required(*STAFF)
@editors_only
@blp.arguments(BuildingPatternSchema)
@blp.response(201, BuildingSchema)
@errors(blp, 400, 401, 403, 415, 422)
@blp.doc(security=BEARER)
def create_building(body):
    """Create a building from a pattern (units × floors × rooms per floor), all rooms in one transaction.

    422 when the pattern would create more than 5000 rooms, or the project has a building of that name or number.
    """
    settings = _settings()
    building = services.create_building(_pattern(body, settings), by_user_id=g.api_user.id,
                                        allowed_types=settings.type_codes)
    db.session.commit()
    return _with_counts([building])[0]


@blp.route('/buildings/preview', methods=['POST'])
@api_login_required(*STAFF)
@editors_only
@blp.arguments(BuildingPatternSchema)
@blp.response(200, BuildingPreviewSchema)
@errors(blp, 400, 401, 403, 415, 422)
@blp.doc(security=BEARER)
def preview_building(body):
    """What POST /buildings would create with this pattern (how many rooms, first and last code); creates nothing."""
    settings = _settings()
    return services.preview_building(_pattern(body, settings), settings.type_codes)


def _pattern(body: dict, settings) -> services.BuildingPattern:
    return services.BuildingPattern(name=body['name'], units=body['units'], floors=body['floors'],
                                    rooms_per_floor=body['rooms_per_floor'], numbering=body['numbering'],
                                    has_lift=body['has_lift'], areas=tuple(body['areas']),
                                    type=body.get('type') or settings.default_type)


@blp.route('/buildings/<int:building_id>', methods=['GET'])
@api_login_required(*STAFF)
@blp.response(200, BuildingSchema)
@errors(blp, 401, 403, 404)
@blp.doc(security=BEARER)
def get_building(building_id):
    """One building with its units and room counts."""
    return _with_counts([get_or_404(Building, building_id)])[0]


@blp.route('/buildings/<int:building_id>', methods=['PATCH'])
@api_login_required(*STAFF)
@editors_only
@found(Building, 'building_id')
@blp.arguments(BuildingPatchSchema)
@blp.response(200, BuildingSchema)
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def patch_building(body, building_id):
    """Rename a building (its rooms' codes follow), or change has_lift / note."""
    building = g.found
    services.update_building(building, name=body.get('name', building.name),
                             has_lift=body.get('has_lift', building.has_lift), note=body.get('note', building.note))
    db.session.commit()
    return _with_counts([building])[0]


# --- rooms -------------------------------------------------------------------------------------------------------

@blp.route('/rooms', methods=['GET'])
@api_login_required(*STAFF)
@blp.arguments(RoomArgsSchema, location='query')
@blp.response(200, page_of(RoomSchema))
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
def list_rooms(args):
    """Rooms by building, unit, floor and number; filter, and search with `q` as people write a room."""
    f = services.RoomFilter(building_id=args.get('building_id'), unit_id=args.get('unit_id'),
                            status=args.get('status'), type=args.get('type'), tag=args.get('tag'), q=args.get('q'),
                            include_inactive=args['include_inactive'])
    return paginate(services.rooms_query(f), args)


@blp.route('/rooms/<int:room_id>', methods=['GET'])
@api_login_required(*STAFF)
@blp.response(200, RoomSchema)
@errors(blp, 401, 403, 404)
@blp.doc(security=BEARER)
def get_room(room_id):
    """One room (also a merged one: see active and merged_into_id)."""
    return get_or_404(Room, room_id)


@blp.route('/rooms/<int:room_id>', methods=['PATCH'])
@api_login_required(*STAFF)
@editors_only
@found(Room, 'room_id')
@blp.arguments(RoomPatchSchema)
@blp.response(200, RoomSchema)
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def patch_room(body, room_id):
    """Change area, type, status, tags or billing start; each change is recorded in the room's events."""
    room = g.found
    services.update_room(room, by_user_id=g.api_user.id, settings=_settings(), **body)
    db.session.commit()
    return room


@blp.route('/rooms/<int:room_id>/events', methods=['GET'])
@api_login_required(*STAFF)
@blp.arguments(PageArgsSchema, location='query')
@blp.response(200, page_of(RoomEventSchema))
@errors(blp, 401, 403, 404, 422)
@blp.doc(security=BEARER)
def list_room_events(args, room_id):
    """A room's history, newest first: created, renamed, merged, status_changed, updated."""
    return paginate(services.room_events(get_or_404(Room, room_id)), args)


@blp.route('/rooms/<int:room_id>/rename', methods=['POST'])
@api_login_required(*STAFF)
@editors_only
@found(Room, 'room_id')
@blp.arguments(RenameSchema)
@blp.response(200, RoomSchema)
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def rename_room(body, room_id):
    """Give the room a new number, and so a new code. 422 if the project has that code already."""
    room = g.found
    services.rename_room(room, body['number'], by_user_id=g.api_user.id)
    db.session.commit()
    return room


@blp.route('/rooms/<int:room_id>/merge', methods=['POST'])
@api_login_required(*STAFF)
@editors_only
@found(Room, 'room_id')
@blp.arguments(MergeSchema)
@blp.response(200, RoomSchema)
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def merge_room(body, room_id):
    """Merge rooms of the same building and unit into this one; its area becomes the sum of all."""
    room = g.found
    others = [_room_or_422(other_id, 'room_ids') for other_id in body['room_ids']]
    services.merge_rooms(room, others, by_user_id=g.api_user.id)
    db.session.commit()
    return room


# --- parking spaces ----------------------------------------------------------------------------------------------

@blp.route('/spaces', methods=['GET'])
@api_login_required(*STAFF)
@blp.arguments(SpaceArgsSchema, location='query')
@blp.response(200, page_of(SpaceSchema))
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
def list_spaces(args):
    """Parking spaces (车位) by code; search by code, room code or plate."""
    return paginate(services.spaces_query(args.get('q'), args.get('kind'), args['include_inactive']), args)


@blp.route('/spaces', methods=['POST'])
@api_login_required(*STAFF)
@editors_only
@blp.arguments(SpaceCreateSchema)
@blp.response(201, SpaceSchema)
@errors(blp, 400, 401, 403, 415, 422)
@blp.doc(security=BEARER)
def create_space(body):
    """Add a parking space, optionally for a room, with the plates allowed on it."""
    space = services.save_space(None, code=body['code'], location=body.get('location'), kind=body['kind'],
                                room=_room_or_422(body.get('room_id'), 'room_id'), plates=body['plates'],
                                active=body['active'])
    db.session.commit()
    return space


@blp.route('/spaces/<int:space_id>', methods=['GET'])
@api_login_required(*STAFF)
@blp.response(200, SpaceSchema)
@errors(blp, 401, 403, 404)
@blp.doc(security=BEARER)
def get_space(space_id):
    """One parking space."""
    return get_or_404(ParkingSpace, space_id)


@blp.route('/spaces/<int:space_id>', methods=['PATCH'])
@api_login_required(*STAFF)
@editors_only
@found(ParkingSpace, 'space_id')
@blp.arguments(SpacePatchSchema)
@blp.response(200, SpaceSchema)
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def patch_space(body, space_id):
    """Change a parking space; `room_id: null` frees it from its room."""
    space = g.found
    room = _room_or_422(body['room_id'], 'room_id') if 'room_id' in body else space.room
    services.save_space(space, code=body.get('code', space.code), location=body.get('location', space.location),
                        kind=body.get('kind', space.kind), room=room, plates=body.get('plates', space.plates),
                        active=body.get('active', space.active))
    db.session.commit()
    return space
