"""公告管理: the staff pages of announcements (admins, and staff with the service desk duty), and the attachment
download every allowed user goes through."""
from __future__ import annotations

import io

from flask import abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..auth.models import mask_mobile
from ..auth.sessions import require_duty, require_role
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from ..models_base import get_or_404, page_of
from ..tenancy.clock import local_datetime
from . import announcements as services
from . import attachments, bp, delivery, targeting
from .audience_form import audience_choices, audience_from_form, people_text
from .forms import ActionForm, AnnouncementForm, AttachmentForm, ScheduleForm
from .models import CHANNEL_NAMES, DELIVERY_STATUS_NAMES, STATE_NAMES, Announcement, MessageTemplate
from .targeting import Audience

PER_PAGE = 20
DETAIL_PER_PAGE = 20


def _local(value) -> str:
    return local_datetime(value, g.tenant)


def _context(**extra) -> dict:
    return {'state_names': STATE_NAMES, 'channel_names': CHANNEL_NAMES, 'status_names': DELIVERY_STATUS_NAMES,
            'local': _local, **extra}


# --- list --------------------------------------------------------------------------------------------------------

@bp.get('/announcements')
@require_duty('service_desk')
def announcements():
    """All announcements, pinned first, filterable by state (草稿/定时发布/已发布/已过期/已撤回)."""
    state = request.args.get('state') or None
    state = state if state in services.STATES else None
    page = max(request.args.get('page', 1, type=int), 1)
    pagination = db.paginate(services.list_query(state), page=page, per_page=PER_PAGE, error_out=False)
    counts = services.read_counts(a.id for a in pagination.items)
    return render_template('notices/announcements.html', **_context(
        pagination=pagination, counts=counts, filters={'state': state} if state else {}, state=state))


add_nav('notices.announcements', _l('公告管理'), ('admin', 'staff'), duties=('service_desk',))


# --- new and edit --------------------------------------------------------------------------------------------------

def _form_choices(form: AnnouncementForm, enabled) -> None:
    form.category.choices = [(c, c) for c in services.categories(g.tenant)]
    form.channels.choices = [(c, CHANNEL_NAMES[c]) for c in enabled]


def _form_error(form, error: DomainError) -> None:
    field = getattr(form, error.field, None) if error.field else None
    if field is None or error.field == 'audience':
        flash(error.message, 'error')
        return
    field.errors = [*field.errors, error.message]


def _render_form(form, announcement, audience: Audience, status: int = 200, preview=None, audience_error=None):
    return render_template('notices/form.html', **_context(
        form=form, announcement=announcement, audience=audience, choices=audience_choices(g.tenant),
        people=people_text(audience) if audience.resident_ids else request.form.get('audience-people', ''),
        preview=preview, audience_error=audience_error, templates=services.announcement_templates(),
        template_id=request.args.get('template_id', type=int))), status


def _audience_as_typed(data) -> Audience:
    """The picker's choices as submitted, unchecked, to show them again next to the error."""

    def ints(values):
        return [int(v) for v in values if str(v).strip().isdigit() and int(v) <= 2**31 - 1][:2000]

    def one(name):
        found = ints([data.get('audience-' + name, '')])
        return found[0] if found and found[0] <= 300 else None

    scope = data.get('audience-scope') or 'all'
    building = ints([data.get('audience-floor_building_id', '')])
    return Audience(scope=scope if scope in targeting.SCOPES else 'all',
                    building_ids=ints(data.getlist('audience-building_ids')),
                    unit_ids=ints(data.getlist('audience-unit_ids')),
                    floor_building_id=building[0] if building else None,
                    floor_min=one('floor_min'), floor_max=one('floor_max'),
                    roles=data.getlist('audience-roles')[:10], tags=data.getlist('audience-tags')[:20])


