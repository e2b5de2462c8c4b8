"""Login, logout, invitations, password change and the users page of one tenant."""
import sqlalchemy as sa
from flask import flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from wtforms.fields.choices import SelectChoice

from ..errors import DomainError
from ..extensions import db
from ..models_base import get_or_404
from ..tenancy.guards import tenant_only
from . import bp, services
from .forms import ChangePasswordForm, InviteForm, LocaleForm, LoginForm, SetPasswordForm
from .models import AccessToken, User
from .sessions import mark_session_host, require_role
from .throttle import throttle_failed_logins

tenant_only(bp)


def _safe_next(target: str | None) -> str:
    # Only same-host paths: never an open redirect to another host or tenant.
    if target and target.startswith('/') and not target.startswith('//') and '\\' not in target:
        return target
    return url_for('core.home')


def log_in(user: User) -> None:
    """Start a new session for ``user`` on this host (login, invitation, activation, a company's login link)."""
    session.clear()  # a new session id for every login (no fixation)
    services.start_session(user)
    login_user(user)
    mark_session_host()


@bp.route('/login', methods=['GET', 'POST'])
@throttle_failed_logins
def login():
    form = LoginForm()
    if request.method == 'POST':
        if not form.validate_on_submit():
            return render_template('auth/login.html', form=form), 422
        user = services.authenticate(form.login.data, form.password.data)
        if user is None:
            form.password.errors.append(_('手机号/邮箱或密码不正确'))
            return render_template('auth/login.html', form=form), 401
        log_in(user)
        db.session.commit()
        return redirect(_safe_next(request.args.get('next')))
    if current_user.is_authenticated:
        return redirect(url_for('core.home'))
    return render_template('auth/login.html', form=form)


@bp.post('/logout')
def logout():
    if current_user.is_authenticated and current_user.session_token:
        services.revoke_token(current_user.session_token, AccessToken.SESSION)
        db.session.commit()
    logout_user()
    session.clear()
    flash(_('已退出登录'))
    return redirect(url_for('auth.login'))


@bp.route('/invite/<token>', methods=['GET', 'POST'])
def accept_invite(token):
    user = services.open_invitation(token)
    if user is None:
        return render_template('auth/invite_invalid.html'), 404
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            services.accept_invitation(user, form.password.data)
        except DomainError as e:
            form.password.errors.append(e.message)
        else:
            log_in(user)
            db.session.commit()
            flash(_('欢迎，%(name)s！密码已设置。', name=user.name))
            return redirect(url_for('core.home'))
    status = 422 if request.method == 'POST' else 200
    return render_template('auth/accept_invite.html', form=form, invitee=user), status


@bp.route('/account', methods=['GET', 'POST'])
@login_required
def account():
    form = ChangePasswordForm(prefix='pw')
    locale_form = LocaleForm(prefix='lang', locale=current_user.locale or '')
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current_password.data, form.password.data)
        except DomainError as e:
            getattr(form, e.field or 'password').errors.append(e.message)
        else:
            db.session.commit()
            flash(_('密码已修改，其他设备上的登录已退出'))
            return redirect(url_for('auth.account'))
    status = 422 if request.method == 'POST' else 200
    return render_template('auth/account.html', form=form, locale_form=locale_form), status


@bp.post('/account/locale')
@login_required
def set_locale():
    form = LocaleForm(prefix='lang')
    if not form.validate_on_submit():
        form.locale.errors[:] = [_('请选择一种界面语言')]
        return render_template('auth/account.html', form=ChangePasswordForm(prefix='pw'), locale_form=form), 422
    current_user.locale = form.locale.data or None
    db.session.commit()
    return redirect(url_for('auth.account'))


# --- users of the tenant (admins only) -------------------------------------------------------------------------

def _invite_form() -> InviteForm:
    form = InviteForm()
    form.duties.choices = [SelectChoice(d['code'], d['name']) for d in g.tenant.duties]
    return form


@bp.get('/users')
@require_role('admin')
def users():
    rows = db.session.execute(sa.select(User).order_by(User.role, User.name)).scalars().all()
    return render_template('auth/users.html', users=rows, form=_invite_form())


@bp.post('/users')
@require_role('admin')
def invite():
    form = _invite_form()
    if form.validate_on_submit():
        try:
            user, raw = services.invite_user(
                name=form.name.data, email=form.email.data or '', mobile=form.mobile.data or '', role=form.role.data,
                duties=form.duties.data, allowed_duties={d['code'] for d in g.tenant.duties})
        except DomainError as e:
            getattr(form, e.field or 'name').errors.append(e.message)
        else:
            db.session.commit()
            link = url_for('auth.accept_invite', token=raw, _external=True)
            return render_template('auth/invited.html', invitee=user, link=link)
    rows = db.session.execute(sa.select(User).order_by(User.role, User.name)).scalars().all()
    return render_template('auth/users.html', users=rows, form=form), 422


@bp.post('/users/<int:user_id>/deactivate')
@require_role('admin')
def deactivate(user_id):
    user = get_or_404(User, user_id)
    try:
        services.deactivate_user(user, by=current_user)
    except DomainError as e:
        flash(e.message, 'error')
        return redirect(url_for('auth.users')), 303
    db.session.commit()
    flash(_('已停用 %(name)s，其登录已全部退出', name=user.name))
    return redirect(url_for('auth.users'))


@bp.post('/users/<int:user_id>/reactivate')
@require_role('admin')
def reactivate(user_id):
    user = get_or_404(User, user_id)
    services.reactivate_user(user)
    db.session.commit()
    flash(_('已启用 %(name)s', name=user.name))
    return redirect(url_for('auth.users'))


@bp.post('/users/export')
@require_role('admin')
def export():
    """Export the users list to Excel as a background job; the job page shows progress and the file."""
    from ..jobs.queue import enqueue
    from .jobs import export_users

    try:
        record = enqueue(export_users, requested_by_id=current_user.id)
    except DomainError as e:
        flash(e.message, 'error')
        return users(), e.status_code
    flash(_('已开始：%(title)s', title=record.title))
    return redirect(url_for('jobs.job_detail', job_id=record.id))
