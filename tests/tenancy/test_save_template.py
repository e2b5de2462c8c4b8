"""A running project saved as a delivery template (``tenants save-template``) provisions the same configuration and
carries no personal data; the shipped office-building template is complete; ``tenants create`` reports every
problem of a broken template before it creates anything."""
from __future__ import annotations

import shutil
import tomllib
import uuid
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from propsaas.auth.models import User
from propsaas.billing import fee_items, late_fees
from propsaas.billing.models import Bill, BillingRule, FeeItem
from propsaas.extensions import db
from propsaas.inspections.models import InspectionPlan
from propsaas.notices.models import MessageTemplate, Survey
from propsaas.repairs import dispatch_admin
from propsaas.repairs.models import RepairCategory, WorkOrder
from propsaas.residents.models import Gate, Resident
from propsaas.tenancy.context import platform_scope
from propsaas.tenancy.delivery import KNOWN_FILES, TemplateError, load_template
from propsaas.tenancy.models import Organization, Tenant
from tests.billing.test_runs import build_estate, run_period

SHIPPED = Path(__file__).resolve().parents[2] / 'tenants'


@pytest.fixture
def templates_dir(app, tmp_path):
    """A copy of the shipped templates as the app's templates root: saved templates land in a tmp dir."""
    root = tmp_path / 'tenants'
    shutil.copytree(SHIPPED, root)
    old = app.config['TENANT_TEMPLATES_DIR']
    app.config['TENANT_TEMPLATES_DIR'] = str(root)
    yield root
    app.config['TENANT_TEMPLATES_DIR'] = old


def new_name() -> str:
    return f'saved-{uuid.uuid4().hex[:8]}'


def save(runner, tenant, name):
    return runner.invoke(args=['tenants', 'save-template', tenant.slug, name])


def configuration(in_tenant, tenant) -> dict:
    """What a delivery template provisions, section by section, as the project has it now."""
    with in_tenant(tenant) as session:
        settings = dict(session.get(Tenant, tenant.id).settings)

        def rows(model, columns, *where, order=None):
            query = sa.select(model).where(*where).order_by(*(order or (model.id,)))
            return [tuple(getattr(row, c) for c in columns) for row in session.execute(query).scalars()]

        late_fee = dict(settings['late_fee'])
        late_fee.pop('since', None)
        return {
            'fee items': rows(FeeItem, ('code', 'name', 'charging', 'rate', 'amount_fen', 'cycle', 'recurring',
                                        'applies_to', 'meter', 'shared', 'split_by', 'note'),
                              # the late-fee item (滞纳金) is made by provisioning, after the template's items
                              FeeItem.active.is_(True), FeeItem.charging != 'late_fee',
                              order=(FeeItem.sort_order, FeeItem.id)),
            'rules': settings['rules'],
            'late fee': late_fee,
            'repair categories': rows(RepairCategory, ('code', 'name', 'area', 'sort_order'),
                                      RepairCategory.active.is_(True)),
            'response times': settings['repairs'],
            'plans': rows(InspectionPlan, ('code', 'name', 'target', 'frequency', 'checklist', 'points', 'duty',
                                           'duration_minutes', 'retention_years', 'basis', 'note', 'enabled',
                                           'photos_required')),
            'announcement templates': rows(MessageTemplate, ('code', 'category', 'title', 'body'),
                                           MessageTemplate.category.is_not(None)),
            'messages': rows(MessageTemplate, ('code', 'name', 'title', 'body', 'sms_text', 'variables', 'channels'),
                             MessageTemplate.category.is_(None)),
            'notice settings': (settings['notice_categories'], settings['notifications']),
            'gates': rows(Gate, ('code', 'name'), Gate.active.is_(True)),
            'faq': settings['faq'],
            'duties': settings['duties'],
            'property': (settings['property'], settings['import_headers']),
            'surveys': [(s.title, s.kind, s.status, [(q.kind, q.text, q.options, q.required) for q in s.questions])
                        for s in session.execute(sa.select(Survey).order_by(Survey.id)).scalars()],
            'tenant': (settings['billing_day'], settings['currency'], session.get(Tenant, tenant.id).timezone),
        }


