from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from .passwords import MAX_LENGTH


class LoginForm(FlaskForm):
    login = StringField(_l('手机号或邮箱'), validators=[DataRequired(_l('请填写手机号或邮箱')), Length(max=254)])
    password = PasswordField(_l('密码'), validators=[DataRequired(_l('请填写密码')), Length(max=MAX_LENGTH)])


class SetPasswordForm(FlaskForm):
    password = PasswordField(_l('新密码'), validators=[DataRequired(_l('请填写新密码')), Length(max=MAX_LENGTH)])
    confirm = PasswordField(_l('再输入一次'), validators=[DataRequired(_l('请再输入一次新密码'))])

    def validate_confirm(self, field):
        if field.data != self.password.data:
            from wtforms.validators import ValidationError
            raise ValidationError(_l('两次输入的密码不一致'))


class ChangePasswordForm(SetPasswordForm):
    current_password = PasswordField(_l('当前密码'), validators=[DataRequired(_l('请填写当前密码')),
                                                              Length(max=MAX_LENGTH)])


class InviteForm(FlaskForm):
    name = StringField(_l('姓名'), validators=[DataRequired(_l('请填写姓名')), Length(max=60)])
    mobile = StringField(_l('手机号'), validators=[Optional(), Length(max=20)])
    email = StringField(_l('邮箱'), validators=[Optional(), Length(max=254)])
    role = SelectField(_l('角色'), choices=[SelectChoice('staff', _l('员工')), SelectChoice('admin', _l('管理员')),
                                              SelectChoice('resident', _l('住户'))])
    duties = SelectMultipleField(_l('岗位'), choices=[], validate_choice=False)


class LocaleForm(FlaskForm):
    locale = SelectField(_l('界面语言'),
                         choices=[SelectChoice('', _l('跟随项目设置')), SelectChoice('zh_CN', '简体中文'),
                                                  SelectChoice('en', 'English')],
                         validate_choice=True)
