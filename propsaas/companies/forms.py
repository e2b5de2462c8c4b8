from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, RadioField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..auth.passwords import MAX_LENGTH


class ProjectForm(FlaskForm):
    """A new project: its name, its address (slug, checked as typed) and the delivery template it starts from."""

    project_name = StringField(_l('项目名称'), validators=[DataRequired(_l('请填写项目名称')), Length(max=120)])
    slug = StringField(_l('项目网址'), validators=[DataRequired(_l('请填写项目网址')), Length(max=63)],
                       description=_l('3-40 位小写字母、数字或中间的连字符，开通后不能修改'))
    template = RadioField(_l('交付模板'), choices=[], validators=[DataRequired(_l('请选择一个交付模板'))],
                          validate_choice=False)


class SignupForm(ProjectForm):
    company_name = StringField(_l('公司名称'), validators=[DataRequired(_l('请填写公司名称')), Length(max=120)])
    contact_name = StringField(_l('联系人'), validators=[DataRequired(_l('请填写联系人姓名')), Length(max=60)])
    mobile = StringField(_l('手机号'), validators=[DataRequired(_l('请填写手机号')), Length(max=20)])
    email = StringField(_l('邮箱'), validators=[DataRequired(_l('请填写邮箱')), Length(max=254)])
    password = PasswordField(_l('密码'), validators=[DataRequired(_l('请设置密码')), Length(max=MAX_LENGTH)])
    confirm = PasswordField(_l('再输入一次密码'), validators=[DataRequired(_l('请再输入一次密码'))])
    #: a honeypot: hidden from people, filled in by bots; a sign-up with it is dropped silently
    website = StringField(_l('网站'), validators=[Optional()])

    def validate_confirm(self, field):
        if field.data != self.password.data:
            raise ValidationError(_l('两次输入的密码不一致'))


class RejectForm(FlaskForm):
    reason = StringField(_l('拒绝原因'), validators=[Optional(), Length(max=200)])
