"""The technician's phone pages: '我的工单' (in progress and assigned first, urgent first, a badge for new ones),
start and complete with a note and parts in yuan; another technician's order refused with a message."""
from __future__ import annotations

from datetime import timedelta

import pytest

from propsaas.repairs.models import WorkOrder
from propsaas.tenancy import clock
from tests.repairs.test_board import NOON, new_order


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    from tests.repairs.estate import build_estate

    return lambda name='报修小区': build_estate(make_tenant, make_user, in_tenant, name)


@pytest.fixture(autouse=True)
def pinned_now(monkeypatch):
    monkeypatch.setattr(clock, 'now_utc', lambda: NOON + timedelta(hours=1))


def test_my_orders_in_order_with_badge(estate, in_tenant, client_for):
    e = estate()
    tech = client_for(e.tenant, e.tech)
    assert '暂时没有派给你的工单' in tech.get('/repairs/mine').text
    first = new_order(in_tenant, e, assign_to=e.tech, description='普通的单')
    new_order(in_tenant, e, assign_to=e.tech, urgency='urgent', description='加急的单')
    new_order(in_tenant, e, assign_to=e.tech2, description='别人的单')
    page = tech.get('/repairs/mine')
    assert page.status_code == 200
    assert '别人的单' not in page.text and page.text.index('加急的单') < page.text.index('普通的单')
    assert '我的工单 <span class="badge">2</span>' in page.text  # two new ones, not started
    tech.post(f'/repairs/{first}/start')
    assert '我的工单 <span class="badge">1</span>' in tech.get('/repairs/mine').text
    assert client_for(e.tenant, e.desk).get('/repairs/mine').status_code == 403


def test_start_and_complete_with_parts(estate, in_tenant, client_for):
    e = estate()
    order_id = new_order(in_tenant, e, assign_to=e.tech)
    tech = client_for(e.tenant, e.tech)
    page = tech.get(f'/repairs/{order_id}')
    assert page.status_code == 200 and '开始维修' in page.text and 'portal' in page.text
    early = tech.post(f'/repairs/{order_id}/complete', data={'note': '好了'})
    assert early.status_code == 409 and '不能完工' in early.text
    assert tech.post(f'/repairs/{order_id}/start').status_code == 303
    bad = tech.post(f'/repairs/{order_id}/complete', data={'note': '换阀门', 'part_name': ['角阀'],
                                                            'part_quantity': ['1'], 'part_cost': ['abc']})
    assert bad.status_code == 422 and '配件金额' in bad.text
    missing = tech.post(f'/repairs/{order_id}/complete', data={'note': ''})
    assert missing.status_code == 422 and '请填写维修情况' in missing.text
    done = tech.post(f'/repairs/{order_id}/complete', data={
        'note': '更换角阀和软管', 'part_name': ['角阀', '软管', ''], 'part_quantity': ['1', '2', ''],
        'part_cost': ['35.50', '12', '']})
    assert done.status_code == 303
    with in_tenant(e.tenant) as session:
        order = session.get(WorkOrder, order_id)
        assert order.status == 'completed' and order.completion_note == '更换角阀和软管'
        assert order.parts == [{'name': '角阀', 'quantity': 1, 'cost_fen': 3550},
                               {'name': '软管', 'quantity': 2, 'cost_fen': 1200}]
    assert '35.50' in client_for(e.tenant, e.desk).get(f'/repairs/{order_id}').text


def test_another_technicians_order_is_refused(estate, in_tenant, client_for):
    e = estate()
    order_id = new_order(in_tenant, e, assign_to=e.tech2)
    tech = client_for(e.tenant, e.tech)
    start = tech.post(f'/repairs/{order_id}/start')
    assert start.status_code == 409 and '派给了其他维修人员' in start.text
    with in_tenant(e.tenant) as session:
        order = session.get(WorkOrder, order_id)
        assert order.status == 'assigned'
    client_for(e.tenant, e.tech2).post(f'/repairs/{order_id}/start')
    complete = tech.post(f'/repairs/{order_id}/complete', data={'note': '不是我的'})
    assert complete.status_code == 409 and '派给了其他维修人员' in complete.text
    assert client_for(e.tenant, e.owner_user).post(f'/repairs/{order_id}/start').status_code in (302, 403)
