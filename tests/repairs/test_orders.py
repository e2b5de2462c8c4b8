"""The work-order state machine: every transition and every refused one, numbers under concurrent submissions,
deadlines from the delivery template, auto-confirmation by a frozen clock."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from propsaas.auth.models import User
from propsaas.errors import DomainError
from propsaas.repairs import orders
from propsaas.repairs.models import ReturnVisit, WorkOrder, WorkOrderEvent
from tests.repairs.estate import build_estate

NOON = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai, a Wednesday


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    return lambda name='报修小区': build_estate(make_tenant, make_user, in_tenant, name)


def user(session, user_id) -> User:
    return session.get(User, user_id)


def report(session, e, *, urgency='normal', now=NOON, code='1-1-101', by=None, **kwargs) -> WorkOrder:
    kwargs.setdefault('category_id', e.categories['plumbing'])
    kwargs.setdefault('description', '卫生间漏水')
    return orders.submit(room_id=e.rooms[code], urgency=urgency, now=now,
                         reporter_resident_id=e.residents[code], by_user=user(session, by or e.owner_user), **kwargs)


def test_the_whole_way_with_every_step_recorded(estate, in_tenant):
    e = estate()
    with in_tenant(e.tenant) as session:
        order = report(session, e)
        assert order.number == 'BX-20261125-0001' and order.status == 'submitted'
        assert (order.contact_name, order.contact_phone) == ('张业主', '13900000001')
        orders.assign(order, e.tech, by_user=user(session, e.desk), now=NOON + timedelta(minutes=5))
        orders.start(order, by_user=user(session, e.tech), now=NOON + timedelta(minutes=30))
        orders.complete(order, by_user=user(session, e.tech), note='更换角阀', now=NOON + timedelta(hours=2),
                        parts=[{'name': '角阀', 'quantity': 1, 'cost_fen': 3500}])
        orders.reopen(order, by_user=user(session, e.owner_user), reason='还在渗水', now=NOON + timedelta(hours=3))
        assert (order.status, order.assignee_id, order.reopen_count) == ('assigned', e.tech, 1)
        orders.start(order, by_user=user(session, e.tech), now=NOON + timedelta(hours=4))
        orders.complete(order, by_user=user(session, e.tech), note='重新密封', now=NOON + timedelta(hours=5))
        orders.confirm(order, by_user=user(session, e.owner_user), rating=2, comment='跑了两次',
                       now=NOON + timedelta(hours=6))
        events = session.execute(sa.select(WorkOrderEvent.action, WorkOrderEvent.from_status,
                                           WorkOrderEvent.to_status, WorkOrderEvent.by_user_id)
                                 .where(WorkOrderEvent.order_id == order.id).order_by(WorkOrderEvent.id)).all()
        assert [row[0] for row in events] == ['submitted', 'assigned', 'started', 'completed', 'reopened', 'started',
                                              'completed', 'confirmed']
        assert events[1] == ('assigned', 'submitted', 'assigned', e.desk)
        assert events[-1] == ('confirmed', 'completed', 'confirmed', e.owner_user)
        visit = session.execute(sa.select(ReturnVisit)).scalar_one()
        assert visit.order_id == order.id and '2 星' in visit.reason


def test_refused_transitions_change_nothing(estate, in_tenant):
    e = estate()
    with in_tenant(e.tenant) as session:
        order = report(session, e)
        tech, owner, neighbour = user(session, e.tech), user(session, e.owner_user), user(session, e.neighbour_user)
        refusals = [
            lambda: orders.start(order, by_user=tech),                        # not assigned yet
            lambda: orders.complete(order, by_user=tech, note='x'),
            lambda: orders.confirm(order, by_user=owner, rating=5),
            lambda: orders.reopen(order, by_user=owner, reason='x'),
            lambda: orders.assign(order, e.tech, by_user=owner),              # residents do not dispatch
            lambda: orders.assign(order, e.desk, by_user=user(session, e.desk)),  # not a technician
            lambda: orders.cancel(order, by_user=neighbour),                  # not their order
        ]
        for attempt in refusals:
            with pytest.raises(DomainError):
                attempt()
        assert order.status == 'submitted'
        orders.assign(order, e.tech, by_user=user(session, e.desk))
        for attempt in (lambda: orders.start(order, by_user=user(session, e.tech2)),   # someone else's order
                        lambda: orders.cancel(order, by_user=owner),                    # assigned: call the desk
                        lambda: orders.cancel(order, by_user=user(session, e.desk))):   # staff need a reason
            with pytest.raises(DomainError):
                attempt()
        orders.cancel(order, by_user=user(session, e.desk), reason='住户已自行修好')
        with pytest.raises(orders.IllegalTransition, match='已取消'):
            orders.assign(order, e.tech, by_user=user(session, e.desk))
        actions = session.execute(sa.select(WorkOrderEvent.action).where(WorkOrderEvent.order_id == order.id)
                                  .order_by(WorkOrderEvent.id)).scalars().all()
        assert actions == ['submitted', 'assigned', 'cancelled']


def test_the_resident_cancels_before_assignment_and_reports_only_for_their_rooms(estate, in_tenant):
    e = estate()
    with in_tenant(e.tenant) as session:
        order = report(session, e)
        orders.cancel(order, by_user=user(session, e.owner_user))
        assert (order.status, order.cancel_reason) == ('cancelled', '住户取消')
        with pytest.raises(DomainError, match='自己居住的房屋'):
            orders.submit(category_id=e.categories['plumbing'], description='漏水', room_id=e.rooms['1-1-102'],
                          reporter_resident_id=e.residents['1-1-101'], by_user=user(session, e.owner_user))
        with pytest.raises(DomainError, match='公共区域'):
            report(session, e, category_id=e.categories['lift'])
        for bad in ({'description': ' '}, {'description': 'x' * 3000}, {'urgency': 'now'},
                    {'preferred_time': 'x' * 101}):
            with pytest.raises(DomainError):
                report(session, e, **bad)


def test_deadlines_follow_the_template_and_working_days(estate, in_tenant):
    e = estate()
    with in_tenant(e.tenant) as session:
        urgent = report(session, e, urgency='urgent')
        assert urgent.respond_by == NOON + timedelta(minutes=240)  # 紧急（水电）: on site within 240 minutes
        assert urgent.resolve_by == NOON + timedelta(hours=24)
        # ordinary, 3 working days, reported on Friday 2026-09-25: Mon 28, Tue 29, Wed 30 Sep (National Day follows)
        friday = datetime(2026, 9, 25, 4, 0, tzinfo=UTC)
        normal = report(session, e, now=friday)
        assert normal.resolve_by == datetime(2026, 9, 30, 4, 0, tzinfo=UTC)
        late = report(session, e, now=datetime(2026, 9, 30, 4, 0, tzinfo=UTC))
        assert late.resolve_by.date() > datetime(2026, 10, 8).date()  # the holiday week is not counted


def test_auto_confirmed_after_three_days_by_a_frozen_clock(estate, in_tenant):
    e = estate()
    with in_tenant(e.tenant) as session:
        order = report(session, e)
        orders.assign(order, e.tech, by_user=user(session, e.desk), now=NOON)
        orders.start(order, by_user=user(session, e.tech), now=NOON)
        orders.complete(order, by_user=user(session, e.tech), note='修好了', now=NOON)
        assert orders.auto_confirm_due(NOON + timedelta(days=3) - timedelta(seconds=1)) == []
        assert [o.id for o in orders.auto_confirm_due(NOON + timedelta(days=3))] == [order.id]
        assert order.status == 'confirmed' and order.auto_confirmed and order.rating is None
        assert orders.auto_confirm_due(NOON + timedelta(days=9)) == []


def test_numbers_are_unique_under_concurrent_submissions(app, estate, in_tenant):
    e = estate()
    numbers, errors, gate = [], [], threading.Barrier(8)

    def submit_one():
        try:
            with in_tenant(e.tenant) as session:
                gate.wait()
                order = report(session, e)
                session.commit()
                numbers.append(order.number)
        except Exception as exc:  # noqa: BLE001 - collected and shown below
            errors.append(exc)

    threads = [threading.Thread(target=submit_one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sorted(numbers) == [f'BX-20261125-{n:04d}' for n in range(1, 9)]


def test_a_resident_reports_only_as_themselves(estate, in_tenant):
    e = estate()
    with in_tenant(e.tenant) as session:
        with pytest.raises(DomainError, match='关联住户'):
            report(session, e, code='1-1-102', by=e.owner_user)  # the neighbour's resident record
