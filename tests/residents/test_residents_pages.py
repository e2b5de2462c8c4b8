"""Staff pages of residents and the resident's own 我的房屋, as people use them."""
from __future__ import annotations

import re
from datetime import date, timedelta

import sqlalchemy as sa

from propsaas.auth.models import User
from propsaas.residents.models import AccessGrant, Occupancy, PersonalInfoAccess, Resident, Vehicle
from tests.helpers import count_queries
from tests.residents.conftest import ID_A, ID_B


def new_resident(client, **fields):
    data = {'name': '李雷', 'room': '3-2-1201', 'role': 'owner', 'mobile': '', 'other_phone': '', 'id_number': '',
            'emergency_contact': '', 'emergency_phone': '', 'note': '', 'moved_in_on': '', **fields}
    return client.post('/residents/new', data=data)


def residents_of(in_tenant, estate):
    with in_tenant(estate.tenant) as session:
        return session.execute(sa.select(Resident.name, Resident.mobile, Resident.other_phone)
                               .order_by(Resident.id)).all()


# --- create ----------------------------------------------------------------------------------------------------

def test_service_desk_registers_a_resident_with_the_first_room(estate, client_for, in_tenant):
    e = estate()
    client = client_for(e.tenant, e.desk)
    assert client.get('/residents/new').status_code == 200
    response = new_resident(client, room='3栋2单元1201', mobile='+86 138-0013-8000', id_number='11010519491231002x',
                            role='renter', moved_in_on='2024年3月1日', emergency_contact='韩梅梅',
                            emergency_phone='１３９００１３９０００')
    assert response.status_code == 302
    detail = client.get(response.location)
    assert '李雷' in detail.text and '3栋2单元1201' in detail.text and '租户' in detail.text
    with in_tenant(e.tenant) as session:
        resident = session.execute(sa.select(Resident)).scalar_one()
        assert (resident.mobile, resident.id_number, resident.emergency_phone) == (
            '13800138000', ID_A, '13900139000')
        occupancy = session.execute(sa.select(Occupancy)).scalar_one()
        assert (occupancy.room_id, occupancy.role, occupancy.moved_in_on) == (
            e.rooms['3-2-1201'], 'renter', date(2024, 3, 1))


def test_a_landline_typed_as_the_mobile_goes_to_other_phone(estate, client_for, in_tenant):
    e = estate()
    response = new_resident(client_for(e.tenant, e.admin), mobile='0571-8888 6666', room='5-1-301')
    assert response.status_code == 302
    resident = residents_of(in_tenant, e)[0]
    assert resident.mobile is None and resident.other_phone == '0571-8888 6666'


def test_create_errors_are_shown_next_to_the_field_and_save_nothing(estate, client_for, in_tenant):
    e = estate()
    client = client_for(e.tenant, e.admin)
    cases = [
        ({'room': '9-9-999'}, '找不到房屋'),
        ({'room': '1201'}, '对应多间房屋'),  # 3-2-1201 and 5-1-1201
        ({'room': '我家'}, '看不懂房号'),
        ({'id_number': '110101199003074478'}, '校验位不正确'),
        ({'id_number': '110101199002304476'}, '出生日期不正确'),
        ({'mobile': '12345'}, '11 位中国大陆手机号'),
        ({'moved_in_on': '2024-13-45'}, '日期格式不正确'),
        ({'name': ''}, '请填写姓名'),
        ({'name': '长' * 61}, ''),
        ({'role': 'landlord'}, ''),
    ]
    for fields, message in cases:
        response = new_resident(client, **fields)
        assert response.status_code == 422, fields
        assert message in response.text, fields
        assert 'class="error"' in response.text
    assert residents_of(in_tenant, e) == []


def test_a_bare_number_names_a_room_when_it_is_the_only_one(estate, client_for, in_tenant):
    e = estate()
    assert new_resident(client_for(e.tenant, e.admin), room='301').status_code == 302
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(Occupancy.room_id)).scalar_one() == e.rooms['5-1-301']


# --- who may do what --------------------------------------------------------------------------------------------

