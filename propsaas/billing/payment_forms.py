"""Forms of the payment pages (收款): a new offline payment, a refund, a reversal."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from .models import PAYMENT_METHOD_NAMES
from .payments import OFFLINE_METHODS

_AMOUNT = _l('请填写金额（元），例如 256.60')
_REASON = _l('请填写原因')


class PaymentForm(FlaskForm):
    room = StringField(_l('房号'), validators=[DataRequired(_l('请填写房号，例如 1-2-1201')), Length(max=80)],
                       description=_l('楼栋-单元-房号，例如 1-2-1201'))
    amount = StringField(_l('金额（元）'), validators=[DataRequired(_AMOUNT), Length(max=20)])
    method = SelectField(_l('收款方式'), choices=[SelectChoice(m, PAYMENT_METHOD_NAMES[m]) for m in OFFLINE_METHODS])
    reference = StringField(_l('凭证号'), validators=[Optional(), Length(max=100)],
                            description=_l('银行流水号、POS 参考号等，现金可不填'))
    payer_name = StringField(_l('缴款人'), validators=[Optional(), Length(max=60)],
                             description=_l('不填则为账单的缴费人'))
    bill_ids = SelectMultipleField(_l('缴哪些账单'), coerce=int, validate_choice=False, validators=[Optional()],
                                   description=_l('不选则从最早到期的账单开始抵扣，多出的金额存为预存款'))
    note = TextAreaField(_l('备注'), validators=[Optional(), Length(max=200)])


class RefundForm(FlaskForm):
    amount = StringField(_l('退款金额（元）'), validators=[DataRequired(_AMOUNT), Length(max=20)])
    reason = TextAreaField(_l('退款原因'), validators=[DataRequired(_REASON), Length(max=200)])


class ReverseForm(FlaskForm):
    reason = TextAreaField(_l('冲正原因'), validators=[DataRequired(_REASON), Length(max=200)])
