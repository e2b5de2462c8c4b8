"""Channels behind one interface: a provider turns an ``Outgoing`` message into a sent one, or raises ``SendFailed``.

    @provider('sms', 'aliyun')
    class AliyunSms:
        def __init__(self, config: dict): ...
        def send(self, outgoing: Outgoing) -> str | None: ...   # the provider's reference

``SendFailed(reason, transient=True)`` is retried with backoff; ``transient=False`` fails the delivery at once.
Any other exception a provider raises counts as transient, with its message recorded. The inbox is not a
provider: a message is in the inbox as soon as it exists.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ...extensions import db
from ..models import LoggedMessage


@dataclass(frozen=True)
class Outgoing:
    delivery_id: int
    channel: str
    #: mobile, e-mail address or WeChat openid
    address: str
    title: str
    body: str
    #: the short SMS / WeChat text
    short_text: str
    #: the template's variables (providers with approved templates fill them themselves)
    params: dict = field(default_factory=dict)
    template_code: str | None = None
    sms_template_code: str | None = None
    wechat_template_id: str | None = None
    #: absolute portal URL to open, when there is one
    url: str | None = None
    urgent: bool = False


class SendFailed(Exception):
    """The provider refused or could not be reached; ``reason`` is recorded for staff."""

    def __init__(self, reason: str, *, transient: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


class ChannelNotConfigured(SendFailed):
    def __init__(self, reason: str):
        super().__init__(reason, transient=False)


PROVIDERS: dict[tuple[str, str], type] = {}


def provider(channel: str, name: str):
    """Register a provider class for ``channel`` under ``name`` (what ChannelSetting.provider holds)."""

    def decorator(cls):
        PROVIDERS[(channel, name)] = cls
        return cls

    return decorator


def build_provider(channel: str, name: str, config: dict):
    cls = PROVIDERS.get((channel, name))
    if cls is None:
        raise ChannelNotConfigured(f'未知的{channel}服务商：{name}')
    return cls(config or {})


def provider_names(channel: str) -> list[str]:
    return [name for ch, name in PROVIDERS if ch == channel]


class LogProvider:
    """Development and demos: records what would have been sent (staff can read it), sends nothing."""

    def __init__(self, config: dict):
        self.config = config

    def send(self, outgoing: Outgoing) -> str:
        text = outgoing.body if outgoing.channel == 'email' else outgoing.short_text or outgoing.body
        entry = LoggedMessage(channel=outgoing.channel, address=outgoing.address, subject=outgoing.title[:200],
                              text=text, delivery_id=outgoing.delivery_id)
        db.session.add(entry)
        db.session.flush()
        return f'log-{entry.id}'


for _channel in ('sms', 'email', 'wechat'):
    provider(_channel, 'log')(LogProvider)


# The real providers register themselves on import.
from . import email_smtp, sms_aliyun, wechat_mp  # noqa: E402,F401
