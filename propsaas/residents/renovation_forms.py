"""Forms of the renovation (装修备案) and access (门禁) pages."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, StopValidation

_DATE_MESSAGE = _l('请按 年-月-日 填写日期，例如 2026-05-01')


class DayField(DateField):
    """A date typed as 2026-05-01: blank is left to the required/optional check, anything else that is not a date
    gets one message in the user's language."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, invalid_value_message=_DATE_MESSAGE, **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist or not ''.join(valuelist).strip():
            self.data = None
            return
        super().process_formdata([' '.join(valuelist).strip()])

    def pre_validate(self, form):
        if self.process_errors:  # one message for a bad date, not also "required"
            raise StopValidation()


class _RenovationFields(FlaskForm):
    contractor = StringField(_l('装修公司/施工队'), validators=[DataRequired(_l('请填写装修公司或施工队')),
                                                              Length(max=100)])
    manager_name = StringField(_l('现场负责人'), validators=[DataRequired(_l('请填写现场负责人')), Length(max=60)])
    manager_phone = StringField(_l('负责人手机号'), validators=[DataRequired(_l('请填写负责人的手机号（11 位）')),
                                                             Length(max=30)])
    planned_start = DayField(_l('计划开工日期'), validators=[DataRequired(_l('请填写计划开工日期'))])
    planned_end = DayField(_l('计划完工日期'), validators=[DataRequired(_l('请填写计划完工日期'))])
    scope = TextAreaField(_l('装修内容'), validators=[DataRequired(_l('请填写装修内容')), Length(max=2000)],
                          description=_l('例如：厨卫改造、墙面刷漆、更换门窗；是否涉及水电改造、拆改墙体'))


class StaffRenovationForm(_RenovationFields):
    """Staff file for any room by its address, and set the deposit (yuan)."""

    room = StringField(_l('房号'), validators=[DataRequired(_l('请填写房号，例如 1-2-1201')), Length(max=80)],
                       description=_l('楼栋-单元-房号，例如 1-2-1201 或 1栋2单元1201'))
    deposit = StringField(_l('装修押金（元）'), validators=[DataRequired(_l('请填写押金金额，没有押金填 0')),
                                                         Length(max=20)])


class IdChoiceField(SelectField):
    """A select of ids whose choice is checked by the service (with a message in the user's language): a value
    that isn't a number is simply no choice."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, coerce=int, choices=[], validate_choice=False, **kwargs)

    def process_formdata(self, valuelist):
        try:
            self.data = int(valuelist[0]) if valuelist and valuelist[0] else None
        except (TypeError, ValueError):
            self.data = None


class ResidentRenovationForm(_RenovationFields):
    """A resident files for one of the rooms they live in; the deposit is the project's."""

    room_id = IdChoiceField(_l('房屋'))


class ReviewForm(FlaskForm):
    comment = TextAreaField(_l('审核意见'), validators=[Optional(), Length(max=500)])
    deposit = StringField(_l('押金（元）'), validators=[Optional(), Length(max=20)],
                          description=_l('不填则按申请时的金额'))


class CompleteForm(FlaskForm):
    completed_on = DayField(_l('完工日期'), validators=[Optional()], description=_l('不填则为今天'))


class VisitForm(FlaskForm):
    note = TextAreaField(_l('巡查情况'), validators=[DataRequired(_l('请填写巡查情况')), Length(max=500)])


class DepositForm(FlaskForm):
    reason = TextAreaField(_l('原因/说明'), validators=[Optional(), Length(max=500)])


class GateForm(FlaskForm):
    code = StringField(_l('编号'), validators=[DataRequired(_l('请填写门禁点编号')), Length(max=40)],
                       description=_l('门禁控制器里的编号，例如 north-gate'))
    name = StringField(_l('名称'), validators=[DataRequired(_l('请填写门禁点名称')), Length(max=60)])


class RenameGateForm(FlaskForm):
    name = StringField(_l('名称'), validators=[DataRequired(_l('请填写门禁点名称')), Length(max=60)])


class IdsField(SelectMultipleField):
    """Checkboxes of ids, checked against the real choices by the view: values that aren't numbers are dropped."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, coerce=int, choices=[], validate_choice=False, **kwargs)

    def process_formdata(self, valuelist):
        self.data = [int(v) for v in valuelist if str(v).isdigit() and len(str(v)) < 11]


class GrantForm(FlaskForm):
    gates = IdsField(_l('门禁点'))
    card_ref = StringField(_l('门禁卡号'), validators=[Optional(), Length(max=80)])
    qr_ref = StringField(_l('二维码编号'), validators=[Optional(), Length(max=80)])
    face_ref = StringField(_l('人脸记录编号'), validators=[Optional(), Length(max=80)],
                           description=_l('人脸识别不能是唯一的通行方式：同一门禁点须同时有门禁卡或二维码'))


class RevokeForm(FlaskForm):
    reason = StringField(_l('撤销原因'), validators=[DataRequired(_l('请填写撤销原因')), Length(max=200)])
