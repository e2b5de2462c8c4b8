"""/api/v1/me/repairs (residents) and /api/v1/repairs (staff): the whole flow over the API (report, photo, start,
complete, confirm with a rating), refusals (another household's order 404, an illegal transition 409, a bad rating
422, a script as a photo 422), the staff list's filters and who sees what, and lists in a constant number of
statements."""
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from PIL import Image

from propsaas.auth import services as auth_services
from propsaas.auth.models import User
from propsaas.notices.models import Message
from propsaas.repairs import orders
from propsaas.repairs.models import DispatchRule, ReturnVisit, WorkOrder, WorkOrderPhoto
from tests.helpers import count_queries
from tests.repairs.estate import build_estate


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    def make(name='报修接口苑'):
        e = build_estate(make_tenant, make_user, in_tenant, name)
        with in_tenant(e.tenant) as session:
            session.add(DispatchRule(category_id=e.categories['plumbing'], assignee_id=e.tech))
        return e

    return make


def token(in_tenant, e, user_id: int) -> dict:
    with in_tenant(e.tenant) as session:
        raw, _ = auth_services.issue_api_token(session.get(User, user_id))
    return {'Authorization': f'Bearer {raw}'}


def api_client(app, e):
    client = app.test_client()
    client.base = f'http://{e.tenant.slug}.localhost'
    return client


