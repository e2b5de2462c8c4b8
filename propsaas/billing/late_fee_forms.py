"""Forms of the late-fee pages (滞纳金): the project's settings and a waiver (减免) on a bill line."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Regexp


class LateFeeSettingsForm(FlaskForm):
    enabled = BooleanField(_l('启用滞纳金'),
                           description=_l('须有合同（物业服务合同或管理规约）约定；不勾选则不计算滞纳金'))
    daily_percent = StringField(_l('每日比例（%）'),
                                validators=[DataRequired(_l('请填写每日比例，例如 0.05')), Length(max=12)],
                                description=_l('按百分数填写：0.05 表示每日 0.05%（万分之五），0.03 表示每日万分之三；'
                                               '范围 0.001 到 0.1'))
    grace_days = StringField(_l('宽限天数'), validators=[
        InputRequired(_l('请填写宽限天数（0 到 365 的整数）')),
        Regexp(r'^\s*\d{1,3}\s*$', message=_l('宽限天数须为 0 到 365 之间的整数'))],
        description=_l('缴费截止日之后这么多天内缴清的不计滞纳金，从之后一天起按天计算'))
    cap_percent = StringField(_l('封顶比例（%）'),
                              validators=[DataRequired(_l('请填写封顶比例，例如 100')), Length(max=12)],
                              description=_l('一张账单的滞纳金累计不超过其欠费本金的这个百分比，'
                                             '例如 100 表示不超过本金'))


class WaiveForm(FlaskForm):
    reason = StringField(_l('减免原因'), validators=[DataRequired(_l('请填写减免原因')), Length(max=200)],
                         description=_l('例如：经理批准，首次逾期'))
