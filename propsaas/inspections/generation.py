"""Generating inspection tasks (生成巡检任务) ahead from the plans, idempotently.

    report = generate(date(2026, 12, 1), date(2026, 12, 7))    # the current project's rounds of those local days

For every enabled plan, every round starting on those days (inspections.schedule) and every device it covers (the
devices chosen for it, else the in-service devices of its target's categories; a round of places has none), one
task — unless the project has it already: a task is unique per plan, device and period start, so a re-run adds
nothing. The statements are constant: the plans, their chosen devices, the devices by category, the tasks already
there, and one bulk insert.

Workers run it in their maintenance loop (the job ``generate_tasks`` keyed 'inspections.generate' per project with
plans, at most hourly, for today and the next HORIZON_DAYS days; the same job first marks the open tasks past their
due time 'missed' and tells the admins); ``flask --app wsgi inspections generate`` runs it inline (cron it hourly
when jobs run inline).
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from ..errors import DomainError
from ..extensions import db
from ..jobs.queue import job, maintenance_task, start_unless_current
from ..models_base import utcnow
from ..tenancy import clock
from ..tenancy.context import current_tenant_id, platform_scope, tenant_scope
from ..tenancy.models import Tenant
from ..tenancy.provisioning import active_tenants
from .maintenance import remind_low_stock
from .models import TARGET_DEVICES, Device, DeviceCertificate, InspectionPlan, InspectionPlanDevice, InspectionTask
from .schedule import Frequency, periods

log = logging.getLogger(__name__)

JOB_KEY = 'inspections.generate'
#: tasks exist this many days ahead (the technicians' lists show the coming week)
HORIZON_DAYS = 7
#: how often a project's generation runs in the workers' loop
EVERY_MINUTES = 60
#: the longest reminder lead a certificate may ask for (device forms keep remind_days within it)
MAX_REMIND_DAYS = 365


@dataclass
class GenerateReport:
    plans: int = 0
    created: int = 0
    #: rounds the project had already
    existing: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def _targets(plans: list[InspectionPlan]) -> dict[int, list[int | None]]:
    """plan id -> the device ids it covers now ([None] for a round of places). Two statements."""
    chosen: dict[int, list[int]] = {}
    for plan_id, device_id in db.session.execute(
            sa.select(InspectionPlanDevice.plan_id, InspectionPlanDevice.device_id)
            .join(Device, Device.id == InspectionPlanDevice.device_id)
            .where(Device.status != 'retired').order_by(Device.code, Device.id)):
        chosen.setdefault(plan_id, []).append(device_id)
    by_category: dict[str, list[int]] = {}
    for device_id, category in db.session.execute(
            sa.select(Device.id, Device.category).where(Device.status != 'retired').order_by(Device.code, Device.id)):
        by_category.setdefault(category, []).append(device_id)
    explicit = set(db.session.execute(sa.select(InspectionPlanDevice.plan_id).distinct()).scalars())
    targets = {}
    for plan in plans:
        categories = TARGET_DEVICES.get(plan.target, ())
        if plan.id in explicit:
            targets[plan.id] = chosen.get(plan.id, [])
        elif categories:
            targets[plan.id] = [d for category in categories for d in by_category.get(category, [])]
        else:
            targets[plan.id] = [None]
    return targets


def generate(first: date, last: date, *, plan_ids=None) -> GenerateReport:
    """Create the current project's missing tasks for rounds starting on local days ``first`` to ``last``. Does
    not commit."""
    tenant = db.session.get(Tenant, current_tenant_id())
    zone = clock.tenant_zone(tenant)
    query = sa.select(InspectionPlan).where(InspectionPlan.enabled.is_(True)).order_by(InspectionPlan.id)
    if plan_ids is not None:
        query = query.where(InspectionPlan.id.in_(list(plan_ids)))
    plans = list(db.session.execute(query).scalars())
    report = GenerateReport(plans=len(plans))
    if not plans or first > last:
        return report
    targets = _targets(plans)
    low = datetime.combine(first, time(), tzinfo=zone).astimezone(UTC)
    high = datetime.combine(last + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    have = {(plan_id, key, _aware(start)) for plan_id, key, start in db.session.execute(
        sa.select(InspectionTask.plan_id, InspectionTask.target_key, InspectionTask.period_start)
        .where(InspectionTask.period_start >= low, InspectionTask.period_start < high,
               InspectionTask.plan_id.in_([plan.id for plan in plans])))}
    tenant_id, now = current_tenant_id(), utcnow()
    rows = []
    for plan in plans:
        rounds = periods(Frequency.from_json(plan.frequency), plan.starts_on, first, last, zone)
        for device_id in targets[plan.id]:
            key = device_id or 0
            for start, due in rounds:
                if (plan.id, key, start) in have:
                    report.existing += 1
                    continue
                rows.append({'tenant_id': tenant_id, 'plan_id': plan.id, 'device_id': device_id,
                             'target_key': key, 'period_start': start, 'due_at': due, 'status': 'open',
                             'assignee_id': plan.assignee_id, 'checked_in_at': None, 'completed_at': None,
                             'completed_by_id': None, 'results': [], 'created_at': now})
    if rows:
        db.session.execute(sa.insert(InspectionTask.__table__), rows)
    report.created = len(rows)
    return report


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def generate_ahead(now: datetime | None = None) -> GenerateReport:
    """Today's and the next HORIZON_DAYS days' tasks of the current project; commits."""
    tenant = db.session.get(Tenant, current_tenant_id())
    today = clock.tenant_today(tenant, now)
    report = generate(today, today + timedelta(days=HORIZON_DAYS))
    db.session.commit()
    return report


def flag_missed(now: datetime | None = None) -> list[InspectionTask]:
    """Mark the project's open tasks past their due time 'missed' (漏检); they can still be done late. Returns
    them. Does not commit."""
    now = now or clock.now_utc()
    missed = list(db.session.execute(
        sa.select(InspectionTask).where(InspectionTask.status == 'open', InspectionTask.due_at <= now)
        .order_by(InspectionTask.id).with_for_update(skip_locked=True)).scalars())
    for task in missed:
        task.status = 'missed'
    db.session.flush()
    return missed


def tell_admins_missed(missed: list[InspectionTask]) -> int:
    """One message to the project's admins about the tasks just flagged (inspection_missed): how many, of which
    plans. Commits. A project provisioned before the template existed is skipped (logged)."""
    if not missed:
        return 0
    from ..notices.targeting import admin_ids
    from ..notices.templates import notify_staff

    plans = sorted(set(db.session.execute(sa.select(InspectionPlan.name).where(
        InspectionPlan.id.in_({task.plan_id for task in missed}))).scalars()))
    names = '、'.join(plans[:10]) + ('等' if len(plans) > 10 else '')
    zone = clock.tenant_zone(db.session.get(Tenant, current_tenant_id()))
    first_day = min(task.period_start for task in missed).astimezone(zone).date()
    try:
        result = notify_staff(admin_ids(), 'inspection_missed', {'count': len(missed), 'plans': names},
                              source_key=f'inspections:missed:{missed[0].id}-{missed[-1].id}',
                              link=f'/inspections/tasks?status=missed&day={first_day.isoformat()}')
    except DomainError as exc:
        db.session.rollback()
        log.warning('missed-inspection message not sent: %s', exc.message)
        return 0
    return result.messages


def remind_certificates(now: datetime | None = None) -> int:
    """Tell the admins, once per certificate, of the certificates of devices in service that lapse within their
    ``remind_days`` (or have lapsed) and were not reminded of yet (certificate_expiring). Commits. The number of
    certificates in the message."""
    now = now or clock.now_utc()
    tenant = db.session.get(Tenant, current_tenant_id())
    today = clock.tenant_today(tenant, now)
    due = [certificate for certificate in db.session.execute(
        sa.select(DeviceCertificate).join(Device, Device.id == DeviceCertificate.device_id)
        .where(DeviceCertificate.reminded_at.is_(None), Device.status != 'retired',
               DeviceCertificate.expires_on <= today + timedelta(days=MAX_REMIND_DAYS))
        .options(joinedload(DeviceCertificate.device)).order_by(DeviceCertificate.expires_on)).scalars()
        if certificate.expires_on <= today + timedelta(days=certificate.remind_days or 0)]
    if not due:
        return 0
    from ..notices.targeting import admin_ids
    from ..notices.templates import notify_staff

    lines = '；'.join(f'{c.device.code} {c.device.name}：{c.name}{"已于" if c.expires_on < today else "将于"}'
                     f'{c.expires_on.isoformat()}到期' for c in due[:20]) + ('等' if len(due) > 20 else '')
    for certificate in due:
        certificate.reminded_at = now
    db.session.commit()
    try:
        notify_staff(admin_ids(), 'certificate_expiring', {'count': len(due), 'certificates': lines},
                     source_key=f'inspections:certificates:{now:%Y%m%d%H%M}:{due[0].id}',
                     link='/equipment/certificates')
    except DomainError as exc:
        db.session.rollback()
        log.warning('certificate reminder not sent: %s', exc.message)
    return len(due)


def run_hourly(now: datetime | None = None) -> dict:
    """The project's hourly work: flag missed tasks (and tell the admins), remind of certificates about to lapse
    and of spare parts running low, then generate ahead. Commits."""
    now = now or clock.now_utc()
    missed = flag_missed(now)
    db.session.commit()
    tell_admins_missed(missed)
    reminded = remind_certificates(now)
    low = remind_low_stock(now)
    return {**generate_ahead(now).as_dict(), 'missed': len(missed), 'certificates': reminded, 'low_stock': low}


@job(_l('巡检任务：生成与漏检'))
def generate_tasks() -> dict:
    return run_hourly()


def _tenants_with_plans() -> list[int]:
    with platform_scope():
        ids = db.session.execute(sa.select(InspectionPlan.tenant_id).distinct()
                                 .join(Tenant, Tenant.id == InspectionPlan.tenant_id)
                                 .where(InspectionPlan.enabled.is_(True), Tenant.status == Tenant.ACTIVE)
                                 ).scalars().all()
        db.session.rollback()
    return sorted(ids)


@maintenance_task
def sweep(now=None) -> dict:
    """Platform maintenance (every worker loop): start ``generate_tasks`` for each project with enabled plans,
    unless it is queued, running, or finished less than EVERY_MINUTES ago."""
    now = now or clock.now_utc()
    started = 0
    for tenant_id in _tenants_with_plans():
        with tenant_scope(tenant_id):
            started += start_unless_current(generate_tasks, key=JOB_KEY,
                                            done_since=now - timedelta(minutes=EVERY_MINUTES))
    return {'tenants': started}


def generate_now(slug: str | None = None, first: date | None = None,
                 days: int = HORIZON_DAYS) -> list[tuple[str, dict]]:
    """For ``flask inspections generate``: inline, for one project or every active one, mark the tasks past due
    missed (telling the admins), then generate from ``first`` (default: the project's today) for ``days`` more
    days. (slug, report) pairs."""
    results = []
    for tenant_id, tenant_slug in active_tenants(slug):
        with tenant_scope(tenant_id):
            missed = flag_missed()
            db.session.commit()
            tell_admins_missed(missed)
            remind_certificates()
            remind_low_stock()
            tenant = db.session.get(Tenant, tenant_id)
            start = first or clock.tenant_today(tenant)
            report = generate(start, start + timedelta(days=days))
            db.session.commit()
            results.append((tenant_slug, {**report.as_dict(), 'missed': len(missed)}))
    return results
