"""The repairs sweep by a frozen clock: auto-confirmation after N days, overdue orders flagged and escalated once
(never twice), the admins' badge, the maintenance task keyed per project, the CLI."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from propsaas.auth.models import User
from propsaas.jobs.models import JobRecord
from propsaas.repairs import orders, sweeps
from propsaas.repairs.models import WorkOrder, WorkOrderEvent
from propsaas.tenancy import clock
from tests.repairs.test_board import NOON, new_order


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    from tests.repairs.estate import build_estate

    return lambda name='报修小区': build_estate(make_tenant, make_user, in_tenant, name)


def freeze(monkeypatch, when):
    monkeypatch.setattr(clock, 'now_utc', lambda: when)


def test_overdue_flagged_and_escalated_once(estate, in_tenant, client_for, monkeypatch):
    e = estate()
    urgent = new_order(in_tenant, e, urgency='urgent', now=NOON)          # respond within 240 min (template)
    normal = new_order(in_tenant, e, now=NOON, assign_to=e.tech)          # resolve within 3 working days
    freeze(monkeypatch, NOON + timedelta(hours=1))
    with in_tenant(e.tenant):
        assert sweeps.run_sweep().overdue == 0
    freeze(monkeypatch, NOON + timedelta(hours=5))
    with in_tenant(e.tenant):
        assert sweeps.run_sweep().as_dict() == {'auto_confirmed': 0, 'overdue': 1}
        assert sweeps.run_sweep().overdue == 0  # never twice
    admin = client_for(e.tenant, e.admin)
    board = admin.get('/repairs').text
    assert '报修工单 <span class="badge">1</span>' in board and '已上报管理员' in board
    assert '报修工单 <span' not in client_for(e.tenant, e.desk).get('/repairs').text  # the badge is the admins'
    freeze(monkeypatch, NOON + timedelta(days=10))
    with in_tenant(e.tenant) as session:
        assert sweeps.run_sweep().overdue == 1  # the normal one, past resolve_by
        assert sweeps.run_sweep().overdue == 0
        events = session.execute(sa.select(WorkOrderEvent.order_id, WorkOrderEvent.note, WorkOrderEvent.by_user_id)
                                 .where(WorkOrderEvent.action == 'overdue').order_by(WorkOrderEvent.id)).all()
        assert events == [(urgent, '超过响应时限仍未派单', None), (normal, '超过完成时限仍未完工', None)]
        assert session.get(WorkOrder, urgent).escalated_at == NOON + timedelta(hours=5)
        assert session.get(WorkOrder, urgent).status == 'submitted'  # flagged, not moved


def test_auto_confirm_by_the_clock(estate, in_tenant, monkeypatch):
    e = estate()
    order_id = new_order(in_tenant, e, assign_to=e.tech)
    with in_tenant(e.tenant) as session:
        order, tech = session.get(WorkOrder, order_id), session.get(User, e.tech)
        orders.start(order, by_user=tech, now=NOON + timedelta(hours=1))
        orders.complete(order, by_user=tech, note='好了', now=NOON + timedelta(hours=2))
    freeze(monkeypatch, NOON + timedelta(days=3, hours=1))
    with in_tenant(e.tenant):
        assert sweeps.run_sweep().auto_confirmed == 0
    freeze(monkeypatch, NOON + timedelta(days=3, hours=2))
    with in_tenant(e.tenant) as session:
        assert sweeps.run_sweep().auto_confirmed == 1
        assert sweeps.run_sweep().auto_confirmed == 0
        order = session.get(WorkOrder, order_id)
        assert (order.status, order.auto_confirmed, order.rating) == ('confirmed', True, None)


def test_maintenance_task_keyed_per_project_and_cli(app, estate, in_tenant, runner, monkeypatch):
    a, b = estate('甲小区'), estate('乙小区')
    late = new_order(in_tenant, a, urgency='urgent', now=NOON)
    freeze(monkeypatch, NOON + timedelta(hours=5))
    with app.app_context():
        assert sweeps.sweep(NOON + timedelta(hours=5))['tenants'] >= 1  # inline without Redis
    with in_tenant(a.tenant) as session:
        record = session.execute(sa.select(JobRecord).where(JobRecord.key == sweeps.JOB_KEY)).scalar_one()
        assert record.status == JobRecord.DONE and record.result == {'auto_confirmed': 0, 'overdue': 1}
        assert session.get(WorkOrder, late).overdue_at is not None
    with in_tenant(b.tenant) as session:  # nothing of b's: no record
        assert session.execute(sa.select(JobRecord).where(JobRecord.key == sweeps.JOB_KEY)).first() is None
    # finished a moment ago: not started again
    with app.app_context():
        sweeps.sweep(NOON + timedelta(hours=5))
    with in_tenant(a.tenant) as session:
        assert session.execute(sa.select(sa.func.count()).select_from(JobRecord)
                               .where(JobRecord.key == sweeps.JOB_KEY)).scalar() == 1
    result = runner.invoke(args=['repairs', 'sweep', '--tenant', a.tenant.slug])
    assert result.exit_code == 0 and f'{a.tenant.slug}: auto_confirmed 0, overdue 0' in result.output
    missing = runner.invoke(args=['repairs', 'sweep', '--tenant', 'no-such-project'])
    assert missing.exit_code != 0 and '找不到项目' in missing.output
