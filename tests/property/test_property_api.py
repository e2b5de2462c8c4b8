"""The property API (/api/v1/property): the same rules as the pages, areas as decimal strings."""
import pytest
import sqlalchemy as sa

from propsaas.property.models import Building, Room, RoomEvent
from tests.helpers import count_queries

API = '/api/v1/property'
PATTERN = {'name': '1栋', 'units': 2, 'floors': 18, 'rooms_per_floor': 4, 'areas': ['89.50', '120', '120', '89.5']}


@pytest.fixture
def api(tenant, users, api_for):
    return api_for(tenant, users['admin'])


def test_preview_and_create_building(tenant, api, in_tenant):
    client, auth = api
    preview = client.post(f'{API}/buildings/preview', json=PATTERN, headers=auth)
    assert preview.status_code == 200
    assert preview.json == {'name': '1栋', 'count': 144, 'units': ['1单元', '2单元'], 'first_code': '1-1-101',
                            'last_code': '1-2-1804'}
    created = client.post(f'{API}/buildings', json=PATTERN, headers=auth)
    assert created.status_code == 201
    body = created.json
    assert body['name'] == '1栋' and [u['name'] for u in body['units']] == ['1单元', '2单元']
    assert body['room_counts'] == {'occupied': 0, 'vacant': 144, 'renovating': 0, 'total': 144}
    again = client.post(f'{API}/buildings', json=PATTERN, headers=auth)
    assert again.status_code == 422 and again.json['error']['fields'] == {'name': ['已经有叫「1栋」的楼栋了']}
    too_big = client.post(f'{API}/buildings', json={**PATTERN, 'name': '2栋', 'units': 50, 'floors': 30}, headers=auth)
    assert too_big.status_code == 422 and '一次最多 5000 间' in too_big.json['error']['fields']['floors'][0]
    with in_tenant(tenant) as session:
        assert session.execute(sa.select(sa.func.count(Building.id))).scalar_one() == 1
        assert session.execute(sa.select(sa.func.count(Room.id))).scalar_one() == 144
    listed = client.get(f'{API}/buildings', headers=auth)
    assert listed.status_code == 200 and listed.json['total'] == 1
    assert listed.json['items'][0]['room_counts']['total'] == 144
    one = client.get(f'{API}/buildings/{body["id"]}', headers=auth)
    assert one.status_code == 200 and one.json['id'] == body['id']
    renamed = client.patch(f'{API}/buildings/{body["id"]}', json={'name': '8号楼'}, headers=auth)
    assert renamed.status_code == 200 and renamed.json['name'] == '8号楼'
    assert client.get(f'{API}/rooms', query_string={'q': '8-2-1804'}, headers=auth).json['total'] == 1


@pytest.mark.parametrize(('area', 'message'), [
    (89.5, '面积请写成字符串'), ('abc', '面积请填写数字'), ('89.505', '面积最多保留两位小数'), ('-1', '面积不能为负数'),
    ('0', '面积必须大于 0'), ('', '面积请填写数字'),
])
def test_bad_areas_are_422_with_chinese_messages(tenant, api, make_building, room_id, in_tenant, area, message):
    client, auth = api
    make_building(tenant, name='1栋', units=1, floors=1, rooms_per_floor=1)
    rid = room_id(tenant, '1-1-101')
    response = client.patch(f'{API}/rooms/{rid}', json={'area_m2': area}, headers=auth)
    assert response.status_code == 422
    assert response.json['error']['code'] == 'validation_error'
    assert message in response.json['error']['fields']['area_m2'][0]
    pattern = client.post(f'{API}/buildings', json={**PATTERN, 'name': '9栋', 'areas': [area]}, headers=auth)
    assert pattern.status_code == 422 and 'areas' in pattern.json['error']['fields']
    with in_tenant(tenant) as session:
        assert session.get(Room, rid).area_m2 is None


def test_room_get_patch_and_events(tenant, api, make_building, room_id):
    client, auth = api
    make_building(tenant, name='3栋', units=2, floors=12, rooms_per_floor=2)
    rid = room_id(tenant, '3-2-1201')
    response = client.patch(f'{API}/rooms/{rid}', json={'area_m2': '89.5', 'status': 'occupied', 'tags': ['高层'],
                                                        'billing_starts_on': '2024-03-01'}, headers=auth)
    assert response.status_code == 200
    room = response.json
    assert room['area_m2'] == '89.50' and room['status'] == 'occupied' and room['tags'] == ['高层']
    assert room['code'] == '3-2-1201' and room['label'] == '3栋2单元1201' and room['unit_name'] == '2单元'
    assert room['billing_starts_on'] == '2024-03-01'
    assert client.get(f'{API}/rooms/{rid}', headers=auth).json['area_m2'] == '89.50'
    events = client.get(f'{API}/rooms/{rid}/events', headers=auth).json
    assert [e['kind'] for e in events['items']] == ['updated', 'status_changed', 'created']
    bad_tag = client.patch(f'{API}/rooms/{rid}', json={'tags': ['城堡']}, headers=auth)
    assert bad_tag.status_code == 422 and bad_tag.json['error']['fields']['tags'] == ['标签「城堡」不在本项目的标签里']
    cleared = client.patch(f'{API}/rooms/{rid}', json={'area_m2': None, 'billing_starts_on': None}, headers=auth)
    assert cleared.json['area_m2'] is None and cleared.json['billing_starts_on'] is None


