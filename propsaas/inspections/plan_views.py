"""Inspection plan and task pages (巡检计划与任务).

- /inspections/plans: every plan of the project (what, how often, who, which devices, enabled); admins, and staff
  with the technician or lift safety duty may look;
- /inspections/plans/new and /<id>/edit: admins set a plan up; saving an enabled plan generates its tasks of the
  coming days at once;
- /inspections/plans/<id>: one plan with its latest tasks, counts and completion rate;
- /inspections/tasks: the tasks of a day (admins; staff with the technician, lift safety or security duty see the
  tasks of their duties' plans and those assigned to them).

Bad input answers 422 with the message and saves nothing.
"""
from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from ..auth.sessions import require_duty, require_role
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from ..models_base import MAX_ID, get_or_404
from ..tenancy import clock
from ..tenancy.clock import local_datetime
from . import bp, plans
from .generation import HORIZON_DAYS
from .models import TARGET_NAMES, TASK_STATUS_NAMES, TASK_STATUSES, Device, InspectionPlan
from .plan_forms import CHECKLIST_ROWS, PlanForm
from .schedule import WEEKDAY_NAMES

PER_PAGE = 50
require_admin = require_role('admin')
require_plan_viewer = require_duty('technician', 'lift_safety')
require_task_viewer = require_duty('technician', 'lift_safety', 'security')
ROW_FIELDS = ('label', 'kind', 'unit', 'min', 'max')


def _device_links() -> bool:
    return 'inspections.device' in current_app.view_functions


def _task_links() -> bool:
    """Whether the task page (执行巡检) exists to link to."""
    return 'inspections.task_do' in current_app.view_functions


@bp.get('/inspections/plans', endpoint='plans')
@require_plan_viewer
def plan_list():
    all_plans = plans.all_plans()
    people = plans.users_by_id(p.assignee_id for p in all_plans)
    return render_template('inspections/plan_list.html', plans=all_plans, people=people, targets=TARGET_NAMES,
                           who=plans.who, coverage=plans.coverage, frequency=plans.describe_frequency,
                           horizon=HORIZON_DAYS)


add_nav('inspections.plans', _l('巡检计划'), ('admin', 'staff'), duties=('technician', 'lift_safety'),
        after='inspections.devices')


# --- the plan form ----------------------------------------------------------------------------------------------

def _form_data(plan: InspectionPlan) -> dict:
    frequency = plan.frequency or {}
    return {'name': plan.name, 'target': plan.target, 'kind': frequency.get('kind', 'daily'),
            'times': str(frequency.get('times', 1)), 'day': str(frequency.get('day', 1)),
            'months': str(frequency.get('months', 1)), 'days': str(frequency.get('days', 15)),
            'starts_on': plan.starts_on, 'points': '\n'.join(plan.points or []), 'duty': plan.duty or '',
            'assignee_id': plan.assignee_id, 'photos_required': plan.photos_required,
            'retention_years': plan.retention_years, 'basis': plan.basis or '', 'note': plan.note or '',
            'enabled': plan.enabled}


def _submitted_rows() -> list[dict]:
    columns = {name: request.form.getlist(f'item_{name}') for name in ROW_FIELDS}
    count = min(max(len(values) for values in columns.values()), 200)
    return [{name: (columns[name][i] if i < len(columns[name]) else '') for name in ROW_FIELDS}
            for i in range(count)]


def _submitted_ids(name: str) -> list[int]:
    """The ids ticked; anything that is no id becomes -1, which no row has (the service refuses it)."""
    return sorted({int(v) if v.isdigit() and 0 < int(v) <= MAX_ID else -1 for v in request.form.getlist(name)})


def _render_form(plan: InspectionPlan | None, form: PlanForm, status: int = 200, error=None):
    if request.method == 'POST':
        rows = _submitted_rows()
        weekdays = [int(v) for v in request.form.getlist('weekdays') if v in {'0', '1', '2', '3', '4', '5', '6'}]
        chosen = _submitted_ids('devices')
    else:
        rows = [{name: item.get(name) or '' for name in ROW_FIELDS} for item in (plan.checklist if plan else [])]
        weekdays = list((plan.frequency or {}).get('weekdays', [])) if plan else []
        chosen = [d.id for d in plan.devices] if plan else []
    rows += [dict.fromkeys(ROW_FIELDS, '') for _ in range(max(CHECKLIST_ROWS - len(rows), 2))]
    form.duty.choices = [SelectChoice(d['code'], d['name']) for d in g.tenant.duties]
    staff = plans.staff_for_duties(g.tenant)
    form.assignee_id.choices = [SelectChoice('', _('不指定'))] + [
        SelectChoice(u.id, f"{u.name}（{'、'.join(g.tenant.duty_name(d) for d in u.duties or [])}）") for u in staff]
    return render_template('inspections/plan_form.html', plan=plan, form=form, error=error, rows=rows,
                           kinds=plans.ITEM_KIND_NAMES, weekday_names=WEEKDAY_NAMES, weekdays=set(weekdays),
                           devices=plans.devices_to_choose(chosen), chosen=set(chosen),
                           horizon=HORIZON_DAYS), status


def _first_error(form) -> str:
    for errors in form.errors.values():
        if errors:
            return str(errors[0])
    return _('页面已过期，请重试')


