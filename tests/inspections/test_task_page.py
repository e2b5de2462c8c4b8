"""The task page on a phone: opening it checks the technician in, the form records every item and the required
photos, a reading out of range opens one work order (dispatched and linked), refusals keep the answers and save
nothing, who may do it, another project's task is 404."""
from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from PIL import Image

from propsaas.inspections import generation
from propsaas.inspections.models import (
    Device,
    InspectionPhoto,
    InspectionPlan,
    InspectionPlanDevice,
    InspectionTask,
)
from propsaas.repairs.models import WorkOrder
from propsaas.tenancy import clock

CHECKLIST = [{'label': '运行平稳', 'kind': 'check'},
             {'label': '出水压力', 'kind': 'reading', 'unit': 'MPa', 'min': '0.2', 'max': '0.8'},
             {'label': '备注', 'kind': 'note'}]
NOW = datetime(2026, 12, 1, 2, tzinfo=UTC)  # 10:00 in Shanghai


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new('RGB', (64, 48), (200, 30, 30)).save(out, 'JPEG')
    return out.getvalue()


@pytest.fixture
def site(make_tenant, make_user, in_tenant, monkeypatch):
    monkeypatch.setattr(clock, 'now_utc', lambda: NOW)

    def build(name='巡检页面小区', photos_required=1):
        tenant = make_tenant(name=name)
        tech = make_user(tenant, 'staff', duties=['technician'], name='李师傅')
        guard = make_user(tenant, 'staff', duties=['security'])
        with in_tenant(tenant) as session:
            pump = Device(code='SB-01', name='1号生活水泵', category='water_pump', location='水泵房')
            plan = InspectionPlan(code='pump_check', name='水泵巡检', target='pump_room', starts_on=date(2026, 12, 1),
                                  frequency={'kind': 'daily', 'times': 1}, checklist=CHECKLIST, points=[],
                                  duty='technician', photos_required=photos_required)
            session.add_all([pump, plan])
            session.flush()
            session.add(InspectionPlanDevice(plan_id=plan.id, device_id=pump.id))
            generation.generate(date(2026, 12, 1), date(2026, 12, 1), plan_ids=[plan.id])
            session.commit()
            task_id = session.execute(sa.select(InspectionTask.id).where(InspectionTask.plan_id == plan.id)
                                      ).scalar_one()
        return tenant, tech, guard, task_id

    return build


def form(ok='1', value='0.5', note='一切正常', photos=1):
    data = {'item-1-ok': ok, 'item-2-value': value, 'item-2-note': '', 'item-3-note': note}
    data['photos'] = [(io.BytesIO(jpeg()), f'p{n}.jpg') for n in range(photos)]
    return data


def test_open_check_in_record_and_a_failure_opens_one_order(site, client_for, in_tenant):
    tenant, tech_id, _guard, task_id = site()
    tech = client_for(tenant, tech_id)
    page = tech.get(f'/inspections/tasks/{task_id}')
    assert page.status_code == 200 and '水泵巡检' in page.text and 'SB-01 1号生活水泵' in page.text
    assert '正常范围' in page.text and '0.2–0.8' in page.text
    with in_tenant(tenant) as session:
        assert session.get(InspectionTask, task_id).checked_in_at == NOW
    done = tech.post(f'/inspections/tasks/{task_id}', data=form(value='1.3'), content_type='multipart/form-data')
    assert done.status_code == 303
    shown = tech.get(f'/inspections/tasks/{task_id}')
    with in_tenant(tenant) as session:
        order = session.execute(sa.select(WorkOrder)).scalar_one()
        assert (order.channel, order.inspection_task_id) == ('inspection', task_id)
        assert session.execute(sa.select(sa.func.count()).select_from(InspectionPhoto)).scalar_one() == 1
        task = session.get(InspectionTask, task_id)
        assert task.status == 'done' and task.results[1]['ok'] is False
        number = order.number
    assert number in shown.text and '已生成报修工单' in shown.text and '巡检结果' in shown.text
    # submitted again: refused, still one order
    again = tech.post(f'/inspections/tasks/{task_id}', data=form(value='2'), content_type='multipart/form-data')
    assert again.status_code == 409 and '已经完成' in again.text
    with in_tenant(tenant) as session:
        assert session.execute(sa.select(sa.func.count()).select_from(WorkOrder)).scalar_one() == 1


