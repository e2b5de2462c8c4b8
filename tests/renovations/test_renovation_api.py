"""/api/v1/renovations: the same lifecycle and rules as the pages, with bearer tokens and money in fen."""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from propsaas.property.models import Room
from propsaas.tenancy import clock
from tests.helpers import count_queries
from tests.renovations.estate import api_token

API = '/api/v1/renovations'


def body(**overrides) -> dict:
    start = date.today() + timedelta(days=1)
    data = {'contractor': '匠心装饰', 'manager_name': '赵工', 'manager_phone': '13800138000',
            'planned_start': start.isoformat(), 'planned_end': (start + timedelta(days=30)).isoformat(),
            'scope': '厨卫改造'}
    data.update(overrides)
    return data


def api_client(app, estate):
    client = app.test_client()
    client.base = f'http://{estate.tenant.slug}.localhost'
    return client


def test_lifecycle_over_the_api(app, estate, in_tenant):
    e = estate()
    api = api_client(app, e)
    owner, desk, cashier = (api_token(in_tenant, e, u) for u in (e.owner_user, e.desk, e.cashier))
    created = api.post(API, json=body(room='1栋1单元101'), headers=owner)
    assert created.status_code == 201, created.json
    record = created.json
    assert record['status'] == 'pending' and record['deposit_fen'] == 200000
    assert record['manager_phone'] == '138****8000'
    assert record['room']['code'] == '1-1-101' and record['room']['label'] == '1栋1单元101'
    assert record['overdue'] is False and record['visits'] == []
    rid = record['id']

    approved = api.post(f'{API}/{rid}/approve', json={'comment': '同意', 'deposit_fen': 150005}, headers=desk)
    assert approved.status_code == 200
    assert approved.json['deposit_fen'] == 150005 and approved.json['deposit_status'] == 'held'
    assert approved.json['room']['status'] == 'renovating'

    visit = api.post(f'{API}/{rid}/visits', json={'note': '现场整洁'}, headers=desk)
    assert visit.status_code == 201 and visit.json['visits'][0]['note'] == '现场整洁'

    done = api.post(f'{API}/{rid}/complete', json={}, headers=desk)
    assert done.status_code == 200 and done.json['status'] == 'completed'
    assert done.json['room']['status'] == 'occupied'

    no_reason = api.post(f'{API}/{rid}/deposit/withhold', json={'reason': ''}, headers=cashier)
    assert no_reason.status_code == 422 and 'reason' in no_reason.json['error']['fields']
    refunded = api.post(f'{API}/{rid}/deposit/refund', json={'note': '验收合格'}, headers=cashier)
    assert refunded.status_code == 200 and refunded.json['deposit_status'] == 'refunded'
    second = api.post(f'{API}/{rid}/deposit/refund', json={}, headers=cashier)
    assert second.status_code == 422 and '不能再修改' in second.json['error']['message']

    mine = api.get(API, headers=owner)
    assert [item['id'] for item in mine.json['items']] == [rid]


def test_resident_files_only_for_their_own_rooms(app, estate, in_tenant):
    e = estate()
    api = api_client(app, e)
    owner = api_token(in_tenant, e, e.owner_user)
    for where in ({'room': '1-1-102'}, {'room_id': e.rooms['1-1-102']}, {'room': '9-9-999'}):
        response = api.post(API, json=body(**where), headers=owner)
        assert response.status_code == 422, where
        assert 'room' in response.json['error']['fields']
    assert api.post(API, json=body(), headers=owner).status_code == 422  # no room at all
    setting_money = api.post(API, json=body(room='1-1-101', deposit_fen=0), headers=owner)
    assert setting_money.status_code == 422 and 'deposit' in setting_money.json['error']['fields']


def test_staff_file_for_any_room_with_exact_fen(app, estate, in_tenant):
    e = estate()
    api = api_client(app, e)
    desk = api_token(in_tenant, e, e.desk)
    created = api.post(API, json=body(room_id=e.rooms['2-1-201'], deposit_fen=200005), headers=desk)
    assert created.status_code == 201 and created.json['deposit_fen'] == 200005
    assert created.json['resident_id'] is None  # nobody lives there
    for bad in ({'deposit_fen': -1}, {'deposit_fen': 1.5}, {'deposit_fen': '2000.05'},
                {'planned_end': '2020-01-01'}, {'manager_phone': '110'}):
        assert api.post(API, json=body(room='1-1-101', **bad), headers=desk).status_code == 422, bad
    tech = api_token(in_tenant, e, e.tech)
    assert api.post(API, json=body(room='1-1-101'), headers=tech).status_code == 403


