"""公众号绑定: a resident links their WeChat openid through WeChat's OAuth (the code exchange is mocked)."""
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from wechatpy.exceptions import WeChatOAuthException
from wechatpy.oauth import WeChatOAuth

from propsaas.extensions import db
from propsaas.notices import wechat_binding
from propsaas.notices.models import ChannelPreference, ChannelSetting
from propsaas.residents.models import Resident


@pytest.fixture
def wechat_on(compound, in_tenant):
    with in_tenant(compound.tenant):
        row = db.session.execute(sa.select(ChannelSetting).where(ChannelSetting.channel == 'wechat')).scalar_one()
        row.enabled, row.provider = True, 'wechat_mp'
        row.config = {'app_id': 'wx0123456789', 'app_secret': 'WeChat-Secret-77'}
    return compound


@pytest.fixture
def exchange(monkeypatch):
    """WeChat's answer to the code exchange: {'openid': ...} or an exception to raise; records the codes."""
    seen, answer = [], {'value': {'access_token': 'AT', 'openid': 'o-new-openid-123', 'scope': 'snsapi_base'}}

    def fetch_access_token(self, code):
        seen.append((self.app_id, self.secret, code))
        if isinstance(answer['value'], Exception):
            raise answer['value']
        return answer['value']

    monkeypatch.setattr(WeChatOAuth, 'fetch_access_token', fetch_access_token)
    return seen, answer


def openids(in_tenant, tenant, resident_ids) -> dict:
    with in_tenant(tenant):
        rows = db.session.execute(sa.select(ChannelPreference).where(ChannelPreference.resident_id.in_(resident_ids)))
        return {p.resident_id: p.wechat_openid for p in rows.scalars()}


def start(client) -> str:
    """Open /wechat/bind and return the state WeChat would hand back."""
    answer = client.get('/wechat/bind')
    assert answer.status_code == 302
    target = urlsplit(answer.headers['Location'])
    assert target.netloc == 'open.weixin.qq.com'
    query = parse_qs(target.query)
    assert query['appid'] == ['wx0123456789'] and query['scope'] == ['snsapi_base']
    assert query['redirect_uri'][0].endswith('/wechat/bind/callback')
    return query['state'][0]


def test_a_resident_binds_their_wechat(wechat_on, client_for, in_tenant, exchange):
    c = wechat_on
    # the renter has no preferences row yet: it is created
    client = client_for(c.tenant, c.renter_high_user)
    state = start(client)
    done = client.get(f'/wechat/bind/callback?code=CODE-1&state={state}')
    assert done.status_code == 200 and '绑定成功' in done.get_data(as_text=True)
    assert exchange[0] == [('wx0123456789', 'WeChat-Secret-77', 'CODE-1')]
    renter = c.residents['renter_high']
    assert openids(in_tenant, c.tenant, [renter]) == {renter: 'o-new-openid-123'}
    assert '已绑定微信' in client.get('/wechat').get_data(as_text=True)


def test_every_resident_record_of_the_user_is_bound(wechat_on, client_for, in_tenant, exchange):
    c = wechat_on
    with in_tenant(c.tenant):
        second = Resident(name='王低层', mobile='13800000001', user_id=c.owner_low_user)
        db.session.add(second)
        db.session.flush()
        second_id = second.id
    client = client_for(c.tenant, c.owner_low_user)
    assert client.get(f'/wechat/bind/callback?code=C&state={start(client)}').status_code == 200
    assert openids(in_tenant, c.tenant, [c.residents['owner_low'], second_id]) == {
        c.residents['owner_low']: 'o-new-openid-123', second_id: 'o-new-openid-123'}
    with in_tenant(c.tenant):  # the e-mail on the existing row is kept
        pref = db.session.execute(sa.select(ChannelPreference).where(
            ChannelPreference.resident_id == c.residents['owner_low'])).scalar_one()
        assert pref.email == 'owner.low@example.cn'


