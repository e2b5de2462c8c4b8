"""Rooms: found as people write them, filtered, edited with history, renamed and merged without losing history."""
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa

from propsaas.property.models import ParkingSpace, Room, RoomEvent
from tests.helpers import count_queries


@pytest.fixture
def compound(tenant, make_building):
    """3栋: 2 units × 12 floors × 2 rooms; 1栋: 1 unit × 2 floors × 2 rooms; A座: no units, 1 floor × 2 rooms."""
    return {'3': make_building(tenant, name='3栋', units=2, floors=12, rooms_per_floor=2),
            '1': make_building(tenant, name='1栋', units=1, floors=2, rooms_per_floor=2),
            'A': make_building(tenant, name='A座', units=0, floors=1, rooms_per_floor=2, type='shop')}


def codes_on(page) -> list[str]:
    return re.findall(r'/property/rooms/\d+">([^<]+)</a>', page.text)


@pytest.mark.parametrize(('query', 'expected'), [
    ('3-2-1201', ['3-2-1201']),
    ('3栋2单元1201', ['3-2-1201']),
    ('3号楼2单元1201室', ['3-2-1201']),
    ('３－２－１２０１', ['3-2-1201']),
    ('1201', ['3-1-1201', '3-2-1201']),
    ('3-1201', ['3-1-1201', '3-2-1201']),
    ('A座101', ['A-101']),
    ('A-101', ['A-101']),
    ('2单元1201', ['3-2-1201']),
    ('1栋', ['1-1-101', '1-1-102', '1-1-201', '1-1-202']),
    ('9-9-999', []),
])
def test_search_as_people_write_rooms(tenant, admin, compound, query, expected):
    page = admin.get('/property/rooms', query_string={'q': query})
    assert page.status_code == 200
    assert codes_on(page) == expected
    if not expected:
        assert '没有符合条件的房间' in page.text


def test_filters_building_unit_status_type_tag(tenant, admin, compound, in_tenant, room_id):
    with in_tenant(tenant) as session:
        room = session.get(Room, room_id(tenant, '3-2-1201'))
        room.status, room.tags = 'occupied', ['高层']
    assert codes_on(admin.get('/property/rooms', query_string={'building': compound['1']})) == [
        '1-1-101', '1-1-102', '1-1-201', '1-1-202']
    assert codes_on(admin.get('/property/rooms', query_string={'status': 'occupied'})) == ['3-2-1201']
    assert codes_on(admin.get('/property/rooms', query_string={'tag': '高层'})) == ['3-2-1201']
    assert codes_on(admin.get('/property/rooms', query_string={'type': 'shop'})) == ['A-101', 'A-102']
    with in_tenant(tenant) as session:
        unit2 = session.get(Room, room_id(tenant, '3-2-101')).unit_id
    page = admin.get('/property/rooms', query_string={'building': compound['3'], 'unit': unit2, 'q': '101'})
    assert codes_on(page) == ['3-2-101']
    # unknown filter values are ignored, not errors
    assert admin.get('/property/rooms', query_string={'status': 'x', 'type': 'y', 'tag': 'z', 'building': 'q',
                                                      'page': '-4'}).status_code == 200
    for odd in ('1201\x00', '%_\\', "' or 1=1 --", '🏠' * 100):
        assert admin.get('/property/rooms', query_string={'q': odd}).status_code == 200
        assert admin.get('/property/spaces', query_string={'q': odd}).status_code == 200


def test_list_is_paginated_and_ordered(tenant, admin, compound):
    first = admin.get('/property/rooms', query_string={'building': compound['3']})
    assert len(codes_on(first)) == 20
    assert codes_on(first)[:3] == ['3-1-101', '3-1-102', '3-1-201']
    assert '第 1 / 3 页' in first.text and 'page=2' in first.text and f'building={compound["3"]}' in first.text
    last = admin.get('/property/rooms', query_string={'building': compound['3'], 'page': 3})
    assert codes_on(last)[-1] == '3-2-1202'
    beyond = admin.get('/property/rooms', query_string={'page': 10**30})
    assert beyond.status_code == 200


def test_room_list_queries_do_not_grow_with_rows(app, tenant, admin, make_building):
    make_building(tenant, name='1栋', units=1, floors=1, rooms_per_floor=2)
    with count_queries(app) as few:
        assert len(codes_on(admin.get('/property/rooms'))) == 2
    make_building(tenant, name='2栋', units=2, floors=3, rooms_per_floor=4)
    with count_queries(app) as many:
        assert len(codes_on(admin.get('/property/rooms'))) == 20
    assert len(many) == len(few)


