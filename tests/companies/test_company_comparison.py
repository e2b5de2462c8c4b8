"""项目对比 (/company/figures): each project's figures equal what its own dashboard shows (two projects of one company
built with the dashboard's fixture, one of them in another timezone), the worst value of a column marked, the .xlsx
export, another company's projects never shown, a constant number of statements, and the link into a project's
dashboard through a single-use login link whose ``next`` must be a local path."""
from __future__ import annotations

import io
import uuid
from datetime import date
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from propsaas.companies import comparison
from propsaas.companies.models import CompanyAccount
from propsaas.dashboard import figures
from propsaas.extensions import db
from propsaas.tenancy import clock
from propsaas.tenancy.context import platform_scope, tenant_scope
from propsaas.tenancy.models import Tenant
from tests.companies.test_signup_and_console import company_client, make_company, platform_client
from tests.dashboard.project import NOW, bill, build
from tests.helpers import count_queries

MARK = 'OTHERCO' + uuid.uuid4().hex[:6]


def _join_company(app, data: dict, *tenant_ids: int) -> None:
    """Make the projects ``tenant_ids`` the company's (as if it had created them in its console)."""
    with app.app_context(), platform_scope():
        org = db.session.execute(sa.select(CompanyAccount.organization_id)
                                 .where(CompanyAccount.email == data['email'])).scalar_one()
        db.session.execute(sa.update(Tenant).where(Tenant.id.in_(tenant_ids)).values(organization_id=org))
        db.session.commit()


def _slug_of(app, tenant_id: int) -> str:
    with app.app_context(), platform_scope():
        return db.session.get(Tenant, tenant_id).slug


@pytest.fixture
def company(app, make_tenant, make_user, in_tenant, monkeypatch):
    """A company with three projects: its first (empty, from the sign-up), 看板一 with the dashboard's fixture, and a
    second fixture project in New York time (today there is still 14 Jun) whose name starts like a formula and
    which has one more unpaid June bill. Another company owns a third fixture project, its name marked."""
    monkeypatch.setattr(clock, 'now_utc', lambda: NOW)
    data = make_company(app)
    one = build(make_tenant, make_user, in_tenant, monkeypatch, name='看板一')
    two = build(make_tenant, make_user, in_tenant, monkeypatch, name='=SUM(A1)看板二')
    with in_tenant(two.tenant) as session:
        bill(session, two, '1-1-102', '2026-06', date(2026, 6, 30), 40000)
        session.get(Tenant, two.tenant.id).timezone = 'America/New_York'
    _join_company(app, data, one.tenant.id, two.tenant.id)
    other = make_company(app, company_name=f'{MARK}物业{uuid.uuid4().hex[:6]}', project_name=f'{MARK}花园')
    theirs = build(make_tenant, make_user, in_tenant, monkeypatch, name=f'{MARK}小区')
    _join_company(app, other, theirs.tenant.id)
    return SimpleNamespace(data=data, one=one, two=two, other=other, theirs=theirs)


def _projects(app, data):
    from propsaas.companies import services

    with app.app_context():
        account = db.session.execute(sa.select(CompanyAccount).where(CompanyAccount.email == data['email'])
                                     ).scalar_one()
        return services.company_projects(account)


def test_each_figure_equals_the_projects_own_dashboard(app, company):
    projects = _projects(app, company.data)
    assert len(projects) == 3
    with app.app_context():
        table = comparison.compute(projects, NOW)
        boards = {}
        for tenant in projects:
            with tenant_scope(tenant.id):
                boards[tenant.id] = figures.compute(db.session.get(Tenant, tenant.id), NOW)
    assert [row.tenant.id for row in table.rows] == [t.id for t in projects]
    for row in table.rows:
        board = boards[row.tenant.id]
        assert row.windows.today == board.today and row.windows.period == board.collection.period
        assert (row.bills, row.receivable_fen, row.received_fen, row.collection_rate) == (
            board.collection.bills, board.collection.receivable_fen, board.collection.received_fen,
            board.collection.rate)
        assert row.arrears_fen == board.arrears.total_fen
        assert row.old_arrears_fen == board.arrears.buckets['d180'] + board.arrears.buckets['over180']
        r = board.repairs
        assert (row.open_orders, row.overdue_orders) == (r.open, r.overdue)
        assert (row.response_orders, row.response_average) == (r.response_orders, r.response_average)
        assert (row.resolution_orders, row.resolution_average) == (r.resolution_orders, r.resolution_average)
        assert (row.rated, row.rating_sum, row.average_rating) == (r.rated, r.rating_sum, r.average_rating)
        i = board.inspections
        assert (row.inspections_due, row.inspections_done, row.inspection_rate) == (i.due, i.done, i.rate)
        assert (row.devices, row.device_days, row.failures, row.failure_rate) == (
            i.devices, i.device_days, i.failures, i.failures_per_device_month)
        n = board.announcements
        assert (row.announcements, row.recipients, row.read, row.read_rate) == (
            n.announcements, n.recipients, n.read, n.rate)

    first, one, two = table.rows
    # 看板一 is the dashboard fixture's hand-computed project (tests/dashboard/project.py)
    assert (one.households, one.receivable_fen, one.received_fen, str(one.collection_rate)) == (4, 60000, 30000,
                                                                                                '50.0')
    assert (one.arrears_fen, one.old_arrears_fen, one.open_orders, one.overdue_orders) == (26500, 15500, 3, 2)
    assert (one.response_average, one.resolution_average, str(one.average_rating)) == (6300, 19200, '3.67')
    assert (str(one.inspection_rate), str(one.failure_rate), str(one.read_rate)) == ('75.0', '1.01', '75.0')
    # New York: still 14 Jun there — the extra bill lowers the rate; 14 days in the ledger instead of 15
    assert (two.windows.today, two.receivable_fen, two.received_fen) == (date(2026, 6, 14), 100000, 30000)
    assert two.device_days == 28
    assert (first.households, first.receivable_fen, first.collection_rate, first.arrears_fen) == (0, 0, None, 0)
    # the worst of each column: the lowest collection rate is 看板二's; the most arrears are a tie → both marked
    assert table.worst['collection_rate'] == {two.tenant.id}
    assert table.worst['open_orders'] == {one.tenant.id, two.tenant.id}
    assert 'average_rating' not in table.worst or first.tenant.id not in table.worst['average_rating']


