"""A compound for the notification tests: who lives where, with which role, tags and channels.

Building 1 (1栋, lift) has rooms on floors 2, 12 and 18 of unit 1 and floor 12 of unit 2; building 2 (2栋) has
one room on floor 3. Rooms on floors 12+ are tagged '高层'; 2-1-301 is tagged '临街'.

    resident    room        role     floor  portal login  e-mail / WeChat
    owner_low   1-1-201     owner    2      yes           owner.low@example.cn, openid
    renter_high 1-1-1201    renter   12     yes           -
    family_high 1-1-1201    family   12     -             -
    owner_top   1-1-1801    owner    18     -             opted out of SMS
    owner_u2    1-2-1202    owner    12     -             -
    owner_b2    2-1-301     owner    3      -             no mobile
    gone        1-1-201     owner    2      (moved out: never reached)
"""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from propsaas.extensions import db
from propsaas.notices.models import ChannelPreference, ChannelSetting
from propsaas.property.models import Building, Room, Unit
from propsaas.residents.models import Occupancy, Resident

ROOMS = {  # code: (building, unit, number, floor, tags)
    '1-1-201': ('1栋', '1单元', '201', 2, []),
    '1-1-1201': ('1栋', '1单元', '1201', 12, ['高层']),
    '1-1-1801': ('1栋', '1单元', '1801', 18, ['高层']),
    '1-2-1202': ('1栋', '2单元', '1202', 12, ['高层']),
    '2-1-301': ('2栋', '1单元', '301', 3, ['临街']),
}


def build_compound(make_tenant, make_user, in_tenant, name: str = '通知小区', *, channels=('sms', 'email', 'wechat')):
    tenant = make_tenant(name=name)
    c = SimpleNamespace(tenant=tenant, rooms={}, buildings={}, units={}, residents={})
    c.admin = make_user(tenant, 'admin')
    c.desk = make_user(tenant, 'staff', duties=['service_desk'])
    c.tech = make_user(tenant, 'staff', duties=['technician'])
    c.owner_low_user = make_user(tenant, 'resident', name='低层业主', email='owner.low@example.cn')
    c.renter_high_user = make_user(tenant, 'resident', name='高层租户')
    with in_tenant(tenant) as session:
        for code, (b_name, u_name, number, floor, tags) in ROOMS.items():
            if b_name not in c.buildings:
                building = Building(name=b_name, floors=20)
                session.add(building)
                session.flush()
                c.buildings[b_name] = building.id
            unit_key = (b_name, u_name)
            if unit_key not in c.units:
                unit = Unit(building_id=c.buildings[b_name], name=u_name)
                session.add(unit)
                session.flush()
                c.units[unit_key] = unit.id
            room = Room(building_id=c.buildings[b_name], unit_id=c.units[unit_key], number=number, code=code,
                        floor=floor, tags=tags, status='occupied')
            session.add(room)
            session.flush()
            c.rooms[code] = room.id
        people = (
            ('owner_low', '王低层', '1-1-201', 'owner', '13800000001', c.owner_low_user, None),
            ('renter_high', '李高层', '1-1-1201', 'renter', '13800000002', c.renter_high_user, None),
            ('family_high', '李家属', '1-1-1201', 'family', '13800000003', None, None),
            ('owner_top', '赵顶层', '1-1-1801', 'owner', '13800000004', None, None),
            ('owner_u2', '钱二单元', '1-2-1202', 'owner', '13800000005', None, None),
            ('owner_b2', '孙二栋', '2-1-301', 'owner', None, None, None),
            ('gone', '周已搬走', '1-1-201', 'owner', '13800000007', None, date(2024, 6, 30)),
        )
        for key, person, code, role, mobile, user_id, moved_out in people:
            resident = Resident(name=person, mobile=mobile, user_id=user_id)
            session.add(resident)
            session.flush()
            session.add(Occupancy(resident_id=resident.id, room_id=c.rooms[code], role=role,
                                  moved_in_on=date(2020, 1, 1), moved_out_on=moved_out))
            c.residents[key] = resident.id
        session.add(ChannelPreference(resident_id=c.residents['owner_low'], email='owner.low@example.cn',
                                      wechat_openid='o-owner-low-openid'))
        session.add(ChannelPreference(resident_id=c.residents['owner_top'], opted_out=['sms']))
        for setting in session.query(ChannelSetting):
            setting.enabled = setting.channel in channels
    return c


@pytest.fixture
def compound(make_tenant, make_user, in_tenant):
    return build_compound(make_tenant, make_user, in_tenant)


def no_quiet_hours(tenant_id: int) -> None:
    """Switch the project's SMS quiet hours off (in the caller's tenant scope), for tests that send by the wall clock:
    the default 22:00-08:00 would hold their SMS back when the suite runs in a Shanghai evening."""
    from propsaas.tenancy.models import Tenant

    tenant = db.session.get(Tenant, tenant_id)
    tenant.settings = {**(tenant.settings or {}), 'notifications': {'quiet_hours': ['00:00', '00:00']}}
    db.session.flush()