def test_roles(estate, client_for, add_resident):
    e = estate()
    rid, oid = add_resident(e, '王五', '3-2-1201', mobile='13800001234')
    staff = client_for(e.tenant, e.staff)
    resident = client_for(e.tenant, e.resident)
    anonymous = client_for(e.tenant)
    assert staff.get('/residents').status_code == 200
    assert staff.get(f'/residents/{rid}').status_code == 200
    for client in (staff, resident):
        assert new_resident(client).status_code == 403
        assert client.post(f'/residents/{rid}/edit', data={'name': 'x'}).status_code == 403
        assert client.post(f'/residents/{rid}/occupancies/{oid}/end').status_code == 403
        assert client.post(f'/residents/{rid}/vehicles', data={'plate': '浙A12345'}).status_code == 403
        assert client.post(f'/residents/{rid}/portal-account').status_code == 403
        assert client.post('/residents/export').status_code == 403
    assert resident.get('/residents').status_code == 403
    assert resident.get(f'/residents/{rid}').status_code == 403
    assert staff.get('/my/rooms').status_code == 403
    assert anonymous.get('/residents').status_code == 302
    # the edit buttons are only where they work
    assert '编辑资料' not in staff.get(f'/residents/{rid}').text
    assert '编辑资料' in client_for(e.tenant, e.desk).get(f'/residents/{rid}').text


def test_navigation(estate, client_for):
    e = estate()
    assert '>住户<' in client_for(e.tenant, e.staff).get('/').text
    home = client_for(e.tenant, e.resident).get('/').text
    assert '我的房屋' in home and '>住户<' not in home


# --- personal information ---------------------------------------------------------------------------------------

def test_staff_see_masked_values_admins_see_them_on_the_detail_and_are_logged(estate, client_for, add_resident,
                                                                                access_log):
    e = estate()
    rid, _ = add_resident(e, '王五', '3-2-1201', mobile='13800001234', id_number=ID_B, other_phone='0571-88886666')
    for user in (e.staff, e.desk):
        client = client_for(e.tenant, user)
        for page in (client.get('/residents').text, client.get(f'/residents/{rid}').text):
            assert '13800001234' not in page and ID_B not in page and '88886666' not in page
        assert '138****1234' in client.get('/residents').text
        detail = client.get(f'/residents/{rid}').text
        assert '138****1234' in detail and '**************4477' in detail and '****-****6666' in detail
        edit = client.get(f'/residents/{rid}/edit').text
        assert '13800001234' not in edit and ID_B not in edit
    assert access_log(e) == []
    admin = client_for(e.tenant, e.admin)
    listing = admin.get('/residents').text
    assert '138****1234' in listing and '13800001234' not in listing  # lists are masked for admins too
    assert access_log(e) == []
    detail = admin.get(f'/residents/{rid}').text
    assert '13800001234' in detail and ID_B in detail and '0571-88886666' in detail
    assert sorted(access_log(e)) == sorted([(rid, e.admin, 'mobile', 'page'), (rid, e.admin, 'other_phone', 'page'),
                                            (rid, e.admin, 'id_number', 'page')])
    admin.get(f'/residents/{rid}')
    assert len(access_log(e)) == 6  # every view is recorded


# --- edit ---------------------------------------------------------------------------------------------------------

def test_edit_keeps_blank_personal_values_and_clears_ticked_ones(estate, client_for, add_resident, in_tenant):
    e = estate()
    rid, _ = add_resident(e, '王五', '3-2-1201', mobile='13800001234', id_number=ID_B)
    client = client_for(e.tenant, e.desk)
    base = {'name': '王五一', 'mobile': '', 'other_phone': '', 'id_number': '', 'emergency_contact': '赵六',
            'emergency_phone': '+86 139 0000 2222', 'note': '养狗'}
    assert client.post(f'/residents/{rid}/edit', data=base).status_code == 302
    with in_tenant(e.tenant) as session:
        r = session.get(Resident, rid)
        assert (r.name, r.mobile, r.id_number, r.emergency_phone, r.note) == (
            '王五一', '13800001234', ID_B, '13900002222', '养狗')
    assert client.post(f'/residents/{rid}/edit', data={**base, 'mobile': '１３７ ００００ ３３３３',
                                                       'clear': ['id_number']}).status_code == 302
    with in_tenant(e.tenant) as session:
        r = session.get(Resident, rid)
        assert (r.mobile, r.id_number) == ('13700003333', None)
    bad = client.post(f'/residents/{rid}/edit', data={**base, 'id_number': '123', 'name': '不该保存'})
    assert bad.status_code == 422 and '身份证号应为 18 位' in bad.text
    with in_tenant(e.tenant) as session:
        assert session.get(Resident, rid).name == '王五一'


