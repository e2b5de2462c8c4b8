"""Saving a running project's configuration as a new delivery template: ``flask --app wsgi tenants save-template
SLUG NAME`` writes ``tenants/NAME/`` so that a project that runs well becomes the template for the next one.

One function per section, mirroring the provisioners (``propsaas/*/provisioning.py``): each reads what its
provisioner made, *as the project has it now* (edited prices, renamed categories, reworded message templates,
checklists ...), and returns the TOML document the loader (``tenancy.delivery``) reads back. Only configuration is
read: never residents, rooms or their occupants, bills, payments, work orders, users, dispatch groups (they name
people) or anything else personal. The folder is written next to the others under a hidden name, validated with
``load_template`` and only then renamed into place, so a template that would not load is never left behind.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
import tomli_w
from flask_babel import lazy_gettext as _l

from ..errors import DomainError
from ..extensions import db
from ..money import format_yuan
from .clock import tenant_today
from .context import tenant_scope
from .delivery import (
    LATE_FEE_FIELDS,
    NAME_RE,
    NOTICE_CATEGORIES,
    RULES_FIELDS,
    DeliveryTemplate,
    TemplateError,
    load_template,
)
from .models import Tenant
from .provisioning import find_tenant, templates_root

__all__ = ['SavedTemplate', 'export_template', 'save_template']


@dataclass
class SavedTemplate:
    path: Path
    template: DeliveryTemplate  # the written folder as load_template reads it back


# --------------------------------------------------------------------------- sections
# Each takes the project (inside its tenant scope) and the template it was provisioned from (None when that is gone
# or broken: it only fills in what the database does not keep, such as a plan's min_staff).

Section = Callable[[Tenant, DeliveryTemplate | None], dict | None]


def _settings(tenant: Tenant) -> dict:
    return dict(tenant.settings or {})


def _clean(entry: dict) -> dict:
    """TOML has no null, and the loader refuses empty optional texts: leave those keys out."""
    return {key: value for key, value in entry.items() if value is not None and value != ''}


def export_tenant(tenant: Tenant, origin: DeliveryTemplate | None) -> dict:
    settings = _settings(tenant)
    source = f'，最初来自模板 {tenant.template}' if tenant.template else ''
    return {
        'title': tenant.name,
        'description': f'由项目“{tenant.name}”于 {tenant_today(tenant).isoformat()} 保存的配置{source}。',
        'settings': {'timezone': tenant.timezone, 'locale': tenant.locale,
                     'billing_day': settings.get('billing_day', 1), 'currency': settings.get('currency', 'CNY')},
        'duties': [_clean({'code': d.get('code'), 'name': d.get('name'), 'description': d.get('description')})
                   for d in settings.get('duties', [])],
    }


def export_fees(tenant: Tenant, origin: DeliveryTemplate | None) -> dict:
    """The active fee items in their order, at today's project-wide price; the late fee and the [rules] switches.

    A project-wide billing rule in force today (a price change from a month on) is the item's price for the next
    project; rules for one room type, building, unit or room belong to this project's buildings and stay here.
    The late-fee item (滞纳金) is made by the provisioner from [late_fee], so it is not listed.
    """
    from ..billing.late_fees import settings_of
    from ..billing.models import LATE_FEE, BillingRule, FeeItem

    items = db.session.execute(sa.select(FeeItem).where(FeeItem.active.is_(True), FeeItem.charging != LATE_FEE)
                               .order_by(FeeItem.sort_order, FeeItem.id)).scalars().all()
    in_force = {}
    rules = db.session.execute(sa.select(BillingRule).where(
        BillingRule.scope == 'tenant', BillingRule.exempt.is_(False),
        BillingRule.effective_from <= tenant_today(tenant)).order_by(BillingRule.effective_from, BillingRule.id))
    for rule in rules.scalars():
        in_force[rule.fee_item_id] = rule  # the latest wins
    entries = []
    for item in items:
        rule = in_force.get(item.id)
        entry = {'code': item.code, 'name': item.name, 'charging': item.charging, 'recurring': item.recurring}
        if item.charging in ('area', 'meter'):
            entry['rate'] = rule.rate if rule is not None and rule.rate is not None else item.rate
        else:
            amount_fen = rule.amount_fen if rule is not None and rule.amount_fen is not None else item.amount_fen
            entry['amount'] = format_yuan(amount_fen)
            if item.recurring:
                entry['period'] = item.cycle
        entry['applies_to'] = item.applies_to
        if item.charging == 'meter':
            entry.update(meter=item.meter, shared=item.shared)
            if item.shared:
                entry['split_by'] = item.split_by or 'area'
        entry['note'] = item.note
        entries.append(_clean(entry))
    late_fee = settings_of(tenant).as_dict()
    stored_rules = _settings(tenant).get('rules') or {}
    return {
        'fee_items': entries,
        'late_fee': {key: late_fee[key] for key in LATE_FEE_FIELDS if key in late_fee},
        'rules': {key: stored_rules[key] for key in RULES_FIELDS if stored_rules.get(key) is not None},
    }


def export_repairs(tenant: Tenant, origin: DeliveryTemplate | None) -> dict:
    """Repair categories (active, in order), response times and return-visit hours. Dispatch rules and groups
    name this project's technicians and buildings, so they are set up anew in the next project."""
    from ..repairs.models import RepairCategory

    repairs = _settings(tenant).get('repairs') or {}
    categories = db.session.execute(sa.select(RepairCategory).where(RepairCategory.active.is_(True))
                                    .order_by(RepairCategory.sort_order, RepairCategory.id)).scalars()
    response_times = [_clean({key: entry.get(key) for key in ('priority', 'name', 'onsite_minutes', 'working_days',
                                                                'examples')})
                      for entry in repairs.get('response_times') or []]
    return {
        'return_visit_hours': repairs.get('return_visit_hours') or 48,
        'categories': [{'code': c.code, 'name': c.name, 'area': c.area} for c in categories],
        'response_times': response_times,
    }


