"""API: repair work orders (报修工单) — what a WeChat mini-program needs, for residents and for staff.

Residents (their household's orders; any other order is 404 for every role):
``POST /me/repairs`` (report: auto-dispatched like the page), ``GET /me/repairs`` (open first),
``GET /me/repairs/<order_id>`` (with its history and photos), ``POST /me/repairs/<order_id>/photos`` (multipart, field
``photo``), ``POST /me/repairs/<order_id>/confirm`` (rating 1-5), ``.../reopen`` (返修, a reason), ``.../cancel``.

Staff: ``GET /repairs`` (the desk and admins: every order, filtered; a technician: their own),
``GET /repairs/<order_id>``, ``POST /repairs/<order_id>/assign`` (the desk), ``.../start``, ``.../complete`` (note
and parts in fen), ``.../cancel`` (the desk, a reason), ``.../photos`` (after-photos, multipart).

Photos: ``GET /repairs/photos/<photo_id>`` and ``.../thumb`` (image/jpeg) for the project's staff and the reporting
household. An illegal transition is 409 with the message; bad input 422. The household is told of each step after
the commit, as the pages do.
"""
from __future__ import annotations

import io
from functools import wraps

import marshmallow as ma
import sqlalchemy as sa
from flask import abort, g, send_file, url_for
from flask_smorest.fields import Upload
from marshmallow import validate
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models_base import MAX_ID
from ..money import MAX_FEN
from ..property.models import Room
from ..repairs import board, notify, orders, photos, portal
from ..repairs.models import OPEN_STATUSES, STATUS_NAMES, STATUSES, URGENCIES, WorkOrder
from ..tenancy import clock
from .auth import BEARER, api_login_required
from .schemas import ErrorSchema, PageArgsSchema, errors, page_of, paginate
from .uploads import UploadsBlueprint

PREFIX = ''
UPLOAD_ENDPOINTS = ('upload_my_photo', 'upload_after_photo')


blp = UploadsBlueprint('api_repairs', __name__, description='Repair work orders (报修工单)',
                       upload_endpoints=UPLOAD_ENDPOINTS)

_ID = validate.Range(min=1, max=MAX_ID)
STAFF = ('admin', 'staff')
DESK = ('service_desk',)


def _conflict(view):
    return blp.alt_response(409, schema=ErrorSchema, description='the order is not in a state that allows this '
                            '(an illegal transition), or it is another technician\'s')(view)


# --- schemas ------------------------------------------------------------------------------------------------------

class RepairPersonSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    mobile = ma.fields.String(allow_none=True)


class RepairPartSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=60))
    quantity = ma.fields.Integer(strict=True, load_default=1, validate=validate.Range(min=1, max=10_000))
    cost_fen = ma.fields.Integer(strict=True, load_default=0, validate=validate.Range(min=0, max=MAX_FEN),
                                 metadata={'description': 'the cost of all of them, in fen'})


class RepairPhotoSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, metadata={'description': "'report' (the problem) or 'after' (the work)"})
    width = ma.fields.Integer(required=True)
    height = ma.fields.Integer(required=True)
    url = ma.fields.String(required=True, metadata={'description': 'GET it with the bearer token (image/jpeg)'})
    thumb_url = ma.fields.String(required=True)
    created_at = ma.fields.DateTime(required=True)


class RepairEventSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    action = ma.fields.String(required=True, metadata={'description': 'submitted, assigned, reassigned, started, '
                                                                      'completed, confirmed, reopened, cancelled, '
                                                                      'auto_confirmed, overdue'})
    action_name = ma.fields.String(required=True, metadata={'description': "'派单', in the user's language"})
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String(allow_none=True)
    by_name = ma.fields.String(allow_none=True, metadata={'description': "who did it; None: the system's clock"})
    note = ma.fields.String(allow_none=True)
    at = ma.fields.DateTime(required=True)


class RepairStaffEventSchema(RepairEventSchema):
    by_user_id = ma.fields.Integer(allow_none=True)


class RepairMyWorkOrderSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    number = ma.fields.String(required=True, metadata={'description': "'BX-20261125-0007'"})
    status = ma.fields.String(required=True, metadata={'description': ', '.join(STATUSES)})
    status_name = ma.fields.String(required=True, metadata={'description': "'待派单', in the user's language"})
    category_id = ma.fields.Integer(required=True)
    category_name = ma.fields.String(required=True)
    room_id = ma.fields.Integer(allow_none=True)
    public_area = ma.fields.String(allow_none=True)
    building_id = ma.fields.Integer(allow_none=True)
    place = ma.fields.String(required=True, metadata={'description': "'1栋1单元101', or the building and public area"})
    description = ma.fields.String(required=True)
    urgency = ma.fields.String(required=True, metadata={'description': 'normal or urgent'})
    preferred_time = ma.fields.String(allow_none=True)
    channel = ma.fields.String(required=True, metadata={'description': 'portal, phone, walk_in, inspection, staff'})
    contact_name = ma.fields.String(allow_none=True)
    contact_phone = ma.fields.String(allow_none=True)
    assignee = ma.fields.Nested(RepairPersonSchema, allow_none=True, metadata={'description': 'the technician'})
    respond_by = ma.fields.DateTime(allow_none=True)
    resolve_by = ma.fields.DateTime(allow_none=True)
    assigned_at = ma.fields.DateTime(allow_none=True)
    started_at = ma.fields.DateTime(allow_none=True)
    completed_at = ma.fields.DateTime(allow_none=True)
    confirmed_at = ma.fields.DateTime(allow_none=True)
    cancelled_at = ma.fields.DateTime(allow_none=True)
    completion_note = ma.fields.String(allow_none=True)
    parts = ma.fields.List(ma.fields.Nested(RepairPartSchema), required=True)
    reopen_count = ma.fields.Integer(required=True)
    cancel_reason = ma.fields.String(allow_none=True)
    rating = ma.fields.Integer(allow_none=True)
    rating_comment = ma.fields.String(allow_none=True)
    auto_confirmed = ma.fields.Boolean(required=True)
    created_at = ma.fields.DateTime(required=True)
    updated_at = ma.fields.DateTime(required=True)


class RepairMyWorkOrderDetailSchema(RepairMyWorkOrderSchema):
    photos = ma.fields.List(ma.fields.Nested(RepairPhotoSchema), required=True)
    events = ma.fields.List(ma.fields.Nested(RepairEventSchema), required=True)


class RepairWorkOrderSchema(RepairMyWorkOrderSchema):
    reporter_resident_id = ma.fields.Integer(allow_none=True)
    created_by_id = ma.fields.Integer(allow_none=True)
    assignee_id = ma.fields.Integer(allow_none=True)
    group_id = ma.fields.Integer(allow_none=True)
    overdue = ma.fields.Boolean(required=True, metadata={'description': 'past a deadline now'})
    overdue_at = ma.fields.DateTime(allow_none=True)
    escalated_at = ma.fields.DateTime(allow_none=True)


class RepairWorkOrderDetailSchema(RepairWorkOrderSchema):
    photos = ma.fields.List(ma.fields.Nested(RepairPhotoSchema), required=True)
    events = ma.fields.List(ma.fields.Nested(RepairStaffEventSchema), required=True)


class RepairReportSchema(ma.Schema):
    category_id = ma.fields.Integer(required=True, strict=True, validate=_ID)
    room_id = ma.fields.Integer(strict=True, allow_none=True, validate=_ID,
                                metadata={'description': 'a room you live in; or leave out and give public_area'})
    public_area = ma.fields.String(allow_none=True, validate=validate.Length(max=100),
                                   metadata={'description': "where, for a public area: '3栋大堂'"})
    building_id = ma.fields.Integer(strict=True, allow_none=True, validate=_ID,
                                    metadata={'description': 'the building of a public area (optional)'})
    description = ma.fields.String(required=True, validate=validate.Length(min=1, max=orders.MAX_DESCRIPTION))
    urgency = ma.fields.String(load_default='normal', validate=validate.OneOf(URGENCIES))
    preferred_time = ma.fields.String(allow_none=True, validate=validate.Length(max=100),
                                      metadata={'description': "as typed: '工作日晚上 7 点后'"})


class RepairConfirmSchema(ma.Schema):
    rating = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5))
    comment = ma.fields.String(allow_none=True, validate=validate.Length(max=500))


class RepairReopenSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=500))


class RepairMyCancelSchema(ma.Schema):
    reason = ma.fields.String(allow_none=True, validate=validate.Length(max=200))


class RepairCancelSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))


