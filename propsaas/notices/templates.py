"""Message templates and ``notify()``, the one call other features send through.

    notify(resident_ids, 'repair_completed', {'order_no': 'BX2026-0042', 'room': '1栋1单元101'},
           source_key=f'workorder:{order.id}:completed', link=f'/repairs/{order.id}')

Texts use ``{name}`` placeholders (a literal brace is written ``{{`` or ``}}``). Each template declares the
variables its feature provides; saving a text that uses another is refused with the name of the culprit.
``name`` (the resident's name) and ``project_name`` are always available.
"""
from __future__ import annotations

import logging
import string

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..errors import DomainError
from ..extensions import db
from ..tenancy.context import current_tenant_id
from ..tenancy.models import Tenant
from . import targeting
from .delivery import Content, FanOut, fan_out, start_dispatch
from .models import EXTERNAL_CHANNELS, MessageTemplate
from .targeting import Audience

log = logging.getLogger(__name__)

#: available in every template
COMMON_VARIABLES = ('name', 'project_name')
URGENCIES = ('normal', 'urgent')
SMS_LIMIT = 500


def placeholders(text: str) -> list[str]:
    """The {names} a text uses; raises DomainError on unbalanced braces."""
    try:
        return [name for _, name, _, _ in string.Formatter().parse(text or '') if name is not None]
    except ValueError:
        raise DomainError(_l('花括号不成对：占位符写作 {名称}，花括号本身写作 {{ 或 }}')) from None


def check_text(text: str, allowed, *, field: str | None = None) -> None:
    allowed = set(allowed) | set(COMMON_VARIABLES)
    for name in placeholders(text):
        if not name or name not in allowed:
            raise DomainError(_l('不能使用占位符 {%(name)s}；可用：%(known)s', name=name,
                                 known=' '.join(f'{{{v}}}' for v in sorted(allowed))), field=field)


def render(text: str, context: dict) -> str:
    """Fill the placeholders; a missing value becomes empty (and is logged: the calling feature forgot it)."""

    class Filled(dict):
        def __missing__(self, key):
            log.warning('message placeholder {%s} has no value', key)
            return ''

    try:
        return string.Formatter().vformat(text or '', (), Filled(context))
    except (ValueError, IndexError, AttributeError):
        return text or ''


def get_template(code: str) -> MessageTemplate:
    template = db.session.execute(sa.select(MessageTemplate).where(MessageTemplate.code == code)).scalar_one_or_none()
    if template is None:
        raise DomainError(_l('消息模板 %(code)s 不存在', code=code))
    return template


def save_template(template: MessageTemplate, *, title: str, body: str, sms_text: str, channels,
                  sms_template_code: str | None = None, wechat_template_id: str | None = None) -> MessageTemplate:
    """Edit a template's texts; every placeholder must be one of its variables."""
    title, body, sms_text = (title or '').strip(), (body or '').strip(), (sms_text or '').strip()
    if not title or len(title) > 200:
        raise DomainError(_l('请填写标题（最多 200 字）'), field='title')
    if not body:
        raise DomainError(_l('请填写正文'), field='body')
    if len(sms_text) > SMS_LIMIT:
        raise DomainError(_l('短信内容最多 %(n)s 字', n=SMS_LIMIT), field='sms_text')
    for field, text in (('title', title), ('body', body), ('sms_text', sms_text)):
        check_text(text, template.variables or [], field=field)
    channels = [c for c in EXTERNAL_CHANNELS if c in set(channels or ())]
    template.title, template.body, template.sms_text, template.channels = title, body, sms_text, channels
    template.sms_template_code = (sms_template_code or '').strip() or None
    template.wechat_template_id = (wechat_template_id or '').strip() or None
    return template


def notify(recipients, template: str, context: dict | None = None, urgency: str = 'normal', *,
           source_key: str, link: str | None = None, channels=None) -> FanOut:
    """Message residents with one of the tenant's templates, then start delivery. Commits.

    ``recipients``: an Audience, or resident ids. ``source_key`` names what the message is about
    ('workorder:88:completed'): a resident gets at most one message per key, however often this is called.
    ``channels`` overrides the template's default external channels; urgent messages use every channel.
    """
    if urgency not in URGENCIES:
        raise ValueError(f'urgency must be one of {URGENCIES}')
    message_template = get_template(template)
    if isinstance(recipients, Audience):
        people = targeting.recipients(recipients)
    else:
        people = targeting.recipients(Audience(scope='residents', resident_ids=[int(r) for r in recipients]))
    tenant = db.session.get(Tenant, current_tenant_id())
    base = {'project_name': tenant.name, **(context or {})}
    contents = {person.resident_id: _content(message_template, {**base, 'name': person.name}, link)
                for person in people}
    result = fan_out(source_key, people, contents, urgent=urgency == 'urgent',
                     channels=message_template.channels if channels is None else channels)
    start_dispatch()
    return result


def notify_staff(user_ids, template: str, context: dict | None = None, urgency: str = 'normal', *,
                 source_key: str, link: str | None = None) -> FanOut:
    """Message staff users (a technician, the admins) with one of the tenant's templates: their inbox, and SMS and
    e-mail to the mobile and address of their account as the template's channels say. Commits.

    Inactive users, residents and other projects' users among ``user_ids`` are skipped. ``link`` is a staff page.
    """
    if urgency not in URGENCIES:
        raise ValueError(f'urgency must be one of {URGENCIES}')
    message_template = get_template(template)
    people = targeting.staff_recipients(user_ids)
    tenant = db.session.get(Tenant, current_tenant_id())
    base = {'project_name': tenant.name, **(context or {})}
    contents = {person.user_id: _content(message_template, {**base, 'name': person.name}, link)
                for person in people}
    result = fan_out(source_key, people, contents, urgent=urgency == 'urgent', channels=message_template.channels)
    start_dispatch()
    return result


def _content(template: MessageTemplate, context: dict, link: str | None) -> Content:
    return Content(title=render(template.title, context), body=render(template.body, context),
                   short_text=render(template.sms_text or template.title, context),
                   params={k: str(v) for k, v in context.items()}, template_code=template.code, link=link)
