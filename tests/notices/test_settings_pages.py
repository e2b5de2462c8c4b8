"""Channel settings (通知设置) and message templates (消息模板) pages, as an admin and the service desk use them."""
import re

import pytest
import sqlalchemy as sa

from propsaas.extensions import db
from propsaas.notices.channels import email_smtp
from propsaas.notices.models import ChannelSetting, Delivery, LoggedMessage, Message, MessageTemplate
from tests.helpers import count_queries

SMTP_FORM = {'enabled': 'y', 'provider': 'smtp', 'rate_per_minute': '100', 'smtp__host': 'smtp.exmail.qq.com',
             'smtp__port': '465', 'smtp__security': 'ssl', 'smtp__username': 'notice@sun.cn',
             'smtp__password': 'Top-Secret-pw-1', 'smtp__from_address': 'notice@sun.cn',
             'smtp__from_name': '阳光物业'}
ALIYUN_FORM = {'enabled': 'y', 'provider': 'aliyun', 'rate_per_minute': '60', 'aliyun__access_key_id': 'LTAIabc',
               'aliyun__access_key_secret': 'Aliyun-Secret-42', 'aliyun__sign_name': '阳光物业'}


def setting(in_tenant, tenant, channel) -> ChannelSetting:
    with in_tenant(tenant):
        row = db.session.execute(sa.select(ChannelSetting).where(ChannelSetting.channel == channel)).scalar_one()
        db.session.expunge(row)
        return row


def test_admin_sees_every_channel(compound, client_for):
    page = client_for(compound.tenant, compound.admin).get('/settings/channels')
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in ('短信', '邮件', '微信'):
        assert name in html
    assert '/settings/channels/sms' in html and '/settings/channels/wechat' in html


def test_admin_configures_smtp_and_the_password_is_never_shown(compound, client_for, in_tenant):
    client = client_for(compound.tenant, compound.admin)
    saved = client.post('/settings/channels/email', data=SMTP_FORM)
    assert saved.status_code == 302
    stored = setting(in_tenant, compound.tenant, 'email')
    assert (stored.enabled, stored.provider, stored.rate_per_minute) == (True, 'smtp', 100)
    assert stored.config['password'] == 'Top-Secret-pw-1' and stored.config['port'] == 465
    page = client.get('/settings/channels/email').get_data(as_text=True)
    assert 'Top-Secret-pw-1' not in page
    assert '已设置' in page and 'smtp.exmail.qq.com' in page
    # saved again with the password left blank: the stored one stays
    again = client.post('/settings/channels/email', data={**SMTP_FORM, 'smtp__password': '', 'rate_per_minute': '90'})
    assert again.status_code == 302
    stored = setting(in_tenant, compound.tenant, 'email')
    assert stored.config['password'] == 'Top-Secret-pw-1' and stored.rate_per_minute == 90
    listing = client.get('/settings/channels').get_data(as_text=True)
    assert 'Top-Secret-pw-1' not in listing and '自有 SMTP 服务器' in listing


def test_secrets_of_every_provider_stay_out_of_the_page(compound, client_for):
    client = client_for(compound.tenant, compound.admin)
    assert client.post('/settings/channels/sms', data=ALIYUN_FORM).status_code == 302
    assert client.post('/settings/channels/wechat', data={
        'enabled': 'y', 'provider': 'wechat_mp', 'rate_per_minute': '300', 'wechat_mp__app_id': 'wx0123456789',
        'wechat_mp__app_secret': 'WeChat-Secret-77'}).status_code == 302
    sms = client.get('/settings/channels/sms').get_data(as_text=True)
    wechat = client.get('/settings/channels/wechat').get_data(as_text=True)
    assert 'Aliyun-Secret-42' not in sms and 'LTAIabc' in sms
    assert 'WeChat-Secret-77' not in wechat and 'wx0123456789' in wechat


@pytest.mark.parametrize('form, message', [
    ({**ALIYUN_FORM, 'aliyun__sign_name': ''}, '短信签名'),
    ({**ALIYUN_FORM, 'rate_per_minute': '0'}, '每分钟发送上限'),
    ({**ALIYUN_FORM, 'rate_per_minute': '6001'}, '每分钟发送上限'),
    ({**ALIYUN_FORM, 'rate_per_minute': 'abc'}, '每分钟发送上限'),
    ({**ALIYUN_FORM, 'provider': 'nonsense'}, '发送服务商'),
])
def test_bad_sms_settings_are_refused_in_chinese_and_nothing_is_saved(compound, client_for, in_tenant, form, message):
    before = setting(in_tenant, compound.tenant, 'sms')
    answer = client_for(compound.tenant, compound.admin).post('/settings/channels/sms', data=form)
    assert answer.status_code == 422
    assert message in answer.get_data(as_text=True)
    after = setting(in_tenant, compound.tenant, 'sms')
    assert (after.provider, after.config, after.rate_per_minute) == (before.provider, before.config,
                                                                      before.rate_per_minute)


