"""The real providers, mocked where they meet the wire (smtplib, the Aliyun SDK client, wechatpy's HTTP session):
what they send, and how each answer is classified (sent / transient / permanent)."""
import json
import smtplib
from email import message_from_bytes, policy
from email.header import decode_header, make_header

import pytest
import requests
import sqlalchemy as sa
from alibabacloud_dysmsapi20170525.client import Client as DysmsClient
from alibabacloud_dysmsapi20170525.models import SendSmsResponse, SendSmsResponseBody
from alibabacloud_tea_openapi.exceptions import ThrottlingException

from propsaas.extensions import db
from propsaas.notices import targeting
from propsaas.notices.channels import (
    ChannelNotConfigured,
    Outgoing,
    SendFailed,
    build_provider,
    email_smtp,
    provider_names,
    wechat_mp,
)
from propsaas.notices.delivery import Content, dispatch_due, fan_out
from propsaas.notices.models import ChannelSetting, Delivery, Message, MessageTemplate
from propsaas.notices.targeting import Audience
from tests.notices.compound import no_quiet_hours

SMTP_CONFIG = {'host': 'smtp.example.cn', 'port': 465, 'username': 'notice@example.cn', 'password': 's3cret',
               'security': 'ssl', 'from_address': 'notice@example.cn', 'from_name': '阳光物业服务中心'}
ALIYUN_CONFIG = {'access_key_id': 'LTAIkey', 'access_key_secret': 'aliyun-secret', 'sign_name': '阳光物业'}
WECHAT_CONFIG = {'app_id': 'wx1234567890', 'app_secret': 'wechat-secret'}


def outgoing(channel='email', address='owner@example.cn', **kw):
    values = dict(delivery_id=1, channel=channel, address=address, title='停水通知', body='明天 9:00-12:00 停水。',
                  short_text='【阳光物业】明天停水', params={'date': '12月4日', 'time_range': '9:00-12:00'},
                  url='http://sun.localhost/notices/1')
    values.update(kw)
    return Outgoing(**values)


def test_every_real_provider_is_registered():
    assert {'smtp', 'platform', 'log'} <= set(provider_names('email'))
    assert {'aliyun', 'log'} <= set(provider_names('sms'))
    assert {'wechat_mp', 'log'} <= set(provider_names('wechat'))


# --- e-mail -------------------------------------------------------------------------------------------------------

class FakeSmtp:
    """Stands in for smtplib.SMTP / SMTP_SSL: records the session, plays a scripted failure."""

    sessions: list = []
    fail: Exception | None = None

    def __init__(self, host, port, timeout=None, context=None):
        self.host, self.port, self.timeout, self.context = host, port, timeout, context
        self.calls, self.sent = [], []
        FakeSmtp.sessions.append(self)
        if isinstance(FakeSmtp.fail, OSError):
            raise FakeSmtp.fail

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.calls.append('quit')

    def ehlo(self):
        self.calls.append('ehlo')

    def starttls(self, context=None):
        self.calls.append('starttls')

    def login(self, user, password):
        self.calls.append(('login', user, password))

    def send_message(self, message):
        if FakeSmtp.fail is not None:
            raise FakeSmtp.fail
        self.sent.append(message.as_bytes())
        return {}


@pytest.fixture
def smtp(monkeypatch):
    FakeSmtp.sessions, FakeSmtp.fail = [], None
    monkeypatch.setattr(email_smtp.smtplib, 'SMTP', FakeSmtp)
    monkeypatch.setattr(email_smtp.smtplib, 'SMTP_SSL', FakeSmtp)
    return FakeSmtp


def test_smtp_sends_a_utf8_message_with_a_chinese_sender_name(app, smtp):
    with app.app_context():
        ref = build_provider('email', 'smtp', SMTP_CONFIG).send(outgoing())
    session = smtp.sessions[0]
    assert (session.host, session.port, session.timeout) == ('smtp.example.cn', 465, email_smtp.TIMEOUT)
    assert ('login', 'notice@example.cn', 's3cret') in session.calls
    raw = session.sent[0]
    message = message_from_bytes(raw, policy=policy.default)
    assert ref == message['Message-ID']
    assert str(make_header(decode_header(message['Subject']))) == '停水通知'
    assert message['From'].addresses[0].display_name == '阳光物业服务中心'
    assert message['From'].addresses[0].addr_spec == 'notice@example.cn'
    assert message['To'] == 'owner@example.cn'
    body = message.get_content()
    assert '明天 9:00-12:00 停水。' in body and 'http://sun.localhost/notices/1' in body
    assert message.get_content_charset() == 'utf-8'
    assert b'\xe9\x98\xb3' not in raw.split(b'\n\n', 1)[0]  # headers are encoded, not raw UTF-8


