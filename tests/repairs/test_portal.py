"""The resident's repair pages and the service desk's logging, through the pages: report with photos, auto-dispatch,
timeline, confirm with stars, reopen, cancel; another household's order 404; the household told at each step
(Message rows with the source keys); the list page's statements do not grow with the orders."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from PIL import Image

from propsaas.auth.models import User
from propsaas.models_base import utcnow
from propsaas.notices.models import Message
from propsaas.repairs import notify, orders
from propsaas.repairs.models import DispatchRule, ReturnVisit, WorkOrder, WorkOrderPhoto
from propsaas.storage import tenant_root
from tests.helpers import count_queries
from tests.repairs.estate import build_estate


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    def make(name='报修住户苑'):
        e = build_estate(make_tenant, make_user, in_tenant, name)
        with in_tenant(e.tenant) as session:
            session.add(DispatchRule(category_id=e.categories['plumbing'], assignee_id=e.tech))
        return e

    return make


def jpeg(size=(800, 600)) -> bytes:
    out = io.BytesIO()
    Image.new('RGB', size, 'blue').save(out, 'JPEG')
    return out.getvalue()


def report_form(e, **extra) -> dict:
    return {'room_id': str(e.rooms['1-1-101']), 'category_id': str(e.categories['plumbing']),
            'urgency': 'urgent', 'description': '卫生间漏水', 'preferred_time': '晚上7点后', **extra}


def messages(in_tenant, tenant) -> list[tuple[int, str, str]]:
    """The residents' messages: (resident id, template, source key)."""
    with in_tenant(tenant) as session:
        return session.execute(sa.select(Message.resident_id, Message.template_code, Message.source_key)
                               .where(Message.resident_id.is_not(None)).order_by(Message.id)).all()


def staff_messages(in_tenant, tenant) -> list[tuple[int, str, str]]:
    """The staff's messages: (user id, template, title)."""
    with in_tenant(tenant) as session:
        return session.execute(sa.select(Message.user_id, Message.template_code, Message.title)
                               .where(Message.user_id.is_not(None)).order_by(Message.id)).all()


def test_the_resident_reports_with_photos_and_follows_it_to_the_end(estate, client_for, in_tenant):
    e = estate()
    owner = client_for(e.tenant, e.owner_user)
    page = owner.get('/my/repairs/new')
    assert page.status_code == 200 and '1栋' in page.text and '公共区域' in page.text
    response = owner.post('/my/repairs/new', data=report_form(e, photos=[(io.BytesIO(jpeg()), 'a.jpg'),
                                                                         (io.BytesIO(jpeg()), 'b.png')]),
                          content_type='multipart/form-data')
    assert response.status_code == 302, response.text
    with in_tenant(e.tenant) as session:
        order = session.execute(sa.select(WorkOrder)).scalar_one()
        order_id, number = order.id, order.number
        assert (order.status, order.assignee_id, order.urgency, order.channel) == ('assigned', e.tech, 'urgent',
                                                                                     'portal')
        assert order.reporter_resident_id == e.residents['1-1-101']
        events = {ev.action: ev.id for ev in order.events}
        assert [p.kind for p in order.photos] == ['report', 'report']
    assert response.headers['Location'].endswith(f'/my/repairs/{order_id}')
    assert messages(in_tenant, e.tenant) == [
        (e.residents['1-1-101'], 'repair_accepted', f'workorder:{order_id}:submitted:{events["submitted"]}'),
        (e.residents['1-1-101'], 'repair_assigned', f'workorder:{order_id}:assigned:{events["assigned"]}')]
    listing = owner.get('/my/repairs')
    assert number in listing.text and '已派单' in listing.text
    detail = owner.get(f'/my/repairs/{order_id}')
    assert number in detail.text and '李师傅' in detail.text and '/repairs/photos/' in detail.text
    assert '取消报修' not in detail.text  # assigned: the desk cancels, not the resident

    with in_tenant(e.tenant) as session:
        order = session.get(WorkOrder, order_id)
        orders.start(order, by_user=session.get(User, e.tech))
        orders.complete(order, by_user=session.get(User, e.tech), note='更换角阀',
                        parts=[{'name': '角阀', 'quantity': 1, 'cost_fen': 3500}])
        session.commit()
        notify.tell(order, order.events[-1])
    detail = owner.get(f'/my/repairs/{order_id}')
    assert '更换角阀' in detail.text and '角阀 × 1' in detail.text and '确认完成' in detail.text
    assert owner.post(f'/my/repairs/{order_id}/reopen', data={'reopen-reason': ''}).status_code == 422
    assert owner.post(f'/my/repairs/{order_id}/reopen', data={'reopen-reason': '还在漏'}).status_code == 302
    with in_tenant(e.tenant) as session:
        order = session.get(WorkOrder, order_id)
        assert (order.status, order.reopen_count) == ('assigned', 1)
        orders.start(order, by_user=session.get(User, e.tech))
        orders.complete(order, by_user=session.get(User, e.tech), note='重新密封')
        session.commit()
        notify.tell(order, order.events[-1])
    assert owner.post(f'/my/repairs/{order_id}/confirm', data={'confirm-rating': '9'}).status_code == 422
    response = owner.post(f'/my/repairs/{order_id}/confirm', data={'confirm-rating': '2', 'confirm-comment': '慢'})
    assert response.status_code == 302
    with in_tenant(e.tenant) as session:
        order = session.get(WorkOrder, order_id)
        assert (order.status, order.rating, order.rating_comment) == ('confirmed', 2, '慢')
        assert session.execute(sa.select(ReturnVisit.order_id)).scalar_one() == order_id
        completions = [ev.id for ev in order.events if ev.action == 'completed']
    sent = messages(in_tenant, e.tenant)
    assert [m[2] for m in sent if m[1] == 'repair_completed'] == [f'workorder:{order_id}:completed:{n}'
                                                                  for n in completions]  # told twice
    # confirming twice is refused with the state's message, nothing changes
    again = owner.post(f'/my/repairs/{order_id}/confirm', data={'confirm-rating': '5'})
    assert again.status_code == 409 and '已完成' in again.text


