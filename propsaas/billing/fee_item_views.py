"""Fee item (收费项目) and billing rule (计费规则) pages, and the price check (价格查询): admin and cashiers (收费)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import selectinload

from ..auth.sessions import require_duty
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from ..models_base import get_or_404
from ..money import format_yuan, parse_yuan
from ..property.models import Building
from ..property.services import property_settings
from ..residents.renovations import tenant_today
from . import bp, rule_admin
from . import fee_items as services
from .fee_item_forms import FeeItemForm, RuleForm, room_type_choices
from .models import (
    APPLIES_TO_NAMES,
    CHARGING_NAMES,
    CYCLE_NAMES,
    LATE_FEE,
    METER_NAMES,
    RULE_SCOPE_NAMES,
    BillingRule,
    FeeItem,
)

PER_PAGE = 50


def _names(**extra) -> dict:
    charging_names = {**CHARGING_NAMES, LATE_FEE: _l('滞纳金（自动计算）')}
    return {'charging_names': charging_names, 'cycle_names': CYCLE_NAMES, 'applies_names': APPLIES_TO_NAMES,
            'meter_names': METER_NAMES, 'scope_names': RULE_SCOPE_NAMES, 'split_names': services.SPLIT_NAMES,
            'yuan': format_yuan, 'room_types': dict(property_settings(g.tenant).room_types), **extra}


def _field_error(form, error: DomainError) -> None:
    """Show the error next to its field, or at the top of the page when it is about the record as a whole."""
    field = getattr(form, error.field, None) if error.field else None
    if field is None:
        flash(error.message, 'error')
    else:
        field.errors = [*field.errors, error.message]


def _item_values(form: FeeItemForm) -> dict:
    amount = (form.amount.data or '').strip()
    return {'name': form.name.data, 'charging': form.charging.data, 'rate': (form.rate.data or '').strip() or None,
            'amount_fen': parse_yuan(amount, field='amount') if amount else None, 'cycle': form.cycle.data,
            'recurring': form.recurring.data, 'applies_to': form.applies_to.data, 'meter': form.meter.data or None,
            'shared': form.shared.data, 'split_by': form.split_by.data or None, 'note': form.note.data}


@bp.get('/billing/fee-items')
@require_duty('cashier')
def fee_items():
    """收费项目: every item with how it is charged; inactive ones last in their place, marked."""
    page = max(request.args.get('page', 1, type=int), 1)
    pagination = db.paginate(services.list_query(), page=page, per_page=PER_PAGE, error_out=False)
    return render_template('billing/fee_items.html', pagination=pagination, filters={}, **_names())


add_nav('billing.fee_items', _l('收费项目'), ('admin', 'staff'), duties=('cashier',))


@bp.route('/billing/fee-items/new', methods=['GET', 'POST'])
@require_duty('cashier')
def new_fee_item():
    form = FeeItemForm()
    if form.validate_on_submit():
        try:
            item = services.create_fee_item(code=form.code.data, **_item_values(form))
        except DomainError as e:
            db.session.rollback()
            _field_error(form, e)
        else:
            db.session.commit()
            flash(_('已添加收费项目“%(name)s”', name=item.name))
            return redirect(url_for('billing.fee_item', fee_item_id=item.id))
    status = 422 if request.method == 'POST' else 200
    return render_template('billing/fee_items_form.html', form=form, item=None, **_names()), status


def _rule_form(prefix: str = 'rule') -> RuleForm:
    form = RuleForm(prefix=prefix)
    form.room_type.choices = room_type_choices(property_settings(g.tenant))
    buildings = db.session.execute(sa.select(Building).order_by(Building.sort_order, Building.name)
                                   .options(selectinload(Building.units))).scalars().all()
    form.building_id.choices = [(b.id, b.name) for b in buildings]
    form.unit_id.choices = [(u.id, b.name + u.name) for b in buildings for u in b.units]
    return form


def _detail(item: FeeItem, status: int = 200, *, form: FeeItemForm | None = None, rule_form: RuleForm | None = None):
    if form is None:
        form = FeeItemForm(obj=item)
        form.amount.data = format_yuan(item.amount_fen) if item.amount_fen is not None else ''
        form.meter.data, form.split_by.data = item.meter or '', item.split_by or ''
    rules = rule_admin.rules_of(item)
    return render_template('billing/fee_items_detail.html', item=item, form=form, rule_form=rule_form or _rule_form(),
                           rules=rules, targets=rule_admin.rule_targets(rules), **_names()), status


@bp.route('/billing/fee-items/<int:fee_item_id>', methods=['GET', 'POST'])
@require_duty('cashier')
def fee_item(fee_item_id):
    """One item: edit it, and its rules by scope and month with a form to add one."""
    item = get_or_404(FeeItem, fee_item_id)
    if request.method == 'GET':
        return _detail(item)
    form = FeeItemForm()
    if not form.validate_on_submit():
        return _detail(item, 422, form=form)
    try:
        services.update_fee_item(item, active=form.active.data, **_item_values(form))
    except DomainError as e:
        db.session.rollback()
        _field_error(form, e)
        return _detail(get_or_404(FeeItem, fee_item_id), e.status_code, form=form)
    db.session.commit()
    flash(_('已保存'))
    return redirect(url_for('billing.fee_item', fee_item_id=fee_item_id))


@bp.post('/billing/fee-items/<int:fee_item_id>/delete')
@require_duty('cashier')
def delete_fee_item(fee_item_id):
    item = get_or_404(FeeItem, fee_item_id)
    try:
        services.delete_fee_item(item)
    except DomainError as e:
        db.session.rollback()
        flash(e.message, 'error')
        return _detail(get_or_404(FeeItem, fee_item_id), e.status_code)
    db.session.commit()
    flash(_('已删除收费项目'))
    return redirect(url_for('billing.fee_items'))


@bp.post('/billing/fee-items/<int:fee_item_id>/rules')
@require_duty('cashier')
def add_rule(fee_item_id):
    item = get_or_404(FeeItem, fee_item_id)
    form = _rule_form()
    if not form.validate_on_submit():
        return _detail(item, 422, rule_form=form)
    try:
        rule_admin.add_rule(item, scope=form.scope.data, effective_month=form.effective_from.data,
                            rate=form.rate.data, amount=form.amount.data, exempt=form.exempt.data,
                            note=form.note.data, room_type=form.room_type.data, building_id=form.building_id.data,
                            unit_id=form.unit_id.data, room=(form.room.data or '')[:80], by=current_user)
    except DomainError as e:
        db.session.rollback()
        _field_error(form, e)
        return _detail(get_or_404(FeeItem, fee_item_id), e.status_code, rule_form=form)
    db.session.commit()
    flash(_('已添加计费规则'))
    return redirect(url_for('billing.fee_item', fee_item_id=fee_item_id))


@bp.post('/billing/rules/<int:rule_id>/delete')
@require_duty('cashier')
def delete_rule(rule_id):
    rule = get_or_404(BillingRule, rule_id)
    fee_item_id = rule.fee_item_id
    try:
        rule_admin.delete_rule(rule)
    except DomainError as e:
        db.session.rollback()
        flash(e.message, 'error')
        return _detail(get_or_404(FeeItem, fee_item_id), e.status_code)
    db.session.commit()
    flash(_('已删除计费规则'))
    return redirect(url_for('billing.fee_item', fee_item_id=fee_item_id))


@bp.get('/billing/price-check')
@require_duty('cashier')
def price_check():
    """价格查询: a room and a month -> each item's price and the rule that decided it ("why this rate")."""
    room_text = (request.args.get('room') or '').strip()[:80]
    period = (request.args.get('period') or '').strip()[:7]
    room, lines, errors = None, None, {}
    if room_text and not period:
        period = tenant_today(g.tenant).strftime('%Y-%m')
    if room_text or period:
        room = rule_admin.find_room(room_text) if room_text else None
        if room is None:
            errors['room'] = str(rule_admin.ROOM_NOT_FOUND)
        try:
            rule_admin.parse_period(period)
        except DomainError as e:
            errors['period'] = str(e.message)
        if not errors:
            lines = rule_admin.price_check(room, period)
    return render_template('billing/fee_items_price_check.html', room_text=room_text, period=period, room=room,
                           lines=lines, errors=errors, **_names()), 422 if errors else 200

