"""Forms of the meter reading pages (抄表)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from ..residents.renovation_forms import DayField
from .models import METER_NAMES, METERS

METER_CHOICES = [SelectChoice(code, _l('%(name)s表', name=METER_NAMES[code])) for code in METERS]


class MeterReadingForm(FlaskForm):
    """One reading: a room's meter, or the master meter (总表) when the room is left blank."""

    period = StringField(_l('抄表月份'), validators=[DataRequired(_l('请填写抄表月份，例如 2026-10')), Length(max=10)],
                         description=_l('年-月，例如 2026-10'))
    room = StringField(_l('房号'), validators=[Optional(), Length(max=80)],
                       description=_l('楼栋-单元-房号，例如 1-2-1201；留空表示总表'))
    meter = SelectField(_l('表类型'), choices=METER_CHOICES, default='water')
    reading = StringField(_l('本期读数'), validators=[DataRequired(_l('请填写读数')), Length(max=30)],
                          description=_l('表盘上的数字，最多三位小数'))
    replaced = BooleanField(_l('换表（新表从 0 开始计量，用量 = 本期读数）'))
    read_on = DayField(_l('抄表日期'), validators=[Optional()])
    note = StringField(_l('备注'), validators=[Optional(), Length(max=200)])


class MeterImportForm(FlaskForm):
    period = StringField(_l('抄表月份'), validators=[DataRequired(_l('请填写抄表月份，例如 2026-10')), Length(max=10)])
    file = FileField(_l('抄表表格（.xlsx 或 .csv）'), validators=[FileRequired(_l('请选择要导入的文件'))])


class MeterImportCommitForm(FlaskForm):
    upload = HiddenField(validators=[DataRequired(), Length(max=40)])
    period = HiddenField(validators=[DataRequired(), Length(max=10)])
    skip_errors = BooleanField(_l('跳过有错误的行，只导入正确的行'))
