"""The equipment ledger pages (设备台账): creating and editing devices, refused input (a taken code, bad dates, another
project's building) that saves nothing, certificates (add, edit, delete, refusals), the certificates due for renewal
on a pinned day, the device page's inspection tasks in local time, roles, another project's objects (404), the list's
filters, flags and constant statement count (10 vs 40 devices), and the .xlsx export read back."""
from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from propsaas.inspections.models import Device, DeviceCertificate, InspectionPlan, InspectionTask
from propsaas.property.models import Building
from propsaas.tenancy import clock
from tests.helpers import count_queries

#: 2026-12-01 12:00 in Shanghai
NOON = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
TODAY = date(2026, 12, 1)


@pytest.fixture(autouse=True)
def pinned_now(monkeypatch):
    monkeypatch.setattr(clock, 'now_utc', lambda: NOON)


def build_site(make_tenant, make_user, in_tenant, name='台账小区') -> SimpleNamespace:
    tenant = make_tenant(name=name)
    site = SimpleNamespace(tenant=tenant, buildings={})
    site.admin = make_user(tenant, 'admin')
    site.tech = make_user(tenant, 'staff', duties=['technician'], name='李师傅')
    site.lift = make_user(tenant, 'staff', duties=['lift_safety'], name='电梯安全员')
    site.desk = make_user(tenant, 'staff', duties=['service_desk'], name='前台')
    site.resident = make_user(tenant, 'resident', name='张业主')
    with in_tenant(tenant) as session:
        for key in ('1', '2'):
            building = Building(name=f'{key}栋', sort_order=int(key))
            session.add(building)
            session.flush()
            site.buildings[key] = building.id
    return site


@pytest.fixture
def make_site(make_tenant, make_user, in_tenant):
    return lambda name='台账小区': build_site(make_tenant, make_user, in_tenant, name)


def add_device(in_tenant, tenant, code, name='1号客梯', category='lift', **fields) -> int:
    with in_tenant(tenant) as session:
        device = Device(code=code, name=name, category=category, **fields)
        session.add(device)
        session.flush()
        return device.id


def add_certificate(in_tenant, tenant, device_id, name, expires_on, **fields) -> int:
    with in_tenant(tenant) as session:
        certificate = DeviceCertificate(device_id=device_id, name=name, expires_on=expires_on, **fields)
        session.add(certificate)
        session.flush()
        return certificate.id


def devices_of(in_tenant, tenant) -> list[Device]:
    with in_tenant(tenant) as session:
        rows = session.execute(sa.select(Device).order_by(Device.code)).scalars().all()
        session.expunge_all()
        return rows


def certificates_of(in_tenant, tenant) -> list[DeviceCertificate]:
    with in_tenant(tenant) as session:
        rows = session.execute(sa.select(DeviceCertificate).order_by(DeviceCertificate.id)).scalars().all()
        session.expunge_all()
        return rows


DEVICE_FORM = {'code': 'DT-01', 'name': '1号客梯', 'category': 'lift', 'location': '1单元 东侧', 'model': 'GeN2',
               'vendor': '奥的斯', 'serial_number': 'SN-778', 'installed_on': '2020-05-01',
               'warranty_until': '2022-05-01', 'contractor': '蓝天电梯维保', 'contractor_phone': '021-55550000',
               'status': 'in_service', 'note': '每月两次维保'}


# --- create, edit, refusals -------------------------------------------------------------------------------------------

