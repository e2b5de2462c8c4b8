"""Buildings: created from a pattern in one step (preview first), listed with room counts, renamed."""
import re
from decimal import Decimal

import sqlalchemy as sa

from propsaas.property.models import Building, Room, RoomEvent, Unit
from tests.helpers import count_queries

PATTERN = {'name': '1栋', 'units': '2', 'floors': '18', 'rooms_per_floor': '4', 'numbering': '100',
           'areas': '89.50, 120.00, 120.00, 89.50', 'type': 'residence', 'has_lift': 'y'}


def inserts(statements, table):
    return [s for s in statements if re.match(rf'\s*INSERT INTO {table}\b', s)]


def test_preview_then_create_144_rooms_in_one_transaction(app, tenant, users, admin, in_tenant, building_named):
    preview = admin.post('/property/buildings/new', data={**PATTERN, 'action': 'preview'})
    assert preview.status_code == 200
    assert '144' in preview.text and '1-1-101' in preview.text and '1-2-1804' in preview.text
    assert building_named(tenant, '1栋') is None  # a preview creates nothing

    with count_queries(app) as statements:
        created = admin.post('/property/buildings/new', data={**PATTERN, 'action': 'create'})
    assert created.status_code == 302
    # bulk inserts: one statement per table, not one per row, and one commit
    assert len(inserts(statements, 'rooms')) == 1
    assert len(inserts(statements, 'room_events')) == 1
    assert len(inserts(statements, 'units')) <= 2  # a few units: the ORM's flush is fine
    assert sum(1 for s in statements if s.strip().upper() == 'COMMIT') <= 2  # the session's (+ the login's touch)

    with in_tenant(tenant) as session:
        building = session.execute(sa.select(Building).where(Building.name == '1栋')).scalar_one()
        assert building.has_lift and building.floors == 18
        assert [u.name for u in building.units] == ['1单元', '2单元']
        rooms = session.execute(sa.select(Room).where(Room.building_id == building.id)).scalars().all()
        codes = {r.code for r in rooms}
        assert len(rooms) == 144
        assert {'1-1-101', '1-1-104', '1-1-1804', '1-2-101', '1-2-1804'} <= codes
        assert '1-1-105' not in codes and '1-3-101' not in codes
        by_code = {r.code: r for r in rooms}
        assert by_code['1-2-1203'].floor == 12 and by_code['1-2-1203'].number == '1203'
        assert by_code['1-1-101'].area_m2 == Decimal('89.50') and by_code['1-1-102'].area_m2 == Decimal('120.00')
        assert all(r.status == 'vacant' and r.type == 'residence' and r.active for r in rooms)
        events = session.execute(sa.select(RoomEvent.kind, sa.func.count()).group_by(RoomEvent.kind)).all()
        assert events == [('created', 144)]
        building_id = building.id
    assert created.headers['Location'].endswith(f'/property/buildings/{building_id}')


def test_create_without_preview_page_shows_the_grid(tenant, admin, in_tenant):
    response = admin.post('/property/buildings/new', data={**PATTERN, 'action': 'create'}, follow_redirects=True)
    assert response.status_code == 200
    assert '已创建 1栋' in response.text and '1单元' in response.text and '1804' in response.text


def test_refusals_are_422_with_the_reason_and_create_nothing(tenant, admin, make_building, in_tenant):
    make_building(tenant, name='3栋', units=1, floors=2, rooms_per_floor=2)
    cases = [
        ({'units': '50', 'floors': '30'}, '一次最多 5000 间'),
        ({'name': '3栋'}, '已经有叫「3栋」的楼栋了'),
        ({'name': '3号楼'}, '编号相同'),
        ({'rooms_per_floor': '120'}, '楼层×1000'),
        ({'floors': 'abc'}, '请填写整数'),
        ({'floors': '0'}, '层数应在 1 到 200 之间'),
        ({'areas': '89.505'}, '最多保留两位小数'),
        ({'areas': '-3'}, '不能为负数'),
        ({'areas': '大'}, '面积请填写数字'),
        ({'areas': '1, 2'}, '面积请填 1 个'),
        ({'name': ''}, '请填写楼栋名称'),
        ({'type': 'castle'}, '不是有效的选择'),
    ]
    for changes, message in cases:
        for action in ('preview', 'create'):
            response = admin.post('/property/buildings/new', data={**PATTERN, **changes, 'action': action})
            assert response.status_code == 422, (changes, action)
            assert message in response.text, (changes, response.text[-2000:])
    with in_tenant(tenant) as session:
        assert session.execute(sa.select(sa.func.count(Building.id))).scalar_one() == 1
        assert session.execute(sa.select(sa.func.count(Room.id))).scalar_one() == 4


