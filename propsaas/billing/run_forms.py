"""Forms of the bill run pages (出账)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp, StopValidation

_DATE_MESSAGE = _l('请按 年-月-日 填写日期，例如 2027-01-15')


class DayField(DateField):
    """A date typed as 2027-01-15; anything else gets one message in the user's language."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, invalid_value_message=_DATE_MESSAGE, **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist or not ''.join(valuelist).strip():
            self.data = None
            return
        super().process_formdata([' '.join(valuelist).strip()])

    def pre_validate(self, form):
        if self.process_errors:
            raise StopValidation()


def _optional_int(value):
    return int(value) if value not in (None, '', 'None') else None


class RunForm(FlaskForm):
    period = StringField(_l('账期'), validators=[DataRequired(_l('请填写账期，例如 2026-12')),
                                                Regexp(r'^20\d{2}-(0[1-9]|1[0-2])$',
                                                       message=_l('请按“年-月”填写账期，例如 2026-12'))],
                         description=_l('年-月，例如 2026-12'))
    building_id = SelectField(_l('楼栋'), coerce=_optional_int, validate_choice=False, validators=[Optional()])
    fee_item_ids = SelectMultipleField(_l('收费项目'), coerce=int, validators=[Optional()],
                                       description=_l('不选则包括全部启用的周期性收费项目'))
    due_on = DayField(_l('缴费截止日期'), validators=[DataRequired(_l('请填写缴费截止日期'))])
    notify = BooleanField(_l('出账后通知住户'))


class VoidRunForm(FlaskForm):
    reason = TextAreaField(_l('作废原因'), validators=[DataRequired(_l('请填写作废原因')), Length(max=200)])