# --- rooms: several, history, move out ----------------------------------------------------------------------------

def test_move_out_keeps_history_revokes_access_and_hides_the_room_from_the_resident(
        estate, client_for, add_resident, add_grant, in_tenant):
    e = estate()
    rid, oid = add_resident(e, '门户住户', '3-2-1201', mobile='13900001111', user_id=e.resident)
    add_resident(e, '室友', '3-2-1201', role='family', mobile='13900002222')
    add_resident(e, '别家', '5-1-301', mobile='13900003333')
    grant = add_grant(e, rid)
    me = client_for(e.tenant, e.resident)
    mine = me.get('/my/rooms').text
    assert '3栋2单元1201' in mine and '室友' in mine and '139****2222' in mine
    assert '别家' not in mine and '5栋' not in mine and '13900002222' not in mine

    desk = client_for(e.tenant, e.desk)
    # a second room first: moving out of one room keeps the grants
    assert desk.post(f'/residents/{rid}/occupancies', data={'room': '5-1-1201', 'role': 'renter',
                                                            'moved_in_on': '2021-05-01'}).status_code == 302
    again = desk.post(f'/residents/{rid}/occupancies', data={'room': '5栋1单元1201', 'role': 'owner'})
    assert again.status_code == 422 and '已经是' in again.text
    with in_tenant(e.tenant) as session:
        second = session.execute(sa.select(Occupancy.id).where(Occupancy.resident_id == rid,
                                                               Occupancy.id != oid)).scalar_one()
    assert desk.post(f'/residents/{rid}/occupancies/{oid}/end', data={'moved_out_on': '2024-06-30'}).status_code == 302
    with in_tenant(e.tenant) as session:
        assert session.get(AccessGrant, grant).revoked_at is None
    mine = me.get('/my/rooms').text
    assert '5栋1单元1201' in mine and '3栋2单元1201' not in mine and '室友' not in mine

    too_early = desk.post(f'/residents/{rid}/occupancies/{second}/end', data={'moved_out_on': '2021-04-30'})
    assert too_early.status_code == 422 and '不能早于入住日期' in too_early.text
    next_month = (date.today() + timedelta(days=30)).isoformat()
    future = desk.post(f'/residents/{rid}/occupancies/{second}/end', data={'moved_out_on': next_month})
    assert future.status_code == 422 and '不能晚于今天' in future.text
    response = desk.post(f'/residents/{rid}/occupancies/{second}/end', data={'moved_out_on': ''}, follow_redirects=True)
    assert '门禁权限已自动注销' in response.text
    with in_tenant(e.tenant) as session:
        rows = session.execute(sa.select(Occupancy).where(Occupancy.resident_id == rid)).scalars().all()
        assert len(rows) == 2 and all(o.moved_out_on for o in rows)  # history kept, nothing deleted
        revoked = session.get(AccessGrant, grant)
        assert revoked.revoked_at is not None and revoked.revoke_reason
    assert desk.post(f'/residents/{rid}/occupancies/{oid}/end').status_code == 422  # already moved out
    detail = desk.get(f'/residents/{rid}').text
    assert '2024-06-30' in detail and '3栋2单元1201' in detail and '已注销' in detail
    mine = me.get('/my/rooms').text
    assert '1201' not in mine and '室友' not in mine and '目前没有登记在您名下的房屋' in mine