def test_rooms_list_filters_search_and_query_count(app, tenant, api, make_building, room_id, in_tenant):
    client, auth = api
    make_building(tenant, name='3栋', units=2, floors=1, rooms_per_floor=1)
    with count_queries(app) as few:
        assert client.get(f'{API}/rooms', headers=auth).json['total'] == 2
    make_building(tenant, name='4栋', units=2, floors=12, rooms_per_floor=2)
    with count_queries(app) as many:
        page = client.get(f'{API}/rooms', headers=auth).json
    assert len(page['items']) == 20 and page['total'] == 50
    assert len(many) == len(few)
    for query, codes in (('3栋2单元101', ['3-2-101']), ('1201', ['4-1-1201', '4-2-1201']), ('4-2-1201', ['4-2-1201'])):
        found = client.get(f'{API}/rooms', query_string={'q': query}, headers=auth).json
        assert [r['code'] for r in found['items']] == codes
    with in_tenant(tenant) as session:
        session.get(Room, room_id(tenant, '4-1-101')).status = 'renovating'
    assert [r['code'] for r in client.get(f'{API}/rooms', query_string={'status': 'renovating'},
                                          headers=auth).json['items']] == ['4-1-101']
    assert client.get(f'{API}/rooms', query_string={'status': 'gone'}, headers=auth).status_code == 422
    assert client.get(f'{API}/rooms', query_string={'q': 'a\x00b'}, headers=auth).status_code == 422


def test_rename_and_merge(tenant, api, make_building, room_id, in_tenant):
    client, auth = api
    make_building(tenant, name='3栋', units=2, floors=2, rooms_per_floor=2, areas=())
    target, other, far = room_id(tenant, '3-1-101'), room_id(tenant, '3-1-102'), room_id(tenant, '3-2-101')
    taken = client.post(f'{API}/rooms/{target}/rename', json={'number': '102'}, headers=auth)
    assert taken.status_code == 422 and taken.json['error']['fields'] == {'number': ['房号 3-1-102 已经存在']}
    renamed = client.post(f'{API}/rooms/{target}/rename', json={'number': '101A'}, headers=auth)
    assert renamed.status_code == 200 and renamed.json['code'] == '3-1-101A'
    refusals = (([far], '只能合并同一楼栋同一单元'), ([10**12], '找不到房间'), ([target], '不能把房间并入它自己'))
    for ids, message in refusals:
        refused = client.post(f'{API}/rooms/{target}/merge', json={'room_ids': ids}, headers=auth)
        assert refused.status_code == 422 and message in refused.json['error']['message'], ids
    client.patch(f'{API}/rooms/{target}', json={'area_m2': '50.10'}, headers=auth)
    client.patch(f'{API}/rooms/{other}', json={'area_m2': '40'}, headers=auth)
    merged = client.post(f'{API}/rooms/{target}/merge', json={'room_ids': [other]}, headers=auth)
    assert merged.status_code == 200 and merged.json['area_m2'] == '90.10'
    gone = client.get(f'{API}/rooms/{other}', headers=auth).json
    assert gone['active'] is False and gone['merged_into_id'] == target
    assert client.get(f'{API}/rooms', query_string={'q': '102'}, headers=auth).json['total'] == 1  # 3-2-102 only
    assert client.get(f'{API}/rooms', query_string={'q': '102', 'include_inactive': 'true'},
                      headers=auth).json['total'] == 2
    with in_tenant(tenant) as session:
        kinds = session.execute(sa.select(RoomEvent.kind).where(RoomEvent.room_id == target)
                                .order_by(RoomEvent.id)).scalars().all()
        assert kinds == ['created', 'renamed', 'updated', 'merged']