def edit_configuration(in_tenant, tenant) -> None:
    """What an admin changes in a project that runs well, through the features' own services where they exist."""
    with in_tenant(tenant) as session:
        item = session.execute(sa.select(FeeItem).where(FeeItem.code == 'service_fee_lift')).scalar_one()
        fee_items.update_fee_item(item, rate='2.05', note='2026 年业主大会表决调价')
        fee_items.create_fee_item(code='lift_power', name='电梯运行电费', charging='area', rate='0.15',
                                  applies_to='room_with_lift')
        late_fees.save_settings(session.get(Tenant, tenant.id), enabled=True, daily_rate='0.0003', grace_days=10,
                                cap_percent='30')
        dispatch_admin.add_category('smart_lock', '智能门锁', 'home')
        pump = session.execute(sa.select(InspectionPlan).where(InspectionPlan.code == 'pump_room_check')).scalar_one()
        pump.checklist = [{'label': '水泵运行正常', 'kind': 'check'},
                          {'label': '出水压力', 'kind': 'reading', 'unit': 'MPa', 'min': '0.25', 'max': None},
                          {'label': '值班记录', 'kind': 'note'}]
        pump.points = ['1号水泵房', '2号水泵房']
        pump.photos_required = 1
        quality = session.execute(sa.select(InspectionPlan).where(InspectionPlan.code == 'water_quality_test')
                                  ).scalar_one()
        quality.enabled = True
        patrol = session.execute(sa.select(InspectionPlan).where(InspectionPlan.code == 'security_patrol')
                                 ).scalar_one()
        patrol.frequency = {'kind': 'daily', 'times': 12}  # the project patrols every 2 hours, not every hour
        outage = session.execute(sa.select(MessageTemplate).where(MessageTemplate.code == 'water_outage')
                                 ).scalar_one()
        outage.body = outage.body + '\n（本小区停水期间，北门岗亭提供桶装水。）'
        reminder = session.execute(sa.select(MessageTemplate).where(MessageTemplate.code == 'payment_reminder')
                                   ).scalar_one()
        reminder.sms_text = '【{project_name}】{room}尚有{period}费用{amount}元未缴，请于{due_date}前缴纳。'
        reminder.channels = ['sms', 'wechat']
        session.add(Gate(code='east-gate', name='东门'))
        project = session.get(Tenant, tenant.id)
        project.settings = {**project.settings, 'faq': [*project.settings['faq'], {
            'question': '快递放在哪里？', 'answer': '快递统一放在北门驿站，凭取件码领取。'}]}


def test_save_then_create_reproduces_the_configuration(app, runner, make_tenant, in_tenant, templates_dir):
    original = make_tenant(name='阳光花园', template='standard-residential')
    edit_configuration(in_tenant, original)
    name = new_name()

    result = save(runner, original, name)

    assert result.exit_code == 0, result.output
    assert f'saved {original.slug} as template {name}' in result.output
    assert set(p.name for p in (templates_dir / name).iterdir()) == set(KNOWN_FILES)
    assert load_template(name, templates_dir).title == '阳光花园'
    copy = make_tenant(name='月亮湾', template=name)
    before, after = configuration(in_tenant, original), configuration(in_tenant, copy)
    for section in before:
        assert after[section] == before[section], section
    # the edits are in it, not just the shipped template's values
    items = {row[0]: row for row in after['fee items']}
    assert items['service_fee_lift'][3] == '2.05' and items['lift_power'][3] == '0.15'
    assert after['late fee'] == {'enabled': True, 'daily_rate': '0.0003', 'grace_days': 10, 'cap_percent': '30'}
    assert ('smart_lock', '智能门锁', 'home') in [row[:3] for row in after['repair categories']]
    plans = {row[0]: row for row in after['plans']}
    assert plans['pump_room_check'][4][1] == {'label': '出水压力', 'kind': 'reading', 'unit': 'MPa', 'min': '0.25',
                                              'max': None}
    assert plans['pump_room_check'][5] == ['1号水泵房', '2号水泵房'] and plans['pump_room_check'][12] == 1
    assert plans['water_quality_test'][11] is True
    assert plans['security_patrol'][3] == {'kind': 'daily', 'times': 12}
    assert ('east-gate', '东门') in after['gates']
    assert after['faq'][-1]['question'] == '快递放在哪里？'


def test_the_saved_files_hold_no_personal_data(app, runner, make_tenant, make_user, in_tenant, templates_dir):
    estate = build_estate(make_tenant, make_user, in_tenant, '保密小区')
    run_period(in_tenant, estate, '2026-02')
    make_user(estate.tenant, 'staff', duties=['technician'], name='钱师傅', mobile='13700007777')
    with in_tenant(estate.tenant) as session:
        category = session.execute(sa.select(RepairCategory).order_by(RepairCategory.id)).scalars().first()
        session.add(WorkOrder(number='BX-SECRET-0001', category_id=category.id, room_id=estate.rooms['1-1-101'],
                              description='卫生间漏水，联系王业主 13800001234', contact_name='王业主',
                              contact_phone='13800001234', reporter_resident_id=estate.residents['1-1-101']))
        session.add(Resident(name='赵秘密', mobile='13912345678', id_number='110101199003071234'))
        secrets = {
            *session.execute(sa.select(Resident.name)).scalars(),
            *(m for m in session.execute(sa.select(Resident.mobile)).scalars() if m),
            *(u.email or u.mobile for u in session.execute(sa.select(User)).scalars()),
            # the first admin is called just 管理员 (a word the message templates use too)
            *(u.name for u in session.execute(sa.select(User)).scalars() if u.name != '管理员'),
            *session.execute(sa.select(Bill.number)).scalars(),
            '110101199003071234', 'BX-SECRET-0001', '1-1-101', 'B1-001', '卫生间漏水',
        }
        assert session.execute(sa.select(sa.func.count(Bill.id))).scalar_one() > 0
    name = new_name()

    result = save(runner, estate.tenant, name)

    assert result.exit_code == 0, result.output
    text = '\n'.join(p.read_text(encoding='utf-8') for p in (templates_dir / name).iterdir())
    assert '物业费（电梯）' in text  # the project's own fee items are there ...
    found = sorted(secret for secret in secrets if secret and secret in text)
    assert found == []  # ... its people, rooms, bills and work orders are not