class RepairAssignSchema(ma.Schema):
    assignee_id = ma.fields.Integer(required=True, strict=True, validate=_ID)
    note = ma.fields.String(allow_none=True, validate=validate.Length(max=500))


class RepairCompleteSchema(ma.Schema):
    note = ma.fields.String(required=True, validate=validate.Length(min=1, max=orders.MAX_DESCRIPTION),
                            metadata={'description': 'what was done'})
    parts = ma.fields.List(ma.fields.Nested(RepairPartSchema), load_default=list,
                           validate=validate.Length(max=orders.MAX_PARTS))


class RepairPhotoUploadSchema(ma.Schema):
    photo = Upload(required=True, metadata={'description': 'one JPEG, PNG or WebP picture, at most 10 MB and 40 '
                                                           'megapixels (checked by content; EXIF removed)'})


class RepairWorkOrderListArgsSchema(PageArgsSchema):
    status = ma.fields.String(validate=validate.OneOf(STATUSES))
    category_id = ma.fields.Integer(validate=_ID)
    building_id = ma.fields.Integer(validate=_ID)
    assignee_id = ma.fields.Integer(validate=_ID, metadata={'description': 'the desk and admins only'})
    urgency = ma.fields.String(validate=validate.OneOf(URGENCIES))
    overdue = ma.fields.Boolean(load_default=False, metadata={'description': 'only orders past a deadline'})


# --- shaping ------------------------------------------------------------------------------------------------------

_COLUMNS = ('id', 'number', 'status', 'category_id', 'room_id', 'public_area', 'building_id', 'description',
            'urgency', 'preferred_time', 'channel', 'contact_name', 'contact_phone', 'respond_by', 'resolve_by',
            'assigned_at', 'started_at', 'completed_at', 'confirmed_at', 'cancelled_at', 'completion_note',
            'reopen_count', 'cancel_reason', 'rating', 'rating_comment', 'auto_confirmed', 'created_at', 'updated_at',
            'reporter_resident_id', 'created_by_id', 'assignee_id', 'group_id', 'overdue_at', 'escalated_at')


def _person(user) -> dict | None:
    return {'id': user.id, 'name': user.name, 'mobile': user.mobile} if user is not None else None


def _out(order: WorkOrder, people: dict, now) -> dict:
    out = {name: getattr(order, name) for name in _COLUMNS}
    out.update(status_name=str(STATUS_NAMES[order.status]), category_name=order.category.name,
               place=notify.place(order), parts=order.parts or [], assignee=_person(people.get(order.assignee_id)),
               overdue=board.is_overdue(order, now))
    return out


def _items(page: dict) -> dict:
    """A page of orders with their technicians: one statement for all the people."""
    people = board.users_by_id(o.assignee_id for o in page['items'])
    now = clock.now_utc()
    return {**page, 'items': [_out(o, people, now) for o in page['items']]}


def _detail(order_id: int) -> dict:
    """One order with its photos and history (loaded afresh: after a commit, after a message)."""
    db.session.expire_all()
    order = board.order_for_detail(order_id)
    people = board.people_of(order)
    out = _out(order, people, clock.now_utc())
    out['photos'] = [_photo_out(p) for p in order.photos]
    out['events'] = [{'id': e.id, 'action': e.action, 'action_name': str(orders.ACTION_NAMES.get(e.action, e.action)),
                      'from_status': e.from_status, 'to_status': e.to_status, 'by_user_id': e.by_user_id,
                      'by_name': people[e.by_user_id].name if e.by_user_id in people else None, 'note': e.note,
                      'at': e.at} for e in order.events]
    return out


def _photo_out(photo) -> dict:
    return {'id': photo.id, 'kind': photo.kind, 'width': photo.width, 'height': photo.height,
            'created_at': photo.created_at, 'url': url_for('api_repairs.photo', photo_id=photo.id),
            'thumb_url': url_for('api_repairs.photo_thumb', photo_id=photo.id)}


def _places(query):
    return query.options(selectinload(WorkOrder.room).selectinload(Room.building),
                         selectinload(WorkOrder.room).selectinload(Room.unit))


# --- who may see an order -----------------------------------------------------------------------------------------

def _household(order_id: int) -> WorkOrder:
    """The order of the resident's household; another household's or project's, or anyone not a resident: 404."""
    order = orders.load(order_id)
    if g.api_user.role != 'resident' or not photos.can_see(order, g.api_user):
        abort(404)
    return order


