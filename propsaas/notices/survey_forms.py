"""Forms of the survey (问卷) pages. The answer form is read field by field (q<question id>), with CsrfForm for
its token."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, StopValidation

from .models import QUESTION_KIND_NAMES


class CsrfForm(FlaskForm):
    """Only the CSRF token: buttons (close, copy, delete, move) and the answer form."""


class SurveyForm(FlaskForm):
    title = StringField(_l('问卷标题'), validators=[DataRequired(_l('请填写问卷标题')), Length(max=120)])
    description = TextAreaField(_l('说明'), validators=[Optional(), Length(max=2000)],
                                description=_l('显示在问卷开头：调查目的、大约需要多久、结果怎么使用'))


class QuestionForm(FlaskForm):
    kind = SelectField(_l('题型'), choices=[SelectChoice(k, v) for k, v in QUESTION_KIND_NAMES.items()],
                       default='single')
    text = StringField(_l('题目'), validators=[DataRequired(_l('请填写题目')), Length(max=300)])
    options = TextAreaField(_l('选项（每行一个）'), validators=[Optional(), Length(max=2000)],
                            description=_l('单选题、多选题填 2 到 20 个选项；评分题和填空题不填'))
    required = BooleanField(_l('必答'), default=True)


class ClosesOnField(DateField):
    """A date typed as 2026-05-01; one message for anything else."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, invalid_value_message=_l('请按 年-月-日 填写日期，例如 2026-05-01'),
                         **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist or not ''.join(valuelist).strip():
            self.data = None
            return
        super().process_formdata([' '.join(valuelist).strip()])

    def pre_validate(self, form):
        if self.process_errors:
            raise StopValidation()


class OpenForm(FlaskForm):
    closes_on = ClosesOnField(_l('截止日期'), validators=[DataRequired(_l('请填写截止日期'))],
                              description=_l('截止日当天 24 点停止填写；也可以提前手动结束'))
