"""The onboarding pack (交付包): ONE PDF a project is handed over with, rendered by a job.

    request_pack(requested_by_id)              # in the current tenant: enqueue (or return the queued/running one)
    request_pack_for(tenant_id)                # platform consoles: the same inside tenant_scope(tenant_id)
    latest_pack()                              # the job record the settings page shows

What it holds, in order: the project's configuration as set (fee items and their rules, repair categories, response
times, duty groups and auto-dispatch rules, inspection plans, notice categories and message templates); an operations
manual per role (admin, 客服, 收费, 工程: templates/onboarding/manuals/); the FAQ; the first admin's login (a fresh
single-use invitation link when they have not set a password yet, else where to log in; never a password); and the
resident invitation sheets: a page per household (room), building by building, with the portal address, a QR code of
the activation page with the code filled in, and the household's single-use activation code.

Rendering issues new codes for every room (deleting the unused older ones) in the job's transaction, which commits
with the job record: the stored PDF is the one valid sheet set. A failed render changes nothing (the old codes and
the old file stay). Sheets are laid out ``BATCH`` rooms per WeasyPrint pass with one ``PdfRenderer`` per job (fonts
and stylesheet set up once), and the pages joined into one document. Files are written atomically under a new name
per run (``onboarding/pack-<time>.pdf``); the run before's file is kept until the next run, others are removed.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from .. import storage
from ..auth import services as auth_services
from ..auth.models import User, hash_token, new_token
from ..billing.models import (
    APPLIES_TO_NAMES,
    CHARGING_NAMES,
    CYCLE_NAMES,
    METER_NAMES,
    RULE_SCOPE_NAMES,
    BillingRule,
    FeeItem,
)
from ..billing.rule_admin import rule_targets
from ..documents.pdf import PdfRenderer, qr_data_uri
from ..extensions import db
from ..inspections.models import TARGET_NAMES, InspectionPlan
from ..inspections.plans import describe_frequency
from ..jobs.models import JobRecord
from ..jobs.queue import QueueUnavailable, job, report_progress
from ..models_base import utcnow
from ..money import format_yuan
from ..notices.models import MessageTemplate
from ..property.models import Building, Room
from ..repairs.models import DispatchGroup, DispatchRule, RepairCategory
from ..tenancy.clock import local_datetime
from ..tenancy.context import current_tenant_id, tenant_scope
from ..tenancy.delivery import TemplateError, load_template
from ..tenancy.models import Tenant
from ..tenancy.urls import tenant_base_url, tenant_url
from .activation import code_days, new_codes, store_codes

#: one record per project: a request while one is queued or running returns it; a finished one is run again
PACK_KEY = 'onboarding:pack'
FOLDER = 'onboarding'
#: invitation sheets laid out per WeasyPrint pass: shares the font setup, small enough to report progress
BATCH = 100
MANUALS = (('admin', _l('管理员操作手册')), ('service_desk', _l('客服操作手册')), ('cashier', _l('收费员操作手册')),
           ('technician', _l('工程人员操作手册')))
AREA_NAMES = {'home': _l('户内'), 'public': _l('公共区域'), 'both': _l('户内和公共区域')}


# --- requesting ----------------------------------------------------------------------------------------------------

def request_pack(requested_by_id: int | None = None) -> JobRecord:
    """Render the current project's pack by job; returns its record (the queued or running one if there is one).

    Commits the current transaction (``enqueue`` does). Raises QueueUnavailable when Redis is configured but down
    (the record stays queued and is sent when the queue is back)."""
    from ..jobs.queue import enqueue

    return enqueue(render_onboarding_pack, key=PACK_KEY, requested_by_id=requested_by_id)


def request_pack_for(tenant_id: int, requested_by_id: int | None = None) -> int:
    """For the platform consoles (operator, company): request the pack of project ``tenant_id``; its record's id."""
    with tenant_scope(tenant_id):
        return request_pack(requested_by_id).id


