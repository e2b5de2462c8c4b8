"""WeChat official account (微信公众号) template messages through wechatpy.

The access token is cached in Redis under the tenant's prefix when REDIS_URL is set, so every worker shares one
token (WeChat allows 2000 token fetches a day). Without Redis it is cached in this process's memory only, per tenant
and app id: acceptable for the single-process default, not for a fleet of workers.

The new template format has no 'first'/'remark' fields: the message's variables are sent as the template's data
keys as they are ({'thing1': {'value': ...}}), so the template's keys are the message template's variables.
"""
from __future__ import annotations

import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.memorystorage import MemoryStorage
from wechatpy.session.redisstorage import RedisStorage

from ...jobs.queue import redis_connection
from ...tenancy.context import current_tenant_id
from . import ChannelNotConfigured, Outgoing, SendFailed, provider

#: seconds per WeChat API call
TIMEOUT = 10
#: retry later: system busy, API frequency limit, a stale access token (dropped from the cache first)
TRANSIENT_ERRCODES = frozenset({-1, 45009, 45047})
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
REASONS = {
    43004: '用户未关注公众号或已取消关注',
    40003: 'openid 无效（不是本公众号的用户）',
    40037: '微信模板 ID 无效，请在“消息模板”页面检查',
    47003: '模板参数不正确，请检查微信模板的字段名与消息变量是否一致',
    40013: '公众号 AppID 无效',
    40125: '公众号 AppSecret 无效',
    40164: '服务器 IP 不在公众号的 IP 白名单中',
    45009: '接口调用超过每日限额',
    -1: '微信系统繁忙',
}

#: per process: (tenant id, app id) -> storage, when there is no Redis
_MEMORY: dict[tuple[int | None, str], MemoryStorage] = {}


class TimeoutSession(requests.Session):
    """wechatpy leaves some calls (the token fetch, OAuth) without a timeout: give every call one."""

    def request(self, method, url, *args, **kwargs):
        if kwargs.get('timeout') is None:
            kwargs['timeout'] = TIMEOUT
        return super().request(method, url, *args, **kwargs)


def token_storage(app_id: str):
    tenant_id = current_tenant_id()
    redis = redis_connection()
    if redis is not None:
        return RedisStorage(redis, prefix=f'propsaas:t{tenant_id}:wechat')
    return _MEMORY.setdefault((tenant_id, app_id), MemoryStorage())


def classify(errcode, errmsg) -> SendFailed:
    """A WeChat error as a failure staff understand: transient (busy, limits, stale token, network) or not."""
    if errcode is None:
        return SendFailed(f'无法连接微信服务器：{errmsg or ""}'.strip('：'), transient=True)
    detail = f'{errcode} {errmsg or ""}'.strip()
    reason = REASONS.get(errcode)
    text = f'微信：{reason}（{detail}）' if reason else f'微信返回错误：{detail}'
    return SendFailed(text, transient=errcode in TRANSIENT_ERRCODES or errcode in TOKEN_ERRCODES)


class WeChatMp:
    """Config: app_id, app_secret (the official account's 开发者ID and 开发者密码)."""

    def __init__(self, config: dict):
        self.app_id = (config.get('app_id') or '').strip()
        app_secret = config.get('app_secret') or ''
        if not self.app_id or not app_secret:
            raise ChannelNotConfigured('未填写公众号 AppID / AppSecret')
        # auto_retry off: wechatpy would refetch the token and retry without end on a token error
        self.client = WeChatClient(self.app_id, app_secret, session=token_storage(self.app_id), timeout=TIMEOUT,
                                   auto_retry=False)
        self.client._http = TimeoutSession()

    def send(self, outgoing: Outgoing) -> str:
        if not outgoing.wechat_template_id:
            raise ChannelNotConfigured('该消息没有微信模板 ID：请在“消息模板”页面填写微信模板 ID')
        data = {key: {'value': str(value)} for key, value in (outgoing.params or {}).items()}
        try:
            result = self.client.message.send_template(outgoing.address, outgoing.wechat_template_id, data,
                                                       url=outgoing.url)
        except WeChatClientException as exc:
            if exc.errcode in TOKEN_ERRCODES:
                self.client.session.delete(self.client.access_token_key)
            raise classify(exc.errcode, exc.errmsg) from None
        except requests.RequestException as exc:
            raise SendFailed(f'无法连接微信服务器：{type(exc).__name__}', transient=True) from None
        return str(result.get('msgid') or '')


provider('wechat', 'wechat_mp')(WeChatMp)
