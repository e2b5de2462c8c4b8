"""A repair from the resident's phone to the technician and back, in headless chromium: the resident reports with
a photo, the order is dispatched by rule, the technician starts and completes it on their phone, the resident
confirms and rates."""
from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from PIL import Image

from propsaas.repairs.models import DispatchRule, WorkOrder, WorkOrderPhoto
from tests.browser.test_portal_browser import log_in, login_of, nav_link, scroll_width
from tests.repairs.estate import build_estate

pytestmark = pytest.mark.browser


def phone_photo(tmp_path) -> str:
    path = tmp_path / 'leak.jpg'
    buffer = io.BytesIO()
    Image.new('RGB', (1200, 900), (90, 120, 160)).save(buffer, 'JPEG')
    path.write_bytes(buffer.getvalue())
    return str(path)


def test_a_repair_reported_fixed_and_rated(make_tenant, make_user, in_tenant, open_page, expect, tmp_path):
    e = build_estate(make_tenant, make_user, in_tenant, '浏览器报修小区')
    with in_tenant(e.tenant) as session:
        session.add(DispatchRule(category_id=e.categories['plumbing'], assignee_id=e.tech))
        session.commit()

    resident = open_page(e.tenant)
    log_in(resident, expect, login_of(in_tenant, e.tenant, e.owner_user))
    nav_link(resident, '报修').click()
    resident.get_by_role('link', name='我要报修').click()
    resident.get_by_label('报修分类').select_option(label='水暖')
    resident.get_by_label('问题描述').fill('卫生间角阀漏水，地面有积水')
    resident.get_by_label('照片').set_input_files(phone_photo(tmp_path))
    assert scroll_width(resident) <= 390
    resident.get_by_role('button', name='提交报修').click()
    expect(resident.get_by_role('status')).to_contain_text(re.compile(r'报修已提交，单号 BX-\d{8}-0001'))

    technician = open_page(e.tenant)
    log_in(technician, expect, login_of(in_tenant, e.tenant, e.tech))
    nav_link(technician, '我的工单').click()
    technician.locator('a.card', has_text='卫生间角阀漏水').click()
    technician.get_by_role('button', name='开始维修').click()
    technician.get_by_label('维修情况').fill('更换角阀，检查无渗漏')
    technician.get_by_role('button', name='提交完工').click()
    expect(technician.get_by_text('待确认').first).to_be_visible()

    resident.goto('/my/repairs')
    resident.locator('a.card', has_text='水暖').first.click()
    expect(resident.get_by_text('更换角阀，检查无渗漏', exact=True)).to_be_visible()
    resident.locator('select[name=confirm-rating]').select_option('5')
    resident.get_by_role('button', name='确认完成').click()
    expect(resident.get_by_text('你的评价：5 星')).to_be_visible()

    with in_tenant(e.tenant) as session:
        order = session.execute(sa.select(WorkOrder)).scalar_one()
        assert (order.status, order.assignee_id, order.rating) == ('confirmed', e.tech, 5)
        assert session.execute(sa.select(sa.func.count(WorkOrderPhoto.id))).scalar_one() == 1