def _edit(announcement: Announcement | None):
    """The shared new/edit page: GET shows it, POST with action=preview counts recipients, else saves."""
    form = AnnouncementForm()
    enabled = list(delivery.enabled_channels())
    _form_choices(form, enabled)
    if request.method == 'GET':
        if announcement is not None:
            a = announcement
            form.process(title=a.title, category=a.category, body=a.body_html, pinned=a.pinned, urgent=a.urgent,
                         channels=list(a.channels or []),
                         expires_at=services.utc_to_local(a.expires_at, g.tenant))
            audience = Audience.from_json(announcement.audience)
        else:
            audience = Audience()
            template_id = request.args.get('template_id', type=int)
            if template_id:
                template = get_or_404(MessageTemplate, template_id)
                if template.category is None:
                    abort(404)
                start = services.from_template(template, g.tenant)
                form.title.data, form.body.data, form.category.data = start['title'], start['body'], start['category']
        return _render_form(form, announcement, audience)

    try:
        audience = audience_from_form(request.form)
    except DomainError as e:
        return _render_form(form, announcement, _audience_as_typed(request.form), 422, audience_error=e.message)
    if request.form.get('action') == 'preview':
        count, names = targeting.preview(audience)
        return _render_form(form, announcement, audience, preview={'count': count, 'names': names})
    if not form.validate_on_submit():
        return _render_form(form, announcement, audience, 422)
    try:
        saved = services.save(
            announcement, title=form.title.data, body=form.body.data, category=form.category.data,
            audience=audience, channels=form.channels.data or [], pinned=form.pinned.data, urgent=form.urgent.data,
            expires_at=services.local_to_utc(form.expires_at.data, g.tenant), by_user_id=current_user.id)
    except DomainError as e:
        db.session.rollback()
        _form_error(form, e)
        return _render_form(form, announcement, audience, e.status_code,
                            audience_error=e.message if e.field == 'audience' else None)
    db.session.commit()
    flash(_('公告已保存') if announcement is None else _('修改已保存'))
    return redirect(url_for('notices.announcement_detail', announcement_id=saved.id))


@bp.route('/announcements/new', methods=['GET', 'POST'])
@require_duty('service_desk')
def new_announcement():
    return _edit(None)


@bp.route('/announcements/<int:announcement_id>/edit', methods=['GET', 'POST'])
@require_duty('service_desk')
def edit_announcement(announcement_id):
    announcement = get_or_404(Announcement, announcement_id)
    if announcement.status not in services.EDITABLE:
        flash(_('已发布的公告不能修改；如需更正，请撤回后重新发布'), 'error')
        return redirect(url_for('notices.announcement_detail', announcement_id=announcement.id))
    return _edit(announcement)


# --- one announcement ----------------------------------------------------------------------------------------------

def _detail(announcement: Announcement, status: int = 200, **forms):
    failed_page = max(request.args.get('failed_page', 1, type=int), 1)
    receipts_page = max(request.args.get('receipts_page', 1, type=int), 1)
    read, total = services.read_counts([announcement.id]).get(announcement.id, (0, 0))
    defaults = {'schedule_form': ScheduleForm(prefix='schedule'), 'action_form': ActionForm(),
                'attachment_form': AttachmentForm(prefix='attachment')}
    defaults.update(forms)
    show_mobile = mask_mobile if current_user.role != 'admin' else (lambda m: m or '')
    return render_template('notices/detail.html', **_context(
        announcement=announcement, state=announcement.state(), editable=announcement.status in services.EDITABLE,
        audience_text=Audience.from_json(announcement.audience).describe(),
        stats=services.delivery_stats(announcement),
        failed=page_of(services.failed_deliveries_query(announcement), failed_page, DETAIL_PER_PAGE),
        receipts=page_of(services.receipts_query(announcement), receipts_page, DETAIL_PER_PAGE),
        read_count=read, unread_count=total - read, show_mobile=show_mobile,
        placeholders=[f'{{{n}}}' for n in services.unfilled_placeholders(announcement.title,
                                                                           announcement.body_html)],
        body=services.richtext.sanitize(announcement.body_html), **defaults)), status


@bp.get('/announcements/<int:announcement_id>')
@require_duty('service_desk')
def announcement_detail(announcement_id):
    return _detail(get_or_404(Announcement, announcement_id))


def _act(announcement_id: int, action, done_message: str, form=None, form_name: str | None = None):
    """Run ``action(announcement, form)`` and commit once, or show the detail page with the reason."""
    announcement = get_or_404(Announcement, announcement_id)
    form = form or ActionForm()
    if not form.validate_on_submit():
        return _detail(announcement, 422, **({form_name: form} if form_name else {}))
    try:
        action(announcement, form)
    except DomainError as e:
        db.session.rollback()
        announcement = get_or_404(Announcement, announcement_id)
        field = getattr(form, e.field or '', None) if form_name else None
        if field is not None:
            field.errors = [*field.errors, e.message]
        else:
            flash(e.message, 'error')
        return _detail(announcement, e.status_code, **({form_name: form} if form_name else {}))
    db.session.commit()
    flash(done_message)
    return redirect(url_for('notices.announcement_detail', announcement_id=announcement_id))


