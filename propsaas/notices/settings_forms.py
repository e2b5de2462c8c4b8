"""Forms of the notification settings (通知设置) and message template (消息模板) pages."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from .channel_settings import ADDRESS_LABELS, PROVIDER_FIELDS, provider_label
from .channels import provider_names
from .models import CHANNEL_NAMES, EXTERNAL_CHANNELS


def config_field_name(provider: str, name: str) -> str:
    return f'{provider}__{name}'


def channel_form_class(channel: str) -> type[FlaskForm]:
    """The edit form of one channel: switch, provider, rate, and every provider's configuration fields (only the
    chosen provider's are used). Secrets are password inputs that never render a value."""

    class ChannelSettingForm(FlaskForm):
        enabled = BooleanField(_l('启用该渠道'))
        provider = SelectField(_l('发送服务商'), choices=[SelectChoice(name, provider_label(name))
                                                         for name in provider_names(channel)])
        # a text field: the service checks the range with a message of its own
        rate_per_minute = StringField(_l('每分钟最多发送'), validators=[Length(max=10)],
                                      description=_l('1 到 6000 条；超出的消息顺延到下一分钟'))

    for (ch, provider), fields in PROVIDER_FIELDS.items():
        if ch != channel or provider not in provider_names(channel):
            continue
        for f in fields:
            label = f.label
            if f.kind == 'choice':
                choices = [SelectChoice('', ''), *(SelectChoice(c, text) for c, text in f.choices)]
                field = SelectField(label, choices=choices, validate_choice=False, description=f.hint)
            elif f.secret:
                field = PasswordField(label, description=f.hint)
            else:
                field = StringField(label, description=f.hint)
            setattr(ChannelSettingForm, config_field_name(provider, f.name), field)
    return ChannelSettingForm


class TestMessageForm(FlaskForm):
    address = StringField(_l('发送到'), validators=[Length(max=254)])
    template = StringField(_l('模板编号（可选）'), validators=[Length(max=64)],
                           description=_l('阿里云短信须填写审核通过的模板 CODE；微信须填写模板 ID'))

    def set_channel(self, channel: str) -> None:
        self.address.label.text = ADDRESS_LABELS[channel]


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class MessageTemplateForm(FlaskForm):
    title = StringField(_l('标题'), validators=[Length(max=200)])
    body = TextAreaField(_l('正文'), validators=[Length(max=10000)])
    sms_text = TextAreaField(_l('短信 / 微信短文本'), validators=[Length(max=500)],
                             description=_l('70 字以内为一条短信'))
    channels = MultiCheckboxField(_l('默认发送渠道（站内消息总会发送）'),
                                  choices=[SelectChoice(c, CHANNEL_NAMES[c]) for c in EXTERNAL_CHANNELS],
                                  validate_choice=False)
    sms_template_code = StringField(_l('阿里云短信模板 CODE'), validators=[Length(max=40)],
                                    description=_l('例如 SMS_123456789；使用阿里云短信时必填'))
    wechat_template_id = StringField(_l('微信模板 ID'), validators=[Length(max=64)],
                                     description=_l('公众号“模板消息”中的模板 ID；使用微信通知时必填'))