def frequency_entry(frequency: dict) -> dict:
    """A stored frequency (inspections.schedule.Frequency as JSON) in the template's words: ``every`` or
    ``times_per_day``. The template counts from the new project's first day, so the weekday of a weekly plan and
    the day of a monthly one follow that day; a plan on several weekdays becomes "at least every N days"."""
    kind = frequency.get('kind')
    if kind == 'daily':
        times = int(frequency.get('times', 1))
        if times == 1:
            return {'every': '1d'}
        return {'times_per_day': times} if times <= 24 else {'every': f'{1440 // times}min'}
    if kind == 'weekly':
        days_a_week = len(frequency.get('weekdays') or []) or 1
        return {'every': '1w'} if days_a_week == 1 else {'every': f'{max(7 // days_a_week, 1)}d'}
    if kind == 'monthly':
        months = int(frequency.get('months', 1))
        return {'every': f'{months // 12}y'} if months % 12 == 0 else {'every': f'{months}M'}
    days = int(frequency.get('days', 1))
    return {'every': f'{days // 7}w'} if days > 7 and days % 7 == 0 else {'every': f'{days}d'}


def _same_frequency(entry: dict, plan) -> bool:
    from ..inspections.schedule import from_template

    try:
        return from_template(entry, plan.starts_on).to_json() == plan.frequency
    except (KeyError, ValueError):
        return False


