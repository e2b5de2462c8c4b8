"""Delivery templates under tenants/: the shipped ones load, broken copies are reported precisely."""

import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from propsaas.tenancy.delivery import (
    CORE_DUTIES,
    IMPORT_FIELDS,
    NOTICE_CATEGORIES,
    ROOM_TYPES,
    DeliveryTemplate,
    TemplateError,
    list_templates,
    load_template,
    parse_every,
)

TENANTS = Path(__file__).resolve().parents[2] / 'tenants'
SHIPPED = ('standard-residential', 'office-building')


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def root(tmp_path):
    """A tenants/ root holding a copy of both shipped templates."""
    root = tmp_path / 'tenants'
    for name in SHIPPED:
        shutil.copytree(TENANTS / name, root / name)
    return root


@pytest.fixture
def broken(root):
    """A copy of the residential template named 'broken', to be damaged by the test."""
    shutil.copytree(root / 'standard-residential', root / 'broken')
    return root / 'broken'


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding='utf-8')
    assert old in text, f'{old!r} not in {path.name}'
    path.write_text(text.replace(old, new, 1), encoding='utf-8')


def errors_of(root: Path, name: str = 'broken') -> list[str]:
    with pytest.raises(TemplateError) as info:
        load_template(name, root)
    return info.value.errors


# --------------------------------------------------------------------------- shipped templates


@pytest.mark.parametrize('name', SHIPPED)
def test_shipped_template_loads_with_all_sections(name):
    template = load_template(name, TENANTS)

    assert isinstance(template, DeliveryTemplate)
    assert template.name == name
    assert template.path == (TENANTS / name).resolve()
    assert template.title and template.description
    assert template.settings == {'timezone': 'Asia/Shanghai', 'locale': 'zh_CN', 'billing_day': 1, 'currency': 'CNY'}
    assert set(template.sections) == {'fees', 'repairs', 'inspections', 'notices', 'faq', 'property', 'surveys'}
    codes = [duty['code'] for duty in template.duties]
    assert set(CORE_DUTIES) <= set(codes)
    assert len(codes) == len(set(codes))
    assert template.sections['faq']['entries']
    assert template.sections['repairs']['return_visit_hours'] == 48


@pytest.mark.parametrize('name', SHIPPED)
def test_shipped_money_is_decimal_strings(name):
    fees = load_template(name, TENANTS).sections['fees']

    for item in fees['fee_items']:
        money = item['rate'] if item['charging'] in ('area', 'meter') else item['amount']
        assert isinstance(money, str)
        assert Decimal(money) >= 0
    assert fees['late_fee']['enabled'] is False
    assert Decimal(fees['late_fee']['daily_rate']) == Decimal('0.0005')
    assert fees['rules'] == {
        'lift_fee_ground_floor_exempt': False,
        'vacancy_discount_enabled': False,
        'vacancy_months': 6,
        'vacancy_rate': '0.60',
        'max_prepay_months': 12,
        'renovation_deposit': '2000.00',
    }


def test_residential_has_domain_defaults():
    template = load_template('standard-residential', TENANTS)
    fees = {item['code']: item for item in template.sections['fees']['fee_items']}

    assert {'security', 'cleaning', 'lift_safety'} <= {d['code'] for d in template.duties}
    assert fees['service_fee_lift']['rate'] == '1.80'
    assert fees['service_fee_lift']['applies_to'] == 'room_with_lift'
    assert fees['service_fee_no_lift']['rate'] == '1.00'
    assert fees['parking_fee']['amount'] == '60.00'
    assert fees['parking_fee']['period'] == 'month'
    shared = [item for item in fees.values() if item.get('shared')]
    assert shared and all(item['charging'] == 'meter' and item['split_by'] == 'area' for item in shared)

    repairs = template.sections['repairs']
    assert {c['name'] for c in repairs['categories']} == {
        '水暖', '电路', '门窗', '空调', '电梯', '管道疏通', '墙面屋面渗漏', '门禁安防', '公共设施', '其他',
    }  # fmt: skip
    times = {r['priority']: r for r in repairs['response_times']}
    assert times['emergency_life']['onsite_minutes'] == 30
    assert times['emergency_utility']['onsite_minutes'] == 240
    assert times['ordinary']['working_days'] == 3