def pack_for_new_project(tenant_id: int) -> int | None:
    """What every way of creating a project does once it is committed (the CLI, a sign-up verified or approved, the
    company console): request its pack. The record's id; None when the queue is down (the record stays queued and
    is sent when the queue is back)."""
    try:
        return request_pack_for(tenant_id)
    except QueueUnavailable:
        return None


def latest_pack() -> JobRecord | None:
    return db.session.execute(sa.select(JobRecord).where(JobRecord.key == PACK_KEY)).scalar_one_or_none()


# --- what the pack shows -------------------------------------------------------------------------------------------

def _price(item: FeeItem | BillingRule, charging: str, meter: str | None = None) -> str:
    if getattr(item, 'exempt', False):
        return str(_l('免收'))
    if item.rate is not None:
        if charging == 'area':
            return str(_l('%(rate)s 元/平方米', rate=item.rate))
        if charging == 'meter':
            return str(_l('%(rate)s 元/单位（%(meter)s）', rate=item.rate, meter=METER_NAMES.get(meter, meter or '')))
        return str(_l('%(rate)s 元', rate=item.rate))
    if item.amount_fen is not None:
        return str(_l('%(amount)s 元', amount=format_yuan(item.amount_fen)))
    return str(_l('按收费项目'))


def fee_items() -> list[dict]:
    """Fee items with their rules (three statements at most for the rule targets, one for items, one for rules)."""
    items = db.session.execute(sa.select(FeeItem).order_by(FeeItem.active.desc(), FeeItem.sort_order, FeeItem.id)
                               ).scalars().all()
    rules = db.session.execute(sa.select(BillingRule).order_by(BillingRule.fee_item_id, BillingRule.scope,
                                                               BillingRule.effective_from, BillingRule.id)
                               ).scalars().all()
    targets = rule_targets(rules)
    items_by_id = {item.id: item for item in items}
    by_item: dict[int, list[dict]] = {}
    for rule in rules:
        item = items_by_id.get(rule.fee_item_id)
        if item is None:
            continue
        where = (targets.get((rule.scope, rule.room_id or rule.unit_id or rule.building_id or 0))
                 or rule.room_type or '')
        by_item.setdefault(rule.fee_item_id, []).append({
            'scope': str(RULE_SCOPE_NAMES.get(rule.scope, rule.scope)), 'target': where,
            'price': _price(rule, item.charging, item.meter), 'from': rule.effective_from.strftime('%Y-%m'),
            'note': rule.note or ''})
    return [{'code': item.code, 'name': item.name, 'active': item.active,
             'charging': str(CHARGING_NAMES.get(item.charging, _l('滞纳金'))),
             'price': _price(item, item.charging, item.meter), 'cycle': str(CYCLE_NAMES.get(item.cycle, item.cycle)),
             'applies_to': str(APPLIES_TO_NAMES.get(item.applies_to, item.applies_to)), 'note': item.note or '',
             'rules': by_item.get(item.id, [])} for item in items]


def repairs(tenant: Tenant) -> dict:
    categories = db.session.execute(sa.select(RepairCategory).order_by(RepairCategory.sort_order, RepairCategory.id)
                                    ).scalars().all()
    groups = db.session.execute(sa.select(DispatchGroup).order_by(DispatchGroup.name)).scalars().all()
    rules = db.session.execute(sa.select(DispatchRule).order_by(DispatchRule.category_id, DispatchRule.id)
                               ).scalars().all()
    user_ids = {m for g in groups for m in g.member_ids or []} | {r.assignee_id for r in rules if r.assignee_id}
    names = dict(db.session.execute(sa.select(User.id, User.name).where(User.id.in_(user_ids))).all()) \
        if user_ids else {}
    buildings = dict(db.session.execute(sa.select(Building.id, Building.name)).all())
    category_names = {c.id: c.name for c in categories}
    group_names = {g.id: g.name for g in groups}
    settings = (tenant.settings or {}).get('repairs') or {}
    return {
        'categories': [{'name': c.name, 'code': c.code, 'area': str(AREA_NAMES.get(c.area, c.area)),
                        'active': c.active} for c in categories],
        'response_times': settings.get('response_times') or [],
        'return_visit_hours': settings.get('return_visit_hours'),
        'groups': [{'name': g.name, 'active': g.active,
                    'members': '、'.join(names.get(m, '?') for m in g.member_ids or [])} for g in groups],
        'rules': [{'category': category_names.get(r.category_id, ''),
                   'building': buildings.get(r.building_id, '') if r.building_id else str(_l('全部楼栋')),
                   'target': (str(_l('班组：%(name)s', name=group_names.get(r.group_id, '')))
                              if r.group_id else names.get(r.assignee_id, ''))} for r in rules],
    }


