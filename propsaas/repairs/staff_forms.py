"""Forms of the staff's repair pages: dispatching, cancelling, confirming on the resident's behalf, the technician's
completion, return visits and the dispatch settings."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from .models import AREAS

AREA_NAMES = {'home': _l('户内'), 'public': _l('公共区域'), 'both': _l('户内和公共区域')}


class AssignForm(FlaskForm):
    """派单 / 改派 (the choices are the project's technicians, set by the view)."""

    assignee_id = SelectField(_l('维修人员'), coerce=int, validate_choice=False,
                              validators=[InputRequired(_l('请选择一位维修人员'))])
    note = StringField(_l('派单说明'), validators=[Optional(), Length(max=500)])


class CancelForm(FlaskForm):
    reason = StringField(_l('取消原因'), validators=[DataRequired(_l('请填写取消原因')), Length(max=200)])


class ConfirmForm(FlaskForm):
    """确认完成 on the resident's behalf (e.g. on the phone), with the rating they gave."""

    rating = SelectField(_l('评价'), coerce=int, choices=[SelectChoice(n, str(n)) for n in (5, 4, 3, 2, 1)],
                         validators=[InputRequired(_l('请给出 1 到 5 星的评价'))])
    comment = StringField(_l('住户的评价'), validators=[Optional(), Length(max=500)])


class ActionForm(FlaskForm):
    """A button with nothing to fill (开始维修)."""


class CompleteForm(FlaskForm):
    """完工: what was done (the parts are rows part_name / part_quantity / part_cost, read by the view)."""

    note = TextAreaField(_l('维修情况'), validators=[DataRequired(_l('请填写维修情况')), Length(max=2000)])


class AddVisitForm(FlaskForm):
    reason = StringField(_l('回访原因'), validators=[DataRequired(_l('请填写回访原因')), Length(max=200)])


class VisitForm(FlaskForm):
    outcome = TextAreaField(_l('回访结果'), validators=[DataRequired(_l('请填写回访结果')), Length(max=500)])
    resolved = BooleanField(_l('住户满意，问题已解决'))


class CategoryForm(FlaskForm):
    code = StringField(_l('代码'), validators=[DataRequired(_l('请填写代码')), Length(max=40)],
                       description=_l('小写字母开头，只含小写字母、数字和下划线，例如 water_heater'))
    name = StringField(_l('名称'), validators=[DataRequired(_l('请填写分类名称')), Length(max=40)])
    area = SelectField(_l('适用范围'), choices=[SelectChoice(a, AREA_NAMES[a]) for a in AREAS], default='both')


class CategoryUpdateForm(FlaskForm):
    name = StringField(_l('名称'), validators=[DataRequired(_l('请填写分类名称')), Length(max=40)])
    active = BooleanField(_l('启用'))


class GroupForm(FlaskForm):
    """A duty group: its name; the members are the ordered 'members' selects, read by the view."""

    name = StringField(_l('班组名称'), validators=[DataRequired(_l('请填写班组名称')), Length(max=40)])
    active = BooleanField(_l('启用'), default=True)


class RuleForm(FlaskForm):
    category_id = IntegerField(_l('报修分类'), validators=[InputRequired(_l('请选择报修分类')),
                                                          NumberRange(min=1, max=2**31 - 1)])
    building_id = IntegerField(_l('楼栋'), validators=[Optional(), NumberRange(min=1, max=2**31 - 1)])
    target = StringField(_l('派给'), validators=[DataRequired(_l('请选择一位维修人员或班组')), Length(max=30)])
