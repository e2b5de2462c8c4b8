"""自动派单: the most specific rule wins; a duty group takes orders in turn; a target that cannot repair is skipped."""
from __future__ import annotations

import pytest

from propsaas.auth.models import User
from propsaas.repairs import dispatch
from propsaas.repairs.models import DispatchGroup, DispatchRule
from tests.repairs.estate import build_estate
from tests.repairs.test_orders import report


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    return lambda name='派单小区': build_estate(make_tenant, make_user, in_tenant, name)


def test_round_robin_in_a_group_and_the_building_rule_first(estate, in_tenant):
    e = estate()
    with in_tenant(e.tenant) as session:
        group = DispatchGroup(name='水电组', member_ids=[e.tech, e.tech2])
        session.add(group)
        session.flush()
        session.add_all([DispatchRule(category_id=e.categories['plumbing'], group_id=group.id),
                         DispatchRule(category_id=e.categories['plumbing'], building_id=e.buildings['2'],
                                      assignee_id=e.tech2)])
        session.flush()
        got = []
        for _ in range(3):
            order = report(session, e)
            dispatch.auto_assign(order)
            got.append((order.status, order.assignee_id, order.group_id))
        assert got == [('assigned', e.tech, group.id), ('assigned', e.tech2, group.id), ('assigned', e.tech, group.id)]
        # 2栋's rule names 王师傅 directly (2-1-101 has no resident: the desk reports it)
        from propsaas.repairs import orders

        other = orders.submit(category_id=e.categories['plumbing'], description='水管漏水',
                              room_id=e.rooms['2-1-101'], channel='phone', by_user=session.get(User, e.desk))
        assert dispatch.auto_assign(other).id == e.tech2 and other.group_id is None
        # a technician who left is skipped; with nobody able, the order waits for the desk
        session.get(User, e.tech).active = False
        order = report(session, e)
        assert dispatch.auto_assign(order).id == e.tech2
        session.get(User, e.tech2).active = False
        order = report(session, e)
        assert dispatch.auto_assign(order) is None and order.status == 'submitted'
        unmatched = report(session, e, category_id=e.categories['electrical'])
        assert dispatch.auto_assign(unmatched) is None