def _may_open(order: WorkOrder) -> bool:
    """The desk (and admins) open every order; a technician the orders assigned to them (as the pages)."""
    return g.api_user.has_duty('service_desk') or order.assignee_id == g.api_user.id


def _staff_order(order_id: int) -> WorkOrder:
    order = orders.load(order_id)
    if not _may_open(order):
        abort(404)
    return order


def _tech_order(order_id: int) -> WorkOrder:
    """For start and complete: a technician may try another's order and is refused with a message (409), as on
    the pages; staff without the duty who could not open it: 404."""
    order = orders.load(order_id)
    if not (_may_open(order) or g.api_user.has_duty('technician')):
        abort(404)
    return order


def _existing(finder):
    """Before the body is read: an order the user may not see is 404 whatever is posted."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            finder(kwargs['order_id'])
            return view(*args, **kwargs)

        return wrapper

    return decorator


def _step(order: WorkOrder, action) -> int:
    """Run one service step on ``order``, commit, tell the household and the assignee; the order's id. A refusal
    rolls back."""
    since = notify.last_event_id(order)
    action(order)
    order_id = order.id
    db.session.commit()
    notify.tell_since(order, since)
    return order_id


def _read_photo(upload) -> bytes:
    return upload.stream.read(photos.IMAGE_MAX_BYTES + 1)


# --- residents ----------------------------------------------------------------------------------------------------

@blp.route('/me/repairs', methods=['POST'])
@blp.arguments(RepairReportSchema)
@blp.response(201, RepairMyWorkOrderDetailSchema)
@errors(blp, 400, 401, 403, 415, 422)
@blp.doc(security=BEARER)
@api_login_required('resident')
def report_repair(body):
    """Report a repair for a room you live in (``room_id``) or a public area (``public_area``, optionally
    ``building_id``); it is dispatched by the project's rules at once. Add photos next (``/photos``). 422 for a
    category that does not fit the place, a room you do not live in, or a missing description."""
    room_id = body.get('room_id')
    order = portal.report(g.api_user, room_id=room_id, category_id=body['category_id'],
                          description=body['description'], urgency=body['urgency'],
                          preferred_time=body.get('preferred_time'), public_area=body.get('public_area'),
                          building_id=body.get('building_id'))
    order_id = order.id
    db.session.commit()
    notify.tell_since(order)
    return _detail(order_id), 201


@blp.route('/me/repairs', methods=['GET'])
@blp.arguments(PageArgsSchema, location='query')
@blp.response(200, page_of(RepairMyWorkOrderSchema))
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@api_login_required('resident')
def my_repairs(args):
    """Your household's orders (reported by you, or of a room you live in): open first, then waiting for your
    confirmation, then closed; newest first within each."""
    return _items(paginate(_places(portal.household_query(g.api_user)), args))


@blp.route('/me/repairs/<int:order_id>', methods=['GET'])
@blp.response(200, RepairMyWorkOrderDetailSchema)
@errors(blp, 401, 404)
@blp.doc(security=BEARER)
@api_login_required()  # anyone else has no household order: 404, not 403
def my_repair(order_id):
    """One of your household's orders with its photos and history; another household's order is 404."""
    return _detail(_household(order_id).id)


@blp.route('/me/repairs/<int:order_id>/photos', methods=['POST'])
@api_login_required()
@_existing(_household)
@blp.arguments(RepairPhotoUploadSchema, location='files')
@blp.response(201, RepairPhotoSchema)
@_conflict
@errors(blp, 401, 404, 415, 422)
@blp.doc(security=BEARER)
def upload_my_photo(files, order_id):
    """Add one photo of the problem (multipart/form-data, field ``photo``) while the order is open: at most 6.
    422 for a file that is not a JPEG, PNG or WebP picture (by content), over 10 MB or 40 megapixels; 409 once the
    order is completed or closed."""
    order = _household(order_id)
    photo = photos.add_photo(order, _read_photo(files['photo']), kind='report', by_user_id=g.api_user.id)
    db.session.commit()
    return _photo_out(photo)


@blp.route('/me/repairs/<int:order_id>/confirm', methods=['POST'])
@api_login_required()
@_existing(_household)
@blp.arguments(RepairConfirmSchema)
@blp.response(200, RepairMyWorkOrderDetailSchema)
@_conflict
@errors(blp, 400, 401, 404, 415, 422)
@blp.doc(security=BEARER)
def confirm_repair(body, order_id):
    """确认完成 with a rating (1-5) and a comment, once the technician has completed it (409 before). A rating of 2
    or less puts the order on the service desk's return-visit list."""
    order = _household(order_id)
    return _detail(_step(order, lambda o: orders.confirm(o, by_user=g.api_user, rating=body['rating'],
                                                         comment=body.get('comment'))))


