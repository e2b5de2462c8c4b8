"""Inspection tasks generated from the plans: the template's plans provisioned, periods across month ends and leap
years in Asia/Shanghai, devices covered, idempotence (a re-run adds nothing, in constant statements), the CLI and
the workers' maintenance task."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from propsaas.errors import DomainError
from propsaas.inspections import generation
from propsaas.inspections.models import Device, InspectionPlan, InspectionPlanDevice, InspectionTask
from propsaas.inspections.schedule import Frequency, from_template, periods
from propsaas.jobs.models import JobRecord
from tests.helpers import count_queries

SHANGHAI = ZoneInfo('Asia/Shanghai')


def local(y, m, d, hh=0, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI).astimezone(UTC)


def days_of(rounds) -> list[str]:
    return [start.astimezone(SHANGHAI).strftime('%Y-%m-%d %H:%M') for start, _due in rounds]


# --- periods ------------------------------------------------------------------------------------------------------

def test_monthly_on_the_31st_falls_on_each_month_end_leap_february_included():
    rounds = periods(Frequency('monthly', day=31), date(2024, 1, 1), date(2024, 1, 1), date(2024, 4, 30), SHANGHAI)
    assert days_of(rounds) == ['2024-01-31 00:00', '2024-02-29 00:00', '2024-03-31 00:00', '2024-04-30 00:00']
    # each is due when the next starts; the last one at the end of May
    assert rounds[0][1] == local(2024, 2, 29) and rounds[-1][1] == local(2024, 5, 31)
    plain = periods(Frequency('monthly', day=30), date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 31), SHANGHAI)
    assert days_of(plain) == ['2025-02-28 00:00', '2025-03-30 00:00']


def test_every_n_months_counts_from_the_first_month_and_every_n_days_from_the_first_day():
    quarterly = periods(Frequency('monthly', day=10, months=3), date(2026, 2, 10), date(2026, 1, 1),
                        date(2027, 2, 28), SHANGHAI)
    assert days_of(quarterly) == ['2026-02-10 00:00', '2026-05-10 00:00', '2026-08-10 00:00', '2026-11-10 00:00',
                                  '2027-02-10 00:00']
    fortnight = periods(Frequency('every_days', days=15), date(2024, 1, 10), date(2024, 2, 1), date(2024, 3, 31),
                        SHANGHAI)
    # 10 Jan + 15 = 25 Jan, 9 Feb, 24 Feb, 10 Mar (leap February: 29 days), 25 Mar
    assert days_of(fortnight) == ['2024-02-09 00:00', '2024-02-24 00:00', '2024-03-10 00:00', '2024-03-25 00:00']


def test_daily_rounds_split_the_local_day_and_cross_the_year():
    rounds = periods(Frequency('daily', times=2), date(2024, 1, 1), date(2024, 12, 31), date(2025, 1, 1), SHANGHAI)
    assert days_of(rounds) == ['2024-12-31 00:00', '2024-12-31 12:00', '2025-01-01 00:00', '2025-01-01 12:00']
    # 12:00 in Shanghai is 04:00 UTC; the last is due at local midnight of 2 January (16:00 UTC on the 1st)
    assert rounds[1][0] == datetime(2024, 12, 31, 4, tzinfo=UTC)
    assert rounds[-1][1] == datetime(2025, 1, 1, 16, tzinfo=UTC)
    patrol = periods(Frequency('daily', times=24), date(2026, 3, 1), date(2026, 3, 1), date(2026, 3, 1), SHANGHAI)
    assert len(patrol) == 24 and all(due - start == timedelta(hours=1) for start, due in patrol)


def test_weekly_on_chosen_days_is_due_at_the_next_chosen_day():
    rounds = periods(Frequency('weekly', weekdays=(0, 3)), date(2024, 1, 1), date(2024, 12, 28), date(2025, 1, 3),
                     SHANGHAI)
    assert days_of(rounds) == ['2024-12-30 00:00', '2025-01-02 00:00']
    assert rounds[0][1] == local(2025, 1, 2) and rounds[1][1] == local(2025, 1, 6)


def test_nothing_before_the_plan_starts():
    assert periods(Frequency('daily'), date(2026, 5, 1), date(2026, 4, 1), date(2026, 4, 30), SHANGHAI) == []


def test_template_frequencies():
    start = date(2026, 2, 10)  # a Tuesday
    assert from_template({'every': '15d'}, start) == Frequency('every_days', days=15)
    assert from_template({'every': '1d'}, start) == Frequency('daily')
    assert from_template({'every': '2h'}, start) == Frequency('daily', times=12)
    assert from_template({'every': '60min'}, start) == Frequency('daily', times=24)
    assert from_template({'times_per_day': 2}, start) == Frequency('daily', times=2)
    assert from_template({'every': '2w'}, start) == Frequency('every_days', days=14)
    assert from_template({'every': '1w'}, start) == Frequency('weekly', weekdays=(1,))
    assert from_template({'every': '3M'}, start) == Frequency('monthly', day=10, months=3)
    assert from_template({'every': '1y'}, start) == Frequency('monthly', day=10, months=12)


def test_bad_frequencies_are_refused_with_a_reason():
    for bad in ({'kind': 'hourly'}, {'kind': 'daily', 'times': 0}, {'kind': 'weekly', 'weekdays': []},
                {'kind': 'weekly', 'weekdays': [7]}, {'kind': 'monthly', 'day': 32},
                {'kind': 'every_days', 'days': 'x'}, None):
        with pytest.raises(DomainError):
            Frequency.from_json(bad)
    assert Frequency.from_json({'kind': 'weekly', 'weekdays': ['3', 0, 3]}).to_json() == {
        'kind': 'weekly', 'weekdays': [0, 3]}


# --- generating ---------------------------------------------------------------------------------------------------

@pytest.fixture
def project(make_tenant, in_tenant):
    tenant = make_tenant(name='巡检小区')
    with in_tenant(tenant) as session:
        lifts = [Device(code=f'DT-0{n}', name=f'{n}号电梯', category='lift') for n in (1, 2)]
        retired = Device(code='DT-09', name='旧电梯', category='lift', status='retired')
        session.add_all([*lifts, retired])
        # provisioned 'today'; the tests count from a fixed first day
        session.execute(sa.update(InspectionPlan).values(starts_on=date(2026, 11, 1)))
        session.commit()
        return tenant, [d.id for d in lifts], retired.id


def tasks(session, plan_code=None):
    query = (sa.select(InspectionPlan.code, InspectionTask.device_id, InspectionTask.period_start,
                       InspectionTask.due_at).join(InspectionPlan, InspectionPlan.id == InspectionTask.plan_id)
             .order_by(InspectionPlan.code, InspectionTask.device_id, InspectionTask.period_start))
    if plan_code:
        query = query.where(InspectionPlan.code == plan_code)
    return session.execute(query).all()


def test_the_template_plans_are_provisioned(project, in_tenant):
    tenant, _lifts, _retired = project
    with in_tenant(tenant) as session:
        plans = {p.code: p for p in session.execute(sa.select(InspectionPlan)).scalars()}
        check_plans(plans)


def check_plans(plans):
    assert plans['lift_maintenance'].frequency == {'kind': 'every_days', 'days': 15}
    assert plans['pump_room_check'].frequency == {'kind': 'daily', 'times': 2}
    assert plans['security_patrol'].frequency == {'kind': 'daily', 'times': 24}
    assert plans['lift_maintenance'].retention_years == 4 and plans['lift_maintenance'].duty == 'lift_safety'
    assert plans['water_quality_test'].enabled is False
    assert any(item['kind'] == 'reading' for item in plans['switch_room_check'].checklist)


def test_generation_covers_devices_and_places_and_a_rerun_adds_nothing(app, project, in_tenant):
    tenant, lifts, retired = project
    with in_tenant(tenant) as session:
        first = generation.generate(date(2026, 12, 1), date(2026, 12, 31))
        session.commit()
        assert first.created > 0 and first.existing == 0
        lift = tasks(session, 'lift_maintenance')
        # every 15 days from the first day (provisioned 'today'), for both lifts, not the retired one
        assert {device for _code, device, _s, _d in lift} == set(lifts) and retired not in {t[1] for t in lift}
        # every 15 days from 1 November: 1, 16 and 31 December, for each lift
        assert sorted({start.astimezone(SHANGHAI).day for _c, _d, start, _due in lift}) == [1, 16, 31]
        assert len(lift) == 6
        pump = tasks(session, 'pump_room_check')
        assert len(pump) == 62 and {device for _c, device, _s, _d in pump} == {None}
        with count_queries(app) as statements:
            again = generation.generate(date(2026, 12, 1), date(2026, 12, 31))
        assert again.created == 0 and again.existing == first.created
        assert len(statements) <= 6
        session.commit()
        assert session.execute(sa.select(sa.func.count()).select_from(InspectionTask)).scalar_one() == first.created


def test_chosen_devices_and_disabled_plans(project, in_tenant):
    tenant, lifts, _retired = project
    with in_tenant(tenant) as session:
        plan = session.execute(sa.select(InspectionPlan).where(InspectionPlan.code == 'lift_self_check')).scalar_one()
        session.add(InspectionPlanDevice(plan_id=plan.id, device_id=lifts[1]))
        plan.frequency = {'kind': 'monthly', 'day': 31, 'months': 1}
        plan.starts_on = date(2024, 1, 1)
        session.flush()
        generation.generate(date(2024, 1, 1), date(2024, 3, 31), plan_ids=[plan.id])
        rows = tasks(session, 'lift_self_check')
        assert [(device, start.astimezone(SHANGHAI).date().isoformat()) for _c, device, start, _d in rows] == [
            (lifts[1], '2024-01-31'), (lifts[1], '2024-02-29'), (lifts[1], '2024-03-31')]
        disabled = session.execute(sa.select(InspectionPlan).where(InspectionPlan.code == 'water_quality_test')
                                   ).scalar_one()
        generation.generate(date(2024, 1, 1), date(2024, 3, 31))
        assert tasks(session, disabled.code) == []


def test_cli_and_the_maintenance_task(app, project, in_tenant, runner):
    tenant, _lifts, _retired = project
    result = runner.invoke(args=['inspections', 'generate', '--tenant', tenant.slug, '--from', '2026-12-01',
                                 '--days', '0'])
    assert result.exit_code == 0, result.output
    assert 'task(s) created' in result.output
    again = runner.invoke(args=['inspections', 'generate', '--tenant', tenant.slug, '--from', '2026-12-01',
                                '--days', '0'])
    assert ' 0 task(s) created' in again.output
    assert runner.invoke(args=['inspections', 'generate', '--from', 'yesterday']).exit_code == 1
    assert runner.invoke(args=['inspections', 'generate', '--tenant', 'no-such']).exit_code == 1
    with app.app_context():
        assert generation.sweep()['tenants'] >= 1  # inline without Redis: runs at once
    with in_tenant(tenant) as session:
        record = session.execute(sa.select(JobRecord).where(JobRecord.key == generation.JOB_KEY)).scalar_one()
        assert record.status == JobRecord.DONE and record.result['plans'] > 0
    with app.app_context():
        generation.sweep()  # done less than an hour ago: not started again
    with in_tenant(tenant) as session:
        assert session.execute(sa.select(sa.func.count()).select_from(JobRecord)
                               .where(JobRecord.key == generation.JOB_KEY)).scalar_one() == 1


def test_missed_tasks_are_flagged_once_and_the_admins_told(app, project, in_tenant, make_user, monkeypatch):
    from propsaas.notices.models import Message
    from propsaas.tenancy import clock

    tenant, _lifts, _retired = project
    admin = make_user(tenant, 'admin')
    with in_tenant(tenant) as session:
        generation.generate(date(2026, 12, 1), date(2026, 12, 1))
        session.commit()
        due_by_noon = session.execute(sa.select(sa.func.count()).select_from(InspectionTask).where(
            InspectionTask.due_at <= local(2026, 12, 1, 12))).scalar_one()
        assert due_by_noon > 0  # the patrol's morning rounds
    monkeypatch.setattr(clock, 'now_utc', lambda: local(2026, 12, 1, 12))
    with in_tenant(tenant) as session:
        report = generation.run_hourly()
        assert report['missed'] == due_by_noon
        assert generation.run_hourly()['missed'] == 0  # once
        statuses = dict(session.execute(sa.select(InspectionTask.status, sa.func.count())
                                        .group_by(InspectionTask.status)).all())
        assert statuses['missed'] == due_by_noon and statuses['open'] > 0
        [(user_id, title, body, link)] = session.execute(
            sa.select(Message.user_id, Message.title, Message.body, Message.link)
            .where(Message.user_id == admin)).all()
        assert title == f'{due_by_noon} 项巡检漏检' and '秩序巡逻打卡' in body
        assert link == '/inspections/tasks?status=missed&day=2026-12-01'


def test_certificates_about_to_lapse_are_reminded_once(project, in_tenant, make_user, monkeypatch):
    from propsaas.inspections.models import DeviceCertificate
    from propsaas.notices.models import Message
    from propsaas.tenancy import clock

    tenant, lifts, retired = project
    admin = make_user(tenant, 'admin')
    with in_tenant(tenant) as session:
        session.add_all([
            DeviceCertificate(device_id=lifts[0], name='电梯定期检验合格证', expires_on=date(2026, 12, 31)),  # 30 days
            DeviceCertificate(device_id=lifts[1], name='电梯定期检验合格证', expires_on=date(2027, 1, 1)),  # 31 days
            DeviceCertificate(device_id=lifts[1], name='限速器校验报告', expires_on=date(2026, 11, 20)),  # lapsed
            DeviceCertificate(device_id=retired, name='旧证', expires_on=date(2026, 12, 5)),  # retired device
        ])
        session.commit()
    monkeypatch.setattr(clock, 'now_utc', lambda: local(2026, 12, 1, 9))
    with in_tenant(tenant) as session:
        assert generation.remind_certificates() == 2
        assert generation.remind_certificates() == 0  # once
        [(title, body)] = session.execute(sa.select(Message.title, Message.body).where(Message.user_id == admin)).all()
        assert title == '2 份设备证书即将到期'
        assert 'DT-01 1号电梯：电梯定期检验合格证将于2026-12-31到期' in body
        assert 'DT-02 2号电梯：限速器校验报告已于2026-11-20到期' in body and '旧证' not in body
    monkeypatch.setattr(clock, 'now_utc', lambda: local(2026, 12, 2, 9))
    with in_tenant(tenant):
        assert generation.remind_certificates() == 1  # the one due 1 January is now 30 days away
