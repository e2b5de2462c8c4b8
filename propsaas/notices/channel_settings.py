"""The tenant's channel settings (通知设置): which provider sends SMS, e-mail and WeChat messages, with what
configuration and at what rate, and a test message to check them.

Secrets (passwords, AccessKey secrets, AppSecrets) are write-only: ``public_config`` never returns them, and saving
a blank secret keeps the stored one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from ..errors import DomainError
from ..extensions import db
from .channels import Outgoing, SendFailed, build_provider, provider_names
from .delivery import DEFAULT_RATES
from .models import CHANNEL_NAMES, EXTERNAL_CHANNELS, ChannelSetting, LoggedMessage

MOBILE = re.compile(r'^1\d{10}$')
EMAIL = re.compile(r'^[^@\s]+@[^@\s]+\.[^@\s]+$')
RATE_RANGE = (1, 6000)


@dataclass(frozen=True)
class ConfigField:
    name: str
    label: object
    required: bool = False
    secret: bool = False
    #: 'text', 'port', or 'choice' (with ``choices``)
    kind: str = 'text'
    choices: tuple = ()
    hint: object = ''
    max_length: int = 200


SECURITY_CHOICES = (('ssl', _l('SSL/TLS（常用端口 465）')), ('starttls', _l('STARTTLS（常用端口 587）')),
                    ('none', _l('不加密（端口 25，不推荐）')))

#: each provider's configuration, in the order the form shows it
PROVIDER_FIELDS: dict[tuple[str, str], tuple[ConfigField, ...]] = {
    ('email', 'smtp'): (
        ConfigField('host', _l('SMTP 服务器'), required=True, hint=_l('例如 smtp.exmail.qq.com')),
        ConfigField('port', _l('端口'), kind='port', hint=_l('留空按加密方式取默认值')),
        ConfigField('security', _l('加密方式'), kind='choice', choices=SECURITY_CHOICES),
        ConfigField('username', _l('登录用户名')),
        ConfigField('password', _l('登录密码 / 授权码'), secret=True),
        ConfigField('from_address', _l('发件人地址'), required=True, hint=_l('例如 notice@sunshine-wy.cn')),
        ConfigField('from_name', _l('发件人名称'), hint=_l('例如 阳光物业服务中心'), max_length=60),
    ),
    ('email', 'platform'): (
        ConfigField('from_name', _l('发件人名称'), hint=_l('收件人看到的名称，例如 阳光物业服务中心'), max_length=60),
    ),
    ('sms', 'aliyun'): (
        ConfigField('access_key_id', _l('AccessKey ID'), required=True, max_length=100),
        ConfigField('access_key_secret', _l('AccessKey Secret'), required=True, secret=True, max_length=100),
        ConfigField('sign_name', _l('短信签名'), required=True, max_length=40,
                    hint=_l('在阿里云短信服务控制台审核通过的签名，例如 阳光物业')),
        ConfigField('region', _l('地域'), hint=_l('留空为 cn-hangzhou'), max_length=40),
        ConfigField('endpoint', _l('接入地址'), hint=_l('留空为 dysmsapi.aliyuncs.com'), max_length=100),
    ),
    ('wechat', 'wechat_mp'): (
        ConfigField('app_id', _l('公众号 AppID'), required=True, max_length=64),
        ConfigField('app_secret', _l('公众号 AppSecret'), required=True, secret=True, max_length=64),
    ),
}

PROVIDER_NAMES = {
    'log': _l('仅记录（演示用，不真正发送）'), 'smtp': _l('自有 SMTP 服务器'), 'platform': _l('平台邮件服务器'),
    'aliyun': _l('阿里云短信'), 'wechat_mp': _l('微信公众号模板消息'),
}
ADDRESS_LABELS = {'sms': _l('手机号'), 'email': _l('邮箱地址'), 'wechat': _l('微信 openid')}


def fields_of(channel: str, provider: str) -> tuple[ConfigField, ...]:
    return PROVIDER_FIELDS.get((channel, provider), ())


def provider_label(provider: str):
    return PROVIDER_NAMES.get(provider, provider)


def settings() -> list[ChannelSetting]:
    """The tenant's external channels in order, each created (switched off, 'log') if it is missing."""
    rows = {s.channel: s for s in db.session.execute(sa.select(ChannelSetting)).scalars()}
    return [rows.get(channel) or get_setting(channel) for channel in EXTERNAL_CHANNELS]


def get_setting(channel: str) -> ChannelSetting:
    """One channel's setting (``channel`` must be one of EXTERNAL_CHANNELS); created switched off if missing."""
    if channel not in EXTERNAL_CHANNELS:
        raise ValueError(channel)
    setting = db.session.execute(sa.select(ChannelSetting).where(ChannelSetting.channel == channel)) \
        .scalar_one_or_none()
    if setting is None:
        setting = ChannelSetting(channel=channel, enabled=False, provider='log', config={},
                                 rate_per_minute=DEFAULT_RATES[channel])
        db.session.add(setting)
        db.session.flush()
    return setting


def public_config(setting: ChannelSetting) -> dict:
    """What the page may show: every non-secret value; secrets only as whether one is stored."""
    config = setting.config or {}
    shown = {}
    for f in fields_of(setting.channel, setting.provider):
        shown[f.name] = bool(config.get(f.name)) if f.secret else config.get(f.name)
    return shown


