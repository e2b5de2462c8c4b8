"""Getting messages to residents and staff: fan-out (one message per recipient, one delivery per channel) and dispatch.

Fan-out writes rows in bulk (a constant number of statements whatever the recipient count) and skips residents
who already have a message from the same source, so re-running a send never messages anyone twice.

Dispatch works through the due deliveries of the current tenant. Each is *claimed* (queued → sending, committed)
before its provider is called, so two workers never send it twice and a worker that dies mid-send leaves it
'sending' (the sweep marks it failed with the reason; staff may resend). Outcomes:

- sent, with the provider's reference;
- transient failure (network, throttling, any unexpected exception): retried with exponential backoff, then
  failed after ``NOTIFY_MAX_ATTEMPTS`` with the last reason;
- permanent failure (bad number, channel not configured): failed at once with the reason;
- postponed: SMS in the tenant's quiet hours (unless urgent), or the channel's per-minute rate is spent.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from redis.exceptions import RedisError

from ..extensions import db
from ..jobs.queue import enqueue, job, maintenance_task, redis_connection
from ..models_base import utcnow
from ..tenancy.clock import tenant_zone
from ..tenancy.context import current_tenant_id, platform_scope, tenant_scope
from ..tenancy.models import Tenant
from .channels import ChannelNotConfigured, Outgoing, SendFailed, build_provider
from .models import EXTERNAL_CHANNELS, Announcement, ChannelSetting, Delivery, Message, MessageTemplate
from .targeting import Recipient, StaffRecipient

log = logging.getLogger(__name__)

DUE = ('queued', 'postponed')
#: a delivery left 'sending' this long was interrupted mid-send: its outcome is unknown, so it is never re-sent
#: automatically
SENDING_STALE = timedelta(minutes=10)
DEFAULT_QUIET_HOURS = ('22:00', '08:00')
DEFAULT_RATES = {'sms': 60, 'email': 120, 'wechat': 300}


@dataclass(frozen=True)
class Content:
    """What every recipient of one send gets (per-recipient texts are rendered by the caller)."""

    title: str
    body: str
    short_text: str
    params: dict = field(default_factory=dict)
    template_code: str | None = None
    link: str | None = None


@dataclass
class FanOut:
    messages: int = 0
    deliveries: int = 0
    #: recipients who had a message from this source already
    skipped: int = 0


@dataclass
class DispatchReport:
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    postponed: int = 0

    def as_dict(self) -> dict:
        return {'sent': self.sent, 'failed': self.failed, 'retrying': self.retrying, 'postponed': self.postponed}


# --------------------------------------------------------------------------- fan-out


def enabled_channels() -> dict[str, ChannelSetting]:
    """The current tenant's external channels that are switched on."""
    rows = db.session.execute(sa.select(ChannelSetting).where(ChannelSetting.enabled.is_(True))).scalars()
    return {row.channel: row for row in rows if row.channel in EXTERNAL_CHANNELS}


def channels_for(recipient: Recipient, chosen: list[str] | tuple[str, ...], enabled, urgent: bool) -> list[str]:
    """The external channels one recipient gets: urgent = every enabled channel they have an address for;
    otherwise the chosen ones they did not opt out of."""
    wanted = enabled if urgent else [c for c in chosen if c in enabled and c not in recipient.opted_out]
    return [c for c in EXTERNAL_CHANNELS if c in wanted and recipient.address(c)]


