"""A small estate for the renovation and access tests (shared by tests/renovations and tests/access).

Everything is created directly through the models inside the tenant's scope: the pages under test are the
renovation and access ones, not those that create rooms and residents.
"""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from propsaas.auth import services as auth_services
from propsaas.auth.models import User
from propsaas.property.models import Building, Room, Unit
from propsaas.residents.models import Occupancy, Resident


def build_estate(make_tenant, make_user, in_tenant, name: str = '装修小区') -> SimpleNamespace:
    """A tenant with rooms 1-1-101, 1-1-102 (building 1) and 2-1-201 (building 2); users admin, desk (客服),
    tech (工程), guard (秩序维护), cashier (收费); residents 'owner' (1-1-101, with a portal login) and
    'neighbour' (1-1-102, with a portal login)."""
    tenant = make_tenant(name=name)
    rooms, buildings = {}, {}
    with in_tenant(tenant) as session:
        for b_name, numbers in (('1栋', ('101', '102')), ('2栋', ('201',))):
            building = Building(name=b_name)
            unit = Unit(building=building, name='1单元')
            session.add_all([building, unit])
            for number in numbers:
                code = f'{b_name[0]}-1-{number}'
                room = Room(building=building, unit=unit, number=number, code=code, floor=1, status='vacant')
                session.add(room)
                session.flush()
                rooms[code] = room.id
            buildings[b_name[0]] = building.id
    estate = SimpleNamespace(
        tenant=tenant, rooms=rooms, buildings=buildings,
        admin=make_user(tenant, 'admin'),
        desk=make_user(tenant, 'staff', duties=['service_desk']),
        tech=make_user(tenant, 'staff', duties=['technician']),
        guard=make_user(tenant, 'staff', duties=['security']),
        cashier=make_user(tenant, 'staff', duties=['cashier']),
        owner_user=make_user(tenant, 'resident', name='业主王'),
        neighbour_user=make_user(tenant, 'resident', name='邻居李'),
    )
    estate.owner = add_resident(in_tenant, estate, '王业主', '1-1-101', user_id=estate.owner_user, mobile='13800001234')
    estate.neighbour = add_resident(in_tenant, estate, '李邻居', '1-1-102', user_id=estate.neighbour_user)
    return estate


def add_resident(in_tenant, estate, name: str, room_code: str | None, *, role: str = 'owner',
                 user_id: int | None = None, mobile: str | None = None, moved_out_on: date | None = None) -> int:
    """A resident living in ``room_code`` (or nowhere); the room becomes 'occupied'. Returns the resident id."""
    with in_tenant(estate.tenant) as session:
        resident = Resident(name=name, user_id=user_id, mobile=mobile)
        session.add(resident)
        if room_code:
            room = session.get(Room, estate.rooms[room_code])
            session.add(Occupancy(resident=resident, room_id=room.id, role=role, moved_in_on=date(2020, 1, 1),
                                  moved_out_on=moved_out_on))
            if moved_out_on is None:
                room.status = 'occupied'
        session.flush()
        return resident.id


def api_token(in_tenant, estate, user_id: int) -> dict:
    """Bearer header for a user, issued the way POST /auth/token does (without paying argon2)."""
    with in_tenant(estate.tenant) as session:
        raw, _ = auth_services.issue_api_token(session.get(User, user_id))
    return {'Authorization': f'Bearer {raw}'}


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    """estate(name=...) -> SimpleNamespace (see build_estate)."""
    return lambda name='装修小区': build_estate(make_tenant, make_user, in_tenant, name)
