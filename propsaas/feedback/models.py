"""Feedback (问题反馈): a staff user's problem report or suggestion to the platform's operators, and the answer.

States: open → answered (an operator answered; answering again replaces the answer) → closed; open → closed.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import Operator, User
from ..extensions import db
from ..models_base import UTCDateTime, utcnow
from ..tenancy.scoping import TenantScoped

KINDS = ('problem', 'suggestion')
KIND_NAMES = {'problem': _l('问题'), 'suggestion': _l('建议')}
STATUSES = ('open', 'answered', 'closed')
STATUS_NAMES = {'open': _l('待答复'), 'answered': _l('已答复'), 'closed': _l('已关闭')}
MAX_TEXT = 2000
MAX_PAGE = 300


class Feedback(TenantScoped, db.Model):
    """One message from a project's staff user (or admin) to the operators, with the operator's answer."""

    __tablename__ = 'feedback'
    __table_args__ = (
        sa.CheckConstraint("kind in ('problem', 'suggestion')", name='kind'),
        sa.CheckConstraint("status in ('open', 'answered', 'closed')", name='status'),
        sa.Index('ix_feedback_status', 'status', 'created_at'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the sender
    user_id: Mapped[int] = mapped_column(sa.ForeignKey('users.id', ondelete='CASCADE'), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20), default='problem')
    text: Mapped[str] = mapped_column(sa.Text)
    #: the local path of the page the sender was on ('/repairs/12'), or None
    page: Mapped[str | None] = mapped_column(sa.String(MAX_PAGE))
    #: storage keys of the re-encoded screenshot (JPEG, no metadata) and its thumbnail; None without one
    screenshot_key: Mapped[str | None] = mapped_column(sa.String(200))
    screenshot_thumb_key: Mapped[str | None] = mapped_column(sa.String(200))
    #: the stored screenshot's size in pixels and bytes
    screenshot_width: Mapped[int | None]
    screenshot_height: Mapped[int | None]
    screenshot_size: Mapped[int | None]
    status: Mapped[str] = mapped_column(sa.String(10), default='open')
    answer: Mapped[str | None] = mapped_column(sa.Text)
    answered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('operators.id', ondelete='SET NULL'))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: how many times an operator answered (each answer is told to the sender once)
    answer_count: Mapped[int] = mapped_column(default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    answered_by: Mapped[Operator | None] = relationship(foreign_keys=[answered_by_id])

    @property
    def title(self) -> str:
        """The first words of the text, for lists and the message to the sender."""
        first = ' '.join(self.text.split())
        return first if len(first) <= 30 else f'{first[:30]}…'
