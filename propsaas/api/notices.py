"""API: a resident's notification center — their messages (站内消息), the announcements (公告) they may read and
their notification preferences (通知设置).

Residents only (a staff token is 403). A message of another resident, or anything of another project, is 404.
"""
from __future__ import annotations

import marshmallow as ma
import sqlalchemy as sa
from flask import abort, g
from flask_smorest import Blueprint
from marshmallow import validate
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models_base import MAX_ID
from ..notices import inbox
from ..notices import preferences as prefs_service
from ..notices.models import EXTERNAL_CHANNELS, Announcement, Message
from .auth import BEARER, api_login_required
from .schemas import PageArgsSchema, errors, page_of, paginate

PREFIX = '/me'
blp = Blueprint('api_notices', __name__, description="A resident's messages, announcements and notification "
                                                     'preferences (消息通知)')


class MessageSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    body = ma.fields.String(required=True, metadata={'description': 'plain text'})
    link = ma.fields.String(allow_none=True, metadata={'description': "a portal path to open, e.g. '/notices/12'"})
    urgent = ma.fields.Boolean(required=True)
    created_at = ma.fields.DateTime(required=True)
    read_at = ma.fields.DateTime(allow_none=True, metadata={'description': 'null while unread'})


class MessageListArgsSchema(PageArgsSchema):
    unread = ma.fields.Boolean(metadata={'description': 'true: only unread messages'})


class MarkedSchema(ma.Schema):
    marked = ma.fields.Integer(required=True, metadata={'description': 'messages that were unread and now are read'})


class UnreadCountSchema(ma.Schema):
    unread = ma.fields.Integer(required=True)


class AttachmentSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    filename = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, metadata={'description': 'image or pdf'})
    size_bytes = ma.fields.Integer(required=True)


class AnnouncementSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    category = ma.fields.String(required=True, metadata={'description': "the project's category: 停水, 停电 ..."})
    pinned = ma.fields.Boolean(required=True)
    urgent = ma.fields.Boolean(required=True)
    published_at = ma.fields.DateTime(allow_none=True)
    expires_at = ma.fields.DateTime(allow_none=True)
    body_html = ma.fields.String(required=True, metadata={'description': 'sanitised HTML (a small safe subset)'})
    attachments = ma.fields.List(ma.fields.Nested(AttachmentSchema), required=True)


class PreferencesSchema(ma.Schema):
    email = ma.fields.String(required=True, metadata={'description': "the address set here; '' when none (the "
                                                                       'login e-mail is used then)'})
    login_email = ma.fields.String(required=True)
    wechat_bound = ma.fields.Boolean(required=True, metadata={'description': 'a WeChat account is bound'})
    mobile = ma.fields.String(required=True, metadata={'description': 'masked: 138****1234'})
    opted_out = ma.fields.List(ma.fields.String(), required=True,
                               metadata={'description': 'channels refused for non-urgent messages'})
    enabled_channels = ma.fields.List(ma.fields.String(), required=True,
                                      metadata={'description': 'external channels the project has switched on'})


class PreferencesUpdateSchema(ma.Schema):
    email = ma.fields.String(required=True, validate=validate.Length(max=254),
                             metadata={'description': "'' clears it"})
    opted_out = ma.fields.List(ma.fields.String(validate=validate.Length(max=20)), required=True,
                               validate=validate.Length(max=len(EXTERNAL_CHANNELS)),
                               metadata={'description': "any of 'sms', 'email', 'wechat' (the inbox can't be turned "
                                                        'off; urgent messages ignore opt-outs)'})


def _message(message_id: int) -> Message:
    if not 0 < message_id <= MAX_ID:
        abort(404)
    message = inbox.message_of(g.api_user, message_id)
    if message is None:
        abort(404)
    return message


def _announcements_query() -> sa.Select:
    return inbox.visible_announcements_query(g.api_user).options(selectinload(Announcement.attachments))


# --- messages ----------------------------------------------------------------------------------------------------