def test_the_page_and_the_export_show_only_the_companys_projects(app, company):
    client = company_client(app, company.data)
    console = client.get('/company').text
    assert '/company/figures' in console
    page = client.get('/company/figures')
    assert page.status_code == 200
    text = page.text
    for name in ('看板一', '=SUM(A1)看板二'):
        assert name in text
    assert MARK not in text
    assert _slug_of(app, company.theirs.tenant.id) not in text
    row = text.split(f'data-project="{company.two.tenant.slug}"')[1].split('</tr>')[0]
    assert '<strong>30.0%</strong>' in row  # 300.00 of 1000.00: the worst collection rate, marked
    assert row.count('name="next" value="/dashboard"') == 1

    export = client.get('/company/figures.xlsx')
    assert export.status_code == 200 and export.mimetype.endswith('spreadsheetml.sheet')
    sheet = load_workbook(io.BytesIO(export.data)).active
    cells = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    assert MARK not in repr(cells)
    names = [row[0] for row in cells[2:]]
    assert names == [company.data['project_name'], '看板一', "'=SUM(A1)看板二"]  # formula-safe
    two = cells[4]
    assert (two[4], two[5], two[6]) == (1000, 300, 30)  # yuan as numbers, the rate in percent
    assert '收缴率' in two[-1]

    # the other company sees its own projects and none of these
    theirs = company_client(app, company.other).get('/company/figures').text
    assert f'{MARK}小区' in theirs and '看板一' not in theirs


def test_a_deleted_project_is_left_out(app, company):
    with app.app_context(), platform_scope():
        db.session.get(Tenant, company.one.tenant.id).status = Tenant.DELETED
        db.session.commit()
    text = company_client(app, company.data).get('/company/figures').text
    assert '看板一' not in text and '看板二' in text


def test_statements_do_not_grow_with_the_projects(app, company):
    single = make_company(app)
    client_one, client_three = company_client(app, single), company_client(app, company.data)
    client_one.get('/company/figures'), client_three.get('/company/figures')  # warm up
    with count_queries(app) as with_one:
        assert client_one.get('/company/figures').status_code == 200
    with count_queries(app) as with_three:
        assert client_three.get('/company/figures').text.count('data-project=') == 3
    assert len(with_one) == len(with_three)
    projects = _projects(app, company.data)
    with count_queries(app) as computing, app.app_context():
        comparison.compute(projects, NOW)
    assert len(computing) == comparison.STATEMENTS


def _open(app, location: str):
    """Follow a login link (absolute, on a project's host, maybe with ?next=) in a fresh browser."""
    url = urlsplit(location)
    client = app.test_client()
    client.base = f'{url.scheme}://{url.netloc}'
    return client, client.get(url.path + (f'?{url.query}' if url.query else ''))


def test_a_projects_name_opens_its_dashboard_and_only_a_local_next_is_followed(app, company):
    slug = company.data['slug']
    client = company_client(app, company.data)
    entered = client.post(f'/company/projects/{slug}/enter', data={'next': '/dashboard'})
    location = entered.headers['Location']
    assert location.startswith(f'http://{slug}.localhost/login-link/')
    assert parse_qs(urlsplit(location).query) == {'next': ['/dashboard']}
    browser, landed = _open(app, location)
    assert landed.status_code == 302 and landed.headers['Location'] == '/dashboard'
    assert browser.get('/dashboard').status_code == 200  # logged in as the project's admin

    for evil in ('https://evil.example/x', '//evil.example/x', '/\\evil.example', 'dashboard'):
        location = client.post(f'/company/projects/{slug}/enter', data={'next': evil}).headers['Location']
        assert urlsplit(location).query == ''  # ignored on the platform host
        _browser, landed = _open(app, location)
        assert landed.headers['Location'] == '/'
    # a link edited by hand: checked again on the project's host
    location = client.post(f'/company/projects/{slug}/enter').headers['Location']
    _browser, landed = _open(app, location + '?next=//evil.example/x')
    assert landed.status_code == 302 and landed.headers['Location'] == '/'
    # another company's project: 404, with or without next
    theirs = _slug_of(app, company.theirs.tenant.id)
    assert client.post(f'/company/projects/{theirs}/enter', data={'next': '/dashboard'}).status_code == 404


def test_anonymous_visitors_go_to_the_company_login(app):
    client = platform_client(app)
    for path in ('/company/figures', '/company/figures.xlsx'):
        response = client.get(path)
        assert response.status_code == 302 and response.headers['Location'] == '/company/login'
