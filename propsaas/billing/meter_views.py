"""Meter reading pages (抄表) under /billing/meters: the period view, entering one reading, importing a period's
readings (upload -> preview -> commit) and the shared-utility split (公摊明细) of a fee item for a period.

Who: admins, and staff with the cashier (收费) or technician (工程) duty.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..auth.sessions import require_duty
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from ..money import format_yuan
from ..property.models import Room
from ..property.services import room_by_address
from ..residents.renovations import tenant_today
from . import bp, meter_import, metering
from .meter_forms import METER_CHOICES, MeterImportCommitForm, MeterImportForm, MeterReadingForm
from .models import METERS, FeeItem

PER_PAGE = 50
require_meter_access = require_duty('cashier', 'technician')


def _this_period() -> str:
    today = tenant_today(g.tenant)
    return f'{today.year}-{today.month:02d}'


def _period_arg() -> tuple[str, bool]:
    """(period, valid): the query's period, or this month."""
    raw = (request.args.get('period') or '').strip()[:10]
    if not raw:
        return _this_period(), True
    try:
        return metering.parse_period(raw), True
    except DomainError:
        return _this_period(), False


def _context(**extra) -> dict:
    return {'meter_choices': METER_CHOICES, 'meter_name': metering.meter_name, 'unit_of': metering.unit_of,
            'canonical': metering.canonical, 'yuan': format_yuan, **extra}


@bp.get('/billing/meters')
@require_meter_access
def meters():
    """The period view: master meter, then a page of rooms with previous, current reading and usage."""
    period, valid = _period_arg()
    meter = request.args.get('meter') if request.args.get('meter') in METERS else 'water'
    page = max(request.args.get('page', 1, type=int) or 1, 1)
    query = sa.select(Room).where(Room.active.is_(True), Room.merged_into_id.is_(None)).order_by(Room.code)
    pagination = db.paginate(query, page=page, per_page=PER_PAGE, error_out=False)
    rows = metering.period_rows(meter, period, list(pagination.items))
    shared_items = db.session.execute(sa.select(FeeItem).where(
        FeeItem.charging == 'meter', FeeItem.shared.is_(True), FeeItem.active.is_(True))
        .order_by(FeeItem.sort_order, FeeItem.id)).scalars().all()
    return render_template('billing/meters.html', **_context(
        period=period, period_invalid=not valid, meter=meter, rows=rows, pagination=pagination,
        filters={'period': period, 'meter': meter}, shared_items=shared_items))


add_nav('billing.meters', _l('抄表'), ('admin', 'staff'), duties=('cashier', 'technician'))


@bp.route('/billing/meters/new', methods=['GET', 'POST'])
@require_meter_access
def new_meter_reading():
    form = MeterReadingForm()
    if request.method == 'GET':
        form.period.data = _period_arg()[0]
        form.room.data = (request.args.get('room') or '')[:80]
        if request.args.get('meter') in METERS:
            form.meter.data = request.args['meter']
    if form.validate_on_submit():
        try:
            room = room_by_address(form.room.data or '', field='room')
            reading = metering.record_reading(
                form.meter.data, room.id if room else None, form.period.data, form.reading.data,
                replaced=form.replaced.data, read_on=form.read_on.data, note=form.note.data,
                by_user_id=current_user.id)
        except DomainError as e:
            db.session.rollback()
            field = getattr(form, e.field or 'reading', None) or form.reading
            field.errors = [*field.errors, e.message]
        else:
            db.session.commit()
            where = room.code if room else _('总表')
            flash(_('已保存 %(where)s %(meter)s表 %(period)s 读数 %(reading)s', where=where,
                    meter=metering.meter_name(reading.meter), period=reading.period, reading=reading.reading))
            return redirect(url_for('billing.meters', period=reading.period, meter=reading.meter), 303)
    status = 422 if request.method == 'POST' else 200
    return render_template('billing/meters_form.html', form=form, **_context()), status


@bp.route('/billing/meters/import', methods=['GET', 'POST'])
@require_meter_access
def import_meter_readings():
    """Upload shows the preview at once (nothing is written); the preview's form commits."""
    form = MeterImportForm()
    if request.method == 'GET':
        form.period.data = _this_period()
    if form.validate_on_submit():
        try:
            period = metering.parse_period(form.period.data)
            token = meter_import.store_upload(form.file.data.read(10 * 1024 * 1024 + 1))
            result = meter_import.preview(token, period)
        except DomainError as e:
            db.session.rollback()
            field = form.period if e.field == 'period' else form.file
            field.errors = [*field.errors, e.message]
        else:
            commit_form = MeterImportCommitForm(upload=token, period=period)
            return render_template('billing/meters_import_preview.html', result=result, form=commit_form,
                                   **_context())
    status = 422 if request.method == 'POST' else 200
    return render_template('billing/meters_import.html', form=form, **_context()), status


@bp.post('/billing/meters/import/commit')
@require_meter_access
def commit_meter_import():
    form = MeterImportCommitForm()
    if not form.validate_on_submit():
        flash(_('导入文件已失效，请重新上传'), 'error')
        return redirect(url_for('billing.import_meter_readings'), 303)
    try:
        result = meter_import.commit(form.upload.data, form.period.data, skip_errors=form.skip_errors.data,
                                     by_user_id=current_user.id)
    except DomainError as e:
        db.session.rollback()
        try:
            result = meter_import.preview(form.upload.data, form.period.data)
        except DomainError:
            flash(e.message, 'error')
            return redirect(url_for('billing.import_meter_readings'), 303)
        return render_template('billing/meters_import_preview.html', result=result, form=form, error=e.message,
                               **_context()), 422
    db.session.commit()
    meter_import.discard(form.upload.data)
    flash(_('已导入 %(n)s 条读数（%(period)s），跳过 %(skipped)s 行', n=result.ok_count, period=result.period,
            skipped=result.error_count))
    return redirect(url_for('billing.meters', period=result.period), 303)


@bp.get('/billing/meters/shared')
@require_meter_access
def shared_meters():
    """公摊明细: a shared item's master usage, sub-meter total, shared usage, amount and every room's share."""
    period, valid = _period_arg()
    items = db.session.execute(sa.select(FeeItem).where(FeeItem.charging == 'meter', FeeItem.shared.is_(True))
                               .order_by(FeeItem.sort_order, FeeItem.id)).scalars().all()
    wanted = request.args.get('fee_item', type=int)
    item = next((i for i in items if i.id == wanted), items[0] if items else None)
    result, error = None, None
    if item is not None and valid:
        try:
            result = metering.shared_split(item, metering.rooms_for_item(item), period)
        except DomainError as e:
            error = e.message
    return render_template('billing/meters_shared.html', **_context(
        items=items, item=item, period=period, period_invalid=not valid, result=result, error=error,
        split_names=metering.SPLIT_NAMES))
