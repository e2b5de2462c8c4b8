"""Renovation registration as people use it in the browser: a resident files, the service desk reviews, the site
is inspected, the work completes, the deposit is settled once."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from propsaas.property.models import Room, RoomEvent
from propsaas.residents import renovations as services
from propsaas.residents.models import Occupancy, Renovation, RenovationVisit
from propsaas.tenancy import clock
from tests.helpers import count_queries
from tests.renovations.estate import add_resident


def form(**overrides) -> dict:
    start = date.today() + timedelta(days=3)
    data = {'contractor': '匠心装饰', 'manager_name': '赵工', 'manager_phone': '+86 138-0013-8000',
            'planned_start': start.isoformat(), 'planned_end': (start + timedelta(days=60)).isoformat(),
            'scope': '厨卫改造、墙面刷漆'}
    data.update(overrides)
    return data


def renovation_of(in_tenant, estate, room_code) -> dict:
    with in_tenant(estate.tenant) as session:
        row = session.execute(sa.select(Renovation).where(Renovation.room_id == estate.rooms[room_code])
                              .order_by(Renovation.id.desc())).scalars().first()
        return None if row is None else {c.name: getattr(row, c.name) for c in Renovation.__table__.columns}


def room_status(in_tenant, estate, room_code) -> str:
    with in_tenant(estate.tenant) as session:
        return session.get(Room, estate.rooms[room_code]).status


def file_as_staff(client_for, estate, room='1-1-101', **overrides):
    data = form(**{'room': room, 'deposit': '2000.00', **overrides})
    response = client_for(estate.tenant, estate.desk).post('/renovations/new', data=data)
    assert response.status_code == 302, response.text
    return int(response.headers['Location'].rsplit('/', 1)[1])


def test_the_whole_lifecycle(estate, client_for, in_tenant):
    e = estate()
    resident = client_for(e.tenant, e.owner_user)
    page = resident.get('/renovations/new')
    assert page.status_code == 200
    assert '1栋1单元101' in page.text and '1栋1单元102' not in page.text  # only their own room
    assert '2000.00' in page.text  # the project's deposit is announced

    filed = resident.post('/renovations/new', data=form(room_id=e.rooms['1-1-101']))
    assert filed.status_code == 302
    record = renovation_of(in_tenant, e, '1-1-101')
    assert record['status'] == 'pending' and record['deposit_fen'] == 200000 and record['deposit_status'] == 'none'
    assert record['manager_phone'] == '13800138000'  # normalised
    assert record['filed_by_id'] == e.owner_user and record['resident_id'] == e.owner
    assert room_status(in_tenant, e, '1-1-101') == 'occupied'
    mine = resident.get('/renovations/mine')
    assert '匠心装饰' in mine.text and '待审核' in mine.text

    desk = client_for(e.tenant, e.desk)
    detail = desk.get(f'/renovations/{record["id"]}')
    assert detail.status_code == 200
    assert '138****8000' in detail.text and '13800138000' not in detail.text  # masked for staff too
    approved = desk.post(f'/renovations/{record["id"]}/approve', data={'review-comment': '请遵守施工时间'})
    assert approved.status_code == 302
    record = renovation_of(in_tenant, e, '1-1-101')
    assert record['status'] == 'approved' and record['deposit_status'] == 'held'
    assert record['reviewed_by_id'] == e.desk and record['review_comment'] == '请遵守施工时间'
    assert room_status(in_tenant, e, '1-1-101') == 'renovating'

    tech = client_for(e.tenant, e.tech)  # any staff member records a site visit
    assert tech.post(f'/renovations/{record["id"]}/visits', data={'visit-note': '未发现拆改承重墙'}).status_code == 302
    assert '未发现拆改承重墙' in resident.get(f'/renovations/{record["id"]}').text

    # the deposit can't be settled before the work is completed
    early = desk.post(f'/renovations/{record["id"]}/deposit/refund', data={'deposit-reason': ''})
    assert early.status_code == 422 and '完工' in early.text

    assert desk.post(f'/renovations/{record["id"]}/complete', data={'complete-completed_on': ''}).status_code == 302
    record = renovation_of(in_tenant, e, '1-1-101')
    assert record['status'] == 'completed' and record['completed_on'] is not None
    assert room_status(in_tenant, e, '1-1-101') == 'occupied'  # someone lives there

    refunded = desk.post(f'/renovations/{record["id"]}/deposit/refund', data={'deposit-reason': '验收合格'})
    assert refunded.status_code == 302
    again = desk.post(f'/renovations/{record["id"]}/deposit/withhold', data={'deposit-reason': '改主意了'})
    assert again.status_code == 422 and '不能再修改' in again.text
    record = renovation_of(in_tenant, e, '1-1-101')
    assert record['deposit_status'] == 'refunded' and record['deposit_note'] == '验收合格'

    with in_tenant(e.tenant) as session:
        events = session.execute(sa.select(RoomEvent).where(RoomEvent.room_id == e.rooms['1-1-101'])
                                 .order_by(RoomEvent.id)).scalars().all()
        assert [(ev.detail['from'], ev.detail['to']) for ev in events] == [('occupied', 'renovating'),
                                                                           ('renovating', 'occupied')]
        assert session.execute(sa.select(sa.func.count(RenovationVisit.id))).scalar() == 1


def test_completion_of_an_empty_room_leaves_it_vacant(estate, client_for, in_tenant):
    e = estate()
    renovation_id = file_as_staff(client_for, e, room='2-1-201', deposit='0')
    desk = client_for(e.tenant, e.desk)
    desk.post(f'/renovations/{renovation_id}/approve', data={})
    assert room_status(in_tenant, e, '2-1-201') == 'renovating'
    assert renovation_of(in_tenant, e, '2-1-201')['deposit_status'] == 'none'  # nothing to hold
    desk.post(f'/renovations/{renovation_id}/complete', data={})
    assert room_status(in_tenant, e, '2-1-201') == 'vacant'


def test_completion_after_everyone_moved_out_is_vacant(estate, client_for, in_tenant):
    e = estate()
    renovation_id = file_as_staff(client_for, e, room='1-1-102')
    desk = client_for(e.tenant, e.desk)
    desk.post(f'/renovations/{renovation_id}/approve', data={})
    with in_tenant(e.tenant) as session:
        for occupancy in session.execute(sa.select(Occupancy).where(Occupancy.room_id == e.rooms['1-1-102'])).scalars():
            occupancy.moved_out_on = date.today()
    desk.post(f'/renovations/{renovation_id}/complete', data={})
    assert room_status(in_tenant, e, '1-1-102') == 'vacant'


def test_withholding_needs_a_reason_and_is_final(estate, client_for, in_tenant):
    e = estate()
    renovation_id = file_as_staff(client_for, e)
    desk = client_for(e.tenant, e.desk)
    desk.post(f'/renovations/{renovation_id}/approve', data={})
    desk.post(f'/renovations/{renovation_id}/complete', data={})
    cashier = client_for(e.tenant, e.cashier)  # the cashier settles deposits
    no_reason = cashier.post(f'/renovations/{renovation_id}/deposit/withhold', data={'deposit-reason': '  '})
    assert no_reason.status_code == 422 and '扣留押金必须写明原因' in no_reason.text
    assert renovation_of(in_tenant, e, '1-1-101')['deposit_status'] == 'held'
    withheld = cashier.post(f'/renovations/{renovation_id}/deposit/withhold',
                            data={'deposit-reason': '损坏公共楼道墙面，修复费用从押金扣除'})
    assert withheld.status_code == 302
    refund = cashier.post(f'/renovations/{renovation_id}/deposit/refund', data={'deposit-reason': ''})
    assert refund.status_code == 422
    record = renovation_of(in_tenant, e, '1-1-101')
    assert record['deposit_status'] == 'withheld' and record['deposit_note'].startswith('损坏公共楼道墙面')
    # the technician may not settle deposits
    assert client_for(e.tenant, e.tech).post(f'/renovations/{renovation_id}/deposit/refund',
                                             data={}).status_code == 403


def test_reject_needs_a_comment(estate, client_for, in_tenant):
    e = estate()
    renovation_id = file_as_staff(client_for, e)
    desk = client_for(e.tenant, e.desk)
    empty = desk.post(f'/renovations/{renovation_id}/reject', data={'review-comment': ''})
    assert empty.status_code == 422 and '驳回时请写明原因' in empty.text
    assert renovation_of(in_tenant, e, '1-1-101')['status'] == 'pending'
    assert desk.post(f'/renovations/{renovation_id}/reject',
                     data={'review-comment': '缺少施工图纸'}).status_code == 302
    record = renovation_of(in_tenant, e, '1-1-101')
    assert record['status'] == 'rejected' and record['review_comment'] == '缺少施工图纸'
    assert room_status(in_tenant, e, '1-1-101') == 'occupied'  # untouched
    # a rejected record frees the room for a new application
    file_as_staff(client_for, e)


def test_money_is_exact_and_bad_money_saves_nothing(estate, client_for, in_tenant):
    e = estate()
    desk = client_for(e.tenant, e.desk)
    bad = desk.post('/renovations/new', data=form(room='1-1-101', deposit='12.345'))
    assert bad.status_code == 422 and '最多两位小数' in bad.text
    assert renovation_of(in_tenant, e, '1-1-101') is None
    file_as_staff(client_for, e, room='1栋1单元101室', deposit='2000.05')  # the room typed the Chinese way
    assert renovation_of(in_tenant, e, '1-1-101')['deposit_fen'] == 200005


@pytest.mark.parametrize(('overrides', 'field_message'), [
    ({'room': '9-9-999'}, '找不到这个房号'),
    ({'manager_phone': '12345'}, '手机号'),
    ({'planned_start': '2026-05-10', 'planned_end': '2026-05-01'}, '不能早于开工日期'),
    ({'planned_start': '2026-01-01', 'planned_end': '2026-12-31'}, '180'),
    ({'planned_start': '明天'}, '年-月-日'),
    ({'contractor': ''}, '请填写装修公司或施工队'),
    ({'scope': 'x' * 2001}, '2000'),
])
def test_a_bad_filing_says_what_to_fix(estate, client_for, in_tenant, overrides, field_message):
    e = estate()
    data = form(room='1-1-101', deposit='2000')
    data.update(overrides)
    response = client_for(e.tenant, e.desk).post('/renovations/new', data=data)
    assert response.status_code == 422
    assert field_message in response.text
    assert renovation_of(in_tenant, e, '1-1-101') is None


def test_one_open_record_per_room(estate, client_for):
    e = estate()
    file_as_staff(client_for, e)
    again = client_for(e.tenant, e.desk).post('/renovations/new', data=form(room='1-1-101', deposit='0'))
    assert again.status_code == 422 and '已有一条待审核或装修中的备案' in again.text


def test_a_resident_files_only_for_their_own_room(estate, client_for, in_tenant):
    e = estate()
    resident = client_for(e.tenant, e.owner_user)
    response = resident.post('/renovations/new', data=form(room_id=e.rooms['1-1-102']))  # the neighbour's
    assert response.status_code == 422 and '只能为你自己居住的房屋申请装修' in response.text
    assert resident.post('/renovations/new', data=form(room_id='abc')).status_code == 422
    assert renovation_of(in_tenant, e, '1-1-102') is None
    # a resident can't set the deposit: the field isn't there, and a posted one is ignored
    resident.post('/renovations/new', data=form(room_id=e.rooms['1-1-101'], deposit='0'))
    assert renovation_of(in_tenant, e, '1-1-101')['deposit_fen'] == 200000


def test_a_resident_without_a_room_is_told_what_to_do(estate, client_for, make_user):
    e = estate()
    lonely = make_user(e.tenant, 'resident')
    page = client_for(e.tenant, lonely).get('/renovations/new')
    assert page.status_code == 200 and '联系物业服务中心' in page.text
    assert client_for(e.tenant, lonely).post('/renovations/new', data=form(room_id=e.rooms['1-1-101'])).status_code \
        == 422


def test_residents_see_and_cancel_only_their_own(estate, client_for, in_tenant):
    e = estate()
    client_for(e.tenant, e.owner_user).post('/renovations/new', data=form(room_id=e.rooms['1-1-101']))
    renovation_id = renovation_of(in_tenant, e, '1-1-101')['id']
    neighbour = client_for(e.tenant, e.neighbour_user)
    assert neighbour.get(f'/renovations/{renovation_id}').status_code == 404
    assert neighbour.post(f'/renovations/{renovation_id}/cancel').status_code == 404
    assert '匠心装饰' not in neighbour.get('/renovations/mine').text
    assert neighbour.get('/renovations').status_code == 403  # the staff list
    owner = client_for(e.tenant, e.owner_user)
    assert owner.post(f'/renovations/{renovation_id}/approve', data={}).status_code == 403
    assert owner.post(f'/renovations/{renovation_id}/cancel').status_code == 302
    assert renovation_of(in_tenant, e, '1-1-101')['status'] == 'cancelled'
    again = owner.post(f'/renovations/{renovation_id}/cancel')
    assert again.status_code == 422


def test_staff_roles(estate, client_for, in_tenant):
    e = estate()
    renovation_id = file_as_staff(client_for, e)
    tech = client_for(e.tenant, e.tech)
    assert tech.get('/renovations').status_code == 200  # every staff member sees the list
    assert tech.get('/renovations/new').status_code == 403  # filing is for the service desk
    assert tech.post(f'/renovations/{renovation_id}/approve', data={}).status_code == 403
    assert renovation_of(in_tenant, e, '1-1-101')['status'] == 'pending'
    assert client_for(e.tenant, e.admin).post(f'/renovations/{renovation_id}/approve', data={}).status_code == 302
    anonymous = client_for(e.tenant).get('/renovations')
    assert anonymous.status_code == 302 and '/login' in anonymous.headers['Location']


def test_overdue_is_flagged_by_the_projects_date(estate, client_for, in_tenant, monkeypatch):
    e = estate()
    renovation_id = file_as_staff(client_for, e, planned_start='2026-01-05', planned_end='2026-03-01')
    other_id = file_as_staff(client_for, e, room='2-1-201', planned_start='2026-01-05', planned_end='2026-03-05')
    desk = client_for(e.tenant, e.desk)
    for rid in (renovation_id, other_id):
        desk.post(f'/renovations/{rid}/approve', data={})
    # 23:00 on 1 March in Shanghai (15:00 UTC): the planned end is today, not late
    monkeypatch.setattr(clock, 'now_utc', lambda: datetime(2026, 3, 1, 15, 0, tzinfo=UTC))
    listed = desk.get('/renovations?overdue=1')
    assert '没有符合条件的装修备案' in listed.text
    # 01:00 on 2 March in Shanghai (17:00 UTC on 1 March): late there, though still 1 March in UTC
    monkeypatch.setattr(clock, 'now_utc', lambda: datetime(2026, 3, 1, 17, 0, tzinfo=UTC))
    listed = desk.get('/renovations?overdue=1')
    assert listed.text.count('已逾期') == 1 and '1栋1单元101' in listed.text and '2栋1单元201' not in listed.text
    everything = desk.get('/renovations')
    assert everything.text.count('已逾期') == 1 and '2栋1单元201' in everything.text
    # completed records are never overdue
    desk.post(f'/renovations/{renovation_id}/complete', data={'complete-completed_on': '2026-03-01'})
    assert '没有符合条件的装修备案' in desk.get('/renovations?overdue=1').text


def test_filters_by_status_building_and_room(estate, client_for):
    e = estate()
    first = file_as_staff(client_for, e)
    file_as_staff(client_for, e, room='2-1-201', contractor='二号楼装修队')
    desk = client_for(e.tenant, e.desk)
    desk.post(f'/renovations/{first}/approve', data={})
    by_building = desk.get(f'/renovations?building={e.buildings["2"]}')
    assert '二号楼装修队' in by_building.text and '匠心装饰' not in by_building.text
    by_room = desk.get('/renovations?room=1栋1单元101')
    assert '匠心装饰' in by_room.text and '二号楼装修队' not in by_room.text
    assert '找不到这个房号' in desk.get('/renovations?room=8-8-808').text
    by_status = desk.get('/renovations?status=approved')
    assert '匠心装饰' in by_status.text and '二号楼装修队' not in by_status.text
    assert desk.get('/renovations?status=nonsense&building=abc&page=-3').status_code == 200


def test_lists_are_paginated_with_an_empty_state(estate, client_for, in_tenant):
    e = estate()
    desk = client_for(e.tenant, e.desk)
    assert '还没有装修备案' in desk.get('/renovations').text
    assert '你还没有装修申请' in client_for(e.tenant, e.owner_user).get('/renovations/mine').text
    _many(in_tenant, e, 21)
    first = desk.get('/renovations')
    assert '第 1 / 2 页' in first.text
    assert desk.get('/renovations?page=2').text.count('renovations/') >= 1


def _many(in_tenant, e, n: int) -> None:
    """n records for rooms of their own (each a new room), filed by the owner user's resident."""
    from propsaas.property.models import Building

    with in_tenant(e.tenant) as session:
        building = session.get(Building, e.buildings['1'])
        for i in range(n):
            room = Room(building=building, number=f'9{i:02d}', code=f'1-9{i:02d}', floor=9, status='occupied')
            session.add(room)
            session.flush()
            session.add(Occupancy(room_id=room.id, resident_id=e.owner, role='owner'))
            session.add(Renovation(room_id=room.id, resident_id=e.owner, filed_by_id=e.owner_user,
                                   contractor=f'装修队{i}', manager_name='赵工', manager_phone='13800138000',
                                   planned_start=date(2026, 1, 1), planned_end=date(2026, 2, 1), scope='刷墙',
                                   deposit_fen=200000, status='approved', deposit_status='held'))