def test_smtp_starttls(app, smtp):
    with app.app_context():
        build_provider('email', 'smtp', {**SMTP_CONFIG, 'security': 'starttls', 'port': 587}).send(outgoing())
    assert smtp.sessions[0].calls[:3] == ['ehlo', 'starttls', 'ehlo']


@pytest.mark.parametrize('failure, transient', [
    (ConnectionRefusedError(111, 'Connection refused'), True),
    (TimeoutError('timed out'), True),
    (smtplib.SMTPServerDisconnected('Connection unexpectedly closed'), True),
    (smtplib.SMTPRecipientsRefused({'owner@example.cn': (450, b'mailbox busy')}), True),
    (smtplib.SMTPRecipientsRefused({'owner@example.cn': (550, b'No such user')}), False),
    (smtplib.SMTPDataError(451, b'try again later'), True),
    (smtplib.SMTPDataError(554, b'spam rejected'), False),
    (smtplib.SMTPSenderRefused(553, b'sender not allowed', 'notice@example.cn'), False),
])
def test_smtp_failures_are_classified(app, smtp, failure, transient):
    smtp.fail = failure
    with app.app_context(), pytest.raises(SendFailed) as caught:
        build_provider('email', 'smtp', SMTP_CONFIG).send(outgoing())
    assert caught.value.transient is transient
    assert caught.value.reason


def test_smtp_without_a_host_is_not_configured(app):
    with app.app_context(), pytest.raises(ChannelNotConfigured, match='SMTP'):
        build_provider('email', 'smtp', {'from_address': 'a@b.cn'})


def test_platform_email_uses_the_app_config(app, smtp, monkeypatch):
    monkeypatch.setitem(app.config, 'SMTP_HOST', 'smtp.platform.cn')
    monkeypatch.setitem(app.config, 'SMTP_PORT', 587)
    monkeypatch.setitem(app.config, 'SMTP_USER', 'platform')
    monkeypatch.setitem(app.config, 'SMTP_PASSWORD', 'pw')
    monkeypatch.setitem(app.config, 'SMTP_SECURITY', 'starttls')
    monkeypatch.setitem(app.config, 'SMTP_FROM', 'PropSaaS <noreply@platform.cn>')
    with app.app_context():
        build_provider('email', 'platform', {'from_name': '阳光物业'}).send(outgoing())
    session = smtp.sessions[0]
    assert (session.host, session.port) == ('smtp.platform.cn', 587)
    assert ('login', 'platform', 'pw') in session.calls
    sender = message_from_bytes(session.sent[0], policy=policy.default)['From'].addresses[0]
    assert (sender.display_name, sender.addr_spec) == ('阳光物业', 'noreply@platform.cn')


def test_platform_email_without_a_platform_server_says_so(app, monkeypatch):
    monkeypatch.setitem(app.config, 'SMTP_HOST', None)
    with app.app_context(), pytest.raises(ChannelNotConfigured) as caught:
        build_provider('email', 'platform', {})
    assert '平台未配置发信服务器' in caught.value.reason and caught.value.transient is False


# --- Aliyun SMS ---------------------------------------------------------------------------------------------------

@pytest.fixture
def aliyun(monkeypatch):
    """The SDK client's SendSms call, answering with ``answer['body']`` (or raising ``answer['raise']``)."""
    seen, answer = [], {'body': {'Code': 'OK', 'Message': 'OK', 'BizId': '900619746936498440^0', 'RequestId': 'r1'}}

    def send_sms_with_options(self, request, runtime):
        seen.append((self, request, runtime))
        if 'raise' in answer:
            raise answer['raise']
        return SendSmsResponse(status_code=200, headers={}, body=SendSmsResponseBody().from_map(answer['body']))

    monkeypatch.setattr(DysmsClient, 'send_sms_with_options', send_sms_with_options)
    return seen, answer