def jpeg(size=(640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new('RGB', size, 'green').save(out, 'JPEG')
    return out.getvalue()


def upload(data: bytes, name: str = 'a.jpg') -> dict:
    return {'photo': (io.BytesIO(data), name)}


def report(e, **extra) -> dict:
    return {'room_id': e.rooms['1-1-101'], 'category_id': e.categories['plumbing'], 'description': '厨房水管漏水',
            'urgency': 'urgent', 'preferred_time': '晚上7点后', **extra}


def test_the_whole_flow_over_the_api(app, estate, in_tenant):
    e = estate()
    client = api_client(app, e)
    owner, tech, desk = (token(in_tenant, e, u) for u in (e.owner_user, e.tech, e.desk))
    created = client.post('/api/v1/me/repairs', json=report(e), headers=owner)
    assert created.status_code == 201, created.json
    order = created.json
    order_id = order['id']
    assert order['number'].startswith('BX-') and order['status'] == 'assigned' and order['urgency'] == 'urgent'
    assert order['assignee']['name'] == '李师傅' and order['place'] == '1栋1单元101'
    assert [ev['action'] for ev in order['events']] == ['submitted', 'assigned']
    assert 'by_user_id' not in order['events'][0] and 'reporter_resident_id' not in order

    photo = client.post(f'/api/v1/me/repairs/{order_id}/photos', data=upload(jpeg()), headers=owner,
                        content_type='multipart/form-data')
    assert photo.status_code == 201, photo.json
    assert photo.json['kind'] == 'report' and photo.json['width'] == 640
    image = client.get(photo.json['url'], headers=owner)
    assert image.status_code == 200 and image.mimetype == 'image/jpeg' and image.data[:2] == b'\xff\xd8'
    assert client.get(photo.json['thumb_url'], headers=tech).status_code == 200
    assert client.get(photo.json['url']).status_code == 401

    listing = client.get('/api/v1/me/repairs', headers=owner).json
    assert listing['total'] == 1 and listing['items'][0]['number'] == order['number']

    mine = client.get('/api/v1/repairs', headers=tech).json
    assert [o['id'] for o in mine['items']] == [order_id] and mine['items'][0]['overdue'] is False
    started = client.post(f'/api/v1/repairs/{order_id}/start', headers=tech, csrf=False)
    assert started.status_code == 200 and started.json['status'] == 'in_progress'
    after = client.post(f'/api/v1/repairs/{order_id}/photos', data=upload(jpeg(), 'done.png'), headers=tech,
                        content_type='multipart/form-data')
    assert after.status_code == 201 and after.json['kind'] == 'after'
    done = client.post(f'/api/v1/repairs/{order_id}/complete', headers=tech, json={
        'note': '换了角阀', 'parts': [{'name': '角阀', 'quantity': 1, 'cost_fen': 3500}]})
    assert done.status_code == 200, done.json
    assert done.json['status'] == 'completed' and done.json['parts'] == [{'name': '角阀', 'quantity': 1,
                                                                          'cost_fen': 3500}]
    assert {p['kind'] for p in done.json['photos']} == {'report', 'after'}

    confirmed = client.post(f'/api/v1/me/repairs/{order_id}/confirm', json={'rating': 5, 'comment': '很快'},
                            headers=owner)
    assert confirmed.status_code == 200, confirmed.json
    assert (confirmed.json['status'], confirmed.json['rating'], confirmed.json['rating_comment']) == (
        'confirmed', 5, '很快')
    assert [ev['action'] for ev in confirmed.json['events']] == ['submitted', 'assigned', 'started', 'completed',
                                                                 'confirmed']
    staff_view = client.get(f'/api/v1/repairs/{order_id}', headers=desk).json
    assert staff_view['events'][2]['by_user_id'] == e.tech and staff_view['reporter_resident_id'] == e.residents[
        '1-1-101']
    with in_tenant(e.tenant) as session:
        told = session.execute(sa.select(Message.template_code).where(
            Message.resident_id == e.residents['1-1-101']).order_by(Message.id)).scalars().all()
        assert told == ['repair_accepted', 'repair_assigned', 'repair_completed']
        assert session.execute(sa.select(sa.func.count()).select_from(ReturnVisit)).scalar_one() == 0


def test_refusals(app, estate, in_tenant):
    e, other = estate(), estate('别的小区')
    client = api_client(app, e)
    owner, neighbour, tech, tech2, desk, admin = (token(in_tenant, e, u) for u in (
        e.owner_user, e.neighbour_user, e.tech, e.tech2, e.desk, e.admin))
    order_id = client.post('/api/v1/me/repairs', json=report(e), headers=owner).json['id']
    with in_tenant(other.tenant) as session:
        foreign = orders.submit(category_id=other.categories['plumbing'], description='别处', by_user=session.get(
            User, other.desk), room_id=other.rooms['1-1-101'], channel='phone').id

    # another household's or project's order: 404 for every role, whatever is posted
    for who in (neighbour, tech, desk, admin):
        assert client.get(f'/api/v1/me/repairs/{order_id}', headers=who).status_code == 404
        for action, body in (('confirm', {'rating': 5}), ('reopen', {'reason': 'x'}), ('cancel', {}),
                             ('confirm', {'rating': 'bad'})):
            answer = client.post(f'/api/v1/me/repairs/{order_id}/{action}', json=body, headers=who)
            assert answer.status_code == 404, (action, answer.status_code)
        assert client.post(f'/api/v1/me/repairs/{order_id}/photos', data=upload(jpeg()), headers=who,
                           content_type='multipart/form-data').status_code == 404
    for path in ('', '/start', '/complete', '/assign', '/cancel'):
        method = client.get if not path else client.post
        answer = method(f'/api/v1/repairs/{foreign}{path}', headers=admin, **({} if not path else {'json': {}}))
        assert answer.status_code == 404, path
    assert client.get(f'/api/v1/me/repairs/{foreign}', headers=owner).status_code == 404
    assert client.get(f'/api/v1/repairs/{order_id}', headers=tech2).status_code == 404  # not theirs
    assert client.get(f'/api/v1/repairs/{order_id}', headers=owner).status_code == 403
    assert client.get('/api/v1/repairs', headers=owner).status_code == 403
    assert client.get('/api/v1/me/repairs', headers=desk).status_code == 403

    # illegal transitions: 409 with the message, nothing changed
    early = client.post(f'/api/v1/me/repairs/{order_id}/confirm', json={'rating': 5}, headers=owner)
    assert early.status_code == 409 and early.json['error']['code'] == 'conflict' and '已派单' in early.json[
        'error']['message']
    late_cancel = client.post(f'/api/v1/me/repairs/{order_id}/cancel', json={}, headers=owner)
    assert late_cancel.status_code == 409 and '服务中心' in late_cancel.json['error']['message']
    theirs = client.post(f'/api/v1/repairs/{order_id}/start', headers=tech2, csrf=False)
    assert theirs.status_code == 409 and '其他维修人员' in theirs.json['error']['message']
    assert client.post(f'/api/v1/repairs/{order_id}/complete', json={'note': 'x'}, headers=tech).status_code == 409
    assert client.post(f'/api/v1/repairs/{order_id}/photos', data=upload(jpeg()), headers=tech,
                       content_type='multipart/form-data').status_code == 409  # after-photos once started
    assert client.post(f'/api/v1/repairs/{order_id}/assign', json={'assignee_id': e.tech2},
                       headers=tech).status_code == 403  # the desk dispatches

    # bad input: 422, never 500, nothing half-saved
    for bad in ({'rating': 0}, {'rating': 6}, {'rating': '5'}, {'rating': 4.5}, {'rating': True}, {},
                {'rating': 5, 'comment': 'x' * 501}):
        answer = client.post(f'/api/v1/me/repairs/{order_id}/confirm', json=bad, headers=owner)
        assert answer.status_code == 422, (bad, answer.status_code)
    for bad in ({**report(e), 'category_id': 'x'}, {**report(e), 'category_id': 999999},
                {**report(e), 'room_id': e.rooms['1-1-102']}, {**report(e), 'urgency': 'now'},
                {**report(e), 'description': ''}, {**report(e), 'description': 'x' * 5000},
                {**report(e), 'room_id': None}, {**report(e), 'room_id': 2**40},
                {**report(e), 'category_id': e.categories['lift']}, [1, 2]):
        answer = client.post('/api/v1/me/repairs', json=bad, headers=owner)
        assert answer.status_code == 422, (bad, answer.status_code, answer.json)
        assert answer.json['error']['message']
    public = client.post('/api/v1/me/repairs', headers=owner, json={
        'category_id': e.categories['lift'], 'public_area': '1栋电梯', 'building_id': e.buildings['1'],
        'description': '电梯异响'})
    assert public.status_code == 201 and public.json['room_id'] is None and public.json['place'] == '1栋1栋电梯'
    assert client.post('/api/v1/me/repairs', data='x', headers=owner).status_code == 415
    script = client.post(f'/api/v1/me/repairs/{order_id}/photos', headers=owner, content_type='multipart/form-data',
                         data=upload(b'#!/bin/sh\nrm -rf /\n', 'evil.jpg'))
    assert script.status_code == 422 and 'JPG' in script.json['error']['message']
    assert client.post(f'/api/v1/me/repairs/{order_id}/photos', headers=owner, content_type='multipart/form-data',
                       data={}).status_code == 422
    assert client.post(f'/api/v1/repairs/{order_id}/assign', json={'assignee_id': e.owner_user},
                       headers=desk).status_code == 422
    for bad in ({'note': ''}, {'note': 'ok', 'parts': [{'name': '阀', 'quantity': 0}]},
                {'note': 'ok', 'parts': [{'name': '阀', 'cost_fen': -1}]}, {'note': 'ok', 'parts': 'x'},
                {'note': 'ok', 'parts': [{'name': '阀'}] * 31}):
        assert client.post(f'/api/v1/repairs/{order_id}/complete', json=bad,
                           headers=tech).status_code == 422, bad
    with in_tenant(e.tenant) as session:
        order = session.get(WorkOrder, order_id)
        assert (order.status, order.rating) == ('assigned', None)
        assert session.execute(sa.select(sa.func.count()).select_from(WorkOrderPhoto)).scalar_one() == 0
        assert session.execute(sa.select(sa.func.count()).select_from(WorkOrder)).scalar_one() == 2


def test_reopen_cancel_and_a_low_rating(app, estate, in_tenant):
    e = estate()
    client = api_client(app, e)
    owner, tech, desk = (token(in_tenant, e, u) for u in (e.owner_user, e.tech, e.desk))
    # not dispatched by a rule: the resident may still cancel it
    unassigned = client.post('/api/v1/me/repairs', json=report(e, category_id=e.categories['electrical']),
                             headers=owner).json
    assert unassigned['status'] == 'submitted'
    cancelled = client.post(f'/api/v1/me/repairs/{unassigned["id"]}/cancel', json={}, headers=owner)
    assert cancelled.status_code == 200 and cancelled.json['status'] == 'cancelled'
    assert client.post(f'/api/v1/me/repairs/{unassigned["id"]}/photos', data=upload(jpeg()), headers=owner,
                       content_type='multipart/form-data').status_code == 409

    order_id = client.post('/api/v1/me/repairs', json=report(e), headers=owner).json['id']
    client.post(f'/api/v1/repairs/{order_id}/start', headers=tech, csrf=False)
    client.post(f'/api/v1/repairs/{order_id}/complete', json={'note': '修好了'}, headers=tech)
    assert client.post(f'/api/v1/me/repairs/{order_id}/reopen', json={}, headers=owner).status_code == 422
    reopened = client.post(f'/api/v1/me/repairs/{order_id}/reopen', json={'reason': '还在漏'}, headers=owner)
    assert reopened.status_code == 200 and reopened.json['status'] == 'assigned' and reopened.json['reopen_count'] == 1
    client.post(f'/api/v1/repairs/{order_id}/start', headers=tech, csrf=False)
    client.post(f'/api/v1/repairs/{order_id}/complete', json={'note': '换了管子'}, headers=tech)
    low = client.post(f'/api/v1/me/repairs/{order_id}/confirm', json={'rating': 2, 'comment': '太慢'}, headers=owner)
    assert low.status_code == 200 and low.json['rating'] == 2
    with in_tenant(e.tenant) as session:
        visit = session.execute(sa.select(ReturnVisit)).scalar_one()
        assert visit.order_id == order_id and '太慢' in visit.reason

    # the desk cancels an open order with a reason
    third = client.post('/api/v1/me/repairs', json=report(e), headers=owner).json['id']
    assert client.post(f'/api/v1/repairs/{third}/cancel', json={}, headers=desk).status_code == 422
    gone = client.post(f'/api/v1/repairs/{third}/cancel', json={'reason': '住户电话取消'}, headers=desk)
    assert gone.status_code == 200 and gone.json['cancel_reason'] == '住户电话取消'
    assert client.post(f'/api/v1/repairs/{third}/cancel', json={'reason': '再取消'}, headers=desk).status_code == 409


def test_staff_list_filters_and_assignment(app, estate, in_tenant, make_user):
    e = estate()
    client = api_client(app, e)
    owner, tech, tech2, desk = (token(in_tenant, e, u) for u in (e.owner_user, e.tech, e.tech2, e.desk))
    plumbing = client.post('/api/v1/me/repairs', json=report(e), headers=owner).json['id']
    electrical = client.post('/api/v1/me/repairs', json=report(e, category_id=e.categories['electrical'],
                                                               urgency='normal'), headers=owner).json['id']
    lift = client.post('/api/v1/me/repairs', headers=owner, json={
        'category_id': e.categories['lift'], 'public_area': '电梯厅', 'building_id': e.buildings['2'],
        'description': '电梯停了'}).json['id']

    def ids(query='', who=desk):
        answer = client.get(f'/api/v1/repairs{query}', headers=who)
        assert answer.status_code == 200, answer.json
        return [o['id'] for o in answer.json['items']]

    assert ids() == [plumbing, electrical, lift]  # urgent first, then oldest first
    assert ids('?status=submitted') == [electrical, lift]
    assert ids(f'?category_id={e.categories["lift"]}') == [lift]
    assert ids(f'?building_id={e.buildings["2"]}') == [lift]
    assert ids(f'?assignee_id={e.tech}') == [plumbing]
    assert ids('?urgency=urgent') == [plumbing]
    assert ids('?overdue=true') == []
    assert client.get('/api/v1/repairs?status=lost', headers=desk).status_code == 422
    assert client.get('/api/v1/repairs?category_id=0', headers=desk).status_code == 422

    assigned = client.post(f'/api/v1/repairs/{electrical}/assign', json={'assignee_id': e.tech2, 'note': '电工'},
                           headers=desk)
    assert assigned.status_code == 200 and assigned.json['assignee']['name'] == '王师傅'
    assert ids(who=tech2) == [electrical] and ids(f'?assignee_id={e.tech}', who=tech2) == [electrical]
    assert ids(who=tech) == [plumbing]
    assert client.get(f'/api/v1/repairs/{electrical}', headers=tech2).status_code == 200
    clerk_id = make_user(e.tenant, 'staff', duties=['cashier'])  # no duty on repairs
    assert client.get('/api/v1/repairs', headers=token(in_tenant, e, clerk_id)).status_code == 403


def test_lists_issue_a_constant_number_of_statements(app, estate, in_tenant):
    e = estate()
    client = api_client(app, e)
    owner, desk = token(in_tenant, e, e.owner_user), token(in_tenant, e, e.desk)
    counts = {}
    for n in (3, 25):
        with in_tenant(e.tenant) as session:
            have = session.execute(sa.select(sa.func.count()).select_from(WorkOrder)).scalar_one()
            tech = session.get(User, e.tech if n == 3 else e.tech2)
            for i in range(n - have):
                code = ('1-1-101', '1-1-102')[i % 2] if n == 25 else '1-1-101'
                order = orders.submit(category_id=e.categories['plumbing'], description=f'问题{i}',
                                      room_id=e.rooms[code] if i % 3 else None,
                                      public_area=None if i % 3 else f'{i}号楼道', building_id=None,
                                      reporter_resident_id=e.residents['1-1-101'], by_user=session.get(User, e.desk),
                                      channel='phone')
                orders.assign(order, tech.id, by_user=session.get(User, e.desk))
        with count_queries(app) as statements:
            mine = client.get('/api/v1/me/repairs?per_page=100', headers=owner)
        with count_queries(app) as staff_statements:
            everything = client.get('/api/v1/repairs?per_page=100', headers=desk)
        assert mine.json['total'] == n and everything.json['total'] == n
        names = {o['assignee']['name'] for o in everything.json['items']}
        assert names == ({'李师傅', '王师傅'} if n == 25 else {'李师傅'})
        counts[n] = (len(statements), len(staff_statements))
    assert counts[3] == counts[25], counts
