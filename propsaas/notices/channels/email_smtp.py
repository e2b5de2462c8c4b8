"""E-mail over SMTP: the tenant's own server ('smtp') or the platform's ('platform', from the app config).

Classification: a server that can't be reached, a timeout, a dropped connection or a 4xx reply is transient (retried);
a 5xx reply (recipient refused, sender refused, login refused) is permanent.
"""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr

from flask import current_app

from . import ChannelNotConfigured, Outgoing, SendFailed, provider

SECURITIES = ('ssl', 'starttls', 'none')
DEFAULT_PORTS = {'ssl': 465, 'starttls': 587, 'none': 25}
#: seconds for connecting and for each SMTP command
TIMEOUT = 15


def compose(outgoing: Outgoing, from_address: str, from_name: str = '') -> EmailMessage:
    """A plain-text UTF-8 message: subject = title, the body, and the portal link when there is one."""
    message = EmailMessage()
    message['Subject'] = outgoing.title
    message['From'] = formataddr((from_name, from_address)) if from_name else from_address
    message['To'] = outgoing.address
    message['Date'] = formatdate(localtime=False, usegmt=True)
    domain = from_address.rpartition('@')[2] or None
    message['Message-ID'] = make_msgid(domain=domain)
    body = outgoing.body or outgoing.short_text or outgoing.title
    if outgoing.url:
        body = f'{body}\n\n查看详情：{outgoing.url}\n'
    message.set_content(body, charset='utf-8')
    return message


def _reply(code: int, text) -> str:
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    return f'{code} {text}'.strip()


class SmtpEmail:
    """Sends through one SMTP server. Config: host, port, username, password, security (ssl | starttls | none),
    from_address, from_name."""

    def __init__(self, config: dict):
        self.host = (config.get('host') or '').strip()
        self.security = config.get('security') or 'ssl'
        if self.security not in SECURITIES:
            raise ChannelNotConfigured(f'SMTP 加密方式无效：{self.security}')
        try:
            self.port = int(config.get('port') or DEFAULT_PORTS[self.security])
        except (TypeError, ValueError):
            raise ChannelNotConfigured('SMTP 端口无效') from None
        self.username = config.get('username') or ''
        self.password = config.get('password') or ''
        self.from_address = (config.get('from_address') or '').strip()
        self.from_name = (config.get('from_name') or '').strip()
        if not self.host:
            raise ChannelNotConfigured('未填写 SMTP 服务器地址')
        if not self.from_address:
            raise ChannelNotConfigured('未填写发件人地址')

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.security == 'ssl':
            return smtplib.SMTP_SSL(self.host, self.port, timeout=TIMEOUT, context=context)
        server = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT)
        if self.security == 'starttls':
            server.ehlo()
            server.starttls(context=context)
            server.ehlo()
        return server

    def send(self, outgoing: Outgoing) -> str:
        message = compose(outgoing, self.from_address, self.from_name)
        try:
            with self._connect() as server:
                if self.username:
                    server.login(self.username, self.password)
                server.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (550, b''))
            raise SendFailed(f'收件人被拒绝：{_reply(code, text)}', transient=400 <= code < 500) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise SendFailed(f'SMTP 登录失败，请检查用户名和密码：{_reply(exc.smtp_code, exc.smtp_error)}',
                             transient=400 <= exc.smtp_code < 500) from None
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, any other reply
            raise SendFailed(f'邮件服务器拒绝：{_reply(exc.smtp_code, exc.smtp_error)}',
                             transient=not 500 <= exc.smtp_code < 600) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise SendFailed(f'邮件服务器不支持：{exc}', transient=False) from None
        except (smtplib.SMTPException, OSError) as exc:  # refused connection, timeout, TLS failure, disconnect
            raise SendFailed(f'无法连接邮件服务器 {self.host}:{self.port}：{type(exc).__name__} {exc}'.strip(),
                             transient=True) from None
        return message['Message-ID']


provider('email', 'smtp')(SmtpEmail)


@provider('email', 'platform')
class PlatformEmail(SmtpEmail):
    """The platform's server (SMTP_* in the app config), for tenants without their own. Config: from_name."""

    def __init__(self, config: dict):
        app = current_app.config
        if not app.get('SMTP_HOST') or not app.get('SMTP_FROM'):
            raise ChannelNotConfigured('平台未配置发信服务器（SMTP_HOST / SMTP_FROM），请改用本项目自己的 SMTP 服务器')
        platform_name, platform_address = parseaddr(app['SMTP_FROM'])
        super().__init__({
            'host': app['SMTP_HOST'], 'port': app.get('SMTP_PORT'), 'username': app.get('SMTP_USER'),
            'password': app.get('SMTP_PASSWORD'), 'security': app.get('SMTP_SECURITY') or 'ssl',
            'from_address': platform_address, 'from_name': (config or {}).get('from_name') or platform_name,
        })
