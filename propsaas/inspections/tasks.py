"""Doing an inspection task (执行巡检): checking in on site, recording each checklist item, and a failure turned into
a work order.

    check_in(task, by_user=technician)                     # the first scan of the device's label: the time on site
    outcome = complete(task, answers, by_user=technician)  # every item answered; failures open one work order
    db.session.commit()

An item is answered by its kind: a *check* pass (``ok`` true) or fail; a *reading* a number (``value``) that fails
when outside the item's range (``min``/``max``, both included); a *note* text. Failed checks and readings out of
range are the task's failures: they open one work order (channel 'inspection', linked to the task and its device;
unique per task, so a repeated submission never opens a second), in the device's building and place, in the repair
category the device's kind maps to.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..auth.models import User
from ..errors import DomainError, NotAllowed
from ..extensions import db
from ..models_base import utcnow
from ..repairs import orders
from ..repairs.models import RepairCategory, WorkOrder
from ..repairs.photos import store_photo
from .models import InspectionPhoto, InspectionPlan, InspectionTask

MAX_NOTE = 500
MAX_PHOTOS = 6
#: device category -> repair category code (delivery template repairs.toml) of the order a failure opens
REPAIR_CATEGORY = {'lift': 'lift', 'water_pump': 'plumbing', 'water_tank': 'plumbing', 'fire_pump': 'plumbing',
                   'switchgear': 'electrical', 'generator': 'electrical', 'gate': 'access_security',
                   'cctv': 'access_security'}
FALLBACK_CATEGORY = 'public_facilities'


class TaskDone(DomainError):
    """The task was done already: a second submission (409)."""

    status_code = 409


@dataclass
class Outcome:
    task: InspectionTask
    #: (item label, what was found) of each failed item
    failures: list[tuple[str, str]] = field(default_factory=list)
    work_order: WorkOrder | None = None


def locked(task_id: int) -> InspectionTask | None:
    """The task, its row locked until the transaction ends (two submissions of one task: the second waits, then
    finds it done)."""
    return db.session.execute(sa.select(InspectionTask).where(InspectionTask.id == task_id)
                              .with_for_update()).scalar_one_or_none()


def check_in(task: InspectionTask, *, by_user: User, now: datetime | None = None) -> InspectionTask:
    """Record the time the technician opened the task on site (the first time only). Does not commit."""
    _may_do(task, by_user)
    if task.checked_in_at is None:
        task.checked_in_at = now or utcnow()
    return task


def may_do(task: InspectionTask, user: User) -> bool:
    """Whether ``user`` may do the task: an admin; the staff member it is assigned to; anyone with the plan's duty
    when it is assigned to nobody (``doable_by`` is the same in SQL)."""
    if user.role == 'admin':
        return True
    plan = task.plan
    return user.role == 'staff' and (task.assignee_id == user.id or bool(
        task.assignee_id is None and plan.duty and user.has_duty(plan.duty)))


def _may_do(task: InspectionTask, user: User) -> None:
    if not may_do(task, user):
        raise NotAllowed(_l('这项巡检不是派给你的'))


def doable_by(user: User):
    """SQL: the tasks ``user`` may do — every task for an admin; for staff, those assigned to them and those of
    plans whose duty they have that are assigned to nobody."""
    if user.role == 'admin':
        return sa.true()
    duties = [d for d in (user.duties or []) if isinstance(d, str)]
    plan_duty = sa.select(InspectionPlan.id).where(InspectionPlan.duty.in_(duties or ['']))
    return sa.or_(InspectionTask.assignee_id == user.id,
                  sa.and_(InspectionTask.assignee_id.is_(None), InspectionTask.plan_id.in_(plan_duty)))


def add_photo(task: InspectionTask, data: bytes, *, by_user: User) -> InspectionPhoto:
    """One photo of a task not done yet (at most MAX_PHOTOS): re-encoded and stored. PhotoError (422) for anything
    else than a sound photo. Does not commit."""
    _may_do(task, by_user)
    if task.status == 'done':
        raise TaskDone(_l('这项巡检已经完成，不能再添加照片'))
    if photo_count(task) >= MAX_PHOTOS:
        raise DomainError(_l('每项巡检最多 %(n)s 张照片', n=MAX_PHOTOS), field='photos')
    photo = InspectionPhoto(task_id=task.id, uploaded_by_id=by_user.id, **store_photo(f'inspections/{task.id}', data))
    db.session.add(photo)
    db.session.flush()
    return photo


def photo_count(task: InspectionTask) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(InspectionPhoto)
                              .where(InspectionPhoto.task_id == task.id)).scalar_one()


def _reading(value, item: dict, position: int) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise DomainError(_l('第 %(n)s 项「%(label)s」请填写数字读数', n=position, label=item['label']),
                          field=f'item-{position}') from None
    if not number.is_finite() or abs(number) >= Decimal('1e12'):
        raise DomainError(_l('第 %(n)s 项「%(label)s」请填写数字读数', n=position, label=item['label']),
                          field=f'item-{position}')
    return number


def _out_of_range(number: Decimal, item: dict) -> bool:
    low, high = item.get('min'), item.get('max')
    return (low not in (None, '') and number < Decimal(str(low))) or \
        (high not in (None, '') and number > Decimal(str(high)))


def _range_text(item: dict) -> str:
    low, high, unit = item.get('min'), item.get('max'), item.get('unit') or ''
    if low not in (None, '') and high not in (None, ''):
        return f'{low}–{high}{unit}'
    if low not in (None, ''):
        return f'≥{low}{unit}'
    return f'≤{high}{unit}'


def read_answers(checklist: list[dict], answers: list[dict]) -> tuple[list[dict], list[tuple[str, str]]]:
    """The stored results and the failures of ``answers`` (one per checklist item, in order). DomainError naming
    the first item not answered properly."""
    if len(answers) != len(checklist):
        raise DomainError(_l('请逐项填写巡检结果（共 %(n)s 项）', n=len(checklist)))
    results, failures = [], []
    for position, (item, answer) in enumerate(zip(checklist, answers, strict=True), start=1):
        answer = answer or {}
        note = str(answer.get('note') or '').strip()
        if len(note) > MAX_NOTE:
            raise DomainError(_l('第 %(n)s 项的说明最多 %(max)s 字', n=position, max=MAX_NOTE),
                              field=f'item-{position}')
        if item['kind'] == 'check':
            if answer.get('ok') not in (True, False):
                raise DomainError(_l('第 %(n)s 项「%(label)s」请选择正常或异常', n=position, label=item['label']),
                                  field=f'item-{position}')
            ok = answer['ok']
            results.append({'ok': ok, 'value': None, 'note': note})
            if not ok:
                failures.append((item['label'], note or str(_l('异常'))))
        elif item['kind'] == 'reading':
            number = _reading(answer.get('value'), item, position)
            ok = not _out_of_range(number, item)
            results.append({'ok': ok, 'value': str(number), 'note': note})
            if not ok:
                failures.append((item['label'], str(_l('读数 %(value)s%(unit)s，超出 %(range)s', value=number,
                                                       unit=item.get('unit') or '', range=_range_text(item)))))
        else:
            results.append({'ok': True, 'value': None, 'note': note})
    return results, failures


def complete(task: InspectionTask, answers: list[dict], *, by_user: User, photos: list[bytes] = (),
             now: datetime | None = None) -> Outcome:
    """Record the task's results (an open task, or a missed one done late) with these photos added (together with
    any uploaded before, at least as many as the plan requires): done, with who and when; failures open one work
    order. DomainError for a task done already (409), not the user's (403), an item not answered or a photo
    refused; the caller rolls back then. Does not commit (lock the task row first: ``locked(task_id)``)."""
    _may_do(task, by_user)
    if task.status == 'done':
        raise TaskDone(_l('这项巡检已经完成，不能重复提交'))
    now = now or utcnow()
    results, failures = read_answers(task.plan.checklist or [], answers)
    for data in photos:
        add_photo(task, data, by_user=by_user)
    required = task.plan.photos_required or 0
    if photo_count(task) < required:
        raise DomainError(_l('这项巡检需要拍照 %(n)s 张', n=required), field='photos')
    task.results = results
    task.status = 'done'
    task.checked_in_at = task.checked_in_at or now
    task.completed_at, task.completed_by_id = now, by_user.id
    outcome = Outcome(task=task, failures=failures)
    if failures:
        outcome.work_order = _open_work_order(task, failures, by_user, now)
    db.session.flush()
    return outcome


def _open_work_order(task: InspectionTask, failures, by_user: User, now: datetime) -> WorkOrder:
    existing = db.session.execute(sa.select(WorkOrder).where(WorkOrder.inspection_task_id == task.id)
                                  ).scalar_one_or_none()
    if existing is not None:
        return existing
    device, plan = task.device, task.plan
    code = REPAIR_CATEGORY.get(device.category, FALLBACK_CATEGORY) if device is not None else FALLBACK_CATEGORY
    categories = dict(db.session.execute(sa.select(RepairCategory.code, RepairCategory.id)
                                         .where(RepairCategory.active.is_(True), RepairCategory.area != 'home')
                                         .order_by(RepairCategory.sort_order, RepairCategory.id)).all())
    category_id = categories.get(code) or categories.get(FALLBACK_CATEGORY) or next(iter(categories.values()), None)
    if category_id is None:
        raise DomainError(_l('没有可用的公共区域报修分类，无法为巡检异常生成工单'))
    where = (f'{device.code} {device.name}' + (f'（{device.location}）' if device.location else '')) if device \
        else plan.name
    lines = [str(_l('巡检发现异常：%(plan)s，%(where)s', plan=plan.name, where=where))]
    lines += [f'- {label}：{found}' for label, found in failures]
    order = orders.submit(category_id=category_id, description='\n'.join(lines)[:orders.MAX_DESCRIPTION],
                          by_user=by_user, public_area=(where[:100] or plan.name[:100]),
                          building_id=device.building_id if device is not None else None, channel='inspection',
                          now=now)
    order.inspection_task_id, order.device_id = task.id, task.device_id
    return order
