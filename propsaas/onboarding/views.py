"""激活账号 (public, on the project's host) and the admins' 交付包 page."""
from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..auth import services as auth_services
from ..auth.sessions import host_key, require_role
from ..auth.views import log_in
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db, limiter
from ..residents.services import local_today
from ..tenancy.guards import tenant_only
from . import activation, bp, pack
from .forms import ActivateForm, RegenerateForm

tenant_only(bp)


# --- throttle: only failed attempts (a wrong code, no matching record) count -----------------------------------

def _subject() -> str:
    if request.form.get('mode') == 'room':
        return 'm:' + (auth_services.normalize_mobile(request.form.get('mobile', '')) or '')[:20]
    return 'c:' + (activation.normalize_code(request.form.get('code', '')) or '')


def _subject_key() -> str:
    return f'activate-subject:{host_key()}:{_subject()}'


def _client_key() -> str:
    return f'activate-client:{host_key()}:{request.remote_addr}'


def _failed(response) -> bool:
    return bool(g.get('activation_failed'))


def _throttled(view):
    view = limiter.limit(lambda: current_app.config['ACTIVATION_LIMIT'], key_func=_subject_key,
                         methods=['POST'], deduct_when=_failed, scope='activate-subject')(view)
    return limiter.limit(lambda: current_app.config['ACTIVATION_LIMIT_PER_CLIENT'],
                         key_func=_client_key, methods=['POST'], deduct_when=_failed, scope='activate-client')(view)


# --- 激活账号 ------------------------------------------------------------------------------------------------

@bp.route('/activate', methods=['GET', 'POST'])
@_throttled
def activate():
    form = ActivateForm()
    if request.method == 'GET':
        form.code.data = request.args.get('code', '')[:20]
        form.mode.data = 'room' if request.args.get('mode') == 'room' else 'code'
        return render_template('onboarding/activate.html', form=form)
    if not form.validate_on_submit():
        return render_template('onboarding/activate.html', form=form), 422
    try:
        if form.mode.data == 'room':
            user = activation.activate_with_room(form.room.data, form.name.data, form.mobile.data, form.password.data)
        else:
            user = activation.activate_with_code(form.code.data, form.name.data, form.mobile.data,
                                                 form.password.data, today=local_today(g.tenant.timezone))
    except DomainError as e:
        db.session.rollback()
        g.activation_failed = isinstance(e, activation.NoMatch)
        getattr(form, e.field if e.field in form else 'name').errors.append(e.message)
        return render_template('onboarding/activate.html', form=form), e.status_code
    log_in(user)
    db.session.commit()
    flash(_('账号已激活，欢迎，%(name)s！以后请用手机号和密码登录。', name=user.name))
    return redirect(url_for('residents.my_rooms'))


# --- 交付包 (admins) --------------------------------------------------------------------------------------------

@bp.get('/settings/onboarding-pack')
@require_role('admin')
def pack_page():
    return render_template('onboarding/pack.html', record=pack.latest_pack(), form=RegenerateForm(),
                           households=pack.household_count())


@bp.post('/settings/onboarding-pack')
@require_role('admin')
def regenerate_pack():
    form = RegenerateForm()
    if not form.validate_on_submit():
        flash(_('页面已过期，请刷新后重试'), 'error')
        return redirect(url_for('.pack_page')), 303
    try:
        record = pack.request_pack(requested_by_id=current_user.id)
    except DomainError as e:
        flash(e.message, 'error')
        return redirect(url_for('.pack_page')), 303
    flash(_('已开始：%(title)s', title=record.title))
    return redirect(url_for('.pack_page'))


add_nav('onboarding.pack_page', _l('交付包'), ('admin',))
