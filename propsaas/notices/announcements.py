"""Announcements (公告): draft → scheduled → published → expired (or withdrawn).

Publishing is a job: it resolves the audience, writes one message per resident (their inbox) and one delivery per
extra channel, then sends. The job is idempotent per announcement: run again, it reaches only residents it has not
reached yet (a resident who moved in since, say) and never messages anyone twice.
"""
from __future__ import annotations

import re
from datetime import UTC, date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..errors import DomainError
from ..extensions import db
from ..jobs.queue import enqueue, job
from ..models_base import get_or_404, utcnow
from ..residents.models import Resident
from ..tenancy.clock import tenant_today, tenant_zone
from ..tenancy.context import current_tenant_id
from ..tenancy.delivery import NOTICE_CATEGORIES
from ..tenancy.models import Tenant
from . import delivery as _delivery
from . import richtext, targeting
from .delivery import Content, dispatch_due, fan_out
from .models import CHANNEL_NAMES, EXTERNAL_CHANNELS, Announcement, Delivery, Message, MessageTemplate
from .targeting import Audience
from .templates import render

EDITABLE = ('draft', 'scheduled')
STATES = ('draft', 'scheduled', 'published', 'expired', 'withdrawn')
#: a ``{name}`` placeholder left from a template (``{{`` and ``}}`` are literal braces, not placeholders)
_PLACEHOLDER = re.compile(r'(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})')
#: filled when staff start from a template; the others are left for staff to replace
PREFILLED = ('project_name', 'notice_date')


def can_manage(user) -> bool:
    """Who sends announcements: admins, and staff with the service desk duty (客服)."""
    return bool(getattr(user, 'is_authenticated', False)) and user.role in ('admin', 'staff') \
        and user.has_duty('service_desk')


# --------------------------------------------------------------------------- time in the project's zone


def local_to_utc(value: datetime | None, tenant: Tenant) -> datetime | None:
    """A wall-clock time typed by staff (naive, the project's timezone) as aware UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tenant_zone(tenant))
    return value.astimezone(UTC)


def utc_to_local(value: datetime | None, tenant: Tenant) -> datetime | None:
    """Aware UTC (or naive UTC) as a naive wall-clock time in the project's timezone (for forms)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(tenant_zone(tenant)).replace(tzinfo=None)


# --------------------------------------------------------------------------- templates and placeholders


def announcement_templates() -> list[MessageTemplate]:
    """The tenant's announcement templates (those with a category), by category then name."""
    return db.session.execute(sa.select(MessageTemplate).where(MessageTemplate.category.is_not(None))
                              .order_by(MessageTemplate.category, MessageTemplate.name)).scalars().all()


def from_template(template: MessageTemplate, tenant: Tenant, today: date | None = None) -> dict:
    """Title, body and category to start a draft from: {project_name} and {notice_date} filled, the other
    placeholders left visible for staff to replace (publishing refuses while any remains)."""
    today = today or tenant_today(tenant)
    values = {'project_name': tenant.name, 'notice_date': f'{today.year}年{today.month}月{today.day}日'}

    def fill(text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text or '')

    return {'title': fill(template.title)[:120], 'body': fill(template.body), 'category': template.category}


def unfilled_placeholders(*texts: str) -> list[str]:
    """The ``{name}`` placeholders still in these texts, in order, once each."""
    found: list[str] = []
    for text in texts:
        for name in _PLACEHOLDER.findall(text or ''):
            if name not in found:
                found.append(name)
    return found


def require_filled(announcement: Announcement) -> None:
    """Refuse to send an announcement that still has template placeholders in it."""
    left = unfilled_placeholders(announcement.title, announcement.body_html)
    if left:
        raise DomainError(_l('还有占位符没有替换：%(names)s。请把它们改成实际内容后再发布',
                             names='、'.join(f'{{{n}}}' for n in left)), field='body')


def categories(tenant: Tenant) -> list[str]:
    """The tenant's announcement categories (from its delivery template)."""
    return list((tenant.settings or {}).get('notice_categories') or NOTICE_CATEGORIES)