def test_bad_smtp_settings_are_refused(compound, client_for, in_tenant):
    client = client_for(compound.tenant, compound.admin)
    answer = client.post('/settings/channels/email', data={**SMTP_FORM, 'smtp__port': '99999'})
    assert answer.status_code == 422 and '端口' in answer.get_data(as_text=True)
    answer = client.post('/settings/channels/email', data={**SMTP_FORM, 'smtp__from_address': 'not-an-address'})
    assert answer.status_code == 422 and '发件人地址' in answer.get_data(as_text=True)
    assert setting(in_tenant, compound.tenant, 'email').provider == 'log'


def test_platform_email_is_refused_when_the_platform_has_no_server(compound, client_for, app, monkeypatch):
    monkeypatch.setitem(app.config, 'SMTP_HOST', None)
    answer = client_for(compound.tenant, compound.admin).post('/settings/channels/email', data={
        'enabled': 'y', 'provider': 'platform', 'rate_per_minute': '60', 'platform__from_name': '阳光物业'})
    assert answer.status_code == 422 and '平台尚未配置邮件服务器' in answer.get_data(as_text=True)


def test_a_disabled_channel_may_be_saved_incomplete(compound, client_for, in_tenant):
    answer = client_for(compound.tenant, compound.admin).post('/settings/channels/sms', data={
        'provider': 'aliyun', 'rate_per_minute': '60', 'aliyun__access_key_id': 'LTAIabc'})
    assert answer.status_code == 302
    stored = setting(in_tenant, compound.tenant, 'sms')
    assert (stored.enabled, stored.provider, stored.config) == (False, 'aliyun', {'access_key_id': 'LTAIabc'})


@pytest.mark.parametrize('who', ['desk', 'tech', 'owner_low_user'])
def test_only_admins_reach_the_channel_settings(compound, client_for, who):
    client = client_for(compound.tenant, getattr(compound, who))
    assert client.get('/settings/channels').status_code == 403
    assert client.get('/settings/channels/sms').status_code == 403
    assert client.post('/settings/channels/sms', data=ALIYUN_FORM).status_code == 403


def test_an_unknown_channel_is_404(compound, client_for):
    assert client_for(compound.tenant, compound.admin).get('/settings/channels/fax').status_code == 404


def test_test_message_through_the_log_provider(compound, client_for, in_tenant):
    client = client_for(compound.tenant, compound.admin)
    answer = client.post('/settings/channels/sms/test', data={'address': '13912345678'})
    assert answer.status_code == 200
    assert '发送成功' in answer.get_data(as_text=True)
    with in_tenant(compound.tenant):
        logged = db.session.execute(sa.select(LoggedMessage)).scalars().all()
        assert [(m.channel, m.address, m.delivery_id) for m in logged] == [('sms', '13912345678', None)]
        assert db.session.execute(sa.select(sa.func.count()).select_from(Delivery)).scalar_one() == 0
        assert db.session.execute(sa.select(sa.func.count()).select_from(Message)).scalar_one() == 0


def test_test_message_shows_the_providers_reason(compound, client_for, monkeypatch):
    class Refusing(email_smtp.SmtpEmail):
        def _connect(self):
            raise ConnectionRefusedError(111, 'Connection refused')

    from propsaas.notices import channels
    monkeypatch.setitem(channels.PROVIDERS, ('email', 'smtp'), Refusing)
    client = client_for(compound.tenant, compound.admin)
    client.post('/settings/channels/email', data=SMTP_FORM)
    answer = client.post('/settings/channels/email/test', data={'address': 'me@example.cn'})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert '发送失败' in html and '无法连接邮件服务器' in html
    assert 'Top-Secret-pw-1' not in html


def test_test_message_to_a_bad_address_is_refused(compound, client_for):
    answer = client_for(compound.tenant, compound.admin).post('/settings/channels/sms/test',
                                                              data={'address': '12345'})
    assert answer.status_code == 422 and '11 位手机号' in answer.get_data(as_text=True)


def test_test_message_to_aliyun_without_a_template_code_explains(compound, client_for):
    client = client_for(compound.tenant, compound.admin)
    client.post('/settings/channels/sms', data=ALIYUN_FORM)
    answer = client.post('/settings/channels/sms/test', data={'address': '13912345678'})
    assert answer.status_code == 200 and '阿里云模板 CODE' in answer.get_data(as_text=True)


