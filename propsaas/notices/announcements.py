"""Announcements (公告): draft → scheduled → published → expired (or withdrawn).

Publishing is a job: it resolves the audience, writes one message per resident (their inbox) and one delivery per
extra channel, then sends. The job is idempotent per announcement: run again, it reaches only residents it has not
reached yet (a resident who moved in since, say) and never messages anyone twice.
"""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..errors import DomainError
from ..extensions import db
from ..jobs.queue import enqueue, job
from ..models_base import get_or_404, utcnow
from ..tenancy.context import current_tenant_id
from ..tenancy.delivery import NOTICE_CATEGORIES
from ..tenancy.models import Tenant
from . import richtext, targeting
from .delivery import Content, dispatch_due, fan_out
from .models import EXTERNAL_CHANNELS, Announcement, Delivery, Message
from .targeting import Audience
from .templates import render

EDITABLE = ('draft', 'scheduled')


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
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise DomainError(_l('截止时间必须晚于现在'), field='expires_at')
    if announcement is None:
        announcement = Announcement(created_by_id=by_user_id, status='draft')
        db.session.add(announcement)
    announcement.title, announcement.body_html, announcement.category = title, body_html, category
    announcement.audience, announcement.channels = audience.to_json(), chosen
    announcement.for_everyone = audience.scope == 'all' and not audience.roles and not audience.tags
    announcement.pinned, announcement.urgent, announcement.expires_at = bool(pinned), bool(urgent), expires_at
    return announcement


def schedule(announcement: Announcement, publish_at: datetime, *, by_user_id: int | None = None) -> None:
    if announcement.status not in EDITABLE:
        raise DomainError(_l('只有草稿可以定时发布'))
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
