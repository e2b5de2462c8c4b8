"""Fixtures of the property tests: a residential project with one user of each kind, and a building factory."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from propsaas.auth import services as auth_services
from propsaas.auth.models import User
from propsaas.property import services
from propsaas.property.models import Building, Room


@pytest.fixture
def tenant(make_tenant):
    return make_tenant(name='房屋小区')


@pytest.fixture
def users(tenant, make_user):
    """Role -> user id: the admin, a service-desk clerk (may edit), a technician (may look), a resident."""
    return {'admin': make_user(tenant, 'admin'), 'desk': make_user(tenant, 'staff', duties=['service_desk']),
            'tech': make_user(tenant, 'staff', duties=['technician']), 'resident': make_user(tenant, 'resident')}


@pytest.fixture
def admin(tenant, users, client_for):
    return client_for(tenant, users['admin'])


@pytest.fixture
def make_building(in_tenant):
    """make_building(tenant, name='1栋', units=2, floors=18, rooms_per_floor=4, **pattern) -> building id."""

    def make(tenant, name: str = '1栋', units: int = 2, floors: int = 18, rooms_per_floor: int = 4, **kwargs) -> int:
        with in_tenant(tenant):
            pattern = services.BuildingPattern(name=name, units=units, floors=floors, rooms_per_floor=rooms_per_floor,
                                               **kwargs)
            return services.create_building(pattern, by_user_id=None).id

    return make


@pytest.fixture
def room_id(in_tenant):
    """room_id(tenant, code) -> the id of the room with that code."""

    def find(tenant, code: str) -> int:
        with in_tenant(tenant) as session:
            return session.execute(sa.select(Room.id).where(Room.code == code)).scalar_one()

    return find


@pytest.fixture
def api_for(app, in_tenant):
    """api_for(tenant, user_id) -> (client, headers) for the JSON API with that user's bearer token."""

    def make(tenant, user_id: int):
        with in_tenant(tenant) as session:
            raw, _ = auth_services.issue_api_token(session.get(User, user_id))
        client = app.test_client()
        client.base = f'http://{tenant.slug}.localhost'
        return client, {'Authorization': f'Bearer {raw}'}

    return make


@pytest.fixture
def building_named(in_tenant):
    """building_named(tenant, name) -> the id of the building of that name, or None."""

    def find(tenant, name: str) -> int | None:
        with in_tenant(tenant) as session:
            return session.execute(sa.select(Building.id).where(Building.name == name)).scalar_one_or_none()

    return find