def test_residential_inspection_frequencies():
    plans = {p['code']: p for p in load_template('standard-residential', TENANTS).sections['inspections']['plans']}

    assert plans['lift_maintenance']['every'] == '15d'
    assert plans['lift_self_check']['every'] == '1M'
    assert plans['fire_daily_patrol']['every'] == '1d'
    assert plans['fire_monthly_inspection']['every'] == '1M'
    assert plans['fire_yearly_test']['every'] == plans['fire_drill']['every'] == '1y'
    assert plans['water_tank_cleaning']['every'] == '6M'
    assert plans['pump_room_check']['times_per_day'] == 2
    assert plans['switch_room_check']['every'] == '2h'
    assert plans['generator_run']['every'] == '2w'
    assert parse_every(plans['security_patrol']['every']) == (60, 'min')
    assert all(p['retention_years'] >= 4 for p in plans.values() if p['target'] == 'lift')


def test_office_adds_fire_control_and_fitout():
    template = load_template('office-building', TENANTS)
    plans = {p['code']: p for p in template.sections['inspections']['plans']}
    fees = {item['code']: item for item in template.sections['fees']['fee_items']}

    assert {'fire_control', 'fitout_supervision'} <= {d['code'] for d in template.duties}
    assert plans['fire_control_room_watch']['duty'] == 'fire_control'
    assert plans['fire_control_room_watch']['min_staff'] == 2
    assert Decimal(fees['service_fee']['rate']) > Decimal('1.80')


@pytest.mark.parametrize('name', SHIPPED)
def test_shipped_notices_cover_every_category(name):
    notices = load_template(name, TENANTS).sections['notices']['templates']
    by_category = {n['category']: n for n in notices}

    assert set(by_category) == set(NOTICE_CATEGORIES)
    assert '15日' in by_category['业主大会']['body']
    for word in ('停水', '停电', '断水', '断电', '停暖', '停气', '断气'):
        assert word not in by_category['催缴']['body']


def test_list_templates_of_shipped_root():
    listed = list_templates(TENANTS)

    assert [name for name, _, _ in listed] == sorted(name for name, _, _ in listed)
    for name in SHIPPED:
        entry = next(e for e in listed if e[0] == name)
        assert isinstance(entry[1], DeliveryTemplate) and entry[2] is None


def test_module_imports_only_the_standard_library():
    # operators' scripts load templates without the app: the file alone pulls in nothing installed (no Flask, no DB)
    module = Path(__file__).resolve().parents[2] / 'propsaas' / 'tenancy' / 'delivery.py'
    code = f"""
import importlib.util, sys
before = set(sys.modules)
spec = importlib.util.spec_from_file_location('delivery', {str(module)!r})
sys.modules['delivery'] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sys.modules['delivery'])
added = [sys.modules[name] for name in set(sys.modules) - before]
print(sorted(m.__name__ for m in added if 'site-packages' in (getattr(m, '__file__', None) or '')))
"""
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == '[]'


# --------------------------------------------------------------------------- frequency grammar


@pytest.mark.parametrize(
    'text, expected',
    [('15d', (15, 'd')), ('2h', (2, 'h')), ('60min', (60, 'min')), ('2w', (2, 'w')), ('1M', (1, 'M')),
     ('6M', (6, 'M')), ('1y', (1, 'y'))],
)  # fmt: skip
def test_parse_every(text, expected):
    assert parse_every(text) == expected


@pytest.mark.parametrize('text', ['15', 'd', '0d', '-1d', '1.5h', '15 d', '15D', 'every 15d', '2 weeks', '', '01d'])
def test_parse_every_rejects(text):
    with pytest.raises(ValueError, match='like "15d"'):
        parse_every(text)


def test_parse_every_explains_ambiguous_m():
    with pytest.raises(ValueError, match='"30min" for minutes or "30M" for months'):
        parse_every('30m')


# --------------------------------------------------------------------------- broken templates


