"""通知设置: a resident's e-mail, WeChat binding and refused channels — the service and the portal page."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from propsaas.auth.models import User
from propsaas.errors import DomainError
from propsaas.extensions import db
from propsaas.notices import preferences, targeting
from propsaas.notices.delivery import Content, fan_out
from propsaas.notices.models import ChannelPreference, ChannelSetting, Delivery, Message
from propsaas.notices.targeting import Audience
from propsaas.residents.models import Resident

PAGE = '/account/notifications'
CONTENT = Content(title='停水通知', body='明天停水', short_text='【通知小区】明天停水')


def user(user_id: int) -> User:
    return db.session.get(User, user_id)


def stored(resident_id: int) -> ChannelPreference | None:
    return db.session.execute(sa.select(ChannelPreference).where(ChannelPreference.resident_id == resident_id)
                              ).scalar_one_or_none()


def sms_recipients(source_key: str) -> set[int]:
    return set(db.session.execute(sa.select(Message.resident_id).join(Delivery, Delivery.message_id == Message.id)
                                  .where(Message.source_key == source_key, Delivery.channel == 'sms')).scalars())


# --- the service -------------------------------------------------------------------------------------------------

def test_preferences_show_what_the_resident_has_without_the_openid(compound, in_tenant):
    c = compound
    with in_tenant(c.tenant):
        prefs = preferences.get_preferences(user(c.owner_low_user))
    assert prefs.email == 'owner.low@example.cn' and prefs.wechat_bound is True
    assert prefs.mobile == '138****0001' and prefs.opted_out == ()
    assert prefs.enabled_channels == ('sms', 'email', 'wechat')
    assert 'o-owner-low-openid' not in repr(prefs)


def test_update_applies_to_every_resident_record_and_creates_missing_rows(compound, in_tenant):
    c = compound
    with in_tenant(c.tenant) as session:
        second = Resident(name='李高层', mobile='13800000002', user_id=c.renter_high_user)
        session.add(second)
        session.flush()
        second_id = second.id
    with in_tenant(c.tenant):
        prefs = preferences.update_preferences(user(c.renter_high_user), ' Li.High@Example.CN ', ['wechat', 'sms'])
    assert prefs.email == 'li.high@example.cn' and prefs.opted_out == ('sms', 'wechat')
    with in_tenant(c.tenant):
        for resident_id in (c.residents['renter_high'], second_id):
            row = stored(resident_id)
            assert row.email == 'li.high@example.cn' and row.opted_out == ['sms', 'wechat']
        # empty clears the address (the login e-mail is used then) and the opt-outs
        prefs = preferences.update_preferences(user(c.renter_high_user), '', [])
        assert prefs.email == '' and prefs.opted_out == ()
        assert stored(second_id).email is None


@pytest.mark.parametrize(('email', 'opted_out', 'words'), [
    ('not-an-email', [], '邮箱格式不正确'),
    ('a@b.cn', ['inbox'], '站内消息不能关闭'),
    ('a@b.cn', ['fax'], '不认识的通知渠道'),
])
def test_bad_input_is_refused_in_chinese_and_nothing_changes(compound, in_tenant, email, opted_out, words):
    c = compound
    with in_tenant(c.tenant):
        with pytest.raises(DomainError) as refused:
            preferences.update_preferences(user(c.owner_low_user), email, opted_out)
        assert words in str(refused.value.message)
        db.session.rollback()
        row = stored(c.residents['owner_low'])
        assert row.email == 'owner.low@example.cn' and row.opted_out == []


def test_a_resident_login_without_a_resident_record_is_told_whom_to_ask(compound, make_user, in_tenant):
    lonely = make_user(compound.tenant, 'resident')
    with in_tenant(compound.tenant):
        for call in (lambda u: preferences.get_preferences(u), lambda u: preferences.update_preferences(u, '', [])):
            with pytest.raises(DomainError) as refused:
                call(user(lonely))
            assert str(refused.value.message) == '你的账号还没有关联到住户信息，请联系物业服务中心'


def test_opt_out_is_respected_for_normal_messages_and_ignored_for_urgent_ones(compound, in_tenant):
    c = compound
    with in_tenant(c.tenant):
        preferences.update_preferences(user(c.renter_high_user), '', ['sms'])
    with in_tenant(c.tenant):
        people = targeting.recipients(Audience())
        fan_out('test:normal', people, CONTENT, channels=['sms'])
        fan_out('test:urgent', people, CONTENT, channels=['sms'], urgent=True)
        assert c.residents['renter_high'] not in sms_recipients('test:normal')
        assert c.residents['owner_low'] in sms_recipients('test:normal')
        assert c.residents['renter_high'] in sms_recipients('test:urgent')


# --- the page ----------------------------------------------------------------------------------------------------

def test_page_shows_the_settings_and_the_wechat_binding(compound, client_for):
    c = compound
    page = client_for(c.tenant, c.renter_high_user).get(PAGE)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '通知设置' in html and 'portal' in html
    assert '紧急通知' in html  # urgent messages ignore the settings: the page says so
    assert '138****0002' in html and '13800000002' not in html
    assert 'href="/wechat/bind"' in html and '未绑定' in html
    bound = client_for(c.tenant, c.owner_low_user).get(PAGE).get_data(as_text=True)
    assert '已绑定' in bound and 'o-owner-low-openid' not in bound


def test_page_saves_opt_outs_and_fan_out_respects_them(compound, client_for, in_tenant):
    c = compound
    client = client_for(c.tenant, c.renter_high_user)
    saved = client.post(PAGE, data={'email': 'li@example.cn', 'receive_email': 'y', 'receive_wechat': 'y'})
    assert saved.status_code == 302
    assert '通知设置已保存' in client.get(PAGE).get_data(as_text=True)
    with in_tenant(c.tenant):
        row = stored(c.residents['renter_high'])
        assert (row.email, row.opted_out) == ('li@example.cn', ['sms'])
        fan_out('test:page', targeting.recipients(Audience()), CONTENT, channels=['sms', 'email'])
        assert c.residents['renter_high'] not in sms_recipients('test:page')


def test_page_refuses_a_bad_email_in_chinese_and_saves_nothing(compound, client_for, in_tenant):
    c = compound
    response = client_for(c.tenant, c.owner_low_user).post(PAGE, data={'email': 'owner@@example', 'receive_sms': 'y'})
    assert response.status_code == 422
    assert '邮箱格式不正确' in response.get_data(as_text=True)
    with in_tenant(c.tenant):
        row = stored(c.residents['owner_low'])
        assert (row.email, row.opted_out) == ('owner.low@example.cn', [])


def test_channels_the_project_switched_off_are_not_shown_and_keep_their_setting(compound, client_for, in_tenant):
    c = compound
    with in_tenant(c.tenant):
        preferences.update_preferences(user(c.owner_low_user), 'owner.low@example.cn', ['wechat'])
        db.session.execute(sa.update(ChannelSetting).where(ChannelSetting.channel == 'wechat').values(enabled=False))
    client = client_for(c.tenant, c.owner_low_user)
    html = client.get(PAGE).get_data(as_text=True)
    assert 'receive_wechat' not in html and '/wechat/bind' not in html
    assert client.post(PAGE, data={'email': '', 'receive_sms': 'y'}).status_code == 302
    with in_tenant(c.tenant):
        assert stored(c.residents['owner_low']).opted_out == ['email', 'wechat']


def test_page_without_a_resident_record_explains_and_staff_may_not_open_it(compound, client_for, make_user):
    c = compound
    lonely = make_user(c.tenant, 'resident')
    page = client_for(c.tenant, lonely).get(PAGE)
    assert page.status_code == 200 and '还没有关联到住户信息' in page.get_data(as_text=True)
    assert client_for(c.tenant, lonely).post(PAGE, data={'email': ''}).status_code == 422
    assert client_for(c.tenant, c.desk).get(PAGE).status_code == 403
    assert client_for(c.tenant).get(PAGE).status_code in (302, 401)
