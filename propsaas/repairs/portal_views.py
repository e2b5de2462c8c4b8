"""The resident's repair pages (我的报修, phone-first): the household's orders, reporting with photos, one order
with its timeline, and confirming (with stars), reopening or cancelling it. Another household's order is 404; the
household is told of each step after the commit (``notify``)."""
from __future__ import annotations

import io

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from ..auth.models import User
from ..auth.sessions import require_role
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from ..tenancy.clock import local_datetime
from . import bp, notify, orders, photos, portal
from .models import CHANNEL_NAMES, STATUS_NAMES, URGENCY_NAMES, WorkOrder
from .portal_forms import PUBLIC_AREA, CancelForm, ConfirmForm, ReopenForm, ResidentReportForm

PER_PAGE = 20
#: a form with 6 photos of 10 MB each (the app's default request limit is 20 MB)
UPLOAD_REQUEST_LIMIT = photos.MAX_PER_KIND * photos.IMAGE_MAX_BYTES + 1024 * 1024
STARS = [(5, _l('5 星 非常满意')), (4, _l('4 星 满意')), (3, _l('3 星 一般')), (2, _l('2 星 不满意')),
         (1, _l('1 星 很不满意'))]


def page_context(**extra) -> dict:
    return {'statuses': STATUS_NAMES, 'urgencies': URGENCY_NAMES, 'channels': CHANNEL_NAMES,
            'actions': orders.ACTION_NAMES, 'place': notify.place,
            'local': lambda value: local_datetime(value, g.tenant), **extra}


def allow_photo_uploads() -> None:
    """Raise this request's size limit for a form carrying up to 6 photos (before the form is parsed)."""
    request.max_content_length = UPLOAD_REQUEST_LIMIT


@bp.get('/my/repairs')
@require_role('resident')
def my_repairs():
    page = max(request.args.get('page', 1, type=int), 1)
    pagination = db.paginate(portal.household_query(current_user), page=page, per_page=PER_PAGE, error_out=False)
    return render_template('repairs/my_repairs.html', pagination=pagination, filters={}, **page_context())


add_nav('repairs.my_repairs', _l('报修'), ('resident',))


def _report_form() -> tuple[ResidentReportForm, list]:
    rooms = portal.rooms_of(current_user)
    form = ResidentReportForm()
    form.room_id.choices = [SelectChoice(room.id, room.label) for room, _resident in rooms] + [
        SelectChoice(PUBLIC_AREA, _('公共区域'))]
    form.category_id.choices = {
        _('户内报修'): [SelectChoice(c.id, c.name) for c in portal.categories('home')],
        _('公共区域报修'): [SelectChoice(c.id, c.name) for c in portal.categories('public')]}
    form.building_id.choices = [SelectChoice(0, _('（选择楼栋）'))] + [
        SelectChoice(b.id, b.name) for b in portal.buildings()]
    return form, rooms


@bp.route('/my/repairs/new', methods=['GET', 'POST'])
@require_role('resident')
def new_repair():
    if request.method == 'POST':
        allow_photo_uploads()
    form, rooms = _report_form()
    status = 200
    if request.method == 'POST':
        status = 422
        if form.validate_on_submit():
            try:
                uploads = photos.read_uploads(form.photos.data)
                room_id = form.room_id.data if form.room_id.data != PUBLIC_AREA else None
                order = portal.report(current_user, room_id=room_id, category_id=form.category_id.data,
                                      description=form.description.data, urgency=form.urgency.data,
                                      preferred_time=form.preferred_time.data, public_area=form.public_area.data,
                                      building_id=form.building_id.data or None, uploads=uploads)
            except DomainError as e:
                db.session.rollback()
                form_error(form, e)
                status = e.status_code
            else:
                db.session.commit()
                order_id, number = order.id, order.number
                notify.tell_since(order)
                flash(_('报修已提交，单号 %(number)s', number=number))
                return redirect(url_for('repairs.my_repair', order_id=order_id))
    return render_template('repairs/my_repair_new.html', form=form, rooms=rooms, **page_context()), status


def form_error(form, error: DomainError) -> None:
    """The message next to its field; one about the order as a whole at the top of the page."""
    field = getattr(form, error.field, None) if error.field else None
    if field is None and error.field == 'room_id':
        field = getattr(form, 'room', None)
    if field is None:
        flash(error.message, 'error')
        return
    field.errors = [*field.errors, error.message]