@blp.route('/messages', methods=['GET'])
@blp.arguments(MessageListArgsSchema, location='query')
@blp.response(200, page_of(MessageSchema))
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@api_login_required()
def list_messages(args):
    """The user's messages (a resident's notices and progress; staff's work messages), newest first;
    ``unread=true`` for the unread ones only."""
    query = inbox.messages_query(g.api_user)
    if args.get('unread'):
        query = query.where(Message.read_at.is_(None))
    return paginate(query, args)


@blp.route('/messages/<int:message_id>', methods=['GET'])
@blp.response(200, MessageSchema)
@errors(blp, 401, 404)
@blp.doc(security=BEARER)
@api_login_required()  # anyone else has no such message/announcement of theirs: 404, not 403
def get_message(message_id):
    """One of the user's messages (reading it does not mark it read: POST .../read does)."""
    return _message(message_id)


@blp.route('/messages/<int:message_id>/read', methods=['POST'])
@blp.response(200, MessageSchema)
@errors(blp, 401, 404, 415)
@blp.doc(security=BEARER)
@api_login_required()  # anyone else has no such message/announcement of theirs: 404, not 403
def read_message(message_id):
    """Mark one message read (the read receipt staff see). Idempotent: the first read time is kept."""
    message = _message(message_id)
    inbox.mark_read([message])
    db.session.commit()
    return message


@blp.route('/messages/read-all', methods=['POST'])
@blp.response(200, MarkedSchema)
@errors(blp, 401, 403, 415)
@blp.doc(security=BEARER)
@api_login_required()
def read_all_messages():
    """Mark every unread message read; ``marked`` says how many were unread."""
    unread = db.session.execute(inbox.messages_query(g.api_user).where(Message.read_at.is_(None))).scalars().all()
    marked = inbox.mark_read(list(unread))
    db.session.commit()
    return {'marked': marked}


@blp.route('/unread-count', methods=['GET'])
@blp.response(200, UnreadCountSchema)
@errors(blp, 401, 403)
@blp.doc(security=BEARER)
@api_login_required()
def unread_count():
    """How many of the user's messages are unread (the badge on the app's icon)."""
    return {'unread': inbox.unread_count(g.api_user)}


# --- announcements -----------------------------------------------------------------------------------------------

@blp.route('/announcements', methods=['GET'])
@blp.arguments(PageArgsSchema, location='query')
@blp.response(200, page_of(AnnouncementSchema))
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@api_login_required('resident')
def list_announcements(args):
    """The announcements the resident may read (published, not expired; for everyone or sent to them), pinned
    first, then newest."""
    return paginate(_announcements_query(), args)


@blp.route('/announcements/<int:announcement_id>', methods=['GET'])
@blp.response(200, AnnouncementSchema)
@errors(blp, 401, 404)
@blp.doc(security=BEARER)
@api_login_required()  # anyone else has no such message/announcement of theirs: 404, not 403
def get_announcement(announcement_id):
    """One announcement; opening it marks the resident's message about it read."""
    if not 0 < announcement_id <= MAX_ID:
        abort(404)
    announcement = db.session.execute(_announcements_query().where(Announcement.id == announcement_id)
                                      ).scalar_one_or_none()
    if announcement is None:
        abort(404)
    mine = db.session.execute(inbox.messages_query(g.api_user).where(
        Message.announcement_id == announcement.id, Message.read_at.is_(None))).scalars().all()
    inbox.mark_read(list(mine))
    db.session.commit()
    return announcement


# --- preferences -------------------------------------------------------------------------------------------------

@blp.route('/notification-preferences', methods=['GET'])
@blp.response(200, PreferencesSchema)
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@api_login_required('resident')
def get_preferences():
    """The resident's notification settings (422 when the account is not linked to a resident record yet)."""
    return prefs_service.get_preferences(g.api_user)


@blp.route('/notification-preferences', methods=['PUT'])
@api_login_required('resident')
@blp.arguments(PreferencesUpdateSchema)
@blp.response(200, PreferencesSchema)
@errors(blp, 400, 401, 403, 415, 422)
@blp.doc(security=BEARER)
def put_preferences(body):
    """Replace the e-mail address and the refused channels (applies to every resident record of the account).
    A bad address or channel is 422 and nothing is saved."""
    prefs = prefs_service.update_preferences(g.api_user, body['email'], body['opted_out'])
    db.session.commit()
    return prefs