def test_a_technician_adds_and_edits_a_device(make_site, in_tenant, client_for):
    site = make_site()
    client = client_for(site.tenant, site.tech)
    assert client.get('/equipment/new').status_code == 200
    created = client.post('/equipment/new', data={**DEVICE_FORM, 'building_id': str(site.buildings['1'])})
    assert created.status_code == 303
    [device] = devices_of(in_tenant, site.tenant)
    assert created.headers['Location'].endswith(f'/equipment/{device.id}')
    assert (device.code, device.name, device.category, device.building_id, device.location) == \
        ('DT-01', '1号客梯', 'lift', site.buildings['1'], '1单元 东侧')
    assert (device.installed_on, device.warranty_until, device.status) == \
        (date(2020, 5, 1), date(2022, 5, 1), 'in_service')
    page = client.get(f'/equipment/{device.id}').text
    for text in ('DT-01', '1号客梯', '1栋 1单元 东侧', '奥的斯', 'SN-778', '蓝天电梯维保', '021-55550000', '2022-05-01',
                 '已过保', '还没有登记证书', '还没有巡检任务'):
        assert text in page, text

    form = client.get(f'/equipment/{device.id}/edit').text
    assert 'value="DT-01"' in form and 'value="2020-05-01"' in form
    edited = client.post(f'/equipment/{device.id}/edit', data={
        **DEVICE_FORM, 'code': 'DT-01A', 'building_id': '', 'status': 'faulty', 'location': '地下车库'})
    assert edited.status_code == 303
    [device] = devices_of(in_tenant, site.tenant)
    assert (device.code, device.building_id, device.status, device.location) == ('DT-01A', None, 'faulty', '地下车库')
    assert '故障' in client.get(f'/equipment/{device.id}').text


def test_refused_input_answers_422_and_saves_nothing(make_site, in_tenant, client_for):
    site = make_site()
    other = make_site('别的小区')
    taken = add_device(in_tenant, site.tenant, 'DT-01')
    add_device(in_tenant, site.tenant, 'DT-02', name='2号客梯')
    client = client_for(site.tenant, site.admin)

    duplicate = client.post('/equipment/new', data={**DEVICE_FORM, 'code': 'DT-01'})
    assert duplicate.status_code == 422 and '设备编号 DT-01 已被其他设备使用' in duplicate.text
    renamed = client.post(f'/equipment/{taken}/edit', data={**DEVICE_FORM, 'code': 'DT-02'})
    assert renamed.status_code == 422 and '设备编号 DT-02 已被其他设备使用' in renamed.text

    bad_date = client.post('/equipment/new', data={**DEVICE_FORM, 'code': 'X-1', 'installed_on': '2020-13-01'})
    assert bad_date.status_code == 422 and '日期格式应为 2026-01-31' in bad_date.text
    backwards = client.post('/equipment/new', data={**DEVICE_FORM, 'code': 'X-1', 'installed_on': '2023-01-01',
                                                    'warranty_until': '2022-01-01'})
    assert backwards.status_code == 422 and '保修截止日期不能早于安装日期' in backwards.text
    foreign = client.post('/equipment/new', data={**DEVICE_FORM, 'code': 'X-1',
                                                  'building_id': str(other.buildings['1'])})
    assert foreign.status_code == 422 and '所选楼栋不存在' in foreign.text
    unknown = client.post('/equipment/new', data={**DEVICE_FORM, 'code': 'X-1', 'category': 'spaceship'})
    assert unknown.status_code == 422 and '请选择设备类别' in unknown.text
    for building in ('abc', '0', str(2**40)):
        odd = client.post('/equipment/new', data={**DEVICE_FORM, 'code': 'X-1', 'building_id': building})
        assert odd.status_code == 422 and '所选楼栋不存在' in odd.text, building
    reminder = client.post(f'/equipment/{taken}/certificates', data={'name': '合格证', 'expires_on': '2027-01-01',
                                                                     'remind_days': '400'})
    assert reminder.status_code == 422 and '提前提醒天数应在 0 到 365 之间' in reminder.text
    nameless = client.post('/equipment/new', data={**DEVICE_FORM, 'code': 'X-1', 'name': ' '})
    assert nameless.status_code == 422 and '请填写设备名称' in nameless.text

    assert [d.code for d in devices_of(in_tenant, site.tenant)] == ['DT-01', 'DT-02']
    assert certificates_of(in_tenant, site.tenant) == []
    # the same code in another project is fine, and reveals nothing
    assert client_for(other.tenant, other.admin).post('/equipment/new', data=DEVICE_FORM).status_code == 303


