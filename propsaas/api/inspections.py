"""API: inspection tasks (巡检任务) — what a technician's app needs.

``GET /inspections/tasks`` the tasks the user may do (admins: all), of a local day (default today) or a status;
``GET /inspections/tasks/<task_id>`` one task with its checklist, results and photo count (any staff member);
``POST /inspections/tasks/<task_id>/check-in`` (on site, the first time only), ``.../photos`` (multipart, field
``photo``, before completing), ``.../complete`` (every item answered, in order: ``{"ok": true}`` for a check,
``{"value": "0.35"}`` for a reading, ``{"note": "..."}`` for a note; a failure opens one work order, whose id and
number come back); ``GET /inspections/devices/<device_id>`` a device (what its QR label names) with its open tasks.

Another project's task or device is 404; a task not the user's 403; a task done already 409; bad answers 422.
"""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import wraps

import marshmallow as ma
import sqlalchemy as sa
from flask import abort, g
from flask_smorest.fields import Upload
from marshmallow import validate
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..inspections import tasks
from ..inspections.models import TASK_STATUS_NAMES, TASK_STATUSES, Device, InspectionTask
from ..models_base import MAX_ID
from ..repairs import dispatch, notify
from ..repairs.models import WorkOrder
from ..repairs.photos import IMAGE_MAX_BYTES
from ..tenancy import clock
from .auth import BEARER, api_login_required
from .schemas import PageArgsSchema, errors, page_of, paginate
from .uploads import UploadsBlueprint

PREFIX = ''
UPLOAD_ENDPOINTS = ('upload_task_photo',)
STAFF = ('admin', 'staff')
_ID = validate.Range(min=1, max=MAX_ID)


blp = UploadsBlueprint('api_inspections', __name__, description='Inspection tasks (巡检任务)',
                       upload_endpoints=UPLOAD_ENDPOINTS)


# --- schemas ------------------------------------------------------------------------------------------------------

class InspectionItemSchema(ma.Schema):
    label = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, metadata={'description': 'check, reading or note'})
    unit = ma.fields.String(allow_none=True)
    min = ma.fields.String(allow_none=True, metadata={'description': "a reading's lowest allowed value"})
    max = ma.fields.String(allow_none=True)


class InspectionResultSchema(ma.Schema):
    ok = ma.fields.Boolean(allow_none=True)
    value = ma.fields.String(allow_none=True)
    note = ma.fields.String(allow_none=True)


class InspectionDeviceBriefSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    location = ma.fields.String(allow_none=True)


class InspectionTaskSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    plan_id = ma.fields.Integer(required=True)
    plan_name = ma.fields.String(required=True)
    device = ma.fields.Nested(InspectionDeviceBriefSchema, allow_none=True,
                              metadata={'description': 'None: a round of places (points)'})
    points = ma.fields.List(ma.fields.String(), required=True)
    period_start = ma.fields.DateTime(required=True)
    due_at = ma.fields.DateTime(required=True)
    status = ma.fields.String(required=True, metadata={'description': ', '.join(TASK_STATUSES)})
    status_name = ma.fields.String(required=True)
    overdue = ma.fields.Boolean(required=True)
    assignee_id = ma.fields.Integer(allow_none=True)
    duty = ma.fields.String(allow_none=True)
    photos_required = ma.fields.Integer(required=True)
    checked_in_at = ma.fields.DateTime(allow_none=True)
    completed_at = ma.fields.DateTime(allow_none=True)


class InspectionTaskDetailSchema(InspectionTaskSchema):
    checklist = ma.fields.List(ma.fields.Nested(InspectionItemSchema), required=True)
    results = ma.fields.List(ma.fields.Nested(InspectionResultSchema), required=True)
    photos = ma.fields.Integer(required=True, metadata={'description': 'photos uploaded so far'})
    may_do = ma.fields.Boolean(required=True, metadata={'description': 'whether this user may record it'})
    work_order_id = ma.fields.Integer(allow_none=True)
    work_order_number = ma.fields.String(allow_none=True)


class InspectionTaskListArgsSchema(PageArgsSchema):
    day = ma.fields.Date(metadata={'description': "local day of the rounds' start (default today)"})
    status = ma.fields.String(validate=validate.OneOf(TASK_STATUSES),
                              metadata={'description': 'with a status, every day (newest first)'})
    device_id = ma.fields.Integer(validate=_ID)


