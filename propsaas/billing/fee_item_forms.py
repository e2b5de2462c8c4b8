"""Forms of the fee item (收费项目) and billing rule (计费规则) pages. Values are checked by the services, which
name the field of a problem; the forms only carry what was typed."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from ..property.models import ROOM_TYPES
from ..residents.renovation_forms import IdChoiceField
from .fee_items import SPLIT_NAMES
from .models import APPLIES_TO_NAMES, CHARGING_NAMES, CYCLE_NAMES, METER_NAMES, RULE_SCOPE_NAMES


def _choices(names: dict, blank=None) -> list:
    choices = [SelectChoice('', blank)] if blank is not None else []
    return choices + [SelectChoice(code, label) for code, label in names.items()]


class FeeItemForm(FlaskForm):
    code = StringField(_l('项目代码'), description=_l('小写英文字母、数字和下划线，例如 service_fee；建好后不能修改'))
    name = StringField(_l('项目名称'))
    charging = SelectField(_l('计费方式'), choices=_choices(CHARGING_NAMES), validate_choice=False)
    rate = StringField(_l('单价（元）'), description=_l('按面积：元/㎡/月；按抄表：元/吨 或 元/度；最多四位小数'))
    amount = StringField(_l('每期金额（元）'), description=_l('固定金额：每个收费周期的金额'))
    cycle = SelectField(_l('收费周期'), choices=_choices(CYCLE_NAMES), validate_choice=False, default='month')
    recurring = BooleanField(_l('周期性收费'), default=True,
                             description=_l('不勾选为一次性收费，例如 装修垃圾清运费'))
    applies_to = SelectField(_l('适用范围'), choices=_choices(APPLIES_TO_NAMES), validate_choice=False,
                             default='room')
    meter = SelectField(_l('表的种类'), choices=_choices(METER_NAMES, blank=_l('（不按抄表）')),
                        validate_choice=False)
    shared = BooleanField(_l('公摊（总表减去各分表之和后分摊）'))
    split_by = SelectField(_l('分摊方式'), choices=_choices(SPLIT_NAMES, blank=_l('（不公摊）')),
                           validate_choice=False)
    note = StringField(_l('备注'))
    active = BooleanField(_l('启用'), default=True, description=_l('停用后不再出账，历史账单不受影响'))


class RuleForm(FlaskForm):
    scope = SelectField(_l('适用范围'), choices=_choices(RULE_SCOPE_NAMES), validate_choice=False)
    room_type = SelectField(_l('房屋类型'), choices=[], validate_choice=False)
    building_id = IdChoiceField(_l('楼栋'))
    unit_id = IdChoiceField(_l('单元'))
    room = StringField(_l('房号'), description=_l('楼栋-单元-房号，例如 1-2-1201'))
    rate = StringField(_l('新单价（元）'))
    amount = StringField(_l('新金额（元）'))
    exempt = BooleanField(_l('免收'))
    effective_from = StringField(_l('起始月份'), description=_l('从这个月起生效，例如 2027-01；之前的账单不受影响'))
    note = StringField(_l('备注/原因'), description=_l('免收必须写明原因'))


def room_type_choices(settings) -> list:
    return [SelectChoice(code, name) for code, name in settings.room_types if code in ROOM_TYPES]
