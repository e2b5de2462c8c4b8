"""Host -> tenant resolution, unknown and malformed hosts, suspended tenants, reserved slugs."""
import pytest

from propsaas.extensions import db
from propsaas.tenancy.context import platform_scope
from propsaas.tenancy.hosts import BadHost, normalize_host, slug_problem
from propsaas.tenancy.models import TenantHostname


@pytest.mark.parametrize('raw, expected', [
    ('Demo.LocalHost:5000', 'demo.localhost'),
    ('demo.localhost.', 'demo.localhost'),
    ('[::1]:5000', '[::1]'),
])
def test_normalize_host(raw, expected):
    assert normalize_host(raw) == expected


@pytest.mark.parametrize('raw', ['', 'a b.localhost', 'x..localhost', 'demo.localhost:abc', '-x.localhost',
                                 'x' * 300, 'demo.localhost/evil', '阳光.localhost'])
def test_malformed_hosts_are_bad(raw):
    with pytest.raises(BadHost):
        normalize_host(raw)


@pytest.mark.parametrize('slug', ['www', 'api', 'admin', 'ops', 'static', 'mail'])
def test_reserved_slugs_refused(slug):
    assert 'reserved' in slug_problem(slug)


@pytest.mark.parametrize('slug', ['A-B', 'ab', '-abc', 'abc-', 'a_b', 'a.b', '阳光花园', 'x' * 41])
def test_malformed_slugs_refused(slug):
    assert slug_problem(slug)


def test_tenant_host_port_ignored(app, make_tenant):
    tenant = make_tenant(name='港口花园')
    client = app.test_client()
    response = client.get('/login', base_url=f'http://{tenant.slug}.localhost:5000')
    assert response.status_code == 200
    assert '港口花园' in response.text


def test_unknown_host_is_404_page(app):
    client = app.test_client()
    response = client.get('/login', base_url='http://nobody-here.localhost')
    assert response.status_code == 404
    assert '找不到' in response.text
    assert client.get('/', base_url='http://evil.example.com').status_code == 404
    assert client.get('/', base_url='http://a.b.localhost').status_code == 404


def test_malformed_host_header_is_400(app):
    client = app.test_client()
    response = client.get('/', headers={'Host': 'bad host!'})
    assert response.status_code == 400
    api = client.get('/api/v1/me', headers={'Host': 'bad..host'})
    assert api.status_code == 400
    assert api.json['error']['code'] == 'bad_request'


def test_platform_host_is_the_platform_site(app):
    response = app.test_client().get('/', base_url='http://localhost')
    assert response.status_code == 200
    assert 'PropSaaS' in response.text
    # tenant pages don't exist on the platform host
    assert app.test_client().get('/login', base_url='http://localhost').status_code == 404


def test_custom_hostname_resolves_to_its_tenant(app, make_tenant):
    tenant = make_tenant(name='自有域名小区')
    with app.app_context(), platform_scope():
        db.session.add(TenantHostname(tenant_id=tenant.id, hostname='wuye.example.com'))
        db.session.commit()
    response = app.test_client().get('/login', base_url='http://wuye.example.com')
    assert response.status_code == 200
    assert '自有域名小区' in response.text


def test_suspended_tenant_shows_a_clear_page_and_api_403(app, make_tenant, make_user, client_for, runner):
    tenant = make_tenant(name='暂停小区')
    staff = make_user(tenant, 'admin')
    client = client_for(tenant, staff)
    assert client.get('/').status_code == 200
    result = runner.invoke(args=['tenants', 'suspend', tenant.slug])
    assert result.exit_code == 0, result.output
    page = client.get('/')
    assert page.status_code == 403
    assert '暂停' in page.text and '暂停小区' not in page.text.replace('服务已暂停', '')
    api = client.get('/api/v1/me')
    assert api.status_code == 403
    assert api.json['error']['code'] == 'tenant_suspended'
    assert runner.invoke(args=['tenants', 'resume', tenant.slug]).exit_code == 0
    assert client.get('/').status_code == 200


def test_host_resolution_is_one_query(app, make_tenant):
    from tests.helpers import count_queries

    tenant = make_tenant()
    client = app.test_client()
    with count_queries(app) as queries:
        client.get('/healthz', base_url='http://localhost')
    base = len(queries)
    with count_queries(app) as queries:
        client.get('/login', base_url=f'http://{tenant.slug}.localhost')
    assert len(queries) == 1, queries  # the tenant lookup; the login page itself reads nothing
    assert base == 1  # SELECT 1
