"""A person's inbox (messages, unread count, read receipts), and the announcements a resident may read.

A portal user may be linked to more than one resident record (an owner of two rooms entered twice); they see the
messages of all of them. Admins and staff have an inbox too: the work messages sent to their user (a work order
assigned to them, an escalation).
"""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from ..extensions import db
from ..models_base import utcnow
from ..residents.models import Resident
from .models import Announcement, Delivery, Message


def resident_ids_of(user) -> sa.Select:
    return sa.select(Resident.id).where(Resident.user_id == user.id)


def mine(user):
    """The condition on Message for the user's own messages: their resident records', or (staff) their user's."""
    if user.role == 'resident':
        return Message.resident_id.in_(resident_ids_of(user))
    return Message.user_id == user.id


def messages_query(user) -> sa.Select:
    """The user's messages, newest first (paginate it)."""
    return sa.select(Message).where(mine(user)).order_by(Message.created_at.desc(), Message.id.desc())


def unread_count(user) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(Message).where(
        mine(user), Message.read_at.is_(None))).scalar_one()


def message_of(user, message_id: int) -> Message | None:
    """One of the user's messages; anybody else's (or another tenant's) is None."""
    return db.session.execute(messages_query(user).where(Message.id == message_id)).scalar_one_or_none()


def mark_read(messages: list[Message]) -> int:
    """Record that these messages were read (the read receipt staff see). Idempotent; does not commit."""
    unread = [m.id for m in messages if m.read_at is None]
    if not unread:
        return 0
    now = utcnow()
    db.session.execute(sa.update(Message).where(Message.id.in_(unread)).values(read_at=now)
                       .execution_options(synchronize_session=False))
    db.session.execute(sa.update(Delivery).where(Delivery.message_id.in_(unread), Delivery.channel == 'inbox')
                       .values(status='read', updated_at=now).execution_options(synchronize_session=False))
    for message in messages:
        message.read_at = message.read_at or now
    return len(unread)


def visible_announcements_query(user, now: datetime | None = None) -> sa.Select:
    """Published, unexpired announcements for the whole project or sent to this user; pinned first."""
    now = now or datetime.now(UTC)
    mine = sa.select(Message.announcement_id).where(Message.resident_id.in_(resident_ids_of(user)),
                                                    Message.announcement_id.is_not(None))
    return (sa.select(Announcement)
            .where(Announcement.status == 'published',
                   sa.or_(Announcement.expires_at.is_(None), Announcement.expires_at > now),
                   sa.or_(Announcement.for_everyone.is_(True), Announcement.id.in_(mine)))
            .order_by(Announcement.pinned.desc(), Announcement.published_at.desc(), Announcement.id.desc()))


def unread_badge(user) -> int:
    """The number next to the '消息' nav entry: the user's unread messages."""
    if not getattr(user, 'is_authenticated', False) or getattr(user, 'role', None) is None:
        return 0
    return unread_count(user)


def mark_all_read(user) -> int:
    """Mark every unread message of the user read (their inbox's "全部已读"). Does not commit."""
    unread = db.session.execute(sa.select(Message.id).where(mine(user), Message.read_at.is_(None))).scalars().all()
    if not unread:
        return 0
    now = utcnow()
    db.session.execute(sa.update(Message).where(Message.id.in_(unread)).values(read_at=now)
                       .execution_options(synchronize_session=False))
    db.session.execute(sa.update(Delivery).where(Delivery.message_id.in_(unread), Delivery.channel == 'inbox')
                       .values(status='read', updated_at=now).execution_options(synchronize_session=False))
    return len(unread)


def visible_announcement(user, announcement_id: int) -> Announcement | None:
    """One announcement the user may read now; anything else (another tenant's, not for them, withdrawn) None."""
    return db.session.execute(visible_announcements_query(user).where(Announcement.id == announcement_id)
                              ).scalar_one_or_none()


def read_announcement(user, announcement: Announcement) -> int:
    """The resident opened the announcement: their message(s) for it become read (the read receipt). No commit."""
    messages = db.session.execute(sa.select(Message).where(
        Message.resident_id.in_(resident_ids_of(user)), Message.announcement_id == announcement.id)).scalars().all()
    return mark_read(list(messages))


def unread_announcement_ids(user, announcement_ids) -> set[int]:
    """Which of these announcements the user has an unread message for: one statement."""
    ids = list(announcement_ids)
    if not ids:
        return set()
    return set(db.session.execute(sa.select(Message.announcement_id).where(
        Message.resident_id.in_(resident_ids_of(user)), Message.announcement_id.in_(ids),
        Message.read_at.is_(None))).scalars())


def safe_link(link: str | None) -> str | None:
    """A message's link when it is a path on this site ('/notices/3'); anything else (absolute, '//host') None."""
    if not link or not link.startswith('/') or link.startswith('//') or link.startswith('/\\'):
        return None
    if any(ch in link for ch in '\r\n\t\\'):
        return None
    return link
