"""The resident portal's notices: the notice board (公告栏) and the inbox (消息)."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..auth.sessions import require_role
from ..core.navigation import add_nav
from ..extensions import db
from ..models_base import MAX_ID, get_or_404
from ..tenancy.clock import local_datetime
from . import bp, inbox, richtext
from .forms import ActionForm
from .models import Announcement

PER_PAGE = 20


def _page() -> int:
    return max(request.args.get('page', 1, type=int), 1)


# --- notice board ------------------------------------------------------------------------------------------------

@bp.get('/notices')
@require_role('resident')
def board():
    """公告栏: the announcements this resident may read, pinned first, with an unread dot."""
    pagination = db.paginate(inbox.visible_announcements_query(current_user), page=_page(), per_page=PER_PAGE,
                             error_out=False)
    unread = inbox.unread_announcement_ids(current_user, (a.id for a in pagination.items))
    return render_template('notices/board.html', pagination=pagination, unread=unread,
                           local=lambda v: local_datetime(v, g.tenant), filters={})


add_nav('notices.board', _l('公告'), ('resident',))


@bp.get('/notices/<int:announcement_id>')
@require_role('resident', 'admin', 'staff')
def read_notice(announcement_id):
    """Read one announcement; opening it marks the resident's message for it read (staff see the receipt).
    Staff following a link to it land on its staff page."""
    if current_user.role != 'resident':
        announcement = get_or_404(Announcement, announcement_id)
        return redirect(url_for('notices.announcement_detail', announcement_id=announcement.id))
    if not 0 < announcement_id <= MAX_ID:
        abort(404)
    announcement = inbox.visible_announcement(current_user, announcement_id)
    if announcement is None:
        abort(404)
    inbox.read_announcement(current_user, announcement)
    db.session.commit()
    # Sanitised on save; sanitised again here so a row written any other way can't carry a script.
    body = richtext.sanitize(announcement.body_html)
    return render_template('notices/read.html', announcement=announcement, body=body,
                           attachments=list(announcement.attachments),
                           local=lambda v: local_datetime(v, g.tenant))


# --- inbox -------------------------------------------------------------------------------------------------------

@bp.get('/inbox', endpoint='inbox')
@require_role('resident', 'admin', 'staff')
def inbox_messages():
    """消息: the user's messages (a resident's notices and progress, staff's work messages), newest first, unread
    marked."""
    pagination = db.paginate(inbox.messages_query(current_user), page=_page(), per_page=PER_PAGE, error_out=False)
    return render_template('notices/inbox.html', pagination=pagination, form=ActionForm(), filters={},
                           unread_total=inbox.unread_count(current_user),
                           local=lambda v: local_datetime(v, g.tenant))


add_nav('notices.inbox', _l('消息'), ('resident',), badge=inbox.unread_badge)
add_nav('notices.inbox', _l('消息'), ('admin', 'staff'), badge=inbox.unread_badge)  # staff's work messages


@bp.get('/inbox/<int:message_id>')
@require_role('resident', 'admin', 'staff')
def inbox_message(message_id):
    """Open one of the user's messages (it becomes read); anybody else's is 404."""
    if not 0 < message_id <= MAX_ID:
        abort(404)
    message = inbox.message_of(current_user, message_id)
    if message is None:
        abort(404)
    inbox.mark_read([message])
    db.session.commit()
    return render_template('notices/message.html', message=message, link=inbox.safe_link(message.link),
                           lines=(message.body or '').split('\n'),
                           local=lambda v: local_datetime(v, g.tenant))


@bp.post('/inbox/read-all')
@require_role('resident', 'admin', 'staff')
def inbox_read_all():
    if not ActionForm().validate_on_submit():
        abort(400)
    count = inbox.mark_all_read(current_user)
    db.session.commit()
    flash(_('已将 %(n)s 条消息标为已读', n=count) if count else _('没有未读消息'))
    return redirect(url_for('notices.inbox'))