# --- certificates -----------------------------------------------------------------------------------------------------

def test_certificates_added_edited_deleted_and_refused(make_site, in_tenant, client_for):
    site = make_site()
    device = add_device(in_tenant, site.tenant, 'DT-01')
    client = client_for(site.tenant, site.tech)
    added = client.post(f'/equipment/{device}/certificates', data={
        'name': '电梯定期检验合格证', 'number': 'TSX-2026-001', 'issued_on': '2026-01-10', 'expires_on': '2027-01-09',
        'remind_days': '60', 'note': '市特检院'})
    assert added.status_code == 303
    [certificate] = certificates_of(in_tenant, site.tenant)
    assert (certificate.device_id, certificate.number, certificate.expires_on, certificate.remind_days) == \
        (device, 'TSX-2026-001', date(2027, 1, 9), 60)
    page = client.get(f'/equipment/{device}').text
    assert 'TSX-2026-001' in page and '2027-01-09' in page and '即将到期' in page  # 39 days left, reminded at 60

    backwards = client.post(f'/equipment/{device}/certificates', data={
        'name': '压力容器检验报告', 'issued_on': '2026-05-01', 'expires_on': '2026-04-30', 'remind_days': '30'})
    assert backwards.status_code == 422 and '到期日期不能早于发证日期' in backwards.text
    no_expiry = client.post(f'/equipment/{device}/certificates', data={'name': '报告', 'remind_days': '30'})
    assert no_expiry.status_code == 422 and '请填写证书到期日期' in no_expiry.text
    assert len(certificates_of(in_tenant, site.tenant)) == 1

    url = f'/equipment/{device}/certificates/{certificate.id}'
    refused = client.post(url, data={'name': '电梯定期检验合格证', 'issued_on': '2026-01-10',
                                     'expires_on': '2025-01-01', 'remind_days': '30'})
    assert refused.status_code == 422
    assert certificates_of(in_tenant, site.tenant)[0].expires_on == date(2027, 1, 9)
    renewed = client.post(url, data={'name': '电梯定期检验合格证', 'number': 'TSX-2027-001', 'issued_on': '2027-01-05',
                                     'expires_on': '2028-01-04', 'remind_days': '30', 'note': ''})
    assert renewed.status_code == 303
    [certificate] = certificates_of(in_tenant, site.tenant)
    assert (certificate.number, certificate.expires_on, certificate.remind_days, certificate.note) == \
        ('TSX-2027-001', date(2028, 1, 4), 30, None)

    assert client.post(f'{url}/delete').status_code == 303
    assert certificates_of(in_tenant, site.tenant) == []


def test_a_certificate_of_another_device_or_project_is_not_found(make_site, in_tenant, client_for):
    site = make_site()
    other = make_site('别的小区')
    first = add_device(in_tenant, site.tenant, 'DT-01')
    second = add_device(in_tenant, site.tenant, 'DT-02')
    mine = add_certificate(in_tenant, site.tenant, first, '合格证', date(2027, 1, 1))
    theirs_device = add_device(in_tenant, other.tenant, 'DT-09')
    theirs = add_certificate(in_tenant, other.tenant, theirs_device, '对方的合格证', date(2027, 1, 1))
    client = client_for(site.tenant, site.admin)
    data = {'name': '改名', 'expires_on': '2030-01-01', 'remind_days': '30'}
    assert client.post(f'/equipment/{second}/certificates/{mine}', data=data).status_code == 404
    assert client.post(f'/equipment/{second}/certificates/{mine}/delete').status_code == 404
    assert client.post(f'/equipment/{first}/certificates/{theirs}', data=data).status_code == 404
    assert client.post(f'/equipment/{first}/certificates/{theirs}/delete').status_code == 404
    for path in (f'/equipment/{theirs_device}', f'/equipment/{theirs_device}/edit'):
        assert client.get(path).status_code == 404, path
    assert client.post(f'/equipment/{theirs_device}/edit', data=DEVICE_FORM).status_code == 404
    assert client.post(f'/equipment/{theirs_device}/certificates', data=data).status_code == 404
    assert [c.name for c in certificates_of(in_tenant, site.tenant)] == ['合格证']
    assert [c.name for c in certificates_of(in_tenant, other.tenant)] == ['对方的合格证']
    assert '对方的合格证' not in client.get('/equipment/certificates').text


