"""Notification settings pages: channels (通知设置, admin), the 'log' provider's record, message templates (消息模板,
admin and service desk)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..auth.sessions import require_duty, require_role
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from ..models_base import get_or_404
from . import bp
from . import channel_settings as services
from .models import CHANNEL_NAMES, EXTERNAL_CHANNELS, MessageTemplate
from .settings_forms import MessageTemplateForm, TestMessageForm, channel_form_class, config_field_name
from .templates import COMMON_VARIABLES, save_template

PER_PAGE = 30
STATUS_LABELS = {'enabled': _l('已启用'), 'disabled': _l('未启用'), 'incomplete': _l('配置不完整')}


def _field_error(form, error: DomainError, mapping=None) -> None:
    name = (mapping or {}).get(error.field, error.field)
    target = getattr(form, name, None) if name else None
    if target is None:
        flash(error.message, 'error')
        return
    target.errors = [*target.errors, error.message]


def _channel_or_404(channel: str) -> str:
    if channel not in EXTERNAL_CHANNELS:
        abort(404)
    return channel


# --- channels ----------------------------------------------------------------------------------------------------

@bp.get('/settings/channels')
@require_role('admin')
def channel_settings():
    rows = services.settings()
    db.session.commit()  # a missing row was created
    return render_template('notices/settings/channels.html', rows=rows, channel_names=CHANNEL_NAMES,
                           status_of=services.status_of, status_labels=STATUS_LABELS,
                           provider_label=services.provider_label)


add_nav('notices.channel_settings', _l('通知设置'), ('admin',))


def _edit_page(setting, form, test_form, *, result=None, status=200):
    providers = [(name, services.provider_label(name), services.fields_of(setting.channel, name))
                 for name in (c.value for c in form.provider.choices)]
    return render_template(
        'notices/settings/channel.html', setting=setting, form=form, test_form=test_form, result=result,
        providers=providers, field_name=config_field_name, stored=services.public_config(setting),
        channel_name=CHANNEL_NAMES[setting.channel], platform_ready=services.platform_email_ready(),
        provider_label=services.provider_label), status


def _settings_form(setting, *, submitted: bool):
    """The edit form: the posted values, or the stored ones (secrets never) to start from."""
    if submitted:
        return channel_form_class(setting.channel)()
    form = channel_form_class(setting.channel)(formdata=None)
    form.enabled.data = setting.enabled
    form.provider.data = setting.provider
    form.rate_per_minute.data = str(setting.rate_per_minute)
    config = setting.config or {}
    for f in services.fields_of(setting.channel, setting.provider):
        if not f.secret and config.get(f.name) is not None:
            getattr(form, config_field_name(setting.provider, f.name)).data = str(config[f.name])
    return form


@bp.route('/settings/channels/<channel>', methods=['GET', 'POST'])
@require_role('admin')
def edit_channel(channel):
    setting = services.get_setting(_channel_or_404(channel))
    form = _settings_form(setting, submitted=request.method == 'POST')
    test_form = TestMessageForm(formdata=None)
    test_form.set_channel(setting.channel)
    if request.method == 'GET':
        db.session.commit()
        return _edit_page(setting, form, test_form)
    if not form.validate_on_submit():
        return _edit_page(setting, form, test_form, status=422)
    provider = form.provider.data
    config = {f.name: getattr(form, config_field_name(provider, f.name)).data
              for f in services.fields_of(setting.channel, provider)}
    try:
        services.save_setting(setting, enabled=form.enabled.data, provider=provider, config=config,
                              rate_per_minute=form.rate_per_minute.data)
    except DomainError as e:
        db.session.rollback()
        setting = services.get_setting(channel)
        mapping = {f.name: config_field_name(provider, f.name) for f in services.fields_of(channel, provider)}
        _field_error(form, e, mapping)
        return _edit_page(setting, form, test_form, status=422)
    db.session.commit()
    flash(_('%(channel)s通知设置已保存', channel=CHANNEL_NAMES[channel]))
    return redirect(url_for('.edit_channel', channel=channel))


@bp.post('/settings/channels/<channel>/test')
@require_role('admin')
def test_channel(channel):
    """发送测试消息: one message through the stored provider; the provider's answer is shown on the page."""
    setting = services.get_setting(_channel_or_404(channel))
    form = _settings_form(setting, submitted=False)
    test_form = TestMessageForm()
    test_form.set_channel(channel)
    if not test_form.validate_on_submit():
        return _edit_page(setting, form, test_form, status=422)
    try:
        result = services.send_test(setting, test_form.address.data, template=test_form.template.data,
                                    project_name=g.tenant.name)
    except DomainError as e:
        db.session.rollback()
        _field_error(test_form, e)
        return _edit_page(setting, form, test_form, status=422)
    db.session.commit()
    return _edit_page(setting, form, test_form, result=result)


@bp.get('/settings/channels/log')
@require_role('admin', 'staff')
def logged_messages():
    """What the 'log' provider would have sent (demos): newest first, mobiles masked."""
    page = max(request.args.get('page', 1, type=int), 1)
    pagination = db.paginate(services.logged_messages_query(), page=page, per_page=PER_PAGE, error_out=False)
    return render_template('notices/settings/logged.html', pagination=pagination, channel_names=CHANNEL_NAMES)


# --- message templates ---------------------------------------------------------------------------------------------

@bp.get('/settings/message-templates')
@require_duty('service_desk')
def message_templates():
    page = max(request.args.get('page', 1, type=int), 1)
    apage = max(request.args.get('apage', 1, type=int), 1)
    system = db.paginate(sa.select(MessageTemplate).where(MessageTemplate.category.is_(None))
                         .order_by(MessageTemplate.name, MessageTemplate.id), page=page, per_page=PER_PAGE,
                         error_out=False)
    notices = db.paginate(sa.select(MessageTemplate).where(MessageTemplate.category.is_not(None))
                          .order_by(MessageTemplate.category, MessageTemplate.code), page=apage, per_page=PER_PAGE,
                          error_out=False)
    return render_template('notices/settings/templates.html', system=system, notices=notices, page=page, apage=apage,
                           channel_names=CHANNEL_NAMES)


add_nav('notices.message_templates', _l('消息模板'), ('admin', 'staff'), duties=('service_desk',))


@bp.route('/settings/message-templates/<int:template_id>', methods=['GET', 'POST'])
@require_duty('service_desk')
def edit_message_template(template_id):
    template = get_or_404(MessageTemplate, template_id)
    form = MessageTemplateForm(obj=template if request.method == 'GET' else None)
    variables = sorted(set(template.variables or []) | set(COMMON_VARIABLES))
    if request.method == 'POST':
        if form.validate_on_submit():
            try:
                save_template(template, title=form.title.data, body=form.body.data, sms_text=form.sms_text.data,
                              channels=form.channels.data, sms_template_code=form.sms_template_code.data,
                              wechat_template_id=form.wechat_template_id.data)
            except DomainError as e:
                db.session.rollback()
                _field_error(form, e)
            else:
                db.session.commit()
                flash(_('消息模板“%(name)s”已保存', name=template.name))
                return redirect(url_for('.edit_message_template', template_id=template.id))
        return render_template('notices/settings/template.html', template=template, form=form,
                               variables=variables), 422
    return render_template('notices/settings/template.html', template=template, form=form, variables=variables)