@pytest.mark.parametrize('data, message', [
    (form(ok=''), '请选择正常或异常'),
    (form(value='十'), '请填写数字读数'),
    (form(photos=0), '需要拍照 1 张'),
])
def test_refusals_keep_the_answers_and_save_nothing(site, client_for, in_tenant, data, message):
    tenant, tech_id, _guard, task_id = site()
    response = client_for(tenant, tech_id).post(f'/inspections/tasks/{task_id}', data=data,
                                                content_type='multipart/form-data')
    assert response.status_code == 422 and message in response.text
    assert 'value="一切正常"' in response.text  # what was typed is still there
    with in_tenant(tenant) as session:
        assert session.get(InspectionTask, task_id).status == 'open'
        assert session.execute(sa.select(sa.func.count()).select_from(InspectionPhoto)).scalar_one() == 0


def test_a_photo_that_is_no_photo_is_refused(site, client_for, in_tenant):
    tenant, tech_id, _guard, task_id = site()
    data = form(photos=0)
    data['photos'] = [(io.BytesIO(b'<script>alert(1)</script>'), 'evil.jpg')]
    response = client_for(tenant, tech_id).post(f'/inspections/tasks/{task_id}', data=data,
                                                content_type='multipart/form-data')
    assert response.status_code == 422 and '不是 JPG' in response.text
    with in_tenant(tenant) as session:
        assert session.get(InspectionTask, task_id).status == 'open'


def test_who_may_do_it(site, client_for, in_tenant, make_user):
    tenant, _tech, guard_id, task_id = site()
    guard = client_for(tenant, guard_id)
    page = guard.get(f'/inspections/tasks/{task_id}')
    assert page.status_code == 200 and '只能查看' in page.text  # other staff may look
    with in_tenant(tenant) as session:
        assert session.get(InspectionTask, task_id).checked_in_at is None  # looking is no check-in
    refused = guard.post(f'/inspections/tasks/{task_id}', data=form(), content_type='multipart/form-data')
    assert refused.status_code == 403 and '不是派给你的' in refused.text
    resident = make_user(tenant, 'resident')
    assert client_for(tenant, resident).get(f'/inspections/tasks/{task_id}').status_code == 403
    other_tenant, other_tech, _g, _t = site('另一个小区')
    assert client_for(other_tenant, other_tech).get(f'/inspections/tasks/{task_id}').status_code == 404
    assert client_for(other_tenant, other_tech).post(f'/inspections/tasks/{task_id}', data=form(),
                                                     content_type='multipart/form-data').status_code == 404


def test_a_missed_task_can_still_be_done_late(site, client_for, in_tenant, monkeypatch):
    tenant, tech_id, _guard, task_id = site(photos_required=0)
    with in_tenant(tenant) as session:
        session.get(InspectionTask, task_id).status = 'missed'
        session.commit()
    monkeypatch.setattr(clock, 'now_utc', lambda: NOW + timedelta(days=2))
    tech = client_for(tenant, tech_id)
    assert tech.post(f'/inspections/tasks/{task_id}', data=form(photos=0),
                     content_type='multipart/form-data').status_code == 303
    with in_tenant(tenant) as session:
        assert session.get(InspectionTask, task_id).status == 'done'


def test_the_photos_are_shown_to_staff_without_their_exif(site, client_for, in_tenant, make_user):
    from tests.repairs.test_photos import phone_jpeg

    tenant, tech_id, guard_id, task_id = site()
    data = form(photos=0)
    data['photos'] = [(io.BytesIO(phone_jpeg()), 'IMG_0001.jpg')]
    tech = client_for(tenant, tech_id)
    assert tech.post(f'/inspections/tasks/{task_id}', data=data, content_type='multipart/form-data').status_code == 303
    with in_tenant(tenant) as session:
        photo_id = session.execute(sa.select(InspectionPhoto.id)).scalar_one()
    assert f'/inspections/photos/{photo_id}/thumb' in tech.get(f'/inspections/tasks/{task_id}').text
    for path in (f'/inspections/photos/{photo_id}', f'/inspections/photos/{photo_id}/thumb'):
        shown = client_for(tenant, guard_id).get(path)  # any staff member of the project
        assert shown.status_code == 200 and shown.mimetype == 'image/jpeg'
        assert not Image.open(io.BytesIO(shown.data)).getexif()
    assert client_for(tenant, make_user(tenant, 'resident')).get(f'/inspections/photos/{photo_id}').status_code == 403
    other, other_tech, _guard, _task = site('别的照片小区')
    assert client_for(other, other_tech).get(f'/inspections/photos/{photo_id}').status_code == 404
