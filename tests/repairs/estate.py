"""A small estate for the repair tests: two buildings, rooms, residents with portal logins, a service desk, two
technicians and an admin. ``build_estate(make_tenant, make_user, in_tenant)`` returns a namespace of ids."""
from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import sqlalchemy as sa

from propsaas.property.models import Building, Room, Unit
from propsaas.repairs.models import RepairCategory
from propsaas.residents.models import Occupancy, Resident


def build_estate(make_tenant, make_user, in_tenant, name: str = '报修小区') -> SimpleNamespace:
    tenant = make_tenant(name=name)
    e = SimpleNamespace(tenant=tenant, rooms={}, buildings={}, residents={}, categories={})
    e.admin = make_user(tenant, 'admin')
    e.desk = make_user(tenant, 'staff', name='前台小周', duties=['service_desk'])
    e.tech = make_user(tenant, 'staff', name='李师傅', duties=['technician'])
    e.tech2 = make_user(tenant, 'staff', name='王师傅', duties=['technician'])
    e.owner_user = make_user(tenant, 'resident', name='张业主', mobile='13900000001')
    e.neighbour_user = make_user(tenant, 'resident', name='赵邻居', mobile='13900000002')
    with in_tenant(tenant) as session:
        for key in ('1', '2'):
            building = Building(name=f'{key}栋', has_lift=key == '1')
            unit = Unit(building=building, name='1单元')
            session.add_all([building, unit])
            session.flush()
            e.buildings[key] = building.id
            for number in ('101', '102'):
                room = Room(building_id=building.id, unit_id=unit.id, number=number, code=f'{key}-1-{number}',
                            floor=1, area_m2=Decimal('90.00'), status='occupied')
                session.add(room)
                session.flush()
                e.rooms[room.code] = room.id
        for code, user_id, person in (('1-1-101', e.owner_user, '张业主'), ('1-1-102', e.neighbour_user, '赵邻居')):
            resident = Resident(name=person, mobile='1390000000' + ('1' if code.endswith('1') else '2'),
                                user_id=user_id)
            session.add(resident)
            session.flush()
            session.add(Occupancy(room_id=e.rooms[code], resident_id=resident.id, role='owner'))
            e.residents[code] = resident.id
        session.flush()
        e.categories = dict(session.execute(sa.select(RepairCategory.code, RepairCategory.id)).all())
        session.commit()
    return e