def test_toml_syntax_error_names_file_and_line(broken):
    edit(broken / 'fees.toml', '\nrate = "1.80"', '\nrate = "1.80')

    [error] = errors_of(broken.parent)
    assert error.startswith('fees.toml: TOML syntax error:')
    assert 'line 20' in error and 'column' in error


def test_float_money_is_rejected(broken):
    edit(broken / 'fees.toml', '\nrate = "1.80"', '\nrate = 1.8')

    assert errors_of(broken.parent) == [
        'fees.toml: fee_items[1].rate: must be a decimal string in yuan like "1.80", got float 1.8'
    ]


@pytest.mark.parametrize(
    'written, message',
    [
        ('amount = 60', 'must be a decimal string in yuan like "1.80", got integer 60'),
        ('amount = "60,00"', 'must be a decimal string in yuan like "1.80", got "60,00"'),
        ('amount = "-60.00"', 'must be >= 0, got "-60.00"'),
        ('amount = "60.00001"', 'at most 4 decimal places, got "60.00001"'),
        ('amount = "1e3"', 'must be a decimal string in yuan like "1.80", got "1e3"'),
    ],
)
def test_bad_money_strings(broken, written, message):
    edit(broken / 'fees.toml', 'amount = "60.00"', written)

    assert errors_of(broken.parent) == [f'fees.toml: fee_items[3].amount: {message}']


def test_unknown_key_is_an_error_with_suggestion(broken):
    edit(broken / 'fees.toml', 'rate = "1.00"', 'rat = "1.00"')

    errors = errors_of(broken.parent)
    assert 'fees.toml: fee_items[2].rat: unknown key (did you mean "rate"?); expected one of: ' in errors[0]
    assert errors[1:] == ['fees.toml: fee_items[2].rate: missing: charging = "area" needs rate']


def test_unknown_key_in_rules_and_top_level(broken):
    edit(broken / 'fees.toml', 'vacancy_months = 6', 'vacancy_month = 6')
    edit(broken / 'tenant.toml', '[settings]', 'titel = "x"\n\n[settings]')

    errors = errors_of(broken.parent)
    assert any(
        e.startswith('fees.toml: rules.vacancy_month: unknown key (did you mean "vacancy_months"?)') for e in errors
    )
    assert any(e.startswith('tenant.toml: titel: unknown key (did you mean "title"?)') for e in errors)
    assert len(errors) == 2


def test_missing_core_duty(broken):
    edit(broken / 'tenant.toml', 'code = "cashier"', 'code = "cashier_desk"')

    [error] = errors_of(broken.parent)
    assert error.startswith('tenant.toml: duties: missing core duty "cashier"')


def test_duty_code_must_be_snake_case(broken):
    edit(broken / 'tenant.toml', 'code = "cleaning"', 'code = "Cleaning-Team"')

    errors = errors_of(broken.parent)
    assert errors == [
        'tenant.toml: duties[5].code: must be a lowercase snake_case ASCII code like "service_desk", '
        'got string "Cleaning-Team"'
    ]


def test_bad_timezone(broken):
    edit(broken / 'tenant.toml', 'timezone = "Asia/Shanghai"', 'timezone = "Asia/Beijing"')

    assert errors_of(broken.parent) == [
        'tenant.toml: settings.timezone: unknown time zone "Asia/Beijing" (use an IANA name like "Asia/Shanghai")'
    ]


def test_bad_billing_day_and_locale(broken):
    edit(broken / 'tenant.toml', 'billing_day = 1 ', 'billing_day = 31 ')
    edit(broken / 'tenant.toml', 'locale = "zh_CN"', 'locale = "zh"')

    assert errors_of(broken.parent) == [
        'tenant.toml: settings.locale: must be one of "zh_CN", "en", got string "zh"',
        'tenant.toml: settings.billing_day: must be between 1 and 28, got 31',
    ]


def test_bad_frequency(broken):
    edit(broken / 'inspections.toml', 'every = "15d"', 'every = "15 days"')

    [error] = errors_of(broken.parent)
    assert error.startswith('inspections.toml: plans[1].every: must be a whole number and a unit like "15d"')


