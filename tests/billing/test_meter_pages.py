"""The meter pages (/billing/meters) and API (/api/v1/billing/meter-readings), as a user would use them."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from propsaas.billing import metering
from propsaas.billing.models import MeterReading
from tests.billing.test_metering import build_meter_estate
from tests.helpers import count_queries
from tests.renovations.estate import api_token

SAMPLE = Path(__file__).parent / 'samples' / 'meter_readings.xlsx'
API = '/api/v1/billing/meter-readings'


@pytest.fixture
def meter_estate(make_tenant, make_user, in_tenant):
    return lambda name='抄表小区': build_meter_estate(make_tenant, make_user, in_tenant, name)


def _count(in_tenant, e):
    with in_tenant(e.tenant) as session:
        return session.execute(sa.select(sa.func.count(MeterReading.id))).scalar()


def test_who_may_use_the_meter_pages(meter_estate, client_for):
    e = meter_estate()
    for user, status in ((e.admin, 200), (e.cashier, 200), (e.tech, 200), (e.desk, 403), (e.resident, 403)):
        assert client_for(e.tenant, user).get('/billing/meters').status_code == status
    assert client_for(e.tenant).get('/billing/meters').status_code in (302, 401)
    page = client_for(e.tenant, e.tech).get('/billing/meters').get_data(as_text=True)
    assert '抄表' in page and '总表' in page


def test_entering_readings_and_the_period_view(meter_estate, client_for, in_tenant):
    e = meter_estate()
    tech = client_for(e.tenant, e.tech)
    ok = tech.post('/billing/meters/new', data={'period': '2026-09', 'room': '1栋1单元201', 'meter': 'water',
                                                 'reading': '500'})
    assert ok.status_code == 303
    lower = tech.post('/billing/meters/new', data={'period': '2026-10', 'room': '1-1-201', 'meter': 'water',
                                                    'reading': '480'})
    assert lower.status_code == 422 and '低于上期读数 500' in lower.get_data(as_text=True)
    assert _count(in_tenant, e) == 1
    replaced = tech.post('/billing/meters/new', data={'period': '2026-10', 'room': '1-1-201', 'meter': 'water',
                                                       'reading': '3.5', 'replaced': 'y'})
    assert replaced.status_code == 303
    master = tech.post('/billing/meters/new', data={'period': '2026-10', 'room': '', 'meter': 'water',
                                                     'reading': '88'})
    assert master.status_code == 303
    missing = tech.post('/billing/meters/new', data={'period': '2026-10', 'room': '9-9-909', 'meter': 'water',
                                                      'reading': '1'})
    assert missing.status_code == 422 and '找不到房间' in missing.get_data(as_text=True)
    page = tech.get('/billing/meters?period=2026-10&meter=water').get_data(as_text=True)
    assert '1-1-201' in page and '3.5' in page and '88' in page and '换表' in page


def test_period_view_statements_do_not_grow_with_rooms(app, meter_estate, client_for, in_tenant):
    e = meter_estate()
    client = client_for(e.tenant, e.admin)
    client.get('/billing/meters?period=2026-10')
    with count_queries(app) as few:
        client.get('/billing/meters?period=2026-10')
    with in_tenant(e.tenant) as session:
        session.add_all([MeterReading(meter='water', room_id=r, period=p, reading=v)
                         for r in e.rooms.values() for p, v in (('2026-09', '1'), ('2026-10', '2'))])
    with count_queries(app) as many:
        page = client.get('/billing/meters?period=2026-10')
    assert page.status_code == 200 and len(many) == len(few)


def test_import_upload_preview_commit(meter_estate, client_for, in_tenant):
    e = meter_estate()
    cashier = client_for(e.tenant, e.cashier)
    preview = cashier.post('/billing/meters/import', data={'period': '2026-10',
                                                           'file': (SAMPLE.open('rb'), 'meter_readings.xlsx')},
                           content_type='multipart/form-data')
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and '本期读数 480 低于上期读数 500' in text and '错误 1 行' in text
    assert _count(in_tenant, e) == 0
    token = text.split('name="upload" type="hidden" value="')[1].split('"')[0]
    refused = cashier.post('/billing/meters/import/commit', data={'upload': token, 'period': '2026-10'})
    assert refused.status_code == 422 and '未导入任何数据' in refused.get_data(as_text=True)
    assert _count(in_tenant, e) == 0
    done = cashier.post('/billing/meters/import/commit', data={'upload': token, 'period': '2026-10',
                                                                'skip_errors': 'y'})
    assert done.status_code == 303
    assert _count(in_tenant, e) == 36
    again = cashier.post('/billing/meters/import/commit', data={'upload': token, 'period': '2026-10',
                                                                 'skip_errors': 'y'})
    assert again.status_code == 303 and _count(in_tenant, e) == 36  # the upload is gone: nothing twice
    bad = cashier.post('/billing/meters/import', data={'period': '2026-10', 'file': (SAMPLE.open('rb'), 'x.pdf')},
                       content_type='multipart/form-data')
    assert bad.status_code == 200  # the content decides, not the name
    exe = cashier.post('/billing/meters/import', data={'period': '2026-10', 'file': (__import__('io').BytesIO(
        b'MZ\x90\x00'), 'a.xlsx')}, content_type='multipart/form-data')
    assert exe.status_code == 422 and '程序文件' in exe.get_data(as_text=True)


def test_shared_preview_page(meter_estate, client_for, in_tenant):
    e = meter_estate()
    with in_tenant(e.tenant):
        metering.record_reading('water', None, '2026-09', '1000')
        metering.record_reading('water', None, '2026-10', '1300')
        metering.record_reading('water', e.rooms['1-1-101'], '2026-09', '0')
        metering.record_reading('water', e.rooms['1-1-101'], '2026-10', '50.5')
    client = client_for(e.tenant, e.cashier)
    page = client.get(f'/billing/meters/shared?fee_item={e.items["shared"]}&period=2026-10').get_data(as_text=True)
    assert '249.5' in page and '998.00' in page and '50.5' in page and '3-1-601' in page
    with in_tenant(e.tenant):
        metering.record_reading('water', e.rooms['1-1-201'], '2026-09', '0')
        metering.record_reading('water', e.rooms['1-1-201'], '2026-10', '400')
    refused = client.get(f'/billing/meters/shared?fee_item={e.items["shared"]}&period=2026-10')
    assert refused.status_code == 200 and '公摊用量为负' in refused.get_data(as_text=True)


def test_meter_readings_api(app, meter_estate, in_tenant):
    e = meter_estate()
    api = app.test_client()
    api.base = f'http://{e.tenant.slug}.localhost'
    tech, desk = api_token(in_tenant, e, e.tech), api_token(in_tenant, e, e.desk)
    first = api.post(API, json={'meter': 'water', 'period': '2026-09', 'room': '1-1-101', 'reading': '100.5'},
                     headers=tech)
    assert first.status_code == 201 and first.json['reading'] == '100.5'
    assert first.json['room_id'] == e.rooms['1-1-101']
    lower = api.post(API, json={'meter': 'water', 'period': '2026-10', 'room_id': e.rooms['1-1-101'],
                                'reading': '99'}, headers=tech)
    assert lower.status_code == 422 and '100.5' in lower.json['error']['message']
    assert 'reading' in lower.json['error']['fields']
    new = api.post(API, json={'meter': 'water', 'period': '2026-10', 'room_id': e.rooms['1-1-101'],
                              'reading': '99', 'replaced': True}, headers=tech)
    assert new.status_code == 201 and new.json['replaced'] is True
    master = api.post(API, json={'meter': 'electricity', 'period': '2026-10', 'reading': '12345.678'}, headers=tech)
    assert master.status_code == 201 and master.json['room_id'] is None
    assert api.post(API, json={'meter': 'water', 'period': '2026-13', 'reading': '1'}, headers=tech).status_code == 422
    assert api.post(API, json={'meter': 'water', 'period': '2026-10', 'reading': '1.2345'},
                    headers=tech).status_code == 422
    assert api.post(API, json={'meter': 'water', 'period': '2026-10', 'room_id': 2**31 - 1, 'reading': '1'},
                    headers=tech).status_code == 422
    listed = api.get(f'{API}?period=2026-10&meter=water', headers=tech)
    assert listed.status_code == 200 and listed.json['total'] == 1
    one = api.get(f'{API}/{new.json["id"]}', headers=tech)
    assert one.status_code == 200 and Decimal(one.json['reading']) == 99
    assert api.get(API, headers=desk).status_code == 403
    assert api.get(API).status_code == 401


def test_another_tenants_reading_is_not_found(app, meter_estate, in_tenant, client_for):
    a, b = meter_estate('甲'), meter_estate('乙')
    with in_tenant(a.tenant):
        reading_id = metering.record_reading('water', a.rooms['1-1-101'], '2026-10', '5').id
    api = app.test_client()
    api.base = f'http://{b.tenant.slug}.localhost'
    assert api.get(f'{API}/{reading_id}', headers=api_token(in_tenant, b, b.admin)).status_code == 404
    assert api.get(f'{API}?period=2026-10', headers=api_token(in_tenant, b, b.admin)).json['total'] == 0
    page = client_for(b.tenant, b.admin).get('/billing/meters?period=2026-10').get_data(as_text=True)
    assert '>5<' not in page