def test_certificates_due_on_a_pinned_day_soonest_first(make_site, in_tenant, client_for):
    site = make_site()
    lift = add_device(in_tenant, site.tenant, 'DT-01', building_id=site.buildings['1'], location='东侧')
    tank = add_device(in_tenant, site.tenant, 'SX-01', name='二次供水水箱', category='water_tank')
    add_certificate(in_tenant, site.tenant, lift, '电梯定期检验合格证', date(2026, 11, 20), number='OLD')  # expired
    add_certificate(in_tenant, site.tenant, lift, '限速器校验报告', date(2026, 12, 31), remind_days=30)  # due in 30
    add_certificate(in_tenant, site.tenant, lift, '维保合同', date(2027, 1, 1), remind_days=30)  # 31 days: not yet
    add_certificate(in_tenant, site.tenant, tank, '水质检测报告', date(2026, 12, 1), remind_days=0)  # due today
    # renewed: last year's is expired but this year's replaces it
    add_certificate(in_tenant, site.tenant, tank, '卫生许可证', date(2025, 12, 1), number='2025')
    add_certificate(in_tenant, site.tenant, tank, '卫生许可证', date(2027, 12, 1), number='2026')
    other = make_site('别的小区')
    theirs = add_device(in_tenant, other.tenant, 'DT-09')
    add_certificate(in_tenant, other.tenant, theirs, '别人的过期证书', date(2026, 1, 1))

    page = client_for(site.tenant, site.lift).get('/equipment/certificates')
    assert page.status_code == 200
    text = page.text
    assert '维保合同' not in text and '卫生许可证' not in text and '别人的过期证书' not in text
    order = [text.index(name) for name in ('电梯定期检验合格证', '水质检测报告', '限速器校验报告')]
    assert order == sorted(order)
    assert '已过期 11 天' in text and '还有 0 天' in text and '还有 30 天' in text
    assert f'/equipment/{lift}#certificates' in text and f'/equipment/{tank}#certificates' in text
    assert '1栋 东侧' in text

    tank_page = client_for(site.tenant, site.tech).get(f'/equipment/{tank}').text
    assert '已被新证书取代' in tank_page  # last year's permit is shown but not flagged

    listing = client_for(site.tenant, site.tech).get('/equipment').text
    # the list's next expiry: the lift's expired certificate, the tank's due-today report
    assert '2026-11-20' in listing and '2026-12-01' in listing
    assert listing.count('已过期') == 1 and listing.count('即将到期') == 1


# --- the device page's inspection tasks -------------------------------------------------------------------------------