def test_frequency_needs_exactly_one_form(broken):
    edit(broken / 'inspections.toml', '\ntimes_per_day = 2', '\ntimes_per_day = 2\nevery = "12h"')

    assert errors_of(broken.parent) == [
        'inspections.toml: plans[12]: set exactly one of every (like "15d") or times_per_day'
    ]


def test_plan_duty_must_exist_in_tenant(broken):
    edit(broken / 'inspections.toml', 'duty = "technician"', 'duty = "technican"')

    [error] = errors_of(broken.parent)
    assert error.startswith('inspections.toml: plans[7].duty: unknown duty "technican" (did you mean "technician"?)')


def test_lift_records_kept_four_years(broken):
    edit(broken / 'inspections.toml', 'retention_years = 4', 'retention_years = 2')

    [error] = errors_of(broken.parent)
    assert error.startswith('inspections.toml: plans[1].retention_years: lift records are kept at least 4 years')


@pytest.mark.parametrize('threat', ['否则将停水停电', '逾期将采取断水措施', '届时停止供暖', '将暂停供气'])
def test_dunning_may_not_threaten_utilities(broken, threat):
    edit(broken / 'notices.toml', '恳请您于{due_date}前缴纳。', f'恳请您于{{due_date}}前缴纳，{threat}。')

    [error] = errors_of(broken.parent)
    assert error.startswith(
        'notices.toml: templates[4].body: payment and dunning notices may not threaten to cut water, '
        'electricity, heating or gas (民法典 Art. 944)'
    )


def test_water_outage_notice_may_say_water_is_cut(broken):
    # the rule is about payment texts: a 停水 notice is of course about 停水
    assert load_template('broken', broken.parent).sections['notices']['templates'][0]['category'] == '停水'


def test_unknown_notice_placeholder_and_category(broken):
    edit(broken / 'notices.toml', '{time_range}暂停供水', '{timerange}暂停供水')
    edit(broken / 'notices.toml', 'category = "社区活动"', 'category = "活动"')

    errors = errors_of(broken.parent)
    assert errors[0].startswith('notices.toml: templates[1].body: unknown placeholder {timerange}')
    assert (
        errors[1]
        == 'notices.toml: templates[11].category: must be one of '
        + ', '.join(f'"{c}"' for c in NOTICE_CATEGORIES)
        + ', got string "活动"'
    )
    assert len(errors) == 2


def test_missing_file(broken):
    (broken / 'faq.toml').unlink()

    assert errors_of(broken.parent) == ['faq.toml: missing required file']


def test_misnamed_file_is_reported(broken):
    (broken / 'faq.toml').rename(broken / 'faqs.toml')

    assert errors_of(broken.parent) == [
        'faq.toml: missing required file',
        'faqs.toml: unknown file (did you mean "faq.toml"?); expected: tenant.toml, fees.toml, repairs.toml, '
        'inspections.toml, notices.toml, faq.toml (optional: property.toml, surveys.toml)',
    ]


def test_charging_model_keys(broken):
    edit(broken / 'fees.toml', 'amount = "60.00"', 'rate = "60.00"')
    edit(broken / 'fees.toml', 'charging = "fixed"\namount = "300.00"', 'charging = "lump_sum"\namount = "300.00"')

    errors = errors_of(broken.parent)
    assert errors == [
        'fees.toml: fee_items[3].amount: missing: charging = "fixed" needs amount',
        'fees.toml: fee_items[3].rate: not used with charging = "fixed"',
        'fees.toml: fee_items[6].charging: must be one of "area", "fixed", "meter", got string "lump_sum"',
    ]


def test_duplicate_codes(broken):
    edit(broken / 'repairs.toml', 'code = "electrical"', 'code = "plumbing"')

    assert errors_of(broken.parent) == [
        'repairs.toml: categories[2].code: duplicate code "plumbing" (already used by categories[1])'
    ]


def test_late_fee_rate_typed_as_percent(broken):
    edit(broken / 'fees.toml', 'daily_rate = "0.0005"', 'daily_rate = "0.05"')

    [error] = errors_of(broken.parent)
    assert error.startswith('fees.toml: late_fee.daily_rate: must be <= 0.001, got "0.05"')


