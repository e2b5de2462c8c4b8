"""Forms of feedback (问题反馈): the staff user's report and the operator's answer."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FileField, HiddenField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from .models import KIND_NAMES, MAX_TEXT


class FeedbackForm(FlaskForm):
    kind = SelectField(_l('类型'), choices=[SelectChoice(k, v) for k, v in KIND_NAMES.items()], default='problem')
    text = TextAreaField(_l('问题或建议'), description=_l('发生了什么、期望怎样；最多 2000 字'),
                         validators=[DataRequired(_l('请写下遇到的问题或建议')), Length(max=MAX_TEXT)])
    #: the page the user came from (filled from the Referer or ?page=); only a local path is kept
    page = HiddenField()
    screenshot = FileField(_l('截图（可选）'), description=_l('一张 JPG、PNG 或 WebP 图片，不超过 10 MB'))


class AnswerForm(FlaskForm):
    answer = TextAreaField(_l('答复'), validators=[DataRequired(_l('请填写答复内容')), Length(max=MAX_TEXT)])