def test_a_changed_price_appears_in_the_saved_template(app, runner, make_tenant, in_tenant, templates_dir):
    tenant = make_tenant(template='office-building')
    with in_tenant(tenant) as session:
        service = session.execute(sa.select(FeeItem).where(FeeItem.code == 'service_fee')).scalar_one()
        fee_items.update_fee_item(service, rate='7.50')
        parking = session.execute(sa.select(FeeItem).where(FeeItem.code == 'parking_fee')).scalar_one()
        # a project-wide price change in force since last year, and one that only starts in ten years
        session.add_all([BillingRule(fee_item_id=parking.id, scope='tenant', amount_fen=8000,
                                     effective_from=date(2025, 1, 1)),
                         BillingRule(fee_item_id=parking.id, scope='tenant', amount_fen=9900,
                                     effective_from=date(2036, 1, 1)),
                         BillingRule(fee_item_id=parking.id, scope='room_type', room_type='shop', amount_fen=12000,
                                     effective_from=date(2025, 1, 1))])
        fitout = session.execute(sa.select(FeeItem).where(FeeItem.code == 'fitout_management')).scalar_one()
        fee_items.deactivate_fee_item(fitout)
    name = new_name()

    assert save(runner, tenant, name).exit_code == 0
    fees = tomllib.loads((templates_dir / name / 'fees.toml').read_text(encoding='utf-8'))
    items = {item['code']: item for item in fees['fee_items']}
    assert items['service_fee']['rate'] == '7.5'
    assert items['parking_fee']['amount'] == '80.00'
    assert 'fitout_management' not in items and 'late_fee' not in items
    assert fees['late_fee']['grace_days'] == 15


def test_an_existing_folder_or_a_bad_name_is_refused(app, runner, make_tenant, templates_dir):
    tenant = make_tenant()
    before = {p: p.read_bytes() for p in (templates_dir / 'standard-residential').iterdir()}

    taken = save(runner, tenant, 'standard-residential')
    bad = save(runner, tenant, 'Bad_Name')
    unknown = runner.invoke(args=['tenants', 'save-template', 'no-such-project', new_name()])

    assert taken.exit_code != 0 and '已存在' in taken.output
    assert {p: p.read_bytes() for p in (templates_dir / 'standard-residential').iterdir()} == before
    assert bad.exit_code != 0 and '小写字母' in bad.output
    assert unknown.exit_code != 0 and 'no-such-project' in unknown.output
    assert sorted(p.name for p in templates_dir.iterdir()) == ['office-building', 'standard-residential']


def test_a_configuration_that_would_not_load_is_reported_and_nothing_written(app, runner, make_tenant, in_tenant,
                                                                              templates_dir):
    tenant = make_tenant()
    with in_tenant(tenant) as session:
        dunning = session.execute(sa.select(MessageTemplate).where(MessageTemplate.category == '催缴')).scalar_one()
        dunning.body = '逾期不缴将停水停电。'  # never allowed in a template (民法典 Art. 944)
    name = new_name()

    result = save(runner, tenant, name)

    assert result.exit_code != 0
    assert 'notices.toml: templates[' in result.output and '民法典' in result.output
    assert sorted(p.name for p in templates_dir.iterdir()) == ['office-building', 'standard-residential']


@pytest.mark.parametrize('template', ['standard-residential', 'office-building'])
def test_shipped_templates_have_every_section(template):
    loaded = load_template(template, SHIPPED)

    assert {p.name for p in (SHIPPED / template).glob('*.toml')} == set(KNOWN_FILES)
    sections = loaded.sections
    assert sections['fees']['fee_items'] and sections['repairs']['categories'] and sections['inspections']['plans']
    assert sections['notices']['templates'] and sections['notices']['messages'] and sections['faq']['entries']
    assert sections['property']['gates'] and sections['surveys']['surveys'] and loaded.duties