def test_edit_room_records_history(tenant, users, admin, compound, room_id, in_tenant):
    rid = room_id(tenant, '3-2-1201')
    response = admin.post(f'/property/rooms/{rid}/edit', data={
        'area_m2': '89.5', 'type': 'residence', 'status': 'occupied', 'tags': ['高层', '临街'],
        'billing_starts_on': '2024-03-01'})
    assert response.status_code == 302
    with in_tenant(tenant) as session:
        room = session.get(Room, rid)
        assert room.area_m2 == Decimal('89.50') and room.status == 'occupied'
        assert room.tags == ['高层', '临街'] and room.billing_starts_on.isoformat() == '2024-03-01'
        events = session.execute(sa.select(RoomEvent).where(RoomEvent.room_id == rid).order_by(RoomEvent.id)
                                 ).scalars().all()
        assert [e.kind for e in events] == ['created', 'status_changed', 'updated']
        assert events[1].detail == {'from': 'vacant', 'to': 'occupied'}
        assert events[2].detail['changes']['area_m2'] == [None, '89.50']
        assert events[2].by_user_id == users['admin']
    page = admin.get(f'/property/rooms/{rid}')
    assert '89.50 ㎡' in page.text and '状态：空置 → 已入住' in page.text and '高层' in page.text
    assert '2024-03-01' in page.text


@pytest.mark.parametrize(('area', 'message'), [
    ('abc', '面积请填写数字，如 89.50'), ('89.505', '面积最多保留两位小数'), ('-1', '面积不能为负数'),
    ('0', '面积必须大于 0'), ('1e5', '面积请填写数字'),
])
def test_bad_area_is_422_in_chinese_and_saves_nothing(tenant, admin, compound, room_id, in_tenant, area, message):
    rid = room_id(tenant, '3-2-1201')
    response = admin.post(f'/property/rooms/{rid}/edit', data={'area_m2': area, 'type': 'residence',
                                                               'status': 'occupied'})
    assert response.status_code == 422
    assert f'<small class="error">{message}' in response.text
    with in_tenant(tenant) as session:
        room = session.get(Room, rid)
        assert room.area_m2 is None and room.status == 'vacant'


def test_bad_tag_date_and_status_are_422(tenant, admin, compound, room_id):
    rid = room_id(tenant, '3-2-1201')
    base = {'type': 'residence', 'status': 'vacant'}
    response = admin.post(f'/property/rooms/{rid}/edit', data={**base, 'tags': ['城堡']})
    assert response.status_code == 422 and '标签「城堡」不在本项目的标签里' in response.text
    response = admin.post(f'/property/rooms/{rid}/edit', data={**base, 'billing_starts_on': '2024-13-45'})
    assert response.status_code == 422 and '请填写日期，如 2024-01-31' in response.text
    assert admin.post(f'/property/rooms/{rid}/edit', data={**base, 'status': 'gone'}).status_code == 422
    assert admin.post(f'/property/rooms/{rid}/edit', data={**base, 'type': 'office'}).status_code == 422


def test_rename_keeps_history_and_refuses_existing_codes(tenant, admin, compound, room_id, in_tenant):
    rid = room_id(tenant, '3-2-1201')
    taken = admin.post(f'/property/rooms/{rid}/rename', data={'number': '1202'})
    assert taken.status_code == 422 and '房号 3-2-1202 已经存在' in taken.text
    bad = admin.post(f'/property/rooms/{rid}/rename', data={'number': '12/01'})
    assert bad.status_code == 422 and '房号只能包含数字和字母' in bad.text
    same = admin.post(f'/property/rooms/{rid}/rename', data={'number': '1201室'})
    assert same.status_code == 422 and '和原来的一样' in same.text
    response = admin.post(f'/property/rooms/{rid}/rename', data={'number': '1201a'}, follow_redirects=True)
    assert response.status_code == 200
    assert '房号已由 3-2-1201 改为 3-2-1201A' in response.text and '房号由 3-2-1201 改为 3-2-1201A' in response.text
    with in_tenant(tenant) as session:
        room = session.get(Room, rid)
        assert (room.number, room.code) == ('1201A', '3-2-1201A')
        event = session.execute(sa.select(RoomEvent).where(RoomEvent.kind == 'renamed')).scalar_one()
        assert event.detail == {'from': '3-2-1201', 'to': '3-2-1201A', 'from_number': '1201', 'to_number': '1201A'}
    assert codes_on(admin.get('/property/rooms', query_string={'q': '3栋2单元1201A'})) == ['3-2-1201A']


