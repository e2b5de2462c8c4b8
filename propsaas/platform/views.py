"""The platform host (the bare base domain): landing page, operator console, health check."""
import functools
import io

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, send_file, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from redis.exceptions import RedisError

from ..auth import services as auth_services
from ..auth.forms import LoginForm
from ..auth.models import Operator
from ..auth.sessions import mark_session_host
from ..auth.throttle import throttle_failed_logins
from ..errors import DomainError
from ..extensions import db
from ..feedback import services as feedback_services
from ..feedback.forms import AnswerForm
from ..feedback.models import KIND_NAMES as FEEDBACK_KINDS
from ..feedback.models import STATUS_NAMES as FEEDBACK_STATUSES
from ..feedback.models import Feedback
from ..jobs.queue import redis_connection, rq_queue
from ..models_base import get_or_404
from ..tenancy import provisioning
from ..tenancy.clock import local_datetime
from ..tenancy.context import tenant_scope
from ..tenancy.guards import platform_only
from ..tenancy.models import Tenant
from . import audit, bp

platform_only(bp)


def operator_required(view):
    """Operators only: anyone else is sent to the operator login."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not isinstance(current_user._get_current_object(), Operator):
            return redirect(url_for('platform.login', next=request.path))
        return view(*args, **kwargs)
    return wrapped


@bp.route('/operator/login', methods=['GET', 'POST'])
@throttle_failed_logins
def login():
    form = LoginForm()
    if request.method == 'POST':
        if not form.validate_on_submit():
            return render_template('platform/login.html', form=form), 422
        operator = auth_services.authenticate_operator(form.login.data, form.password.data)
        if operator is None:
            form.password.errors.append(_('邮箱或密码不正确'))
            return render_template('platform/login.html', form=form), 401
        session.clear()
        auth_services.start_operator_session(operator)
        login_user(operator)
        mark_session_host()
        audit.record(operator, 'login')
        db.session.commit()
        return redirect(url_for('platform.tenants'))
    return render_template('platform/login.html', form=form)


@bp.post('/operator/logout')
def logout():
    if isinstance(current_user._get_current_object(), Operator):
        auth_services.end_operator_session(current_user.session_token)
        db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for('platform.login'))


@bp.get('/operator/tenants')
@operator_required
def tenants():
    tenants = provisioning.list_tenants()
    return render_template('platform/tenants.html', tenants=tenants, base_domain=current_app.config['BASE_DOMAIN'],
                           sizes=audit.sizes(t.id for t in tenants), megabytes=audit.megabytes,
                           local_datetime=local_datetime)


@bp.post('/operator/tenants/<slug>/<any(suspend, resume):action>')
@operator_required
def set_tenant_status(slug, action):
    try:
        tenant = provisioning.set_status(slug, Tenant.SUSPENDED if action == 'suspend' else Tenant.ACTIVE)
    except DomainError as e:
        return render_template('errors/error.html', status=404, message=e.message), 404
    audit.record(current_user, action, tenant_id=tenant.id, detail=tenant.slug)
    db.session.commit()
    flash(_('已暂停 %(name)s', name=tenant.name) if action == 'suspend' else _('已恢复 %(name)s', name=tenant.name))
    return redirect(url_for('platform.tenants'))


# --- feedback from the projects (问题反馈) -------------------------------------------------------------------------

@bp.get('/operator/feedback')
@operator_required
def feedback_list():
    """Every project's feedback, open first, filtered by status."""
    status = request.args.get('status') if request.args.get('status') in FEEDBACK_STATUSES else None
    page = max(request.args.get('page', 1, type=int), 1)
    pagination = feedback_services.all_feedback(status, page)
    return render_template('platform/feedback_list.html', pagination=pagination, status=status,
                           statuses=FEEDBACK_STATUSES, kinds=FEEDBACK_KINDS, local=local_datetime,
                           filters={'status': status} if status else {})


def _feedback_tenant(feedback_id: int) -> Tenant:
    """The project of a feedback (the operator reads it inside that project's scope); no such feedback: 404."""
    tenant = feedback_services.tenant_of(feedback_id)
    if tenant is None:
        abort(404)
    return tenant