def test_spaces(tenant, api, make_building, room_id):
    client, auth = api
    make_building(tenant, name='3栋', units=1, floors=1, rooms_per_floor=1)
    rid = room_id(tenant, '3-1-101')
    created = client.post(f'{API}/spaces', json={'code': 'b1-1', 'room_id': rid, 'plates': ['浙a·12345']},
                          headers=auth)
    assert created.status_code == 201
    assert created.json == {'id': created.json['id'], 'code': 'B1-1', 'location': None, 'kind': 'rented',
                            'room_id': rid, 'room_code': '3-1-101', 'plates': ['浙A12345'], 'active': True}
    sid = created.json['id']
    bad = client.post(f'{API}/spaces', json={'code': 'B1-2', 'plates': ['ABC']}, headers=auth)
    assert bad.status_code == 422 and '格式不对' in bad.json['error']['fields']['plates'][0]
    missing_room = client.post(f'{API}/spaces', json={'code': 'B1-2', 'room_id': 10**9}, headers=auth)
    assert missing_room.status_code == 422 and 'room_id' in missing_room.json['error']['fields']
    patched = client.patch(f'{API}/spaces/{sid}', json={'room_id': None, 'kind': 'owned'}, headers=auth)
    assert patched.status_code == 200 and patched.json['room_id'] is None and patched.json['kind'] == 'owned'
    assert patched.json['plates'] == ['浙A12345']
    assert client.get(f'{API}/spaces/{sid}', headers=auth).json['code'] == 'B1-1'
    assert client.get(f'{API}/spaces', query_string={'q': '12345'}, headers=auth).json['total'] == 1
    assert client.get(f'{API}/spaces/{10**9}', headers=auth).status_code == 404


def test_roles(tenant, users, api_for, make_building, room_id):
    make_building(tenant, name='3栋', units=1, floors=1, rooms_per_floor=1)
    rid = room_id(tenant, '3-1-101')
    tech, tech_auth = api_for(tenant, users['tech'])
    desk, desk_auth = api_for(tenant, users['desk'])
    resident, resident_auth = api_for(tenant, users['resident'])
    assert tech.get(f'{API}/rooms/{rid}', headers=tech_auth).status_code == 200
    refused = tech.patch(f'{API}/rooms/{rid}', json={'status': 'occupied'}, headers=tech_auth)
    assert refused.status_code == 403 and refused.json['error']['message'] == '只有管理员和客服可以修改房屋信息'
    assert tech.post(f'{API}/buildings', json=PATTERN, headers=tech_auth).status_code == 403
    assert resident.get(f'{API}/rooms', headers=resident_auth).status_code == 403
    assert resident.get(f'{API}/buildings', headers=resident_auth).status_code == 403
    assert desk.patch(f'{API}/rooms/{rid}', json={'status': 'occupied'}, headers=desk_auth).status_code == 200
    assert desk.get(f'{API}/rooms').status_code == 401  # no token


def test_other_tenant_objects_are_404_whatever_the_body(make_tenant, make_user, api_for, make_building, room_id):
    a, b = make_tenant(name='房屋甲'), make_tenant(name='房屋乙')
    make_building(a, name='1栋', units=1, floors=1, rooms_per_floor=1)
    rid = room_id(a, '1-1-101')
    client, auth = api_for(b, make_user(b, 'admin'))
    assert client.get(f'{API}/rooms/{rid}', headers=auth).status_code == 404
    assert client.post(f'{API}/rooms/{rid}/rename', json={'junk': 1}, headers=auth).status_code == 404
    assert client.patch(f'{API}/rooms/{rid}', json={'area_m2': 'x'}, headers=auth).status_code == 404
    b_room = make_building(b, name='1栋', units=1, floors=1, rooms_per_floor=2)
    assert b_room
    target = room_id(b, '1-1-101')
    merge = client.post(f'{API}/rooms/{target}/merge', json={'room_ids': [rid]}, headers=auth)
    assert merge.status_code == 422 and '找不到房间' in merge.json['error']['message']


@pytest.mark.parametrize('area', ['0.01', '89.50', '120.33', '123456.78', '999999.99'])
def test_decimal_areas_round_trip_exactly(tenant, api, make_building, room_id, in_tenant, area):
    """Stored as Numeric(8, 2) (REAL on SQLite, numeric on PostgreSQL), read back as the same Decimal and string."""
    from decimal import Decimal

    client, auth = api
    make_building(tenant, name='1栋', units=1, floors=1, rooms_per_floor=1)
    rid = room_id(tenant, '1-1-101')
    assert client.patch(f'{API}/rooms/{rid}', json={'area_m2': area}, headers=auth).json['area_m2'] == area
    with in_tenant(tenant) as session:
        session.expire_all()
        stored = session.get(Room, rid).area_m2
        assert isinstance(stored, Decimal) and stored == Decimal(area) and str(stored) == area
    assert client.get(f'{API}/rooms/{rid}', headers=auth).json['area_m2'] == area
