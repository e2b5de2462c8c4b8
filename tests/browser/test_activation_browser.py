"""A resident activates their account on a phone, in headless chromium: the invitation sheet's QR code opens the
activation page with the household's code filled in; they add their name, mobile and a password and land on their
room. The same code does not work twice."""
from __future__ import annotations

import re

import pytest

from propsaas.onboarding.activation import issue_codes
from propsaas.property.models import Building, Room, Unit

pytestmark = pytest.mark.browser

NEW_PASSWORD = 'Chenxi-Home-2026'


@pytest.fixture
def household(make_tenant, in_tenant):
    """(tenant, the printed code of room 3-1-502)."""
    tenant = make_tenant(name='激活小区')
    with in_tenant(tenant) as session:
        building = Building(name='3栋')
        unit = Unit(building=building, name='1单元')
        room = Room(building=building, unit=unit, number='502', code='3-1-502', floor=5, status='occupied')
        session.add_all([building, unit, room])
        session.flush()
        code = issue_codes([room.id])[room.id]
        session.commit()
    return tenant, code


def activate(page, code: str, name: str, mobile: str):
    page.goto(f'/activate?code={code}')  # what the sheet's QR code opens
    page.get_by_label('姓名').fill(name)
    page.get_by_label('手机号').fill(mobile)
    page.get_by_label('设置密码').fill(NEW_PASSWORD)
    page.get_by_label('再输入一次').fill(NEW_PASSWORD)
    page.get_by_role('button', name='激活并登录').click()


def test_a_resident_activates_with_the_code_from_the_sheet_and_sees_their_room(household, open_page, expect):
    tenant, code = household
    page = open_page(tenant)
    page.goto('/login')
    page.get_by_role('link', name='首次使用？激活账号').click()
    expect(page.get_by_role('heading', name='激活住户账号')).to_be_visible()

    activate(page, code, '林晓', '13912345678')
    expect(page).to_have_url(re.compile(r'/my/rooms$'))
    expect(page.get_by_text('账号已激活')).to_be_visible()
    expect(page.get_by_role('heading', name='3栋1单元502')).to_be_visible()
    expect(page.get_by_text('我的身份：家属')).to_be_visible()
    expect(page.get_by_role('button', name='退出')).to_be_visible()

    # Someone else with the same sheet: the code is used up.
    other = open_page(tenant)
    activate(other, code, '林晓的邻居', '13912345679')
    expect(other.get_by_role('button', name='激活并登录')).to_be_visible()
    expect(other.locator('small.error')).to_have_text(re.compile('激活码不正确、已使用或已过期'))
    expect(other).to_have_url(re.compile(r'/activate'))