def inspection_plans(tenant: Tenant) -> list[dict]:
    plans = db.session.execute(sa.select(InspectionPlan).order_by(InspectionPlan.enabled.desc(),
                                                                  InspectionPlan.target, InspectionPlan.name)
                               ).scalars().all()
    return [{'name': p.name, 'target': str(TARGET_NAMES.get(p.target, p.target)), 'frequency': describe_frequency(p),
             'duty': tenant.duty_name(p.duty) if p.duty else '', 'items': len(p.checklist or []),
             'checklist': '、'.join(str(entry.get('label', '')) for entry in (p.checklist or [])[:8]),
             'basis': p.basis or '', 'enabled': p.enabled} for p in plans]


def notices(tenant: Tenant) -> dict:
    templates = db.session.execute(sa.select(MessageTemplate).order_by(MessageTemplate.category.is_(None),
                                                                       MessageTemplate.category, MessageTemplate.code)
                                   ).scalars().all()
    return {'categories': list((tenant.settings or {}).get('notice_categories') or []),
            'templates': [{'name': t.name, 'category': t.category or str(_l('系统消息')), 'title': t.title}
                          for t in templates]}


def project_faq(tenant: Tenant) -> list[dict]:
    """The project's FAQ: ``settings['faq']`` when the project keeps its own, else its delivery template's faq.toml
    (the template is read as it is now; a broken or removed template gives none)."""
    entries = (tenant.settings or {}).get('faq')
    if entries is None and tenant.template:
        from ..tenancy.provisioning import templates_root

        try:
            entries = (load_template(tenant.template, templates_root()).sections.get('faq') or {}).get('entries')
        except TemplateError:
            entries = None
    return [{'question': e.get('question', ''), 'answer': e.get('answer', '')} for e in entries or []]


@dataclass(frozen=True)
class AdminLogin:
    name: str
    login: str
    login_url: str
    #: a single-use invitation link when the admin has no password yet; None when the account is active
    invite_url: str | None
    invite_days: int


def first_admin_login(tenant: Tenant) -> tuple[AdminLogin | None, Callable[[], None]]:
    """The first admin's way in, and what to store once the pack is rendered: a FRESH invitation link (the older
    one stops working) when they have not set a password, else where to log in. Never a password."""
    admin = db.session.execute(sa.select(User).where(User.role == 'admin').order_by(User.id).limit(1)
                               ).scalar_one_or_none()
    if admin is None:
        return None, lambda: None
    raw = new_token() if admin.password_hash is None else None

    def store() -> None:
        if raw is not None:
            admin.invite_token_hash = hash_token(raw)
            admin.invite_expires_at = utcnow() + timedelta(days=auth_services.INVITE_DAYS)

    login = AdminLogin(name=admin.name, login=admin.login_label, login_url=tenant_url('/login', tenant),
                       invite_url=tenant_url(f'/invite/{raw}', tenant) if raw else None,
                       invite_days=auth_services.INVITE_DAYS)
    return login, store


@dataclass(frozen=True)
class Sheet:
    room_id: int
    building: str
    label: str
    code: str
    qr: str


