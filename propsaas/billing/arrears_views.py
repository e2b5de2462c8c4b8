"""Arrears and dunning pages (欠费催缴) under /billing: the collection list by age, its .xlsx export, reminder holds
(不催缴), the reminder log, the schedule and the project's extra days off / working days.

Who: admins, and staff with the cashier (收费) duty. Mobiles are masked for all but admins (always in the export).
"""
from __future__ import annotations

import io

import sqlalchemy as sa
from flask import flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..auth.models import mask_mobile
from ..auth.sessions import require_duty
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from ..models_base import get_or_404
from ..money import format_yuan
from ..property.models import Building, Room
from ..tenancy.clock import local_datetime, tenant_today
from . import arrears, bp, calendar, dunning
from .dunning_forms import HoldForm, LiftHoldForm, ProjectDayForm, RemoveProjectDayForm, ScheduleForm
from .models import ReminderHold

PER_PAGE = 30
require_cashier = require_duty('cashier')


def _show_mobile(mobile: str) -> str:
    return mobile if current_user.role == 'admin' else mask_mobile(mobile)


@bp.get('/billing/arrears', endpoint='arrears')
@require_cashier
def arrears_list():
    """The collection list: rooms in arrears, largest first, with age buckets; totals per building and project."""
    today = tenant_today(g.tenant)
    building_id = request.args.get('building', type=int)
    page = max(request.args.get('page', 1, type=int) or 1, 1)
    pagination = arrears.room_page(today, building_id=building_id, page=page, per_page=PER_PAGE)
    totals = arrears.project_totals(today, building_id)
    buildings = db.session.execute(sa.select(Building).order_by(Building.sort_order, Building.name)).scalars().all()
    filters = {'building': building_id} if building_id else {}
    holds = {hold.room_id: hold for hold, _room in dunning.active_holds()}
    return render_template('billing/arrears.html', pagination=pagination, totals=totals, today=today,
                           per_building=arrears.building_totals(today) if not building_id else [],
                           buckets=arrears.BUCKETS, buildings=buildings, filters=filters, holds=holds,
                           show_mobile=_show_mobile, yuan=format_yuan, hold_form=HoldForm())


add_nav('billing.arrears', _l('欠费催缴'), ('admin', 'staff'), duties=('cashier',))


@bp.get('/billing/arrears/export')
@require_cashier
def export_arrears():
    """The collection list as .xlsx (mobiles masked, amounts in yuan)."""
    today = tenant_today(g.tenant)
    data = arrears.export_xlsx(today, building_id=request.args.get('building', type=int),
                               project_name=g.tenant.name)
    return send_file(io.BytesIO(data), as_attachment=True, download_name=f'arrears-{today.isoformat()}.xlsx',
                     mimetype='application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')


@bp.post('/billing/rooms/<int:room_id>/hold')
@require_cashier
def hold_room(room_id):
    """不催缴: stop reminders for a room with a reason (required)."""
    return _hold(get_or_404(Room, room_id))


@bp.post('/billing/holds/<int:hold_id>/lift')
@require_cashier
def lift_hold(hold_id):
    hold = get_or_404(ReminderHold, hold_id)
    form = LiftHoldForm()
    if not form.validate_on_submit():
        flash(_('页面已过期，请重试'), 'error')
        return redirect(url_for('billing.reminder_holds'), 303)
    try:
        dunning.lift_hold(hold, by_user_id=current_user.id)
    except DomainError as e:
        db.session.rollback()
        flash(str(e.message), 'error')
        return redirect(url_for('billing.reminder_holds'), 303)
    db.session.commit()
    flash(_('已恢复催缴'))
    return redirect(url_for('billing.reminder_holds'), 303)


@bp.get('/billing/arrears/holds')
@require_cashier
def reminder_holds():
    """Rooms that get no reminders (不催缴), and the form to add one by room address."""
    return _holds_page(HoldForm(), None)


def _holds_page(form, room):
    return render_template('billing/arrears_holds.html', holds=dunning.active_holds(), lift_form=LiftHoldForm(),
                           form=form, room_text=room.code if room else request.form.get('room', ''),
                           local_datetime=local_datetime)