def _load(order_id: int) -> WorkOrder:
    order = portal.household_order(current_user, order_id)
    if order is None:
        abort(404)  # another household's order: as if it didn't exist
    return order


def _detail(order: WorkOrder, status: int = 200, **forms):
    users = {}
    ids = {e.by_user_id for e in order.events if e.by_user_id} | ({order.assignee_id} if order.assignee_id else set())
    if ids:
        users = {u.id: u for u in db.session.execute(sa.select(User).where(User.id.in_(ids))).scalars()}
    defaults = {'confirm_form': ConfirmForm(prefix='confirm'), 'reopen_form': ReopenForm(prefix='reopen'),
                'cancel_form': CancelForm(prefix='cancel')}
    defaults['confirm_form'].rating.choices = [SelectChoice(v, label) for v, label in STARS]
    defaults.update(forms)
    return render_template('repairs/my_repair.html', order=order, users=users, photos=portal.photos_of(order),
                           **page_context(**defaults)), status


@bp.get('/my/repairs/<int:order_id>')
@require_role('resident', 'admin', 'staff')
def my_repair(order_id):
    if current_user.role != 'resident':
        abort(404)  # staff have the board's order page; a household's page is only the household's
    return _detail(_load(order_id))


def _act(order_id: int, form, form_name: str, action, done_message: str):
    if current_user.role != 'resident':
        abort(404)
    order = _load(order_id)
    if not form.validate_on_submit():
        return _detail(order, 422, **{form_name: form})
    mark = notify.last_event_id(order)
    try:
        action(order, form)
    except DomainError as e:
        db.session.rollback()
        order = _load(order_id)
        field = getattr(form, e.field or '', None)
        if field is not None:
            field.errors = [*field.errors, e.message]
        else:
            flash(e.message, 'error')
        return _detail(order, e.status_code, **{form_name: form})
    db.session.commit()
    notify.tell_since(order, mark)
    flash(done_message)
    return redirect(url_for('repairs.my_repair', order_id=order_id))


@bp.post('/my/repairs/<int:order_id>/confirm')
@require_role('resident', 'admin', 'staff')
def confirm_repair(order_id):
    form = ConfirmForm(prefix='confirm')
    form.rating.choices = [SelectChoice(v, label) for v, label in STARS]
    return _act(order_id, form, 'confirm_form',
                lambda order, f: orders.confirm(order, by_user=current_user, rating=f.rating.data,
                                                comment=f.comment.data),
                _('已确认完成，感谢你的评价'))


@bp.post('/my/repairs/<int:order_id>/reopen')
@require_role('resident', 'admin', 'staff')
def reopen_repair(order_id):
    return _act(order_id, ReopenForm(prefix='reopen'), 'reopen_form',
                lambda order, f: orders.reopen(order, by_user=current_user, reason=f.reason.data),
                _('已要求返修，维修人员会再次上门'))


@bp.post('/my/repairs/<int:order_id>/cancel')
@require_role('resident', 'admin', 'staff')
def cancel_repair(order_id):
    return _act(order_id, CancelForm(prefix='cancel'), 'cancel_form',
                lambda order, f: orders.cancel(order, by_user=current_user, reason=f.reason.data),
                _('报修已取消'))


# --- photos --------------------------------------------------------------------------------------------------------

def _photo_response(photo_id: int, thumb: bool):
    found = photos.photo_for(current_user, photo_id)
    data = photos.read(found, thumb) if found is not None else None
    if data is None:
        abort(404)
    response = send_file(io.BytesIO(data), mimetype='image/jpeg', max_age=0)
    response.headers['X-Content-Type-Options'] = 'nosniff'
    response.headers['Cache-Control'] = 'private, no-cache'
    return response


@bp.get('/repairs/photos/<int:photo_id>')
@require_role('admin', 'staff', 'resident')
def photo(photo_id):
    """The photo, for the project's staff and the reporting household; anyone else 404."""
    return _photo_response(photo_id, False)


@bp.get('/repairs/photos/<int:photo_id>/thumb')
@require_role('admin', 'staff', 'resident')
def photo_thumb(photo_id):
    return _photo_response(photo_id, True)