def _render_feedback(feedback_id: int, form: AnswerForm | None = None, status: int = 200):
    tenant = _feedback_tenant(feedback_id)
    with tenant_scope(tenant.id):
        feedback = get_or_404(Feedback, feedback_id)
        return render_template('platform/feedback_detail.html', feedback=feedback, project=tenant,
                               form=form or AnswerForm(formdata=None), statuses=FEEDBACK_STATUSES,
                               kinds=FEEDBACK_KINDS, local=local_datetime), status


@bp.get('/operator/feedback/<int:feedback_id>')
@operator_required
def feedback_detail(feedback_id):
    return _render_feedback(feedback_id)


@bp.get('/operator/feedback/<int:feedback_id>/screenshot')
@operator_required
def feedback_screenshot(feedback_id):
    tenant = _feedback_tenant(feedback_id)
    with tenant_scope(tenant.id):  # files are stored per project
        data = feedback_services.read_screenshot(get_or_404(Feedback, feedback_id))
    if data is None:
        abort(404)
    response = send_file(io.BytesIO(data), mimetype='image/jpeg', max_age=0)
    response.headers['Cache-Control'] = 'private, no-cache'
    return response


@bp.post('/operator/feedback/<int:feedback_id>/answer')
@operator_required
def answer_feedback(feedback_id):
    tenant = _feedback_tenant(feedback_id)
    form = AnswerForm()
    if not form.validate_on_submit():
        return _render_feedback(feedback_id, form, 422)
    with tenant_scope(tenant.id):
        feedback = get_or_404(Feedback, feedback_id)
        try:
            feedback_services.answer_feedback(feedback, current_user, form.answer.data)
        except DomainError as e:
            db.session.rollback()
            form.answer.errors = [*form.answer.errors, e.message]
            return _render_feedback(feedback_id, form, e.status_code)
        audit.record(current_user, 'answer_feedback', tenant_id=tenant.id, detail=f'#{feedback_id}')
        db.session.commit()
        feedback_services.tell_sender(feedback)
    flash(_('已答复，反馈人会收到通知'))
    return redirect(url_for('platform.feedback_detail', feedback_id=feedback_id))


@bp.post('/operator/feedback/<int:feedback_id>/close')
@operator_required
def close_feedback(feedback_id):
    tenant = _feedback_tenant(feedback_id)  # the CSRF token is checked for every POST (CSRFProtect)
    with tenant_scope(tenant.id):
        feedback = get_or_404(Feedback, feedback_id)
        try:
            feedback_services.close_feedback(feedback)
        except DomainError as e:
            db.session.rollback()
            flash(e.message, 'error')
            return redirect(url_for('platform.feedback_detail', feedback_id=feedback_id))
        audit.record(current_user, 'close_feedback', tenant_id=tenant.id, detail=f'#{feedback_id}')
        db.session.commit()
    flash(_('反馈已关闭'))
    return redirect(url_for('platform.feedback_list'))


@bp.get('/operator/audit')
@operator_required
def audit_log():
    """操作日志: what operators did, newest first."""
    pagination = audit.recent(max(request.args.get('page', 1, type=int), 1))
    return render_template('platform/audit.html', pagination=pagination, actions=audit.ACTION_NAMES,
                           projects=audit.project_names(entry.project_id for entry in pagination.items))


@bp.get('/healthz')
def healthz():
    """Database and queue status for load balancers and monitoring: 200 while the database answers."""
    database = {'ok': True}
    try:
        db.session.execute(sa.text('SELECT 1'))
    except sa.exc.SQLAlchemyError as exc:
        database = {'ok': False, 'error': type(exc).__name__}
    connection = redis_connection()
    if connection is None:
        queue = {'ok': True, 'mode': 'inline'}
    else:
        try:
            queue = {'ok': True, 'mode': 'redis', 'queued': rq_queue(connection).count}
        except RedisError as exc:
            queue = {'ok': False, 'mode': 'redis', 'error': type(exc).__name__}
    ok = database['ok'] and queue['ok']
    body = {'status': 'ok' if ok else 'degraded', 'database': database, 'queue': queue}
    return body, 200 if database['ok'] else 503