@pytest.mark.parametrize(('path', 'who'), [('/renovations', 'desk'), ('/renovations/mine', 'owner_user')])
def test_list_queries_do_not_grow_with_rows(app, estate, client_for, in_tenant, path, who):
    counts = []
    for n in (2, 25):
        e = estate()
        _many(in_tenant, e, n)
        client = client_for(e.tenant, getattr(e, who))
        client.get(path)  # warm up (session, tenant)
        with count_queries(app) as statements:
            response = client.get(path)
        assert response.status_code == 200 and '装修队1' in response.text
        counts.append(len(statements))
    assert counts[0] == counts[1], counts


def test_another_projects_records_are_not_found(estate, client_for, in_tenant):
    a, b = estate('装修甲苑'), estate('装修乙苑')
    renovation_id = file_as_staff(client_for, a)
    b_admin = client_for(b.tenant, b.admin)
    assert b_admin.get(f'/renovations/{renovation_id}').status_code == 404
    assert b_admin.post(f'/renovations/{renovation_id}/approve', data={}).status_code == 404
    assert '匠心装饰' not in b_admin.get('/renovations').text
    # B's admin typing A's room code finds B's own room of that code, not A's
    file_as_staff(client_for, b)
    assert renovation_of(in_tenant, a, '1-1-101')['status'] == 'pending'
    assert renovation_of(in_tenant, b, '1-1-101')['id'] != renovation_id


def test_a_resident_with_two_homes_picks_one(estate, client_for, in_tenant):
    e = estate()
    add_resident(in_tenant, e, '王业主二号记录', '2-1-201', user_id=e.owner_user)
    page = client_for(e.tenant, e.owner_user).get('/renovations/new')
    assert '1栋1单元101' in page.text and '2栋1单元201' in page.text
    client_for(e.tenant, e.owner_user).post('/renovations/new', data=form(room_id=e.rooms['2-1-201']))
    assert renovation_of(in_tenant, e, '2-1-201')['status'] == 'pending'


def test_the_open_record_of_a_room(estate, client_for, in_tenant):
    e = estate()
    with in_tenant(e.tenant):
        assert services.open_for_room(e.rooms['1-1-101']) is None
    renovation_id = file_as_staff(client_for, e)
    with in_tenant(e.tenant):
        assert services.open_for_room(e.rooms['1-1-101']).id == renovation_id
    client_for(e.tenant, e.desk).post(f'/renovations/{renovation_id}/reject', data={'review-comment': '资料不全'})
    with in_tenant(e.tenant):
        assert services.open_for_room(e.rooms['1-1-101']) is None