def test_aliyun_sends_the_template_with_its_params(app, aliyun):
    seen, _ = aliyun
    with app.app_context():
        ref = build_provider('sms', 'aliyun', ALIYUN_CONFIG).send(
            outgoing('sms', '13800000001', sms_template_code='SMS_123456789'))
    assert ref == '900619746936498440^0'
    client, request, runtime = seen[0]
    assert (request.phone_numbers, request.sign_name, request.template_code) == (
        '13800000001', '阳光物业', 'SMS_123456789')
    assert json.loads(request.template_param) == {'date': '12月4日', 'time_range': '9:00-12:00'}
    assert runtime.connect_timeout and runtime.read_timeout
    assert client._endpoint == 'dysmsapi.aliyuncs.com'


def test_aliyun_needs_the_template_code(app, aliyun):
    with app.app_context(), pytest.raises(ChannelNotConfigured) as caught:
        build_provider('sms', 'aliyun', ALIYUN_CONFIG).send(outgoing('sms', '13800000001'))
    assert '消息模板' in caught.value.reason
    assert aliyun[0] == []


@pytest.mark.parametrize('code, transient', [
    ('isv.BUSINESS_LIMIT_CONTROL', True),
    ('Throttling.User', True),
    ('isv.MOBILE_NUMBER_ILLEGAL', False),
    ('isv.SMS_SIGNATURE_ILLEGAL', False),
    ('isv.SMS_TEMPLATE_ILLEGAL', False),
    ('isv.AMOUNT_NOT_ENOUGH', False),
])
def test_aliyun_answers_are_classified(app, aliyun, code, transient):
    aliyun[1]['body'] = {'Code': code, 'Message': '阿里云的说明', 'RequestId': 'r2'}
    with app.app_context(), pytest.raises(SendFailed) as caught:
        build_provider('sms', 'aliyun', ALIYUN_CONFIG).send(
            outgoing('sms', '13800000001', sms_template_code='SMS_1'))
    assert caught.value.transient is transient
    assert '阿里云的说明' in caught.value.reason and code in caught.value.reason


@pytest.mark.parametrize('error', [
    requests.ConnectionError('connection refused'),
    ThrottlingException(code='Throttling', message='Request was denied due to flow control.', status_code=400),
])
def test_aliyun_network_errors_and_throttling_are_transient(app, aliyun, error):
    aliyun[1]['raise'] = error
    with app.app_context(), pytest.raises(SendFailed) as caught:
        build_provider('sms', 'aliyun', ALIYUN_CONFIG).send(
            outgoing('sms', '13800000001', sms_template_code='SMS_1'))
    assert caught.value.transient is True


def test_aliyun_without_a_sign_name_is_not_configured(app):
    with app.app_context(), pytest.raises(ChannelNotConfigured, match='签名'):
        build_provider('sms', 'aliyun', {**ALIYUN_CONFIG, 'sign_name': ''})


# --- WeChat ---------------------------------------------------------------------------------------------------------

class FakeResponse:
    def __init__(self, data, status=200):
        self.data, self.status_code, self.request = data, status, None
        self.content = json.dumps(data).encode()

    def json(self):
        return self.data

    def raise_for_status(self):
        if self.status_code >= 400:
            raise requests.HTTPError(f'{self.status_code}', response=self)


class FakeWeChat:
    """wechatpy's HTTP session: a token for the token call, then ``answers`` in turn for the API calls."""

    def __init__(self, *answers):
        self.answers, self.calls = list(answers), []

    def get(self, url, params=None, **kw):
        return self.request('get', url, params=params, **kw)

    def request(self, method, url, **kw):
        self.calls.append((method, url, kw))
        if url.endswith('/cgi-bin/token'):
            return FakeResponse({'access_token': 'TOKEN', 'expires_in': 7200})
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return FakeResponse(answer)


def wechat_provider(app, fake):
    provider = build_provider('wechat', 'wechat_mp', WECHAT_CONFIG)
    provider.client._http = fake
    return provider


def test_wechat_sends_a_template_message(app, in_tenant, make_tenant):
    tenant = make_tenant()
    fake = FakeWeChat({'errcode': 0, 'errmsg': 'ok', 'msgid': 200228332})
    with in_tenant(tenant):
        ref = wechat_provider(app, fake).send(outgoing('wechat', 'o-openid-1', wechat_template_id='TPL-1'))
    assert ref == '200228332'
    method, url, kw = fake.calls[-1]
    assert url.endswith('message/template/send') and kw['params']['access_token'] == 'TOKEN'
    assert kw['timeout'] == wechat_mp.TIMEOUT
    sent = json.loads(kw['data'])
    assert sent == {'touser': 'o-openid-1', 'template_id': 'TPL-1', 'url': 'http://sun.localhost/notices/1',
                    'data': {'date': {'value': '12月4日'}, 'time_range': {'value': '9:00-12:00'}}}