def test_an_occupancy_of_another_resident_is_404(estate, client_for, add_resident):
    e = estate()
    rid, _ = add_resident(e, '甲', '3-2-1201')
    _, other_oid = add_resident(e, '乙', '3-2-1202')
    client = client_for(e.tenant, e.admin)
    assert client.post(f'/residents/{rid}/occupancies/{other_oid}/end').status_code == 404
    assert client.get('/residents/99999999').status_code == 404


# --- vehicles -------------------------------------------------------------------------------------------------------

def test_vehicles_are_normalised_unique_and_removable(estate, client_for, add_resident, in_tenant):
    e = estate()
    rid, _ = add_resident(e, '甲', '3-2-1201')
    other, _ = add_resident(e, '乙', '3-2-1202')
    client = client_for(e.tenant, e.desk)
    assert client.post(f'/residents/{rid}/vehicles', data={'plate': '浙a 12345', 'note': '白色'}).status_code == 302
    bad = client.post(f'/residents/{rid}/vehicles', data={'plate': 'AB1234'})
    assert bad.status_code == 422 and '车牌号格式不正确' in bad.text
    taken = client.post(f'/residents/{other}/vehicles', data={'plate': '浙A·12345'})
    assert taken.status_code == 422 and '已登记在 甲 名下' in taken.text
    with in_tenant(e.tenant) as session:
        vehicle = session.execute(sa.select(Vehicle)).scalar_one()
        assert (vehicle.plate, vehicle.resident_id, vehicle.note) == ('浙A12345', rid, '白色')
        vehicle_id = vehicle.id
    assert client.post(f'/residents/{other}/vehicles/{vehicle_id}/delete').status_code == 404
    assert client.post(f'/residents/{rid}/vehicles/{vehicle_id}/delete').status_code == 302
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(Vehicle)).first() is None


# --- the list: search, filters, pages, queries --------------------------------------------------------------------

def names_in(response) -> set[str]:
    return set(re.findall(r'/residents/\d+">([^<]+)</a>', response.text))


def test_search_by_name_phone_and_room_in_any_form(estate, client_for, add_resident):
    e = estate()
    add_resident(e, '张三', '3-2-1201', mobile='13800138000')
    add_resident(e, '李四', '5-1-1201', mobile='13912345678')
    add_resident(e, '王五', '3-2-1202', other_phone='0571-88886666')
    add_resident(e, '旧户', '5-1-301', mobile='13700008000', moved_out_on=date(2023, 1, 1))
    client = client_for(e.tenant, e.staff)

    def search(q, **more):
        response = client.get('/residents', query_string={'q': q, **more})
        assert response.status_code == 200
        return names_in(response)

    assert search('张') == {'张三'}
    assert search('+86 138-0013-8000') == {'张三'}
    assert search('１３８ ００１３ ８０００') == {'张三'}
    assert search('8000') == {'张三'}  # last 4 digits; 旧户 moved out
    assert search('8000', status='all') == {'张三', '旧户'}
    assert search('5678') == {'李四'}
    assert search('88886666') == {'王五'}
    assert search('3-2-1201') == {'张三'}
    assert search('3栋2单元1201') == {'张三'}
    assert search('３栋２单元１２０１室') == {'张三'}
    assert search('1201') == {'张三', '李四'}  # a bare number: every room with it
    assert search('3-1202') == {'王五'}
    assert search('301') == set()
    assert search('301', status='moved_out') == {'旧户'}
    assert search('nobody') == set()
    assert '没有符合条件的住户' in client.get('/residents?q=nobody').text


