"""The service desk's board and order page: columns with counts, overdue flags, filters, a constant number of
statements, assignment, cancelling, confirming on the resident's behalf, return visits; roles and refusals."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from propsaas.auth.models import User
from propsaas.repairs import orders
from propsaas.repairs.models import ReturnVisit, WorkOrder
from propsaas.tenancy import clock
from tests.helpers import count_queries
from tests.repairs.estate import build_estate

NOON = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    return lambda name='报修小区': build_estate(make_tenant, make_user, in_tenant, name)


@pytest.fixture(autouse=True)
def pinned_now(monkeypatch):
    monkeypatch.setattr(clock, 'now_utc', lambda: NOON + timedelta(hours=1))


def new_order(in_tenant, e, *, urgency='normal', code='1-1-101', category='plumbing', now=NOON, assign_to=None,
              description='卫生间漏水') -> int:
    with in_tenant(e.tenant) as session:
        order = orders.submit(category_id=e.categories[category], description=description, room_id=e.rooms[code],
                              urgency=urgency, now=now, reporter_resident_id=e.residents[code], channel='phone',
                              by_user=session.get(User, e.desk))
        if assign_to:
            orders.assign(order, assign_to, by_user=session.get(User, e.desk), now=now)
        return order.id


def test_board_columns_flags_and_filters(estate, in_tenant, client_for):
    e = estate()
    client = client_for(e.tenant, e.desk)
    assert '没有符合条件的工单' in client.get('/repairs').text
    late = new_order(in_tenant, e, urgency='urgent', now=NOON - timedelta(hours=5), description='水管爆了')
    fresh = new_order(in_tenant, e, code='1-1-102', description='窗户关不上', category='doors_windows')
    taken = new_order(in_tenant, e, assign_to=e.tech, description='马桶堵塞')
    page = client.get('/repairs')
    assert page.status_code == 200
    text = page.text
    assert '水管爆了' in text and '窗户关不上' in text and '马桶堵塞' in text
    assert text.index('水管爆了') < text.index('窗户关不上')  # urgent first
    assert text.count('已超时') == 1
    only_late = client.get('/repairs?overdue=1').text
    assert '水管爆了' in only_late and '窗户关不上' not in only_late
    mine = client.get(f'/repairs?technician={e.tech}').text
    assert '马桶堵塞' in mine and '水管爆了' not in mine
    assigned = client.get('/repairs?status=assigned').text
    assert '马桶堵塞' in assigned and '窗户关不上' not in assigned
    by_category = client.get(f'/repairs?category={e.categories["doors_windows"]}').text
    assert '窗户关不上' in by_category and '马桶堵塞' not in by_category
    assert client.get('/repairs?urgency=urgent&building=x&page=-3&category=99999999999999').status_code == 200
    assert late and fresh and taken


@pytest.mark.parametrize('role', ['technician', 'resident', 'cashier'])
def test_board_refused_to_others(estate, in_tenant, client_for, make_user, role):
    e = estate()
    user_id = {'technician': e.tech, 'resident': e.owner_user}.get(role) or make_user(e.tenant, 'staff',
                                                                                       duties=['cashier'])
    response = client_for(e.tenant, user_id).get('/repairs')
    assert response.status_code in (302, 403)


def test_board_runs_a_constant_number_of_statements(app, estate, in_tenant, client_for):
    e = estate()
    client = client_for(e.tenant, e.desk)

    def statements_for(n):
        with in_tenant(e.tenant) as session:
            have = session.execute(sa.select(sa.func.count()).select_from(WorkOrder)).scalar()
        for i in range(have, n):
            new_order(in_tenant, e, code=('1-1-101', '1-1-102')[i % 2], assign_to=(None, e.tech, e.tech2)[i % 3])
        client.get('/repairs')
        with count_queries(app) as statements:
            assert client.get('/repairs').status_code == 200
        return len(statements)

    assert statements_for(5) == statements_for(40)


def test_assign_reassign_and_the_history(estate, in_tenant, client_for):
    e = estate()
    order_id = new_order(in_tenant, e)
    client = client_for(e.tenant, e.desk)
    page = client.get(f'/repairs/{order_id}')
    assert page.status_code == 200 and '李师傅' in page.text and '派单' in page.text
    response = client.post(f'/repairs/{order_id}/assign', data={'assignee_id': e.tech, 'note': '尽快'})
    assert response.status_code == 303
    response = client.post(f'/repairs/{order_id}/assign', data={'assignee_id': e.tech2})
    assert response.status_code == 303
    with in_tenant(e.tenant) as session:
        order = session.get(WorkOrder, order_id)
        assert (order.status, order.assignee_id) == ('assigned', e.tech2)
        assert [ev.action for ev in order.events] == ['submitted', 'assigned', 'reassigned']
    text = client.get(f'/repairs/{order_id}').text
    assert '改派' in text and '王师傅' in text
    # a resident, the desk itself or nobody is not a technician
    refused = client.post(f'/repairs/{order_id}/assign', data={'assignee_id': e.desk})
    assert refused.status_code == 422 and '请选择一位维修人员' in refused.text
    assert client.post(f'/repairs/{order_id}/assign', data={'assignee_id': 'abc'}).status_code == 422
    assert client.post(f'/repairs/{order_id}/assign', data={}, csrf=False).status_code == 400


def test_cancel_confirm_and_return_visits(estate, in_tenant, client_for):
    e = estate()
    desk = client_for(e.tenant, e.desk)
    cancelled = new_order(in_tenant, e)
    refused = desk.post(f'/repairs/{cancelled}/cancel', data={'reason': ''})
    assert refused.status_code == 422 and '请填写取消原因' in refused.text
    assert desk.post(f'/repairs/{cancelled}/cancel', data={'reason': '住户自行修好'}).status_code == 303
    again = desk.post(f'/repairs/{cancelled}/cancel', data={'reason': '再取消'})
    assert again.status_code == 409 and '已取消' in again.text

    done = new_order(in_tenant, e, assign_to=e.tech)
    with in_tenant(e.tenant) as session:
        order = session.get(WorkOrder, done)
        tech = session.get(User, e.tech)
        orders.start(order, by_user=tech)
        orders.complete(order, by_user=tech, note='换了阀门')
    assert desk.post(f'/repairs/{done}/confirm', data={'rating': '9'}).status_code == 422
    assert desk.post(f'/repairs/{done}/confirm', data={'rating': '2', 'comment': '等太久'}).status_code == 303
    with in_tenant(e.tenant) as session:
        order = session.get(WorkOrder, done)
        assert (order.status, order.rating, order.events[-1].by_user_id) == ('confirmed', 2, e.desk)
        visit_id = session.execute(sa.select(ReturnVisit.id).where(ReturnVisit.order_id == done)).scalar_one()
    visits = desk.get('/repairs/return-visits').text
    assert '等太久' in visits and '张业主' in visits
    assert desk.post(f'/repairs/return-visits/{visit_id}', data={'outcome': ''}).status_code == 303
    with in_tenant(e.tenant) as session:
        assert session.get(ReturnVisit, visit_id).visited_at is None
    assert desk.post(f'/repairs/return-visits/{visit_id}', data={'outcome': '已上门道歉', 'resolved': 'y'}) \
        .status_code == 303
    with in_tenant(e.tenant) as session:
        visit = session.get(ReturnVisit, visit_id)
        assert (visit.outcome, visit.resolved, visit.visited_by_id) == ('已上门道歉', True, e.desk)
    assert '已上门道歉' in desk.get('/repairs/return-visits').text

    # by hand: a confirmed order with a good rating
    good = new_order(in_tenant, e, assign_to=e.tech)
    with in_tenant(e.tenant) as session:
        order = session.get(WorkOrder, good)
        tech = session.get(User, e.tech)
        orders.start(order, by_user=tech)
        orders.complete(order, by_user=tech, note='好了')
        orders.confirm(order, by_user=session.get(User, e.owner_user), rating=5)
    assert desk.post(f'/repairs/{good}/return-visit', data={'reason': '抽查回访'}).status_code == 303
    twice = desk.post(f'/repairs/{good}/return-visit', data={'reason': '抽查回访'})
    assert twice.status_code == 409 and '已在回访列表' in twice.text
    open_order = new_order(in_tenant, e)
    assert desk.post(f'/repairs/{open_order}/return-visit', data={'reason': '抽查'}).status_code == 409


def test_technician_cannot_use_the_desk_forms(estate, in_tenant, client_for):
    e = estate()
    order_id = new_order(in_tenant, e, assign_to=e.tech)
    tech = client_for(e.tenant, e.tech)
    assert tech.post(f'/repairs/{order_id}/assign', data={'assignee_id': e.tech2}).status_code == 403
    assert tech.post(f'/repairs/{order_id}/cancel', data={'reason': 'x'}).status_code == 403
    other = new_order(in_tenant, e, assign_to=e.tech2)
    assert client_for(e.tenant, e.tech).get(f'/repairs/{other}').status_code == 404
    assert client_for(e.tenant, e.owner_user).get(f'/repairs/{order_id}').status_code in (302, 403)


def test_another_projects_order_is_not_found(estate, in_tenant, client_for):
    a, b = estate('甲小区'), estate('乙小区')
    order_id = new_order(in_tenant, a)
    desk_b = client_for(b.tenant, b.desk)
    assert desk_b.get(f'/repairs/{order_id}').status_code == 404
    assert desk_b.post(f'/repairs/{order_id}/assign', data={'assignee_id': b.tech}).status_code == 404
