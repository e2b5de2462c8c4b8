"""The verbs of feedback (问题反馈): a staff user sends it, the operators answer and close it, the sender is told.

Tenant side: everything runs in the request's tenant scope. Operator side (the platform host): the list crosses
tenants inside ``platform_scope()``; one feedback is read and changed inside ``tenant_scope(feedback.tenant_id)``.
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from .. import storage
from ..errors import DomainError
from ..extensions import db
from ..models_base import MAX_ID, Page, page_of, utcnow
from ..notices.inbox import safe_link
from ..repairs.photos import store_photo
from ..tenancy.context import platform_scope
from ..tenancy.models import Tenant
from .models import KINDS, MAX_PAGE, MAX_TEXT, STATUSES, Feedback

log = logging.getLogger(__name__)


class IllegalTransition(DomainError):
    status_code = 409


def clean_page(page: str | None) -> str | None:
    """The path of a page on this site ('/repairs/12'); a foreign or odd URL, or an overlong one: None."""
    page = safe_link((page or '').strip())
    if page is None or len(page) > MAX_PAGE:
        return None
    return page


def _clean_text(text: str | None, *, field: str, empty) -> str:
    text = (text or '').strip()
    if not text:
        raise DomainError(empty, field=field)
    if len(text) > MAX_TEXT:
        raise DomainError(_l('最多 %(n)s 个字', n=MAX_TEXT), field=field)
    return text


# --- the sender's side (the project's tenant scope) ------------------------------------------------------------------

def send_feedback(user, *, kind: str, text: str, page: str | None = None,
                  screenshot: bytes | None = None) -> Feedback:
    """Record ``user``'s feedback; the screenshot (if any) is checked by content and stored re-encoded without its
    metadata. Raises DomainError (422) with the reason and keeps nothing (the screenshot's files go with the
    rollback). Does not commit."""
    if kind not in KINDS:
        raise DomainError(_l('请选择反馈类型'), field='kind')
    feedback = Feedback(user_id=user.id, kind=kind, page=clean_page(page),
                        text=_clean_text(text, field='text', empty=_l('请写下遇到的问题或建议')))
    db.session.add(feedback)
    db.session.flush()
    if screenshot:
        stored = store_photo(f'feedback/{feedback.id}', screenshot)
        feedback.screenshot_key, feedback.screenshot_thumb_key = stored['key'], stored['thumb_key']
        feedback.screenshot_width, feedback.screenshot_height = stored['width'], stored['height']
        feedback.screenshot_size = stored['size']
    return feedback


def visible_to(user) -> sa.Select:
    """The feedback ``user`` may see, newest first: an admin every one of the project, staff their own."""
    query = sa.select(Feedback).options(joinedload(Feedback.user)).order_by(Feedback.id.desc())
    if user.role != 'admin':
        query = query.where(Feedback.user_id == user.id)
    return query


def can_see(feedback: Feedback, user) -> bool:
    return user.role == 'admin' or feedback.user_id == user.id


def read_screenshot(feedback: Feedback, thumb: bool = False) -> bytes | None:
    """The stored screenshot's bytes (in the feedback's tenant scope), or None."""
    key = feedback.screenshot_thumb_key if thumb else feedback.screenshot_key
    if not key:
        return None
    try:
        return storage.path_for(key).read_bytes()
    except (FileNotFoundError, ValueError):
        return None


# --- the operators' side -------------------------------------------------------------------------------------------

_STATUS_ORDER = sa.case({'open': 0, 'answered': 1}, value=Feedback.status, else_=2)


def all_feedback(status: str | None = None, page: int = 1, per_page: int = 50) -> Page:
    """Every project's feedback with the project's name and timezone, rows of (Feedback, name, timezone): open
    first, then answered, then closed, newest first within each. Two statements whatever the page."""
    query = (sa.select(Feedback, Tenant.name, Tenant.timezone).join(Tenant, Tenant.id == Feedback.tenant_id)
             .options(joinedload(Feedback.user)).order_by(_STATUS_ORDER, Feedback.id.desc()))
    if status in STATUSES:
        query = query.where(Feedback.status == status)
    with platform_scope():
        return page_of(query, page, per_page)


def tenant_of(feedback_id: int) -> Tenant | None:
    """The project a feedback belongs to (crossing tenants to find it), or None for no such feedback."""
    if not 0 < feedback_id <= MAX_ID:
        return None
    with platform_scope():
        return db.session.execute(sa.select(Tenant).join(Feedback, Feedback.tenant_id == Tenant.id).where(
            Feedback.id == feedback_id)).scalar_one_or_none()


def answer_feedback(feedback: Feedback, operator, text: str) -> Feedback:
    """An operator answers (or answers again: the new answer replaces the old one). A closed feedback is refused.
    Does not commit; tell the sender with ``tell_sender`` after the commit."""
    if feedback.status == 'closed':
        raise IllegalTransition(_l('反馈已关闭，不能再答复'))
    feedback.answer = _clean_text(text, field='answer', empty=_l('请填写答复内容'))
    feedback.answered_by_id = operator.id
    feedback.answered_at = utcnow()
    feedback.answer_count = (feedback.answer_count or 0) + 1
    feedback.status = 'answered'
    return feedback


def close_feedback(feedback: Feedback) -> Feedback:
    """Close an open or answered feedback. Does not commit."""
    if feedback.status == 'closed':
        raise IllegalTransition(_l('反馈已经关闭'))
    feedback.status = 'closed'
    feedback.closed_at = utcnow()
    return feedback


def tell_sender(feedback: Feedback) -> int:
    """After the commit, in the feedback's tenant scope: message the sender that it was answered (inbox, and what
    the project's 'feedback_answered' template says). Told once per answer. A project without the template is
    logged and skipped. Commits; returns the number of new messages."""
    from ..notices.templates import notify_staff

    feedback_id, user_id, number = feedback.id, feedback.user_id, feedback.answer_count
    values = {'title': feedback.title, 'answer': feedback.answer or ''}
    try:
        result = notify_staff([user_id], 'feedback_answered', values,
                              source_key=f'feedback:{feedback_id}:answered:{number}', link=f'/feedback/{feedback_id}')
    except DomainError as exc:  # a project provisioned before the template existed
        db.session.rollback()
        log.warning('feedback answer message for feedback %s not sent: %s', feedback_id, exc.message)
        return 0
    return result.messages
