"""Residents activating their accounts on /activate: with the household's code (once, before it expires) or with
mobile + room + name matching an imported record; then logged in and seeing their room; throttled when wrong."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from propsaas.auth.models import User
from propsaas.models_base import utcnow
from propsaas.onboarding import activation
from propsaas.onboarding.models import ActivationCode
from propsaas.residents.models import Occupancy, Resident
from tests.onboarding.conftest import OWNER_MOBILE

PW = 'Quiet-Lake-2026'
WRONG_CODE = '尝试次数太多，请稍后再试'


def _codes(in_tenant, place) -> dict[str, str]:
    with in_tenant(place.tenant):
        codes = activation.issue_codes(list(place.rooms.values()))
    return {room: codes[room_id] for room, room_id in place.rooms.items()}


def _client(app, place):
    client = app.test_client()
    client.base = f'http://{place.tenant.slug}.localhost'
    return client


def _by_code(client, code, name='王建国', mobile=OWNER_MOBILE, password=PW):
    return client.post('/activate', data={'mode': 'code', 'code': code, 'name': name, 'mobile': mobile,
                                          'password': password, 'confirm': password})


def _by_room(client, room, name='王建国', mobile=OWNER_MOBILE, password=PW):
    return client.post('/activate', data={'mode': 'room', 'room': room, 'name': name, 'mobile': mobile,
                                          'password': password, 'confirm': password})


def test_the_login_page_links_to_activation_and_a_qr_link_prefills_the_code(estate, app):
    place = estate()
    client = _client(app, place)
    assert '首次使用？激活账号' in client.get('/login').get_data(as_text=True)
    page = client.get('/activate?code=ABCD-EFGH').get_data(as_text=True)
    assert 'value="ABCD-EFGH"' in page


def test_a_code_from_the_pack_works_once_and_the_resident_sees_their_room(estate, render_pack, app, in_tenant):
    place = estate()
    code = render_pack(place).codes['1-1-101']
    client = _client(app, place)
    response = _by_code(client, code.lower().replace('-', ' '))  # typed loosely
    assert response.status_code == 302 and response.headers['Location'].endswith('/my/rooms')
    rooms = client.get('/my/rooms').get_data(as_text=True)
    assert '1栋1单元101' in rooms and '1栋1单元102' not in rooms
    with in_tenant(place.tenant) as session:
        owner = session.get(Resident, place.owner)
        user = session.get(User, owner.user_id)
        assert user.role == 'resident' and user.mobile == OWNER_MOBILE and user.name == '王建国'
        used = session.execute(sa.select(ActivationCode).where(ActivationCode.used_at.is_not(None))).scalar_one()
        assert used.used_by_user_id == user.id
    # the second use is refused, whoever tries
    again = _by_code(_client(app, place), code, name='王小明', mobile='13500003333')
    assert again.status_code == 422 and '激活码不正确、已使用或已过期' in again.get_data(as_text=True)
    # and the new password logs in
    login = _client(app, place).post('/login', data={'login': OWNER_MOBILE, 'password': PW})
    assert login.status_code == 302


def test_a_code_adds_an_unknown_person_to_the_household_as_family(estate, app, in_tenant):
    place = estate()
    codes = _codes(in_tenant, place)
    client = _client(app, place)
    assert _by_code(client, codes['1-1-101'], name='王小红', mobile='13500004444').status_code == 302
    assert '1栋1单元101' in client.get('/my/rooms').get_data(as_text=True)
    with in_tenant(place.tenant) as session:
        person = session.execute(sa.select(Resident).where(Resident.mobile == '13500004444')).scalar_one()
        occupancy = session.execute(sa.select(Occupancy).where(Occupancy.resident_id == person.id)).scalar_one()
        assert occupancy.room_id == place.rooms['1-1-101'] and occupancy.role == 'family'
        assert person.user_id is not None


def test_an_expired_code_is_refused(estate, app, in_tenant):
    place = estate()
    codes = _codes(in_tenant, place)
    with in_tenant(place.tenant) as session:
        session.execute(sa.update(ActivationCode).values(expires_at=utcnow() - timedelta(minutes=1)))
    response = _by_code(_client(app, place), codes['1-1-101'])
    assert response.status_code == 422 and '已过期' in response.get_data(as_text=True)
    with in_tenant(place.tenant) as session:
        assert session.get(Resident, place.owner).user_id is None
        assert session.execute(sa.select(User.id).where(User.mobile == OWNER_MOBILE)).first() is None


def test_wrong_codes_are_throttled_but_password_mistakes_are_not(estate, app, in_tenant):
    place = estate()
    codes = _codes(in_tenant, place)
    client = _client(app, place)
    for _ in range(6):  # a password problem is not a failed guess
        assert _by_code(client, codes['1-1-101'], password='12345678').status_code == 422
    statuses = [_by_code(client, f'ABCD-EF{n}{n}').status_code for n in range(2, 9)]
    assert statuses[:5] == [422] * 5 and statuses[5:] == [429, 429]
    blocked = _by_code(client, codes['1-1-101'])  # even the right code waits now
    assert blocked.status_code == 429 and WRONG_CODE in blocked.get_data(as_text=True)


def test_phone_room_and_name_must_match_an_imported_record(estate, app, in_tenant):
    place = estate()
    client = _client(app, place)
    for room, name, mobile in (('1栋1单元102', '王建国', OWNER_MOBILE),   # another room
                               ('1栋1单元101', '王建华', OWNER_MOBILE),   # another name
                               ('1栋1单元101', '王建国', '13700009999'),  # another mobile
                               ('9栋1单元101', '王建国', OWNER_MOBILE)):  # no such room
        response = _by_room(client, room, name, mobile)
        assert response.status_code == 422, (room, name, mobile)
    with in_tenant(place.tenant) as session:
        assert session.get(Resident, place.owner).user_id is None
    ok = _by_room(_client(app, place), '1-1-101')
    assert ok.status_code == 302
    with in_tenant(place.tenant) as session:
        assert session.get(Resident, place.owner).user_id is not None


def test_a_moved_out_resident_cannot_activate_by_room(estate, app, in_tenant):
    place = estate()
    with in_tenant(place.tenant) as session:
        occupancy = session.execute(sa.select(Occupancy).where(Occupancy.resident_id == place.owner)).scalar_one()
        occupancy.moved_out_on = occupancy.moved_in_on + timedelta(days=30)
    assert _by_room(_client(app, place), '1栋1单元101').status_code == 422


def test_a_staff_mobile_is_refused_with_the_reason(estate, app, in_tenant, make_user):
    place = estate()
    make_user(place.tenant, 'staff', mobile=OWNER_MOBILE)
    codes = _codes(in_tenant, place)
    response = _by_code(_client(app, place), codes['1-1-101'])
    assert response.status_code == 422 and '员工' in response.get_data(as_text=True)
    with in_tenant(place.tenant) as session:  # nothing half-saved: the code still works for someone else
        code = session.execute(sa.select(ActivationCode).where(
            ActivationCode.room_id == place.rooms['1-1-101'])).scalar_one()
        assert code.used_at is None


def test_an_existing_resident_login_is_linked_with_its_password(estate, app, in_tenant, make_user):
    place = estate()
    user_id = make_user(place.tenant, 'resident', mobile='13500005555', name='赵六')  # password: tests' PASSWORD
    codes = _codes(in_tenant, place)
    wrong = _by_code(_client(app, place), codes['2-1-101'], name='赵六', mobile='13500005555')
    assert wrong.status_code == 422 and '现在的登录密码' in wrong.get_data(as_text=True)
    from tests.conftest import PASSWORD

    client = _client(app, place)
    assert _by_code(client, codes['2-1-101'], name='赵六', mobile='13500005555', password=PASSWORD).status_code == 302
    assert '2栋1单元101' in client.get('/my/rooms').get_data(as_text=True)
    with in_tenant(place.tenant) as session:
        resident = session.execute(sa.select(Resident).where(Resident.mobile == '13500005555')).scalar_one()
        assert resident.user_id == user_id


def test_another_projects_code_does_not_work_here(estate, app, in_tenant):
    a, b = estate('甲苑'), estate('乙苑')
    codes = _codes(in_tenant, a)
    response = _by_code(_client(app, b), codes['1-1-101'])
    assert response.status_code == 422
    with in_tenant(a.tenant) as session:
        assert session.execute(sa.select(ActivationCode.used_at).where(
            ActivationCode.room_id == a.rooms['1-1-101'])).scalar_one() is None


def test_codes_are_readable_and_normalised():
    code = activation.new_code()
    assert len(code) == 8 and not set(code) & set('01OIL')
    assert activation.normalize_code(f' {code[:4].lower()}－{code[4:]} ') == code
    assert activation.normalize_code('ABCD-EF0O') is None and activation.normalize_code('') is None
