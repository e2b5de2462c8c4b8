"""The notification center: announcements (公告), per-recipient messages and their deliveries, message templates,
channel settings and preferences, surveys (问卷).

A *message* is what one resident receives (their inbox entry); a *delivery* is one attempt path of that message
over one channel (inbox, SMS, e-mail, WeChat), with its own status. Both are unique per source and recipient, so
re-running a send never messages anyone twice.
"""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models_base import UTCDateTime, utcnow
from ..tenancy.scoping import TenantScoped

#: the inbox is always on; the others are configured per tenant and chosen per announcement
CHANNELS = ('inbox', 'sms', 'email', 'wechat')
EXTERNAL_CHANNELS = ('sms', 'email', 'wechat')
CHANNEL_NAMES = {'inbox': _l('站内消息'), 'sms': _l('短信'), 'email': _l('邮件'), 'wechat': _l('微信')}

ANNOUNCEMENT_STATUSES = ('draft', 'scheduled', 'published', 'withdrawn')
#: what staff see: 'expired' is a published announcement past its end
STATE_NAMES = {'draft': _l('草稿'), 'scheduled': _l('定时发布'), 'published': _l('已发布'),
               'expired': _l('已过期'), 'withdrawn': _l('已撤回')}

DELIVERY_STATUSES = ('queued', 'postponed', 'sending', 'sent', 'failed', 'read')
DELIVERY_STATUS_NAMES = {'queued': _l('排队中'), 'postponed': _l('已推迟'), 'sending': _l('发送中'),
                         'sent': _l('已发送'), 'failed': _l('失败'), 'read': _l('已读')}

QUESTION_KINDS = ('single', 'multiple', 'rating', 'text')
QUESTION_KIND_NAMES = {'single': _l('单选'), 'multiple': _l('多选'), 'rating': _l('评分（1-5）'), 'text': _l('填空')}
SURVEY_STATUSES = ('draft', 'open', 'closed')
SURVEY_STATUS_NAMES = {'draft': _l('草稿'), 'open': _l('进行中'), 'closed': _l('已结束')}


