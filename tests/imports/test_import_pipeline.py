"""The import pipeline without a database: the shared samples give exactly the report of EXPECTED.md, headers are
found under title rows, every kind of messy value is normalised or refused with its column and reason."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from propsaas.documents.uploads import sniff_spreadsheet
from propsaas.residents import importing as im
from tests.imports.conftest import HEADER, SAMPLE_FILES, csv_bytes, sample, xlsx


def analyse(data: bytes, existing: im.Existing | None = None, synonyms=None):
    with im.Table(data, sniff_spreadsheet(data), synonyms or im.header_synonyms()) as table:
        rows = im.read_rows(table)
    return rows, im.classify(rows, existing or im.Existing())


def by_kind(rows, kind):
    return [row for row in rows if row.kind == kind]


# --- the samples ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('name', SAMPLE_FILES)
def test_sample_gives_the_expected_report(name):
    rows, summary = analyse(sample(name))
    assert len(rows) == 100  # title row, blank row, 合计 row and the 说明 sheet are not data
    assert summary.counts == {'new': 94, 'update': 0, 'unchanged': 0, 'duplicate': 1, 'error': 5}

    [duplicate] = by_kind(rows, 'duplicate')
    assert (duplicate.fields['code'], duplicate.fields['name']) == ('1-1-202', '曾娜然')
    first = next(row for row in rows if row.line == duplicate.duplicate_of)
    assert (first.fields['code'], first.fields['mobile'], first.kind) == ('1-1-202', '13895559797', 'new')
    assert '同一房号、同一手机号' in duplicate.reason

    errors = {row.fields.get('code'): row.errors for row in by_kind(rows, 'error')}
    assert set(errors) == {'1-1-9901', '2-1-701', '2-2-702', '3-1-801', '3-2-802'}
    expected = {  # room -> (column as titled in the file, what the reason says)
        '1-1-9901': ('业主姓名', '姓名不能为空'),
        '2-1-701': ('联系电话', '「1381234」不是有效的手机号'),
        '2-2-702': ('建筑面积(㎡)', '「八十」不是数字'),
        '3-1-801': ('身份', '「房东」不是业主/租户/家属之一'),
        '3-2-802': ('入住时间', '「2020-13-45」不是有效日期'),
    }
    for code, (column, reason) in expected.items():
        [(got_column, message)] = errors[code]
        assert got_column == column and reason in message, (code, errors[code])

    [landline] = [row for row in rows if row.warnings]
    assert landline.kind == 'new' and landline.fields['code'] == '1-2-901'
    assert landline.fields['mobile'] is None and landline.fields['other_phone'] == '0571-88886666'
    assert '座机' in landline.warnings[0]
    assert summary.stats()['rooms_to_create'] == 73
    assert summary.stats()['buildings_to_create'] == 3 and summary.stats()['units_to_create'] == 6


def test_the_three_samples_classify_alike():
    results = []
    for name in SAMPLE_FILES:
        rows, _ = analyse(sample(name))
        results.append([(r.kind, r.fields.get('code'), r.fields.get('name'), r.fields.get('mobile'),
                         r.fields.get('area_m2'), r.fields.get('moved_in_on'), r.fields.get('role')) for r in rows])
    assert results[0] == results[1] == results[2]


def test_messy_values_of_the_sample_are_normalised():
    rows, _ = analyse(sample('residents_messy.xlsx'))
    found = {(r.fields.get('code'), r.fields.get('name')): r.fields for r in rows}
    assert found['1-1-101', '周浩秀']['moved_in_on'] == date(2019, 11, 12)  # '1栋1单元101', '2019/11/12'
    assert found['1-1-201', '程兰志']['mobile'] == '19543231948'  # full-width digits
    assert found['1-1-302', '高平桂']['mobile'] == '15212233079'  # '+86-152...', room '302室'
    assert found['1-1-402', '李艳']['area_m2'] == Decimal('128.40')  # '128.4㎡'
    assert found['1-2-102', '苏国梅']['moved_in_on'] == date(2016, 5, 13)  # '2016年05月13日'
    assert found['1-1-102', '刘秀杰']['moved_in_on'] == date(2021, 4, 13)  # an Excel date
    assert found['1-1-601', '于浩磊']['role'] == 'family' and found['1-1-601', '蔡强']['role'] == 'renter'
    assert found['1-2-201', '魏磊涛']['unit_name'] == '2单元' and found['1-2-201', '魏磊涛']['building_name'] == '1栋'


# --- headers --------------------------------------------------------------------------------------------------------

def test_header_below_a_merged_title_row_with_synonyms_and_units():
    data = xlsx([['楼栋号', ' 单 元 ', '房间号', '面积（㎡）', '住户姓名', '手机号码', '类型', '入住日期', '无关列'],
                 ['２栋', '1', '501', '90', '王五', '139 0000 1111', '家属', '2024.05.01', 'x']],
                title='某某小区 2026 年住户登记表', sheets={'说明': [['填写说明']]})
    rows, summary = analyse(data)
    [row] = rows
    assert row.kind == 'new' and row.line == 3
    assert row.fields['code'] == '2-1-501' and row.fields['area_m2'] == Decimal('90.00')
    assert row.fields['mobile'] == '13900001111' and row.fields['role'] == 'family'
    assert row.fields['moved_in_on'] == date(2024, 5, 1) and row.fields['floor'] == 5


def test_header_on_a_later_sheet_when_the_first_is_instructions():
    data = xlsx([['说明：请勿修改表头']], sheets={'数据': [HEADER, ['1', '1', '101', '', '赵六', '', '', '']]})
    rows, _ = analyse(data)
    assert [r.fields['name'] for r in rows] == ['赵六']
    assert rows[0].fields['role'] == 'owner' and rows[0].warnings  # 身份 left blank: 业主, with a warning


def test_the_tenants_own_header_names_are_used():
    data = csv_bytes([['栋', '户号', '户主', '电话'], ['3', '1203', '钱七', '13700001234']])
    with pytest.raises(im.ImportProblem):
        analyse(data, synonyms=im.header_synonyms({}))  # 户主 is not a default name for the name column
    rows, _ = analyse(data, synonyms=im.header_synonyms({'name': ['户主'], 'area': ['面积(平米)']}))
    assert rows[0].fields['name'] == '钱七' and rows[0].fields['code'] == '3-1203'


def test_no_recognisable_header_is_refused_with_what_is_missing():
    with pytest.raises(im.ImportProblem) as caught:
        analyse(csv_bytes([['楼栋', '单元', '电话'], ['1', '1', '13800000000']]))
    message = str(caught.value.message)
    assert '找不到表头' in message and '房号' in message and '姓名' in message


def test_no_data_rows_is_refused():
    with pytest.raises(im.ImportProblem) as caught:
        analyse(csv_bytes([HEADER, [], ['合计', '', '', '0']]))
    assert '没有数据行' in str(caught.value.message)


def test_too_many_rows_is_refused_before_reading_on():
    data = csv_bytes([HEADER] + [['1', '1', str(100 + i), '', f'人{i}', '', '', ''] for i in range(30)])
    with im.Table(data, sniff_spreadsheet(data), im.header_synonyms(), max_rows=20) as table, \
            pytest.raises(im.ImportProblem) as caught:
        im.read_rows(table)
    assert '超过 20 行' in str(caught.value.message)


# --- values ---------------------------------------------------------------------------------------------------------

def one(**cells):
    """Classify a single row given as {header: value}."""
    header = list(cells)
    rows, _ = analyse(csv_bytes([header, [cells[h] for h in header]]))
    return rows[0]


@pytest.mark.parametrize(('typed', 'mobile'), [
    ('138 0013 8000', '13800138000'), ('138-0013-8000', '13800138000'), ('+86 13800138000', '13800138000'),
    ('+86-138-0013-8000', '13800138000'), ('１３８００１３８０００', '13800138000'), ('8613800138000', '13800138000'),
])
def test_mobiles(typed, mobile):
    assert one(房号='1-1-101', 姓名='甲', 手机=typed).fields['mobile'] == mobile


@pytest.mark.parametrize('typed', ['0571-88886666', '021-12345678', '(0571)88886666', '010 12345678'])
def test_landlines_are_kept_as_other_phone_with_a_warning(typed):
    row = one(房号='1-1-101', 姓名='甲', 联系电话=typed)
    assert row.kind == 'new' and row.fields['mobile'] is None and row.fields['other_phone']
    assert row.warnings


@pytest.mark.parametrize('typed', ['1381234', '23800138000', '138001380001', 'abc'])
def test_bad_mobiles(typed):
    row = one(房号='1-1-101', 姓名='甲', 手机号=typed)
    assert row.kind == 'error' and row.errors[0][0] == '手机号'


@pytest.mark.parametrize(('typed', 'day'), [
    ('2024/05/01', date(2024, 5, 1)), ('2024年05月01日', date(2024, 5, 1)), ('2024-5-1', date(2024, 5, 1)),
    ('2024.05.01', date(2024, 5, 1)), ('20240501', date(2024, 5, 1)), ('45413', date(2024, 5, 1)),
    ('2024-05-01 00:00:00', date(2024, 5, 1)), (datetime(2024, 5, 1), date(2024, 5, 1)), (45413, date(2024, 5, 1)),
])
def test_dates(typed, day):
    assert im.parse_date(typed) == day


@pytest.mark.parametrize('typed', ['2020-13-45', '2024-02-30', '明年', '5/1'])
def test_bad_dates(typed):
    assert im.parse_date(typed) is None


@pytest.mark.parametrize(('typed', 'area'), [
    (89.5, '89.50'), ('89.5㎡', '89.50'), ('89.50平方米', '89.50'), ('８９.５', '89.50'), ('120', '120.00'),
    ('89.555', '89.56'), (128.4, '128.40'), ('1,200.5 m2', '1200.50'),
])
def test_areas(typed, area):
    assert im.parse_area(typed) == Decimal(area)


@pytest.mark.parametrize('typed', ['八十', '', 'NaN', '12a'])
def test_bad_areas(typed):
    assert im.parse_area(typed) is None


@pytest.mark.parametrize(('room', 'building', 'unit', 'code'), [
    ('301', '1栋', '1单元', '1-1-301'), ('1-2-301', '', '', '1-2-301'), ('1栋2单元301', '', '', '1-2-301'),
    ('301室', '1', '2', '1-2-301'), ('3号楼2单元1201室', '', '', '3-2-1201'), ('１－２－３０１', '', '', '1-2-301'),
    ('1201', 'A座', '', 'A-1201'),
])
def test_room_addresses(room, building, unit, code):
    assert one(楼栋=building, 单元=unit, 房号=room, 姓名='甲').fields['code'] == code


def test_room_that_contradicts_its_building_column_is_an_error():
    row = one(楼栋='2栋', 单元='1', 房号='1-1-301', 姓名='甲')
    assert row.kind == 'error' and '不一致' in row.reason


def test_room_without_building_is_an_error():
    row = one(房号='301', 姓名='甲')
    assert row.kind == 'error' and '缺少楼栋' in row.reason


@pytest.mark.parametrize(('typed', 'role'), [('业主', 'owner'), ('租户', 'renter'), ('租客', 'renter'),
                                             ('家属', 'family'), (' 家属 ', 'family')])
def test_roles(typed, role):
    assert one(房号='1-1-101', 姓名='甲', 身份=typed).fields['role'] == role


def test_landlord_is_refused_with_the_reason():
    row = one(房号='1-1-101', 姓名='甲', 身份='房东')
    assert row.kind == 'error' and '房东' in row.reason and '业主' in row.reason


def test_id_numbers_are_checked_and_normalised():
    assert one(房号='1-1-101', 姓名='甲', 身份证号='11010519900307101x').fields['id_number'] == '11010519900307101X'
    bad_check = one(房号='1-1-101', 姓名='甲', 身份证号='110101199003074478')
    assert bad_check.kind == 'error' and '校验位' in bad_check.reason
    assert '18 位' in one(房号='1-1-101', 姓名='甲', 身份证号='1101011990').reason
    assert '出生日期' in one(房号='1-1-101', 姓名='甲', 身份证号='110101199013074472').reason
    assert im.id_number_problem('11010519491231002X') is None


# --- classification against what the project has -------------------------------------------------------------------

def occupant(**kw) -> im.Occupant:
    values = dict(resident_id=1, occupancy_id=10, name='张三', mobile='13800138000', other_phone=None, id_number=None,
                  emergency_contact=None, emergency_phone=None, note=None, role='owner', moved_in_on=None)
    return im.Occupant(**{**values, **kw})


def test_existing_residents_are_updates_or_unchanged():
    existing = im.Existing(rooms={'1-1-101': (5, Decimal('89.50'))}, buildings={'1': 1}, units={('1', '1'): 2},
                           occupants={'1-1-101': [occupant()]})
    data = csv_bytes([['房号', '姓名', '手机', '身份', '建筑面积'],
                      ['1-1-101', '张三', '13800138000', '业主', '89.5'],      # same: unchanged
                      ['1-1-101', '张叁', '13800138000', '', ''],              # same mobile, other name: update
                      ['1-1-101', '李四', '13900139000', '家属', '95']])       # someone else: new, area warning
    rows, summary = analyse(data, existing)
    assert [r.kind for r in rows] == ['unchanged', 'duplicate', 'new']
    assert summary.counts['unchanged'] == 1 and not summary.rooms_to_create
    assert '面积' in rows[2].warnings[0]
    rows, _ = analyse(csv_bytes([['房号', '姓名', '手机', '身份'], ['1-1-101', '张三', '13700137000', '租户']]),
                      existing)
    assert rows[0].kind == 'update' and rows[0].changes == ['手机号', '身份'] and rows[0].occupancy_id == 10


def test_duplicates_by_name_when_there_is_no_mobile():
    rows, summary = analyse(csv_bytes([HEADER, ['1', '1', '101', '', '甲', '', '', ''],
                                       ['1', '1', '101', '', '甲', '0571-88886666', '', ''],
                                       ['1', '1', '102', '', '甲', '', '', '']]))
    assert [r.kind for r in rows] == ['new', 'duplicate', 'new']
    assert '同一姓名' in rows[1].reason
