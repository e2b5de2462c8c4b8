"""Admins invite and deactivate users; invitees set their password; everyone can change theirs."""
import re

import pytest
import sqlalchemy as sa

from propsaas.auth.models import User
from propsaas.auth.passwords import password_problem
from tests.conftest import PASSWORD


@pytest.fixture
def tenant(make_tenant):
    return make_tenant(name='用户小区')


@pytest.fixture
def admin_client(tenant, make_user, client_for):
    return client_for(tenant, make_user(tenant, 'admin'))


def invite(client, **fields):
    data = {'name': '赵师傅', 'mobile': '', 'email': '', 'role': 'staff', **fields}
    return client.post('/users', data=data)


def test_invite_staff_then_accept_and_log_in(app, tenant, admin_client, client_for, in_tenant):
    response = invite(admin_client, mobile='139 0000 2222', duties=['technician', 'cashier'])
    assert response.status_code == 200
    link = re.search(r'value="(http://[^"]+/invite/[^"]+)"', response.text).group(1)
    path = link.split('localhost', 1)[1]
    with in_tenant(tenant) as session:
        user = session.execute(sa.select(User).where(User.mobile == '13900002222')).scalar_one()
        assert user.duties == ['cashier', 'technician'] and user.invited and not user.is_active
    invitee = client_for(tenant)
    assert '赵师傅' in invitee.get(path).text
    weak = invitee.post(path, data={'password': '12345678', 'confirm': '12345678'})
    assert weak.status_code == 422 and '太常见' in weak.text
    done = invitee.post(path, data={'password': 'Lift-Check-0915', 'confirm': 'Lift-Check-0915'})
    assert done.status_code == 302
    assert '赵师傅' in invitee.get('/').text
    # The link works once.
    assert client_for(tenant).get(path).status_code == 404


def test_invite_errors_are_clear_and_save_nothing(tenant, admin_client, in_tenant):
    assert '请填写 11 位中国大陆手机号' in invite(admin_client, mobile='12345').text
    assert '至少填写一个' in invite(admin_client).text
    assert '未知的岗位' in invite(admin_client, mobile='13900003333', duties=['astronaut']).text
    invite(admin_client, mobile='13900004444')
    again = invite(admin_client, mobile='13900004444', name='重复')
    assert again.status_code == 422 and '已经有账号' in again.text
    long_name = invite(admin_client, mobile='13900005555', name='长' * 500)
    assert long_name.status_code == 422
    with in_tenant(tenant) as session:
        saved = sa.select(sa.func.count(User.id)).where(User.name.in_(['重复', '长' * 500]))
        assert session.execute(saved).scalar() == 0


def test_only_admins_manage_users(tenant, make_user, client_for):
    staff = client_for(tenant, make_user(tenant, 'staff'))
    resident = client_for(tenant, make_user(tenant, 'resident'))
    assert staff.get('/users').status_code == 403
    assert resident.post('/users', data={'name': 'x', 'mobile': '13900006666', 'role': 'admin'}).status_code == 403
    assert resident.get('/jobs').status_code == 403


def test_last_admin_cannot_be_deactivated(tenant, make_user, client_for, in_tenant):
    admin = make_user(tenant, 'admin')
    client = client_for(tenant, admin)
    with in_tenant(tenant) as session:
        first_admin = session.execute(sa.select(User.id).where(User.email == f'admin@{tenant.slug}.cn')).scalar()
    client.post(f'/users/{first_admin}/deactivate')
    response = client.post(f'/users/{admin}/deactivate', follow_redirects=True)
    assert '不能停用自己的账号' in response.text


def test_change_password_logs_out_other_sessions(tenant, make_user, client_for):
    user = make_user(tenant, 'resident', mobile='13500001234')
    here, elsewhere = client_for(tenant, user), client_for(tenant, user)
    wrong = here.post('/account', data={'pw-current_password': 'nope-nope-1', 'pw-password': 'Brand-New-Pass-1',
                                        'pw-confirm': 'Brand-New-Pass-1'})
    assert wrong.status_code == 422 and '当前密码不正确' in wrong.text
    ok = here.post('/account', data={'pw-current_password': PASSWORD, 'pw-password': 'Brand-New-Pass-1',
                                     'pw-confirm': 'Brand-New-Pass-1'})
    assert ok.status_code == 302
    assert here.get('/account').status_code == 200
    assert elsewhere.get('/account').status_code == 302
    relog = client_for(tenant).post('/login', data={'login': '13500001234', 'password': 'Brand-New-Pass-1'})
    assert relog.status_code == 302


@pytest.mark.parametrize('password, ok', [
    ('short1', False), ('x' * 64, False), ('Q7v!' * 16, True), ('password123', False), ('11111111', False),
    ('87654321', False), ('woaini1314', False), ('Spring-Lantern-7', True), ('长城长城长城长城', True),
])
def test_password_policy(password, ok):
    assert (password_problem(password) is None) is ok


def test_password_containing_the_login_refused():
    assert '手机号' in password_problem('x13812345678y', login_names=('13812345678',))


def test_english_can_be_chosen_per_user(tenant, make_user, client_for):
    client = client_for(tenant, make_user(tenant, 'staff'))
    assert '工作台' in client.get('/').text
    assert client.post('/account/locale', data={'lang-locale': 'en'}).status_code == 302
    page = client.get('/')
    assert 'lang="en"' in page.text
    assert 'Dashboard' in page.text
    bad = client.post('/account/locale', data={'lang-locale': 'fr'})
    assert bad.status_code == 422