def export_inspections(tenant: Tenant, origin: DeliveryTemplate | None) -> dict:
    """Every plan (disabled ones with enabled = false) with its checklist, check points and photos. Devices and a
    plan's one assignee are this project's; a plan given to one person keeps the duty of the template's plan."""
    from ..inspections.models import InspectionPlan
    from ..inspections.provisioning import CHECKLISTS, DEFAULT_CHECKLIST

    before = {p['code']: p for p in (origin.sections['inspections']['plans'] if origin else [])}
    plans = db.session.execute(sa.select(InspectionPlan).order_by(InspectionPlan.id)).scalars()
    entries = []
    for plan in plans:
        was = before.get(plan.code, {})
        # the template's own words ("60min", "2h") when they still give the plan's frequency
        frequency = {key: was[key] for key in ('every', 'times_per_day') if key in was}
        if not frequency or not _same_frequency(frequency, plan):
            frequency = frequency_entry(plan.frequency or {})
        retention = plan.retention_years
        if plan.target == 'lift':
            retention = max(retention or 0, 4)  # lift records are kept at least 4 years (TSG T5002)
        # the target's standard checklist is what the next project gets anyway: only a changed one is written
        checklist = [_clean({key: item.get(key) for key in ('label', 'kind', 'unit', 'min', 'max')})
                     for item in plan.checklist or []]
        standard = [_clean(item) for item in CHECKLISTS.get(plan.target, DEFAULT_CHECKLIST)]
        entries.append(_clean({
            'code': plan.code, 'name': plan.name, 'target': plan.target, **frequency,
            'duty': plan.duty or was.get('duty') or 'technician',
            'min_staff': was.get('min_staff') if was.get('min_staff', 1) != 1 else None,
            'duration_minutes': plan.duration_minutes, 'retention_years': retention,
            'enabled': None if plan.enabled else False,
            'basis': plan.basis, 'note': plan.note, 'checklist': checklist if checklist != standard else None,
            'points': list(plan.points) if plan.points else None, 'photos_required': plan.photos_required or None,
        }))
    return {'plans': entries}


def export_notices(tenant: Tenant, origin: DeliveryTemplate | None) -> dict:
    """Announcement categories and quiet hours, and the message templates as the project worded them: the
    announcement templates ([[templates]]) and the messages features send ([[messages]]). The SMS provider's
    template codes and WeChat template ids belong to this project's accounts and stay here."""
    from ..notices.models import MessageTemplate

    settings = _settings(tenant)
    quiet = (settings.get('notifications') or {}).get('quiet_hours') or ['22:00', '08:00']
    rows = db.session.execute(sa.select(MessageTemplate).order_by(MessageTemplate.id)).scalars().all()
    templates = [{'code': t.code, 'category': t.category, 'title': t.title, 'body': t.body}
                 for t in rows if t.category]
    messages = [_clean({'code': m.code, 'name': m.name, 'title': m.title, 'body': m.body, 'sms': m.sms_text})
                | {'variables': list(m.variables or []), 'channels': list(m.channels or [])}
                for m in rows if not m.category]
    doc = {'categories': list(settings.get('notice_categories') or NOTICE_CATEGORIES),
           'quiet_hours': '-'.join(quiet), 'templates': templates}
    if messages:
        doc['messages'] = messages
    return doc


def export_faq(tenant: Tenant, origin: DeliveryTemplate | None) -> dict:
    """The project's FAQ (常见问题, kept in its settings since provisioning); a project provisioned before that
    carries its template's."""
    entries = _settings(tenant).get('faq')
    if not entries and origin is not None:
        entries = origin.sections['faq']['entries']
    if not entries:
        raise DomainError(_l('项目没有常见问题（FAQ），无法保存为交付模板'))
    return {'entries': [{'question': e['question'], 'answer': e['answer']} for e in entries]}


def export_property(tenant: Tenant, origin: DeliveryTemplate | None) -> dict:
    """Room types and tags, the residents import's column headers, and the gates (门禁点, active ones). Buildings
    and rooms are this project's and are not written."""
    from ..residents.models import Gate
    from .delivery import default_property

    settings, defaults = _settings(tenant), default_property()
    prop = settings.get('property') or {}
    gates = db.session.execute(sa.select(Gate).where(Gate.active.is_(True)).order_by(Gate.id)).scalars()
    doc = {'room_tags': list(prop.get('room_tags') or []),
           'room_types': [{'code': t['code'], 'name': t['name']} for t in prop.get('room_types') or
                          defaults['room_types']],
           'gates': [{'code': g.code, 'name': g.name} for g in gates],
           'import': {key: list(names) for key, names in (settings.get('import_headers') or
                                                            defaults['import_headers']).items()}}
    if not doc['gates']:
        del doc['gates']  # optional; the loader refuses an empty array of tables
    return doc


