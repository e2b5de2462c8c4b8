"""Doing an inspection task on a phone (执行巡检): ``/inspections/tasks/<id>`` — opened from the task list or from
the device page a QR label leads to. Opening it records the check-in (the first time); the form records each
checklist item and the photos the plan requires; a failure opens a work order, dispatched by the repair rules and
linked from the page.

Who: admins, and the staff the task is for (its assignee, or anyone with the plan's duty when it has none); other
staff may look at it, residents not at all (403).
"""
from __future__ import annotations

import io

from flask import abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..auth.sessions import require_staff
from ..errors import DomainError
from ..extensions import db
from ..models_base import MAX_ID, get_or_404
from ..repairs import dispatch, notify, photos
from ..repairs.models import WorkOrder
from ..repairs.photos import read_uploads
from ..repairs.portal_views import allow_photo_uploads
from ..tenancy import clock
from ..tenancy.clock import local_datetime
from . import bp, tasks
from .models import TASK_STATUS_NAMES, InspectionPhoto, InspectionTask
from .task_forms import ActionForm


def _answers_from(form, checklist: list[dict]) -> list[dict]:
    """One answer per item from the posted fields item-<n>-ok ('1' / '0'), item-<n>-value and item-<n>-note."""
    answers = []
    for position, item in enumerate(checklist, start=1):
        prefix = f'item-{position}'
        answer = {'note': form.get(f'{prefix}-note', '')}
        if item['kind'] == 'check':
            answer['ok'] = {'1': True, '0': False}.get(form.get(f'{prefix}-ok', ''))
        elif item['kind'] == 'reading':
            answer['value'] = form.get(f'{prefix}-value', '')
        answers.append(answer)
    return answers


def _show(task: InspectionTask, status: int = 200, error: str | None = None, answers=None):
    order = db.session.query(WorkOrder).filter(WorkOrder.inspection_task_id == task.id).one_or_none()
    now = clock.now_utc()
    return render_template(
        'inspections/task_do.html', task=task, plan=task.plan, device=task.device, order=order, error=error,
        may_do=tasks.may_do(task, current_user), overdue=task.status == 'open' and task.due_at < now, form=ActionForm(),
        answers=answers or [{} for _item in task.plan.checklist or []], status_names=TASK_STATUS_NAMES,
        local=lambda value: local_datetime(value, g.tenant), photos=list(task.photos)), status


@bp.get('/inspections/tasks/<int:task_id>', endpoint='task_do')
@require_staff
def task_page(task_id):
    """The task: the checklist form while it is open (opening it checks the technician in), the results after."""
    task = get_or_404(InspectionTask, task_id)
    if task.status != 'done' and tasks.may_do(task, current_user) and task.checked_in_at is None:
        tasks.check_in(task, by_user=current_user, now=clock.now_utc())
        db.session.commit()
    return _show(task)


@bp.post('/inspections/tasks/<int:task_id>', endpoint='task_complete')
@require_staff
def task_complete(task_id):
    """提交巡检结果: every item answered, the photos; a failure opens one work order (auto-dispatched, told)."""
    allow_photo_uploads()
    if not 0 < task_id <= MAX_ID:
        abort(404)
    task = tasks.locked(task_id)
    if task is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        return _show(task, 400, _('页面已过期，请刷新后重新提交'))
    answers = _answers_from(request.form, task.plan.checklist or [])
    try:
        uploads = read_uploads(request.files.getlist('photos'), limit=tasks.MAX_PHOTOS)
        outcome = tasks.complete(task, answers, by_user=current_user, photos=uploads, now=clock.now_utc())
        if outcome.work_order is not None:
            dispatch.auto_assign(outcome.work_order)
    except DomainError as e:
        db.session.rollback()
        task = get_or_404(InspectionTask, task_id)
        return _show(task, e.status_code, e.message, answers)
    db.session.commit()
    if outcome.work_order is not None:
        notify.tell_since(outcome.work_order)  # its steps: submitted, and assigned by a rule
        flash(_('巡检已完成；发现 %(n)s 项异常，已生成报修工单 %(number)s', n=len(outcome.failures),
                number=outcome.work_order.number))
    else:
        flash(_('巡检已完成，全部正常'))
    return redirect(url_for('inspections.task_do', task_id=task_id), 303)


# --- photos -------------------------------------------------------------------------------------------------------

def _photo(inspection_photo_id: int, thumb: bool):
    """A task's photo for the project's staff (another project's, or none: 404)."""
    photo = get_or_404(InspectionPhoto, inspection_photo_id)
    data = photos.read(photo, thumb)
    if data is None:
        abort(404)
    response = send_file(io.BytesIO(data), mimetype='image/jpeg', max_age=0)
    response.headers['X-Content-Type-Options'] = 'nosniff'
    response.headers['Cache-Control'] = 'private, no-cache'
    return response


@bp.get('/inspections/photos/<int:inspection_photo_id>', endpoint='task_photo')
@require_staff
def task_photo(inspection_photo_id):
    return _photo(inspection_photo_id, False)


@bp.get('/inspections/photos/<int:inspection_photo_id>/thumb', endpoint='task_photo_thumb')
@require_staff
def task_photo_thumb(inspection_photo_id):
    return _photo(inspection_photo_id, True)
