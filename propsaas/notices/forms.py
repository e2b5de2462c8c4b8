"""Forms of the announcement pages (公告管理). The audience picker's fields are read by audience_form."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateTimeLocalField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

_TIME_FORMATS = ['%Y-%m-%dT%H:%M', '%Y-%m-%d %H:%M', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%d %H:%M:%S']
_TIME_MESSAGE = _l('请按 年-月-日 时:分 填写时间，例如 2026-05-01 09:00')


class LocalTimeField(DateTimeLocalField):
    """A wall-clock time in the project's timezone (converted to UTC by the view); one clear message when bad."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, format=_TIME_FORMATS, **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist or not ''.join(valuelist).strip():
            self.data = None
            return
        try:
            super().process_formdata([' '.join(valuelist).strip()])
        except ValueError:
            self.data = None
            raise ValueError(str(_TIME_MESSAGE)) from None
        if self.data is None:
            raise ValueError(str(_TIME_MESSAGE))

    def pre_validate(self, form):
        if self.process_errors:
            self.errors = [str(_TIME_MESSAGE)]
            raise StopValidation()


class ChannelsField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class AnnouncementForm(FlaskForm):
    title = StringField(_l('标题'), validators=[DataRequired(_l('请填写标题')), Length(max=120)])
    category = SelectField(_l('类别'), choices=[], validate_choice=False)
    body = TextAreaField(_l('正文'), validators=[DataRequired(_l('请填写公告正文'))],
                         description=_l('可直接输入文字（换行即分段），也可粘贴简单的 HTML：段落、加粗、列表、'
                                        '表格、链接；脚本、样式和图片会被去掉，图片请作为附件上传'))
    pinned = BooleanField(_l('置顶'), description=_l('置顶的公告排在公告栏最前面'))
    urgent = BooleanField(_l('紧急'), description=_l('紧急公告通过所有已开通的渠道发送给每位住户，'
                                                    '不受免打扰时段和住户退订的限制，请只用于停水停电、安全等紧急情况'))
    channels = ChannelsField(_l('同时发送'), choices=[], validate_choice=False,
                             description=_l('站内消息总会发送；短信、邮件、微信只发给留有对应联系方式且未退订的住户'))
    expires_at = LocalTimeField(_l('截止时间'), validators=[Optional()],
                                description=_l('到期后公告栏不再显示；不填则一直显示。按项目所在地时间填写'))


class ScheduleForm(FlaskForm):
    publish_at = LocalTimeField(_l('发布时间'), validators=[DataRequired(_l('请填写发布时间'))],
                                description=_l('按项目所在地时间填写，到时自动发布'))


class ActionForm(FlaskForm):
    """A button that changes an announcement (publish, withdraw ...): only the CSRF token."""


class AttachmentForm(FlaskForm):
    file = FileField(_l('附件'), description=_l('JPG、PNG、WebP、GIF 图片（最大 10 MB）或 PDF（最大 20 MB）'))
