from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..auth.passwords import MAX_LENGTH


class ActivateForm(FlaskForm):
    """激活账号: ``mode`` 'code' (activation code + name + mobile) or 'room' (room + name + mobile)."""

    mode = HiddenField(default='code')
    code = StringField(_l('激活码'), validators=[Optional(), Length(max=20)])
    room = StringField(_l('房号'), validators=[Optional(), Length(max=80)])
    name = StringField(_l('姓名'), validators=[DataRequired(_l('请填写姓名')), Length(max=60)])
    mobile = StringField(_l('手机号'), validators=[DataRequired(_l('请填写手机号')), Length(max=20)])
    password = PasswordField(_l('设置密码'), validators=[DataRequired(_l('请设置登录密码')), Length(max=MAX_LENGTH)])
    confirm = PasswordField(_l('再输入一次'), validators=[DataRequired(_l('请再输入一次密码'))])

    def validate_mode(self, field):
        if field.data not in ('code', 'room'):
            field.data = 'code'

    def validate_code(self, field):
        if self.mode.data != 'room' and not (field.data or '').strip():
            raise ValidationError(_l('请填写激活码'))

    def validate_room(self, field):
        if self.mode.data == 'room' and not (field.data or '').strip():
            raise ValidationError(_l('请填写房号，如 1栋1单元101 或 1-1-101'))

    def validate_confirm(self, field):
        if field.data != self.password.data:
            raise ValidationError(_l('两次输入的密码不一致'))


class RegenerateForm(FlaskForm):
    """The regenerate button (CSRF only)."""