def test_the_device_page_lists_its_latest_20_tasks_in_local_time(make_site, in_tenant, client_for):
    site = make_site()
    device = add_device(in_tenant, site.tenant, 'DT-01')
    other_device = add_device(in_tenant, site.tenant, 'DT-02')
    with in_tenant(site.tenant) as session:
        plan = InspectionPlan(code='lift_half_month', name='电梯半月维保巡检', target='lift',
                              starts_on=date(2026, 1, 1), frequency={'kind': 'every_days', 'days': 1},
                              checklist=[], points=[])
        other_plan = InspectionPlan(code='other', name='别的设备的计划', target='lift', starts_on=date(2026, 1, 1),
                                    frequency={'kind': 'every_days', 'days': 1}, checklist=[], points=[])
        session.add_all([plan, other_plan])
        session.flush()
        first = datetime(2026, 11, 1, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai
        for n in range(25):
            start = first + timedelta(days=n)
            session.add(InspectionTask(plan_id=plan.id, device_id=device, target_key=device, period_start=start,
                                       due_at=start + timedelta(days=1),
                                       status='done' if n < 20 else 'missed' if n == 24 else 'open'))
        session.add(InspectionTask(plan_id=other_plan.id, device_id=other_device, target_key=other_device,
                                   period_start=first, due_at=first + timedelta(days=1)))
    page = client_for(site.tenant, site.lift).get(f'/equipment/{device}').text
    # the rounds not done yet (4 open, 1 missed) are listed first, to start or make up
    to_do, text = page.split('巡检记录')[0], page.split('巡检记录')[1]
    assert to_do.count('电梯半月维保巡检') == 5 and '补检' in to_do and '开始巡检' in to_do
    assert text.count('电梯半月维保巡检') == 20 and '别的设备的计划' not in page
    assert '2026-11-25 09:30' in text and '2026-11-06 09:30' in text  # newest and the 20th newest
    assert '2026-11-05 09:30' not in text
    assert text.index('2026-11-25 09:30') < text.index('2026-11-06 09:30')
    assert '已漏检' in text and '待执行' in text and '已完成' in text


# --- roles ------------------------------------------------------------------------------------------------------------

def test_roles(make_site, in_tenant, client_for):
    site = make_site()
    device = add_device(in_tenant, site.tenant, 'DT-01')
    certificate = add_certificate(in_tenant, site.tenant, device, '合格证', date(2027, 1, 1))
    cert_form = {'name': '合格证', 'expires_on': '2027-06-01', 'remind_days': '30'}
    reads = ['/equipment', f'/equipment/{device}', '/equipment/certificates', '/equipment/export.xlsx']
    writes = [('/equipment/new', DEVICE_FORM), (f'/equipment/{device}/edit', DEVICE_FORM),
              (f'/equipment/{device}/certificates', cert_form),
              (f'/equipment/{device}/certificates/{certificate}', cert_form),
              (f'/equipment/{device}/certificates/{certificate}/delete', {})]

    for user in (site.resident, site.desk):
        client = client_for(site.tenant, user)
        for path in reads + ['/equipment/new', f'/equipment/{device}/edit', '/equipment/labels.pdf']:
            assert client.get(path).status_code == 403, path
        for path, data in writes:
            assert client.post(path, data=data).status_code == 403, path
    anonymous = client_for(site.tenant)
    assert anonymous.get('/equipment').status_code in (302, 401)

    lift = client_for(site.tenant, site.lift)
    for path in reads:
        assert lift.get(path).status_code == 200, path
    page = lift.get(f'/equipment/{device}').text
    assert '添加证书' not in page and '编辑' not in page
    assert lift.get('/equipment/new').status_code == 403
    for path, data in writes:
        assert lift.post(path, data=data).status_code == 403, path
    assert [c.expires_on for c in certificates_of(in_tenant, site.tenant)] == [date(2027, 1, 1)]

    assert '设备台账' in lift.get('/').text
    assert '设备台账' not in client_for(site.tenant, site.desk).get('/').text
    tech_page = client_for(site.tenant, site.tech).get(f'/equipment/{device}').text
    assert '添加证书' in tech_page and '删除证书' in tech_page


# --- the list ---------------------------------------------------------------------------------------------------------

def test_list_filters_search_and_flags(make_site, in_tenant, client_for):
    site = make_site()
    add_device(in_tenant, site.tenant, 'DT-01', building_id=site.buildings['1'], location='东侧',
               warranty_until=date(2026, 11, 30))
    add_device(in_tenant, site.tenant, 'XF-01', name='消防泵甲', category='fire_pump', building_id=site.buildings['2'],
               location='地下一层水泵房', status='faulty', warranty_until=date(2026, 12, 1))
    add_device(in_tenant, site.tenant, 'FD-01', name='柴油发电机', category='generator', location='配电房')
    client = client_for(site.tenant, site.tech)
    text = client.get('/equipment').text
    assert all(code in text for code in ('DT-01', 'XF-01', 'FD-01'))
    assert text.count('已过保') == 1  # DT-01's warranty ended yesterday; XF-01's ends today
    assert '1栋 东侧' in text and '2栋 地下一层水泵房' in text

    def codes(query):
        page = client.get('/equipment?' + query).text
        return [code for code in ('DT-01', 'XF-01', 'FD-01') if f'>{code}<' in page]

    assert codes('category=fire_pump') == ['XF-01']
    assert codes(f'building={site.buildings["1"]}') == ['DT-01']
    assert codes('status=faulty') == ['XF-01']
    assert codes('q=水泵房') == ['XF-01']
    assert codes('q=fd-') == ['FD-01']
    assert codes('q=发电') == ['FD-01']
    assert codes('q=%25') == []  # a literal %, not a wildcard
    assert codes('category=nonsense&building=abc&status=x') == ['DT-01', 'XF-01', 'FD-01']  # stale links still list
    empty = client.get('/equipment?q=不存在的设备')
    assert empty.status_code == 200 and '没有符合条件的设备' in empty.text


def _seed(in_tenant, tenant, building_id, start, count):
    with in_tenant(tenant) as session:
        for n in range(start, start + count):
            device = Device(code=f'D-{n:03d}', name=f'设备{n}', category='cctv', building_id=building_id)
            session.add(device)
            session.flush()
            session.add(DeviceCertificate(device_id=device.id, name='检测报告', expires_on=date(2027, 1, n % 28 + 1)))


def test_the_list_runs_a_constant_number_of_statements(app, make_site, in_tenant, client_for):
    site = make_site()
    _seed(in_tenant, site.tenant, site.buildings['1'], 0, 10)
    client = client_for(site.tenant, site.tech)
    client.get('/equipment')
    with count_queries(app) as few:
        assert client.get('/equipment').status_code == 200
    _seed(in_tenant, site.tenant, site.buildings['2'], 10, 30)
    with count_queries(app) as many:
        page = client.get('/equipment')
    assert page.status_code == 200 and 'D-029' in page.text and 'D-030' not in page.text  # 30 a page
    assert len(many) == len(few)


# --- export -----------------------------------------------------------------------------------------------------------

def test_export_reads_back_with_dates_and_neutralised_formulas(make_site, in_tenant, client_for):
    site = make_site()
    lift = add_device(in_tenant, site.tenant, 'DT-01', building_id=site.buildings['1'], location='东侧',
                      installed_on=date(2020, 5, 1), warranty_until=date(2022, 5, 1), contractor='蓝天电梯维保')
    add_certificate(in_tenant, site.tenant, lift, '电梯定期检验合格证', date(2027, 1, 9))
    add_device(in_tenant, site.tenant, '=HYPERLINK("x")', name='+SUM(A1)', category='other', location='@here')
    add_device(in_tenant, site.tenant, 'XF-01', name='消防泵', category='fire_pump')
    client = client_for(site.tenant, site.lift)
    response = client.get('/equipment/export.xlsx?category=lift')
    assert response.status_code == 200
    assert response.mimetype == 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert rows[0][:3] == ('设备编号', '设备名称', '类别')
    assert len(rows) == 2
    row = rows[1]
    assert row[:5] == ('DT-01', '1号客梯', '电梯', '1栋', '东侧')
    assert row[8].date() == date(2020, 5, 1) and row[9].date() == date(2022, 5, 1) and row[10] == '是'
    assert row[14] == '电梯定期检验合格证' and row[15].date() == date(2027, 1, 9)

    rows = list(load_workbook(io.BytesIO(client.get('/equipment/export.xlsx').data)).active.iter_rows(values_only=True))
    assert len(rows) == 4
    hostile = next(r for r in rows if r[1] == "'+SUM(A1)")
    assert hostile[0] == '\'=HYPERLINK("x")' and hostile[4] == "'@here"