def test_wechat_needs_the_template_id(app, in_tenant, make_tenant):
    with in_tenant(make_tenant()), pytest.raises(ChannelNotConfigured, match='微信模板 ID'):
        wechat_provider(app, FakeWeChat({})).send(outgoing('wechat', 'o-openid-1'))


@pytest.mark.parametrize('answer, transient', [
    ({'errcode': 43004, 'errmsg': 'require subscribe'}, False),
    ({'errcode': 40003, 'errmsg': 'invalid openid'}, False),
    ({'errcode': -1, 'errmsg': 'system error'}, True),
    ({'errcode': 45009, 'errmsg': 'reach max api daily quota limit'}, True),
    (requests.ConnectionError('network down'), True),
])
def test_wechat_errors_are_classified(app, in_tenant, make_tenant, answer, transient):
    with in_tenant(make_tenant()), pytest.raises(SendFailed) as caught:
        wechat_provider(app, FakeWeChat(answer)).send(outgoing('wechat', 'o-openid-1', wechat_template_id='TPL'))
    assert caught.value.transient is transient


def test_wechat_token_is_cached_per_tenant(app, in_tenant, make_tenant):
    tenant_a, tenant_b = make_tenant(), make_tenant()
    with in_tenant(tenant_a):
        storage_a = wechat_mp.token_storage('wx1')
        storage_a.set('wx1_access_token', 'A', 7200)
    with in_tenant(tenant_b):
        assert wechat_mp.token_storage('wx1').get('wx1_access_token') is None
    with in_tenant(tenant_a):
        assert wechat_mp.token_storage('wx1').get('wx1_access_token') == 'A'


def test_wechat_token_goes_to_redis_under_the_tenant_prefix(app, in_tenant, make_tenant, monkeypatch):
    store = {}

    class FakeRedis:
        def get(self, key):
            return store.get(key)

        def set(self, key, value, ex=None):
            store[key] = value

        def delete(self, key):
            store.pop(key, None)

    monkeypatch.setattr(wechat_mp, 'redis_connection', lambda: FakeRedis())
    tenant = make_tenant()
    with in_tenant(tenant):
        wechat_provider(app, FakeWeChat({'errcode': 0, 'msgid': 1})).send(
            outgoing('wechat', 'o-openid-1', wechat_template_id='TPL'))
    assert store == {f'propsaas:t{tenant.id}:wechat:wx1234567890_access_token': '"TOKEN"'}  # wechatpy stores JSON


# --- through dispatch ----------------------------------------------------------------------------------------------

def test_dispatch_sends_sms_through_aliyun_and_records_the_outcome(compound, in_tenant, aliyun):
    c = compound
    with in_tenant(c.tenant):
        setting = db.session.execute(sa.select(ChannelSetting).where(ChannelSetting.channel == 'sms')).scalar_one()
        setting.provider, setting.config = 'aliyun', ALIYUN_CONFIG
        template = db.session.execute(sa.select(MessageTemplate).where(MessageTemplate.category.is_(None))
                                      .order_by(MessageTemplate.id)).scalars().first()
        template.sms_template_code = 'SMS_777'
        people = [p for p in targeting.recipients(Audience()) if p.resident_id in (
            c.residents['owner_low'], c.residents['renter_high'])]
        fan_out('test:aliyun', people, Content(title='缴费提醒', body='请缴费', short_text='请缴费',
                                               params={'amount': '120.00'}, template_code=template.code),
                channels=['sms'])
        aliyun[1]['body'] = {'Code': 'OK', 'BizId': 'BIZ-1', 'RequestId': 'r'}
        no_quiet_hours(c.tenant.id)  # sent by the wall clock
        report = dispatch_due()
        assert report.sent == 2
        rows = db.session.execute(sa.select(Delivery).join(Message).where(Delivery.channel == 'sms')).scalars().all()
        assert {(d.status, d.provider_ref) for d in rows} == {('sent', 'BIZ-1')}
    assert {request.template_code for _, request, _ in aliyun[0]} == {'SMS_777'}
    assert {request.phone_numbers for _, request, _ in aliyun[0]} == {'13800000001', '13800000002'}