def test_office_building_provisions_for_companies(make_tenant, in_tenant):
    tenant = make_tenant(name='星河大厦', template='office-building')
    template = load_template('office-building', SHIPPED)

    with in_tenant(tenant) as session:
        project = session.get(Tenant, tenant.id)
        items = {i.code: i for i in session.execute(sa.select(FeeItem)).scalars()}
        plans = {p.code: p for p in session.execute(sa.select(InspectionPlan)).scalars()}
        messages = session.execute(sa.select(sa.func.count(MessageTemplate.id))).scalar_one()
        gates = set(session.execute(sa.select(Gate.code)).scalars())
        surveys = list(session.execute(sa.select(Survey.title)).scalars())
        categories = set(session.execute(sa.select(RepairCategory.name)).scalars())

        assert items['service_fee'].charging == 'area' and items['service_fee'].rate == '6'
        assert (items['ac_energy'].charging, items['ac_energy'].meter) == ('meter', 'heat')
        assert items['electricity'].meter == 'electricity' and not items['electricity'].shared
        assert plans['fire_control_room_watch'].duty == 'fire_control'
        assert {p.target for p in plans.values()} >= {'lift', 'fire_control_room', 'other'}
        hvac = plans['hvac_plant_check']
        assert hvac.frequency == {'kind': 'daily', 'times': 2}
        assert {'label': '冷冻水供水温度', 'kind': 'reading', 'unit': '℃', 'min': '5', 'max': '12'} in hvac.checklist
        assert plans['cooling_tower_cleaning'].photos_required == 2
        assert '地下车库' in plans['security_patrol'].points
        assert plans['lift_self_check'].checklist[0]['label'].startswith('运行平稳')  # the standard lift list
        notices = template.sections['notices']
        assert messages == len(notices['templates']) + len(notices['messages'])
        assert gates == {'lobby-turnstile', 'garage-entrance'}
        assert surveys and surveys[0].endswith('客户满意度调查')
        assert '空调' in categories
        assert {'fire_control', 'fitout_supervision'} <= {d['code'] for d in project.duties}
        assert any('增值税专用发票' in e['question'] for e in project.settings['faq'])
        assert project.settings['property']['room_types'][0] == {'code': 'office', 'name': '办公'}


def test_create_reports_every_problem_with_file_and_key_before_creating_anything(app, runner, templates_dir):
    broken = templates_dir / 'two-problems'
    shutil.copytree(templates_dir / 'standard-residential', broken)
    fees = broken / 'fees.toml'
    fees.write_text(fees.read_text(encoding='utf-8').replace('\nrate = "1.80"', '\nrate = 1.8', 1), encoding='utf-8')
    plans = broken / 'inspections.toml'
    plans.write_text(plans.read_text(encoding='utf-8').replace('duty = "technician"', 'duty = "engineer"', 1),
                     encoding='utf-8')
    slug, org = f'p-{uuid.uuid4().hex[:10]}', f'新公司{uuid.uuid4().hex[:6]}'

    result = runner.invoke(args=['tenants', 'create', slug, '--name', '两处错误', '--template', 'two-problems',
                                 '--admin-email', 'a@two.cn', '--org', org])

    assert result.exit_code != 0
    lines = [line.strip() for line in result.output.splitlines()]
    assert any(line.startswith('fees.toml: fee_items[1].rate: must be a decimal string') for line in lines), lines
    assert any(line.startswith('inspections.toml: plans[') and '.duty: unknown duty "engineer"' in line
               for line in lines), lines
    with app.app_context(), platform_scope():
        assert db.session.execute(sa.select(Tenant.id).where(Tenant.slug == slug)).first() is None
        assert db.session.execute(sa.select(Organization.id).where(Organization.name == org)).first() is None


def test_a_plans_own_checklist_and_points_are_checked_with_file_and_key(tmp_path):
    broken = tmp_path / 'broken'
    shutil.copytree(SHIPPED / 'office-building', broken)
    plans = broken / 'inspections.toml'
    text = plans.read_text(encoding='utf-8')
    text = text.replace('{ label = "冷冻水供水温度", kind = "reading", unit = "℃", min = "5", max = "12" }',
                        '{ label = "冷冻水供水温度", kind = "reading", unit = "℃", min = "12", max = "5" }', 1)
    text = text.replace('points = ["大堂及前台"', 'points = [""', 1)
    plans.write_text(text, encoding='utf-8')

    with pytest.raises(TemplateError) as info:
        load_template('broken', tmp_path)

    assert info.value.errors == [
        'inspections.toml: plans[16].points: must be an array of at most 60 check points, each at most 60 characters, '
        'like ["1号岗"]',
        'inspections.toml: plans[18].checklist: item 2: min is above max',
    ]
