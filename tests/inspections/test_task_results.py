"""Recording an inspection task: each item answered by its kind, a reading out of range or a failed check opening
exactly one work order linked to the task and the device, refusals that save nothing, and who may do a task."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from propsaas.auth.models import User
from propsaas.errors import DomainError
from propsaas.inspections import generation, tasks
from propsaas.inspections.models import Device, InspectionPlan, InspectionTask
from propsaas.repairs.models import RepairCategory, WorkOrder

CHECKLIST = [{'label': '运行平稳', 'kind': 'check'},
             {'label': '出水压力', 'kind': 'reading', 'unit': 'MPa', 'min': '0.2', 'max': '0.8'},
             {'label': '备注', 'kind': 'note'}]
NOON = datetime(2026, 12, 1, 4, tzinfo=UTC)


@pytest.fixture
def site(make_tenant, make_user, in_tenant):
    tenant = make_tenant(name='巡检执行小区')
    tech = make_user(tenant, 'staff', duties=['technician'], name='李师傅')
    guard = make_user(tenant, 'staff', duties=['security'], name='保安')
    with in_tenant(tenant) as session:
        pump = Device(code='SB-01', name='1号生活水泵', category='water_pump', location='地下一层水泵房')
        session.add(pump)
        session.flush()
        plan = InspectionPlan(code='pump_check', name='水泵巡检', target='pump_room', starts_on=date(2026, 12, 1),
                              frequency={'kind': 'daily', 'times': 1}, checklist=CHECKLIST, points=[],
                              duty='technician')
        session.add(plan)
        session.flush()
        from propsaas.inspections.models import InspectionPlanDevice

        session.add(InspectionPlanDevice(plan_id=plan.id, device_id=pump.id))
        generation.generate(date(2026, 12, 1), date(2026, 12, 2), plan_ids=[plan.id])
        session.commit()
        task_ids = session.execute(sa.select(InspectionTask.id).where(InspectionTask.plan_id == plan.id)
                                   .order_by(InspectionTask.period_start)).scalars().all()
        return tenant, tech, guard, pump.id, task_ids


def answers(reading='0.5', ok=True, check_note='', reading_note=''):
    return [{'ok': ok, 'note': check_note}, {'value': reading, 'note': reading_note}, {'note': '一切正常'}]


def test_a_reading_out_of_range_opens_exactly_one_work_order(site, in_tenant):
    tenant, tech_id, _guard, pump_id, (task_id, _other) = site
    with in_tenant(tenant) as session:
        task, tech = session.get(InspectionTask, task_id), session.get(User, tech_id)
        tasks.check_in(task, by_user=tech, now=NOON)
        outcome = tasks.complete(task, answers(reading='1.25', reading_note='压力偏高'), by_user=tech,
                                 now=NOON.replace(hour=5))
        session.commit()
        assert outcome.failures == [('出水压力', '读数 1.25MPa，超出 0.2–0.8MPa')]
        assert (task.status, task.checked_in_at, task.completed_by_id) == ('done', NOON, tech_id)
        assert task.results[1] == {'ok': False, 'value': '1.25', 'note': '压力偏高'}
        order = session.execute(sa.select(WorkOrder)).scalar_one()
        category = session.get(RepairCategory, order.category_id)
        assert (order.channel, order.inspection_task_id, order.device_id, category.code) == (
            'inspection', task_id, pump_id, 'plumbing')
        assert 'SB-01 1号生活水泵（地下一层水泵房）' in order.public_area and '超出 0.2–0.8MPa' in order.description
        # submitted again: refused, still one order
        with pytest.raises(DomainError):
            tasks.complete(task, answers(reading='2'), by_user=tech)
        session.rollback()
        assert session.execute(sa.select(sa.func.count()).select_from(WorkOrder)).scalar_one() == 1


def test_all_well_opens_nothing_and_a_failed_check_does(site, in_tenant):
    tenant, tech_id, _guard, _pump, (first, second) = site
    with in_tenant(tenant) as session:
        tech = session.get(User, tech_id)
        assert tasks.complete(session.get(InspectionTask, first), answers(reading='0.8'), by_user=tech).work_order \
            is None  # the range's ends are allowed
        outcome = tasks.complete(session.get(InspectionTask, second), answers(ok=False, check_note='异响'),
                                 by_user=tech)
        session.commit()
        assert outcome.failures == [('运行平稳', '异响')] and outcome.work_order.channel == 'inspection'


@pytest.mark.parametrize('bad', [answers()[:2], [{'ok': 'yes'}, {'value': '0.5'}, {}],
                                 [{'ok': True}, {'value': 'abc'}, {}], [{'ok': True}, {'value': 'NaN'}, {}],
                                 [{'ok': True}, {'value': '0.5'}, {'note': 'x' * 501}]])
def test_an_item_not_answered_properly_saves_nothing(site, in_tenant, bad):
    tenant, tech_id, _guard, _pump, (task_id, _other) = site
    with in_tenant(tenant) as session:
        task = session.get(InspectionTask, task_id)
        with pytest.raises(DomainError):
            tasks.complete(task, bad, by_user=session.get(User, tech_id))
        session.rollback()
        task = session.get(InspectionTask, task_id)
        assert (task.status, task.results) == ('open', [])
        assert session.execute(sa.select(sa.func.count()).select_from(WorkOrder)).scalar_one() == 0


def test_only_the_duty_the_assignee_or_an_admin_may_do_it(site, in_tenant, make_user):
    tenant, tech_id, guard_id, _pump, (task_id, _other) = site
    admin_id = make_user(tenant, 'admin')
    with in_tenant(tenant) as session:
        task = session.get(InspectionTask, task_id)
        with pytest.raises(DomainError):
            tasks.check_in(task, by_user=session.get(User, guard_id))
        task.assignee_id = guard_id  # assigned to one person: the others with the duty may not
        with pytest.raises(DomainError):
            tasks.check_in(task, by_user=session.get(User, tech_id))
        tasks.check_in(task, by_user=session.get(User, guard_id))
        tasks.complete(task, answers(), by_user=session.get(User, admin_id))
        assert task.status == 'done'
