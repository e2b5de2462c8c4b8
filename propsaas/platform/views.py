"""The platform host (the bare base domain): landing page, operator console, health check."""
import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, request, session, url_for
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
from ..jobs.queue import redis_connection, rq_queue
from ..tenancy import provisioning
from ..tenancy.guards import platform_only
from ..tenancy.models import Tenant
from . import bp

platform_only(bp)


def _operator_required():
    if not isinstance(current_user._get_current_object(), Operator):
        return redirect(url_for('platform.login', next=request.path))
    return None


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
def tenants():
    if (denied := _operator_required()) is not None:
        return denied
    return render_template('platform/tenants.html', tenants=provisioning.list_tenants(),
                           base_domain=current_app.config['BASE_DOMAIN'])


@bp.post('/operator/tenants/<slug>/<any(suspend, resume):action>')
def set_tenant_status(slug, action):
    if (denied := _operator_required()) is not None:
        return denied
    try:
        tenant = provisioning.set_status(slug, Tenant.SUSPENDED if action == 'suspend' else Tenant.ACTIVE)
    except DomainError as e:
        return render_template('errors/error.html', status=404, message=e.message), 404
    db.session.commit()
    flash(_('已暂停 %(name)s', name=tenant.name) if action == 'suspend' else _('已恢复 %(name)s', name=tenant.name))
    return redirect(url_for('platform.tenants'))


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


