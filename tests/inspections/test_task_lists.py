"""巡检任务 lists: the tasks running on a local day, the filters, who sees which tasks (their duties' plans and those
assigned to them), the overdue flag, and statements that don't grow with the tasks."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from propsaas.inspections import plan_views
from propsaas.inspections.models import Device, InspectionPlan, InspectionTask
from propsaas.tenancy import clock
from tests.helpers import count_queries

SHANGHAI = ZoneInfo('Asia/Shanghai')
#: 10:00 in Shanghai on 10 December 2026
NOW = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)


def local(m, d, hh=0) -> datetime:
    return datetime(2026, m, d, hh, tzinfo=SHANGHAI).astimezone(UTC)


def _plan(session, code, name, target, duty, assignee_id=None) -> int:
    plan = InspectionPlan(code=code, name=name, target=target, frequency={'kind': 'daily'},
                          starts_on=date(2026, 12, 1), checklist=[{'label': '检查', 'kind': 'check'}], points=[],
                          duty=duty, assignee_id=assignee_id)
    session.add(plan)
    session.flush()
    return plan.id


def _task(plan_id, start, due, *, device_id=None, status='open', assignee_id=None) -> InspectionTask:
    return InspectionTask(plan_id=plan_id, device_id=device_id, target_key=device_id or 0, period_start=start,
                          due_at=due, status=status, assignee_id=assignee_id)


@pytest.fixture
def estate(make_tenant, make_user, in_tenant, monkeypatch):
    monkeypatch.setattr(clock, 'now_utc', lambda: NOW)
    tenant = make_tenant(name='阳光小区')
    e = SimpleNamespace(tenant=tenant)
    e.admin = make_user(tenant, 'admin')
    e.tech = make_user(tenant, 'staff', name='李工', duties=['technician'])
    e.lift = make_user(tenant, 'staff', name='老周', duties=['lift_safety'])
    e.guard = make_user(tenant, 'staff', name='小王', duties=['security'])
    e.guard2 = make_user(tenant, 'staff', name='小赵', duties=['security'])
    e.desk = make_user(tenant, 'staff', name='前台', duties=['service_desk'])
    e.resident = make_user(tenant, 'resident')
    with in_tenant(tenant) as session:
        lifts = [Device(code='DT-01', name='1号电梯', category='lift'),
                 Device(code='DT-02', name='2号电梯', category='lift')]
        session.add_all(lifts)
        session.flush()
        e.lift1, e.lift2 = (d.id for d in lifts)
        e.lift_plan = _plan(session, 'p_lift', '电梯日检', 'lift', 'lift_safety')
        e.patrol_plan = _plan(session, 'p_patrol', '夜间巡逻', 'patrol', 'security', assignee_id=e.guard)
        e.pump_plan = _plan(session, 'p_pump', '水泵房月检', 'pump_room', 'technician')
        session.add_all([
            # 10 December: the lifts' daily round, one done, one open (due at midnight)
            _task(e.lift_plan, local(12, 10), local(12, 11), device_id=e.lift1, status='done'),
            _task(e.lift_plan, local(12, 10), local(12, 11), device_id=e.lift2),
            # the patrol of the small hours (past due, still open) and the afternoon, by the named guard
            _task(e.patrol_plan, local(12, 10, 0), local(12, 10, 6), assignee_id=e.guard),
            _task(e.patrol_plan, local(12, 10, 14), local(12, 10, 20), assignee_id=e.guard),
            # a month-long pump room round running through the 10th, and yesterday's lift round (missed)
            _task(e.pump_plan, local(12, 1), local(12, 31)),
            _task(e.lift_plan, local(12, 9), local(12, 10), device_id=e.lift1, status='missed'),
            # the pump room task handed to the second guard
            _task(e.pump_plan, local(12, 10, 8), local(12, 10, 9), assignee_id=e.guard2),
        ])
    return e


def rows(page) -> int:
    return max(page.text.count('<tr>') - 1, 0)  # the header row (no table at all when empty)


def test_today_by_default_in_local_time_with_the_overdue_flagged(estate, client_for, in_tenant):
    e = estate
    page = client_for(e.tenant, e.admin).get('/inspections/tasks')
    assert page.status_code == 200
    assert 'value="2026-12-10"' in page.text
    # the seven tasks minus yesterday's lift round (due at the start of the 10th)
    assert rows(page) == 6
    assert '2026-12-10 14:00 – 2026-12-10 20:00' in page.text and '2026-12-01 00:00 – 2026-12-31 00:00' in page.text
    assert 'DT-01 1号电梯' in page.text and '巡查' in page.text
    # who: the named guard, else the duty
    assert '小王' in page.text and '电梯安全管理员' in page.text and '工程' in page.text
    # the small-hours patrol and the pump room task of 8:00 are past due and open
    assert page.text.count('status-failed">已超时</span>') == 2
    assert '已完成' in page.text
    # each task opens its own page (执行巡检)
    with in_tenant(e.tenant) as session:
        afternoon = session.execute(sa.select(InspectionTask.id).where(
            InspectionTask.period_start == local(12, 10, 14))).scalar_one()
    assert f'href="/inspections/tasks/{afternoon}">2026-12-10 14:00 – 2026-12-10 20:00</a>' in page.text


def test_filters(estate, client_for):
    e = estate
    admin = client_for(e.tenant, e.admin)
    yesterday = admin.get('/inspections/tasks?day=2026-12-09')
    # the missed lift round and the month-long pump round
    assert rows(yesterday) == 2 and '已漏检' in yesterday.text
    by_plan = admin.get(f'/inspections/tasks?plan={e.patrol_plan}')
    assert rows(by_plan) == 2 and '电梯日检</a>' not in by_plan.text
    done = admin.get('/inspections/tasks?status=done')
    assert rows(done) == 1 and 'DT-01 1号电梯' in done.text
    by_device = admin.get(f'/inspections/tasks?device={e.lift2}')
    assert rows(by_device) == 1 and 'DT-02 2号电梯' in by_device.text
    nothing = admin.get('/inspections/tasks?day=2026-11-20')
    assert nothing.status_code == 200 and '这一天没有符合条件的巡检任务' in nothing.text
    # values that are not choices are ignored; a day that is no day is refused with the reason
    assert rows(admin.get('/inspections/tasks?status=bogus&plan=abc&device=-3')) == 6
    for day in ('2026-13-45', '9999-12-31', '0001-01-01', '明天'):
        bad = admin.get(f'/inspections/tasks?day={day}')
        assert bad.status_code == 422 and '日期格式应为 2026-01-31' in bad.text


def test_staff_see_their_duties_plans_and_what_is_assigned_to_them(estate, client_for):
    e = estate
    lift = client_for(e.tenant, e.lift).get('/inspections/tasks')
    assert rows(lift) == 2 and '夜间巡逻' not in lift.text and '水泵房月检' not in lift.text
    tech = client_for(e.tenant, e.tech).get('/inspections/tasks')
    assert rows(tech) == 2 and '电梯日检' not in tech.text and '夜间巡逻' not in tech.text
    guard = client_for(e.tenant, e.guard).get('/inspections/tasks')
    assert rows(guard) == 2 and '电梯日检' not in guard.text and '水泵房月检' not in guard.text
    # the second guard: the patrol's tasks (their duty) and the pump room task handed to them, nothing else
    guard2 = client_for(e.tenant, e.guard2).get('/inspections/tasks')
    assert rows(guard2) == 3 and '水泵房月检' in guard2.text and '电梯日检' not in guard2.text
    # a guard's plan filter offers only their plans; another plan's id shows nothing
    assert f'value="{e.lift_plan}"' not in guard.text
    assert rows(client_for(e.tenant, e.guard).get(f'/inspections/tasks?plan={e.lift_plan}')) == 0
    # security staff may not open the plans pages, so the list doesn't link there
    assert '/inspections/plans/' not in guard.text
    assert f'/inspections/plans/{e.lift_plan}' in lift.text


def test_who_may_open_the_list(estate, client_for):
    e = estate
    assert client_for(e.tenant, e.desk).get('/inspections/tasks').status_code == 403
    assert client_for(e.tenant, e.resident).get('/inspections/tasks').status_code == 403
    assert client_for(e.tenant).get('/inspections/tasks').status_code == 302


def test_another_projects_tasks_are_not_listed(estate, client_for, make_tenant, make_user):
    e = estate
    other = make_tenant(name='别的小区')
    admin_b = client_for(other, make_user(other, 'admin'))
    page = admin_b.get('/inspections/tasks')
    assert page.status_code == 200 and rows(page) == 0 and '电梯日检' not in page.text
    assert rows(admin_b.get(f'/inspections/tasks?plan={e.lift_plan}&device={e.lift1}')) == 0


def _add_tasks(in_tenant, e, n: int) -> None:
    """n more tasks on 11 December, on both lifts, spread over four people (and none)."""
    people = [e.tech, e.lift, e.guard, e.guard2, None]
    with in_tenant(e.tenant) as session:
        plan_id = _plan(session, f'bulk{n}', f'批量{n}', 'lift', 'lift_safety')
        session.add_all([
            _task(plan_id, local(12, 11) + timedelta(minutes=i), local(12, 11, 1) + timedelta(minutes=i),
                  device_id=(e.lift1, e.lift2)[i % 2], assignee_id=people[i % len(people)])
            for i in range(n)])


def test_statements_do_not_grow_with_the_tasks(app, estate, in_tenant, client_for):
    e = estate
    admin = client_for(e.tenant, e.admin)
    guard = client_for(e.tenant, e.guard2)
    _add_tasks(in_tenant, e, 10)
    admin.get('/inspections/tasks?day=2026-12-11')  # warm up (the session's user, the tenant)
    with count_queries(app) as few:
        assert rows(admin.get('/inspections/tasks?day=2026-12-11')) == 11
    with count_queries(app) as few_staff:
        guard.get('/inspections/tasks?day=2026-12-11')
    _add_tasks(in_tenant, e, 30)
    with count_queries(app) as many:
        assert rows(admin.get('/inspections/tasks?day=2026-12-11')) == 41
    with count_queries(app) as many_staff:
        guard.get('/inspections/tasks?day=2026-12-11')
    assert len(many) == len(few)
    assert len(many_staff) == len(few_staff)


def test_paginated(app, estate, in_tenant, client_for, monkeypatch):
    e = estate
    monkeypatch.setattr(plan_views, 'PER_PAGE', 25)
    _add_tasks(in_tenant, e, 30)
    admin = client_for(e.tenant, e.admin)
    first = admin.get('/inspections/tasks?day=2026-12-11')
    assert rows(first) == 25 and '第 1 / 2 页' in first.text
    assert 'page=2' in first.text and 'day=2026-12-11' in first.text
    second = admin.get('/inspections/tasks?day=2026-12-11&page=2')
    assert rows(second) == 6
