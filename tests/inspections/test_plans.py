"""巡检计划 as an admin keeps them: the list, creating and editing a plan (its tasks generated at once, never
deleted), refused input (422, nothing saved), who may look or edit, another project's plan, and a plan's figures
checked by hand."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from propsaas.inspections import plans
from propsaas.inspections.models import Device, InspectionPlan, InspectionPlanDevice, InspectionTask
from propsaas.tenancy import clock

#: 10:00 in Shanghai on Thursday 10 December 2026
NOW = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)


@pytest.fixture
def estate(make_tenant, make_user, in_tenant, monkeypatch):
    monkeypatch.setattr(clock, 'now_utc', lambda: NOW)
    tenant = make_tenant(name='阳光小区')
    e = SimpleNamespace(tenant=tenant)
    e.admin = make_user(tenant, 'admin')
    e.tech = make_user(tenant, 'staff', name='李工', duties=['technician'])
    e.lift = make_user(tenant, 'staff', name='电梯管理员老周', duties=['lift_safety'])
    e.guard = make_user(tenant, 'staff', name='保安小王', duties=['security'])
    e.desk = make_user(tenant, 'staff', name='前台小陈', duties=['service_desk'])
    e.gone = make_user(tenant, 'staff', name='离职工程', duties=['technician'], active=False)
    e.resident = make_user(tenant, 'resident')
    with in_tenant(tenant) as session:
        devices = [Device(code='DT-01', name='1号电梯', category='lift'),
                   Device(code='DT-02', name='2号电梯', category='lift'),
                   Device(code='SX-01', name='1号水箱', category='water_tank')]
        session.add_all(devices)
        session.flush()
        e.lift1, e.lift2, e.tank = (d.id for d in devices)
    return e


def plan_form(**changes) -> dict:
    """A valid form: a daily round of the two lifts, twice a day, by the lift safety duty."""
    data = {
        'name': '电梯日巡', 'target': 'lift', 'kind': 'daily', 'times': '2', 'day': '1', 'months': '1', 'days': '15',
        'starts_on': '2026-12-01', 'points': '', 'duty': 'lift_safety', 'assignee_id': '',
        'photos_required': '1', 'retention_years': '4', 'basis': 'TSG T5002', 'note': '', 'enabled': 'y',
        'item_label': ['运行平稳', '轿厢温度', '', '维保人员'],
        'item_kind': ['check', 'reading', 'check', 'note'],
        'item_unit': ['', '℃', '', ''], 'item_min': ['', '5', '', ''], 'item_max': ['', '35.5', '', ''],
    }
    data.update(changes)
    return data


def count(session, model, *where) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar_one()


def test_the_list_shows_what_how_often_who_and_which_devices(estate, client_for, in_tenant):
    e = estate
    with in_tenant(e.tenant) as session:
        patrol = session.execute(sa.select(InspectionPlan).where(InspectionPlan.target == 'patrol')).scalars().first()
        patrol.assignee_id, patrol.duty = e.guard, 'security'
        tank_plan = InspectionPlan(code='x1', name='水箱专项', target='water_tank', frequency={'kind': 'daily'},
                                   starts_on=date(2026, 12, 1), checklist=[{'label': '加锁', 'kind': 'check'}],
                                   points=[], duty='technician', enabled=False)
        session.add(tank_plan)
        session.flush()
        session.add(InspectionPlanDevice(plan_id=tank_plan.id, device_id=e.tank))
    page = client_for(e.tenant, e.admin).get('/inspections/plans')
    assert page.status_code == 200
    text = page.text
    # the template's lift plans: every 15 days, by the lift safety duty, every lift of the project
    assert '电梯半月维保' in text and '每 15 天' in text and '电梯安全管理员' in text and '全部电梯设备' in text
    assert '每 3 个月（' in text and '每年（' in text
    # a patrol is a round of places, done by one named guard
    assert '巡查点位' in text and '保安小王' in text
    # chosen devices are named; a disabled plan says so
    assert 'SX-01 1号水箱' in text and '已停用' in text
    assert '新增巡检计划' in text


def test_create_a_plan_and_its_tasks_are_generated_at_once(estate, client_for, in_tenant):
    e = estate
    admin = client_for(e.tenant, e.admin)
    form = admin.get('/inspections/plans/new')
    assert form.status_code == 200 and '2026-12-10' in form.text and 'DT-01 1号电梯' in form.text
    response = admin.post('/inspections/plans/new', data=plan_form(devices=[str(e.lift1)]))
    assert response.status_code == 303
    with in_tenant(e.tenant) as session:
        plan = session.execute(sa.select(InspectionPlan).where(InspectionPlan.name == '电梯日巡')).scalar_one()
        assert plan.code == 'custom_1'
        assert plan.frequency == {'kind': 'daily', 'times': 2}
        assert plan.checklist == [{'label': '运行平稳', 'kind': 'check'},
                                  {'label': '轿厢温度', 'kind': 'reading', 'unit': '℃', 'min': '5', 'max': '35.5'},
                                  {'label': '维保人员', 'kind': 'note'}]
        assert (plan.duty, plan.assignee_id, plan.photos_required, plan.retention_years) == ('lift_safety', None, 1, 4)
        assert [d.id for d in plan.devices] == [e.lift1]
        # today (10 December) and the next 7 days, twice a day, for the one lift chosen
        tasks = session.execute(sa.select(InspectionTask).where(InspectionTask.plan_id == plan.id)
                                .order_by(InspectionTask.period_start)).scalars().all()
        assert len(tasks) == 16 and {t.device_id for t in tasks} == {e.lift1}
        assert tasks[0].period_start == datetime(2026, 12, 9, 16, tzinfo=UTC)  # local midnight of 10 December
        assert tasks[-1].period_start == datetime(2026, 12, 17, 4, tzinfo=UTC)  # 12:00 on 17 December
        plan_id = plan.id
    assert response.headers['Location'].endswith(f'/inspections/plans/{plan_id}')
    page = admin.get(f'/inspections/plans/{plan_id}')
    assert page.status_code == 200
    assert '已保存巡检计划 电梯日巡，新生成 16 个任务' in page.text and '每天 2 次' in page.text
    assert '轿厢温度' in page.text and '5 – 35.5 ℃' in page.text and 'DT-01 1号电梯' in page.text
    # a second plan gets the next code; none chosen covers all the target's devices
    assert admin.post('/inspections/plans/new', data=plan_form(name='电梯日巡二')).status_code == 303
    with in_tenant(e.tenant) as session:
        second = session.execute(sa.select(InspectionPlan).where(InspectionPlan.name == '电梯日巡二')).scalar_one()
        assert second.code == 'custom_2'
        assert count(session, InspectionTask, InspectionTask.plan_id == second.id) == 32


def test_edit_keeps_the_tasks_and_disabling_generates_no_more(estate, client_for, in_tenant):
    e = estate
    admin = client_for(e.tenant, e.admin)
    admin.post('/inspections/plans/new', data=plan_form(devices=[str(e.lift1)]))
    with in_tenant(e.tenant) as session:
        plan_id = session.execute(sa.select(InspectionPlan.id).where(InspectionPlan.name == '电梯日巡')).scalar_one()
        task = session.execute(sa.select(InspectionTask).where(InspectionTask.plan_id == plan_id)
                               .order_by(InspectionTask.period_start)).scalars().first()
        task.status, task.completed_at = 'done', NOW
    form = admin.get(f'/inspections/plans/{plan_id}/edit')
    assert form.status_code == 200 and 'value="轿厢温度"' in form.text and 'value="35.5"' in form.text
    # once a day now (at midnight, as the twice-a-day rounds began): the rounds exist, nothing deleted, none added
    changed = plan_form(name='电梯日巡（改）', times='1', devices=[str(e.lift1), str(e.lift2)], assignee_id=str(e.lift),
                        item_label=['运行平稳'], item_kind=['check'], item_unit=[''], item_min=[''], item_max=[''])
    assert admin.post(f'/inspections/plans/{plan_id}/edit', data=changed).status_code == 303
    with in_tenant(e.tenant) as session:
        plan = session.get(InspectionPlan, plan_id)
        assert (plan.name, plan.code, plan.frequency, plan.assignee_id) == ('电梯日巡（改）', 'custom_1',
                                                                            {'kind': 'daily', 'times': 1}, e.lift)
        assert plan.checklist == [{'label': '运行平稳', 'kind': 'check'}]
        assert [d.id for d in plan.devices] == [e.lift1, e.lift2]
        # 16 of the first lift kept (one done), 8 new for the second lift
        assert count(session, InspectionTask, InspectionTask.plan_id == plan_id,
                     InspectionTask.device_id == e.lift1) == 16
        assert count(session, InspectionTask, InspectionTask.plan_id == plan_id,
                     InspectionTask.device_id == e.lift2) == 8
        assert count(session, InspectionTask, InspectionTask.status == 'done') == 1
    # disabled: the page says the open tasks stay; a later save generates nothing
    disabled = plan_form(name='电梯日巡（改）', devices=[str(e.lift1)], enabled='', starts_on='2026-12-12')
    response = admin.post(f'/inspections/plans/{plan_id}/edit', data=disabled, follow_redirects=True)
    assert '已停用：不再生成新任务，已有的待执行任务保留' in response.text
    with in_tenant(e.tenant) as session:
        assert session.get(InspectionPlan, plan_id).enabled is False
        assert [d.id for d in session.get(InspectionPlan, plan_id).devices] == [e.lift1]
        assert count(session, InspectionTask, InspectionTask.plan_id == plan_id) == 24


@pytest.mark.parametrize('changes, message', [
    ({'kind': 'weekly'}, '请选择每周巡检的日子'),
    ({'kind': 'daily', 'times': '0'}, '每天巡检次数应为 1 到 48'),
    ({'kind': 'every_days', 'days': '两周'}, '巡检频次格式不正确'),
    ({'kind': 'monthly', 'day': '32'}, '每月巡检的日期应为 1 到 31 日'),
    ({'kind': 'hourly'}, '请选择巡检频次'),
    ({'item_min': ['', '40', '', '']}, '检查项“轿厢温度”的下限不能大于上限'),
    ({'item_max': ['', 'abc', '', '']}, '检查项“轿厢温度”的范围应为数字'),
    ({'item_max': ['', 'NaN', '', '']}, '检查项“轿厢温度”的范围应为数字'),
    ({'item_label': ['', ' ', '', '']}, '请至少填写一个检查项'),
    ({'item_kind': ['check', 'photo', 'check', 'note']}, '检查项“轿厢温度”的类型不正确'),
    ({'assignee_id': 'abc'}, '指定的执行人应为在职且有“电梯安全管理员”岗位的员工'),
    ({'retention_years': '3'}, '电梯巡检记录至少保存 4 年'),
    ({'retention_years': ''}, '电梯巡检记录至少保存 4 年'),
    ({'duty': 'astronaut'}, '请选择本项目的一个执行岗位'),
    ({'name': ''}, '请填写计划名称'),
    ({'photos_required': '7'}, '照片张数应为 0 到 6'),
    ({'starts_on': '12/01/2026'}, '请按 年-月-日 填写日期'),
    ({'starts_on': '9999-12-31', 'kind': 'monthly', 'day': '31'}, '开始日期应在 2000 年到 2200 年之间'),
    ({'target': 'moon'}, '请选择巡检对象'),
])
def test_refused_input_saves_nothing(estate, client_for, in_tenant, changes, message):
    e = estate
    with in_tenant(e.tenant) as session:
        before = count(session, InspectionPlan)
    response = client_for(e.tenant, e.admin).post('/inspections/plans/new', data=plan_form(**changes))
    assert response.status_code == 422
    assert message in response.text
    # the admin's input is still there to correct
    assert 'value="轿厢温度"' in response.text or changes.get('item_label')
    with in_tenant(e.tenant) as session:
        assert count(session, InspectionPlan) == before
        assert count(session, InspectionTask) == 0


def test_a_bare_post_is_refused(estate, client_for, in_tenant):
    e = estate
    response = client_for(e.tenant, e.admin).post('/inspections/plans/new', data={'name': 'x', 'password': 'p'})
    assert response.status_code == 422 and '请填写开始日期' in response.text
    with in_tenant(e.tenant) as session:
        assert count(session, InspectionPlan, InspectionPlan.name == 'x') == 0


def test_retention_is_free_for_other_targets(estate, client_for, in_tenant):
    e = estate
    data = plan_form(name='配电房巡查', target='switch_room', retention_years='', duty='technician')
    assert client_for(e.tenant, e.admin).post('/inspections/plans/new', data=data).status_code == 303
    with in_tenant(e.tenant) as session:
        plan = session.execute(sa.select(InspectionPlan).where(InspectionPlan.name == '配电房巡查')).scalar_one()
        assert plan.retention_years is None
        # a round of places: one task per round, no device
        assert count(session, InspectionTask, InspectionTask.plan_id == plan.id,
                     InspectionTask.device_id.is_(None)) == 16


def test_the_one_person_must_be_active_staff_with_the_duty(estate, client_for, in_tenant, make_tenant, make_user):
    e = estate
    admin = client_for(e.tenant, e.admin)
    for person in (e.guard, e.gone, e.resident, e.admin, 999999):
        response = admin.post('/inspections/plans/new', data=plan_form(duty='technician', assignee_id=str(person),
                                                                       target='pump_room'))
        assert response.status_code == 422 and '指定的执行人应为在职且有“工程”岗位的员工' in response.text
    other = make_tenant(name='别的小区')
    their_tech = make_user(other, 'staff', duties=['technician'])
    response = admin.post('/inspections/plans/new', data=plan_form(duty='technician', assignee_id=str(their_tech),
                                                                   target='pump_room'))
    assert response.status_code == 422
    with in_tenant(e.tenant) as session:
        assert count(session, InspectionPlan, InspectionPlan.name == '电梯日巡') == 0
    ok = admin.post('/inspections/plans/new', data=plan_form(duty='technician', assignee_id=str(e.tech),
                                                             target='pump_room'))
    assert ok.status_code == 303
    with in_tenant(e.tenant) as session:
        plan = session.execute(sa.select(InspectionPlan).where(InspectionPlan.name == '电梯日巡')).scalar_one()
        assert plan.assignee_id == e.tech
        # the tasks are the person's
        assignees = set(session.execute(sa.select(InspectionTask.assignee_id)
                                        .where(InspectionTask.plan_id == plan.id)).scalars())
        assert assignees == {e.tech}


def test_a_device_of_another_project_is_refused(estate, client_for, in_tenant, make_tenant):
    e = estate
    other = make_tenant(name='别的小区')
    with in_tenant(other) as session:
        theirs = Device(code='DT-01', name='别人的电梯', category='lift')
        session.add(theirs)
        session.flush()
        theirs_id = theirs.id
    for bad in (str(theirs_id), 'abc', '99999999999'):
        response = client_for(e.tenant, e.admin).post('/inspections/plans/new',
                                                      data=plan_form(devices=[str(e.lift1), bad]))
        assert response.status_code == 422 and '所选设备不存在' in response.text
    with in_tenant(e.tenant) as session:
        assert count(session, InspectionPlanDevice) == 0 and count(session, InspectionTask) == 0
    with in_tenant(other) as session:
        assert count(session, InspectionPlanDevice) == 0


def test_who_may_look_and_who_may_edit(estate, client_for, in_tenant):
    e = estate
    with in_tenant(e.tenant) as session:
        plan_id = session.execute(sa.select(InspectionPlan.id).order_by(InspectionPlan.id)).scalars().first()
    for user in (e.tech, e.lift):
        client = client_for(e.tenant, user)
        page = client.get('/inspections/plans')
        assert page.status_code == 200 and '新增巡检计划' not in page.text
        assert client.get(f'/inspections/plans/{plan_id}').status_code == 200
        assert client.get('/inspections/plans/new').status_code == 403
        assert client.get(f'/inspections/plans/{plan_id}/edit').status_code == 403
        assert client.post('/inspections/plans/new', data=plan_form()).status_code == 403
        assert client.post(f'/inspections/plans/{plan_id}/edit', data=plan_form()).status_code == 403
    for user in (e.guard, e.desk, e.resident):
        client = client_for(e.tenant, user)
        assert client.get('/inspections/plans').status_code == 403
        assert client.get(f'/inspections/plans/{plan_id}').status_code == 403
        assert client.post('/inspections/plans/new', data=plan_form()).status_code == 403
    anonymous = client_for(e.tenant)
    assert anonymous.get('/inspections/plans').status_code == 302
    assert anonymous.post('/inspections/plans/new', data=plan_form()).status_code == 302
    with in_tenant(e.tenant) as session:
        assert count(session, InspectionPlan, InspectionPlan.name == '电梯日巡') == 0
    # the navigation: the admin and the technician see 巡检计划; the guard only 巡检任务
    plans_link, tasks_link = '<a href="/inspections/plans">巡检计划</a>', '<a href="/inspections/tasks">巡检任务</a>'
    assert plans_link in client_for(e.tenant, e.admin).get('/').text
    assert plans_link in client_for(e.tenant, e.tech).get('/').text
    guard_home = client_for(e.tenant, e.guard).get('/').text
    assert tasks_link in guard_home and plans_link not in guard_home
    assert tasks_link not in client_for(e.tenant, e.desk).get('/').text


def test_another_projects_plan_is_not_found(estate, client_for, in_tenant, make_tenant, make_user):
    e = estate
    with in_tenant(e.tenant) as session:
        plan = session.execute(sa.select(InspectionPlan).order_by(InspectionPlan.id)).scalars().first()
        plan_id, name = plan.id, plan.name
    other = make_tenant(name='别的小区')
    admin_b = client_for(other, make_user(other, 'admin'))
    assert admin_b.get(f'/inspections/plans/{plan_id}').status_code == 404
    assert admin_b.get(f'/inspections/plans/{plan_id}/edit').status_code == 404
    assert admin_b.post(f'/inspections/plans/{plan_id}/edit', data=plan_form(name='改掉')).status_code == 404
    assert f'/inspections/plans/{plan_id}"' not in admin_b.get('/inspections/plans').text
    with in_tenant(e.tenant) as session:
        assert session.get(InspectionPlan, plan_id).name == name
    assert admin_b.get('/inspections/plans/99999999999').status_code == 404


def _task(plan_id, status, start, hours=24, key=0):
    return InspectionTask(plan_id=plan_id, target_key=key, period_start=start, due_at=start + timedelta(hours=hours),
                          status=status)


def test_the_counts_and_completion_rate_by_hand(estate, client_for, in_tenant):
    e = estate
    with in_tenant(e.tenant) as session:
        plan = InspectionPlan(code='rate', name='完成率样例', target='patrol', frequency={'kind': 'daily'},
                              starts_on=date(2026, 10, 1), checklist=[{'label': '巡查', 'kind': 'check'}],
                              points=['1号岗', '车库'], duty='security')
        session.add(plan)
        session.flush()
        day = timedelta(days=1)
        session.add_all([
            _task(plan.id, 'done', NOW - 5 * day),            # last 30 days: done
            _task(plan.id, 'done', NOW - 2 * day),            # done
            _task(plan.id, 'done', NOW - timedelta(hours=1)),  # done before it was due: counts
            _task(plan.id, 'missed', NOW - 3 * day),          # missed
            _task(plan.id, 'open', NOW - 6 * day),            # open past due: counts against
            _task(plan.id, 'open', NOW - timedelta(hours=2)),  # open, not due yet: not counted
            _task(plan.id, 'done', NOW - 40 * day),           # older than 30 days: counts only in the totals
            _task(plan.id, 'open', NOW - 45 * day),
            _task(plan.id, 'missed', NOW - 35 * day),
            _task(plan.id, 'open', NOW + 2 * day),            # generated ahead
        ])
        session.flush()
        plan_id = plan.id
    with in_tenant(e.tenant) as session:
        figures = plans.plan_figures(session.get(InspectionPlan, plan_id))
    assert figures.counts == {'open': 4, 'done': 4, 'missed': 2}
    assert figures.overdue == 2
    assert (figures.done, figures.missed, figures.late) == (3, 1, 1)
    assert figures.rate == pytest.approx(0.6)
    page = client_for(e.tenant, e.admin).get(f'/inspections/plans/{plan_id}')
    assert page.status_code == 200
    assert '60.0%' in page.text and '完成 3，漏检 1，超时未执行 1' in page.text
    assert '1号岗 → 车库' in page.text
    # the latest 30 tasks, latest first; the one past due flagged
    assert page.text.count('status-failed">已超时</span>') == 2
    assert page.text.index('2026-12-12 10:00') < page.text.index('2026-12-05 10:00')


def test_no_rate_without_anything_due(estate, client_for, in_tenant):
    e = estate
    with in_tenant(e.tenant) as session:
        plan_id = session.execute(sa.select(InspectionPlan.id).order_by(InspectionPlan.id)).scalars().first()
    page = client_for(e.tenant, e.tech).get(f'/inspections/plans/{plan_id}')
    assert page.status_code == 200 and '还没有任务' in page.text and '—' in page.text


def test_every_template_plan_opens_for_editing_with_its_values(estate, client_for, in_tenant):
    e = estate
    with in_tenant(e.tenant) as session:
        template_plans = session.execute(sa.select(InspectionPlan).order_by(InspectionPlan.id)).scalars().all()
        expected = [(p.id, p.name, p.checklist[0]['label']) for p in template_plans]
    assert len(expected) > 5
    admin = client_for(e.tenant, e.admin)
    for plan_id, name, first_item in expected:
        page = admin.get(f'/inspections/plans/{plan_id}/edit')
        assert page.status_code == 200
        assert f'value="{name}"' in page.text and f'value="{first_item}"' in page.text
    # the half-monthly lift maintenance: every 15 days, its duty selected
    lift = admin.get(f'/inspections/plans/{expected[0][0]}/edit').text
    assert '<option selected value="every_days">' in lift and '<option selected value="lift_safety">' in lift


def test_add_plans_gives_an_older_project_its_templates_plans_and_keeps_its_own(make_tenant, in_tenant, runner):
    """`flask inspections add-plans`: a project provisioned before inspections (no plans) gets the template's; a
    project's own edits and plans are kept; a re-run adds nothing."""
    tenant = make_tenant(name='老项目')
    with in_tenant(tenant) as session:
        codes = sorted(session.execute(sa.select(InspectionPlan.code)).scalars())
        assert codes  # what the template gives a new project
        kept = session.execute(sa.select(InspectionPlan).where(InspectionPlan.code == codes[0])).scalar_one()
        kept.name = '改过名字的巡检'
        session.execute(sa.delete(InspectionPlan).where(InspectionPlan.code != codes[0]))
        session.commit()

    result = runner.invoke(args=['inspections', 'add-plans', '--tenant', tenant.slug])
    assert result.exit_code == 0, result.output
    added = result.output.split('added ')[1].split(' (')[0].split(', ')
    assert sorted(added) == codes[1:]  # in the template's order
    with in_tenant(tenant) as session:
        rows = dict(session.execute(sa.select(InspectionPlan.code, InspectionPlan.name)).all())
    assert sorted(rows) == codes and rows[codes[0]] == '改过名字的巡检'
    again = runner.invoke(args=['inspections', 'add-plans', '--tenant', tenant.slug])
    assert again.exit_code == 0 and 'nothing to add' in again.output
    assert runner.invoke(args=['inspections', 'add-plans', '--tenant', 'no-such-project']).exit_code == 1
