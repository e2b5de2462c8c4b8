"""派单设置 (admins): categories, duty groups and auto-dispatch rules on one page, with a form each."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..auth.sessions import require_role
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from ..models_base import get_or_404
from ..property.models import Building
from . import board, bp, dispatch_admin
from .models import DispatchGroup, DispatchRule, RepairCategory
from .staff_forms import AREA_NAMES, ActionForm, CategoryForm, CategoryUpdateForm, GroupForm, RuleForm

require_admin = require_role('admin')
MEMBER_SLOTS = 6


def _page(status: int = 200, error=None, **forms):
    groups = dispatch_admin.groups()
    technicians = board.technicians()
    member_ids = {m for group in groups for m in group.member_ids or []}
    rules = dispatch_admin.rules()
    people = board.users_by_id(member_ids | {r.assignee_id for r in rules})
    buildings = db.session.execute(db.select(Building).order_by(Building.sort_order, Building.name)).scalars().all()
    return render_template(
        'repairs/settings.html', categories=dispatch_admin.categories(), groups=groups, rules=rules,
        technicians=technicians, people=people, buildings=buildings, areas=AREA_NAMES, slots=MEMBER_SLOTS,
        groups_by_id={g.id: g for g in groups}, error=error,
        category_form=forms.get('category_form') or CategoryForm(), update_form=CategoryUpdateForm(),
        group_form=forms.get('group_form') or GroupForm(), rule_form=forms.get('rule_form') or RuleForm(),
        action_form=ActionForm()), status


def _done(message):
    db.session.commit()
    flash(message)
    return redirect(url_for('repairs.settings'), 303)


def _failed(message, **forms):
    db.session.rollback()
    return _page(422, error=message, **forms)


def _first_error(form) -> str:
    for errors in form.errors.values():
        if errors:
            return str(errors[0])
    return _('页面已过期，请重试')


@bp.get('/repairs/settings', endpoint='settings')
@require_admin
def settings():
    return _page()


add_nav('repairs.settings', _l('派单设置'), ('admin',), after='repairs.board')


@bp.post('/repairs/categories')
@require_admin
def add_category():
    form = CategoryForm()
    if not form.validate_on_submit():
        return _failed(_first_error(form), category_form=form)
    try:
        category = dispatch_admin.add_category(form.code.data, form.name.data, form.area.data)
    except DomainError as e:
        return _failed(e.message, category_form=form)
    return _done(_('已添加分类 %(name)s', name=category.name))


@bp.post('/repairs/categories/<int:category_id>')
@require_admin
def update_category(category_id):
    category = get_or_404(RepairCategory, category_id)
    form = CategoryUpdateForm()
    if not form.validate_on_submit():
        return _failed(_first_error(form))
    try:
        dispatch_admin.update_category(category, name=form.name.data, active=form.active.data)
    except DomainError as e:
        return _failed(e.message)
    return _done(_('已保存分类 %(name)s', name=category.name))


@bp.post('/repairs/groups')
@require_admin
def add_group():
    form = GroupForm()
    if not form.validate_on_submit():
        return _failed(_first_error(form), group_form=form)
    try:
        group = dispatch_admin.save_group(None, name=form.name.data, active=form.active.data,
                                          member_ids=[m for m in request.form.getlist('members') if m])
    except DomainError as e:
        return _failed(e.message, group_form=form)
    return _done(_('已添加班组 %(name)s', name=group.name))


@bp.post('/repairs/groups/<int:group_id>')
@require_admin
def update_group(group_id):
    group = get_or_404(DispatchGroup, group_id)
    form = GroupForm()
    if not form.validate_on_submit():
        return _failed(_first_error(form))
    try:
        dispatch_admin.save_group(group, name=form.name.data, active=form.active.data,
                                  member_ids=[m for m in request.form.getlist('members') if m])
    except DomainError as e:
        return _failed(e.message)
    return _done(_('已保存班组 %(name)s', name=group.name))


@bp.post('/repairs/groups/<int:group_id>/delete')
@require_admin
def remove_group(group_id):
    group = get_or_404(DispatchGroup, group_id)
    if not ActionForm().validate_on_submit():
        return _failed(_('页面已过期，请重试'))
    name = group.name
    dispatch_admin.remove_group(group)
    return _done(_('已删除班组 %(name)s 及其派单规则', name=name))


@bp.post('/repairs/rules')
@require_admin
def add_rule():
    form = RuleForm()
    if not form.validate_on_submit():
        return _failed(_first_error(form), rule_form=form)
    try:
        dispatch_admin.add_rule(category_id=form.category_id.data, building_id=form.building_id.data,
                                target=form.target.data)
    except DomainError as e:
        return _failed(e.message, rule_form=form)
    return _done(_('已添加派单规则'))


@bp.post('/repairs/rules/<int:rule_id>/delete')
@require_admin
def remove_rule(rule_id):
    rule = get_or_404(DispatchRule, rule_id)
    if not ActionForm().validate_on_submit():
        return _failed(_('页面已过期，请重试'))
    dispatch_admin.remove_rule(rule)
    return _done(_('已删除派单规则'))
