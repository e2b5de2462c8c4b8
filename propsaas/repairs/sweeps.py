"""The repairs sweep (报修巡检), per project: confirm by the clock the orders completed N days ago that the resident
neither confirmed nor reopened (``orders.auto_confirm_due``), and flag the orders past a deadline — not responded to
(still 待派单) by ``respond_by``, or not completed by ``resolve_by`` — escalating them to the admins.

An order is flagged once: ``overdue_at`` and ``escalated_at`` are set and a WorkOrderEvent 'overdue' is written by
the clock; a later run, or a second deadline passing, changes nothing. The escalation reaches every active admin
through the notification center (the 'repair_escalated' message: their inbox, and SMS as the template says); in the
app the '报修工单' entry carries a badge with the number of open escalated orders, and the board lists them as 超时工单.

Workers run the sweep in their maintenance loop: for every project with open or completed orders, the job
``sweep_repairs`` keyed 'repairs.sweep' (one record per project, re-used), at most every ``SWEEP_MINUTES``;
``flask repairs sweep [--tenant slug]`` runs it inline (cron, when jobs run inline).
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..jobs.queue import job, maintenance_task, start_unless_current
from ..tenancy import clock
from ..tenancy.context import platform_scope, tenant_scope
from ..tenancy.models import Tenant
from ..tenancy.provisioning import active_tenants
from . import notify, orders
from .board import overdue_condition
from .models import OPEN_STATUSES, WorkOrder, WorkOrderEvent

log = logging.getLogger(__name__)

JOB_KEY = 'repairs.sweep'
#: how often a project's sweep runs (urgent orders must be responded to within 30 minutes)
SWEEP_MINUTES = 5


@dataclass
class SweepReport:
    auto_confirmed: int = 0
    overdue: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def flag_overdue(now: datetime | None = None) -> list[WorkOrder]:
    """Flag the project's open orders past a deadline that are not flagged yet: ``overdue_at``/``escalated_at`` set
    and an 'overdue' event by the clock saying which deadline passed. Returns them. Does not commit."""
    now = now or clock.now_utc()
    late = list(db.session.execute(sa.select(WorkOrder).where(
        WorkOrder.status.in_(OPEN_STATUSES), WorkOrder.overdue_at.is_(None), overdue_condition(now))
        .order_by(WorkOrder.id).with_for_update(skip_locked=True)).scalars())
    for order in late:
        not_responded = order.status == 'submitted' and order.respond_by is not None and order.respond_by < now
        deadline = 'respond' if not_responded else 'resolve'
        note = '超过响应时限仍未派单' if not_responded else '超过完成时限仍未完工'
        orders._event(order, 'overdue', order.status, order.status, orders.CLOCK, note=note,
                      data={'deadline': deadline}, now=now)
        order.overdue_at = order.escalated_at = now
    db.session.flush()
    return late


def run_sweep(now: datetime | None = None) -> SweepReport:
    """Auto-confirm and flag overdue orders of the current project, and commit. Residents are told of the
    auto-confirmation, admins of the escalation (``repairs.notify``)."""
    now = now or clock.now_utc()
    since = db.session.execute(sa.select(sa.func.max(WorkOrderEvent.id))).scalar() or 0
    confirmed = orders.auto_confirm_due(now)
    late = flag_overdue(now)
    db.session.commit()
    for order in [*confirmed, *late]:  # after the commit; a message that cannot go out does not undo the step
        notify.tell_since(order, since)
    return SweepReport(auto_confirmed=len(confirmed), overdue=len(late))


@job(_l('报修工单巡检'))
def sweep_repairs() -> dict:
    """The job: the sweep of the current project, as of now."""
    return run_sweep().as_dict()


def _tenants_with_orders() -> list[int]:
    with platform_scope():
        ids = db.session.execute(sa.select(WorkOrder.tenant_id).distinct()
                                 .join(Tenant, Tenant.id == WorkOrder.tenant_id)
                                 .where(WorkOrder.status.in_((*OPEN_STATUSES, 'completed')),
                                        Tenant.status == Tenant.ACTIVE)).scalars().all()
        db.session.rollback()
    return sorted(ids)


@maintenance_task
def sweep(now=None) -> dict:
    """Platform maintenance (every worker loop): start ``sweep_repairs`` for each project with open or completed
    orders, unless it is queued, running, or finished less than SWEEP_MINUTES ago (a failed one is started again)."""
    now = now or clock.now_utc()
    started = 0
    for tenant_id in _tenants_with_orders():
        with tenant_scope(tenant_id):
            started += start_unless_current(sweep_repairs, key=JOB_KEY,
                                            done_since=now - timedelta(minutes=SWEEP_MINUTES))
    return {'tenants': started}


def sweep_now(slug: str | None = None, now: datetime | None = None) -> list[tuple[str, dict]]:
    """For ``flask repairs sweep [--tenant slug]``: run the sweep inline for one project or every active one.
    Returns (slug, report) pairs."""
    tenants = active_tenants(slug)
    results = []
    for tenant_id, tenant_slug in tenants:
        with tenant_scope(tenant_id):
            results.append((tenant_slug, run_sweep(now).as_dict()))
    return results
