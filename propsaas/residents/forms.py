"""Forms of the residents pages. The checks of meaning (phones, ID numbers, rooms) are in services."""
from __future__ import annotations

import re
import unicodedata
from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

_DATE = re.compile(r'^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$')


def parse_day(text: str) -> date | None:
    """'2024-03-01', '2024/3/1', '2024年3月1日' -> date; None when empty. Raises ValueError otherwise."""
    text = unicodedata.normalize('NFKC', text or '').strip()
    if not text:
        return None
    match = _DATE.match(text)
    if not match:
        raise ValueError(text)
    return date(*(int(part) for part in match.groups()))


class DayField(StringField):
    """A calendar day, typed or picked; a clear Chinese message when it isn't one."""

    def process_formdata(self, valuelist):
        self.raw_text = valuelist[0] if valuelist else ''
        self.data = None
        if self.raw_text:
            try:
                self.data = parse_day(self.raw_text)
            except ValueError:
                self.data = None
                raise ValueError(_l('日期格式不正确，请按 2024-03-01 填写')) from None

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return self.data.isoformat() if isinstance(self.data, date) else ''

    def __call__(self, **kwargs):
        kwargs.setdefault('type', 'date')
        return super().__call__(**kwargs)


def role_choices():
    return [SelectChoice('owner', _l('业主')), SelectChoice('renter', _l('租户')), SelectChoice('family', _l('家属'))]


class _DetailsMixin:
    name = StringField(_l('姓名'), validators=[DataRequired(_l('请填写姓名（不超过 60 个字）')), Length(max=60)])
    mobile = StringField(_l('手机号'), validators=[Optional(), Length(max=40)])
    other_phone = StringField(_l('其他电话（座机等）'), validators=[Optional(), Length(max=40)])
    id_number = StringField(_l('身份证号（选填）'), validators=[Optional(), Length(max=30)])
    emergency_contact = StringField(_l('紧急联系人'), validators=[Optional(), Length(max=60)])
    emergency_phone = StringField(_l('紧急联系电话'), validators=[Optional(), Length(max=40)])
    note = TextAreaField(_l('备注'), validators=[Optional(), Length(max=500)])


class ResidentForm(_DetailsMixin, FlaskForm):
    """A new resident with their first room."""

    room = StringField(_l('房号'), validators=[DataRequired(_l('请填写房号，如 3-2-1201 或 3栋2单元1201')),
                                             Length(max=80)])
    role = SelectField(_l('身份'), choices=role_choices())
    moved_in_on = DayField(_l('入住日期（默认今天）'), validators=[Optional()])


class EditResidentForm(_DetailsMixin, FlaskForm):
    """Personal values are never filled in: left empty they stay as they are; ticked under 清除 they go."""

    clear = SelectMultipleField(_l('清除'), choices=[
        SelectChoice('mobile', _l('手机号')), SelectChoice('other_phone', _l('其他电话')),
        SelectChoice('id_number', _l('身份证号')), SelectChoice('emergency_phone', _l('紧急联系电话'))])


class OccupancyForm(FlaskForm):
    room = StringField(_l('房号'), validators=[DataRequired(_l('请填写房号，如 3-2-1201 或 3栋2单元1201')),
                                             Length(max=80)])
    role = SelectField(_l('身份'), choices=role_choices())
    moved_in_on = DayField(_l('入住日期（默认今天）'), validators=[Optional()])


class MoveOutForm(FlaskForm):
    moved_out_on = DayField(_l('迁出日期（默认今天）'), validators=[Optional()])


class VehicleForm(FlaskForm):
    plate = StringField(_l('车牌号'), validators=[DataRequired(_l('请填写车牌号')), Length(max=20)])
    note = StringField(_l('车辆备注（选填）'), validators=[Optional(), Length(max=100)])


class FilterForm(FlaskForm):
    """The list's filters: a GET form, no CSRF (it changes nothing)."""

    class Meta:
        csrf = False

    q = StringField(_l('搜索'), validators=[Optional(), Length(max=100)])
    building_id = SelectField(_l('楼栋'), choices=[], default='')
    role = SelectField(_l('身份'), choices=[SelectChoice('', _l('全部身份')), *role_choices()], default='')
    status = SelectField(_l('状态'), choices=[SelectChoice('current', _l('在住')),
                                              SelectChoice('moved_out', _l('已迁出')),
                                              SelectChoice('all', _l('全部'))], default='current')
    has_vehicle = SelectField(_l('车辆'), choices=[SelectChoice('', _l('不限')), SelectChoice('yes', _l('有车辆')),
                                                   SelectChoice('no', _l('无车辆'))], default='')

    def validate_q(self, field):
        if field.data and any(ord(ch) < 32 for ch in field.data):
            raise ValidationError(_l('含有无法保存的控制字符，请删除后重试'))
