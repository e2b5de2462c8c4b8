"""Logins by mobile or e-mail, sessions bound to one host, logout that really ends the session, throttling."""
import pytest
import sqlalchemy as sa

from propsaas.auth.models import AccessToken
from tests.conftest import PASSWORD


@pytest.fixture
def tenant(make_tenant):
    return make_tenant(name='登录小区')


def login(client, who, password=PASSWORD):
    return client.post('/login', data={'login': who, 'password': password})


def test_login_with_email_or_mobile(tenant, make_user, client_for):
    make_user(tenant, 'resident', mobile='13812345678')
    client = client_for(tenant)
    assert login(client, '+86 138-1234-5678').status_code == 302
    assert '你好' in client.get('/').text
    other = client_for(tenant)
    assert login(other, f'ADMIN@{tenant.slug}.cn').status_code == 302
    assert '工作台' in other.get('/').text


def test_wrong_password_is_401_with_a_message(tenant, client_for):
    response = login(client_for(tenant), f'admin@{tenant.slug}.cn', 'wrong-password-1')
    assert response.status_code == 401
    assert '手机号/邮箱或密码不正确' in response.text


def test_empty_form_is_422_with_messages(tenant, client_for):
    response = client_for(tenant).post('/login', data={'login': '', 'password': ''})
    assert response.status_code == 422
    assert '请填写手机号或邮箱' in response.text


def test_session_cookie_flags(tenant, client_for):
    response = login(client_for(tenant), f'admin@{tenant.slug}.cn')
    cookie = response.headers['Set-Cookie']
    assert 'HttpOnly' in cookie and 'SameSite=Lax' in cookie
    assert 'Domain=' not in cookie  # host-only: never shared with sibling tenants
    assert 'Secure' not in cookie
    secure = client_for(tenant).post('/login', data={'login': f'admin@{tenant.slug}.cn', 'password': PASSWORD},
                                     base_url=f'https://{tenant.slug}.localhost',
                                     headers={'Referer': f'https://{tenant.slug}.localhost/login'})
    assert 'Secure' in secure.headers['Set-Cookie']
    assert 'Strict-Transport-Security' in secure.headers


def _session_cookie(client, slug):
    return client.get_cookie('propsaas_session', domain=f'{slug}.localhost').value


def test_cookie_of_tenant_a_is_anonymous_on_tenant_b(app, make_tenant, client_for):
    a, b = make_tenant(name='A小区'), make_tenant(name='B小区')
    client_a = client_for(a)
    login(client_a, f'admin@{a.slug}.cn')
    stolen = _session_cookie(client_a, a.slug)
    intruder = app.test_client()
    intruder.set_cookie('propsaas_session', stolen, domain=f'{b.slug}.localhost')
    response = intruder.get('/', base_url=f'http://{b.slug}.localhost')
    assert response.status_code == 302 and '/login' in response.headers['Location']
    assert intruder.get('/users', base_url=f'http://{b.slug}.localhost').status_code == 302


def test_logout_then_replayed_cookie_is_anonymous(app, tenant, client_for):
    client = client_for(tenant)
    login(client, f'admin@{tenant.slug}.cn')
    copy = _session_cookie(client, tenant.slug)
    assert client.post('/logout').status_code == 302
    replay = app.test_client()
    replay.set_cookie('propsaas_session', copy, domain=f'{tenant.slug}.localhost')
    response = replay.get('/users', base_url=f'http://{tenant.slug}.localhost')
    assert response.status_code == 302 and '/login' in response.headers['Location']


def test_login_issues_a_new_session_token(app, tenant, client_for, in_tenant):
    client = client_for(tenant)
    login(client, f'admin@{tenant.slug}.cn')
    first = _session_cookie(client, tenant.slug)
    login(client, f'admin@{tenant.slug}.cn')
    assert _session_cookie(client, tenant.slug) != first
    with in_tenant(tenant) as session:
        sessions = sa.select(sa.func.count(AccessToken.id)).where(AccessToken.kind == 'session')
        assert session.execute(sessions).scalar() == 2


def test_post_without_csrf_token_is_refused(tenant, make_user, client_for):
    admin = make_user(tenant, 'admin')
    client = client_for(tenant, admin)
    response = client.post('/users', data={'name': 'x', 'mobile': '13900001111', 'role': 'resident'}, csrf=False)
    assert response.status_code == 400
    assert 'CSRF' in response.text or '请求' in response.text


def test_failed_logins_are_throttled_per_account_without_locking_out_others(app, tenant, make_user, client_for):
    make_user(tenant, 'resident', mobile='13600001111')
    client = client_for(tenant)
    statuses = [login(client, '13600001111', 'not-the-password').status_code for _ in range(6)]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    assert '尝试次数太多' in login(client, '13600001111', PASSWORD).text  # even the right password waits
    # Another account from the same client still logs in.
    assert login(client_for(tenant), f'admin@{tenant.slug}.cn').status_code == 302


def test_failed_logins_throttled_per_client(app, tenant, client_for):
    app.config['LOGIN_LIMIT_PER_CLIENT'] = '3 per minute'
    try:
        client = client_for(tenant)
        statuses = [login(client, f'nobody{i}@x.cn', 'whatever-pass').status_code for i in range(4)]
        assert statuses == [401, 401, 401, 429]
    finally:
        app.config['LOGIN_LIMIT_PER_CLIENT'] = '30 per 5 minutes'


def test_open_redirect_refused(tenant, client_for):
    client = client_for(tenant)
    response = client.post('/login?next=//evil.example.com/x', data={'login': f'admin@{tenant.slug}.cn',
                                                                     'password': PASSWORD})
    assert response.headers['Location'] == '/'


def test_deactivated_user_cannot_log_in_and_is_logged_out(tenant, make_user, client_for):
    admin = make_user(tenant, 'admin')
    staff = make_user(tenant, 'staff', email='worker@x.cn')
    staff_client = client_for(tenant, staff)
    assert staff_client.get('/jobs').status_code == 200
    assert client_for(tenant, admin).post(f'/users/{staff}/deactivate').status_code == 302
    assert staff_client.get('/jobs').status_code == 302
    assert login(client_for(tenant), 'worker@x.cn').status_code == 401


def test_security_headers(tenant, client_for):
    response = client_for(tenant).get('/login')
    csp = response.headers['Content-Security-Policy']
    assert "frame-ancestors 'none'" in csp and 'unsafe-inline' not in csp
    assert response.headers['X-Content-Type-Options'] == 'nosniff'
    assert response.headers['Referrer-Policy'] == 'same-origin'
