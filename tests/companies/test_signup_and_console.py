"""Property companies on the platform host: sign-up (operator approval or e-mail verification), the company console
with its figures, and the single-use login links into a project's host."""
from __future__ import annotations

import io
import itertools
import re
import uuid
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from propsaas.auth.models import OperatorAction
from propsaas.billing.models import Bill, Payment, PaymentAllocation
from propsaas.companies import services
from propsaas.companies.models import CompanySignup, ProjectLoginLink
from propsaas.extensions import db
from propsaas.models_base import utcnow
from propsaas.notices.channels import SendFailed
from propsaas.notices.channels.email_smtp import PlatformEmail
from propsaas.property.models import Building, Room
from propsaas.repairs.models import RepairCategory, WorkOrder
from propsaas.tenancy import provisioning
from propsaas.tenancy.clock import tenant_today
from tests.helpers import count_queries

PASSWORD = 'Signup-Pass-2026'
_ips = itertools.count(1)


def platform_client(app):
    """A client on the platform host from an address of its own (the sign-up throttle counts per address)."""
    client = app.test_client()
    client.base = 'http://localhost'
    n = next(_ips)
    client.environ_base['REMOTE_ADDR'] = f'10.{uuid.uuid4().int % 200}.{n // 250}.{n % 250 + 1}'
    return client


def signup_data(**overrides) -> dict:
    n = uuid.uuid4().hex[:8]
    data = {'company_name': f'阳光物业{n}', 'contact_name': '王经理', 'mobile': f'139{int(n, 16) % 10**8:08d}',
            'email': f'wang-{n}@yangguang.cn', 'password': PASSWORD, 'confirm': PASSWORD,
            'project_name': '阳光花园', 'slug': f'yg-{n}', 'template': 'standard-residential', 'website': ''}
    data.update(overrides)
    return data


def follow_to_project(app, location: str):
    """Open a login link (an absolute URL on a project's host) in a fresh browser."""
    url = urlsplit(location)
    client = app.test_client()
    client.base = f'{url.scheme}://{url.netloc}'
    return client, client.get(url.path)


def make_company(app, **overrides):
    """A company whose sign-up was approved: (data it signed up with, its first project's slug)."""
    data = signup_data(**overrides)
    with app.test_request_context(base_url='http://localhost'):
        app.config['SIGNUP_APPROVAL'], before = 'operator', app.config['SIGNUP_APPROVAL']
        try:
            signup = services.sign_up(**{k: data[k] for k in ('company_name', 'contact_name', 'mobile', 'email',
                                                               'password', 'project_name', 'slug', 'template')},
                                      ip='10.0.0.1')
            services.complete_signup(signup)
            db.session.commit()
        finally:
            app.config['SIGNUP_APPROVAL'] = before
    return data


def company_client(app, data):
    client = platform_client(app)
    response = client.post('/company/login', data={'login': data['email'], 'password': PASSWORD})
    assert response.status_code == 302 and response.headers['Location'] == '/company'
    return client


@pytest.fixture
def operator_client(operator):
    return operator('审核员')