def fan_out(source_key: str, recipients: list[Recipient] | list[StaffRecipient], content: Content | dict[int, Content],
            *, channels=(), urgent: bool = False, announcement_id: int | None = None,
            survey_id: int | None = None) -> FanOut:
    """Write one message per new recipient and its deliveries, in the caller's transaction.

    The recipients are all residents or all staff users. ``content`` is the same for everyone, or a dict recipient
    key (resident id, or user id for staff) -> Content for personalised texts.
    """
    tenant_id = current_tenant_id()
    result = FanOut()
    if not recipients:
        return result
    column = recipients[0].column
    recipient_of = getattr(Message, column)
    already = set(db.session.execute(sa.select(recipient_of).where(Message.source_key == source_key,
                                                                  recipient_of.is_not(None))).scalars())
    fresh = [r for r in recipients if r.key not in already]
    result.skipped = len(recipients) - len(fresh)
    if not fresh:
        return result
    now = utcnow()
    enabled = list(enabled_channels())

    def content_of(recipient) -> Content:
        return content[recipient.key] if isinstance(content, dict) else content

    message_rows = []
    for recipient in fresh:
        c = content_of(recipient)
        message_rows.append({
            'tenant_id': tenant_id, 'resident_id': None, 'user_id': None, column: recipient.key,
            'source_key': source_key, 'announcement_id': announcement_id, 'survey_id': survey_id,
            'template_code': c.template_code, 'title': c.title[:200], 'body': c.body,
            'short_text': c.short_text[:500], 'params': c.params, 'link': c.link, 'urgent': urgent,
            'created_at': now,
        })
    # A plain executemany (RETURNING would make SQLite insert row by row), then the new ids in one SELECT.
    db.session.execute(sa.insert(Message.__table__), message_rows)
    rows = db.session.execute(sa.select(Message.id, recipient_of).where(Message.source_key == source_key,
                                                                       recipient_of.is_not(None)))
    created = [(message_id, key) for message_id, key in rows if key not in already]
    by_key = {r.key: r for r in fresh}
    delivery_rows = []
    for message_id, key in created:
        recipient = by_key[key]
        # The inbox has it the moment it exists.
        delivery_rows.append(_delivery_row(tenant_id, message_id, 'inbox', None, 'sent', now))
        for channel in channels_for(recipient, channels, enabled, urgent):
            delivery_rows.append(_delivery_row(tenant_id, message_id, channel, recipient.address(channel),
                                               'queued', now))
    db.session.execute(sa.insert(Delivery.__table__), delivery_rows)
    result.messages = len(created)
    result.deliveries = len(delivery_rows)
    return result


def _delivery_row(tenant_id, message_id, channel, address, status, now) -> dict:
    return {'tenant_id': tenant_id, 'message_id': message_id, 'channel': channel, 'address': address,
            'status': status, 'attempts': 0, 'next_attempt_at': None, 'last_error': None, 'provider_ref': None,
            'sent_at': now if status == 'sent' else None, 'created_at': now, 'updated_at': now}


# --------------------------------------------------------------------------- dispatch


def quiet_hours(tenant: Tenant) -> tuple[time, time]:
    start, end = (tenant.settings or {}).get('notifications', {}).get('quiet_hours', DEFAULT_QUIET_HOURS)
    return time.fromisoformat(start), time.fromisoformat(end)


def quiet_until(tenant: Tenant, now: datetime) -> datetime | None:
    """When the quiet hours around ``now`` end (UTC), or None outside them. Hours wrap midnight (22:00-08:00)."""
    start, end = quiet_hours(tenant)
    zone = tenant_zone(tenant)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    wraps = start > end
    inside = (clock >= start or clock < end) if wraps else (start <= clock < end)
    if not inside:
        return None
    day = local.date() + timedelta(days=1) if wraps and clock >= start else local.date()
    return datetime.combine(day, end, tzinfo=zone).astimezone(UTC)


class RateLimiter:
    """Per tenant and channel, per clock minute: counted in Redis (shared by all workers) when it is configured,
    else from this tenant's deliveries sent in the last minute."""

    def __init__(self, settings: dict[str, ChannelSetting], now: datetime):
        self.now = now
        self.limits = {ch: s.rate_per_minute or DEFAULT_RATES.get(ch, 60) for ch, s in settings.items()}
        self.redis = redis_connection()
        self.local: dict[str, int] = {}

    def take(self, channel: str) -> bool:
        limit = self.limits.get(channel, DEFAULT_RATES.get(channel, 60))
        if self.redis is not None:
            key = f'propsaas:t{current_tenant_id()}:notices:rate:{channel}:{self.now:%Y%m%d%H%M}'
            try:
                pipe = self.redis.pipeline()
                pipe.incr(key)
                pipe.expire(key, 120)
                count, _ = pipe.execute()
                return count <= limit
            except RedisError:
                log.warning('rate limit falls back to the database: Redis unavailable')
                self.redis = None
        if channel not in self.local:
            self.local[channel] = db.session.execute(
                sa.select(sa.func.count()).select_from(Delivery).where(
                    Delivery.channel == channel, Delivery.sent_at >= self.now - timedelta(minutes=1))).scalar_one()
        self.local[channel] += 1
        return self.local[channel] <= limit

    def next_minute(self) -> datetime:
        return self.now.replace(second=0, microsecond=0) + timedelta(minutes=1)


