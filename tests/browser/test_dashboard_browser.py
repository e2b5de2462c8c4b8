"""The project dashboard in headless chromium: an admin opens 数据看板 from the navigation, the four charts are drawn by
the vendored Chart.js (no CDN, nothing inline: the page's CSP holds), with no console error, and a chart's table opens
under it."""
from __future__ import annotations

import pytest

from propsaas.tenancy import clock
from tests.browser.test_portal_browser import log_in, login_of, nav_link
from tests.dashboard.project import NOW, build

pytestmark = pytest.mark.browser
CHARTS = ('chart-collection', 'chart-aging', 'chart-revenue', 'chart-repairs')


def test_the_dashboards_charts_render_without_console_errors(make_tenant, make_user, in_tenant, monkeypatch,
                                                             open_page, expect):
    monkeypatch.setattr(clock, 'now_utc', lambda: NOW)
    e = build(make_tenant, make_user, in_tenant, monkeypatch, '浏览器看板小区')
    page = open_page(e.tenant)
    problems = []
    # the app has no favicon: chromium's own request for it is no fault of the page
    page.on('console', lambda message: problems.append(f"{message.text} {message.location.get('url')}")
            if message.type == 'error' and not message.location.get('url', '').endswith('/favicon.ico') else None)
    page.on('pageerror', lambda error: problems.append(str(error)))
    page.on('requestfailed', lambda request: problems.append(f'failed: {request.url}'))
    page.on('response', lambda response: problems.append(f'{response.status}: {response.url}')
            if response.status >= 400 else None)
    log_in(page, expect, login_of(in_tenant, e.tenant, e.admin))
    nav_link(page, '数据看板').click()
    expect(page.get_by_role('heading', name='数据看板', level=1)).to_be_visible()
    for chart in CHARTS:
        expect(page.locator(f'#{chart}')).to_be_visible()
    page.wait_for_function('ids => ids.every(id => window.Chart && window.Chart.getChart(id))', arg=list(CHARTS))
    drawn = page.evaluate('ids => ids.map(id => { const c = document.getElementById(id);'
                          ' return c.width > 0 && c.height > 0 && window.Chart.getChart(id).data.labels.length; })',
                          list(CHARTS))
    assert drawn == [2, 4, 12, 12]
    # each chart keeps its box's height: a container sized by its content lets Chart.js grow the canvas forever
    heights = 'ids => ids.map(id => Math.round(document.getElementById(id).getBoundingClientRect().height))'
    first = page.evaluate(heights, list(CHARTS))
    page.wait_for_timeout(500)
    assert page.evaluate(heights, list(CHARTS)) == first == [220, 220, 240, 240]
    expect(page.locator('#fig-collection-rate')).to_contain_text('50.0%')
    page.locator('section', has=page.locator('#chart-revenue')).locator('summary').click()
    expect(page.locator('#table-revenue')).to_contain_text('2026-06')
    assert problems == [], problems
