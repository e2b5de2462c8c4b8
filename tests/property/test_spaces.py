"""Parking spaces (车位): listed, searched, created and edited with normalised Chinese plates."""
import re

import sqlalchemy as sa

from propsaas.property.models import ParkingSpace
from tests.helpers import count_queries


def codes_on(page) -> list[str]:
    return re.findall(r'/property/spaces/\d+">([^<]+)</a>', page.text)


def test_create_space_with_room_and_plates(tenant, admin, make_building, room_id, in_tenant):
    make_building(tenant, name='3栋', units=2, floors=12, rooms_per_floor=2)
    response = admin.post('/property/spaces/new', data={
        'code': 'b1-023', 'location': '地下一层', 'kind': 'owned', 'room': '3栋2单元1201',
        'plates': '浙a·12345\n沪AD12345, 浙A 12345', 'active': 'y'}, follow_redirects=True)
    assert response.status_code == 200 and '已添加车位 B1-023' in response.text
    with in_tenant(tenant) as session:
        space = session.execute(sa.select(ParkingSpace)).scalar_one()
        assert (space.code, space.kind, space.location) == ('B1-023', 'owned', '地下一层')
        assert space.plates == ['浙A12345', '沪AD12345']
        assert space.room_id == room_id(tenant, '3-2-1201')
    page = admin.get('/property/spaces', query_string={'q': '浙A12345'})
    assert codes_on(page) == ['B1-023'] and '3-2-1201' in page.text
    assert codes_on(admin.get('/property/spaces', query_string={'q': '3-2-1201'})) == ['B1-023']
    assert codes_on(admin.get('/property/spaces', query_string={'q': 'nothing'})) == []
    room_page = admin.get(f'/property/rooms/{room_id(tenant, "3-2-1201")}')
    assert 'B1-023' in room_page.text


def test_space_refusals(tenant, admin, make_building, in_tenant):
    make_building(tenant, name='3栋', units=1, floors=1, rooms_per_floor=1)
    assert admin.post('/property/spaces/new', data={'code': 'B1-001', 'kind': 'rented'}).status_code == 302
    cases = [({'code': 'b1-001'}, '车位编号 B1-001 已经存在'),
             ({'plates': '浙I12345'}, '车牌号「浙I12345」格式不对'),
             ({'room': '9-9-999'}, '找不到房间 9-9-999'),
             ({'room': '1201'}, '请写完整的房号'),
             ({'code': ''}, '请填写车位编号'),
             ({'kind': 'stolen'}, '不是有效的选择')]
    for changes, message in cases:
        response = admin.post('/property/spaces/new', data={'code': 'B1-002', 'kind': 'rented', **changes})
        assert response.status_code == 422 and message in response.text, changes
    with in_tenant(tenant) as session:
        assert session.execute(sa.select(sa.func.count(ParkingSpace.id))).scalar_one() == 1


def test_edit_space_and_roles(tenant, users, client_for, admin, in_tenant):
    admin.post('/property/spaces/new', data={'code': 'B1-001', 'kind': 'rented', 'plates': '浙A12345'})
    with in_tenant(tenant) as session:
        sid = session.execute(sa.select(ParkingSpace.id)).scalar_one()
    tech, desk, resident = (client_for(tenant, users[r]) for r in ('tech', 'desk', 'resident'))
    view = tech.get(f'/property/spaces/{sid}')
    assert view.status_code == 200 and '浙A12345' in view.text and '<form method="post" novalidate' not in view.text
    assert tech.post(f'/property/spaces/{sid}', data={'code': 'X', 'kind': 'rented'}).status_code == 403
    assert tech.get('/property/spaces/new').status_code == 403
    assert resident.get(f'/property/spaces/{sid}').status_code == 403
    assert resident.get('/property/spaces').status_code == 403
    response = desk.post(f'/property/spaces/{sid}', data={'code': 'B1-009', 'kind': 'temporary', 'plates': ''})
    assert response.status_code == 302
    with in_tenant(tenant) as session:
        space = session.get(ParkingSpace, sid)
        assert (space.code, space.kind, space.plates, space.active) == ('B1-009', 'temporary', [], False)
    assert codes_on(admin.get('/property/spaces')) == []  # inactive: hidden by default
    assert codes_on(admin.get('/property/spaces', query_string={'inactive': '1'})) == ['B1-009']


def test_empty_space_list_says_what_to_do(tenant, admin):
    assert '添加车位</a>，登记编号' in admin.get('/property/spaces').text


def test_space_list_queries_do_not_grow_with_rows(app, tenant, admin, make_building, in_tenant, room_id):
    make_building(tenant, name='3栋', units=1, floors=5, rooms_per_floor=5)
    rid = room_id(tenant, '3-1-101')

    def add(n0, n1):
        with in_tenant(tenant) as session:
            session.add_all([ParkingSpace(code=f'B1-{n:03d}', room_id=rid, plates=['浙A12345']) for n in range(n0, n1)])

    add(0, 2)
    with count_queries(app) as few:
        assert len(codes_on(admin.get('/property/spaces'))) == 2
    add(2, 25)
    with count_queries(app) as many:
        assert len(codes_on(admin.get('/property/spaces'))) == 20
    assert len(many) == len(few)


def test_control_characters_are_refused_not_a_500(tenant, admin, make_building, room_id, in_tenant):
    make_building(tenant, name='3栋', units=1, floors=1, rooms_per_floor=1)
    response = admin.post('/property/spaces/new', data={'code': 'B1\x00', 'kind': 'rented'})
    assert response.status_code == 422 and '控制字符' in response.text
    new = admin.post('/property/buildings/new', data={'name': '9\x00栋', 'units': '1', 'floors': '1',
                                                      'rooms_per_floor': '1', 'numbering': '100',
                                                      'type': 'residence', 'action': 'create'})
    assert new.status_code == 422 and '控制字符' in new.text
    rename = admin.post(f'/property/rooms/{room_id(tenant, "3-1-101")}/rename', data={'number': '1\x002'})
    assert rename.status_code == 422
    with in_tenant(tenant) as session:
        assert session.execute(sa.select(sa.func.count(ParkingSpace.id))).scalar_one() == 0
