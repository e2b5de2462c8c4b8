"""The project dashboard (数据看板) against hand-computed figures (tests/dashboard/project.py explains each), the page
as an admin sees it (figures, tables, links, the charts' JSON), roles, the API, and the statement count with one
month and with two years of data."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from propsaas.auth import services as auth_services
from propsaas.auth.models import User
from propsaas.billing.models import Bill, Payment
from propsaas.dashboard import figures
from propsaas.repairs import orders
from propsaas.tenancy import clock
from propsaas.tenancy.models import Tenant
from tests.dashboard.project import NOW, bill, build, local, pay
from tests.helpers import count_queries
from tests.repairs.estate import build_estate

MONTHS = ['2025-07', '2025-08', '2025-09', '2025-10', '2025-11', '2025-12', '2026-01', '2026-02', '2026-03', '2026-04',
          '2026-05', '2026-06']


@pytest.fixture
def project(make_tenant, make_user, in_tenant, monkeypatch):
    monkeypatch.setattr(clock, 'now_utc', lambda: NOW)
    return build(make_tenant, make_user, in_tenant, monkeypatch)


def compute(in_tenant, e) -> figures.Dashboard:
    with in_tenant(e.tenant) as session:
        return figures.compute(session.get(Tenant, e.tenant.id), NOW)


def test_every_figure_against_hand_computed_values(project, in_tenant):
    board = compute(in_tenant, project)
    assert (board.today.isoformat(), board.trend_start.isoformat()) == ('2026-06-15', '2025-07-01')

    c = board.collection
    assert (c.period, c.bills, c.receivable_fen, c.received_fen, c.outstanding_fen) == ('2026-06', 3, 60000, 30000,
                                                                                         30000)
    assert str(c.rate) == '50.0'

    a = board.arrears
    assert a.buckets == {'d30': 8000, 'd90': 3000, 'd180': 10000, 'over180': 5500}
    assert (a.total_fen, a.rooms, a.bills) == (26500, 4, 4)

    assert [m.month for m in board.months] == MONTHS
    revenue = {m.month: m.received_fen for m in board.months}
    assert revenue == dict.fromkeys(MONTHS, 0) | {'2025-07': 1000, '2026-03': 2000, '2026-06': 30000}
    assert {m.month: m.orders for m in board.months if m.orders} == {'2026-04': 1, '2026-05': 1, '2026-06': 4}
    ratings = {m.month: (m.rated, m.rating_sum, str(m.average_rating)) for m in board.months if m.rated}
    assert ratings == {'2025-07': (1, 5, '5.00'), '2026-05': (2, 6, '3.00')}

    r = board.repairs
    assert (r.open, r.overdue) == (3, 2)
    assert (r.by_status['submitted'], r.by_status['assigned'], r.by_status['in_progress'],
            r.by_status['completed']) == (1, 1, 1, 1)
    assert (r.response_orders, r.response_average, r.response_median) == (4, 6300, 5400)
    assert (r.resolution_orders, r.resolution_average, r.resolution_median) == (3, 19200, 18000)
    assert (r.rated, str(r.average_rating)) == (3, '3.67')
    assert [(s.place, s.category, s.count) for s in r.hot_spots] == [('1-1-101', '水暖', 3)]

    i = board.inspections
    assert (i.due, i.done, str(i.rate)) == (4, 3, '75.0')
    assert (i.devices, i.device_days, i.failures, str(i.failures_per_device_month)) == (2, 30, 1, '1.01')

    n = board.announcements
    assert (n.announcements, n.recipients, n.read, str(n.rate)) == (1, 4, 3, '75.0')


def test_refund_and_reversal_are_where_the_definitions_put_them(project, in_tenant):
    """The refund and both reversals exist as rows (nothing edited); the reversed bills owe again."""
    with in_tenant(project.tenant) as session:
        kinds = sorted(session.execute(sa.select(Payment.kind)).scalars())
        assert kinds == ['payment'] * 7 + ['refund'] + ['reversal'] * 2
        assert session.get(Bill, project.bills['b3']).status == 'unpaid'


def test_an_empty_project_shows_zeros_and_no_rates(make_tenant, make_user, in_tenant, monkeypatch):
    monkeypatch.setattr(clock, 'now_utc', lambda: NOW)
    e = build_estate(make_tenant, make_user, in_tenant, '空小区')
    board = compute(in_tenant, e)
    assert board.collection.rate is None and board.collection.receivable_fen == 0
    assert board.arrears.total_fen == 0 and [m.received_fen for m in board.months] == [0] * 12
    assert board.repairs.open == 0 and board.repairs.response_average is None
    assert board.inspections.rate is None and str(board.inspections.failures_per_device_month) == '0.00'
    assert board.announcements.rate is None


def test_the_page_shows_the_figures_tables_links_and_chart_data(project, client_for):
    reply = client_for(project.tenant, project.admin).get('/dashboard')
    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    for text in ('数据看板', '600.00', '300.00', '50.0%', '265.00', '55.00', '75.0%', '1.01', '3.67',
                 '1小时45分', '5小时20分', '1-1-101', '2026-06'):
        assert text in html, text
    for link in ('/billing/bills?period=2026-06', '/billing/arrears', '/repairs?overdue=1', '/repairs/stats?',
                 '/inspections/report?start=2026-06-01&amp;end=2026-06-15', '/equipment', '/announcements',
                 '/billing/payments?start=2026-03-01&amp;end=2026-03-31', '/inspections/tasks'):
        assert link in html, link
    # the revenue table lists all 12 months, empty ones as 0.00
    table = html.split('id="table-revenue"')[1].split('</table>')[0]
    assert len(re.findall(r'<tr><td>', table)) == 12 and '0.00' in table
    # the charts' data: embedded JSON (no inline script: the CSP forbids it), drawn by the vendored Chart.js
    data = json.loads(re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', html,
                                re.S).group(1))
    assert data['months'] == MONTHS and data['revenue_fen'][-1] == 30000 and data['revenue_fen'][8] == 2000
    assert data['aging']['fen'] == [8000, 3000, 10000, 5500]
    assert data['collection'] == {'received_fen': 30000, 'outstanding_fen': 30000}
    assert 'vendor/chartjs/chart.umd.min.js' in html and 'dashboard.js' in html
    assert "script-src" not in reply.headers['Content-Security-Policy'] or "'unsafe-inline'" not in \
        reply.headers['Content-Security-Policy']
    assert '<script>' not in html
    # the admin's navigation has the entry
    assert 'href="/dashboard"' in html


def test_static_chart_files_are_served(project, client_for):
    client = client_for(project.tenant, project.admin)
    for path in ('/static/vendor/chartjs/chart.umd.min.js', '/static/dashboard.js'):
        reply = client.get(path)
        assert reply.status_code == 200, path
        reply.close()


def test_only_admins_see_the_dashboard(project, client_for):
    for user_id in (project.desk, project.tech, project.owner_user):
        assert client_for(project.tenant, user_id).get('/dashboard').status_code == 403
    assert client_for(project.tenant).get('/dashboard').status_code in (302, 401)
    assert 'href="/dashboard"' not in client_for(project.tenant, project.desk).get('/').get_data(as_text=True)


def _token(in_tenant, e, user_id):
    with in_tenant(e.tenant) as session:
        raw, _ = auth_services.issue_api_token(session.get(User, user_id))
    return {'Authorization': f'Bearer {raw}'}


def test_the_api_gives_the_same_figures(app, project, in_tenant):
    client, base = app.test_client(), f'http://{project.tenant.slug}.localhost'
    reply = client.get('/api/v1/dashboard', base_url=base, headers=_token(in_tenant, project, project.admin))
    assert reply.status_code == 200, reply.get_json()
    body = reply.get_json()
    assert body['as_of'] == '2026-06-15' and body['trend_start'] == '2025-07-01'
    assert body['collection'] == {'period': '2026-06', 'bills': 3, 'receivable': {'fen': 60000, 'yuan': '600.00'},
                                  'received': {'fen': 30000, 'yuan': '300.00'},
                                  'outstanding': {'fen': 30000, 'yuan': '300.00'},
                                  'rate': {'count': 30000, 'of': 60000, 'percent': '50.0'}}
    assert body['arrears']['total'] == {'fen': 26500, 'yuan': '265.00'}
    assert {k: v['fen'] for k, v in body['arrears']['aging'].items()} == {'d30': 8000, 'd90': 3000, 'd180': 10000,
                                                                           'over180': 5500}
    assert [m['month'] for m in body['months']] == MONTHS
    assert body['months'][0]['received'] == {'fen': 1000, 'yuan': '10.00'}
    assert body['months'][9] == {'month': '2026-04', 'received': {'fen': 0, 'yuan': '0.00'}, 'orders': 1,
                                 'rated': 0, 'average_rating': None}
    assert body['months'][10]['average_rating'] == '3.00'
    repairs = body['repairs']
    assert (repairs['open'], repairs['overdue'], repairs['response_average_seconds'],
            repairs['response_median_seconds'], repairs['resolution_average_seconds'],
            repairs['resolution_median_seconds'], repairs['average_rating']) == (3, 2, 6300, 5400, 19200, 18000,
                                                                                  '3.67')
    assert repairs['hot_spots'] == [{'place': '1-1-101', 'category': '水暖', 'orders_count': 3, 'peak': 3}]
    assert body['inspections'] == {'completion': {'count': 3, 'of': 4, 'percent': '75.0'}, 'devices': 2,
                                   'failures': 1, 'failures_per_device_month': '1.01'}
    assert body['announcements'] == {'count': 3, 'of': 4, 'percent': '75.0'}
    for user_id in (project.desk, project.tech, project.owner_user):
        assert client.get('/api/v1/dashboard', base_url=base,
                          headers=_token(in_tenant, project, user_id)).status_code == 403
    assert client.get('/api/v1/dashboard', base_url=base).status_code == 401


def test_another_tenants_data_never_shows(project, make_tenant, make_user, in_tenant, monkeypatch, client_for):
    monkeypatch.setattr(clock, 'now_utc', lambda: NOW)
    other = build_estate(make_tenant, make_user, in_tenant, '隔壁小区')
    board = compute(in_tenant, other)
    assert board.collection.receivable_fen == 0 and board.repairs.open == 0 and board.arrears.total_fen == 0
    html = client_for(other.tenant, other.admin).get('/dashboard').get_data(as_text=True)
    assert '600.00' not in html and '265.00' not in html


def _one_month(make_tenant, make_user, in_tenant):
    """A project with one month of data: one bill paid, one order."""
    e = build_estate(make_tenant, make_user, in_tenant, '一个月小区')
    with in_tenant(e.tenant) as session:
        b = bill(session, e, '1-1-101', '2026-06', local(2026, 6, 30).date(), 10000)
        pay(session, e, '1-1-101', 4000, local(2026, 6, 2), b)
        orders.submit(category_id=e.categories['plumbing'], description='漏水', by_user=session.get(User, e.admin),
                      room_id=e.rooms['1-1-101'], channel='phone', now=local(2026, 6, 3))
    return e


def _two_years(e, in_tenant):
    """Two years of monthly bills, payments and orders on top of the project's data."""
    with in_tenant(e.tenant) as session:
        admin = session.get(User, e.admin)
        for back in range(1, 25):
            at = NOW - timedelta(days=30 * back)
            period = at.strftime('%Y-%m')
            for room in ('1-1-102', '2-1-102'):
                b = bill(session, e, room, period, at.date(), 5000 + back)
                if back % 3:
                    pay(session, e, room, 5000 + back, at + timedelta(days=2), b)
            order = orders.submit(category_id=e.categories['electrical'], description='跳闸', by_user=admin,
                                  room_id=e.rooms['2-1-102'], channel='phone', now=at)
            if back % 2:
                orders.assign(order, e.tech, by_user=admin, now=at + timedelta(minutes=5))
                orders.start(order, by_user=admin, now=at + timedelta(hours=1))
                orders.complete(order, by_user=admin, note='ok', now=at + timedelta(hours=2))
                orders.confirm(order, by_user=admin, rating=1 + back % 5, now=at + timedelta(hours=3))


def test_statements_are_the_same_with_one_month_and_two_years(app, project, make_tenant, make_user, in_tenant,
                                                              monkeypatch):
    monkeypatch.setattr(clock, 'now_utc', lambda: NOW)
    small = _one_month(make_tenant, make_user, in_tenant)
    _two_years(project, in_tenant)
    counts = []
    for e in (small, project):
        with in_tenant(e.tenant) as session:
            tenant = session.get(Tenant, e.tenant.id)
            with count_queries(app) as statements:
                board = figures.compute(tenant, NOW)
            counts.append(len(statements))
        assert board.collection.receivable_fen > 0
    assert counts[0] == counts[1] == figures.STATEMENTS, counts
