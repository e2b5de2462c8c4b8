"""The operator's confirmation of a project's deletion."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length


class DeleteProjectForm(FlaskForm):
    #: the project's slug typed again: a deletion is never one careless click
    confirmation = StringField(_l('输入项目标识以确认删除'), validators=[
        DataRequired(_l('请输入项目标识以确认删除')), Length(max=63)])