def _plan_input(form: PlanForm) -> plans.PlanInput:
    kind = form.kind.data
    frequency = {'kind': kind}
    if kind == 'daily':
        frequency['times'] = form.times.data
    elif kind == 'weekly':
        frequency['weekdays'] = request.form.getlist('weekdays')  # Frequency.from_json says what is wrong
    elif kind == 'monthly':
        frequency.update(day=form.day.data, months=form.months.data)
    elif kind == 'every_days':
        frequency['days'] = form.days.data
    return plans.PlanInput(
        name=form.name.data, target=form.target.data, frequency=frequency, starts_on=form.starts_on.data,
        checklist=_submitted_rows(), points=form.points.data or '', device_ids=_submitted_ids('devices'),
        duty=form.duty.data or '', assignee_id=form.assignee_id.data, photos_required=form.photos_required.data,
        retention_years=form.retention_years.data, basis=form.basis.data or '', note=form.note.data or '',
        enabled=form.enabled.data)


def _save(plan: InspectionPlan | None):
    form = PlanForm()
    if not form.validate_on_submit():
        return _render_form(plan, form, 422, _first_error(form))
    try:
        saved, created = plans.save_plan(plan, _plan_input(form), g.tenant)
    except DomainError as e:
        db.session.rollback()
        return _render_form(plan, form, 422, e.message)
    db.session.commit()
    if saved.enabled:
        flash(_('已保存巡检计划 %(name)s，新生成 %(n)s 个任务', name=saved.name, n=created))
    else:
        flash(_('已保存巡检计划 %(name)s（已停用：不再生成新任务，已有的待执行任务保留）', name=saved.name))
    return redirect(url_for('inspections.plan', plan_id=saved.id), 303)


@bp.get('/inspections/plans/new', endpoint='new_plan')
@require_admin
def new_plan():
    today = clock.tenant_today(g.tenant)
    return _render_form(None, PlanForm(data={'starts_on': today, 'kind': 'daily', 'enabled': True}))


@bp.post('/inspections/plans/new', endpoint='create_plan')
@require_admin
def create_plan():
    return _save(None)


@bp.get('/inspections/plans/<int:plan_id>/edit', endpoint='edit_plan')
@require_admin
def edit_plan(plan_id):
    plan = get_or_404(InspectionPlan, plan_id)
    return _render_form(plan, PlanForm(data=_form_data(plan)))


@bp.post('/inspections/plans/<int:plan_id>/edit', endpoint='update_plan')
@require_admin
def update_plan(plan_id):
    return _save(get_or_404(InspectionPlan, plan_id))


# --- one plan ---------------------------------------------------------------------------------------------------

@bp.get('/inspections/plans/<int:plan_id>', endpoint='plan')
@require_plan_viewer
def plan_detail(plan_id):
    plan = get_or_404(InspectionPlan, plan_id)
    tasks = plans.recent_tasks(plan)
    people = plans.users_by_id([plan.assignee_id] + [t.assignee_id for t in tasks])
    return render_template('inspections/plan_detail.html', plan=plan, tasks=tasks, people=people,
                           figures=plans.plan_figures(plan), now=clock.now_utc(), targets=TARGET_NAMES,
                           statuses=TASK_STATUS_NAMES, kinds=plans.ITEM_KIND_NAMES, who=plans.who,
                           coverage=plans.coverage, frequency=plans.describe_frequency,
                           is_overdue=plans.is_overdue, local_datetime=local_datetime, rate_days=plans.RATE_DAYS,
                           device_links=_device_links(), task_links=_task_links())


# --- the task list ----------------------------------------------------------------------------------------------

def _int_arg(name: str) -> int | None:
    value = request.args.get(name, type=int)
    return value if value and 0 < value <= MAX_ID else None


@bp.get('/inspections/tasks', endpoint='tasks')
@require_task_viewer
def task_list():
    today = clock.tenant_today(g.tenant)
    status = request.args.get('status')
    error = None
    try:
        day = plans.parse_day(request.args.get('day'), today)
    except DomainError as e:
        day, error = today, e.message
    filters = plans.TaskFilters(day=day, plan_id=_int_arg('plan'), device_id=_int_arg('device'),
                                status=status if status in TASK_STATUSES else None)
    page = max(request.args.get('page', 1, type=int) or 1, 1)
    pagination = db.paginate(plans.tasks_query(current_user, filters, g.tenant), page=page, per_page=PER_PAGE,
                             error_out=False)
    people = plans.users_by_id(t.assignee_id for t in pagination.items)
    devices = db.session.execute(db.select(Device).order_by(Device.code, Device.id)).scalars().all()
    return render_template('inspections/task_list.html', pagination=pagination, filters=filters,
                           args=filters.as_args(), people=people, plans=plans.visible_plans(current_user),
                           devices=devices, statuses=TASK_STATUS_NAMES, now=clock.now_utc(), today=today,
                           is_overdue=plans.is_overdue, who=plans.who, local_datetime=local_datetime,
                           plan_links=current_user.has_duty('technician') or current_user.has_duty('lift_safety'),
                           device_links=_device_links(), task_links=_task_links(), error=error), \
        422 if error else 200


add_nav('inspections.tasks', _l('巡检任务'), ('admin', 'staff'), duties=('technician', 'lift_safety', 'security'),
        after='inspections.plans')