@blp.route('/me/repairs/<int:order_id>/reopen', methods=['POST'])
@api_login_required()
@_existing(_household)
@blp.arguments(RepairReopenSchema)
@blp.response(200, RepairMyWorkOrderDetailSchema)
@_conflict
@errors(blp, 400, 401, 404, 415, 422)
@blp.doc(security=BEARER)
def reopen_repair(body, order_id):
    """返修: not fixed — back to the same technician with your reason (only while it waits for your
    confirmation; 409 otherwise)."""
    order = _household(order_id)
    return _detail(_step(order, lambda o: orders.reopen(o, by_user=g.api_user, reason=body['reason'])))


@blp.route('/me/repairs/<int:order_id>/cancel', methods=['POST'])
@api_login_required()
@_existing(_household)
@blp.arguments(RepairMyCancelSchema)
@blp.response(200, RepairMyWorkOrderDetailSchema)
@_conflict
@errors(blp, 400, 401, 404, 415, 422)
@blp.doc(security=BEARER)
def cancel_my_repair(body, order_id):
    """Cancel your report while nobody is assigned yet (409 after: call the service desk)."""
    order = _household(order_id)
    return _detail(_step(order, lambda o: orders.cancel(o, by_user=g.api_user, reason=body.get('reason'))))


# --- staff --------------------------------------------------------------------------------------------------------

@blp.route('/repairs', methods=['GET'])
@blp.arguments(RepairWorkOrderListArgsSchema, location='query')
@blp.response(200, page_of(RepairWorkOrderSchema))
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@api_login_required(*STAFF, duties=('service_desk', 'technician'))
def list_orders(args):
    """Orders: open first (urgent first, oldest first), then waiting for the resident's confirmation, then closed
    (newest first). The desk and admins see every order; a technician sees the orders assigned to them. Filters:
    status, category_id, building_id, assignee_id, urgency, overdue."""
    now = clock.now_utc()
    query = sa.select(WorkOrder)
    if not g.api_user.has_duty('service_desk'):
        query = query.where(WorkOrder.assignee_id == g.api_user.id)
    elif args.get('assignee_id'):
        query = query.where(WorkOrder.assignee_id == args['assignee_id'])
    for name in ('status', 'category_id', 'building_id', 'urgency'):
        if args.get(name) is not None:
            query = query.where(getattr(WorkOrder, name) == args[name])
    if args['overdue']:
        query = query.where(board.overdue_condition(now))
    is_open = WorkOrder.status.in_(OPEN_STATUSES)
    rank = sa.case((is_open, 0), (WorkOrder.status == 'completed', 1), else_=2)
    # within a rank one of the two dates is NULL for every row: open ones oldest first, the others newest first
    oldest = sa.case((is_open, WorkOrder.created_at))
    newest = sa.case((sa.not_(is_open), WorkOrder.created_at))
    query = board._with_places(query).order_by(rank, sa.case((is_open, board.URGENCY_ORDER), else_=0), oldest,
                                               newest.desc(), WorkOrder.id)
    return _items(paginate(query, args))


@blp.route('/repairs/<int:order_id>', methods=['GET'])
@blp.response(200, RepairWorkOrderDetailSchema)
@errors(blp, 401, 403, 404)
@blp.doc(security=BEARER)
@api_login_required(*STAFF)
def get_order(order_id):
    """One order with its photos and history: the desk and admins any, a technician the ones assigned to them."""
    return _detail(_staff_order(order_id).id)