def test_merge_rooms_sums_area_and_keeps_history(tenant, admin, compound, room_id, in_tenant):
    target, a, b = (room_id(tenant, c) for c in ('3-1-101', '3-1-102', '3-1-201'))
    with in_tenant(tenant) as session:
        for rid, area in ((target, '89.50'), (a, '60.25'), (b, '10.00')):
            session.get(Room, rid).area_m2 = Decimal(area)
        session.add(ParkingSpace(code='B1-001', room_id=a, plates=[]))
    response = admin.post(f'/property/rooms/{target}/merge', data={'rooms': '102、3-1-201'}, follow_redirects=True)
    assert response.status_code == 200
    assert '已把 3-1-102、3-1-201 并入 3-1-101' in response.text and '159.75 ㎡' in response.text
    with in_tenant(tenant) as session:
        room = session.get(Room, target)
        assert room.area_m2 == Decimal('159.75') and room.active
        for rid in (a, b):
            merged = session.get(Room, rid)
            assert merged.merged_into_id == target and not merged.active and merged.area_m2 is not None
        kinds = session.execute(sa.select(RoomEvent.room_id).where(RoomEvent.kind == 'merged')).scalars().all()
        assert sorted(kinds) == sorted([target, a, b])
        assert session.execute(sa.select(ParkingSpace.room_id)).scalar_one() == target
    # merged rooms are hidden from lists unless asked for, and keep their page and history
    assert codes_on(admin.get('/property/rooms', query_string={'q': '3-1-102'})) == []
    assert codes_on(admin.get('/property/rooms', query_string={'q': '3-1-102', 'inactive': '1'})) == ['3-1-102']
    page = admin.get(f'/property/rooms/{a}')
    assert '这间房已并入' in page.text and '并入' in page.text and '3-1-101' in page.text
    assert '修改</a>' not in page.text  # no edit buttons on a merged room
    assert admin.post(f'/property/rooms/{a}/rename', data={'number': '999'}).status_code == 422
    assert admin.post(f'/property/rooms/{target}/merge', data={'rooms': '102'}).status_code == 422


def test_merge_refusals(tenant, admin, compound, room_id, in_tenant):
    target = room_id(tenant, '3-1-101')
    cases = [({'rooms': '3-2-101'}, '只能合并同一楼栋同一单元的房间'), ({'rooms': '101'}, '不能把房间并入它自己'),
             ({'rooms': '9999'}, '找不到房间 3-1-9999'), ({'rooms': '?!'}, '看不懂'),
             ({'rooms': ''}, '请填写要并入的房号')]
    for data, message in cases:
        response = admin.post(f'/property/rooms/{target}/merge', data=data)
        assert response.status_code == 422 and message in response.text, data
    with in_tenant(tenant) as session:
        session.get(Room, target).area_m2 = Decimal('50')
    response = admin.post(f'/property/rooms/{target}/merge', data={'rooms': '102'})
    assert response.status_code == 422 and '3-1-102 还没有登记面积' in response.text
    with in_tenant(tenant) as session:
        assert session.execute(sa.select(sa.func.count(Room.id)).where(Room.active.is_(False))).scalar_one() == 0
        assert session.execute(sa.select(sa.func.count(RoomEvent.id)).where(RoomEvent.kind == 'merged')
                               ).scalar_one() == 0


def test_roles_for_rooms(tenant, users, client_for, compound, room_id):
    rid = room_id(tenant, '3-2-1201')
    tech, desk, resident = (client_for(tenant, users[r]) for r in ('tech', 'desk', 'resident'))
    edit = {'area_m2': '80', 'type': 'residence', 'status': 'vacant'}
    assert tech.get(f'/property/rooms/{rid}').status_code == 200
    assert tech.get('/property/rooms').status_code == 200
    for path in (f'/property/rooms/{rid}/edit', f'/property/rooms/{rid}/rename', f'/property/rooms/{rid}/merge'):
        assert tech.get(path).status_code == 403
        assert tech.post(path, data=edit).status_code == 403
        assert resident.get(path).status_code == 403
        assert desk.get(path).status_code == 200
    assert resident.get(f'/property/rooms/{rid}').status_code == 403
    assert resident.get('/property/rooms').status_code == 403
    assert desk.post(f'/property/rooms/{rid}/edit', data=edit).status_code == 302
    assert '改房号' not in tech.get(f'/property/rooms/{rid}').text


def test_another_tenants_room_is_404(make_tenant, make_user, client_for, make_building, room_id):
    a, b = make_tenant(name='房屋甲'), make_tenant(name='房屋乙')
    make_building(a, name='1栋', units=1, floors=1, rooms_per_floor=1)
    make_building(b, name='1栋', units=1, floors=1, rooms_per_floor=1)  # same codes in B: fine
    rid = room_id(a, '1-1-101')
    client = client_for(b, make_user(b, 'admin'))
    assert client.get(f'/property/rooms/{rid}').status_code == 404
    assert client.post(f'/property/rooms/{rid}/edit', data={'area_m2': '1'}).status_code == 404
    assert client.post(f'/property/rooms/{rid}/rename', data={'number': '102'}).status_code == 404
    assert codes_on(client.get('/property/rooms')) == ['1-1-101']


def test_room_history_is_paginated(tenant, admin, compound, room_id, in_tenant):
    rid = room_id(tenant, '1-1-101')
    with in_tenant(tenant) as session:
        session.add_all([RoomEvent(room_id=rid, kind='status_changed', detail={'from': 'vacant', 'to': 'vacant'})
                         for _ in range(25)])
    page = admin.get(f'/property/rooms/{rid}')
    assert page.text.count('状态：') == 20 and '第 1 / 2 页' in page.text
    assert admin.get(f'/property/rooms/{rid}?page=2').text.count('<tr>') == 1 + 6