def test_sign_up_approve_console_enter_project_and_log_in_directly(app, operator_client, monkeypatch):
    monkeypatch.setitem(app.config, 'SIGNUP_APPROVAL', 'auto-if-smtp')
    monkeypatch.setitem(app.config, 'SMTP_HOST', None)  # no platform SMTP: an operator approves
    client = platform_client(app)
    landing = client.get('/').text
    assert '/signup' in landing and '/company/login' in landing
    page = client.get('/signup')
    assert page.status_code == 200 and '物业公司注册' in page.text and 'standard-residential' in page.text
    data = signup_data()
    done = client.post('/signup', data=data)
    assert done.status_code == 200 and '平台运营人员审核' in done.text

    # A pending sign-up is not a project yet: no tenant, no host, no company login.
    with app.app_context():
        assert provisioning.find_tenant(data['slug']) is None
    assert app.test_client().get('/', base_url=f'http://{data["slug"]}.localhost').status_code == 404
    refused = platform_client(app).post('/company/login', data={'login': data['email'], 'password': PASSWORD})
    assert refused.status_code == 401 and '等待平台审核' in refused.text

    listing = operator_client.get('/operator/signups')
    assert listing.status_code == 200 and data['company_name'] in listing.text and data['slug'] in listing.text
    with app.app_context():
        signup_id = db.session.execute(sa.select(CompanySignup.id).where(
            CompanySignup.email == data['email'])).scalar_one()
    approved = operator_client.post(f'/operator/signups/{signup_id}/approve', follow_redirects=True)
    assert f'已开通 {data["company_name"]} 的项目“阳光花园”' in approved.text
    with app.app_context():
        tenant = provisioning.find_tenant(data['slug'])
        assert tenant is not None and tenant.organization.name == data['company_name']
        signup = db.session.get(CompanySignup, signup_id)
        assert signup.status == 'done' and signup.password_hash is None and signup.project_id == tenant.id
        action = db.session.execute(sa.select(OperatorAction).where(OperatorAction.action == 'approve_signup')
                                    .order_by(OperatorAction.id.desc())).scalars().first()
        assert action.project_id == tenant.id
    assert '通过注册' in operator_client.get('/operator/audit').text

    company = company_client(app, data)
    console = company.get('/company')
    assert console.status_code == 200
    assert data['company_name'] in console.text and '阳光花园' in console.text and '本月未出账' in console.text

    # The onboarding pack was rendered when the project was opened (inline here; by a worker in production).
    pack_url = f'/company/projects/{data["slug"]}/onboarding-pack'
    assert f'href="{pack_url}"' in console.text
    pdf = company.get(pack_url)
    assert pdf.status_code == 200 and pdf.mimetype == 'application/pdf'
    text = ''.join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    pdf.close()
    assert '阳光花园' in text and data['email'] in text and PASSWORD not in text  # its admin: the contact
    assert company.post(pack_url).status_code == 302  # 重新生成

    entered = company.post(f'/company/projects/{data["slug"]}/enter')
    assert entered.status_code == 302
    location = entered.headers['Location']
    assert location.startswith(f'http://{data["slug"]}.localhost/login-link/')
    browser, response = follow_to_project(app, location)
    assert response.status_code == 302 and response.headers['Location'] == '/'
    assert '工作台' in browser.get('/').text
    assert browser.get('/users').status_code == 200  # the project's admin
    assert data['email'] in browser.get('/users').text

    # The same person logs in on the project's host directly with the password chosen at sign-up.
    for login in (data['email'], data['mobile']):
        direct = app.test_client()
        direct.base = f'http://{data["slug"]}.localhost'
        assert direct.post('/login', data={'login': login, 'password': PASSWORD}).status_code == 302

    # Signing out of the company console really ends the session.
    cookie = company.get_cookie('propsaas_session', domain='localhost').value
    assert company.post('/company/logout').status_code == 302
    replay = platform_client(app)
    replay.set_cookie('propsaas_session', cookie, domain='localhost')
    assert replay.get('/company').headers['Location'] == '/company/login'


def test_operator_rejects_a_sign_up(app, operator_client, monkeypatch):
    monkeypatch.setitem(app.config, 'SIGNUP_APPROVAL', 'operator')
    data = signup_data()
    assert platform_client(app).post('/signup', data=data).status_code == 200
    with app.app_context():
        signup_id = db.session.execute(sa.select(CompanySignup.id).where(
            CompanySignup.email == data['email'])).scalar_one()
    rejected = operator_client.post(f'/operator/signups/{signup_id}/reject', data={'reason': '资料不实'},
                                    follow_redirects=True)
    assert f'已拒绝 {data["company_name"]} 的注册' in rejected.text and '资料不实' in rejected.text
    again = operator_client.post(f'/operator/signups/{signup_id}/approve', follow_redirects=True)
    assert '这份注册已经处理过了' in again.text
    with app.app_context():
        assert provisioning.find_tenant(data['slug']) is None
    assert platform_client(app).get('/operator/signups').headers['Location'].startswith('/operator/login')