def test_log_page_lists_what_would_have_been_sent_with_masked_mobiles(compound, client_for, in_tenant, app):
    with in_tenant(compound.tenant):
        for n in range(35):
            db.session.add(LoggedMessage(channel='sms', address=f'139000000{n:02d}', text=f'短信内容{n}'))
        db.session.add(LoggedMessage(channel='email', address='a@example.cn', subject='停水通知', text='明天停水'))
    client = client_for(compound.tenant, compound.admin)
    with count_queries(app) as statements:
        page = client.get('/settings/channels/log')
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '停水通知' in html and '139****0034' in html
    assert not re.search(r'139000000\d\d', html)
    assert len(statements) < 15
    second = client.get('/settings/channels/log?page=2').get_data(as_text=True)
    assert '短信内容0' in second


# --- message templates ---------------------------------------------------------------------------------------------

def template_id(in_tenant, tenant, *, announcement: bool) -> int:
    with in_tenant(tenant):
        query = sa.select(MessageTemplate).where(
            MessageTemplate.category.is_not(None) if announcement else MessageTemplate.category.is_(None))
        return db.session.execute(query.order_by(MessageTemplate.id)).scalars().first().id


def test_service_desk_lists_both_kinds_of_templates(compound, client_for, in_tenant):
    page = client_for(compound.tenant, compound.desk).get('/settings/message-templates')
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '系统消息' in html and '公告模板' in html
    assert f'/settings/message-templates/{template_id(in_tenant, compound.tenant, announcement=False)}' in html
    assert f'/settings/message-templates/{template_id(in_tenant, compound.tenant, announcement=True)}' in html


def test_technicians_and_residents_may_not_edit_templates(compound, client_for, in_tenant):
    tid = template_id(in_tenant, compound.tenant, announcement=False)
    for who in (compound.tech, compound.owner_low_user):
        client = client_for(compound.tenant, who)
        assert client.get('/settings/message-templates').status_code == 403
        assert client.get(f'/settings/message-templates/{tid}').status_code == 403


def test_another_tenants_template_is_404(compound, client_for, in_tenant, make_tenant, make_user):
    other = make_tenant()
    tid = template_id(in_tenant, compound.tenant, announcement=False)
    client = client_for(other, make_user(other, 'admin'))
    assert client.get(f'/settings/message-templates/{tid}').status_code == 404


def test_editing_a_template_saves_it_and_shows_its_variables(compound, client_for, in_tenant):
    tid = template_id(in_tenant, compound.tenant, announcement=False)
    with in_tenant(compound.tenant):
        variables = db.session.get(MessageTemplate, tid).variables
    client = client_for(compound.tenant, compound.desk)
    page = client.get(f'/settings/message-templates/{tid}').get_data(as_text=True)
    assert '{name}' in page and '{project_name}' in page
    for v in variables:
        assert f'{{{v}}}' in page
    used = ''.join(f'{{{v}}}' for v in variables[:1])
    saved = client.post(f'/settings/message-templates/{tid}', data={
        'title': '新标题', 'body': f'{{name}}您好，{used}', 'sms_text': '短信{project_name}',
        'channels': ['sms', 'wechat'],
        'sms_template_code': 'SMS_42', 'wechat_template_id': 'TPL-42'})
    assert saved.status_code == 302
    with in_tenant(compound.tenant):
        template = db.session.get(MessageTemplate, tid)
        assert (template.title, template.channels, template.sms_template_code, template.wechat_template_id) == (
            '新标题', ['sms', 'wechat'], 'SMS_42', 'TPL-42')


def test_a_template_using_an_unknown_placeholder_is_refused(compound, client_for, in_tenant):
    tid = template_id(in_tenant, compound.tenant, announcement=False)
    with in_tenant(compound.tenant):
        before = db.session.get(MessageTemplate, tid).body
    answer = client_for(compound.tenant, compound.admin).post(f'/settings/message-templates/{tid}', data={
        'title': '标题', 'body': '请于{payday_secret}前缴费', 'sms_text': ''})
    assert answer.status_code == 422
    assert '{payday_secret}' in answer.get_data(as_text=True)
    with in_tenant(compound.tenant):
        assert db.session.get(MessageTemplate, tid).body == before


def test_announcement_templates_may_use_the_notice_placeholders(compound, client_for, in_tenant):
    tid = template_id(in_tenant, compound.tenant, announcement=True)
    saved = client_for(compound.tenant, compound.desk).post(f'/settings/message-templates/{tid}', data={
        'title': '{notice_date}停水通知', 'body': '{time_range}停水，范围：{scope}。{company_name}', 'sms_text': ''})
    assert saved.status_code == 302


def test_navigation_shows_the_settings_to_admins(compound, client_for):
    html = client_for(compound.tenant, compound.admin).get('/settings/channels').get_data(as_text=True)
    assert '通知设置' in html and '消息模板' in html
