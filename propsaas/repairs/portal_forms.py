"""Forms of the resident's repair pages (我的报修) and the service desk's logging (代客报修)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import MultipleFileField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from ..residents.renovation_forms import IdChoiceField
from .models import CHANNEL_NAMES, URGENCY_NAMES
from .orders import MAX_DESCRIPTION

PUBLIC_AREA = 0
PHOTO_HINT = _l('最多 6 张 JPG、PNG 或 WebP 照片，每张不超过 10 MB')


class _ReportFields(FlaskForm):
    category_id = IdChoiceField(_l('报修分类'))
    building_id = IdChoiceField(_l('公共区域所在楼栋'))
    public_area = StringField(_l('公共区域位置'), validators=[Optional(), Length(max=100)],
                              description=_l('例如：3栋大堂、地下车库B区'))
    urgency = SelectField(_l('紧急程度'), choices=[SelectChoice(k, v) for k, v in URGENCY_NAMES.items()],
                          default='normal', validate_choice=False)
    description = TextAreaField(_l('问题描述'), validators=[DataRequired(_l('请描述需要维修的问题')),
                                                         Length(max=MAX_DESCRIPTION)])
    preferred_time = StringField(_l('期望上门时间'), validators=[Optional(), Length(max=100)],
                                 description=_l('例如：工作日晚上 7 点后'))
    photos = MultipleFileField(_l('照片'), description=PHOTO_HINT)


class ResidentReportForm(_ReportFields):
    """A resident reports for one of their rooms, or a public area (room 0)."""

    room_id = IdChoiceField(_l('报修位置'))


class DeskReportForm(_ReportFields):
    """The service desk logs a phone or walk-in report for a room (by its address) or a public area."""

    room = StringField(_l('房号'), validators=[Optional(), Length(max=80)],
                       description=_l('楼栋-单元-房号，例如 1-2-1201；公共区域报修留空'))
    resident_id = IdChoiceField(_l('报修住户'))
    contact_name = StringField(_l('联系人'), validators=[Optional(), Length(max=60)])
    contact_phone = StringField(_l('联系电话'), validators=[Optional(), Length(max=30)])
    channel = SelectField(_l('报修渠道'), default='phone', validate_choice=False,
                          choices=[SelectChoice(k, CHANNEL_NAMES[k]) for k in ('phone', 'walk_in', 'staff')])


class ConfirmForm(FlaskForm):
    rating = IdChoiceField(_l('评价'))
    comment = TextAreaField(_l('评价内容'), validators=[Optional(), Length(max=500)])


class ReopenForm(FlaskForm):
    reason = TextAreaField(_l('返修原因'), validators=[DataRequired(_l('请说明返修原因')), Length(max=500)])


class CancelForm(FlaskForm):
    reason = StringField(_l('取消原因'), validators=[Optional(), Length(max=200)])
