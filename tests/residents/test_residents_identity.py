"""Pure checks of identity values: ID card numbers (GB 11643), masking, phones and plates."""
from datetime import date

import pytest

from propsaas.auth.services import normalize_mobile
from propsaas.residents.identity import (
    IdNumberError,
    id_check_char,
    is_valid_id_number,
    mask_id_number,
    mask_phone,
    normalize_id_number,
    normalize_phone,
    normalize_plate,
)


@pytest.mark.parametrize('typed', ['+86 138-0013-8000', '138 0013 8000', '１３８００１３８０００', '008613800138000',
                                   '(138)00138000', '+86１３８ ００１３ ８０００'])
def test_mobiles_in_any_typed_form(typed):
    assert normalize_mobile(typed) == '13800138000'


@pytest.mark.parametrize('typed', ['0571-88886666', '12800138000', '1380013800', '', 'abc'])
def test_not_mobiles(typed):
    assert normalize_mobile(typed) is None


@pytest.mark.parametrize('typed', ['0571-88886666', '(021)12345678', '400-123-4567', '88886666转801',
                                   '０５７１－８８８８６６６６'])
def test_landlines(typed):
    assert normalize_phone(typed)


@pytest.mark.parametrize('typed', ['12', '12345', 'call me', '=1+2', '0571-8888666611112222333344445555'])
def test_not_phones(typed):
    assert normalize_phone(typed) is None


def test_check_character_by_iso_7064():
    assert id_check_char('11010519491231002') == 'X'
    assert id_check_char('11010119900307447') == '7'
    # remainder 0 maps to '1', 2 to 'X': every remainder maps to one of "10X98765432"
    assert {id_check_char(f'{n:017d}') for n in range(100, 3000)} <= set('10X98765432')


@pytest.mark.parametrize(('typed', 'stored'), [
    ('11010519491231002X', '11010519491231002X'),
    ('11010519491231002x', '11010519491231002X'),  # lower-case x accepted, stored upper
    (' 110101 19900307 4477 ', '110101199003074477'),
    ('１１０１０１１９９００３０７４４７７', '110101199003074477'),  # full-width digits
])
def test_valid_id_numbers(typed, stored):
    assert normalize_id_number(typed) == stored
    assert is_valid_id_number(typed)


@pytest.mark.parametrize(('typed', 'reason'), [
    ('110101199003074478', 'check_digit'),  # one wrong check digit
    ('11010519491231002Y', 'format'),
    ('11010519491231002', 'format'),  # 17 characters
    ('1101011990030744771', 'format'),
    ('01010119900307447X', 'format'),
    ('110101199002304476', 'birth_date'),  # 30 February
    ('110101199013014474', 'birth_date'),  # month 13
    ('110101189912314470', 'birth_date'),  # before 1900
])
def test_invalid_id_numbers(typed, reason):
    with pytest.raises(IdNumberError) as caught:
        normalize_id_number(typed)
    assert caught.value.reason == reason
    assert not is_valid_id_number(typed)


def test_birth_date_in_the_future_is_refused():
    first17 = '11010120300101123'
    number = first17 + id_check_char(first17)
    with pytest.raises(IdNumberError):
        normalize_id_number(number, today=date(2026, 1, 1))
    assert normalize_id_number(number, today=date(2031, 1, 1)) == number


def test_masking_shows_only_the_last_four():
    assert mask_id_number('11010519491231002X') == '**************002X'
    assert mask_id_number(None) == ''
    assert mask_phone('13800138000') == '138****8000'
    assert mask_phone('0571-88886666') == '****-****6666'
    assert mask_phone('') == ''


@pytest.mark.parametrize(('typed', 'plate'), [
    ('浙a 12345', '浙A12345'), ('浙A·12345', '浙A12345'), ('沪AD12345', '沪AD12345'), ('粤Ｂ１２３４５', '粤B12345'),
    ('京A1234学', '京A1234学'), ('苏E-12345', '苏E12345'),
])
def test_plates_normalised(typed, plate):
    assert normalize_plate(typed) == plate


@pytest.mark.parametrize('typed', ['AB12345', '浙I12345', '浙A123', '浙A1234567', '浙AO1234', ''])
def test_bad_plates(typed):
    assert normalize_plate(typed) is None
