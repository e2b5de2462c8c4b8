"""The service desk's repair pages (desktop): the board (待派单, 已派单, 维修中, 待确认, overdue flagged, filters), one
order with its history and the desk's forms (派单/改派, 取消, 代住户确认, 加入回访), and the return-visit list (回访).

Who: admins and staff with the service desk duty; a technician may open the orders assigned to them (the phone
pages link there); any other order is 404 for them.
"""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from ..auth.sessions import require_duty, require_staff
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from ..models_base import get_or_404, utcnow
from ..money import format_yuan
from ..property.models import Building
from ..tenancy import clock
from ..tenancy.clock import local_datetime
from . import board, bp, dispatch_admin, notify, orders, photos
from .models import CHANNEL_NAMES, STATUS_NAMES, URGENCY_NAMES, ReturnVisit
from .staff_forms import ActionForm, AddVisitForm, AssignForm, CancelForm, CompleteForm, ConfirmForm, VisitForm

PER_PAGE = 30
require_desk = require_duty('service_desk')


def tell_resident(order, since: int) -> None:
    """After the commit: tell the reporting household (and the new assignee) about the order's steps newer than
    event ``since``."""
    notify.tell_since(order, since)


def place(order) -> str:
    if order.room is not None:
        return order.room.label
    return ((order.building.name + ' ') if order.building else '') + (order.public_area or '')


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, type=int)
    return value if value and 0 < value < 2**31 else None


def _filters() -> board.BoardFilters:
    status = request.args.get('status')
    urgency = request.args.get('urgency')
    return board.BoardFilters(status=status if status in board.BOARD_STATUSES else None,
                              category_id=_int_arg('category'), building_id=_int_arg('building'),
                              urgency=urgency if urgency in ('normal', 'urgent') else None,
                              assignee_id=_int_arg('technician'), overdue=request.args.get('overdue') == '1')


def page_context(**extra) -> dict:
    return {'statuses': STATUS_NAMES, 'urgencies': URGENCY_NAMES, 'channels': CHANNEL_NAMES, 'place': place,
            'local_datetime': local_datetime, 'yuan': format_yuan, **extra}


@bp.get('/repairs', endpoint='board')
@require_desk
def board_page():
    """The board: a tab per column with its count, overdue ones flagged, filters, paginated."""
    now = clock.now_utc()
    filters = _filters()
    page = max(request.args.get('page', 1, type=int) or 1, 1)
    pagination = db.paginate(board.board_query(filters, now), page=page, per_page=PER_PAGE, error_out=False)
    people = board.users_by_id(o.assignee_id for o in pagination.items)
    buildings = db.session.execute(db.select(Building).order_by(Building.sort_order, Building.name)).scalars().all()
    return render_template('repairs/board.html', **page_context(
        pagination=pagination, filters=filters, args=filters.as_args(), counts=board.status_counts(now),
        columns=board.BOARD_STATUSES, people=people, now=now, is_overdue=board.is_overdue,
        categories=dispatch_admin.categories(), buildings=buildings, technicians=board.technicians()))


add_nav('repairs.board', _l('报修工单'), ('admin', 'staff'), duties=('service_desk',), badge=board.escalated_badge)


def _may_open(order) -> bool:
    return current_user.has_duty('service_desk') or order.assignee_id == current_user.id


def render_detail(order, status: int = 200, **forms):
    """The order page, for the desk (every form) or its technician (start / complete)."""
    people = board.people_of(order)
    desk = current_user.has_duty('service_desk')
    assign_form = forms.get('assign_form') or AssignForm()
    techs = board.technicians()
    assign_form.assignee_id.choices = [SelectChoice(t.id, t.name) for t in techs]
    if order.assignee_id and request.method == 'GET':
        assign_form.assignee_id.data = order.assignee_id
    visit = board.return_visit_of(order.id)
    return render_template('repairs/order_detail.html', **page_context(
        order=order, people=people, desk=desk, now=clock.now_utc(), is_overdue=board.is_overdue, visit=visit,
        mine=order.assignee_id == current_user.id, assign_form=assign_form,
        cancel_form=forms.get('cancel_form') or CancelForm(), confirm_form=forms.get('confirm_form') or ConfirmForm(),
        visit_form=forms.get('visit_form') or AddVisitForm(), action_form=ActionForm(),
        complete_form=forms.get('complete_form') or CompleteForm(), parts=forms.get('parts') or [],
        actions=orders.ACTION_NAMES, error=forms.get('error'))), status