def test_filters(estate, client_for, add_resident):
    e = estate()
    add_resident(e, '业主甲', '3-2-1201', plates=['浙A11111'])
    add_resident(e, '租户乙', '3-2-1202', role='renter')
    add_resident(e, '家属丙', '5-1-1201', role='family')
    add_resident(e, '迁出丁', '5-1-301', moved_out_on=date(2022, 5, 1))
    client = client_for(e.tenant, e.staff)

    def listed(**args):
        response = client.get('/residents', query_string=args)
        assert response.status_code == 200
        return names_in(response)

    assert listed() == {'业主甲', '租户乙', '家属丙'}
    assert listed(building_id=e.buildings['3']) == {'业主甲', '租户乙'}
    assert listed(building_id=e.buildings['5'], status='all') == {'家属丙', '迁出丁'}
    assert listed(role='renter') == {'租户乙'}
    assert listed(status='moved_out') == {'迁出丁'}
    assert listed(has_vehicle='yes') == {'业主甲'}
    assert listed(has_vehicle='no') == {'租户乙', '家属丙'}
    assert listed(q='1201', building_id=e.buildings['5']) == {'家属丙'}
    assert client.get('/residents?status=nonsense').status_code == 422
    assert client.get('/residents?building_id=abc').status_code == 422


def test_list_is_paginated_and_keeps_its_filters(estate, client_for, in_tenant):
    e = estate()
    with in_tenant(e.tenant) as session:
        for i in range(23):
            resident = Resident(name=f'住户{i:02d}')
            session.add_all([resident, Occupancy(resident=resident, room_id=e.rooms['3-2-1201'], role='family')])
    client = client_for(e.tenant, e.staff)
    first = client.get(f'/residents?building_id={e.buildings["3"]}')
    assert len(names_in(first)) == 20 and '第 1 / 2 页' in first.text
    assert f'building_id={e.buildings["3"]}' in re.search(r'href="([^"]*page=2[^"]*)"', first.text).group(1)
    assert len(names_in(client.get(f'/residents?building_id={e.buildings["3"]}&page=2'))) == 3


def test_empty_list_says_what_to_do(estate, client_for):
    e = estate()
    text = client_for(e.tenant, e.desk).get('/residents').text
    assert '登记住户' in text and 'class="empty"' in text


def test_the_list_does_not_query_per_row(app, estate, client_for, in_tenant):
    def statements(n):
        e = estate()
        with in_tenant(e.tenant) as session:
            for i in range(n):
                resident = Resident(name=f'住户{i:02d}', mobile=f'138{i:08d}')
                session.add_all([resident, Occupancy(resident=resident, room_id=e.rooms['3-2-1201'], role='owner'),
                                 Occupancy(resident=resident, room_id=e.rooms['5-1-301'], role='renter',
                                           moved_out_on=date(2022, 1, 1)),
                                 Vehicle(resident=resident, plate=f'浙A{i:05d}')])
        client = client_for(e.tenant, e.staff)
        client.get('/residents')
        with count_queries(app) as seen:
            response = client.get('/residents?status=all')
        assert response.status_code == 200 and len(names_in(response)) == min(n, 20)
        return len(seen)

    assert statements(2) == statements(25)


# --- two projects ---------------------------------------------------------------------------------------------------

def test_another_projects_residents_are_invisible(estate, client_for, add_resident, in_tenant):
    a, b = estate('住户测试甲苑'), estate('住户测试乙苑')
    rid, oid = add_resident(a, '甲的住户', '3-2-1201', mobile='13800001234', plates=['浙A99999'])
    b_admin = client_for(b.tenant, b.admin)
    assert b_admin.get(f'/residents/{rid}').status_code == 404
    assert b_admin.post(f'/residents/{rid}/occupancies/{oid}/end').status_code == 404
    assert '甲的住户' not in b_admin.get('/residents?q=1201&status=all').text
    assert '甲的住户' not in b_admin.get('/residents?q=1234').text
    # the same room code, mobile and plate are free in project B
    assert new_resident(b_admin, name='乙的住户', mobile='13800001234').status_code == 302
    with in_tenant(b.tenant) as session:
        b_rid = session.execute(sa.select(Resident.id)).scalar_one()
    assert b_admin.post(f'/residents/{b_rid}/vehicles', data={'plate': '浙A99999'}).status_code == 302
    assert '乙的住户' not in client_for(a.tenant, a.admin).get('/residents').text


# --- portal accounts ------------------------------------------------------------------------------------------------

