"""Renovation registration pages (装修备案): the staff list, a resident's own list, filing, detail and actions."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from ..auth.models import mask_mobile
from ..auth.sessions import require_role, require_staff
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from ..models_base import get_or_404
from ..property.models import Building
from . import bp
from . import renovations as services
from .models import Renovation, Resident
from .renovation_forms import (
    CompleteForm,
    DepositForm,
    ResidentRenovationForm,
    ReviewForm,
    StaffRenovationForm,
    VisitForm,
)

PER_PAGE = 20
STATUS_LABELS = {'pending': _l('待审核'), 'approved': _l('装修中'), 'rejected': _l('已驳回'),
                 'completed': _l('已完工'), 'cancelled': _l('已撤销')}
DEPOSIT_LABELS = {'none': _l('无押金'), 'held': _l('已收取'), 'refunded': _l('已退还'), 'withheld': _l('已扣留')}


def _page_context(**extra) -> dict:
    return {'status_labels': STATUS_LABELS, 'deposit_labels': DEPOSIT_LABELS, 'yuan': services.format_yuan,
            'local': lambda value: services.local_datetime(value, g.tenant),
            'today': services.tenant_today(g.tenant), **extra}


def _form_error(form, error: DomainError, default: str) -> None:
    """Show the error next to its field; one about the record as a whole (its state) at the top of the page."""
    if error.field is None and default not in ('room', 'room_id'):
        flash(error.message, 'error')
        return
    field = getattr(form, error.field or default, None) or getattr(form, default)
    field.errors = [*field.errors, error.message]


# --- lists -----------------------------------------------------------------------------------------------------

@bp.get('/renovations')
@require_staff
def renovations():
    """All renovations of the project, filterable by status, overdue, building and room."""
    today = services.tenant_today(g.tenant)
    status = request.args.get('status') or None
    status = status if status in services.STATUSES else None
    overdue = request.args.get('overdue') == '1'
    building_id = request.args.get('building', type=int)
    room_text = (request.args.get('room') or '').strip()[:80]
    room_id, room_missing = None, False
    if room_text:
        room = services.find_room(room_text)
        room_id, room_missing = (room.id, False) if room else (None, True)
    query = services.list_query(user=current_user, today=today, status=status, overdue=overdue,
                                building_id=building_id, room_id=room_id)
    if room_missing:
        query = query.where(sa.false())
    page = max(request.args.get('page', 1, type=int), 1)
    pagination = db.paginate(query, page=page, per_page=PER_PAGE, error_out=False)
    buildings = db.session.execute(sa.select(Building).order_by(Building.sort_order, Building.name)).scalars().all()
    filters = {k: v for k, v in (('status', status), ('overdue', '1' if overdue else None),
                                 ('building', building_id), ('room', room_text or None)) if v}
    return render_template('renovations/list.html', **_page_context(
        pagination=pagination, filters=filters, buildings=buildings, room_missing=room_missing,
        can_file=services.can_review(current_user)))


add_nav('residents.renovations', _l('装修'), ('admin', 'staff'))


@bp.get('/renovations/mine')
@require_role('resident')
def my_renovations():
    """我的装修: the resident's own records, newest first."""
    query = services.list_query(user=current_user, today=services.tenant_today(g.tenant))
    page = max(request.args.get('page', 1, type=int), 1)
    pagination = db.paginate(query, page=page, per_page=PER_PAGE, error_out=False)
    return render_template('renovations/mine.html', **_page_context(pagination=pagination))


add_nav('residents.my_renovations', _l('装修申请'), ('resident',))


# --- filing ------------------------------------------------------------------------------------------------------

@bp.route('/renovations/new', methods=['GET', 'POST'])
@require_role('admin', 'staff', 'resident')
def file_renovation():
    """Staff (admin, service desk) file for any room by its address; a resident for one of their rooms."""
    if current_user.role == 'resident':
        return _file_as_resident()
    if not services.can_review(current_user):
        abort(403)
    form = StaffRenovationForm()
    if request.method == 'GET':
        form.deposit.data = services.format_yuan(services.default_deposit_fen(g.tenant))
        form.room.data = (request.args.get('room') or '')[:80]
    if form.validate_on_submit():
        try:
            room = services.room_for_filing(current_user, room_text=form.room.data)
            renovation = services.file_renovation(
                by=current_user, tenant=g.tenant, room=room, contractor=form.contractor.data,
                manager_name=form.manager_name.data, manager_phone=form.manager_phone.data,
                planned_start=form.planned_start.data, planned_end=form.planned_end.data, scope=form.scope.data,
                deposit_fen=services.parse_yuan(form.deposit.data))
        except DomainError as e:
            db.session.rollback()
            _form_error(form, e, 'room')
        else:
            db.session.commit()
            flash(_('已登记 %(room)s 的装修备案，待审核', room=room.label))
            return redirect(url_for('residents.renovation_detail', renovation_id=renovation.id))
    status = 422 if request.method == 'POST' else 200
    return render_template('renovations/form.html', form=form, **_page_context()), status