def platform_email_ready() -> bool:
    return bool(current_app.config.get('SMTP_HOST') and current_app.config.get('SMTP_FROM'))


def status_of(setting: ChannelSetting) -> str:
    """A one-line state for the list: 已启用 / 未启用 / 配置不完整."""
    if missing_fields(setting.channel, setting.provider, setting.config or {}):
        return 'incomplete'
    return 'enabled' if setting.enabled else 'disabled'


def missing_fields(channel: str, provider: str, config: dict) -> list[ConfigField]:
    return [f for f in fields_of(channel, provider) if f.required and not str(config.get(f.name) or '').strip()]


def save_setting(setting: ChannelSetting, *, enabled: bool, provider: str, config: dict,
                 rate_per_minute) -> ChannelSetting:
    """Validate and store one channel's setting. ``config`` holds the provider's fields as typed; a blank secret
    keeps the stored one (when the provider is unchanged). Raises DomainError (nothing changed) on bad input."""
    channel = setting.channel
    if provider not in provider_names(channel):
        raise DomainError(_l('请选择发送服务商'), field='provider')
    try:
        rate = int(rate_per_minute)
    except (TypeError, ValueError):
        rate = 0
    if not RATE_RANGE[0] <= rate <= RATE_RANGE[1]:
        raise DomainError(_l('每分钟发送上限须在 %(low)s 到 %(high)s 之间', low=RATE_RANGE[0], high=RATE_RANGE[1]),
                          field='rate_per_minute')
    stored = (setting.config or {}) if setting.provider == provider else {}
    merged: dict = {}
    for f in fields_of(channel, provider):
        value = config.get(f.name)
        value = '' if value is None else str(value).strip()
        if f.secret and not value:
            value = stored.get(f.name) or ''
        if len(value) > f.max_length:
            raise DomainError(_l('%(label)s最多 %(n)s 个字符', label=f.label, n=f.max_length), field=f.name)
        if f.kind == 'port' and value:
            if not value.isdigit() or not 0 < int(value) < 65536:
                raise DomainError(_l('端口须是 1 到 65535 之间的数字'), field=f.name)
            value = int(value)
        if f.kind == 'choice' and value and value not in {code for code, _ in f.choices}:
            raise DomainError(_l('请选择%(label)s', label=f.label), field=f.name)
        if f.name == 'from_address' and value and not EMAIL.match(value):
            raise DomainError(_l('发件人地址不是有效的邮箱地址'), field=f.name)
        if value not in ('', None):
            merged[f.name] = value
    if enabled:
        missing = missing_fields(channel, provider, merged)
        if missing:
            raise DomainError(_l('启用%(provider)s前请填写：%(fields)s', provider=provider_label(provider),
                                 fields='、'.join(str(f.label) for f in missing)), field=missing[0].name)
        if (channel, provider) == ('email', 'platform') and not platform_email_ready():
            raise DomainError(_l('平台尚未配置邮件服务器，请选择“自有 SMTP 服务器”并填写服务器信息'), field='provider')
    setting.enabled = bool(enabled)
    setting.provider = provider
    setting.config = merged
    setting.rate_per_minute = rate
    return setting


@dataclass
class TestResult:
    ok: bool
    #: the provider's reference on success, its reason otherwise
    answer: str
    details: dict = field(default_factory=dict)


def send_test(setting: ChannelSetting, address: str, *, template: str = '', project_name: str = '') -> TestResult:
    """Send one test message to ``address`` through the channel's stored provider and return its answer.

    Creates no message or delivery (the 'log' provider records it like any other). Raises DomainError for an
    address that is not one of this channel's kind."""
    channel = setting.channel
    address = (address or '').strip()
    template = (template or '').strip()
    if channel == 'sms' and not MOBILE.match(address):
        raise DomainError(_l('请填写 11 位手机号'), field='address')
    if channel == 'email' and (not EMAIL.match(address) or len(address) > 254):
        raise DomainError(_l('请填写有效的邮箱地址'), field='address')
    if channel == 'wechat' and not re.match(r'^[A-Za-z0-9_-]{6,64}$', address):
        raise DomainError(_l('请填写关注公众号的用户 openid'), field='address')
    if len(template) > 64:
        raise DomainError(_l('模板编号最多 64 个字符'), field='template')
    title = f'{project_name}测试消息' if project_name else '测试消息'
    text = f'这是一条来自{project_name or "物业"}的测试消息，收到说明{CHANNEL_NAMES[channel]}通知设置正确。'
    outgoing = Outgoing(
        delivery_id=None, channel=channel, address=address, title=title, body=text, short_text=text,
        params={'name': '测试', 'project_name': project_name},
        sms_template_code=template or None if channel == 'sms' else None,
        wechat_template_id=template or None if channel == 'wechat' else None)
    try:
        reference = build_provider(channel, setting.provider, setting.config or {}).send(outgoing)
    except SendFailed as exc:
        return TestResult(False, exc.reason, {'transient': exc.transient})
    except Exception as exc:  # a provider's unexpected error: shown, not a 500
        return TestResult(False, f'{type(exc).__name__}: {exc}'[:300])
    return TestResult(True, reference or '')


def logged_messages_query():
    """What the 'log' provider recorded, newest first."""
    return sa.select(LoggedMessage).order_by(LoggedMessage.id.desc())