def test_roles_and_errors(app, estate, in_tenant):
    e = estate()
    api = api_client(app, e)
    desk, tech, owner, neighbour = (api_token(in_tenant, e, u) for u in (e.desk, e.tech, e.owner_user,
                                                                         e.neighbour_user))
    rid = api.post(API, json=body(room='1-1-101'), headers=owner).json['id']
    assert api.get(f'{API}/{rid}').status_code == 401
    assert api.get(f'{API}/{rid}', headers=neighbour).status_code == 404
    assert api.post(f'{API}/{rid}/cancel', headers=neighbour, csrf=False).status_code == 404
    assert api.post(f'{API}/{rid}/approve', json={}, headers=owner).status_code == 403
    assert api.post(f'{API}/{rid}/approve', json={}, headers=tech).status_code == 403
    reject = api.post(f'{API}/{rid}/reject', json={}, headers=desk)
    assert reject.status_code == 422 and 'comment' in reject.json['error']['fields']
    assert api.post(f'{API}/{rid}/complete', json={}, headers=desk).status_code == 422  # not approved yet
    assert api.post(f'{API}/{rid}/cancel', headers=owner, csrf=False).json['status'] == 'cancelled'
    assert api.post(f'{API}/{rid}/approve', json={}, headers=desk).status_code == 422
    assert api.get(f'{API}/99999999', headers=desk).status_code == 404
    assert api.get(f'{API}?status=bogus', headers=desk).status_code == 422
    assert api.post(f'{API}/{rid}/approve', data='comment=x', headers=desk,
                    content_type='application/x-www-form-urlencoded').status_code == 415


def test_list_filters_and_overdue(app, estate, in_tenant, monkeypatch):
    from datetime import UTC, datetime


    e = estate()
    api = api_client(app, e)
    desk = api_token(in_tenant, e, e.desk)
    late = api.post(API, json=body(room='1-1-101', planned_start='2026-01-01', planned_end='2026-03-01'),
                    headers=desk).json['id']
    api.post(API, json=body(room='2-1-201', contractor='二号楼'), headers=desk)
    api.post(f'{API}/{late}/approve', json={}, headers=desk)
    monkeypatch.setattr(clock, 'now_utc', lambda: datetime(2026, 3, 1, 17, 0, tzinfo=UTC))  # 2 March in Shanghai
    overdue = api.get(f'{API}?overdue=true', headers=desk).json
    assert [item['id'] for item in overdue['items']] == [late] and overdue['items'][0]['overdue'] is True
    assert api.get(f'{API}?building_id={e.buildings["2"]}', headers=desk).json['items'][0]['contractor'] == '二号楼'
    assert api.get(f'{API}?room=1-1-101', headers=desk).json['total'] == 1
    assert api.get(f'{API}?room=7-7-777', headers=desk).json['total'] == 0
    assert api.get(f'{API}?room_id={e.rooms["2-1-201"]}&status=pending', headers=desk).json['total'] == 1


def test_api_list_queries_do_not_grow(app, estate, in_tenant):
    from tests.renovations.test_renovation_pages import _many

    counts = []
    for n in (2, 25):
        e = estate()
        _many(in_tenant, e, n)
        api = api_client(app, e)
        desk = api_token(in_tenant, e, e.desk)
        with count_queries(app) as statements:
            response = api.get(f'{API}?per_page=100', headers=desk)
        assert response.status_code == 200 and response.json['total'] == n
        counts.append(len(statements))
    assert counts[0] == counts[1], counts


def test_two_projects(app, estate, in_tenant):
    a, b = estate('装修甲苑'), estate('装修乙苑')
    a_desk, b_admin = api_token(in_tenant, a, a.desk), api_token(in_tenant, b, b.admin)
    rid = api_client(app, a).post(API, json=body(room='1-1-101'), headers=a_desk).json['id']
    b_api = api_client(app, b)
    assert b_api.get(f'{API}/{rid}', headers=b_admin).status_code == 404
    assert b_api.post(f'{API}/{rid}/approve', json={'comment': 'x'}, headers=b_admin).status_code == 404
    assert b_api.post(f'{API}/{rid}/approve', json={'login': 'x'}, headers=b_admin).status_code == 404  # not 422
    assert b_api.get(API, headers=b_admin).json['total'] == 0
    assert api_client(app, a).get(f'{API}/{rid}', headers=b_admin).status_code == 401  # B's token on A's host
    with in_tenant(a.tenant) as session:
        assert session.execute(sa.select(Room.status).where(Room.id == a.rooms['1-1-101'])).scalar() == 'occupied'