def save(announcement: Announcement | None, *, title: str, body: str, category: str, audience: dict | Audience,
         channels=(), pinned: bool = False, urgent: bool = False, expires_at: datetime | None = None,
         by_user_id: int | None = None) -> Announcement:
    """Create or edit a draft (or a scheduled one, which stays scheduled). Does not commit."""
    if announcement is not None and announcement.status not in EDITABLE:
        raise DomainError(_l('已发布的公告不能修改；如需更正，请撤回后重新发布'))
    title = (title or '').strip()
    if not title or len(title) > 120:
        raise DomainError(_l('请填写标题（最多 120 字）'), field='title')
    body_html = richtext.sanitize(body)
    if not richtext.to_text(body_html):
        raise DomainError(_l('请填写公告正文'), field='body')
    if len(body_html) > richtext.MAX_BODY:
        raise DomainError(_l('正文太长（最多约 %(n)s 字）', n=richtext.MAX_BODY // 2), field='body')
    tenant = db.session.get(Tenant, current_tenant_id())
    if category not in categories(tenant):
        raise DomainError(_l('请选择公告类别'), field='category')
    if not isinstance(audience, Audience):
        audience = Audience.from_json(audience)
    audience.validate()
    chosen = [c for c in EXTERNAL_CHANNELS if c in set(channels or ())]
    if len(chosen) != len(set(channels or ())):
        raise DomainError(_l('不认识的发送渠道'), field='channels')
    off = [c for c in chosen if c not in _delivery.enabled_channels()] if chosen else []
    if off:
        raise DomainError(_l('这些渠道还没有开通：%(names)s', names='、'.join(str(CHANNEL_NAMES[c]) for c in off)),
                          field='channels')
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise DomainError(_l('截止时间必须晚于现在'), field='expires_at')
    if announcement is None:
        announcement = Announcement(created_by_id=by_user_id, status='draft')
        db.session.add(announcement)
    announcement.title, announcement.body_html, announcement.category = title, body_html, category
    announcement.audience, announcement.channels = audience.to_json(), chosen
    announcement.for_everyone = audience.scope == 'all' and not audience.roles and not audience.tags
    announcement.pinned, announcement.urgent, announcement.expires_at = bool(pinned), bool(urgent), expires_at
    if announcement.status == 'scheduled':
        require_filled(announcement)
    return announcement


def schedule(announcement: Announcement, publish_at: datetime, *, by_user_id: int | None = None) -> None:
    if announcement.status not in EDITABLE:
        raise DomainError(_l('只有草稿可以定时发布'))
    require_filled(announcement)
    if publish_at <= datetime.now(UTC):
        raise DomainError(_l('定时发布的时间必须晚于现在'), field='publish_at')
    if announcement.expires_at is not None and announcement.expires_at <= publish_at:
        raise DomainError(_l('截止时间必须晚于发布时间'), field='publish_at')
    announcement.status, announcement.publish_at, announcement.published_by_id = 'scheduled', publish_at, by_user_id


def unschedule(announcement: Announcement) -> None:
    if announcement.status != 'scheduled':
        raise DomainError(_l('这条公告没有定时发布'))
    announcement.status, announcement.publish_at = 'draft', None


def publish_now(announcement: Announcement, *, by_user_id: int | None = None):
    """Publish at once and start sending. Commits; returns the job record."""
    if announcement.status not in EDITABLE:
        raise DomainError(_l('这条公告已经发布或已撤回'))
    require_filled(announcement)
    if announcement.expires_at is not None and announcement.expires_at <= datetime.now(UTC):
        raise DomainError(_l('截止时间已过，请先修改截止时间'), field='expires_at')
    announcement.status, announcement.published_at = 'published', utcnow()
    announcement.publish_at, announcement.published_by_id = None, by_user_id
    db.session.commit()
    return start_publication(announcement.id)


def withdraw(announcement: Announcement) -> None:
    """Take a published announcement down: residents no longer see it (messages already sent stay sent)."""
    if announcement.status != 'published':
        raise DomainError(_l('只有已发布的公告可以撤回'))
    announcement.status = 'withdrawn'


def start_publication(announcement_id: int):
    return enqueue(publish_announcement, announcement_id, key=f'notices.announcement:{announcement_id}')


def content_for(announcement: Announcement, tenant: Tenant) -> Content:
    context = {'project_name': tenant.name, 'title': announcement.title, 'category': announcement.category}
    short = render('【{project_name}】{category}：{title}。详情请在住户服务中查看。', context)
    return Content(title=announcement.title, body=richtext.to_text(announcement.body_html), short_text=short,
                   params=context, template_code=None, link=f'/notices/{announcement.id}')


@job('发布公告')
def publish_announcement(announcement_id: int) -> dict:
    announcement = get_or_404(Announcement, announcement_id)
    now = datetime.now(UTC)
    if announcement.status == 'scheduled' and announcement.publish_at and announcement.publish_at <= now:
        announcement.status, announcement.published_at = 'published', announcement.publish_at
    if announcement.state(now) != 'published':
        db.session.commit()
        return {'messages': 0, 'skipped': True}
    tenant = db.session.get(Tenant, current_tenant_id())
    people = targeting.recipients(Audience.from_json(announcement.audience))
    result = fan_out(announcement.source_key, people, content_for(announcement, tenant),
                     channels=announcement.channels, urgent=announcement.urgent, announcement_id=announcement.id)
    announcement.recipient_count = db.session.execute(
        sa.select(sa.func.count()).select_from(Message).where(Message.announcement_id == announcement.id)
    ).scalar_one()
    db.session.commit()
    report = dispatch_due()
    return {'messages': result.messages, 'deliveries': result.deliveries, **report.as_dict()}


def delivery_stats(announcement: Announcement) -> dict[str, dict[str, int]]:
    """channel -> status -> count, in one statement."""
    rows = db.session.execute(
        sa.select(Delivery.channel, Delivery.status, sa.func.count())
        .join(Message, Message.id == Delivery.message_id)
        .where(Message.announcement_id == announcement.id)
        .group_by(Delivery.channel, Delivery.status)).all()
    stats: dict[str, dict[str, int]] = {}
    for channel, status, count in rows:
        stats.setdefault(channel, {})[status] = count
    return stats


# --------------------------------------------------------------------------- what staff read


def list_query(state: str | None = None, now: datetime | None = None) -> sa.Select:
    """The tenant's announcements, pinned first then newest; ``state`` one of STATES (None: all)."""
    now = now or datetime.now(UTC)
    query = sa.select(Announcement)
    unexpired = sa.or_(Announcement.expires_at.is_(None), Announcement.expires_at > now)
    if state == 'published':
        query = query.where(Announcement.status == 'published', unexpired)
    elif state == 'expired':
        query = query.where(Announcement.status == 'published', Announcement.expires_at <= now)
    elif state in ('draft', 'scheduled', 'withdrawn'):
        query = query.where(Announcement.status == state)
    newest = sa.func.coalesce(Announcement.published_at, Announcement.publish_at, Announcement.created_at)
    return query.order_by(Announcement.pinned.desc(), newest.desc(), Announcement.id.desc())


def read_counts(announcement_ids) -> dict[int, tuple[int, int]]:
    """announcement id -> (read, recipients) for these announcements: one statement."""
    ids = list(announcement_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(Message.announcement_id, sa.func.count(Message.read_at), sa.func.count())
        .where(Message.announcement_id.in_(ids)).group_by(Message.announcement_id)).all()
    return {aid: (read, total) for aid, read, total in rows}


def failed_deliveries_query(announcement: Announcement) -> sa.Select:
    """(Delivery, resident name) of the failed deliveries, with the reason in Delivery.last_error."""
    return (sa.select(Delivery, Resident.name)
            .join(Message, Message.id == Delivery.message_id)
            .join(Resident, Resident.id == Message.resident_id)
            .where(Message.announcement_id == announcement.id, Delivery.status == 'failed')
            .order_by(Delivery.id))


def receipts_query(announcement: Announcement) -> sa.Select:
    """Read receipts: (message id, resident name, mobile, read_at) per recipient, unread last."""
    return (sa.select(Message.id, Resident.name, Resident.mobile, Message.read_at)
            .join(Resident, Resident.id == Message.resident_id)
            .where(Message.announcement_id == announcement.id)
            .order_by(Message.read_at.is_(None), Message.read_at.desc(), Message.id))


def resend_failed(announcement: Announcement) -> int:
    """Queue the announcement's failed deliveries again and start sending. Commits; returns how many."""
    if announcement.status != 'published':
        raise DomainError(_l('只有已发布的公告可以重发'))
    count = _delivery.resend_failed(announcement.source_key)
    db.session.commit()
    if count:
        _delivery.start_dispatch()
    return count
