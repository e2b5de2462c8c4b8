"""The inspection plan form (新增 / 编辑巡检计划). The frequency's numbers are taken as typed and read by
schedule.Frequency (one message for what is wrong); the weekdays, the checklist rows and the devices are repeated
inputs read by the view; the rules that need the project (its duties, staff and devices) are the service's
(inspections.plans)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..billing.run_forms import DayField
from ..models_base import MAX_ID
from .models import TARGET_NAMES
from .plans import MAX_PHOTOS
from .schedule import KIND_NAMES, KINDS

#: the checklist rows the form offers (blank ones are ignored); a longer checklist gets two spare rows
CHECKLIST_ROWS = 12


class NumberField(IntegerField):
    """A whole number, with a Chinese message for anything else."""

    def __init__(self, label=None, validators=None, message=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.message = message

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(self.message or _l('请填写整数')) from None


def _person_id(value):
    """'' -> None; an id -> int; anything else -> -1 (no such person: the service says so)."""
    if value in (None, '', 'None'):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.isdigit() and 0 < int(text) <= MAX_ID else -1


class PlanForm(FlaskForm):
    name = StringField(_l('计划名称'), validators=[DataRequired(_l('请填写计划名称')),
                                                   Length(max=60, message=_l('计划名称最长 60 个字'))])
    target = SelectField(_l('巡检对象'), choices=[SelectChoice(code, name) for code, name in TARGET_NAMES.items()],
                         validate_choice=False)
    kind = SelectField(_l('频次'), choices=[SelectChoice(k, KIND_NAMES[k]) for k in KINDS], validate_choice=False)
    times = StringField(_l('每天次数'), default='1')
    day = StringField(_l('每月几号'), default='1', description=_l('31 表示月末'))
    months = StringField(_l('每几个月'), default='1', description=_l('1 每月，3 每季度，12 每年'))
    days = StringField(_l('每隔天数'), default='15')
    starts_on = DayField(_l('开始日期'), validators=[InputRequired(_l('请填写开始日期'))])
    points = TextAreaField(_l('巡查点位'), description=_l('每行一个，按巡查顺序'))
    duty = SelectField(_l('执行岗位'), choices=[], validate_choice=False)
    assignee_id = SelectField(_l('指定执行人'), choices=[], coerce=_person_id, validate_choice=False,
                              description=_l('不指定：有该岗位的员工都可执行'))
    photos_required = NumberField(
        _l('需拍照片数'), default=0, message=_l('照片张数应为 0 到 %(n)s', n=MAX_PHOTOS),
        validators=[InputRequired(_l('照片张数应为 0 到 %(n)s', n=MAX_PHOTOS)),
                    NumberRange(min=0, max=MAX_PHOTOS, message=_l('照片张数应为 0 到 %(n)s', n=MAX_PHOTOS))])
    retention_years = NumberField(
        _l('记录保存年限'), message=_l('记录保存年限应为 1 到 100 年'),
        validators=[Optional(), NumberRange(min=1, max=100, message=_l('记录保存年限应为 1 到 100 年'))],
        description=_l('电梯至少 4 年'))
    basis = StringField(_l('依据'), validators=[Length(max=200, message=_l('依据最长 200 个字'))])
    note = StringField(_l('备注'), validators=[Length(max=200, message=_l('备注最长 200 个字'))])
    enabled = BooleanField(_l('启用'), default=True)