def test_room_types_come_from_the_template(make_tenant, make_user, client_for):
    office = make_tenant(name='写字楼', template='office-building')
    client = client_for(office, make_user(office, 'admin'))
    page = client.get('/property/buildings/new')
    assert 'selected value="office"' in page.text and 'value="residence"' not in page.text
    response = client.post('/property/buildings/new', data={**PATTERN, 'action': 'create', 'type': 'residence'})
    assert response.status_code == 422


def test_same_building_name_in_another_tenant_is_fine(make_tenant, make_building):
    a, b = make_tenant(name='房屋甲'), make_tenant(name='房屋乙')
    assert make_building(a, name='1栋', units=1, floors=1, rooms_per_floor=1)
    assert make_building(b, name='1栋', units=1, floors=1, rooms_per_floor=1)


def test_buildings_list_counts_rooms_by_status_in_one_query(app, tenant, admin, make_building, in_tenant):
    first = make_building(tenant, name='1栋', units=1, floors=2, rooms_per_floor=2)
    make_building(tenant, name='2栋', units=1, floors=1, rooms_per_floor=3)
    with in_tenant(tenant) as session:
        rooms = session.execute(sa.select(Room).where(Room.building_id == first).order_by(Room.code)).scalars().all()
        rooms[0].status = 'occupied'
        rooms[1].status = 'renovating'
    page = admin.get('/property/buildings')
    assert page.status_code == 200
    row = page.text.split(f'/property/buildings/{first}"')[1].split('</tr>')[0]
    assert re.findall(r'>(\d+)</a>', row) == ['4', '1', '2', '1']  # total, occupied, vacant, renovating

    with count_queries(app) as few:
        admin.get('/property/buildings')
    for n in range(3, 26):
        make_building(tenant, name=f'{n}栋', units=2, floors=1, rooms_per_floor=1)
    with count_queries(app) as many:
        listed = admin.get('/property/buildings')
    assert listed.text.count('/property/buildings/') >= 20
    assert len(many) == len(few)


def test_empty_list_says_what_to_do(tenant, admin, users, client_for):
    assert '点“新建楼栋”' in admin.get('/property/buildings').text
    tech = client_for(tenant, users['tech'])
    page = tech.get('/property/buildings')
    assert page.status_code == 200 and '请管理员或客服' in page.text and '新建楼栋</a>' not in page.text


def test_nav_has_property_for_staff_only(tenant, users, client_for):
    assert '>房屋</a>' in client_for(tenant, users['tech']).get('/').text
    assert '>房屋</a>' not in client_for(tenant, users['resident']).get('/').text


def test_roles(tenant, users, client_for, make_building):
    building = make_building(tenant, units=1, floors=1, rooms_per_floor=1)
    tech, desk, resident = (client_for(tenant, users[r]) for r in ('tech', 'desk', 'resident'))
    assert tech.get('/property/buildings').status_code == 200
    assert tech.get(f'/property/buildings/{building}').status_code == 200
    assert tech.get('/property/buildings/new').status_code == 403
    assert tech.post('/property/buildings/new', data={**PATTERN, 'name': '9栋', 'action': 'create'}).status_code == 403
    assert resident.get('/property/buildings').status_code == 403
    assert resident.get(f'/property/buildings/{building}').status_code == 403
    assert desk.post('/property/buildings/new', data={**PATTERN, 'name': '9栋', 'action': 'create'}).status_code == 302
    assert client_for(tenant).get('/property/buildings').status_code == 302  # to the login page


def test_building_detail_grid_by_unit_and_floor(tenant, admin, make_building, room_id):
    building = make_building(tenant, units=2, floors=3, rooms_per_floor=2)
    page = admin.get(f'/property/buildings/{building}')
    assert page.status_code == 200
    assert page.text.index('>301</a>') < page.text.index('>101</a>')  # top floor first
    with_unit = admin.get(f'/property/buildings/{building}?unit=999999')  # an unknown unit: the first one
    assert with_unit.status_code == 200
    assert admin.get('/property/buildings/999999').status_code == 404


def test_rename_building_updates_every_room_code(tenant, admin, make_building, in_tenant):
    building = make_building(tenant, name='1栋', units=1, floors=1, rooms_per_floor=2)
    make_building(tenant, name='2栋', units=1, floors=1, rooms_per_floor=1)
    refused = admin.post(f'/property/buildings/{building}/edit', data={'name': '2号楼', 'has_lift': ''})
    assert refused.status_code == 422 and '编号相同' in refused.text
    response = admin.post(f'/property/buildings/{building}/edit', data={'name': '5号楼', 'note': '东区'})
    assert response.status_code == 302
    with in_tenant(tenant) as session:
        codes = session.execute(sa.select(Room.code).where(Room.building_id == building).order_by(Room.code)).scalars()
        assert list(codes) == ['5-1-101', '5-1-102']
        b = session.get(Building, building)
        assert (b.name, b.has_lift, b.note) == ('5号楼', False, '东区')
        assert session.execute(sa.select(sa.func.count(Unit.id))).scalar_one() == 2