def test_cancel_while_submitted_and_the_household_is_told(estate, client_for, in_tenant):
    e = estate()
    owner = client_for(e.tenant, e.owner_user)
    form = report_form(e, category_id=str(e.categories['doors_windows']), urgency='normal')
    assert owner.post('/my/repairs/new', data=form, content_type='multipart/form-data').status_code == 302
    with in_tenant(e.tenant) as session:
        order_id = session.execute(sa.select(WorkOrder.id)).scalar_one()
        assert session.get(WorkOrder, order_id).status == 'submitted'  # no rule for 门窗
    assert '取消报修' in owner.get(f'/my/repairs/{order_id}').text
    assert owner.post(f'/my/repairs/{order_id}/cancel', data={'cancel-reason': '自己修好了'}).status_code == 302
    with in_tenant(e.tenant) as session:
        assert session.get(WorkOrder, order_id).status == 'cancelled'
    assert [m[1] for m in messages(in_tenant, e.tenant)] == ['repair_accepted', 'repair_cancelled']


def test_a_public_area_report_and_refusals(estate, client_for, in_tenant):
    e = estate()
    owner = client_for(e.tenant, e.owner_user)
    public = {'room_id': '0', 'category_id': str(e.categories['public_facilities']),
              'building_id': str(e.buildings['2']), 'public_area': '大堂', 'urgency': 'normal',
              'description': '大堂灯不亮'}
    assert owner.post('/my/repairs/new', data=public, content_type='multipart/form-data').status_code == 302
    with in_tenant(e.tenant) as session:
        order = session.execute(sa.select(WorkOrder)).scalar_one()
        assert (order.room_id, order.public_area, order.building_id) == (None, '大堂', e.buildings['2'])
    refused = [
        ({**public, 'public_area': ''}, '公共区域的位置'),
        (report_form(e, room_id=str(e.rooms['1-1-102'])), '只能为自己居住的房屋报修'),  # the neighbour's room
        (report_form(e, category_id='abc'), '请选择报修分类'),
        (report_form(e, description=''), '请描述'),
        (report_form(e, photos=[(io.BytesIO(b'#!/bin/sh\necho hi\n'), 'x.jpg')]), '不是 JPG'),
        (report_form(e, photos=[(io.BytesIO(jpeg((40, 40))), f'{n}.jpg') for n in range(7)]), '最多 6 张'),
    ]
    for data, message in refused:
        response = owner.post('/my/repairs/new', data=data, content_type='multipart/form-data')
        assert response.status_code == 422 and message in response.text, (message, response.text[:300])
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(sa.func.count()).select_from(WorkOrder)).scalar_one() == 1
        assert session.execute(sa.select(sa.func.count()).select_from(WorkOrderPhoto)).scalar_one() == 0
        root = tenant_root(e.tenant.id) / 'repairs'
        assert not root.exists() or not [p for p in root.rglob('*') if p.is_file()]


def test_another_households_order_is_404_for_everyone_else(estate, client_for, in_tenant):
    e, other = estate(), estate('别的苑')
    owner = client_for(e.tenant, e.owner_user)
    assert owner.post('/my/repairs/new', data=report_form(e), content_type='multipart/form-data').status_code == 302
    with in_tenant(e.tenant) as session:
        order_id = session.execute(sa.select(WorkOrder.id)).scalar_one()
    neighbour = client_for(e.tenant, e.neighbour_user)
    for path in (f'/my/repairs/{order_id}', ):
        assert neighbour.get(path).status_code == 404
        assert client_for(e.tenant, e.tech).get(path).status_code == 404
        assert client_for(other.tenant, other.owner_user).get(path).status_code == 404
    for action, data in (('confirm', {'confirm-rating': '5'}), ('reopen', {'reopen-reason': 'x'}),
                         ('cancel', {})):
        assert neighbour.post(f'/my/repairs/{order_id}/{action}', data=data).status_code == 404
    assert order_id not in [o for o in neighbour.get('/my/repairs').text.split() if o == str(order_id)]
    with in_tenant(e.tenant) as session:
        assert session.get(WorkOrder, order_id).status == 'assigned'