class InspectionAnswerSchema(ma.Schema):
    ok = ma.fields.Boolean(allow_none=True)
    value = ma.fields.String(allow_none=True, validate=validate.Length(max=40))
    note = ma.fields.String(load_default='', validate=validate.Length(max=tasks.MAX_NOTE))


class InspectionCompleteSchema(ma.Schema):
    answers = ma.fields.List(ma.fields.Nested(InspectionAnswerSchema), required=True,
                             validate=validate.Length(max=100),
                             metadata={'description': 'one per checklist item, in order'})


class InspectionOutcomeSchema(ma.Schema):
    task = ma.fields.Nested(InspectionTaskDetailSchema, required=True)
    failures = ma.fields.List(ma.fields.List(ma.fields.String()), required=True,
                              metadata={'description': '[item label, what was found] of each failed item'})


class InspectionPhotoUploadSchema(ma.Schema):
    photo = Upload(required=True, metadata={'description': 'one JPEG, PNG or WebP picture, at most 10 MB'})


class InspectionPhotoCountSchema(ma.Schema):
    photos = ma.fields.Integer(required=True)


class InspectionDeviceSchema(InspectionDeviceBriefSchema):
    category = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    building_id = ma.fields.Integer(allow_none=True)
    open_tasks = ma.fields.List(ma.fields.Nested(InspectionTaskSchema), required=True,
                                metadata={'description': 'open and missed tasks of the device, oldest first'})


# --- helpers ------------------------------------------------------------------------------------------------------

def _task_out(task: InspectionTask, now: datetime) -> dict:
    device = task.device
    return {'id': task.id, 'plan_id': task.plan_id, 'plan_name': task.plan.name,
            'device': None if device is None else {'id': device.id, 'code': device.code, 'name': device.name,
                                                   'location': device.location},
            'points': list(task.plan.points or []), 'period_start': task.period_start, 'due_at': task.due_at,
            'status': task.status, 'status_name': str(TASK_STATUS_NAMES[task.status]),
            'overdue': task.status == 'open' and task.due_at < now, 'assignee_id': task.assignee_id,
            'duty': task.plan.duty, 'photos_required': task.plan.photos_required or 0,
            'checked_in_at': task.checked_in_at, 'completed_at': task.completed_at}


def _detail_out(task: InspectionTask) -> dict:
    order = db.session.execute(sa.select(WorkOrder.id, WorkOrder.number)
                               .where(WorkOrder.inspection_task_id == task.id)).first()
    may_do = task.status != 'done' and tasks.may_do(task, g.api_user)
    return {**_task_out(task, clock.now_utc()), 'checklist': list(task.plan.checklist or []),
            'results': list(task.results or []), 'photos': tasks.photo_count(task), 'may_do': may_do,
            'work_order_id': order.id if order else None, 'work_order_number': order.number if order else None}


def _task(task_id: int, *, lock: bool = False) -> InspectionTask:
    if not 0 < task_id <= MAX_ID:
        abort(404)
    task = tasks.locked(task_id) if lock else db.session.get(InspectionTask, task_id)
    if task is None:
        abort(404)
    return task


def _existing(view):
    """Before the body is read: another project's task (or none) is 404 whatever is posted."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        _task(kwargs['task_id'])
        return view(*args, **kwargs)

    return wrapper


def _with_places(query):
    return query.options(joinedload(InspectionTask.plan), joinedload(InspectionTask.device))


# --- routes -------------------------------------------------------------------------------------------------------

@blp.route('/inspections/tasks', methods=['GET'])
@blp.arguments(InspectionTaskListArgsSchema, location='query')
@blp.response(200, page_of(InspectionTaskSchema))
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@api_login_required(*STAFF)
def list_tasks(args):
    """The tasks this user may do: of one local day (default today; by period start, earliest first), or, with
    ``status``, every day's tasks of that status (newest first); optionally of one device."""
    query = _with_places(sa.select(InspectionTask).where(tasks.doable_by(g.api_user)))
    if args.get('device_id'):
        query = query.where(InspectionTask.device_id == args['device_id'])
    if args.get('status'):
        query = query.where(InspectionTask.status == args['status']).order_by(
            InspectionTask.period_start.desc(), InspectionTask.id.desc())
    else:
        zone = clock.tenant_zone(g.tenant)
        day = args.get('day') or clock.tenant_today(g.tenant)
        low = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
        query = query.where(InspectionTask.period_start >= low,
                            InspectionTask.period_start < low + timedelta(days=1)).order_by(
            InspectionTask.period_start, InspectionTask.id)
    page = paginate(query, args)
    now = clock.now_utc()
    return {**page, 'items': [_task_out(task, now) for task in page['items']]}


