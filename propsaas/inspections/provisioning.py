"""Provisioning of a delivery template's inspections.toml: one InspectionPlan per [[plans]] entry, its frequency
from ``every`` or ``times_per_day`` (inspections.schedule.from_template), starting on the project's first day.

The template says what is inspected and how often; the checklist each target starts with is below (what the
national rules and common practice check), for the admin to edit per plan, unless the plan brings its own
(``checklist``, as a template saved from a running project does), with its check points and required photos."""
from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..tenancy.clock import tenant_today
from ..tenancy.delivery import DeliveryTemplate, load_template
from ..tenancy.models import Tenant
from ..tenancy.provisioning import provisioner, templates_root
from .models import InspectionPlan
from .schedule import from_template


def check(label: str) -> dict:
    return {'label': label, 'kind': 'check'}


def reading(label: str, unit: str, low: str | None, high: str | None) -> dict:
    return {'label': label, 'kind': 'reading', 'unit': unit, 'min': low, 'max': high}


def note(label: str) -> dict:
    return {'label': label, 'kind': 'note'}


#: target -> the checklist a new plan starts with
CHECKLISTS = {
    'lift': [check('运行平稳，无异响、无异常振动'), check('轿厢照明、通风正常'),
             check('紧急报警装置（五方通话）有效'), check('层门、轿门开关正常，门锁可靠'), check('平层准确'),
             check('机房整洁，无杂物'), note('维保单位签字人')],
    'fire': [check('消防通道、安全出口畅通'), check('疏散指示、应急照明完好'), check('灭火器在位，压力在绿区'),
             check('消火栓箱完好，水带水枪齐全'), check('防火门常闭、闭门器完好'),
             reading('消防水池水位', 'm', '1.5', None)],
    'fire_control_room': [check('火灾报警控制器运行正常，无故障'), check('值班人员持证在岗'),
                          reading('消防泵出口压力', 'MPa', '0.3', '1.2'), note('值班记录')],
    'water_tank': [check('水箱盖板加锁，通气孔防虫网完好'), check('水箱周边无污染源'),
                   reading('余氯', 'mg/L', '0.05', '2'), reading('浊度', 'NTU', None, '1')],
    'pump_room': [check('水泵运行正常，无异响、无渗漏'), reading('出水压力', 'MPa', '0.2', '0.8'),
                  check('控制柜指示正常'), check('排水、通风良好')],
    'switch_room': [reading('进线电压', 'V', '360', '420'), reading('室温', '℃', None, '35'),
                    check('开关柜指示正常，无异味、异响'), check('绝缘垫、灭火器在位'), check('防小动物措施完好')],
    'generator': [check('启动正常'), reading('输出电压', 'V', '380', '420'), reading('频率', 'Hz', '49.5', '50.5'),
                  check('油位、水位、电瓶正常'), reading('空载运行时长', '分钟', '15', None)],
    'patrol': [check('各岗点打卡完成'), check('门岗、车库、周界无异常'), note('异常情况及处理')],
}
DEFAULT_CHECKLIST = [check('外观完好，运行正常'), note('备注')]


def _plan(entry: dict, today) -> InspectionPlan:
    """A plan of the delivery template's as the project starts with it (from ``today``)."""
    return InspectionPlan(code=entry['code'], name=entry['name'], target=entry['target'],
                          frequency=from_template(entry, today).to_json(), starts_on=today,
                          checklist=[dict(item) for item in entry.get('checklist') or CHECKLISTS.get(
                              entry['target'], DEFAULT_CHECKLIST)], points=list(entry.get('points') or []),
                          duty=entry.get('duty'), duration_minutes=entry.get('duration_minutes'),
                          retention_years=entry.get('retention_years'), basis=entry.get('basis'),
                          note=entry.get('note'), enabled=entry.get('enabled', True),
                          photos_required=entry.get('photos_required') or 0)


def _template_plans(template: DeliveryTemplate) -> list[dict]:
    return (template.sections.get('inspections') or {}).get('plans') or []


@provisioner
def provision_inspections(tenant: Tenant, template: DeliveryTemplate) -> None:
    today = tenant_today(tenant)
    db.session.add_all([_plan(entry, today) for entry in _template_plans(template)])
    db.session.flush()


def add_missing_plans(tenant: Tenant) -> list[str]:
    """Add the inspection plans of the project's delivery template that it lacks, by code (a project provisioned
    before inspections existed has none); plans it has, edited or not, are left alone. The codes added; their tasks
    come with the next generation (hourly, or ``flask inspections generate``). For ``flask inspections add-plans``;
    the caller commits. Raises TemplateError for a broken template."""
    if not tenant.template:
        return []
    have = set(db.session.execute(sa.select(InspectionPlan.code)).scalars())
    today = tenant_today(tenant)
    missing = [_plan(entry, today) for entry in _template_plans(load_template(tenant.template, templates_root()))
               if entry['code'] not in have]
    db.session.add_all(missing)
    db.session.flush()
    return [plan.code for plan in missing]
