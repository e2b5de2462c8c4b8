"""Pure pieces of the property feature: areas, plates, room numbers and building patterns, no database."""
from decimal import Decimal

import pytest

from propsaas.errors import DomainError
from propsaas.property import services
from propsaas.property.services import BuildingPattern, plan_building


@pytest.mark.parametrize(('text', 'expected'), [
    ('89.5', Decimal('89.50')), ('89.50', Decimal('89.50')), ('１２０.３', Decimal('120.30')),
    (' 90 ', Decimal('90.00')),
    ('89.50㎡', Decimal('89.50')), ('76平方米', Decimal('76.00')), ('999999.99', Decimal('999999.99')),
    ('', None), (None, None), (Decimal('12.3'), Decimal('12.30')),
])
def test_parse_area(text, expected):
    area = services.parse_area(text)
    assert area == expected
    if area is not None:
        assert isinstance(area, Decimal) and area.as_tuple().exponent == -2


@pytest.mark.parametrize(('text', 'message'), [
    ('abc', '面积请填写数字'), ('1e3', '面积请填写数字'), ('NaN', '面积请填写数字'), ('89,50', '面积请填写数字'),
    ('89.505', '最多保留两位小数'), ('-5', '不能为负数'), ('0', '必须大于 0'), ('0.00', '必须大于 0'),
    ('1000000', '不能超过'), (89.5, '文字形式'),
])
def test_parse_area_refuses_with_a_chinese_reason(app, text, message):
    with app.test_request_context(), pytest.raises(DomainError) as info:
        services.parse_area(text)
    assert message in str(info.value.message)
    assert info.value.field == 'area_m2'


def test_format_area():
    assert services.format_area(Decimal('89.5')) == '89.50'
    assert services.format_area(None) is None


@pytest.mark.parametrize(('text', 'plate'), [
    ('浙a12345', '浙A12345'), ('浙A·12345', '浙A12345'), ('浙A 12345', '浙A12345'), ('沪AD12345', '沪AD12345'),
    ('粤B.1234学', '粤B1234学'), ('京Ａ１２３４５', '京A12345'),
])
def test_plates_are_normalised_and_valid(text, plate):
    assert services.normalize_plate(text) == plate
    assert services.plate_ok(plate)


@pytest.mark.parametrize('plate', ['浙I12345', '浙A1234', '浙A1234567', 'AB12345', '浙AO1234', '12345', '浙A12345O'])
def test_bad_plates(plate):
    assert not services.plate_ok(services.normalize_plate(plate))


def test_parse_plates_splits_dedupes_and_refuses(app):
    assert services.parse_plates('浙A12345\n浙a 12345，沪AD12345') == ['浙A12345', '沪AD12345']
    assert services.parse_plates(['京A12345']) == ['京A12345']
    with app.test_request_context(), pytest.raises(DomainError) as info:
        services.parse_plates('浙A12345, 哈哈')
    assert '格式不对' in str(info.value.message) and info.value.field == 'plates'


def test_clean_number(app):
    assert services.clean_number('1201室') == '1201'
    assert services.clean_number(' １２０１a ') == '1201A'
    with app.test_request_context(), pytest.raises(DomainError):
        services.clean_number('12-01')


def test_plan_of_two_units_eighteen_floors_four_rooms():
    plan = plan_building(BuildingPattern(name='1栋', units=2, floors=18, rooms_per_floor=4))
    rooms = plan.rooms()
    assert plan.count == len(rooms) == 144
    assert plan.unit_names == ['1单元', '2单元']
    assert (plan.first_code, plan.last_code) == ('1-1-101', '1-2-1804')
    assert rooms[0].code == '1-1-101' and rooms[3].code == '1-1-104' and rooms[4].code == '1-1-201'
    assert rooms[-1].code == '1-2-1804' and rooms[-1].floor == 18 and rooms[-1].number == '1804'
    assert len({r.code for r in rooms}) == 144


def test_plan_numbering_by_thousand_areas_per_position_and_no_units():
    pattern = BuildingPattern(name='A座', units=0, floors=3, rooms_per_floor=12, numbering=1000,
                              areas=tuple(Decimal(a) for a in ['50', '60'] * 6), type='office')
    rooms = plan_building(pattern).rooms()
    assert [r.code for r in rooms[:2]] == ['A-1001', 'A-1002'] and rooms[-1].code == 'A-3012'
    assert [r.area_m2 for r in rooms[:3]] == [Decimal('50'), Decimal('60'), Decimal('50')]
    assert all(r.unit is None for r in rooms)
    one_area = plan_building(BuildingPattern(name='2栋', units=1, floors=1, rooms_per_floor=3, areas=(Decimal('9'),)))
    assert [r.area_m2 for r in one_area.rooms()] == [Decimal('9')] * 3


@pytest.mark.parametrize(('changes', 'field', 'message'), [
    ({'units': 50, 'floors': 30, 'rooms_per_floor': 4}, 'floors', '6000 间房，一次最多 5000 间'),
    ({'rooms_per_floor': 100}, 'numbering', '楼层×1000'),
    ({'floors': 0}, 'floors', '层数'),
    ({'units': 100}, 'units', '单元数'),
    ({'areas': (Decimal('1'), Decimal('2'))}, 'areas', '面积请填 1 个'),
    ({'name': '1-2栋'}, 'name', '「-」'),
    ({'name': '  '}, 'name', '请填写楼栋名称'),
    ({'numbering': 10}, 'numbering', '房号编法'),
])
def test_plan_refusals(app, changes, field, message):
    pattern = BuildingPattern(**{'name': '1栋', 'units': 2, 'floors': 18, 'rooms_per_floor': 4, **changes})
    with app.test_request_context(), pytest.raises(DomainError) as info:
        plan_building(pattern)
    assert info.value.field == field
    assert message in str(info.value.message)


def test_exactly_five_thousand_is_allowed():
    assert plan_building(BuildingPattern(name='9栋', units=5, floors=50, rooms_per_floor=20)).count == 5000