def test_open_a_portal_account_and_use_it(estate, client_for, add_resident, in_tenant):
    e = estate()
    rid, _ = add_resident(e, '赵敏', '3-2-1201', mobile='13600006666')
    desk = client_for(e.tenant, e.desk)
    response = desk.post(f'/residents/{rid}/portal-account')
    assert response.status_code == 200
    link = re.search(r'value="(http://[^"]+/invite/[^"]+)"', response.text).group(1)
    with in_tenant(e.tenant) as session:
        user = session.execute(sa.select(User).where(User.mobile == '13600006666')).scalar_one()
        assert user.role == 'resident' and user.invited
        assert session.get(Resident, rid).user_id == user.id
    assert link not in desk.get(f'/residents/{rid}').text  # shown once
    assert '待接受邀请' in desk.get(f'/residents/{rid}').text
    again = desk.post(f'/residents/{rid}/portal-account', follow_redirects=True)
    assert '已开通住户账号' in again.text
    invitee = client_for(e.tenant)
    path = link.split('localhost', 1)[1]
    assert invitee.post(path, data={'password': 'Lift-Check-0915', 'confirm': 'Lift-Check-0915'}).status_code == 302
    assert '3栋2单元1201' in invitee.get('/my/rooms').text


def test_portal_account_links_an_existing_resident_login_and_refuses_staff_mobiles(
        estate, client_for, add_resident, make_user, in_tenant):
    e = estate()
    rid, _ = add_resident(e, '门户住户', '3-2-1202', mobile='13900001111')  # e.resident's mobile
    staff_mobile = '13500005555'
    make_user(e.tenant, 'staff', mobile=staff_mobile)
    staff_owned, _ = add_resident(e, '员工家属', '5-1-301', mobile=staff_mobile)
    no_mobile, _ = add_resident(e, '无手机', '5-1-1201')
    desk = client_for(e.tenant, e.desk)
    linked = desk.post(f'/residents/{rid}/portal-account', follow_redirects=True)
    assert '已关联现有住户账号' in linked.text
    with in_tenant(e.tenant) as session:
        assert session.get(Resident, rid).user_id == e.resident
    assert '3栋2单元1202' in client_for(e.tenant, e.resident).get('/my/rooms').text
    assert '员工账号' in desk.post(f'/residents/{staff_owned}/portal-account', follow_redirects=True).text
    assert '请先为 无手机 填写手机号' in desk.post(f'/residents/{no_mobile}/portal-account', follow_redirects=True).text
    with in_tenant(e.tenant) as session:
        assert session.get(Resident, staff_owned).user_id is None
        assert session.execute(sa.select(sa.func.count(PersonalInfoAccess.id))).scalar() == 0


def test_moving_in_and_out_keeps_the_room_status_true(app, make_tenant, make_user, client_for, in_tenant):
    """A vacant room becomes occupied when someone moves in and vacant again when the last one leaves."""
    from datetime import date

    import sqlalchemy as sa

    from propsaas.property.models import Building, Room, RoomEvent
    from propsaas.residents import services
    from propsaas.residents.models import Occupancy

    tenant = make_tenant()
    with in_tenant(tenant) as session:
        building = Building(name='9栋')
        room = Room(building=building, number='101', code='9-101', status='vacant')
        session.add_all([building, room])
        session.flush()
        resident = services.create_resident({'name': '搬家人', 'mobile': '13911119999'}, room_text='9-101',
                                            role='owner', moved_in_on=date(2024, 1, 1), today=date(2024, 6, 1))
        session.flush()
        assert room.status == 'occupied'
        occupancy = session.execute(sa.select(Occupancy).where(Occupancy.resident_id == resident.id)).scalar_one()
        services.end_occupancy(occupancy, moved_out_on=date(2024, 5, 1), today=date(2024, 6, 1))
        assert room.status == 'vacant'
        changes = session.execute(sa.select(RoomEvent.detail).where(RoomEvent.room_id == room.id,
                                                                    RoomEvent.kind == 'status')
                                  .order_by(RoomEvent.id)).scalars().all()
        assert [(c['from'], c['to']) for c in changes] == [('vacant', 'occupied'), ('occupied', 'vacant')]
