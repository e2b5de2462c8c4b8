"""Forms of online payment: paying bills, the sandbox's page, 代扣, and the provider settings (their fields come
from the adapters, so the settings form only carries the CSRF token and the switch)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField
from wtforms.validators import Length, Optional


class PayForm(FlaskForm):
    bill_ids = SelectMultipleField(_l('缴哪些账单'), coerce=int, validate_choice=False, validators=[Optional()])
    provider = SelectField(_l('支付方式'), validate_choice=False)


class SandboxForm(FlaskForm):
    """The sandbox provider's page: pay (or sign), or make it fail."""


class MandateForm(FlaskForm):
    room_id = SelectField(_l('房屋'), coerce=int, validate_choice=False)
    provider = SelectField(_l('代扣方式'), validate_choice=False)


class CancelMandateForm(FlaskForm):
    reason = StringField(_l('解约原因（选填）'), validators=[Optional(), Length(max=200)])


class ProviderSettingsForm(FlaskForm):
    enabled = BooleanField(_l('开通'))