@blp.route('/inspections/tasks/<int:task_id>', methods=['GET'])
@blp.response(200, InspectionTaskDetailSchema)
@errors(blp, 401, 403, 404)
@blp.doc(security=BEARER)
@api_login_required(*STAFF)
def get_task(task_id):
    """One task with its checklist, results, photos so far, and the work order a failure opened."""
    return _detail_out(_task(task_id))


@blp.route('/inspections/tasks/<int:task_id>/check-in', methods=['POST'])
@blp.response(200, InspectionTaskDetailSchema)
@errors(blp, 401, 403, 404, 415)
@blp.doc(security=BEARER)
@api_login_required(*STAFF)
def check_in_task(task_id):
    """On site: the check-in time is recorded the first time (403 when the task is not the user's)."""
    task = _task(task_id)
    tasks.check_in(task, by_user=g.api_user, now=clock.now_utc())
    db.session.commit()
    return _detail_out(task)


@blp.route('/inspections/tasks/<int:task_id>/photos', methods=['POST'])
@api_login_required(*STAFF)
@_existing
@blp.arguments(InspectionPhotoUploadSchema, location='files')
@blp.response(201, InspectionPhotoCountSchema)
@errors(blp, 401, 403, 404, 409, 415, 422)
@blp.doc(security=BEARER)
def upload_task_photo(files, task_id):
    """Add one photo (multipart/form-data, field ``photo``) before completing: at most 6 per task."""
    task = _task(task_id, lock=True)
    tasks.add_photo(task, files['photo'].stream.read(IMAGE_MAX_BYTES + 1), by_user=g.api_user)
    count = tasks.photo_count(task)
    db.session.commit()
    return {'photos': count}


@blp.route('/inspections/tasks/<int:task_id>/complete', methods=['POST'])
@api_login_required(*STAFF)
@_existing
@blp.arguments(InspectionCompleteSchema)
@blp.response(200, InspectionOutcomeSchema)
@errors(blp, 401, 403, 404, 409, 415, 422)
@blp.doc(security=BEARER)
def complete_task(data, task_id):
    """Record every item; the photos uploaded before count for the plan's requirement. A failed check or a reading
    out of range opens one work order (dispatched by the repair rules)."""
    task = _task(task_id, lock=True)
    outcome = tasks.complete(task, data['answers'], by_user=g.api_user, now=clock.now_utc())
    if outcome.work_order is not None:
        dispatch.auto_assign(outcome.work_order)
    db.session.commit()
    if outcome.work_order is not None:
        notify.tell_since(outcome.work_order)
    return {'task': _detail_out(task), 'failures': [list(failure) for failure in outcome.failures]}


@blp.route('/inspections/devices/<int:device_id>', methods=['GET'])
@blp.response(200, InspectionDeviceSchema)
@errors(blp, 401, 403, 404)
@blp.doc(security=BEARER)
@api_login_required(*STAFF)
def get_device(device_id):
    """A device (its QR label opens /equipment/<device_id>) with its open and missed tasks: what to do here."""
    if not 0 < device_id <= MAX_ID:
        abort(404)
    device = db.session.get(Device, device_id)
    if device is None:
        abort(404)
    open_tasks = db.session.execute(_with_places(sa.select(InspectionTask).where(
        InspectionTask.device_id == device.id, InspectionTask.status.in_(('open', 'missed')),
        InspectionTask.period_start <= clock.now_utc()).order_by(InspectionTask.period_start)).limit(50)
    ).scalars().all()
    now = clock.now_utc()
    return {'id': device.id, 'code': device.code, 'name': device.name, 'location': device.location,
            'category': device.category, 'status': device.status, 'building_id': device.building_id,
            'open_tasks': [_task_out(task, now) for task in open_tasks]}