@blp.route('/repairs/<int:order_id>/assign', methods=['POST'])
@api_login_required(*STAFF, duties=DESK)
@_existing(_staff_order)
@blp.arguments(RepairAssignSchema)
@blp.response(200, RepairWorkOrderDetailSchema)
@_conflict
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def assign_order(body, order_id):
    """派单, or 改派 while assigned or in progress, to a technician of the project (the desk and admins). 422 for
    someone who is not an active technician; 409 for a completed or closed order."""
    order = _staff_order(order_id)
    return _detail(_step(order, lambda o: orders.assign(o, body['assignee_id'], by_user=g.api_user,
                                                        note=body.get('note'))))


@blp.route('/repairs/<int:order_id>/start', methods=['POST'])
@api_login_required(*STAFF)
@_existing(_tech_order)
@blp.response(200, RepairWorkOrderDetailSchema)
@_conflict
@errors(blp, 401, 403, 404, 415)
@blp.doc(security=BEARER)
def start_order(order_id):
    """开始维修: the assigned technician (or an admin). 409 for another technician's order or one not assigned."""
    order = _tech_order(order_id)
    return _detail(_step(order, lambda o: orders.start(o, by_user=g.api_user)))


@blp.route('/repairs/<int:order_id>/complete', methods=['POST'])
@api_login_required(*STAFF)
@_existing(_tech_order)
@blp.arguments(RepairCompleteSchema)
@blp.response(200, RepairWorkOrderDetailSchema)
@_conflict
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def complete_order(body, order_id):
    """完工: what was done and the parts used (cost in fen); the resident is asked to confirm. Upload after-photos
    with ``/photos`` (before or after completing). 409 unless in progress, or for another technician's order."""
    order = _tech_order(order_id)
    return _detail(_step(order, lambda o: orders.complete(o, by_user=g.api_user, note=body['note'],
                                                          parts=body['parts'])))


@blp.route('/repairs/<int:order_id>/cancel', methods=['POST'])
@api_login_required(*STAFF, duties=DESK)
@_existing(_staff_order)
@blp.arguments(RepairCancelSchema)
@blp.response(200, RepairWorkOrderDetailSchema)
@_conflict
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def cancel_order(body, order_id):
    """Cancel an open order with a reason (the desk and admins); 409 once completed or closed."""
    order = _staff_order(order_id)
    return _detail(_step(order, lambda o: orders.cancel(o, by_user=g.api_user, reason=body['reason'])))


@blp.route('/repairs/<int:order_id>/photos', methods=['POST'])
@api_login_required(*STAFF)
@_existing(_staff_order)
@blp.arguments(RepairPhotoUploadSchema, location='files')
@blp.response(201, RepairPhotoSchema)
@_conflict
@errors(blp, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def upload_after_photo(files, order_id):
    """Add one photo of the work done (multipart/form-data, field ``photo``), once started: at most 6. 422 for a
    file that is not a picture; 409 before the work started."""
    order = _staff_order(order_id)
    photo = photos.add_photo(order, _read_photo(files['photo']), kind='after', by_user_id=g.api_user.id)
    db.session.commit()
    return _photo_out(photo)


# --- photo files --------------------------------------------------------------------------------------------------

def _photo_file(photo_id: int, thumb: bool):
    if not 0 < photo_id <= MAX_ID:
        abort(404)
    found = photos.photo_for(g.api_user, photo_id)
    data = photos.read(found, thumb) if found is not None else None
    if data is None:
        abort(404)
    response = send_file(io.BytesIO(data), mimetype='image/jpeg', max_age=0)
    response.headers['X-Content-Type-Options'] = 'nosniff'
    response.headers['Cache-Control'] = 'private, no-cache'
    return response


@blp.route('/repairs/photos/<int:photo_id>', methods=['GET'])
@blp.response(200, description='the photo (image/jpeg, re-encoded, no EXIF)', content_type='image/jpeg')
@errors(blp, 401, 404)
@blp.doc(security=BEARER)
@api_login_required()
def photo(photo_id):
    """A repair photo, for the project's staff and the reporting household; anyone else 404."""
    return _photo_file(photo_id, False)


@blp.route('/repairs/photos/<int:photo_id>/thumb', methods=['GET'])
@blp.response(200, description='the thumbnail (image/jpeg, 400 px)', content_type='image/jpeg')
@errors(blp, 401, 404)
@blp.doc(security=BEARER)
@api_login_required()
def photo_thumb(photo_id):
    """A repair photo's thumbnail; anyone but the project's staff and the reporting household 404."""
    return _photo_file(photo_id, True)
