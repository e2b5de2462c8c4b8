"""A resident pays a bill on a phone, in headless chromium, through the built-in sandbox provider: the bill, the pay
page, the provider's page, the asynchronous notification (a job; inline here), the outcome and the receipt."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from propsaas.billing import online
from propsaas.billing.models import Bill
from tests.billing.test_runs import build_estate, run_period
from tests.browser.test_portal_browser import log_in, login_of, nav_link, scroll_width

pytestmark = pytest.mark.browser


def test_a_resident_pays_a_bill_through_the_sandbox(make_tenant, make_user, in_tenant, open_page, expect):
    e = build_estate(make_tenant, make_user, in_tenant, '浏览器缴费小区')
    run_period(in_tenant, e, '2026-02')
    with in_tenant(e.tenant) as session:
        online.save_settings('sandbox', enabled=True, values={})
        session.commit()
    page = open_page(e.tenant)
    log_in(page, expect, login_of(in_tenant, e.tenant, e.owner_user))
    nav_link(page, '账单').click()
    page.locator('a.card', has_text='2026-02').first.click()
    page.get_by_role('link', name='去缴费').click()
    expect(page.get_by_role('heading', name=re.compile('在线缴费'))).to_be_visible()
    for box in page.locator('input[name=bill_ids]').all():
        box.check()
    page.get_by_label('模拟支付').check()
    page.get_by_role('button', name='去支付').click()
    expect(page.get_by_text('¥270.33')).to_be_visible()  # the sandbox's cashier page: both bills
    assert scroll_width(page) <= 390
    page.get_by_role('button', name='确认支付').click()
    expect(page.locator('#order-status')).to_have_text('已支付')
    page.get_by_role('link', name='查看收据').click()
    expect(page.get_by_text('贰佰柒拾元叁角叁分')).to_be_visible()
    with in_tenant(e.tenant) as session:
        statuses = session.execute(sa.select(Bill.status).where(Bill.room_id == e.rooms['1-1-101'])).scalars()
        assert set(statuses) == {'paid'}