@bp.get('/repairs/<int:order_id>', endpoint='order_detail')
@require_staff
def order_detail(order_id):
    """Everything about one order: place, reporter, deadlines, photos, the technician's report, the history."""
    order = board.order_for_detail(order_id)
    if not _may_open(order):
        abort(404)
    return render_detail(order)


def _desk_order(order_id):
    if not current_user.has_duty('service_desk'):
        abort(403)
    return orders.load(order_id)


def _refused(order, message, *, conflict: bool = False, **forms):
    db.session.rollback()
    order = board.order_for_detail(order.id)
    if not _may_open(order):  # another technician's order: the refusal only, not the order
        raise orders.IllegalTransition(message) if conflict else DomainError(message)
    return render_detail(order, 409 if conflict else 422, error=message, **forms)


def _step(order, step, done, **forms):
    """Take one step of ``order`` (``step(order)``), commit, tell the resident (and the assignee), flash ``done()``
    and show the order again; a refusal shows the order with its message (409 for a step its state does not allow,
    else 422)."""
    since = notify.last_event_id(order)
    try:
        step(order)
    except DomainError as e:
        return _refused(order, e.message, conflict=isinstance(e, orders.IllegalTransition), **forms)
    db.session.commit()
    tell_resident(order, since)
    flash(done())
    return redirect(url_for('repairs.order_detail', order_id=order.id), 303)


@bp.post('/repairs/<int:order_id>/assign')
@require_staff
def assign_order(order_id):
    """派单 / 改派 to a technician of the project."""
    order = _desk_order(order_id)
    form = AssignForm()
    form.assignee_id.choices = [SelectChoice(t.id, t.name) for t in board.technicians()]
    if not form.validate_on_submit():
        return _refused(order, _('请选择一位维修人员'), assign_form=form)

    def assigned():
        technician = board.users_by_id([order.assignee_id]).get(order.assignee_id)
        return _('已派给 %(name)s', name=technician.name if technician else '')

    return _step(order, lambda o: orders.assign(o, form.assignee_id.data, by_user=current_user,
                                                note=form.note.data or None), assigned, assign_form=form)


@bp.post('/repairs/<int:order_id>/cancel')
@require_staff
def cancel_order(order_id):
    order = _desk_order(order_id)
    form = CancelForm()
    if not form.validate_on_submit():
        return _refused(order, _('请填写取消原因'), cancel_form=form)
    return _step(order, lambda o: orders.cancel(o, by_user=current_user, reason=form.reason.data),
                 lambda: _('工单已取消'), cancel_form=form)