def households() -> list[Room]:
    """Every room that is a household: active, not merged into another; building by building, in order."""
    return list(db.session.execute(
        sa.select(Room).join(Building, Building.id == Room.building_id)
        .where(Room.active.is_(True), Room.merged_into_id.is_(None))
        .options(selectinload(Room.building), selectinload(Room.unit))
        .order_by(Building.sort_order, Building.name, Room.code, Room.id)).scalars())


def household_count() -> int:
    return db.session.execute(sa.select(sa.func.count(Room.id)).where(Room.active.is_(True),
                                                                       Room.merged_into_id.is_(None))).scalar_one()


def activation_url(tenant: Tenant, code: str | None = None) -> str:
    return tenant_url('/activate' + (f'?code={code}' if code else ''), tenant)


def sheets(rooms: list[Room], codes: dict[int, str], tenant: Tenant) -> list[Sheet]:
    return [Sheet(room_id=room.id, building=room.building.name, label=room.label, code=codes[room.id],
                  qr=qr_data_uri(activation_url(tenant, codes[room.id]))) for room in rooms]


def _context(tenant: Tenant) -> dict:
    return {'tenant_name': tenant.name, 'portal_url': tenant_base_url(tenant),
            'activate_url': activation_url(tenant), 'expires_days': code_days(),
            'generated': local_datetime(utcnow(), tenant)}


def front_html(tenant: Tenant, admin: AdminLogin | None, room_count: int) -> str:
    """Configuration, manuals, FAQ and the admin's first login."""
    return render_template(
        'onboarding/pack_front.html', **_context(tenant), fees=fee_items(), repairs=repairs(tenant),
        plans=inspection_plans(tenant), notices=notices(tenant), faq=project_faq(tenant), admin=admin,
        manuals=MANUALS, duties=tenant.duties, room_count=room_count)


def sheets_html(tenant: Tenant, batch: list[Sheet]) -> str:
    return render_template('onboarding/pack_sheets.html', **_context(tenant), sheets=batch)


def _file_key() -> str:
    return f'{FOLDER}/pack-{utcnow().strftime("%Y%m%d-%H%M%S-%f")}.pdf'


def _remove_old_files(keep: set[str]) -> None:
    folder = storage.path_for(FOLDER)
    if not folder.is_dir():
        return
    for path in folder.glob('pack-*.pdf'):
        if f'{FOLDER}/{path.name}' not in keep:
            path.unlink(missing_ok=True)


@job(_l('生成交付包'))
def render_onboarding_pack() -> dict:
    """The current project's onboarding pack as ONE PDF; returns its storage key and counts.

    Issues a new activation code for every household and (when the first admin has no password yet) a new
    invitation link; they are written after the document is rendered, in the job's transaction, which commits with
    the job record: the previous pack's codes and link stop working when this one is stored, and a failed render
    changes nothing. (Writing last also keeps the progress updates, made in their own short transactions, from
    waiting on this one's locks.) Raises RenderError when the document is too slow or too long."""
    tenant = db.session.get(Tenant, current_tenant_id())
    previous = latest_pack()
    renderer = PdfRenderer()
    report_progress(5)
    rooms = households()
    codes = new_codes([room.id for room in rooms])
    admin, store_admin_invitation = first_admin_login(tenant)
    documents = [renderer.render(front_html(tenant, admin, len(rooms)))]
    report_progress(25)
    all_sheets = sheets(rooms, codes, tenant)
    for start in range(0, len(all_sheets), BATCH):
        documents.append(renderer.render(sheets_html(tenant, all_sheets[start:start + BATCH])))
        report_progress(25 + 65 * min(start + BATCH, len(all_sheets)) // len(all_sheets))
    document = documents[0]
    if len(documents) > 1:
        document = document.copy([page for doc in documents for page in doc.pages])
    data = renderer.write_document(document)
    report_progress(95)
    key = _file_key()
    _remove_old_files({key, previous.result_file} if previous is not None and previous.result_file else {key})
    store_codes(codes)
    store_admin_invitation()
    storage.write_atomically(key, data)
    return {'file': key, 'households': len(rooms), 'pages': len(document.pages),
            'buildings': len({room.building_id for room in rooms})}
