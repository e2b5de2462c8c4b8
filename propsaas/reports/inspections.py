"""巡检报表 (inspections): the tasks of the range by plan and person — counted, done, done on time, done late and
missed — with the definitions of 巡检统计 (inspections/report.py, docs/inspections.md):

- a task *counts* when its round started in the range (local days) and is due by now (a round still running is
  neither late nor missed);
- **按时** done by its due time; **超时完成** done after it (a missed round done late, 补检, is one of these);
  **漏检** not done (flagged missed, or still open past its due time);
- the **person** of a task is who completed it, else the one it was assigned to by name; a task for a duty that
  nobody did is under 未指定（按岗位）;
- with a building chosen, only the tasks of devices in that building count (rounds of places have no building).

One statement for the page, grouped by plan and person; the per-plan totals are their sums.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from ..auth.models import User
from ..extensions import db
from ..inspections.models import Device, InspectionPlan, InspectionTask
from .common import ReportFilter, Sheet, book_bytes, new_book, percent


@dataclass
class Counts:
    counted: int = 0
    done: int = 0
    on_time: int = 0

    @property
    def late(self) -> int:
        return self.done - self.on_time

    @property
    def missed(self) -> int:
        return self.counted - self.done

    @property
    def rate(self):
        return percent(self.done, self.counted)

    def add(self, other: Counts) -> None:
        self.counted += other.counted
        self.done += other.done
        self.on_time += other.on_time


@dataclass
class PersonRow(Counts):
    user_id: int | None = None
    person: str = ''


@dataclass
class PlanRow(Counts):
    plan_id: int = 0
    plan: str = ''
    people: list[PersonRow] = field(default_factory=list)


@dataclass
class InspectionReport:
    filter: ReportFilter
    plans: list[PlanRow]
    total: Counts


def compute(tenant, f: ReportFilter, now: datetime) -> InspectionReport:
    """Every plan's and person's counts as of ``now``: one statement."""
    low, high = f.bounds(tenant)
    person = sa.func.coalesce(InspectionTask.completed_by_id, InspectionTask.assignee_id)
    done = InspectionTask.status == 'done'
    on_time = sa.and_(done, InspectionTask.completed_at <= InspectionTask.due_at)

    def total(condition):
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    query = (sa.select(InspectionPlan.id, InspectionPlan.name, person.label('person'), User.name,
                       sa.func.count(InspectionTask.id), total(done), total(on_time))
             .select_from(InspectionTask)
             .join(InspectionPlan, InspectionPlan.id == InspectionTask.plan_id)
             .outerjoin(User, User.id == person)
             .where(InspectionTask.period_start >= low, InspectionTask.period_start < high,
                    InspectionTask.due_at <= now)
             .group_by(InspectionPlan.id, InspectionPlan.name, person, User.name)
             .order_by(InspectionPlan.name, InspectionPlan.id))
    if f.building_id is not None:
        query = query.join(Device, Device.id == InspectionTask.device_id).where(Device.building_id == f.building_id)
    plans: dict[int, PlanRow] = {}
    grand = Counts()
    for plan_id, plan_name, user_id, name, counted, done_n, on_time_n in db.session.execute(query):
        row = PersonRow(int(counted), int(done_n), int(on_time_n), user_id=user_id,
                        person=name if user_id is not None else _('未指定（按岗位）'))
        plan = plans.setdefault(plan_id, PlanRow(plan_id=plan_id, plan=plan_name))
        plan.people.append(row)
        plan.add(row)
        grand.add(row)
    for plan in plans.values():
        plan.people.sort(key=lambda p: (p.user_id is None, -p.done, p.person))
    return InspectionReport(filter=f, plans=list(plans.values()), total=grand)


def export_xlsx(tenant, f: ReportFilter, now: datetime, *, project_name: str = '', building_name: str = '') -> bytes:
    """One sheet: each plan's row, then its people's; the range's total last."""
    figures = compute(tenant, f, now)
    book = new_book()
    sheet = Sheet(book, _('巡检报表'))
    sheet.row(_('%(project)s 巡检报表 %(start)s 至 %(end)s（%(scope)s）', project=project_name,
                start=f.start.isoformat(), end=f.end.isoformat(), scope=building_name or _('全部楼栋')).strip())
    sheet.row(_('巡检计划'), _('人员'), _('应检'), _('已完成'), _('按时'), _('超时完成'), _('漏检'), _('完成率（%）'))

    def counts(c: Counts):
        return c.counted, c.done, c.on_time, c.late, c.missed, c.rate

    for plan in figures.plans:
        sheet.row(plan.plan, _('（计划合计）'), *counts(plan))
        for person in plan.people:
            sheet.row(plan.plan, person.person, *counts(person))
    sheet.row(_('合计'), '', *counts(figures.total))
    return book_bytes(book)