@bp.post('/repairs/<int:order_id>/confirm')
@require_staff
def confirm_order(order_id):
    """确认完成 on the resident's behalf (they said so on the phone), with their rating."""
    order = _desk_order(order_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _refused(order, _('请给出 1 到 5 星的评价'), confirm_form=form)
    return _step(order, lambda o: orders.confirm(o, by_user=current_user, rating=form.rating.data,
                                                 comment=form.comment.data or None),
                 lambda: _('已代住户确认完成'), confirm_form=form)


@bp.post('/repairs/<int:order_id>/return-visit')
@require_staff
def add_return_visit(order_id):
    """Put a confirmed order on the return-visit list by hand."""
    order = _desk_order(order_id)
    form = AddVisitForm()
    if not form.validate_on_submit():
        return _refused(order, _('请填写回访原因'), visit_form=form)
    if order.status != 'confirmed':
        return _refused(order, _('只有已完成的工单可以加入回访'), visit_form=form, conflict=True)
    if board.return_visit_of(order.id) is not None:
        return _refused(order, _('这张工单已在回访列表中'), visit_form=form, conflict=True)
    db.session.add(ReturnVisit(order_id=order.id, reason=form.reason.data.strip()))
    db.session.commit()
    flash(_('已加入回访列表'))
    return redirect(url_for('repairs.order_detail', order_id=order.id), 303)


# --- return visits ----------------------------------------------------------------------------------------------

@bp.get('/repairs/return-visits', endpoint='return_visits')
@require_desk
def return_visits():
    """回访: open ones first (order, rating, comment, contact), then the visited ones with their outcome."""
    page = max(request.args.get('page', 1, type=int) or 1, 1)
    pagination = db.paginate(board.return_visits_query(), page=page, per_page=PER_PAGE, error_out=False)
    people = board.users_by_id(v.visited_by_id for v in pagination.items)
    return render_template('repairs/return_visits.html', **page_context(
        pagination=pagination, people=people, form=VisitForm(), filters={}))


add_nav('repairs.return_visits', _l('回访'), ('admin', 'staff'), duties=('service_desk',), after='repairs.board')


@bp.post('/repairs/return-visits/<int:visit_id>')
@require_desk
def record_visit(visit_id):
    """Record the visit's outcome and whether the resident is satisfied (once)."""
    visit = get_or_404(ReturnVisit, visit_id)
    form = VisitForm()
    if visit.visited_at is not None:
        flash(_('这次回访已记录'), 'error')
        return redirect(url_for('repairs.return_visits'), 303)
    if not form.validate_on_submit():
        flash(_('请填写回访结果（最多 500 字）'), 'error')
        return redirect(url_for('repairs.return_visits'), 303)
    visit.outcome, visit.resolved = form.outcome.data.strip(), bool(form.resolved.data)
    visit.visited_at, visit.visited_by_id = utcnow(), current_user.id
    db.session.commit()
    flash(_('已记录回访结果'))
    return redirect(url_for('repairs.return_visits'), 303)


# --- the technician's steps (their phone pages post here) ------------------------------------------------------

def _tech_order(order_id):
    order = orders.load(order_id)
    if not (_may_open(order) or current_user.has_duty('technician')):
        abort(404)
    return order


@bp.post('/repairs/<int:order_id>/start')
@require_staff
def start_order(order_id):
    """开始维修 (the assignee, or an admin)."""
    order = _tech_order(order_id)
    return _step(order, lambda o: orders.start(o, by_user=current_user), lambda: _('已开始维修'))


def parse_parts(form) -> list[dict]:
    """The part rows (part_name / part_quantity / part_cost in yuan) as the service wants them; blank rows
    skipped; raises DomainError for a bad quantity or amount."""
    from ..money import parse_yuan

    names, quantities, costs = form.getlist('part_name'), form.getlist('part_quantity'), form.getlist('part_cost')
    if len(names) > orders.MAX_PARTS:
        raise DomainError(_l('配件最多 %(n)s 项', n=orders.MAX_PARTS), field='parts')
    parts = []
    for i, name in enumerate(names):
        quantity = (quantities[i] if i < len(quantities) else '').strip()
        cost = (costs[i] if i < len(costs) else '').strip()
        if not name.strip() and not quantity and not cost:
            continue
        try:
            amount = int(quantity or '1')
        except ValueError:
            raise DomainError(_l('配件数量须为 1 到 10000 的整数'), field='parts') from None
        try:
            cost_fen = parse_yuan(cost or '0')
        except (DomainError, ValueError, ArithmeticError):
            raise DomainError(_l('配件金额请填写元，例如 35 或 35.50'), field='parts') from None
        parts.append({'name': name.strip(), 'quantity': amount, 'cost_fen': cost_fen})
    return parts


@bp.post('/repairs/<int:order_id>/complete')
@require_staff
def complete_order(order_id):
    """完工: the note, the parts used (rows in yuan) and, when the photo module is there, after-photos."""
    order = _tech_order(order_id)
    form = CompleteForm()
    rows = list(zip(request.form.getlist('part_name'), request.form.getlist('part_quantity'),
                    request.form.getlist('part_cost'), strict=False))[:orders.MAX_PARTS]
    if not form.validate_on_submit():
        return _refused(order, _('请填写维修情况（最多 2000 字）'), complete_form=form, parts=rows)
    try:
        parts = parse_parts(request.form)
        uploads = photos.read_uploads(request.files.getlist('photos'))
        since = notify.last_event_id(order)
        orders.complete(order, by_user=current_user, note=form.note.data, parts=parts)
        for data in uploads:
            photos.add_photo(order, data, kind='after', by_user_id=current_user.id)
    except DomainError as e:
        return _refused(order, e.message, complete_form=form, parts=rows,
                        conflict=isinstance(e, orders.IllegalTransition))
    db.session.commit()
    tell_resident(order, since)
    flash(_('已完工，等待住户确认'))
    return redirect(url_for('repairs.my_orders'), 303)