def test_late_fee_switched_on_needs_a_rate_and_a_cap(broken):
    edit(broken / 'fees.toml', '\nenabled = false', '\nenabled = true')
    edit(broken / 'fees.toml', 'daily_rate = "0.0005"', 'daily_rate = "0"')
    edit(broken / 'fees.toml', 'cap_percent = "100"', 'cap_percent = "0"')

    assert errors_of(broken.parent) == ['fees.toml: late_fee.daily_rate: must be above 0 when enabled = true',
                                        'fees.toml: late_fee.cap_percent: must be above 0 when enabled = true']


def test_all_errors_reported_at_once(broken):
    edit(broken / 'fees.toml', '\nrate = "1.80"', '\nrate = 1.8')
    edit(broken / 'tenant.toml', 'timezone = "Asia/Shanghai"', 'timezone = "Mars/Olympus"')
    edit(broken / 'inspections.toml', 'every = "2h"', 'every = "2x"')
    edit(broken / 'repairs.toml', 'onsite_minutes = 30', 'onsite_minutes = "30"')
    (broken / 'faq.toml').unlink()

    with pytest.raises(TemplateError) as info:
        load_template('broken', broken.parent)
    errors = info.value.errors
    assert [e.split(':')[0] for e in errors] == [
        'faq.toml', 'tenant.toml', 'fees.toml', 'repairs.toml', 'inspections.toml',
    ]  # fmt: skip
    assert 'fees.toml: fee_items[1].rate:' in errors[2]
    assert errors[3] == 'repairs.toml: response_times[1].onsite_minutes: must be a whole number, got string "30"'
    message = str(info.value)
    assert message.startswith("template 'broken' has 5 problems:")
    assert all(e in message for e in errors)


def test_list_templates_reports_the_broken_one(broken):
    edit(broken / 'fees.toml', '\nrate = "1.80"', '\nrate = 1.8')
    (broken.parent / 'Bad_Name').mkdir()
    (broken.parent / '.hidden').mkdir()

    listed = list_templates(broken.parent)

    assert [name for name, _, _ in listed] == ['Bad_Name', 'broken', 'office-building', 'standard-residential']
    by_name = {name: (template, error) for name, template, error in listed}
    template, error = by_name['broken']
    assert template is None
    assert error.errors == ['fees.toml: fee_items[1].rate: must be a decimal string in yuan like "1.80", got float 1.8']
    assert 'invalid template name' in str(by_name['Bad_Name'][1])
    assert by_name['office-building'][0].title == '标准写字楼' and by_name['office-building'][1] is None


@pytest.mark.parametrize('name', ['../x', '..', 'a/b', '/etc', '-x', 'Standard', 'x\n', '', 'a' * 64, 'x.toml'])
def test_bad_names_are_refused(root, name):
    (root.parent / 'x').mkdir()  # a real folder one level up must stay out of reach

    with pytest.raises(TemplateError, match='invalid template name'):
        load_template(name, root)


def test_unknown_name_lists_available(root):
    with pytest.raises(TemplateError) as info:
        load_template('luxury-villa', root)

    assert info.value.errors == [
        f"no template named 'luxury-villa' in {root}; available: office-building, standard-residential"
    ]


def test_gbk_file_is_reported(broken):
    (broken / 'faq.toml').write_bytes('[[entries]]\nquestion = "物业费"\nanswer = "按面积"\n'.encode('gbk'))

    assert errors_of(broken.parent) == ['faq.toml: not valid UTF-8: save the file as UTF-8 (not GBK)']


def test_utf8_bom_is_accepted(broken):
    path = broken / 'faq.toml'
    path.write_bytes(b'\xef\xbb\xbf' + path.read_bytes())

    assert load_template('broken', broken.parent).sections['faq']['entries']


# --------------------------------------------------------------------------- property.toml


@pytest.mark.parametrize('name', SHIPPED)
def test_shipped_property_section(name):
    prop = load_template(name, TENANTS).sections['property']

    codes = [t['code'] for t in prop['room_types']]
    assert codes and set(codes) <= set(ROOM_TYPES) and len(codes) == len(set(codes))
    assert prop['room_tags'] and len(prop['room_tags']) == len(set(prop['room_tags']))
    assert 2 <= len(prop['gates']) <= 6  # a few main gates, not one per door
    assert set(prop['import_headers']) == set(IMPORT_FIELDS)
    assert all(prop['import_headers'].values())


