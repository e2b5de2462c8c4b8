"""Forms of the arrears and dunning pages (欠费催缴)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length

from ..residents.renovation_forms import DayField


class HoldForm(FlaskForm):
    """不催缴: stop reminders for a room, with the reason staff and residents can be told."""

    reason = StringField(_l('不催缴原因'), validators=[DataRequired(_l('请填写不催缴的原因')), Length(max=200)],
                         description=_l('例如：物业费争议，待核实'))


class LiftHoldForm(FlaskForm):
    pass


class ScheduleForm(FlaskForm):
    steps = StringField(_l('提醒日（相对缴费截止日的天数）'),
                        validators=[DataRequired(_l('请至少设置一个提醒日')), Length(max=80)],
                        description=_l('用逗号分隔，负数表示截止日前，例如 -3, 0, 7, 30；范围 -60 到 365，最多 8 个'))


class ProjectDayForm(FlaskForm):
    day = DayField(_l('日期'), validators=[DataRequired(_l('请填写日期，例如 2026-10-09'))])
    working = BooleanField(_l('这天上班（照常发送提醒）'), description=_l('不勾选表示这天休息，不发送提醒'))
    name = StringField(_l('说明'), validators=[DataRequired(_l('请填写说明')), Length(max=60)],
                       description=_l('例如：小区停水检修'))


class RemoveProjectDayForm(FlaskForm):
    day = DayField(_l('日期'), validators=[DataRequired()])
