"""The technician's app over the API: today's tasks, a device's open tasks (the QR label), check-in, photos before
completing, completing with a reading out of range (one work order, its number returned), refusals (403 not the
user's, 409 done, 422 bad answers), another project's task or device 404."""
from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from PIL import Image

from propsaas.auth import services as auth_services
from propsaas.auth.models import User
from propsaas.inspections import generation
from propsaas.inspections.models import Device, InspectionPlan, InspectionPlanDevice, InspectionTask
from propsaas.repairs.models import WorkOrder
from propsaas.tenancy import clock
from tests.helpers import count_queries

API = '/api/v1/inspections'
NOW = datetime(2026, 12, 1, 2, tzinfo=UTC)  # 10:00 in Shanghai
CHECKLIST = [{'label': '运行平稳', 'kind': 'check'},
             {'label': '出水压力', 'kind': 'reading', 'unit': 'MPa', 'min': '0.2', 'max': '0.8'}]


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new('RGB', (64, 48), 'blue').save(out, 'JPEG')
    return out.getvalue()


@pytest.fixture
def site(app, make_tenant, make_user, in_tenant, monkeypatch):
    monkeypatch.setattr(clock, 'now_utc', lambda: NOW)

    def build(name='巡检接口小区', pumps=1):
        tenant = make_tenant(name=name)
        tech = make_user(tenant, 'staff', duties=['technician'])
        guard = make_user(tenant, 'staff', duties=['security'])
        with in_tenant(tenant) as session:
            devices = [Device(code=f'SB-0{n}', name=f'{n}号水泵', category='water_pump') for n in range(1, pumps + 1)]
            plan = InspectionPlan(code='pump_check', name='水泵巡检', target='pump_room', starts_on=date(2026, 12, 1),
                                  frequency={'kind': 'daily', 'times': 2}, checklist=CHECKLIST, points=[],
                                  duty='technician', photos_required=1)
            session.add_all([*devices, plan])
            session.flush()
            session.add_all([InspectionPlanDevice(plan_id=plan.id, device_id=d.id) for d in devices])
            generation.generate(date(2026, 12, 1), date(2026, 12, 2), plan_ids=[plan.id])
            device_ids = [d.id for d in devices]
            session.commit()
            ids = session.execute(sa.select(InspectionTask.id).order_by(InspectionTask.period_start,
                                                                        InspectionTask.id)).scalars().all()
            headers = {}
            for user_id in (tech, guard):
                raw, _ = auth_services.issue_api_token(session.get(User, user_id))
                headers[user_id] = {'Authorization': f'Bearer {raw}'}
            session.commit()
        client = app.test_client()
        return tenant, tech, guard, ids, device_ids, headers, client

    return build


def test_the_technicians_day_over_the_api(site, in_tenant):
    tenant, tech, _guard, ids, (pump,), headers, client = site()
    base = f'http://{tenant.slug}.localhost'
    today = client.get(f'{API}/tasks', headers=headers[tech], base_url=base)
    assert today.status_code == 200 and today.json['total'] == 2  # today's two rounds
    first = today.json['items'][0]
    assert (first['plan_name'], first['device']['code'], first['status'], first['photos_required']) == (
        '水泵巡检', 'SB-01', 'open', 1)
    device = client.get(f'{API}/devices/{pump}', headers=headers[tech], base_url=base).json
    assert [t['id'] for t in device['open_tasks']] == [ids[0]]  # the afternoon's has not started yet
    task_id = ids[0]
    checked = client.post(f'{API}/tasks/{task_id}/check-in', json={}, headers=headers[tech], base_url=base)
    assert checked.status_code == 200 and checked.json['checked_in_at'] and checked.json['may_do'] is True
    answers = {'answers': [{'ok': True}, {'value': '0.9', 'note': '偏高'}]}
    no_photo = client.post(f'{API}/tasks/{task_id}/complete', json=answers, headers=headers[tech], base_url=base)
    assert no_photo.status_code == 422 and '需要拍照 1 张' in no_photo.json['error']['message']
    photo = client.post(f'{API}/tasks/{task_id}/photos', data={'photo': (io.BytesIO(jpeg()), 'a.jpg')},
                        headers=headers[tech], base_url=base, content_type='multipart/form-data')
    assert photo.status_code == 201 and photo.json == {'photos': 1}
    done = client.post(f'{API}/tasks/{task_id}/complete', json=answers, headers=headers[tech], base_url=base)
    assert done.status_code == 200, done.json
    assert done.json['failures'] == [['出水压力', '读数 0.9MPa，超出 0.2–0.8MPa']]
    assert done.json['task']['status'] == 'done' and done.json['task']['work_order_number'].startswith('BX-')
    again = client.post(f'{API}/tasks/{task_id}/complete', json=answers, headers=headers[tech], base_url=base)
    assert again.status_code == 409
    with in_tenant(tenant) as session:
        assert session.execute(sa.select(sa.func.count()).select_from(WorkOrder)).scalar_one() == 1
    missed = client.get(f'{API}/tasks?status=done', headers=headers[tech], base_url=base).json
    assert [t['id'] for t in missed['items']] == [task_id]


def test_refusals(site):
    tenant, tech, guard, ids, (pump,), headers, client = site()
    base = f'http://{tenant.slug}.localhost'
    # the guard has no technician duty: sees no task to do, may look at one, may not record it
    assert client.get(f'{API}/tasks', headers=headers[guard], base_url=base).json['total'] == 0
    assert client.get(f'{API}/tasks/{ids[0]}', headers=headers[guard], base_url=base).json['may_do'] is False
    assert client.post(f'{API}/tasks/{ids[0]}/check-in', json={}, headers=headers[guard],
                       base_url=base).status_code == 403
    bad = client.post(f'{API}/tasks/{ids[0]}/complete', json={'answers': [{'ok': True}, {'value': 'abc'}]},
                      headers=headers[tech], base_url=base)
    assert bad.status_code == 422 and '数字读数' in bad.json['error']['message']
    not_photo = client.post(f'{API}/tasks/{ids[0]}/photos', data={'photo': (io.BytesIO(b'GIF89a'), 'a.jpg')},
                            headers=headers[tech], base_url=base, content_type='multipart/form-data')
    assert not_photo.status_code == 422
    assert client.get(f'{API}/tasks', base_url=base).status_code == 401
    other, other_tech, _g, _ids, _pumps, other_headers, _c = site('别的小区')
    elsewhere = f'http://{other.slug}.localhost'
    for path in (f'/tasks/{ids[0]}', f'/devices/{pump}'):
        assert client.get(f'{API}{path}', headers=other_headers[other_tech], base_url=elsewhere).status_code == 404
    assert client.post(f'{API}/tasks/{ids[0]}/complete', json={'answers': []}, headers=other_headers[other_tech],
                       base_url=elsewhere).status_code == 404


def test_the_list_issues_constant_statements(app, site):
    counts = []
    for name, pumps in (('三台泵', 3), ('十二台泵', 12)):
        tenant, tech, _guard, _ids, _pumps, headers, client = site(name, pumps=pumps)
        with count_queries(app) as statements:
            response = client.get(f'{API}/tasks?per_page=100', headers=headers[tech],
                                  base_url=f'http://{tenant.slug}.localhost')
        assert response.json['total'] == 2 * pumps
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
