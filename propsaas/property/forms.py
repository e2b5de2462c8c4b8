"""Forms of the property pages. Numbers, areas and dates are checked here with Chinese messages; the rules that
need the database (a unique code, a room of the same unit) are the services' and come back as DomainError."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..errors import DomainError
from .models import SPACE_KINDS
from .services import CONTROL_RE, ROOM_STATUS_LABELS, SPACE_KIND_LABELS, parse_area


def no_control_characters(form, field):
    if isinstance(field.data, str) and CONTROL_RE.search(field.data):
        raise ValidationError(_l('含有无法保存的控制字符'))


def area_value(form, field):
    """Turn the typed area into a Decimal (two places) or None; the message says what to fix."""
    try:
        field.data = parse_area(field.data)
    except DomainError as e:
        raise ValidationError(e.message) from None


class WholeNumberField(IntegerField):
    """An IntegerField whose 'not a number' message is Chinese."""

    def process_formdata(self, valuelist):
        if not valuelist or valuelist[0].strip() == '':
            self.data = None
            return
        try:
            self.data = int(valuelist[0].strip())
        except ValueError:
            self.data = None
            raise ValueError(_l('请填写整数')) from None


class DayField(DateField):
    """A date typed as 2024-01-31, with a Chinese message."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(_l('请填写日期，如 2024-01-31')) from None


def _in_range(low: int, high: int, message):
    def check(form, field):
        if field.data is None:
            raise ValidationError(_l('请填写整数'))
        if not low <= field.data <= high:
            raise ValidationError(message)

    return check


class BuildingPatternForm(FlaskForm):
    name = StringField(_l('楼栋名称'), validators=[DataRequired(_l('请填写楼栋名称，如 1栋')), Length(max=40),
                                                 no_control_characters])
    has_lift = BooleanField(_l('有电梯'), default=True)
    units = WholeNumberField(_l('单元数'), default=1,
                             validators=[_in_range(0, 99, _l('单元数应在 0 到 99 之间（没有单元的写字楼填 0）'))])
    floors = WholeNumberField(_l('层数'), validators=[_in_range(1, 200, _l('层数应在 1 到 200 之间'))])
    rooms_per_floor = WholeNumberField(_l('每层户数'),
                                       validators=[_in_range(1, 999, _l('每层户数应在 1 到 999 之间'))])
    numbering = SelectField(_l('房号编法'), coerce=int, default=100,
                            choices=[SelectChoice(100, _l('楼层×100 + 序号（1201）')),
                                     SelectChoice(1000, _l('楼层×1000 + 序号（12001，每层超过 99 户时）'))])
    areas = StringField(_l('各位置面积（可选）'), validators=[Optional(), Length(max=2000), no_control_characters],
                        description=_l('填 1 个面积表示每户相同，或按每层位置依次填写，用逗号隔开，如 89.50, 120.00'))
    type = SelectField(_l('房屋类型'), choices=[])

    def area_list(self) -> list:
        """The areas typed, as Decimals; raises DomainError with the bad one."""
        text = (self.areas.data or '').replace('，', ',').replace('、', ',')
        return [parse_area(part, field='areas') for part in text.split(',') if part.strip()]


class BuildingForm(FlaskForm):
    name = StringField(_l('楼栋名称'), validators=[DataRequired(_l('请填写楼栋名称')), Length(max=40),
                                                 no_control_characters])
    has_lift = BooleanField(_l('有电梯'))
    note = StringField(_l('备注'), validators=[Optional(), Length(max=200), no_control_characters])


class RoomForm(FlaskForm):
    area_m2 = StringField(_l('建筑面积（㎡）'), validators=[Optional(), Length(max=40), area_value])
    type = SelectField(_l('房屋类型'), choices=[])
    status = SelectField(_l('状态'), choices=[SelectChoice(code, label) for code, label in ROOM_STATUS_LABELS.items()])
    tags = SelectMultipleField(_l('标签'), choices=[], validate_choice=False)  # the service says which tag is unknown
    billing_starts_on = DayField(_l('起始计费日期'), validators=[Optional()],
                                 description=_l('交房后开始收物业费的日期；未交房留空'))


class RenameForm(FlaskForm):
    number = StringField(_l('新房号'), validators=[DataRequired(_l('请填写新房号')), Length(max=20),
                                                 no_control_characters])


class MergeForm(FlaskForm):
    rooms = StringField(_l('要并入的房号'), validators=[DataRequired(_l('请填写要并入的房号，如 1202、1203')),
                                                     Length(max=1000), no_control_characters],
                        description=_l('同一单元的房号，用逗号或顿号隔开，如 1202、1203'))


class SpaceForm(FlaskForm):
    code = StringField(_l('车位编号'), validators=[DataRequired(_l('请填写车位编号，如 B1-023')), Length(max=30),
                                                 no_control_characters])
    location = StringField(_l('位置'), validators=[Optional(), Length(max=60), no_control_characters])
    kind = SelectField(_l('车位类型'), default='rented',
                       choices=[SelectChoice(code, SPACE_KIND_LABELS[code]) for code in SPACE_KINDS])
    room = StringField(_l('所属房间（可选）'), validators=[Optional(), Length(max=80), no_control_characters],
                       description=_l('如 3-2-1201 或 3栋2单元1201'))
    plates = TextAreaField(_l('车牌号'), validators=[Optional(), Length(max=400), no_control_characters],
                           description=_l('每行一个，或用逗号隔开，如 浙A12345'))
    active = BooleanField(_l('启用'), default=True)