class Announcement(TenantScoped, db.Model):
    """公告: drafted, scheduled or published at once, optionally pinned and ending at ``expires_at``."""

    __tablename__ = 'announcements'
    __table_args__ = (
        sa.CheckConstraint("status in ('draft', 'scheduled', 'published', 'withdrawn')", name='status'),
        sa.Index('ix_announcements_tenant_status', 'tenant_id', 'status'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(120))
    #: sanitised HTML (a small safe subset, see notices.richtext); never rendered unsanitised
    body_html: Mapped[str] = mapped_column(sa.Text, default='')
    #: one of the tenant's categories (停水, 停电, 紧急 ...)
    category: Mapped[str] = mapped_column(sa.String(20))
    pinned: Mapped[bool] = mapped_column(default=False)
    #: urgent: every channel the resident has, opt-outs and quiet hours ignored
    urgent: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(sa.String(16), default='draft')
    #: who receives it (see notices.targeting.Audience)
    audience: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    #: the audience is the whole project, unfiltered: everyone living here sees it on the notice board, also
    #: residents who moved in after it was sent
    for_everyone: Mapped[bool] = mapped_column(default=False)
    #: channels beyond the inbox: ['sms', 'email', 'wechat']
    channels: Mapped[list] = mapped_column(sa.JSON, default=list)
    publish_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recipient_count: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    published_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    attachments: Mapped[list[AnnouncementAttachment]] = relationship(
        back_populates='announcement', order_by='AnnouncementAttachment.id', cascade='all, delete-orphan')

    def state(self, now: datetime | None = None) -> str:
        """draft / scheduled / published / expired / withdrawn, as of ``now``."""
        now = now or datetime.now(UTC)
        if self.status == 'published' and self.expires_at is not None and self.expires_at <= now:
            return 'expired'
        return self.status

    @property
    def source_key(self) -> str:
        return f'announcement:{self.id}'


class AnnouncementAttachment(TenantScoped, db.Model):
    """An image (re-encoded, EXIF stripped) or a PDF attached to an announcement, stored under the tenant."""

    __tablename__ = 'announcement_attachments'
    __table_args__ = (sa.CheckConstraint("kind in ('image', 'pdf')", name='kind'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    announcement_id: Mapped[int] = mapped_column(sa.ForeignKey('announcements.id', ondelete='CASCADE'), index=True)
    kind: Mapped[str] = mapped_column(sa.String(8))
    #: the name the uploader gave it (shown, never used as a path)
    filename: Mapped[str] = mapped_column(sa.String(200))
    #: generated storage key under the tenant's files
    stored_name: Mapped[str] = mapped_column(sa.String(80))
    content_type: Mapped[str] = mapped_column(sa.String(40))
    size_bytes: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    announcement: Mapped[Announcement] = relationship(back_populates='attachments')


class MessageTemplate(TenantScoped, db.Model):
    """A message other features send through ``notify()`` (账单提醒, 报修进度 ...), or, with a ``category``, an
    announcement template staff start a notice from (停水通知 ...). Seeded from the delivery template, editable.

    Texts use ``{name}`` placeholders; only the template's declared ``variables`` may appear (checked on save).
    """

    __tablename__ = 'message_templates'
    __table_args__ = (sa.UniqueConstraint('tenant_id', 'code'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(60))
    #: set for announcement templates (停水, 停电 ...); None for the messages features send
    category: Mapped[str | None] = mapped_column(sa.String(20))
    title: Mapped[str] = mapped_column(sa.String(200))
    #: inbox and e-mail text
    body: Mapped[str] = mapped_column(sa.Text)
    #: the short SMS / WeChat text (70 characters make one SMS)
    sms_text: Mapped[str] = mapped_column(sa.String(500), default='')
    #: the placeholders this message may use, fixed by the feature that sends it
    variables: Mapped[list] = mapped_column(sa.JSON, default=list)
    #: channels beyond the inbox it goes out on by default
    channels: Mapped[list] = mapped_column(sa.JSON, default=list)
    #: the SMS provider's approved template code (Aliyun: SMS_123456789), when it needs one
    sms_template_code: Mapped[str | None] = mapped_column(sa.String(40))
    #: the WeChat official account's template id
    wechat_template_id: Mapped[str | None] = mapped_column(sa.String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Message(TenantScoped, db.Model):
    """What one person received: their inbox entry. A resident's (announcements, bills, repair progress) or a staff
    user's (a work order assigned to them, an escalation). Unique per (source, recipient)."""

    __tablename__ = 'messages'
    __table_args__ = (
        sa.UniqueConstraint('tenant_id', 'source_key', 'resident_id'),
        sa.UniqueConstraint('tenant_id', 'source_key', 'user_id'),
        sa.CheckConstraint('(resident_id is null) <> (user_id is null)', name='one_recipient'),
        sa.Index('ix_messages_inbox', 'tenant_id', 'resident_id', 'read_at'),
        sa.Index('ix_messages_staff_inbox', 'tenant_id', 'user_id', 'read_at'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the recipient: a resident, or (for staff messages) a staff user; exactly one is set
    resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey('residents.id'))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='CASCADE'))
    #: what sent it: 'announcement:12', 'survey:3', 'workorder:88:done' ...
    source_key: Mapped[str] = mapped_column(sa.String(120))
    announcement_id: Mapped[int | None] = mapped_column(sa.ForeignKey('announcements.id', ondelete='CASCADE'),
                                                        index=True)
    survey_id: Mapped[int | None] = mapped_column(sa.ForeignKey('surveys.id', ondelete='CASCADE'), index=True)
    template_code: Mapped[str | None] = mapped_column(sa.String(40))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default='')
    #: short text for SMS / WeChat
    short_text: Mapped[str] = mapped_column(sa.String(500), default='')
    #: the template's variables, for providers that fill their own approved template (Aliyun, WeChat)
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    #: a portal path to open (the announcement, the work order ...)
    link: Mapped[str | None] = mapped_column(sa.String(200))
    urgent: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    deliveries: Mapped[list[Delivery]] = relationship(back_populates='message', order_by='Delivery.id')


class Delivery(TenantScoped, db.Model):
    """One message over one channel: queued → sending → sent (→ read) or failed with its reason; postponed by
    quiet hours, rate limits and retry backoff. Claimed atomically, so it is sent at most once."""

    __tablename__ = 'deliveries'
    __table_args__ = (
        sa.UniqueConstraint('tenant_id', 'message_id', 'channel'),
        sa.CheckConstraint("channel in ('inbox', 'sms', 'email', 'wechat')", name='channel'),
        sa.CheckConstraint("status in ('queued', 'postponed', 'sending', 'sent', 'failed', 'read')", name='status'),
        sa.Index('ix_deliveries_due', 'status', 'next_attempt_at'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(sa.ForeignKey('messages.id', ondelete='CASCADE'), index=True)
    channel: Mapped[str] = mapped_column(sa.String(10))
    #: mobile, e-mail address or WeChat openid, as it was when the message was created
    address: Mapped[str | None] = mapped_column(sa.String(254))
    status: Mapped[str] = mapped_column(sa.String(12), default='queued')
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: why it failed or was postponed, in words staff understand
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    provider_ref: Mapped[str | None] = mapped_column(sa.String(100))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    message: Mapped[Message] = relationship(back_populates='deliveries')


class ChannelSetting(TenantScoped, db.Model):
    """A tenant's SMS, e-mail or WeChat configuration. Secrets are write-only in the UI."""

    __tablename__ = 'channel_settings'
    __table_args__ = (sa.UniqueConstraint('tenant_id', 'channel'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(10))
    enabled: Mapped[bool] = mapped_column(default=False)
    #: 'log' (development: records what would be sent), 'aliyun', 'smtp', 'platform', 'wechat_mp'
    provider: Mapped[str] = mapped_column(sa.String(20), default='log')
    config: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    #: most messages per minute this tenant sends on this channel
    rate_per_minute: Mapped[int] = mapped_column(default=60)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ChannelPreference(TenantScoped, db.Model):
    """A resident's addresses beyond the mobile (e-mail, WeChat openid) and the non-urgent channels they refuse."""

    __tablename__ = 'channel_preferences'
    __table_args__ = (sa.UniqueConstraint('tenant_id', 'resident_id'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey('residents.id'))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    #: bound when the resident follows the official account and links it (公众号绑定)
    wechat_openid: Mapped[str | None] = mapped_column(sa.String(64))
    #: channels the resident opted out of for non-urgent messages
    opted_out: Mapped[list] = mapped_column(sa.JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LoggedMessage(TenantScoped, db.Model):
    """What the 'log' provider would have sent (development and demos): nothing leaves the machine."""

    __tablename__ = 'logged_messages'

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(10))
    address: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(200), default='')
    text: Mapped[str] = mapped_column(sa.Text, default='')
    delivery_id: Mapped[int | None] = mapped_column(sa.ForeignKey('deliveries.id', ondelete='SET NULL'))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Survey(TenantScoped, db.Model):
    """问卷: drafted with its questions, opened to a targeted group, answered once per resident, closed."""

    __tablename__ = 'surveys'
    __table_args__ = (
        sa.CheckConstraint("status in ('draft', 'open', 'closed')", name='status'),
        sa.CheckConstraint("kind in ('general', 'satisfaction')", name='kind'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(120))
    description: Mapped[str] = mapped_column(sa.Text, default='')
    #: 'satisfaction': the yearly 业主满意度 survey whose score feeds the dashboard
    kind: Mapped[str] = mapped_column(sa.String(16), default='general')
    year: Mapped[int | None]
    status: Mapped[str] = mapped_column(sa.String(10), default='draft')
    audience: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    recipient_count: Mapped[int] = mapped_column(default=0)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    questions: Mapped[list[SurveyQuestion]] = relationship(
        back_populates='survey', order_by='SurveyQuestion.position', cascade='all, delete-orphan')

    @property
    def source_key(self) -> str:
        return f'survey:{self.id}'


class SurveyQuestion(TenantScoped, db.Model):
    __tablename__ = 'survey_questions'
    __table_args__ = (sa.CheckConstraint("kind in ('single', 'multiple', 'rating', 'text')", name='kind'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey('surveys.id', ondelete='CASCADE'), index=True)
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(sa.String(10))
    text: Mapped[str] = mapped_column(sa.String(300))
    #: the choices of a single or multiple choice question, in order
    options: Mapped[list] = mapped_column(sa.JSON, default=list)
    required: Mapped[bool] = mapped_column(default=True)

    survey: Mapped[Survey] = relationship(back_populates='questions')


class SurveyResponse(TenantScoped, db.Model):
    """One resident's answers to one survey: at most one (the unique key enforces it under races)."""

    __tablename__ = 'survey_responses'
    __table_args__ = (sa.UniqueConstraint('tenant_id', 'survey_id', 'resident_id'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey('surveys.id', ondelete='CASCADE'), index=True)
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey('residents.id'))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    answers: Mapped[list[SurveyAnswer]] = relationship(back_populates='response', cascade='all, delete-orphan')


class SurveyAnswer(TenantScoped, db.Model):
    __tablename__ = 'survey_answers'

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(sa.ForeignKey('survey_responses.id', ondelete='CASCADE'), index=True)
    question_id: Mapped[int] = mapped_column(sa.ForeignKey('survey_questions.id', ondelete='CASCADE'), index=True)
    #: chosen option indexes (single: one; multiple: any)
    choices: Mapped[list | None] = mapped_column(sa.JSON)
    rating: Mapped[int | None]
    text: Mapped[str | None] = mapped_column(sa.Text)

    response: Mapped[SurveyResponse] = relationship(back_populates='answers')
