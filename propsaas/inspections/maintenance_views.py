"""Maintenance records on the device page (维保记录) and the spare-parts stock (备品备件) under /equipment/parts.

Who: like the ledger — admins and staff with the technician or lift-safety duty may look; admins and technicians
record maintenance and change the stock. A bad form answers 422 with the message and saves nothing.
"""
from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from ..models_base import get_or_404
from ..money import parse_yuan
from ..tenancy.clock import local_datetime
from . import bp, devices, maintenance
from .device_forms import ActionForm
from .device_views import _device_page, require_editor, require_ledger
from .models import SparePart

#: the part rows a maintenance form offers
PART_ROWS = 5
REASON_NAMES = {'received': _l('入库'), 'maintenance': _l('维保使用'), 'work_order': _l('工单使用'),
                'count': _l('盘点')}


def _int(value, field: str, what) -> int | None:
    value = (value or '').strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise DomainError(_l('%(what)s请填写整数', what=what), field=field) from None


def _day(value, field: str) -> date | None:
    value = (value or '').strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DomainError(_l('日期格式应为 2026-01-31'), field=field) from None


def _part_rows(form) -> list[dict]:
    names, stock_ids = form.getlist('part_name'), form.getlist('part_stock_id')
    quantities, costs = form.getlist('part_quantity'), form.getlist('part_cost')
    rows = []
    count = max(len(names), len(stock_ids), len(quantities), len(costs))
    padded = [list(values) + [''] * (count - len(values)) for values in (names, stock_ids, quantities, costs)]
    for name, stock_id, quantity, cost in zip(*padded, strict=True):
        if not (name.strip() or stock_id.strip() or quantity.strip() or cost.strip()):
            continue
        rows.append({'name': name, 'spare_part_id': _int(stock_id, 'parts', _l('库存配件')),
                     'quantity': _int(quantity, 'parts', _l('数量')) or 1,
                     'cost_fen': parse_yuan(cost, field='parts') if cost.strip() else 0})
    return rows


@bp.post('/equipment/<int:device_id>/maintenance', endpoint='add_maintenance')
@require_editor
def add_maintenance(device_id):
    """添加维保记录: date, contractor, work done, parts (from the stock or not), next due date."""
    device = devices.load_device(device_id)
    if not ActionForm().validate_on_submit():
        return _device_page(device, 400, _('页面已过期，请刷新后重新提交'))
    try:
        record = maintenance.add_record(
            device, done_on=_day(request.form.get('done_on'), 'done_on'), work_done=request.form.get('work_done'),
            contractor=request.form.get('contractor'), parts=maintenance.read_parts(_part_rows(request.form)),
            next_due_on=_day(request.form.get('next_due_on'), 'next_due_on'), by_user=current_user)
    except DomainError as e:
        db.session.rollback()
        return _device_page(devices.load_device(device_id), 422, e.message)
    db.session.commit()
    flash(_('已添加 %(day)s 的维保记录', day=record.done_on.isoformat()))
    return redirect(url_for('inspections.device', device_id=device_id) + '#maintenance', 303)


# --- the stock ----------------------------------------------------------------------------------------------------

def _parts_page(status: int = 200, error=None):
    return render_template('inspections/parts_list.html', parts=maintenance.parts_in_stock(), error=error,
                           form=ActionForm(), values=request.form if error else {}), status


@bp.get('/equipment/parts', endpoint='parts')
@require_ledger
def parts_list():
    """备品备件: every part with its stock, flagged low (at or below its minimum) or negative (count it)."""
    return _parts_page()


add_nav('inspections.parts', _l('备品备件'), ('admin', 'staff'), duties=('technician', 'lift_safety'),
        after='inspections.devices')


@bp.post('/equipment/parts', endpoint='add_part')
@require_editor
def add_part():
    if not ActionForm().validate_on_submit():
        return _parts_page(400, _('页面已过期，请刷新后重新提交'))
    try:
        part = maintenance.save_part(None, name=request.form.get('name'), unit=request.form.get('unit'),
                                     min_stock=_int(request.form.get('min_stock'), 'min_stock', _l('最低库存')) or 0,
                                     stock=_int(request.form.get('stock'), 'stock', _l('库存')),
                                     note=request.form.get('note'))
    except DomainError as e:
        db.session.rollback()
        return _parts_page(422, e.message)
    db.session.commit()
    flash(_('已添加配件 %(name)s', name=part.name))
    return redirect(url_for('inspections.part', part_id=part.id), 303)


def _part_page(part: SparePart, status: int = 200, error=None):
    return render_template('inspections/part_detail.html', part=part, movements=maintenance.movements(part),
                           reasons=REASON_NAMES, error=error, form=ActionForm(), local_datetime=local_datetime), status


@bp.get('/equipment/parts/<int:part_id>', endpoint='part')
@require_ledger
def part_page(part_id):
    """One part: its stock, its last 50 movements (入库, 维保使用, 工单使用, 盘点), receive, count, edit."""
    return _part_page(get_or_404(SparePart, part_id))


def _part_step(part_id: int, step, done):
    part = get_or_404(SparePart, part_id)
    if not ActionForm().validate_on_submit():
        return _part_page(part, 400, _('页面已过期，请刷新后重新提交'))
    try:
        step(part)
    except DomainError as e:
        db.session.rollback()
        return _part_page(get_or_404(SparePart, part_id), 422, e.message)
    db.session.commit()
    flash(done(part))
    return redirect(url_for('inspections.part', part_id=part_id), 303)


@bp.post('/equipment/parts/<int:part_id>/receive', endpoint='receive_part')
@require_editor
def receive_part(part_id):
    """入库: more in stock."""
    return _part_step(part_id, lambda part: maintenance.receive(
        part, _int(request.form.get('quantity'), 'quantity', _l('数量')), by_user=current_user,
        note=request.form.get('note')), lambda part: _('已入库，现有 %(n)s%(unit)s', n=part.stock, unit=part.unit))


@bp.post('/equipment/parts/<int:part_id>/count', endpoint='count_part')
@require_editor
def count_part(part_id):
    """盘点: the stock is what was counted."""
    return _part_step(part_id, lambda part: maintenance.count(
        part, _int(request.form.get('actual'), 'actual', _l('盘点数量')), by_user=current_user,
        note=request.form.get('note')), lambda part: _('已盘点，现有 %(n)s%(unit)s', n=part.stock, unit=part.unit))


@bp.post('/equipment/parts/<int:part_id>/edit', endpoint='update_part')
@require_editor
def update_part(part_id):
    """The part's name, unit, minimum and note (the stock changes by 入库 and 盘点 only)."""
    return _part_step(part_id, lambda part: maintenance.save_part(
        part, name=request.form.get('name'), unit=request.form.get('unit'),
        min_stock=_int(request.form.get('min_stock'), 'min_stock', _l('最低库存')) or 0,
        note=request.form.get('note')), lambda part: _('已保存配件 %(name)s', name=part.name))