def test_the_desk_logs_a_phone_report_for_a_resident(estate, client_for, in_tenant):
    e = estate()
    desk = client_for(e.tenant, e.desk)
    page = desk.get('/repairs/new?room=1-1-101')
    assert page.status_code == 200 and '张业主' in page.text
    data = {'room': '1-1-101', 'resident_id': str(e.residents['1-1-101']), 'contact_name': '张业主',
            'contact_phone': '13900000001', 'channel': 'phone', 'category_id': str(e.categories['plumbing']),
            'urgency': 'normal', 'description': '厨房水管漏水（电话报修）',
            'photos': [(io.BytesIO(jpeg()), 'scan.jpg')]}
    response = desk.post('/repairs/new', data=data, content_type='multipart/form-data')
    assert response.status_code == 302, response.text
    with in_tenant(e.tenant) as session:
        order = session.execute(sa.select(WorkOrder)).scalar_one()
        assert (order.channel, order.created_by_id, order.reporter_resident_id, order.status) == (
            'phone', e.desk, e.residents['1-1-101'], 'assigned')
        assert len(order.photos) == 1
        assignee_id = order.assignee_id
    assert [m[1] for m in messages(in_tenant, e.tenant)] == ['repair_accepted', 'repair_assigned']
    # The technician auto-assigned to it is told through the notification center too.
    assert [m[:2] for m in staff_messages(in_tenant, e.tenant)] == [(assignee_id, 'repair_dispatched')]
    # the neighbour is not one of 1-1-101's residents; an unknown room is named
    wrong = desk.post('/repairs/new', data={**data, 'photos': [], 'resident_id': str(e.residents['1-1-102'])},
                      content_type='multipart/form-data')
    assert wrong.status_code == 422 and '请从该房屋的住户中选择' in wrong.text
    missing = desk.post('/repairs/new', data={**data, 'photos': [], 'room': '9-9-999'},
                        content_type='multipart/form-data')
    assert missing.status_code == 422 and '9-9-999' in missing.text
    # a walk-in report for a public area without a resident: nobody to tell
    walk_in = {'room': '', 'building_id': str(e.buildings['1']), 'public_area': '地下车库B区', 'channel': 'walk_in',
               'category_id': str(e.categories['public_facilities']), 'urgency': 'urgent', 'description': '车库积水'}
    assert desk.post('/repairs/new', data=walk_in, content_type='multipart/form-data').status_code == 302
    assert len(messages(in_tenant, e.tenant)) == 2
    assert client_for(e.tenant, e.tech).get('/repairs/new').status_code == 403
    assert client_for(e.tenant, e.owner_user).get('/repairs/new').status_code == 403


def test_auto_confirmation_tells_the_household(estate, client_for, in_tenant):
    e = estate()
    owner = client_for(e.tenant, e.owner_user)
    assert owner.post('/my/repairs/new', data=report_form(e), content_type='multipart/form-data').status_code == 302
    with in_tenant(e.tenant) as session:
        order = session.execute(sa.select(WorkOrder)).scalar_one()
        orders.start(order, by_user=session.get(User, e.tech))
        orders.complete(order, by_user=session.get(User, e.tech), note='修好了', now=utcnow() - timedelta(days=4))
        [done] = orders.auto_confirm_due()
        session.commit()
        assert notify.tell(done, done.events[-1]) == 1
        assert notify.tell(done, done.events[-1]) == 0  # told once
    assert messages(in_tenant, e.tenant)[-1][1] == 'repair_auto_confirmed'


def test_the_list_page_is_constant_in_statements(estate, client_for, in_tenant, app):
    e = estate()
    owner = client_for(e.tenant, e.owner_user)
    counts = {}
    for n in (2, 15):
        with in_tenant(e.tenant) as session:
            have = session.execute(sa.select(sa.func.count()).select_from(WorkOrder)).scalar_one()
            for i in range(n - have):
                code = '1-1-101'
                orders.submit(category_id=e.categories['plumbing'] if i % 2 else e.categories['doors_windows'],
                              description=f'问题{i}', room_id=e.rooms[code], reporter_resident_id=e.residents[code],
                              by_user=session.get(User, e.owner_user))
        with count_queries(app) as statements:
            page = owner.get('/my/repairs')
        assert page.status_code == 200 and page.text.count('status-') >= n
        counts[n] = len(statements)
    assert counts[2] == counts[15], counts