def dispatch_due(*, batch: int = 200, now: datetime | None = None) -> DispatchReport:
    """Send every due delivery of the current tenant. Commits (the caller's work first, then after each one)."""
    report = DispatchReport()
    tenant = db.session.get(Tenant, current_tenant_id())
    settings = enabled_channels()
    providers: dict = {}
    limiter = RateLimiter(settings, now or datetime.now(UTC))
    exhausted: set[str] = set()
    seen: set[int] = set()
    while True:
        moment = now or datetime.now(UTC)
        query = (sa.select(Delivery.id).where(Delivery.status.in_(DUE), Delivery.channel != 'inbox',
                                              sa.or_(Delivery.next_attempt_at.is_(None),
                                                     Delivery.next_attempt_at <= moment))
                 .order_by(Delivery.id).limit(batch))
        if seen:
            query = query.where(Delivery.id.notin_(seen))
        ids = db.session.execute(query).scalars().all()
        db.session.commit()
        if not ids:
            return report
        for delivery_id in ids:
            seen.add(delivery_id)
            _dispatch_one(delivery_id, tenant, settings, providers, limiter, exhausted, report, moment)


def _dispatch_one(delivery_id, tenant, settings, providers, limiter, exhausted, report, now) -> None:
    delivery = db.session.execute(
        sa.select(Delivery).where(Delivery.id == delivery_id).options(sa.orm.joinedload(Delivery.message))
    ).scalar_one_or_none()
    if delivery is None or delivery.status not in DUE:
        db.session.commit()
        return
    message = delivery.message
    channel = delivery.channel
    if not message.urgent and channel == 'sms':
        until = quiet_until(tenant, now)
        if until is not None:
            _postpone(delivery, until, f'免打扰时段，推迟到 {until.astimezone(tenant_zone(tenant)):%H:%M} 发送')
            report.postponed += 1
            return
    if channel in exhausted or (channel in settings and not limiter.take(channel)):
        exhausted.add(channel)
        _postpone(delivery, limiter.next_minute(), '已达到每分钟发送上限，稍后发送')
        report.postponed += 1
        return
    claimed = db.session.execute(
        sa.update(Delivery).where(Delivery.id == delivery_id, Delivery.status.in_(DUE))
        .values(status='sending', attempts=Delivery.attempts + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if claimed != 1:
        return
    db.session.refresh(delivery)
    try:
        provider = _provider(channel, settings, providers)
        template = _template(message.template_code)
        reference = provider.send(_outgoing(delivery, message, template, tenant))
    except SendFailed as exc:
        db.session.rollback()
        _failed(delivery, exc.reason, transient=exc.transient, report=report)
    except Exception as exc:  # a provider's bug or an unexpected network error: recorded, retried
        db.session.rollback()
        log.exception('delivery %s over %s raised', delivery_id, channel)
        _failed(delivery, f'{type(exc).__name__}: {exc}', transient=True, report=report)
    else:
        delivery.status = 'sent'
        delivery.sent_at = utcnow()
        delivery.provider_ref = (reference or '')[:100] or None
        delivery.last_error = None
        db.session.commit()
        report.sent += 1


def _provider(channel: str, settings: dict[str, ChannelSetting], cache: dict):
    if channel not in settings:
        raise ChannelNotConfigured('该渠道未开通或已关闭')
    if channel not in cache:
        setting = settings[channel]
        cache[channel] = build_provider(channel, setting.provider, setting.config)
    return cache[channel]


def _template(code: str | None) -> MessageTemplate | None:
    if not code:
        return None
    return db.session.execute(sa.select(MessageTemplate).where(MessageTemplate.code == code)).scalar_one_or_none()


def _outgoing(delivery: Delivery, message: Message, template: MessageTemplate | None, tenant: Tenant) -> Outgoing:
    return Outgoing(
        delivery_id=delivery.id, channel=delivery.channel, address=delivery.address or '', title=message.title,
        body=message.body, short_text=message.short_text or message.title, params=dict(message.params or {}),
        template_code=message.template_code,
        sms_template_code=template.sms_template_code if template else None,
        wechat_template_id=template.wechat_template_id if template else None,
        url=portal_url(tenant, message.link), urgent=message.urgent)


def portal_url(tenant: Tenant, path: str | None) -> str | None:
    if not path:
        return None
    scheme = current_app.config.get('PREFERRED_URL_SCHEME', 'http')
    return f'{scheme}://{tenant.slug}.{current_app.config["BASE_DOMAIN"]}{path}'


def _postpone(delivery: Delivery, until: datetime, reason: str) -> None:
    delivery.status = 'postponed'
    delivery.next_attempt_at = until
    delivery.last_error = reason
    db.session.commit()


def _failed(delivery: Delivery, reason: str, *, transient: bool, report: DispatchReport) -> None:
    delivery = db.session.get(Delivery, delivery.id)
    reason = (reason or '发送失败')[:500]
    if transient and delivery.attempts < current_app.config['NOTIFY_MAX_ATTEMPTS']:
        delay = current_app.config['NOTIFY_RETRY_SECONDS'] * 2 ** (delivery.attempts - 1)
        delivery.status = 'postponed'
        delivery.next_attempt_at = utcnow() + timedelta(seconds=delay)
        delivery.last_error = f'{reason}（第 {delivery.attempts} 次失败，稍后重试）'[:500]
        report.retrying += 1
    else:
        delivery.status = 'failed'
        delivery.last_error = reason
        report.failed += 1
    db.session.commit()


# --------------------------------------------------------------------------- resend and jobs


def resend_failed(source_key: str) -> int:
    """Queue the failed deliveries of one source again (fresh attempts); the sent ones are left alone."""
    failed_ids = sa.select(Delivery.id).join(Message, Message.id == Delivery.message_id).where(
        Message.source_key == source_key, Delivery.status == 'failed')
    count = db.session.execute(
        sa.update(Delivery).where(Delivery.id.in_(failed_ids))
        .values(status='queued', attempts=0, next_attempt_at=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    return count


def start_dispatch() -> None:
    """Send what is due now (a job per tenant; inline without Redis). Commits."""
    enqueue(send_due_deliveries, key='notices.dispatch')


@job('发送通知')
def send_due_deliveries() -> dict:
    return dispatch_due().as_dict()


@maintenance_task
def sweep(now: datetime | None = None) -> dict:
    """Platform maintenance (worker loop and ``flask notices sweep``): publish due scheduled announcements, fail
    interrupted sends, and start dispatch for every tenant with due deliveries."""
    now = now or datetime.now(UTC)
    with platform_scope():
        due_announcements = db.session.execute(sa.select(Announcement.id, Announcement.tenant_id).where(
            Announcement.status == 'scheduled', Announcement.publish_at <= now)).all()
        interrupted = db.session.execute(
            sa.update(Delivery).where(Delivery.status == 'sending', Delivery.updated_at < now - SENDING_STALE)
            .values(status='failed', last_error='发送过程中断，结果未知；确认未收到后可重发', updated_at=utcnow())
            .execution_options(synchronize_session=False)).rowcount
        tenants = db.session.execute(sa.select(Delivery.tenant_id).distinct().where(
            Delivery.status.in_(DUE), Delivery.channel != 'inbox',
            sa.or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now))).scalars().all()
        db.session.commit()
    from .announcements import start_publication

    for announcement_id, tenant_id in due_announcements:
        with tenant_scope(tenant_id):
            start_publication(announcement_id)
    for tenant_id in set(tenants) - {t for _, t in due_announcements}:
        with tenant_scope(tenant_id):
            start_dispatch()
    return {'announcements': len(due_announcements), 'interrupted': interrupted, 'tenants': len(set(tenants))}