@pytest.fixture
def smtp(app, monkeypatch):
    """The platform SMTP configured, its sender replaced: the mails it would have sent."""
    monkeypatch.setitem(app.config, 'SIGNUP_APPROVAL', 'auto-if-smtp')
    monkeypatch.setitem(app.config, 'SMTP_HOST', 'smtp.example.cn')
    monkeypatch.setitem(app.config, 'SMTP_FROM', 'PropSaaS <noreply@example.cn>')
    sent = []

    def send(self, outgoing):
        assert self.host == 'smtp.example.cn' and self.from_address == 'noreply@example.cn'
        sent.append(outgoing)
        return '<id@example.cn>'

    monkeypatch.setattr(PlatformEmail, 'send', send)
    return sent


def test_sign_up_verified_by_e_mail(app, smtp):
    data = signup_data()
    done = platform_client(app).post('/signup', data=data)
    assert done.status_code == 200 and f'验证邮件已发送到 {data["email"]}' in done.text
    [mail] = smtp
    assert mail.address == data['email'] and '阳光花园' in mail.title
    link = urlsplit(re.search(r'http://\S+', mail.body).group(0))
    assert link.netloc == 'localhost' and link.path.startswith('/signup/verify/')
    with app.app_context():
        assert provisioning.find_tenant(data['slug']) is None  # not before the link is followed

    browser = platform_client(app)
    confirm = browser.get(link.path)
    assert confirm.status_code == 200 and '确认并开通' in confirm.text and data['slug'] in confirm.text
    created = browser.post(link.path)
    assert created.status_code == 302 and created.headers['Location'] == '/company'
    console = browser.get('/company').text
    assert '项目“阳光花园”已开通' in console and data['slug'] in console
    # Followed again: already done, off to the login page; a forged link is refused.
    assert platform_client(app).post(link.path).headers['Location'] == '/company/login'
    forged = platform_client(app).get(link.path[:-3] + 'xyz')
    assert forged.status_code == 404 and '验证链接无效或已过期' in forged.text


def test_verification_link_expires(app, smtp, monkeypatch):
    data = signup_data()
    platform_client(app).post('/signup', data=data)
    path = urlsplit(re.search(r'http://\S+', smtp[0].body).group(0)).path
    monkeypatch.setitem(app.config, 'SIGNUP_VERIFY_HOURS', -1)
    response = platform_client(app).post(path)
    assert response.status_code == 404 and '验证链接无效或已过期' in response.text
    with app.app_context():
        assert provisioning.find_tenant(data['slug']) is None


def test_slug_taken_meanwhile_creates_nothing(app, smtp, make_tenant):
    data = signup_data()
    platform_client(app).post('/signup', data=data)
    path = urlsplit(re.search(r'http://\S+', smtp[0].body).group(0)).path
    make_tenant(slug=data['slug'])  # someone else took it meanwhile
    response = platform_client(app).post(path)
    assert response.status_code == 422 or response.status_code == 409
    assert f'“{data["slug"]}”已经被其他项目使用' in response.text
    with app.app_context():
        assert db.session.execute(sa.select(CompanySignup.status).where(
            CompanySignup.email == data['email'])).scalar_one() == 'verifying'
        assert services.authenticate_company(data['email'], PASSWORD) is None


def test_mail_that_cannot_be_sent_leaves_the_sign_up_to_an_operator(app, smtp, monkeypatch):
    def refuse(self, outgoing):
        raise SendFailed('无法连接邮件服务器', transient=True)

    monkeypatch.setattr(PlatformEmail, 'send', refuse)
    data = signup_data()
    assert '平台运营人员审核' in platform_client(app).post('/signup', data=data).text
    with app.app_context():
        assert db.session.execute(sa.select(CompanySignup.status).where(
            CompanySignup.email == data['email'])).scalar_one() == 'pending'


@pytest.mark.parametrize('slug, message', [
    ('taken', '已经被其他项目使用'),
    ('admin', '平台保留的名字'),
    ('Sunshine', '只能用 3-40 位小写字母'),
    ('ab', '只能用 3-40 位小写字母'),
    ('bad_slug', '只能用 3-40 位小写字母'),
    ('-edge', '只能用 3-40 位小写字母'),
])
def test_bad_slugs_are_refused_with_a_message(app, make_tenant, slug, message, monkeypatch):
    monkeypatch.setitem(app.config, 'SIGNUP_APPROVAL', 'operator')
    if slug == 'taken':
        slug = make_tenant().slug
    client = platform_client(app)
    check = client.get('/signup/slug', query_string={'slug': slug})
    assert check.status_code == 200 and check.json['ok'] is False and message in check.json['message']
    data = signup_data(slug=slug)
    page = client.post('/signup', data=data)
    assert page.status_code == 422 and message in page.text
    with app.app_context():
        assert db.session.execute(sa.select(CompanySignup.id).where(
            CompanySignup.email == data['email'])).first() is None


