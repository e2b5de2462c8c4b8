"""The residents API: masking by role, the admin's recorded full view, writes, move-out, the resident's rooms."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from propsaas.auth import services as auth_services
from propsaas.auth.models import User
from propsaas.residents.models import AccessGrant, Occupancy, Resident
from tests.helpers import count_queries
from tests.residents.conftest import ID_B

API = '/api/v1/residents'


def test_list_is_masked_for_everyone_and_searchable(estate, api_client, bearer, add_resident, access_log):
    e = estate()
    rid, _ = add_resident(e, '张三', '3-2-1201', mobile='13800138000', id_number=ID_B, plates=['浙A12345'])
    add_resident(e, '李四', '5-1-1201', role='renter', mobile='13912345678')
    add_resident(e, '旧户', '5-1-301', moved_out_on=date(2022, 1, 1))
    api = api_client(e)
    for user in (e.admin, e.staff):
        response = api.get(API, headers=bearer(e, user))
        assert response.status_code == 200
        assert response.json['total'] == 2
        zhang = next(item for item in response.json['items'] if item['id'] == rid)
        assert zhang['mobile'] == '138****8000' and zhang['id_number'] == '**************4477'
        assert zhang['masked'] is True and zhang['vehicles'][0]['plate'] == '浙A12345'
        assert zhang['occupancies'][0]['room_code'] == '3-2-1201' and zhang['occupancies'][0]['current'] is True
        assert '13800138000' not in response.text and ID_B not in response.text
    assert access_log(e) == []
    admin = bearer(e, e.admin)

    def names(**query):
        response = api.get(API, query_string=query, headers=admin)
        assert response.status_code == 200, response.json
        return {item['name'] for item in response.json['items']}

    assert names(q='+86 139-1234-5678') == {'李四'}
    assert names(q='8000') == {'张三'}
    assert names(q='3栋2单元1201') == {'张三'}
    assert names(q='1201') == {'张三', '李四'}
    assert names(role='renter') == {'李四'}
    assert names(building_id=e.buildings['5'], status='all') == {'李四', '旧户'}
    assert names(status='moved_out') == {'旧户'}
    assert names(has_vehicle='true') == {'张三'}
    assert api.get(API, query_string={'status': 'x'}, headers=admin).status_code == 422
    assert api.get(API, headers=bearer(e, e.resident)).status_code == 403
    assert api.get(API).status_code == 401


def test_detail_full_for_admins_and_recorded_masked_for_staff(estate, api_client, bearer, add_resident, add_grant,
                                                              access_log):
    e = estate()
    rid, _ = add_resident(e, '张三', '3-2-1201', mobile='13800138000', id_number=ID_B, emergency_phone='13900002222')
    add_grant(e, rid)
    api = api_client(e)
    for user in (e.staff, e.desk):
        staff = api.get(f'{API}/{rid}', headers=bearer(e, user))
        assert staff.status_code == 200
        assert staff.json['mobile'] == '138****8000' and staff.json['id_number'] == '**************4477'
        assert staff.json['emergency_phone'] == '139****2222' and staff.json['masked'] is True
        assert '13800138000' not in staff.text and ID_B not in staff.text
    assert access_log(e) == []
    admin = api.get(f'{API}/{rid}', headers=bearer(e, e.admin))
    assert admin.status_code == 200
    assert (admin.json['mobile'], admin.json['id_number'], admin.json['masked']) == ('13800138000', ID_B, False)
    assert admin.json['access_grants'][0]['gate_name'] == '北门'
    assert sorted(access_log(e)) == sorted([(rid, e.admin, field, 'api')
                                            for field in ('mobile', 'id_number', 'emergency_phone')])
    assert api.get(f'{API}/{rid}', headers=bearer(e, e.resident)).status_code == 403
    assert api.get(f'{API}/99999999', headers=bearer(e, e.admin)).status_code == 404


def test_create_patch_and_errors(estate, api_client, bearer, in_tenant):
    e = estate()
    api = api_client(e)
    desk = bearer(e, e.desk)
    created = api.post(API, json={'name': '韩梅梅', 'room': '５栋１单元３０１室', 'role': 'owner',
                                  'mobile': '+86 １３７-0000-1111', 'id_number': '11010519491231002x',
                                  'moved_in_on': '2023-09-01'}, headers=desk)
    assert created.status_code == 201, created.json
    body = created.json
    assert body['mobile'] == '137****1111' and body['id_number'] == '**************002X'
    assert body['occupancies'][0]['room_code'] == '5-1-301' and body['occupancies'][0]['moved_in_on'] == '2023-09-01'
    rid = body['id']
    with in_tenant(e.tenant) as session:
        r = session.get(Resident, rid)
        assert (r.mobile, r.id_number) == ('13700001111', '11010519491231002X')

    errors = [
        ({'name': '甲', 'room': '9-9-9', 'role': 'owner'}, 'room', '找不到房屋'),
        ({'name': '甲', 'room': '3-2-1201', 'role': 'owner', 'id_number': '110101199003074478'}, 'id_number', '校验位'),
        ({'name': '甲', 'room': '3-2-1201', 'role': 'owner', 'mobile': '99'}, 'mobile', '手机号'),
        ({'name': '甲', 'room': '3-2-1201', 'role': 'boss'}, 'role', ''),
        ({'name': '\x00', 'room': '3-2-1201', 'role': 'owner'}, 'name', '控制字符'),
        ({'room': '3-2-1201', 'role': 'owner'}, 'name', ''),
    ]
    for payload, field, message in errors:
        response = api.post(API, json=payload, headers=desk)
        assert response.status_code == 422, payload
        assert field in response.json['error']['fields'], response.json
        assert message in str(response.json['error']['fields'][field])
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(sa.func.count(Resident.id))).scalar() == 1

    patched = api.patch(f'{API}/{rid}', json={'note': '新备注', 'id_number': None, 'mobile': '0571-88886666'},
                        headers=desk)
    assert patched.status_code == 200, patched.json
    assert patched.json['id_number'] is None and patched.json['mobile'] is None
    assert patched.json['other_phone'] == '****-****6666' and patched.json['note'] == '新备注'
    assert api.patch(f'{API}/{rid}', json={'name': ''}, headers=desk).status_code == 422
    assert api.patch(f'{API}/{rid}', json={'note': 'x'}, headers=bearer(e, e.staff)).status_code == 403
    assert api.post(API, json={'name': '甲', 'room': '3-2-1201', 'role': 'owner'},
                    headers=bearer(e, e.resident)).status_code == 403


def test_occupancies_move_out_and_vehicles(estate, api_client, bearer, add_resident, add_grant, in_tenant):
    e = estate()
    rid, oid = add_resident(e, '张三', '3-2-1201')
    grant = add_grant(e, rid)
    api = api_client(e)
    desk = bearer(e, e.desk)
    added = api.post(f'{API}/{rid}/occupancies', json={'room': '3-1202', 'role': 'renter'}, headers=desk)
    assert added.status_code == 201 and added.json['room_code'] == '3-2-1202' and added.json['current']
    assert api.post(f'{API}/{rid}/occupancies', json={'room': '3-2-1202', 'role': 'renter'},
                    headers=desk).status_code == 422
    first = api.post(f'{API}/{rid}/occupancies/{oid}/end', json={'moved_out_on': '2024-06-30'}, headers=desk)
    assert first.status_code == 200 and first.json['revoked_grants'] == 0
    assert first.json['moved_out_on'] == '2024-06-30' and first.json['current'] is False
    last = api.post(f'{API}/{rid}/occupancies/{added.json["id"]}/end', json={}, headers=desk)
    assert last.status_code == 200 and last.json['revoked_grants'] == 1
    assert api.post(f'{API}/{rid}/occupancies/{oid}/end', json={}, headers=desk).status_code == 422
    with in_tenant(e.tenant) as session:
        assert session.get(AccessGrant, grant).revoked_at is not None
        assert session.execute(sa.select(sa.func.count(Occupancy.id))).scalar() == 2
    history = api.get(f'{API}/{rid}', headers=bearer(e, e.staff)).json['occupancies']
    assert [o['current'] for o in history] == [False, False] and len(history) == 2

    vehicle = api.post(f'{API}/{rid}/vehicles', json={'plate': '粤b 12345'}, headers=desk)
    assert vehicle.status_code == 201 and vehicle.json['plate'] == '粤B12345'
    assert api.post(f'{API}/{rid}/vehicles', json={'plate': '粤B12345'}, headers=desk).status_code == 422
    assert api.delete(f'{API}/{rid}/vehicles/{vehicle.json["id"]}', headers=desk).status_code == 204
    assert api.delete(f'{API}/{rid}/vehicles/{vehicle.json["id"]}', headers=desk).status_code == 404


def test_portal_account_and_my_rooms(estate, api_client, bearer, add_resident, in_tenant):
    e = estate()
    rid, oid = add_resident(e, '赵敏', '3-2-1201', mobile='13600006666')
    add_resident(e, '周芷若', '3-2-1201', role='family', mobile='13600007777')
    add_resident(e, '别家', '5-1-301', mobile='13600008888')
    api = api_client(e)
    desk = bearer(e, e.desk)
    opened = api.post(f'{API}/{rid}/portal-account', headers=desk, csrf=False)
    assert opened.status_code == 201 and opened.json['invited'] is True
    assert '/invite/' in opened.json['invite_link']
    assert api.post(f'{API}/{rid}/portal-account', headers=desk, csrf=False).status_code == 422
    user_id = opened.json['user_id']
    with in_tenant(e.tenant) as session:  # the invitee sets a password through the link
        auth_services.accept_invitation(session.get(User, user_id), 'Lift-Check-0915')
    me = bearer(e, user_id)
    rooms = api.get(f'{API}/me/rooms', headers=me)
    assert rooms.status_code == 200 and rooms.json['total'] == 1
    room = rooms.json['items'][0]
    assert room['room_code'] == '3-2-1201' and room['role'] == 'owner'
    assert {(m['name'], m['mobile'], m['is_me']) for m in room['household']} == {
        ('赵敏', '136****6666', True), ('周芷若', '136****7777', False)}
    assert '别家' not in rooms.text and '13600007777' not in rooms.text
    assert api.post(f'{API}/{rid}/occupancies/{oid}/end', json={}, headers=desk).status_code == 200
    after = api.get(f'{API}/me/rooms', headers=me)
    assert after.json['total'] == 0 and '周芷若' not in after.text
    assert api.get(f'{API}/me/rooms', headers=desk).status_code == 403


def test_another_projects_residents_are_404(estate, api_client, bearer, add_resident):
    a, b = estate('住户测试甲苑'), estate('住户测试乙苑')
    rid, oid = add_resident(a, '甲的住户', '3-2-1201', mobile='13800001234')
    api = api_client(b)
    b_admin = bearer(b, b.admin)
    assert api.get(f'{API}/{rid}', headers=b_admin).status_code == 404
    assert api.patch(f'{API}/{rid}', json={'name': 'x'}, headers=b_admin).status_code == 404
    assert api.post(f'{API}/{rid}/occupancies/{oid}/end', json={'bad': 1}, headers=b_admin).status_code == 404
    assert api.post(f'{API}/{rid}/portal-account', headers=b_admin, csrf=False).status_code == 404
    listed = api.get(API, query_string={'q': '1234', 'status': 'all'}, headers=b_admin)
    assert listed.json['total'] == 0
    # A's token means nothing on B's host
    assert api.get(API, headers=bearer(a, a.admin)).status_code == 401


def test_api_list_does_not_query_per_row(app, estate, api_client, bearer, in_tenant):
    def statements(n):
        e = estate()
        with in_tenant(e.tenant) as session:
            for i in range(n):
                resident = Resident(name=f'住户{i:02d}', mobile=f'138{i:08d}')
                session.add_all([resident, Occupancy(resident=resident, room_id=e.rooms['3-2-1201'], role='owner')])
        api, headers = api_client(e), bearer(e, e.staff)
        with count_queries(app) as seen:
            assert api.get(API, query_string={'per_page': 30}, headers=headers).json['total'] == n
        return len(seen)

    assert statements(2) == statements(25)


def test_export_via_api(estate, api_client, bearer, add_resident):
    e = estate()
    add_resident(e, '张三', '3-2-1201', mobile='13800138000')
    api = api_client(e)
    job = api.post(f'{API}/export', json={'building_id': e.buildings['3']}, headers=bearer(e, e.admin))
    assert job.status_code == 202 and job.json['status'] == 'done' and job.json['result']['rows'] == 1
    assert api.post(f'{API}/export', json={}, headers=bearer(e, e.staff)).status_code == 403
    assert api.post(f'{API}/export', json={'role': 'king'}, headers=bearer(e, e.admin)).status_code == 422
