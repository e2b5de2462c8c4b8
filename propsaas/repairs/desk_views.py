"""代客报修: the service desk (and admins) log a phone-in or walk-in report on a resident's behalf — a room by its
address (or a public area and its building), the resident (one of the room's), contact, channel, category,
urgency, description and photos — then it is auto-dispatched and the household told."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from ..auth.sessions import require_duty
from ..billing.bills import room_by_text
from ..errors import DomainError
from ..extensions import db
from ..residents.models import Occupancy, Resident
from . import bp, dispatch, notify, orders, photos, portal
from .models import WorkOrder
from .portal_forms import DeskReportForm
from .portal_views import allow_photo_uploads, form_error, page_context


def room_residents(room_id: int | None) -> list[Resident]:
    if room_id is None:
        return []
    return list(db.session.execute(sa.select(Resident).join(Occupancy, Occupancy.resident_id == Resident.id).where(
        Occupancy.room_id == room_id, Occupancy.moved_out_on.is_(None)).order_by(Resident.id)).scalars().unique())


def _form(room) -> DeskReportForm:
    form = DeskReportForm()
    form.category_id.choices = [SelectChoice(c.id, c.name) for c in portal.categories()]
    form.building_id.choices = [SelectChoice(0, _('（选择楼栋）'))] + [
        SelectChoice(b.id, b.name) for b in portal.buildings()]
    form.resident_id.choices = [SelectChoice(0, _('（不指定住户）'))] + [
        SelectChoice(r.id, f'{r.name} {r.mobile or ""}'.strip()) for r in room_residents(room.id if room else None)]
    return form


def log_report(form: DeskReportForm, by_user) -> WorkOrder:
    """Validate the room and resident and submit; raises DomainError. Does not commit."""
    room_text = (form.room.data or '').strip()
    room = room_by_text(room_text) if room_text else None
    if room_text and room is None:
        raise DomainError(_l('没有找到房屋 %(room)s，请按 楼栋-单元-房号 填写，例如 1-2-1201', room=room_text),
                          field='room')
    resident_id = form.resident_id.data or None
    if resident_id is not None and resident_id not in {r.id for r in room_residents(room.id if room else None)}:
        raise DomainError(_l('请从该房屋的住户中选择，或不指定住户'), field='resident_id')
    uploads = photos.read_uploads(form.photos.data)
    order = orders.submit(category_id=form.category_id.data, description=form.description.data, by_user=by_user,
                          room_id=room.id if room else None,
                          public_area=None if room else form.public_area.data,
                          building_id=None if room else (form.building_id.data or None), urgency=form.urgency.data,
                          preferred_time=form.preferred_time.data, channel=form.channel.data,
                          reporter_resident_id=resident_id, contact_name=form.contact_name.data,
                          contact_phone=form.contact_phone.data)
    for data in uploads:
        photos.add_photo(order, data, kind='report', by_user_id=by_user.id)
    dispatch.auto_assign(order)
    return order


def _after_create(order_id: int, number: str):
    """The board's order page when helper S's view exists; else back to a fresh form naming the number."""
    if 'repairs.order_detail' in current_app.view_functions:
        flash(_('已登记报修，单号 %(number)s', number=number))
        return redirect(url_for('repairs.order_detail', order_id=order_id))
    flash(_('已登记报修，单号 %(number)s', number=number))
    return redirect(url_for('repairs.new_order'))


@bp.route('/repairs/new', methods=['GET', 'POST'])
@require_duty('service_desk')
def new_order():
    if request.method == 'POST':
        allow_photo_uploads()
    room = room_by_text(request.form.get('room', '') if request.method == 'POST' else request.args.get('room', ''))
    form = _form(room)
    if request.method == 'GET' and room is not None:
        form.room.data = room.code
    status = 200
    if request.method == 'POST':
        status = 422
        if form.validate_on_submit():
            try:
                order = log_report(form, current_user)
            except DomainError as e:
                db.session.rollback()
                form_error(form, e)
                status = e.status_code
            else:
                db.session.commit()
                order_id, number = order.id, order.number
                notify.tell_since(order)
                return _after_create(order_id, number)
    return render_template('repairs/desk_new.html', form=form, room=room, **page_context()), status