def test_residential_and_office_property_defaults():
    home = load_template('standard-residential', TENANTS).sections['property']
    office = load_template('office-building', TENANTS).sections['property']
    assert home['room_types'][0] == {'code': 'residence', 'name': '住宅'}
    assert {'高层', '底层', '临街', '带花园', '复式'} <= set(home['room_tags'])
    assert {'code': 'north-gate', 'name': '北门'} in home['gates']
    assert {'code': 'south-gate', 'name': '南门'} in home['gates']
    assert office['room_types'][0]['code'] == 'office'
    assert {g['name'] for g in office['gates']} >= {'大堂闸机', '地库入口'}
    headers = home['import_headers']
    for field, header in (('room', '房间号'), ('building', '楼号'), ('unit', '单元号'), ('name', '业主姓名'),
                          ('mobile', '联系电话'), ('role', '住户类型'), ('moved_in_on', '入住日期'),
                          ('area', '建筑面积'), ('id_number', '身份证'), ('note', '备注')):
        assert header in headers[field], field


def test_room_types_match_the_models():
    from propsaas.property.models import ROOM_TYPES as MODEL_ROOM_TYPES

    assert ROOM_TYPES == MODEL_ROOM_TYPES


def test_property_toml_is_optional(broken):
    (broken / 'property.toml').unlink()

    prop = load_template('broken', broken.parent).sections['property']
    assert [t['code'] for t in prop['room_types']] == list(ROOM_TYPES)
    assert prop['room_tags'] == [] and prop['gates'] == []
    assert prop['import_headers'] == IMPORT_FIELDS


def test_import_fields_left_out_take_the_defaults(broken):
    edit(broken / 'property.toml', 'plate = ["车牌", "车牌号"]\n', '')

    assert load_template('broken', broken.parent).sections['property']['import_headers']['plate'] == ['车牌', '车牌号']


def test_property_errors_name_file_and_key(broken):
    edit(broken / 'property.toml', 'code = "shop"', 'code = "villa"')
    edit(broken / 'property.toml', 'code = "south-gate"', 'code = "South Gate"')
    edit(broken / 'property.toml', 'code = "garage-entrance"', 'code = "north-gate"')
    edit(broken / 'property.toml', '"复式", ', '"复式", "复式", ')
    edit(broken / 'property.toml', 'note = ["备注"]', 'note = ["备注", "电话"]\nnotes = ["说明"]')
    edit(broken / 'property.toml', 'area = ["建筑面积", "面积"]', 'area = []')

    assert errors_of(broken.parent) == [
        'property.toml: room_tags: "复式" is listed twice',
        'property.toml: room_types[2].code: must be one of "residence", "shop", "office", "storage", '
        'got string "villa"',
        'property.toml: gates[2].code: must be lowercase letters, digits and "-" (at most 40) like "north-gate", '
        'got string "South Gate"',
        'property.toml: gates[3].code: duplicate code "north-gate" (already used by gates[1])',
        'property.toml: import.notes: unknown key (did you mean "note"?); expected one of: '
        + ', '.join(IMPORT_FIELDS),
        'property.toml: import.area: must list at least one column header',
        'property.toml: import.note: header "电话" is also listed under import.mobile',
    ]


def test_property_type_errors(broken):
    edit(broken / 'property.toml', 'room_tags = [', 'room_tags = [1, ')
    edit(broken / 'property.toml', 'name = "北门"', 'name = 1')

    assert errors_of(broken.parent) == [
        'property.toml: room_tags: item 1 must be a non-empty string, got integer 1',
        'property.toml: gates[1].name: must be a string, got integer 1',
    ]


def test_property_needs_a_room_type(broken):
    text = (broken / 'property.toml').read_text(encoding='utf-8')
    start, end = text.index('[[room_types]]'), text.index('# 门禁点')
    (broken / 'property.toml').write_text(text[:start] + text[end:], encoding='utf-8')

    assert errors_of(broken.parent) == ['property.toml: room_types: missing: add at least one [[room_types]] entry']