@bp.post('/announcements/<int:announcement_id>/publish')
@require_duty('service_desk')
def publish_announcement(announcement_id):
    return _act(announcement_id, lambda a, f: services.publish_now(a, by_user_id=current_user.id),
                _('公告已发布，正在发送'))


@bp.post('/announcements/<int:announcement_id>/schedule')
@require_duty('service_desk')
def schedule_announcement(announcement_id):
    return _act(announcement_id,
                lambda a, f: services.schedule(a, services.local_to_utc(f.publish_at.data, g.tenant),
                                               by_user_id=current_user.id),
                _('已设为定时发布'), ScheduleForm(prefix='schedule'), 'schedule_form')


@bp.post('/announcements/<int:announcement_id>/unschedule')
@require_duty('service_desk')
def unschedule_announcement(announcement_id):
    return _act(announcement_id, lambda a, f: services.unschedule(a), _('已取消定时发布，公告回到草稿'))


@bp.post('/announcements/<int:announcement_id>/withdraw')
@require_duty('service_desk')
def withdraw_announcement(announcement_id):
    return _act(announcement_id, lambda a, f: services.withdraw(a), _('公告已撤回，住户不再看到它'))


@bp.post('/announcements/<int:announcement_id>/resend')
@require_duty('service_desk')
def resend_announcement(announcement_id):
    """重发失败的: queue the failed deliveries again (the sent ones are left alone) and send."""
    announcement = get_or_404(Announcement, announcement_id)
    if not ActionForm().validate_on_submit():
        return _detail(announcement, 422)
    try:
        count = services.resend_failed(announcement)
    except DomainError as e:
        db.session.rollback()
        flash(e.message, 'error')
        return _detail(get_or_404(Announcement, announcement_id), e.status_code)
    flash(_('已重新发送 %(n)s 条失败的消息', n=count) if count else _('没有发送失败的消息'))
    return redirect(url_for('notices.announcement_detail', announcement_id=announcement_id))


# --- attachments ---------------------------------------------------------------------------------------------------

@bp.post('/announcements/<int:announcement_id>/attachments')
@require_duty('service_desk')
def upload_attachment(announcement_id):
    form = AttachmentForm(prefix='attachment')

    def add(announcement, f):
        upload = f.file.data
        if upload is None or not getattr(upload, 'filename', ''):
            raise DomainError(_l('请选择要上传的文件'), field='file')
        data = upload.stream.read(attachments.PDF_MAX_BYTES + 1)
        attachments.add_attachment(announcement, upload.filename, data)

    return _act(announcement_id, add, _('附件已上传'), form, 'attachment_form')


@bp.post('/announcements/<int:announcement_id>/attachments/<int:attachment_id>/delete')
@require_duty('service_desk')
def delete_attachment(announcement_id, attachment_id):
    announcement = get_or_404(Announcement, announcement_id)
    attachment = attachments.attachment_for(current_user, announcement.id, attachment_id)
    if attachment is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        return _detail(announcement, 422)
    try:
        key = attachments.remove(attachment)
    except DomainError as e:
        db.session.rollback()
        flash(e.message, 'error')
        return _detail(get_or_404(Announcement, announcement_id), e.status_code)
    db.session.commit()
    attachments.discard_file(key)
    flash(_('附件已删除'))
    return redirect(url_for('notices.announcement_detail', announcement_id=announcement_id))


@bp.get('/announcements/<int:announcement_id>/attachments/<int:attachment_id>')
@require_role('admin', 'staff', 'resident')
def attachment(announcement_id, attachment_id):
    """The file, for staff of the project or a resident who can read the announcement; anyone else 404."""
    found = attachments.attachment_for(current_user, announcement_id, attachment_id)
    if found is None:
        abort(404)
    try:
        data = attachments.file_path(found).read_bytes()  # at most 20 MB; no file handle outlives the request
    except FileNotFoundError:
        abort(404)
    response = send_file(io.BytesIO(data), mimetype=found.content_type, as_attachment=found.kind == 'pdf',
                         download_name=found.filename, max_age=0)
    response.headers['X-Content-Type-Options'] = 'nosniff'
    response.headers['Cache-Control'] = 'private, no-cache'
    return response
