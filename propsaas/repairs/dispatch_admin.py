"""派单设置 (admins): the project's repair categories, duty groups (维修班组: technicians taking orders in turn) and
auto-dispatch rules (category, optional building → a technician or a group). Services raise DomainError naming the
field; they never commit.
"""
from __future__ import annotations

import re

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..auth.models import User
from ..errors import DomainError
from ..extensions import db
from ..property.models import Building
from .models import AREAS, DispatchGroup, DispatchRule, RepairCategory, WorkOrder

CODE_RE = re.compile(r'^[a-z][a-z0-9_]{0,39}$')
MAX_MEMBERS = 20


def _name(value, limit: int, field: str, message) -> str:
    value = value.strip() if isinstance(value, str) else ''
    if not value:
        raise DomainError(message, field=field)
    if len(value) > limit:
        raise DomainError(_l('名称最多 %(limit)s 字', limit=limit), field=field)
    return value


# --- categories ---------------------------------------------------------------------------------------------------

def categories() -> list[RepairCategory]:
    return list(db.session.execute(sa.select(RepairCategory).order_by(
        RepairCategory.sort_order, RepairCategory.id)).scalars())


def add_category(code, name, area: str = 'both') -> RepairCategory:
    """A new category; ``code`` (lower-case letters, digits, _) is unique in the project."""
    code = code.strip() if isinstance(code, str) else ''
    if not CODE_RE.match(code):
        raise DomainError(_l('代码须以小写字母开头，只含小写字母、数字和下划线，最多 40 个字符'), field='code')
    name = _name(name, 40, 'name', _l('请填写分类名称'))
    if area not in AREAS:
        raise DomainError(_l('请选择适用范围'), field='area')
    if db.session.execute(sa.select(RepairCategory.id).where(RepairCategory.code == code)).first():
        raise DomainError(_l('代码 %(code)s 已被使用', code=code), field='code')
    if db.session.execute(sa.select(RepairCategory.id).where(RepairCategory.name == name)).first():
        raise DomainError(_l('已有名为 %(name)s 的分类', name=name), field='name')
    last = db.session.execute(sa.select(sa.func.max(RepairCategory.sort_order))).scalar() or 0
    category = RepairCategory(code=code, name=name, area=area, active=True, sort_order=last + 1)
    db.session.add(category)
    db.session.flush()
    return category


def update_category(category: RepairCategory, *, name, active: bool) -> RepairCategory:
    """Rename, or (de)activate: an inactive category cannot be chosen for new reports; its orders stay."""
    name = _name(name, 40, 'name', _l('请填写分类名称'))
    clash = db.session.execute(sa.select(RepairCategory.id).where(
        RepairCategory.name == name, RepairCategory.id != category.id)).first()
    if clash:
        raise DomainError(_l('已有名为 %(name)s 的分类', name=name), field='name')
    category.name, category.active = name, bool(active)
    db.session.flush()
    return category


# --- duty groups --------------------------------------------------------------------------------------------------

def groups() -> list[DispatchGroup]:
    return list(db.session.execute(sa.select(DispatchGroup).order_by(DispatchGroup.name, DispatchGroup.id)).scalars())


def _members(member_ids) -> list[int]:
    """Distinct technicians in the given order; raises for anyone who is not an active technician of the project."""
    ids: list[int] = []
    for value in member_ids or []:
        try:
            member = int(value)
        except (TypeError, ValueError):
            raise DomainError(_l('请从列表中选择维修人员'), field='members') from None
        if member not in ids:
            ids.append(member)
    if not ids:
        raise DomainError(_l('班组至少要有一位维修人员'), field='members')
    if len(ids) > MAX_MEMBERS:
        raise DomainError(_l('班组最多 %(n)s 人', n=MAX_MEMBERS), field='members')
    users = {u.id: u for u in db.session.execute(sa.select(User).where(User.id.in_(ids))).scalars()}
    for member in ids:
        user = users.get(member)
        if user is None or not user.active or user.role != 'staff' or 'technician' not in (user.duties or []):
            raise DomainError(_l('班组成员须为在职的维修人员'), field='members')
    return ids