def export_surveys(tenant: Tenant, origin: DeliveryTemplate | None) -> dict | None:
    """The project's surveys as drafts-to-be: their questions, never their answers or audience. A yearly
    satisfaction survey appears once (the latest year), without the year the next project puts in front."""
    from ..notices.models import Survey

    latest: dict[tuple[str, str], Survey] = {}
    for survey in db.session.execute(sa.select(Survey).order_by(Survey.id)).scalars():
        title = survey.title
        if survey.kind == 'satisfaction' and survey.year and title.startswith(f'{survey.year}年度'):
            title = title[len(f'{survey.year}年度'):]
        latest.pop((survey.kind, title), None)
        latest[(survey.kind, title)] = survey  # re-inserted: the order is that of the latest
    surveys = []
    for number, ((kind, title), survey) in enumerate(latest.items(), 1):
        questions = [_clean({'kind': q.kind, 'text': q.text, 'options': list(q.options or []) or None,
                             'required': q.required}) for q in survey.questions]
        if questions:
            surveys.append(_clean({'code': f'survey_{number}', 'title': title, 'kind': kind,
                                   'description': survey.description}) | {'questions': questions})
    return {'surveys': surveys} if surveys else None


#: file -> section writer, in the order of the template's files
SECTIONS: dict[str, Section] = {
    'tenant.toml': export_tenant,
    'fees.toml': export_fees,
    'repairs.toml': export_repairs,
    'inspections.toml': export_inspections,
    'notices.toml': export_notices,
    'faq.toml': export_faq,
    'property.toml': export_property,
    'surveys.toml': export_surveys,
}


# --------------------------------------------------------------------------- the folder


def _origin(tenant: Tenant) -> DeliveryTemplate | None:
    if not tenant.template:
        return None
    try:
        return load_template(tenant.template, templates_root())
    except TemplateError:
        return None  # renamed, removed or broken since: the database has everything but a few extras


def export_template(tenant: Tenant) -> dict[str, dict]:
    """file name -> TOML document of the project's configuration; call inside the project's tenant scope. Reads
    only (a handful of statements, whatever the size of the project)."""
    origin = _origin(tenant)
    docs = {file: export(tenant, origin) for file, export in SECTIONS.items()}
    return {file: doc for file, doc in docs.items() if doc is not None}


def _header(tenant: Tenant, file: str) -> str:
    return (f'# {file}: saved from project {tenant.slug} ({tenant.name}) with `flask --app wsgi tenants save-template`'
            f' on {tenant_today(tenant).isoformat()}.\n'
            '# 由运行中的项目配置保存；格式见 docs/delivery-templates.md。修改后请用 load_template 校验。\n\n')


def save_template(slug: str, name: str, root: Path | None = None) -> SavedTemplate:
    """Write project ``slug``'s configuration as the template folder ``root/name`` (default: the templates root).

    Raises DomainError for an unknown project, a bad name or an existing folder (never overwritten), and
    TemplateError when what the project holds would not load as a template (nothing is written then).
    The caller rolls back the (read-only) session.
    """
    root = Path(root) if root is not None else templates_root()
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise DomainError(_l('模板名称只能用小写字母、数字和“-”，以字母或数字开头，最长 63 个字符：%(name)s',
                             name=name))
    if (root / name).exists():
        raise DomainError(_l('模板 %(name)s 已存在，请换一个名称（已有模板不会被覆盖）', name=name))
    tenant = find_tenant((slug or '').strip().lower())
    if tenant is None:
        raise DomainError(_l('找不到项目 %(slug)s', slug=slug))
    with tenant_scope(tenant.id):
        docs = export_template(tenant)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f'.{name}-', dir=root))  # hidden: list_templates skips it
    try:
        folder = staging / name
        folder.mkdir()
        for file, doc in docs.items():
            text = _header(tenant, file) + tomli_w.dumps(doc, multiline_strings=True)
            (folder / file).write_text(text, encoding='utf-8')
        load_template(name, staging)  # raises TemplateError with every problem, before anything is in place
        if (root / name).exists():
            raise DomainError(_l('模板 %(name)s 已存在，请换一个名称（已有模板不会被覆盖）', name=name))
        os.rename(folder, root / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return SavedTemplate(path=root / name, template=load_template(name, root))