def test_a_free_slug_is_fine(app):
    check = platform_client(app).get('/signup/slug?slug=free-' + uuid.uuid4().hex[:6])
    assert check.json['ok'] is True and check.json['host'].endswith('.localhost')


def test_other_sign_up_problems_and_the_honeypot(app, monkeypatch):
    monkeypatch.setitem(app.config, 'SIGNUP_APPROVAL', 'operator')
    client = platform_client(app)
    assert '请填写 11 位中国大陆手机号' in client.post('/signup', data=signup_data(mobile='12345')).text
    weak = client.post('/signup', data=signup_data(password='12345678', confirm='12345678'))
    assert weak.status_code == 422 and '太常见' in weak.text
    assert '两次输入的密码不一致' in client.post('/signup', data=signup_data(confirm='other-Pass-1')).text
    bot = signup_data(website='http://spam.example')
    assert client.post('/signup', data=bot).status_code == 200
    data = make_company(app)
    again = client.post('/signup', data=signup_data(company_name=data['company_name']))
    assert again.status_code == 422 and '已经注册过了' in again.text
    with app.app_context():
        assert db.session.execute(sa.select(CompanySignup.id).where(
            CompanySignup.email == bot['email'])).first() is None
    # The sign-up pages live on the platform host only.
    assert client.get('/signup', base_url=f'http://{data["slug"]}.localhost').status_code == 404


