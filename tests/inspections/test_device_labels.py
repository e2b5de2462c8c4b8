"""QR label sheets of the equipment ledger: the PDF's text (read back with pypdf) has each chosen device's code, name
and place and the project's name; ?ids= takes this project's devices only; the list's filters choose too; the QR
codes are inline SVG of the device page's absolute URL on the project's host; bad or too many ids answer 422."""
from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader

from propsaas.inspections import devices, labels
from propsaas.inspections.models import Device
from propsaas.property.models import Building
from propsaas.tenancy.models import Tenant

pytestmark = pytest.mark.filterwarnings('ignore::DeprecationWarning')


def flat_text(data: bytes) -> str:
    assert data.startswith(b'%PDF-')
    return ''.join(''.join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages)


def page_count(data: bytes) -> int:
    return len(PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
def site(make_tenant, make_user, in_tenant):
    tenant = make_tenant(name='标签小区')
    other = make_tenant(name='别的小区')
    ids = {}
    with in_tenant(tenant) as session:
        building = Building(name='1栋')
        session.add(building)
        session.flush()
        for code, name, category, location in (('DT-01', '1号客梯', 'lift', '1单元东侧'),
                                               ('DT-02', '2号客梯', 'lift', '2单元西侧'),
                                               ('XF-01', '消防泵甲', 'fire_pump', '地下一层水泵房')):
            device = Device(code=code, name=name, category=category, building_id=building.id, location=location,
                            installed_on=date(2020, 1, 1))
            session.add(device)
            session.flush()
            ids[code] = device.id
    with in_tenant(other) as session:
        theirs = Device(code='ZZ-99', name='别人的电梯', category='lift')
        session.add(theirs)
        session.flush()
        ids['ZZ-99'] = theirs.id
    return tenant, other, ids, make_user(tenant, 'staff', duties=['lift_safety'])


def test_labels_of_chosen_ids_leave_out_another_projects_device(site, client_for):
    tenant, _other, ids, user = site
    client = client_for(tenant, user)
    response = client.get(f'/equipment/labels.pdf?ids={ids["DT-01"]},{ids["XF-01"]},{ids["ZZ-99"]}')
    assert response.status_code == 200 and response.mimetype == 'application/pdf'
    text = flat_text(response.data)
    for expected in ('标签小区', 'DT-01', '1号客梯', '1栋1单元东侧', 'XF-01', '消防泵甲', '1栋地下一层水泵房'):
        assert expected in text, expected
    assert 'DT-02' not in text and 'ZZ-99' not in text and '别人的电梯' not in text
    assert page_count(response.data) == 1


def test_labels_follow_the_lists_filters_and_fill_pages(site, client_for, in_tenant):
    tenant, _other, ids, user = site
    client = client_for(tenant, user)
    text = flat_text(client.get('/equipment/labels.pdf?category=lift').data)
    assert 'DT-01' in text and 'DT-02' in text and 'XF-01' not in text
    with in_tenant(tenant) as session:
        session.add_all([Device(code=f'JK-{n:02d}', name=f'监控{n}', category='cctv') for n in range(1, 10)])
    everything = client.get('/equipment/labels.pdf').data
    assert page_count(everything) == 2  # 12 labels, ten to a page
    text = flat_text(everything)
    assert all(code in text for code in ('DT-01', 'DT-02', 'XF-01', 'JK-01', 'JK-09')) and 'ZZ-99' not in text


def test_the_qr_code_is_inline_svg_of_the_device_page_on_the_projects_host(app, site, in_tenant):
    tenant, other, ids, _user = site
    with in_tenant(tenant) as session, app.test_request_context():
        project = session.get(Tenant, tenant.id)
        device = session.get(Device, ids['DT-01'])
        [label] = labels.labels([device], project)
        assert label.url == f'http://{tenant.slug}.localhost/equipment/{ids["DT-01"]}'
        assert label.qr.startswith('data:image/svg+xml')
        html = labels.labels_html([device], project)
        assert f'src="{label.qr}"' in html  # inline: the renderer fetches nothing


def test_bad_or_too_many_ids_answer_422(site, client_for):
    tenant, _other, ids, user = site
    client = client_for(tenant, user)
    bad = client.get('/equipment/labels.pdf?ids=1,abc')
    assert bad.status_code == 422 and '以逗号分隔的数字' in bad.text
    many = ','.join(str(n) for n in range(1, devices.MAX_LABELS + 2))
    too_many = client.get(f'/equipment/labels.pdf?ids={many}')
    assert too_many.status_code == 422 and f'一次最多打印 {devices.MAX_LABELS} 个标签' in too_many.text
    assert client_for(tenant, None).get('/equipment/labels.pdf').status_code in (302, 401)
    for query in ('category=gate', f'ids={ids["ZZ-99"]}'):  # nothing to print: another project's id is no device
        nothing = client.get(f'/equipment/labels.pdf?{query}')
        assert nothing.status_code == 422 and '没有可打印的标签' in nothing.text


def test_more_devices_than_the_cap_are_refused(site, client_for, in_tenant, monkeypatch):
    tenant, _other, _ids, user = site
    monkeypatch.setattr(devices, 'MAX_LABELS', 2)
    response = client_for(tenant, user).get('/equipment/labels.pdf')
    assert response.status_code == 422 and '一次最多打印 2 个标签' in response.text
    assert client_for(tenant, user).get('/equipment/labels.pdf?category=fire_pump').status_code == 200
