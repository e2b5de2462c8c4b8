"""Feedback (问题反馈): staff send a problem or suggestion with the page they were on and a screenshot (checked by
content, EXIF gone); they see their own, admins the project's, residents nothing, another project 404; operators
list every project's, answer (the sender sees it and gets a message) and close; non-operators get the login."""
from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from PIL import Image

from propsaas.extensions import db
from propsaas.feedback.models import Feedback
from propsaas.notices.models import Message
from propsaas.storage import tenant_root
from propsaas.tenancy.context import platform_scope
from tests.helpers import count_queries

PLATFORM = 'http://localhost'


def phone_jpeg() -> bytes:
    """A JPEG as a phone writes it: GPS position, maker."""
    image = Image.new('RGB', (800, 600), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = 'PhoneMaker'
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = 'N', (39.0, 54.0, 27.0)
    out = io.BytesIO()
    image.save(out, 'JPEG', exif=exif)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # the GPS really is there
    return data


@pytest.fixture
def projects(make_tenant, make_user, client_for):
    """Project A (an admin, two staff, a resident) and project B (an admin, a staff member)."""

    def make():
        a, b = make_tenant(name='反馈甲小区'), make_tenant(name='反馈乙大厦', template='office-building')
        ids = SimpleNamespace(a=a, b=b, admin=make_user(a, 'admin', name='甲管理员'),
                              staff=make_user(a, 'staff', name='甲客服小王'), other=make_user(a, 'staff'),
                              resident=make_user(a, 'resident'), b_admin=make_user(b, 'admin'),
                              b_staff=make_user(b, 'staff', name='乙工程小李'))
        ids.client = lambda tenant, user_id: client_for(tenant, user_id)
        return ids

    return make


def send(client, text='报修派单页面打不开', *, page='/repairs/12', screenshot=None, kind='problem', name='shot.jpg'):
    data = {'kind': kind, 'text': text, 'page': page}
    if screenshot is not None:
        data['screenshot'] = (io.BytesIO(screenshot), name)
    return client.post('/feedback/new', data=data, content_type='multipart/form-data')


def feedback_id(response) -> int:
    assert response.status_code == 302, response.text
    return int(re.search(r'/feedback/(\d+)$', response.headers['Location']).group(1))


def rows(app, **where) -> list[Feedback]:
    with app.app_context(), platform_scope():
        query = sa.select(Feedback).filter_by(**where).order_by(Feedback.id)
        found = db.session.execute(query).scalars().all()
        db.session.expunge_all()
        return found


def files_of(app, tenant) -> list:
    with app.app_context():
        root = tenant_root(tenant.id) / 'feedback'
    return sorted(p for p in root.rglob('*') if p.is_file()) if root.exists() else []


def test_staff_send_feedback_with_a_screenshot_without_its_exif(app, projects):
    p = projects()
    staff = p.client(p.a, p.staff)
    form = staff.get('/feedback/new', headers={'Referer': f'http://{p.a.slug}.localhost/repairs/12?tab=photos'})
    assert form.status_code == 200 and 'value="/repairs/12?tab=photos"' in form.text
    assert 'value="/billing/bills"' in staff.get('/feedback/new?page=/billing/bills').text
    # a Referer from another site is not taken
    assert 'evil' not in staff.get('/feedback/new', headers={'Referer': 'https://evil.example/repairs/1'}).text

    new_id = feedback_id(send(staff, '派单后技术员收不到短信', screenshot=phone_jpeg()))
    page = staff.get(f'/feedback/{new_id}')
    assert '派单后技术员收不到短信' in page.text and '/repairs/12' in page.text and '待答复' in page.text
    [row] = rows(app, id=new_id)
    assert (row.user_id, row.kind, row.page, row.status) == (p.staff, 'problem', '/repairs/12', 'open')
    assert row.screenshot_key.startswith(f'feedback/{new_id}/') and (row.screenshot_width, row.screenshot_height) == (
        800, 600)
    shot = staff.get(f'/feedback/{new_id}/screenshot')
    assert shot.status_code == 200 and shot.mimetype == 'image/jpeg'
    image = Image.open(io.BytesIO(shot.data))
    assert image.format == 'JPEG' and not image.getexif() and b'PhoneMaker' not in shot.data
    assert b'Exif' not in shot.data and len(files_of(app, p.a)) == 2  # the picture and its thumbnail
    listing = staff.get('/feedback')
    assert '派单后技术员收不到短信' in listing.text and '问题反馈' in listing.text


def test_send_without_a_screenshot_keeps_only_a_local_page(app, projects):
    p = projects()
    staff = p.client(p.a, p.staff)
    first = feedback_id(send(staff, '希望工单能按楼栋筛选', kind='suggestion', page='https://evil.example/phish'))
    second = feedback_id(send(staff, '导出按钮没反应', page='//evil.example/x'))
    third = feedback_id(send(staff, '首页加载慢', page=''))
    assert [(r.kind, r.page, r.screenshot_key) for r in rows(app, user_id=p.staff)] == [
        ('suggestion', None, None), ('problem', None, None), ('problem', None, None)]
    assert staff.get(f'/feedback/{first}/screenshot').status_code == 404  # there is none
    assert staff.get(f'/feedback/{second}').status_code == 200 and staff.get(f'/feedback/{third}').status_code == 200
    assert files_of(app, p.a) == []


def test_a_script_named_jpg_or_an_empty_text_is_refused_and_nothing_kept(app, projects):
    p = projects()
    staff = p.client(p.a, p.staff)
    refused = send(staff, screenshot=b'#!/bin/sh\nrm -rf / # not a picture\n', name='screen.jpg')
    assert refused.status_code == 422 and '这不是 JPG、PNG 或 WebP 照片' in refused.text
    empty = send(staff, '   ', screenshot=phone_jpeg())
    assert empty.status_code == 422 and '请写下遇到的问题或建议' in empty.text
    too_long = send(staff, '长' * 2001)
    assert too_long.status_code == 422
    assert rows(app, user_id=p.staff) == [] and files_of(app, p.a) == []


def test_residents_are_refused_staff_see_their_own_admins_all(app, projects):
    p = projects()
    new_id = feedback_id(send(p.client(p.a, p.staff), '收费页面金额显示错位', screenshot=phone_jpeg()))
    resident = p.client(p.a, p.resident)
    assert 'href="/feedback"' not in resident.get('/').text
    assert 'href="/feedback"' in p.client(p.a, p.other).get('/').text  # the menu entry 问题反馈
    assert resident.get('/feedback').status_code == 403
    assert resident.get('/feedback/new').status_code == 403
    assert send(resident).status_code == 403
    assert resident.get(f'/feedback/{new_id}').status_code == 403
    assert p.client(p.a, None).get('/feedback').status_code == 302  # the login page

    other = p.client(p.a, p.other)
    assert '收费页面金额显示错位' not in other.get('/feedback').text
    assert other.get(f'/feedback/{new_id}').status_code == 404
    assert other.get(f'/feedback/{new_id}/screenshot').status_code == 404

    admin = p.client(p.a, p.admin)
    listing = admin.get('/feedback')
    assert '收费页面金额显示错位' in listing.text and '甲客服小王' in listing.text
    assert admin.get(f'/feedback/{new_id}').status_code == 200
    assert admin.get(f'/feedback/{new_id}/screenshot').mimetype == 'image/jpeg'


def test_another_projects_feedback_is_not_found(app, projects):
    p = projects()
    new_id = feedback_id(send(p.client(p.a, p.staff), '甲项目的反馈', screenshot=phone_jpeg()))
    for user_id in (p.b_admin, p.b_staff):
        client = p.client(p.b, user_id)
        assert '甲项目的反馈' not in client.get('/feedback').text
        assert client.get(f'/feedback/{new_id}').status_code == 404
        assert client.get(f'/feedback/{new_id}/screenshot').status_code == 404


def test_operators_list_answer_and_close_every_projects_feedback(app, projects, operator, in_tenant):
    p = projects()
    staff = p.client(p.a, p.staff)
    a_id = feedback_id(send(staff, '甲：报表导出乱码', screenshot=phone_jpeg()))
    b_id = feedback_id(send(p.client(p.b, p.b_staff), '乙：巡检任务重复', kind='suggestion', page='/inspections'))
    op = operator()

    with in_tenant(p.a) as session:
        session.get(Feedback, a_id).created_at = datetime(2026, 11, 30, 1, 30, tzinfo=UTC)
        session.commit()
    listing = op.get('/operator/feedback')
    assert listing.status_code == 200
    for text in ('甲：报表导出乱码', '乙：巡检任务重复', '反馈甲小区', '反馈乙大厦', '甲客服小王', '乙工程小李'):
        assert text in listing.text
    assert '<td>2026-11-30 09:30</td>' in listing.text  # the project's time (Shanghai), not UTC

    detail = op.get(f'/operator/feedback/{a_id}')
    assert detail.status_code == 200
    for text in ('甲客服小王', '反馈甲小区', '/repairs/12', f'/operator/feedback/{a_id}/screenshot'):
        assert text in detail.text
    shot = op.get(f'/operator/feedback/{a_id}/screenshot')
    assert shot.status_code == 200 and shot.mimetype == 'image/jpeg' and b'PhoneMaker' not in shot.data
    assert op.get(f'/operator/feedback/{b_id}/screenshot').status_code == 404  # none sent

    assert op.post(f'/operator/feedback/{a_id}/answer', data={'answer': '  '}).status_code == 422
    assert rows(app, id=a_id)[0].status == 'open'
    answered = op.post(f'/operator/feedback/{a_id}/answer', data={'answer': '已修复，请刷新后再导出。'})
    assert answered.status_code == 302
    [row] = rows(app, id=a_id)
    assert (row.status, row.answer, row.answered_by_id is not None) == ('answered', '已修复，请刷新后再导出。', True)

    # the sender sees the answer and got a message linking to it
    page = staff.get(f'/feedback/{a_id}')
    assert '已修复，请刷新后再导出。' in page.text and '已答复' in page.text
    with in_tenant(p.a) as session:
        messages = session.execute(sa.select(Message).where(Message.user_id == p.staff)).scalars().all()
        assert [(m.link, m.title) for m in messages] == [(f'/feedback/{a_id}', '您的反馈已答复：甲：报表导出乱码')]
        assert '已修复，请刷新后再导出。' in messages[0].body

    # open first: B's (open) is listed before A's (answered); the filter shows one status
    listing = op.get('/operator/feedback').text
    assert listing.index('乙：巡检任务重复') < listing.index('甲：报表导出乱码')
    answered_only = op.get('/operator/feedback?status=answered').text
    assert '甲：报表导出乱码' in answered_only and '乙：巡检任务重复' not in answered_only

    # answering again tells the sender again
    assert op.post(f'/operator/feedback/{a_id}/answer', data={'answer': '补充：已发布新版本。'}).status_code == 302
    with in_tenant(p.a) as session:
        assert session.execute(sa.select(sa.func.count()).select_from(Message).where(
            Message.user_id == p.staff)).scalar_one() == 2

    assert op.post(f'/operator/feedback/{a_id}/close').status_code == 302
    [row] = rows(app, id=a_id)
    assert row.status == 'closed' and row.closed_at is not None and row.answer == '补充：已发布新版本。'
    refused = op.post(f'/operator/feedback/{a_id}/answer', data={'answer': '再答一次'})
    assert refused.status_code == 409 and '反馈已关闭' in refused.text
    assert rows(app, id=a_id)[0].answer == '补充：已发布新版本。'
    assert '已关闭' in staff.get(f'/feedback/{a_id}').text
    assert op.get('/operator/feedback/999999').status_code == 404
    assert op.post('/operator/feedback/999999/close').status_code == 404


def test_operator_pages_need_an_operator(app, projects):
    p = projects()
    a_id = feedback_id(send(p.client(p.a, p.staff), '甲项目的反馈', screenshot=phone_jpeg()))
    anonymous = app.test_client()
    anonymous.base = PLATFORM
    for url in ('/operator/feedback', f'/operator/feedback/{a_id}', f'/operator/feedback/{a_id}/screenshot'):
        response = anonymous.get(url)
        assert response.status_code == 302 and '/operator/login' in response.headers['Location']
    for url in (f'/operator/feedback/{a_id}/answer', f'/operator/feedback/{a_id}/close'):
        response = anonymous.post(url, data={'answer': '冒充运营'})
        assert response.status_code == 302 and '/operator/login' in response.headers['Location']
    # a project admin's session is nobody on the platform host, and the console is not served on a project's host
    admin = p.client(p.a, p.admin)
    cookie = admin.get_cookie('propsaas_session', domain=f'{p.a.slug}.localhost').value
    intruder = app.test_client()
    intruder.set_cookie('propsaas_session', cookie, domain='localhost')
    response = intruder.get('/operator/feedback', base_url=PLATFORM)
    assert response.status_code == 302 and '/operator/login' in response.headers['Location']
    assert admin.get('/operator/feedback').status_code == 404
    assert admin.get(f'/operator/feedback/{a_id}').status_code == 404
    [row] = rows(app, id=a_id)
    assert (row.status, row.answer) == ('open', None)


def test_lists_take_the_same_statements_however_many_rows(app, projects, operator):
    p = projects()
    staff, admin, op = p.client(p.a, p.staff), p.client(p.a, p.admin), operator()
    send(staff, '第一条')
    send(p.client(p.a, p.other), '第二条')

    def statements(client, url):
        with count_queries(app) as seen:
            assert client.get(url).status_code == 200
        return len(seen)

    before = [statements(admin, '/feedback'), statements(staff, '/feedback'), statements(op, '/operator/feedback')]
    for n in range(4):
        send(staff, f'又一条 {n}')
        send(p.client(p.b, p.b_staff), f'乙的 {n}')
    assert [statements(admin, '/feedback'), statements(staff, '/feedback'),
            statements(op, '/operator/feedback')] == before
