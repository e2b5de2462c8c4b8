"""The resident's notification settings page (通知设置): e-mail, WeChat binding, channels refused."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import Length

from ..auth.sessions import require_role
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from . import bp
from . import preferences as services
from .models import CHANNEL_NAMES, EXTERNAL_CHANNELS

WECHAT_BIND_PATH = '/wechat/bind'


class PreferencesForm(FlaskForm):
    email = StringField(_l('接收通知的邮箱'), validators=[Length(max=254, message=_l('邮箱最多 254 个字符'))],
                        description=_l('不填则使用登录邮箱（如有）'))
    receive_sms = BooleanField(_l('短信'))
    receive_email = BooleanField(_l('邮件'))
    receive_wechat = BooleanField(_l('微信'))


def _wechat_bind_url(prefs: services.Preferences) -> str | None:
    if 'wechat' not in prefs.enabled_channels:
        return None
    if 'notices.wechat_bind' in current_app.view_functions:
        return url_for('notices.wechat_bind')
    return WECHAT_BIND_PATH


def _render(form: PreferencesForm, prefs: services.Preferences | None, problem=None, status: int = 200):
    return render_template('notices/preferences.html', form=form, prefs=prefs, problem=problem,
                           channel_names=CHANNEL_NAMES, wechat_bind_url=_wechat_bind_url(prefs) if prefs else None
                           ), status


@bp.route('/account/notifications', methods=['GET', 'POST'])
@require_role('resident')
def notification_preferences():
    """通知设置: the channels a resident receives non-urgent messages on, and their e-mail address."""
    form = PreferencesForm()
    try:
        prefs = services.get_preferences(current_user)
    except DomainError as e:
        return _render(form, None, problem=e.message, status=422 if request.method == 'POST' else 200)
    if request.method == 'POST':
        if form.validate_on_submit():
            shown = prefs.enabled_channels
            # channels the project has switched off are not on the page: their setting stays as it was
            refused = [c for c in EXTERNAL_CHANNELS
                       if (c in shown and not getattr(form, f'receive_{c}').data)
                       or (c not in shown and c in prefs.opted_out)]
            try:
                services.update_preferences(current_user, form.email.data, refused)
            except DomainError as e:
                db.session.rollback()
                if e.field == 'email':
                    form.email.errors = [*form.email.errors, e.message]
                else:
                    flash(e.message, 'error')
            else:
                db.session.commit()
                flash(_('通知设置已保存'))
                return redirect(url_for('notices.notification_preferences'))
        return _render(form, prefs, status=422)
    form.email.data = prefs.email
    for channel in EXTERNAL_CHANNELS:
        getattr(form, f'receive_{channel}').data = channel not in prefs.opted_out
    return _render(form, prefs)


add_nav('notices.notification_preferences', _l('通知设置'), ('resident',))
