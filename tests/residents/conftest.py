"""Fixtures of the residents tests: a small estate with rooms and users of every role, and quick ways to add
residents, grants and API tokens without going through the pages."""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from propsaas.auth import services as auth_services
from propsaas.auth.models import User
from propsaas.property.models import Building, Room, Unit
from propsaas.residents.models import AccessGrant, Gate, Occupancy, PersonalInfoAccess, Resident, Vehicle

#: valid ID numbers (GB 11643 check characters)
ID_A = '11010519491231002X'
ID_B = '110101199003074477'


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    """estate(name) -> namespace: tenant; rooms {code: id} for 3-2-1201, 3-2-1202, 5-1-1201, 5-1-301;
    buildings {'3': id, '5': id}; user ids admin, desk (客服), staff (工程), resident."""

    def make(name: str = '阳光小区'):
        tenant = make_tenant(name=name)
        rooms, buildings = {}, {}
        with in_tenant(tenant) as session:
            for b_name, u_name, numbers in (('3栋', '2单元', ('1201', '1202')), ('5栋', '1单元', ('1201', '301'))):
                building = Building(name=b_name)
                unit = Unit(building=building, name=u_name)
                session.add_all([building, unit])
                for number in numbers:
                    code = f'{b_name[0]}-{u_name[0]}-{number}'
                    room = Room(building=building, unit=unit, number=number, code=code, floor=int(number[:-2]))
                    session.add(room)
                    session.flush()
                    rooms[code] = room.id
                buildings[b_name[0]] = building.id
        return SimpleNamespace(
            tenant=tenant, rooms=rooms, buildings=buildings,
            admin=make_user(tenant, 'admin'),
            desk=make_user(tenant, 'staff', duties=['service_desk']),
            staff=make_user(tenant, 'staff', duties=['technician']),
            resident=make_user(tenant, 'resident', mobile='13900001111', name='门户住户'),
        )

    return make


@pytest.fixture
def add_resident(in_tenant):
    """add_resident(estate, name, room_code, role='owner', mobile=None, id_number=None, moved_out_on=None,
    user_id=None, plates=()) -> (resident id, occupancy id)."""

    def add(estate, name, room_code, role='owner', *, mobile=None, id_number=None, moved_out_on=None,
            user_id=None, plates=(), other_phone=None, emergency_phone=None):
        with in_tenant(estate.tenant) as session:
            resident = Resident(name=name, mobile=mobile, id_number=id_number, user_id=user_id,
                                other_phone=other_phone, emergency_phone=emergency_phone)
            occupancy = Occupancy(resident=resident, room_id=estate.rooms[room_code], role=role,
                                  moved_in_on=date(2020, 1, 1), moved_out_on=moved_out_on)
            session.add_all([resident, occupancy, *[Vehicle(resident=resident, plate=p) for p in plates]])
            session.flush()
            return resident.id, occupancy.id

    return add


@pytest.fixture
def add_grant(in_tenant):
    def add(estate, resident_id) -> int:
        with in_tenant(estate.tenant) as session:
            gate = Gate(code=f'g{resident_id}', name='北门')
            grant = AccessGrant(resident_id=resident_id, gate=gate, credential_kind='card', credential_ref='C-001')
            session.add_all([gate, grant])
            session.flush()
            return grant.id

    return add


@pytest.fixture
def bearer(in_tenant):
    """bearer(estate_or_tenant, user_id) -> Authorization header with a fresh API token."""

    def make(tenant, user_id) -> dict:
        tenant = getattr(tenant, 'tenant', tenant)
        with in_tenant(tenant) as session:
            raw, _ = auth_services.issue_api_token(session.get(User, user_id))
        return {'Authorization': f'Bearer {raw}'}

    return make


@pytest.fixture
def api_client(app):
    def make(estate):
        client = app.test_client()
        client.base = f'http://{estate.tenant.slug}.localhost'
        return client

    return make


@pytest.fixture
def access_log(in_tenant):
    """access_log(estate) -> [(resident_id, user_id, field, channel)] in order."""

    def read(estate):
        with in_tenant(estate.tenant) as session:
            return [tuple(row) for row in session.execute(
                sa.select(PersonalInfoAccess.resident_id, PersonalInfoAccess.user_id, PersonalInfoAccess.field,
                          PersonalInfoAccess.channel).order_by(PersonalInfoAccess.id)).all()]

    return read