@bp.post('/billing/arrears/holds')
@require_cashier
def add_hold_by_address():
    """The holds page's form: a room typed as '1-2-1201' and a reason."""
    from .bills import room_by_text

    room = room_by_text(request.form.get('room', ''))
    if room is None:
        flash(_('找不到这个房号，请按“楼栋-单元-房号”填写'), 'error')
        return redirect(url_for('billing.reminder_holds'), 303)
    return _hold(room)


def _hold(room: Room):
    form = HoldForm()
    if not form.validate_on_submit():
        return _holds_page(form, room), 422
    try:
        dunning.place_hold(room, form.reason.data, by_user_id=current_user.id)
    except DomainError as e:
        db.session.rollback()
        form.reason.errors = [*form.reason.errors, e.message]
        return _holds_page(form, room), 422
    db.session.commit()
    flash(_('%(room)s 已暂停催缴：%(reason)s', room=room.label, reason=form.reason.data.strip()))
    return redirect(url_for('billing.reminder_holds'), 303)


@bp.get('/billing/reminders')
@require_cashier
def reminders():
    """The reminder log: whom, when due, when sent, outcome and note; latest first, paginated."""
    status = request.args.get('status') if request.args.get('status') in dunning.REMINDER_STATUSES else None
    page = max(request.args.get('page', 1, type=int) or 1, 1)
    pagination = db.paginate(dunning.log_query(status=status), page=page, per_page=PER_PAGE, error_out=False)
    bills, residents = dunning.log_context(pagination.items)
    return render_template('billing/dunning.html', pagination=pagination, bills=bills, residents=residents,
                           statuses=dunning.REMINDER_STATUS_NAMES, filters={'status': status} if status else {},
                           show_mobile=_show_mobile)


@bp.route('/billing/reminders/schedule', methods=['GET', 'POST'])
@require_cashier
def reminder_schedule():
    """The schedule (steps relative to the due date) and the project's own days off / working days."""
    form = ScheduleForm(prefix='schedule')
    day_form = ProjectDayForm(prefix='day')
    status = 200
    if request.method == 'GET':
        form.steps.data = ', '.join(str(step) for step in dunning.schedule(g.tenant))
        db.session.commit()  # the defaults, when they were missing
    elif form.validate_on_submit():
        try:
            steps = dunning.save_schedule(g.tenant, form.steps.data)
        except DomainError as e:
            db.session.rollback()
            form.steps.errors = [*form.steps.errors, e.message]
            status = 422
        else:
            db.session.commit()
            flash(_('催缴计划已保存：%(steps)s', steps=', '.join(map(str, steps))))
            return redirect(url_for('billing.reminder_schedule'), 303)
    else:
        status = 422
    return _schedule_page(form, day_form), status


def _schedule_page(form, day_form):
    today = tenant_today(g.tenant)
    return render_template('billing/dunning_schedule.html', form=form, day_form=day_form,
                           remove_form=RemoveProjectDayForm(prefix='remove'), days=calendar.list_project_days(),
                           covers_this_year=calendar.calendar_covers(today), year=today.year,
                           next_working=calendar.next_working_day(today), today=today)


@bp.post('/billing/reminders/days')
@require_cashier
def add_project_day():
    form = ScheduleForm(prefix='schedule')
    day_form = ProjectDayForm(prefix='day')
    if day_form.validate_on_submit():
        try:
            calendar.add_project_day(day_form.day.data, day_form.working.data, day_form.name.data)
        except DomainError as e:
            db.session.rollback()
            day_form.name.errors = [*day_form.name.errors, e.message]
        else:
            db.session.commit()
            flash(_('已添加 %(day)s', day=day_form.day.data.isoformat()))
            return redirect(url_for('billing.reminder_schedule'), 303)
    form.steps.data = ', '.join(str(step) for step in dunning.schedule(g.tenant))
    return _schedule_page(form, day_form), 422


@bp.post('/billing/reminders/days/remove')
@require_cashier
def remove_project_day():
    form = RemoveProjectDayForm(prefix='remove')
    if form.validate_on_submit():
        try:
            calendar.remove_project_day(form.day.data)
        except DomainError as e:
            db.session.rollback()
            flash(str(e.message), 'error')
        else:
            db.session.commit()
            flash(_('已删除 %(day)s', day=form.day.data.isoformat()))
    else:
        flash(_('请选择要删除的日期'), 'error')
    return redirect(url_for('billing.reminder_schedule'), 303)