@pytest.mark.parametrize('state', ['', 'garbage', 'eyJhIjoxfQ.abc.def'])
def test_a_bad_state_is_refused_and_nothing_saved(wechat_on, client_for, in_tenant, exchange, state):
    c = wechat_on
    client = client_for(c.tenant, c.renter_high_user)
    answer = client.get(f'/wechat/bind/callback?code=C&state={state}')
    assert answer.status_code == 400 and '绑定链接无效' in answer.get_data(as_text=True)
    assert exchange[0] == []
    assert openids(in_tenant, c.tenant, [c.residents['renter_high']]) == {}


def test_an_expired_state_is_refused(wechat_on, client_for, in_tenant, exchange, monkeypatch):
    c = wechat_on
    client = client_for(c.tenant, c.renter_high_user)
    state = start(client)
    monkeypatch.setattr(wechat_binding, 'STATE_MAX_AGE', -1)  # issued "too long ago"
    answer = client.get(f'/wechat/bind/callback?code=C&state={state}')
    assert answer.status_code == 400 and '已过期' in answer.get_data(as_text=True)
    assert openids(in_tenant, c.tenant, [c.residents['renter_high']]) == {}


def test_another_users_state_is_refused(wechat_on, client_for, in_tenant, exchange):
    c = wechat_on
    state = start(client_for(c.tenant, c.owner_low_user))
    answer = client_for(c.tenant, c.renter_high_user).get(f'/wechat/bind/callback?code=C&state={state}')
    assert answer.status_code == 400 and '不属于当前账号' in answer.get_data(as_text=True)
    assert openids(in_tenant, c.tenant, [c.residents['renter_high']]) == {}


def test_a_failed_exchange_is_a_400_with_the_reason(wechat_on, client_for, in_tenant, exchange):
    c = wechat_on
    exchange[1]['value'] = WeChatOAuthException(40029, 'invalid code')
    client = client_for(c.tenant, c.renter_high_user)
    answer = client.get(f'/wechat/bind/callback?code=C&state={start(client)}')
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert '微信授权失败' in html and '40029' in html
    assert openids(in_tenant, c.tenant, [c.residents['renter_high']]) == {}


def test_a_user_without_resident_records_is_told(wechat_on, client_for, make_user, exchange):
    c = wechat_on
    client = client_for(c.tenant, make_user(c.tenant, 'resident'))
    answer = client.get(f'/wechat/bind/callback?code=C&state={start(client)}')
    assert answer.status_code == 400 and '还没有关联住户档案' in answer.get_data(as_text=True)


def test_unbind_clears_the_openid(wechat_on, client_for, in_tenant):
    c = wechat_on
    client = client_for(c.tenant, c.owner_low_user)
    answer = client.post('/wechat/unbind')
    assert answer.status_code == 302
    assert openids(in_tenant, c.tenant, [c.residents['owner_low']]) == {c.residents['owner_low']: None}


def test_binding_is_unavailable_unless_the_wechat_channel_is_on(compound, client_for):
    client = client_for(compound.tenant, compound.renter_high_user)
    answer = client.get('/wechat/bind')
    assert answer.status_code == 404 and '还没有开通微信公众号通知' in answer.get_data(as_text=True)
    assert '还没有开通' in client.get('/wechat').get_data(as_text=True)


def test_staff_cannot_bind(wechat_on, client_for):
    assert client_for(wechat_on.tenant, wechat_on.admin).get('/wechat/bind').status_code == 403


def test_a_state_from_another_tenant_is_refused(wechat_on, client_for, in_tenant, make_tenant, make_user, app):
    c = wechat_on
    other = make_tenant()
    with in_tenant(other):
        state = wechat_binding.make_state(c.renter_high_user)  # same user id, signed on another tenant
    answer = client_for(c.tenant, c.renter_high_user).get(f'/wechat/bind/callback?code=C&state={state}')
    assert answer.status_code == 400
