"""The staff side of feedback (问题反馈): my feedback (admins: the project's), sending one with the page the user
came from and a screenshot, one feedback with the operator's answer, and its screenshot. Residents 403; another
staff member's feedback, and another project's, 404."""
from __future__ import annotations

import io
from urllib.parse import urlsplit

from flask import abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..auth.sessions import require_staff
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from ..models_base import get_or_404
from ..repairs.photos import IMAGE_MAX_BYTES, read_uploads
from ..tenancy.clock import local_datetime
from . import bp, services
from .forms import FeedbackForm
from .models import KIND_NAMES, STATUS_NAMES, Feedback

PER_PAGE = 20
#: one screenshot of up to 10 MB and the form around it
UPLOAD_REQUEST_LIMIT = IMAGE_MAX_BYTES + 1024 * 1024


def page_context(**extra) -> dict:
    return {'kinds': KIND_NAMES, 'statuses': STATUS_NAMES, 'local': lambda value: local_datetime(value, g.tenant),
            **extra}


def _load(feedback_id: int) -> Feedback:
    feedback = get_or_404(Feedback, feedback_id)
    if not services.can_see(feedback, current_user):
        abort(404)  # another staff member's: as if it didn't exist
    return feedback


def _came_from() -> str | None:
    """The page the user came from: ?page=, else the path of a Referer on this host (never the form itself)."""
    if page := request.args.get('page'):
        return services.clean_page(page)
    referrer = urlsplit(request.referrer or '')
    if referrer.netloc != request.host or not referrer.path or referrer.path == url_for('feedback.new_feedback'):
        return None
    return services.clean_page(referrer.path + (f'?{referrer.query}' if referrer.query else ''))


@bp.get('/feedback')
@require_staff
def list_feedback():
    page = max(request.args.get('page', 1, type=int), 1)
    pagination = db.paginate(services.visible_to(current_user), page=page, per_page=PER_PAGE, error_out=False)
    return render_template('feedback/list.html', pagination=pagination, **page_context())


add_nav('feedback.list_feedback', _l('问题反馈'), ('admin', 'staff'))


@bp.route('/feedback/new', methods=['GET', 'POST'])
@require_staff
def new_feedback():
    if request.method == 'POST':
        request.max_content_length = UPLOAD_REQUEST_LIMIT  # before the form is parsed
    form = FeedbackForm()
    if request.method == 'GET':
        form.page.data = _came_from()
        return render_template('feedback/new.html', form=form, **page_context())
    if not form.validate_on_submit():
        return render_template('feedback/new.html', form=form, **page_context()), 422
    try:
        uploads = read_uploads([form.screenshot.data], limit=1)
        feedback = services.send_feedback(current_user, kind=form.kind.data, text=form.text.data,
                                          page=form.page.data, screenshot=uploads[0] if uploads else None)
    except DomainError as e:
        db.session.rollback()
        field = getattr(form, {'photos': 'screenshot'}.get(e.field, e.field or ''), None)
        if field is None:
            flash(e.message, 'error')
        else:
            field.errors = [*field.errors, e.message]
        return render_template('feedback/new.html', form=form, **page_context()), e.status_code
    db.session.commit()
    flash(_('反馈已提交，平台答复后会通知你'))
    return redirect(url_for('feedback.show_feedback', feedback_id=feedback.id))


@bp.get('/feedback/<int:feedback_id>')
@require_staff
def show_feedback(feedback_id):
    return render_template('feedback/show.html', feedback=_load(feedback_id), **page_context())


@bp.get('/feedback/<int:feedback_id>/screenshot')
@require_staff
def screenshot(feedback_id):
    """The screenshot, for the sender and the project's admins; anyone else 404."""
    data = services.read_screenshot(_load(feedback_id))
    if data is None:
        abort(404)
    return image_response(data)


def image_response(data: bytes):
    response = send_file(io.BytesIO(data), mimetype='image/jpeg', max_age=0)
    response.headers['X-Content-Type-Options'] = 'nosniff'
    response.headers['Cache-Control'] = 'private, no-cache'
    return response
