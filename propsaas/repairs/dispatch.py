"""自动派单: which technician a new order goes to.

The rules (``DispatchRule``) name a category and, optionally, a building; the most specific matching rule wins
(category + the order's building over category alone; the newest among equals). Its target is a technician, or a
duty group whose active technicians take orders in turn: the member after the one who got the group's last order
(round-robin; the turn is taken under a row lock, so two orders at once go to two people). A target that cannot take
orders (left, no technician duty) is skipped: the order stays 待派单 for the service desk.
"""
from __future__ import annotations

import sqlalchemy as sa

from ..auth.models import User
from ..extensions import db
from . import orders
from .models import DispatchGroup, DispatchRule, WorkOrder


def matching_rule(order: WorkOrder) -> DispatchRule | None:
    rules = db.session.execute(sa.select(DispatchRule).where(
        DispatchRule.category_id == order.category_id,
        sa.or_(DispatchRule.building_id.is_(None), DispatchRule.building_id == order.building_id))
        .order_by(DispatchRule.building_id.is_(None), DispatchRule.id.desc())).scalars().first()
    return rules


def _can_repair(user: User | None) -> bool:
    return user is not None and user.active and user.role in ('admin', 'staff') and user.has_duty('technician')


def next_in_group(group: DispatchGroup) -> User | None:
    """The group's next technician in turn (and the turn advanced), or None when nobody in it can take orders."""
    db.session.execute(sa.select(DispatchGroup.id).where(DispatchGroup.id == group.id).with_for_update())
    db.session.refresh(group)
    members = [int(m) for m in group.member_ids or []]
    if not members or not group.active:
        return None
    users = {u.id: u for u in db.session.execute(sa.select(User).where(User.id.in_(members))).scalars()}
    start = members.index(group.last_assigned_id) + 1 if group.last_assigned_id in members else 0
    for offset in range(len(members)):
        candidate = users.get(members[(start + offset) % len(members)])
        if _can_repair(candidate):
            group.last_assigned_id = candidate.id
            return candidate
    return None


def auto_assign(order: WorkOrder) -> User | None:
    """Dispatch a submitted order by the rules (by the clock: no user). Returns the technician, or None when no
    rule matches or its target cannot take orders. Does not commit."""
    if order.status != 'submitted':
        return None
    rule = matching_rule(order)
    if rule is None:
        return None
    if rule.group_id is not None:
        group = db.session.get(DispatchGroup, rule.group_id)
        technician = next_in_group(group) if group is not None else None
    else:
        technician = db.session.get(User, rule.assignee_id)
        technician = technician if _can_repair(technician) else None
    if technician is None:
        return None
    orders.assign(order, technician.id, by_user=orders.CLOCK, group_id=rule.group_id, note='自动派单')
    return technician