def _file_as_resident():
    rooms = services.rooms_of_user(current_user)
    form = ResidentRenovationForm()
    form.room_id.choices = [SelectChoice(room.id, room.label) for room in rooms]
    if request.method == 'POST' and rooms and form.validate_on_submit():
        try:
            if form.room_id.data is None:
                raise DomainError(_l('只能为你自己居住的房屋申请装修，请从列表中选择'), field='room_id')
            room = services.room_for_filing(current_user, room_id=form.room_id.data)
            renovation = services.file_renovation(
                by=current_user, tenant=g.tenant, room=room, contractor=form.contractor.data,
                manager_name=form.manager_name.data, manager_phone=form.manager_phone.data,
                planned_start=form.planned_start.data, planned_end=form.planned_end.data, scope=form.scope.data)
        except DomainError as e:
            db.session.rollback()
            _form_error(form, e, 'room_id')
        else:
            db.session.commit()
            flash(_('装修申请已提交，物业审核后会在这里显示结果'))
            return redirect(url_for('residents.renovation_detail', renovation_id=renovation.id))
    elif request.method == 'POST' and not rooms:
        form.room_id.errors = [_('你的账号还没有关联到房屋，请联系物业服务中心登记')]
    status = 422 if request.method == 'POST' else 200
    deposit = services.format_yuan(services.default_deposit_fen(g.tenant))
    return render_template('renovations/form_resident.html', form=form, rooms=rooms, deposit=deposit,
                           **_page_context()), status


# --- one record --------------------------------------------------------------------------------------------------

def _load(renovation_id: int) -> Renovation:
    renovation = get_or_404(Renovation, renovation_id)
    if not services.can_view(current_user, renovation):
        abort(404)  # another household's record: as if it didn't exist
    return renovation


def _detail(renovation: Renovation, status: int = 200, **forms):
    people = services.load_users([renovation.filed_by_id, renovation.reviewed_by_id,
                                  *(v.by_user_id for v in renovation.visits)])
    defaults = {'review_form': ReviewForm(prefix='review'), 'complete_form': CompleteForm(prefix='complete'),
                'visit_form': VisitForm(prefix='visit'), 'deposit_form': DepositForm(prefix='deposit')}
    defaults.update(forms)
    resident = None
    if renovation.resident_id is not None:
        resident = db.session.execute(sa.select(Resident).where(Resident.id == renovation.resident_id)).scalar_one()
    return render_template('renovations/detail.html', renovation=renovation, people=people, resident=resident,
                           mask_mobile=mask_mobile,
                           can_review=services.can_review(current_user),
                           can_settle=services.can_settle_deposit(current_user), **defaults,
                           **_page_context()), status


@bp.get('/renovations/<int:renovation_id>')
@require_role('admin', 'staff', 'resident')
def renovation_detail(renovation_id):
    return _detail(_load(renovation_id))


def _act(renovation_id: int, form, action, done_message, form_name: str, default_field: str):
    """Validate ``form``, run ``action(renovation, form)``, commit once, or show the detail with the error."""
    renovation = _load(renovation_id)
    if not form.validate_on_submit():
        return _detail(renovation, 422, **{form_name: form})
    try:
        action(renovation, form)
    except DomainError as e:
        db.session.rollback()
        renovation = _load(renovation_id)
        _form_error(form, e, default_field)
        return _detail(renovation, e.status_code, **{form_name: form})
    db.session.commit()
    flash(done_message)
    return redirect(url_for('residents.renovation_detail', renovation_id=renovation_id))


def _deposit_fen(text):
    return services.parse_yuan(text) if (text or '').strip() else None


@bp.post('/renovations/<int:renovation_id>/approve')
@require_staff
def approve_renovation(renovation_id):
    return _act(renovation_id, ReviewForm(prefix='review'),
                lambda r, f: services.approve(r, by=current_user, comment=f.comment.data,
                                              deposit_fen=_deposit_fen(f.deposit.data)),
                _('已批准，房屋状态改为“装修中”'), 'review_form', 'comment')


@bp.post('/renovations/<int:renovation_id>/reject')
@require_staff
def reject_renovation(renovation_id):
    return _act(renovation_id, ReviewForm(prefix='review'),
                lambda r, f: services.reject(r, by=current_user, comment=f.comment.data),
                _('已驳回'), 'review_form', 'comment')


@bp.post('/renovations/<int:renovation_id>/cancel')
@require_role('admin', 'staff', 'resident')
def cancel_renovation(renovation_id):
    renovation = _load(renovation_id)
    try:
        services.cancel(renovation, by=current_user)
    except DomainError as e:
        db.session.rollback()
        flash(e.message, 'error')
        return _detail(_load(renovation_id), e.status_code)
    db.session.commit()
    flash(_('已撤销这条装修申请'))
    return redirect(url_for('residents.renovation_detail', renovation_id=renovation_id))


@bp.post('/renovations/<int:renovation_id>/complete')
@require_staff
def complete_renovation(renovation_id):
    return _act(renovation_id, CompleteForm(prefix='complete'),
                lambda r, f: services.complete(r, by=current_user, tenant=g.tenant, completed_on=f.completed_on.data),
                _('已登记完工，房屋状态已恢复'), 'complete_form', 'completed_on')


@bp.post('/renovations/<int:renovation_id>/visits')
@require_staff
def add_renovation_visit(renovation_id):
    return _act(renovation_id, VisitForm(prefix='visit'),
                lambda r, f: services.add_visit(r, by=current_user, note=f.note.data),
                _('已记录巡查'), 'visit_form', 'note')


@bp.post('/renovations/<int:renovation_id>/deposit/refund')
@require_staff
def refund_renovation_deposit(renovation_id):
    return _act(renovation_id, DepositForm(prefix='deposit'),
                lambda r, f: services.refund_deposit(r, by=current_user, note=f.reason.data),
                _('押金已标记为退还'), 'deposit_form', 'reason')


@bp.post('/renovations/<int:renovation_id>/deposit/withhold')
@require_staff
def withhold_renovation_deposit(renovation_id):
    return _act(renovation_id, DepositForm(prefix='deposit'),
                lambda r, f: services.withhold_deposit(r, by=current_user, reason=f.reason.data),
                _('押金已标记为扣留'), 'deposit_form', 'reason')