def save_group(group: DispatchGroup | None, *, name, member_ids, active: bool = True) -> DispatchGroup:
    """Create (``group`` None) or change a duty group: a unique name and its technicians in turn order."""
    name = _name(name, 40, 'name', _l('请填写班组名称'))
    clash = sa.select(DispatchGroup.id).where(DispatchGroup.name == name)
    if group is not None:
        clash = clash.where(DispatchGroup.id != group.id)
    if db.session.execute(clash).first():
        raise DomainError(_l('已有名为 %(name)s 的班组', name=name), field='name')
    members = _members(member_ids)
    if group is None:
        group = DispatchGroup(name=name, member_ids=members, active=bool(active))
        db.session.add(group)
    else:
        group.name, group.member_ids, group.active = name, members, bool(active)
        if group.last_assigned_id not in members:
            group.last_assigned_id = None
    db.session.flush()
    return group


def remove_group(group: DispatchGroup) -> None:
    """Remove a group with its rules; orders dispatched through it keep their technician."""
    db.session.execute(sa.delete(DispatchRule).where(DispatchRule.group_id == group.id)
                       .execution_options(synchronize_session=False))
    db.session.execute(sa.update(WorkOrder).where(WorkOrder.group_id == group.id).values(group_id=None)
                       .execution_options(synchronize_session=False))
    db.session.delete(group)
    db.session.flush()


# --- rules --------------------------------------------------------------------------------------------------------

def rules() -> list[DispatchRule]:
    return list(db.session.execute(sa.select(DispatchRule).order_by(
        DispatchRule.category_id, DispatchRule.building_id.is_(None), DispatchRule.id)).scalars())


def add_rule(*, category_id, building_id=None, target) -> DispatchRule:
    """A rule: orders of ``category_id`` (in ``building_id``, or anywhere when None) go to ``target``, 'u:<user id>'
    (a technician) or 'g:<group id>' (a duty group). One rule per category and building."""
    category = db.session.get(RepairCategory, category_id) if isinstance(category_id, int) else None
    if category is None:
        raise DomainError(_l('请选择报修分类'), field='category_id')
    if building_id is not None and (not isinstance(building_id, int) or db.session.get(Building, building_id) is None):
        raise DomainError(_l('没有这个楼栋'), field='building_id')
    kind, _sep, raw = (target or '').partition(':') if isinstance(target, str) else ('', '', '')
    try:
        target_id = int(raw)
    except ValueError:
        target_id = None
    assignee_id = group_id = None
    if kind == 'u' and target_id is not None:
        user = db.session.get(User, target_id)
        if user is None or not user.active or user.role != 'staff' or 'technician' not in (user.duties or []):
            raise DomainError(_l('请选择一位维修人员或班组'), field='target')
        assignee_id = user.id
    elif kind == 'g' and target_id is not None:
        if db.session.get(DispatchGroup, target_id) is None:
            raise DomainError(_l('请选择一位维修人员或班组'), field='target')
        group_id = target_id
    else:
        raise DomainError(_l('请选择一位维修人员或班组'), field='target')
    same = sa.select(DispatchRule.id).where(DispatchRule.category_id == category.id,
                                            DispatchRule.building_id.is_(None) if building_id is None
                                            else DispatchRule.building_id == building_id)
    if db.session.execute(same).first():
        raise DomainError(_l('这个分类和楼栋已有派单规则，请先删除原规则'), field='category_id')
    rule = DispatchRule(category_id=category.id, building_id=building_id, assignee_id=assignee_id,
                        group_id=group_id)
    db.session.add(rule)
    db.session.flush()
    return rule


def remove_rule(rule: DispatchRule) -> None:
    db.session.delete(rule)
    db.session.flush()