def test_login_link_is_single_use_expires_and_works_only_on_its_project(app):
    data = make_company(app)
    company = company_client(app, data)
    second = f'yg2-{uuid.uuid4().hex[:8]}'
    created = company.post('/company/projects', data={'project_name': '阳光二期', 'slug': second,
                                                       'template': 'standard-residential'}, follow_redirects=True)
    assert '项目“阳光二期”已开通' in created.text

    location = company.post(f'/company/projects/{data["slug"]}/enter').headers['Location']
    path = urlsplit(location).path
    wrong_host = app.test_client().get(path, base_url=f'http://{second}.localhost')
    assert wrong_host.status_code == 404 and '登录链接无效或已过期' in wrong_host.text
    browser, used = follow_to_project(app, location)  # still good on its own host
    assert used.status_code == 302
    _again, reused = follow_to_project(app, location)
    assert reused.status_code == 404 and '登录链接无效或已过期' in reused.text
    assert app.test_client().get('/users', base_url=f'http://{data["slug"]}.localhost').status_code == 302

    late = company.post(f'/company/projects/{second}/enter').headers['Location']
    with app.app_context():
        db.session.execute(sa.update(ProjectLoginLink).where(ProjectLoginLink.used_at.is_(None))
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        stored = db.session.execute(sa.select(ProjectLoginLink.token_hash)).scalars().all()
    token = urlsplit(late).path.rsplit('/', 1)[1]
    assert token not in stored  # only the SHA-256 is kept
    _browser, expired = follow_to_project(app, late)
    assert expired.status_code == 404


def test_another_companys_project_is_not_found(app, make_tenant):
    mine, theirs = make_company(app), make_company(app)
    company = company_client(app, mine)
    console = company.get('/company').text
    assert theirs['slug'] not in console and theirs['company_name'] not in console
    assert company.post(f'/company/projects/{theirs["slug"]}/enter').status_code == 404
    assert company.get(f'/company/projects/{theirs["slug"]}/onboarding-pack').status_code == 404
    assert company.post(f'/company/projects/{theirs["slug"]}/onboarding-pack').status_code == 404
    assert company.post(f'/company/projects/{make_tenant().slug}/enter').status_code == 404  # no company's
    assert company.post('/company/projects/no-such-project/enter').status_code == 404
    taken = company.post('/company/projects', data={'project_name': '抢注', 'slug': theirs['slug'],
                                                    'template': 'standard-residential'})
    assert taken.status_code == 422 and '已经被其他项目使用' in taken.text
    # The console is the company's alone: anonymous visitors and operators' sessions go to the company login.
    assert platform_client(app).get('/company').headers['Location'] == '/company/login'


def test_sign_ups_and_slug_checks_are_throttled(app, monkeypatch):
    monkeypatch.setitem(app.config, 'SIGNUP_APPROVAL', 'operator')
    monkeypatch.setitem(app.config, 'SIGNUP_LIMIT_PER_CLIENT', '2 per minute')
    monkeypatch.setitem(app.config, 'SLUG_CHECK_LIMIT_PER_CLIENT', '3 per minute')
    client = platform_client(app)
    statuses = [client.post('/signup', data=signup_data()).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert '尝试次数太多' in client.post('/signup', data=signup_data()).text
    assert platform_client(app).post('/signup', data=signup_data()).status_code == 200  # another address
    checks = [client.get('/signup/slug?slug=abc-def').status_code for _ in range(4)]
    assert checks == [200, 200, 200, 429]


def _figures_for(app, slug: str) -> None:
    """Two occupied rooms, this month's bill of 100.00 with 25.00 received, one open work order."""
    from propsaas.tenancy.context import tenant_scope

    with app.app_context():
        tenant = provisioning.find_tenant(slug)
        period = tenant_today(tenant).strftime('%Y-%m')
        with tenant_scope(tenant.id):
            building = Building(name='1栋')
            db.session.add(building)
            db.session.flush()
            rooms = [Room(building_id=building.id, number=f'10{n}', code=f'1-1-10{n}', floor=1,
                          area_m2=Decimal('80.00'), status=status) for n, status in
                     enumerate(('occupied', 'occupied', 'vacant'))]
            db.session.add_all(rooms)
            db.session.flush()
            bill = Bill(number=f'ZD-{slug}', room_id=rooms[0].id, period=period, issued_on=date.today(),
                        due_on=date.today(), total_fen=10000, status='partial')
            void = Bill(number=f'ZD-{slug}-v', room_id=rooms[1].id, period=period, issued_on=date.today(),
                        due_on=date.today(), total_fen=99999, status='void')
            payment = Payment(number=f'SJ-{slug}', method='cash', amount_fen=2500, room_id=rooms[0].id)
            category = db.session.execute(sa.select(RepairCategory)).scalars().first()
            db.session.add_all([bill, void, payment, WorkOrder(
                number=f'BX-{slug}', category_id=category.id, room_id=rooms[0].id, description='漏水',
                channel='portal', status='submitted', urgency='normal')])
            db.session.flush()
            db.session.add(PaymentAllocation(payment_id=payment.id, bill_id=bill.id, amount_fen=2500))
            db.session.commit()


def test_console_figures_in_a_constant_number_of_statements(app):
    one = make_company(app)
    _figures_for(app, one['slug'])
    five = make_company(app)
    client_five = company_client(app, five)
    for n in range(4):
        assert client_five.post('/company/projects', data={
            'project_name': f'项目{n}', 'slug': f'p{n}-{uuid.uuid4().hex[:8]}',
            'template': 'standard-residential'}).status_code == 302
    client_one = company_client(app, one)
    page = client_one.get('/company').text
    row = page.split(one['slug'])[1].split('</tr>')[0]
    cells = re.findall(r'<td>([^<]*)</td>', row)
    assert cells[:3] == ['2', '25.0%', '1']  # households, this month's collection rate, open work orders

    client_one.get('/company'), client_five.get('/company')  # warm up
    with count_queries(app) as with_one:
        assert client_one.get('/company').status_code == 200
    with count_queries(app) as with_five:
        assert client_five.get('/company').text.count('/enter"') == 5
    assert len(with_one) == len(with_five)


def test_the_page_headers_logout_ends_the_company_session_too(app):
    data = make_company(app)
    company = company_client(app, data)
    cookie = company.get_cookie('propsaas_session', domain='localhost').value
    assert company.post('/operator/logout').status_code == 302  # base.html's 退出 on the platform host
    replay = platform_client(app)
    replay.set_cookie('propsaas_session', cookie, domain='localhost')
    assert replay.get('/company').headers['Location'] == '/company/login'
