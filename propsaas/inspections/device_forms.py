"""Forms of the equipment ledger: a device (新增/编辑设备) and a certificate (证书). The rules that need the
database (a code not taken, a building of the project) and the choices (category, status) are the service's
(inspections.devices), so every refusal has its Chinese message."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from .devices import CERTIFICATE_FIELDS, DEVICE_FIELDS
from .models import DEVICE_CATEGORIES, DEVICE_CATEGORY_NAMES, DEVICE_STATUS_NAMES, DEVICE_STATUSES

DATE_MESSAGE = _l('日期格式应为 2026-01-31')


class IsoDateField(DateField):
    """A YYYY-MM-DD date (the browser's date input), with a Chinese message for anything else."""

    def process_formdata(self, valuelist):
        if not valuelist or not ''.join(valuelist).strip():
            self.data = None
            return
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(DATE_MESSAGE) from None


class BuildingField(IntegerField):
    """The building select's value: an id or nothing (whether it is the project's is the service's check)."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(_l('所选楼栋不存在，请重新选择')) from None


class DeviceForm(FlaskForm):
    """新增 / 编辑设备; the building is a select of the project's buildings (or none), drawn by the template."""

    code = StringField(_l('设备编号'), validators=[DataRequired(_l('请填写设备编号')), Length(max=40)],
                       description=_l('贴在设备上的编号，例如 DT-01'))
    name = StringField(_l('设备名称'), validators=[DataRequired(_l('请填写设备名称')), Length(max=60)])
    category = SelectField(_l('类别'), choices=[SelectChoice(c, DEVICE_CATEGORY_NAMES[c]) for c in DEVICE_CATEGORIES],
                           validate_choice=False, validators=[InputRequired(_l('请选择设备类别'))])
    building_id = BuildingField(_l('楼栋'), validators=[Optional(), NumberRange(
        min=1, max=2**31 - 1, message=_l('所选楼栋不存在，请重新选择'))])
    location = StringField(_l('位置'), validators=[Optional(), Length(max=100)],
                           description=_l('例如 1单元 东侧、地下一层水泵房'))
    model = StringField(_l('型号'), validators=[Optional(), Length(max=60)])
    vendor = StringField(_l('生产厂家'), validators=[Optional(), Length(max=60)])
    serial_number = StringField(_l('出厂编号'), validators=[Optional(), Length(max=60)])
    installed_on = IsoDateField(_l('安装日期'), validators=[Optional()])
    warranty_until = IsoDateField(_l('保修截止'), validators=[Optional()])
    contractor = StringField(_l('维保单位'), validators=[Optional(), Length(max=100)])
    contractor_phone = StringField(_l('维保电话'), validators=[Optional(), Length(max=30)])
    status = SelectField(_l('状态'), choices=[SelectChoice(s, DEVICE_STATUS_NAMES[s]) for s in DEVICE_STATUSES],
                         default='in_service', validate_choice=False)
    note = TextAreaField(_l('备注'), validators=[Optional(), Length(max=500)])

    def values(self) -> dict:
        return {name: getattr(self, name).data for name in DEVICE_FIELDS}


class CertificateForm(FlaskForm):
    name = StringField(_l('证书名称'), validators=[DataRequired(_l('请填写证书名称')), Length(max=60)],
                       description=_l('例如 电梯定期检验合格证'))
    number = StringField(_l('证书编号'), validators=[Optional(), Length(max=60)])
    issued_on = IsoDateField(_l('发证日期'), validators=[Optional()])
    expires_on = IsoDateField(_l('到期日期'), validators=[InputRequired(_l('请填写证书到期日期'))])
    remind_days = IntegerField(_l('提前提醒天数'), default=30,
                               validators=[InputRequired(_l('请填写提前提醒天数')),
                                           NumberRange(min=0, max=365, message=_l('提前提醒天数应在 0 到 365 之间'))])
    note = StringField(_l('备注'), validators=[Optional(), Length(max=200)])

    def values(self) -> dict:
        return {name: getattr(self, name).data for name in CERTIFICATE_FIELDS}


class ActionForm(FlaskForm):
    """A button with nothing to fill (删除证书): only the CSRF token."""
