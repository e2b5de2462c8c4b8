"""The residents import pipeline without the database: read → find the header → normalise → classify.

    sniffed = sniff_spreadsheet(data)                      # documents.uploads: content checks
    with open_table(data, sniffed, synonyms) as table:     # finds the header row, streams data rows
        rows = [normalise(line, values, table.columns) for line, values in table.rows()]
    summary = classify(rows, existing)                     # new / update / unchanged / duplicate / error

``existing`` (an :class:`Existing`) is what the project already has, loaded by ``import_services`` in a few
queries. Everything here is plain values, so it is tested without Flask or a database and reused by the
benchmark. Messages are lazy strings turned into text when a row is built (they are stored with the preview).

Rules a person reading the preview should know (docs/import.md repeats them):

- a blank cell never erases what the project already has; it only means "not given";
- 身份 may be 业主/租户/家属 (and a few synonyms). 房东 is refused with a reason: a landlord who rents the
  room out is the room's 业主, and a sheet that says 房东 often lists the landlord as a contact of a renter,
  so the import does not guess;
- a landline in the phone column is kept as 其他电话 with a warning; the row is imported;
- a row that repeats an earlier row of the file (same room and same mobile, or same room and same name) is a
  duplicate and is not imported; the first one wins.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from flask_babel import lazy_gettext as _l

from ..auth.services import normalize_mobile
from ..documents.uploads import CSV, Sniffed, UploadRefused
from ..errors import DomainError
from ..property.addresses import building_key, clean, parse_room_address, room_code, unit_key
from .identity import IdNumberError, normalize_id_number

MAX_ROWS = 50_000
HEADER_SCAN_ROWS = 10

NEW, UPDATE, UNCHANGED, DUPLICATE, ERROR = 'new', 'update', 'unchanged', 'duplicate', 'error'
KINDS = (NEW, UPDATE, UNCHANGED, DUPLICATE, ERROR)
#: rows that the import writes (or confirms)
VALID = (NEW, UPDATE, UNCHANGED)

#: canonical field -> header names people use (after normalising: full-width → half-width, no spaces, no units
#: in brackets, lower case). A tenant adds its own in ``settings['import_headers']`` (same shape).
DEFAULT_HEADERS: dict[str, tuple[str, ...]] = {
    'building': ('楼栋', '楼栋号', '楼号', '栋', '栋号', '幢', '幢号', '楼宇', '楼栋名称', '楼', 'building'),
    'unit': ('单元', '单元号', 'unit'),
    'room': ('房号', '房间号', '房间', '房屋', '室号', '门牌号', '房屋编号', '房屋号', '户号', '房屋地址', '房屋位置',
             '地址', 'room', 'room_number'),
    'area_m2': ('建筑面积', '面积', '房屋面积', '产权面积', 'area', 'area_m2'),
    'name': ('姓名', '业主姓名', '住户姓名', '业主', '住户', '客户姓名', '客户名称', '名字', 'name'),
    'mobile': ('手机', '手机号', '手机号码', '联系电话', '电话', '联系方式', '电话号码', '移动电话', 'mobile', 'phone'),
    'role': ('身份', '类型', '住户类型', '人员类型', '住户身份', '关系', '与业主关系', '角色', 'role'),
    'moved_in_on': ('入住时间', '入住日期', '迁入时间', '迁入日期', '入住', 'moved_in_on', 'moved_in'),
    'id_number': ('身份证号', '身份证', '身份证号码', '证件号', '证件号码', 'id_number'),
    'other_phone': ('其他电话', '固定电话', '座机', '备用电话', 'other_phone'),
    'emergency_contact': ('紧急联系人', 'emergency_contact'),
    'emergency_phone': ('紧急联系电话', '紧急联系人电话', 'emergency_phone'),
    'note': ('备注', '说明', 'note'),
}
FIELDS = tuple(DEFAULT_HEADERS)
#: canonical keys as other parts of the product may spell them in settings['import_headers']
FIELD_ALIASES = {'area': 'area_m2', 'phone': 'mobile', 'moved_in': 'moved_in_on', 'room_number': 'room',
                 'number': 'room', 'resident_name': 'name', 'kind': 'role', 'remark': 'note'}
REQUIRED = ('room', 'name')
#: the delivery template's header row (the downloadable template uses these)
TEMPLATE_HEADERS = {
    'building': '楼栋', 'unit': '单元', 'room': '房号', 'area_m2': '建筑面积(㎡)', 'name': '姓名', 'mobile': '手机号',
    'role': '身份', 'moved_in_on': '入住日期', 'id_number': '身份证号', 'other_phone': '其他电话',
    'emergency_contact': '紧急联系人', 'emergency_phone': '紧急联系电话', 'note': '备注',
}
FIELD_LABELS = {
    'building': _l('楼栋'), 'unit': _l('单元'), 'room': _l('房号'), 'area_m2': _l('建筑面积'), 'name': _l('姓名'),
    'mobile': _l('手机号'), 'role': _l('身份'), 'moved_in_on': _l('入住日期'), 'id_number': _l('身份证号'),
    'other_phone': _l('其他电话'), 'emergency_contact': _l('紧急联系人'), 'emergency_phone': _l('紧急联系电话'),
    'note': _l('备注'),
}
ROLE_WORDS = {
    '业主': 'owner', '产权人': 'owner', 'owner': 'owner',
    '租户': 'renter', '租客': 'renter', '承租人': 'renter', 'renter': 'renter', 'tenant': 'renter',
    '家属': 'family', '家庭成员': 'family', '同住人': 'family', '亲属': 'family', 'family': 'family',
}
TOTAL_WORDS = ('合计', '总计', '小计')

_BRACKETS = re.compile(r'[(\[【〔{<《].*?[)\]】〕}>》]')
_HEADER_JUNK = re.compile(r'[\s*:：#№]+')
_DATE = re.compile(r'^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$')
_COMPACT_DATE = re.compile(r'^(\d{4})(\d{2})(\d{2})$')
_AREA_UNITS = re.compile(r'(平方米|平米|平方|平|㎡|m²|m2|sqm)$', re.IGNORECASE)
_LANDLINE = re.compile(r'^(?:\+?86-?)?0\d{2,3}-?\d{7,8}(?:-\d{1,6})?$')
_PHONE_JUNK = re.compile(r'[\s()（）]')
_EXCEL_EPOCH = date(1899, 12, 30)
_MAX_AREA = Decimal('99999.99')
_CENT = Decimal('0.01')


# The address helpers normalise text (NFKC, regexes) on every call; a file repeats the same buildings, units and
# rooms thousands of times, so each distinct text is worked out once.
_building_key = lru_cache(maxsize=4096)(building_key)
_unit_key = lru_cache(maxsize=4096)(unit_key)
_room_code = lru_cache(maxsize=65536)(room_code)
_parse_room_address = lru_cache(maxsize=65536)(parse_room_address)
_clean = lru_cache(maxsize=4096)(clean)


class ImportProblem(DomainError):
    """The file as a whole can't be imported (no header, too many rows); ``message`` says what to fix."""


# --- header ------------------------------------------------------------------------------------------------------

def normalise_header(text) -> str:
    """'建筑面积(㎡)', ' 联系 电话 ', '房号*', '楼栋号：' -> '建筑面积', '联系电话', '房号', '楼栋号'."""
    text = unicodedata.normalize('NFKC', str(text or ''))
    text = _BRACKETS.sub('', text)
    return _HEADER_JUNK.sub('', text).lower()


def header_synonyms(tenant_headers: dict | None = None) -> dict[str, str]:
    """Normalised header text -> canonical field; the tenant's own names (``settings['import_headers']``) win."""
    lookup = {normalise_header(name): field for field, names in DEFAULT_HEADERS.items() for name in names}
    for key, names in (tenant_headers or {}).items():
        canonical = FIELD_ALIASES.get(key, key)
        if canonical not in DEFAULT_HEADERS or not isinstance(names, (list, tuple)):
            continue
        for name in names:
            if isinstance(name, str) and normalise_header(name):
                lookup[normalise_header(name)] = canonical
    return lookup


@dataclass
class HeaderMatch:
    #: 1-based line of the header row in the sheet
    line: int
    #: canonical field -> 0-based column index
    columns: dict[str, int]
    #: the header row as written (for the error report and column names in messages)
    titles: list[str]

    def title(self, field_name: str) -> str:
        index = self.columns.get(field_name)
        if index is not None and index < len(self.titles) and self.titles[index]:
            return self.titles[index]
        return str(FIELD_LABELS[field_name])


def match_header(rows: list[tuple[int, tuple]], lookup: dict[str, str]) -> HeaderMatch | None:
    """The row among the first few that names the most known columns (a title row above it is skipped)."""
    best = None
    for line, values in rows[:HEADER_SCAN_ROWS]:
        columns: dict[str, int] = {}
        for index, value in enumerate(values):
            canonical = lookup.get(normalise_header(value)) if value is not None else None
            if canonical and canonical not in columns:
                columns[canonical] = index
        if len(columns) >= 2 and (best is None or len(columns) > len(best.columns)):
            best = HeaderMatch(line, columns, [cell_text(v) for v in values])
    return best


def missing_columns(match: HeaderMatch | None) -> list[str]:
    return [f for f in REQUIRED if match is None or f not in match.columns]


# --- reading -----------------------------------------------------------------------------------------------------

def cell_text(value) -> str:
    """A cell as text: numbers without a spurious '.0', dates as ISO dates, strings stripped."""
    if value is None:
        return ''
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=' ')
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _blank(values) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def _total_row(values) -> bool:
    first = next((v for v in values if v is not None and str(v).strip()), None)
    return isinstance(first, str) and re.sub(r'\s+', '', first).startswith(TOTAL_WORDS)


class Table:
    """The data rows of the first sheet with a recognisable header; use as a context manager.

    ``rows()`` yields (line, values) for every row below the header that is not blank and not a total row,
    and raises ImportProblem past ``max_rows`` data rows, before reading further.
    """

    def __init__(self, data: bytes, sniffed: Sniffed, lookup: dict[str, str], *, max_rows: int = MAX_ROWS):
        self.max_rows = max_rows
        self.sheet_title: str | None = None
        self.estimated_rows = 0
        self._book = None
        self._head: list[tuple[int, tuple]] = []
        self._rest: Iterator[tuple[int, tuple]] = iter(())
        self.header: HeaderMatch | None = None
        if sniffed.kind == CSV:
            self._open_csv(sniffed.text or '', lookup)
        else:
            self._open_xlsx(data, lookup)

    def _open_csv(self, text: str, lookup) -> None:
        first_line = text.split('\n', 1)[0]
        delimiter = '\t' if first_line.count('\t') > first_line.count(',') else ','
        self.estimated_rows = text.count('\n')
        reader = enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1)
        self._scan(((line, tuple(values)) for line, values in reader), lookup)

    def _open_xlsx(self, data: bytes, lookup) -> None:
        from openpyxl import load_workbook

        try:
            self._book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken workbook: all mean "can't read it"
            raise UploadRefused(_l('无法读取这个 Excel 文件，请在 Excel/WPS 中重新保存为 .xlsx 后上传。')) from exc
        for sheet in self._book.worksheets:
            if not hasattr(sheet, 'iter_rows'):  # chart sheets
                continue
            rows = enumerate(sheet.iter_rows(values_only=True), start=1)
            self._scan(rows, lookup)
            if self.header is not None:
                self.sheet_title = sheet.title
                self.estimated_rows = max((sheet.max_row or 0) - self.header.line, 0)
                if self.estimated_rows > self.max_rows + HEADER_SCAN_ROWS + 1000:
                    # The sheet's own dimension says it is far too long: refuse before reading it.
                    raise self._too_many()
                return

    def _scan(self, rows: Iterator[tuple[int, tuple]], lookup) -> None:
        head = []
        for line, values in rows:
            head.append((line, values))
            if len(head) >= HEADER_SCAN_ROWS:
                break
        match = match_header(head, lookup)
        if match is None or missing_columns(match):
            if self.header is None and match is not None:
                self._partial = match
            return
        self.header = match
        self._head = [(line, values) for line, values in head if line > match.line]
        self._rest = rows

    def _too_many(self) -> ImportProblem:
        return ImportProblem(_l('文件超过 %(limit)s 行数据，请分成几个文件导入。', limit=f'{self.max_rows:,}'))

    def require_header(self) -> HeaderMatch:
        if self.header is not None:
            return self.header
        partial = getattr(self, '_partial', None)
        names = '、'.join(TEMPLATE_HEADERS[f].split('(')[0] for f in missing_columns(partial))
        raise ImportProblem(_l('在表格前 %(n)s 行中找不到表头（缺少“%(names)s”列）。请使用导入模板，或把表头改成'
                               '“楼栋、单元、房号、姓名、手机号、身份”等常用名称。', n=HEADER_SCAN_ROWS, names=names))

    def rows(self) -> Iterator[tuple[int, tuple]]:
        self.require_header()
        count = 0
        for source in (self._head, self._rest):
            for line, values in source:
                if _blank(values) or _total_row(values):
                    continue
                count += 1
                if count > self.max_rows:
                    raise self._too_many()
                yield line, values

    def close(self) -> None:
        if self._book is not None:
            self._book.close()
            self._book = None

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- one row -------------------------------------------------------------------------------------------------------

@dataclass(slots=True)
class Row:
    """One data row: what the file said, what it means, and what the import will do with it."""

    line: int
    #: the cells as read (values, not yet text): ``original`` gives them as text for the error report
    values: tuple
    #: normalised values: code, building_key, building_name, unit_key, unit_name, number, floor, area_m2, name,
    #: mobile, other_phone, role, moved_in_on, id_number, emergency_contact, emergency_phone, note
    fields: dict
    #: [(column as titled in the file, reason)]
    errors: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    kind: str = ''
    duplicate_of: int | None = None
    #: what an update changes, as labels people read ('手机号', '身份')
    changes: list[str] = field(default_factory=list)
    #: the existing resident / occupancy this row updates, or the resident a new row joins
    resident_id: int | None = None
    occupancy_id: int | None = None

    @property
    def original(self) -> list[str]:
        return [cell_text(v) for v in self.values]

    @property
    def reason(self) -> str:
        if self.errors:
            return '；'.join(f'{column}：{message}' for column, message in self.errors)
        return ''

    def to_json(self) -> dict:
        data = {k: v for k, v in self.fields.items() if v is not None}
        if isinstance(data.get('area_m2'), Decimal):
            data['area_m2'] = f'{data["area_m2"]:.2f}'
        if isinstance(data.get('moved_in_on'), date):
            data['moved_in_on'] = data['moved_in_on'].isoformat()
        # "kind" first: the stored preview is filtered by kind without parsing every line
        # the cells as uploaded are kept for the rows the error report gives back, not for the others
        original = self.original if self.kind not in VALID else None
        return {'kind': self.kind, 'line': self.line, 'fields': data, 'original': original,
                'errors': [list(e) for e in self.errors], 'warnings': self.warnings,
                'duplicate_of': self.duplicate_of, 'changes': self.changes}


def id_number_problem(value: str) -> str | None:
    """Why an ID card number (GB 11643: 18 characters, real birth date, MOD 11-2 check) is invalid, or None."""
    try:
        normalize_id_number(value)
    except IdNumberError as exc:
        return str({'birth_date': _l('出生日期部分无效'), 'check_digit': _l('校验位不正确，请核对')}.get(
            exc.reason, _l('应为 18 位（最后一位可以是 X）')))
    return None


def parse_date(value) -> date | None:
    """Excel dates, '2024/05/01', '2024年05月01日', '2024-05-01', '20240501', Excel serial numbers; None if not."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _excel_serial(value)
    text = unicodedata.normalize('NFKC', str(value)).strip()
    match = _DATE.match(text) or _COMPACT_DATE.match(text)
    if match:
        try:
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return None
    if re.fullmatch(r'\d{5}(\.\d+)?', text):
        return _excel_serial(float(text))
    return None


def _excel_serial(number: float) -> date | None:
    if 1 <= number <= 73050:  # 1900 .. 2099
        return _EXCEL_EPOCH + timedelta(days=int(number))
    return None


def parse_area(value) -> Decimal | None:
    """89.5, '89.5㎡', '89.50平方米', '８９.５' -> Decimal('89.50'); None when it is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = Decimal(str(value))
    else:
        text = unicodedata.normalize('NFKC', str(value)).strip().replace(',', '')
        text = _AREA_UNITS.sub('', text).strip()
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
    if not number.is_finite():
        return None
    return number.quantize(_CENT, rounding=ROUND_HALF_UP)


def _floor(number: str) -> int | None:
    if number.isdigit() and len(number) >= 3:
        return int(number[:-2]) or None
    return None


def _building_name(raw: str, key: str) -> str:
    text = _clean(raw)
    if text and text.upper() != key:
        return text[:40]
    return f'{key}栋' if key.isdigit() else f'{key}座'


class RowReader:
    """Normalises rows of one file: knows its columns; makes one :class:`Row` per data row."""

    def __init__(self, header: HeaderMatch):
        self.header = header
        self.columns = header.columns
        self.width = len(header.titles)
        self.titles = {f: header.title(f) for f in FIELDS}

    def _get(self, values: tuple, name: str):
        index = self.columns.get(name)
        if index is None or index >= len(values):
            return None
        value = values[index]
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    def read(self, line: int, values: tuple) -> Row:
        fields: dict = {}
        row = Row(line, values, fields)
        errors, warnings, titles = row.errors, row.warnings, self.titles
        get = self._get

        # room address: 楼栋 / 单元 / 房号 in any combination
        self._address(row, get(values, 'building'), get(values, 'unit'), get(values, 'room'))

        name = get(values, 'name')
        name = re.sub(r'\s+', ' ', unicodedata.normalize('NFKC', cell_text(name))).strip() if name is not None else ''
        if not name:
            errors.append((titles['name'], str(_l('姓名不能为空'))))
        elif len(name) > 60:
            errors.append((titles['name'], str(_l('姓名太长（最多 60 个字）'))))
        fields['name'] = name or None

        phone = get(values, 'mobile')
        fields['mobile'] = fields['other_phone'] = None
        if phone is not None:
            text = cell_text(phone)
            mobile = normalize_mobile(text)
            if mobile:
                fields['mobile'] = mobile
            else:
                landline = _PHONE_JUNK.sub('', unicodedata.normalize('NFKC', text))
                if _LANDLINE.match(landline):
                    fields['other_phone'] = landline[:30]
                    warnings.append(str(_l('%(column)s「%(value)s」是座机号码，已存为其他电话', column=titles['mobile'],
                                           value=landline)))
                else:
                    errors.append((titles['mobile'], str(_l('「%(value)s」不是有效的手机号（应为 11 位，1 开头）',
                                                            value=text[:30]))))
        other = get(values, 'other_phone')
        if other is not None and fields['other_phone'] is None:
            fields['other_phone'] = cell_text(other)[:30]

        area = get(values, 'area_m2')
        fields['area_m2'] = None
        if area is not None:
            number = parse_area(area)
            if number is None:
                errors.append((titles['area_m2'], str(_l('「%(value)s」不是数字', value=cell_text(area)[:30]))))
            elif not Decimal(0) < number <= _MAX_AREA:
                errors.append((titles['area_m2'], str(_l('面积应大于 0 且小于 100000'))))
            else:
                fields['area_m2'] = number

        role = get(values, 'role')
        if role is None:
            fields['role'] = 'owner'
            if 'role' in self.columns:
                warnings.append(str(_l('%(column)s未填写，按业主导入', column=titles['role'])))
        else:
            word = re.sub(r'\s+', '', unicodedata.normalize('NFKC', cell_text(role))).lower()
            fields['role'] = ROLE_WORDS.get(word)
            if fields['role'] is None:
                if word == '房东':
                    errors.append((titles['role'], str(_l('「房东」不是业主/租户/家属之一：出租房屋的房东请填“业主”，'
                                                          '租住的人填“租户”'))))
                else:
                    errors.append((titles['role'], str(_l('「%(value)s」无法识别，只能填 业主、租户 或 家属',
                                                          value=cell_text(role)[:20]))))

        moved = get(values, 'moved_in_on')
        fields['moved_in_on'] = None
        if moved is not None:
            day = parse_date(moved)
            if day is None:
                errors.append((titles['moved_in_on'], str(_l('「%(value)s」不是有效日期（例如 2024-05-01）',
                                                             value=cell_text(moved)[:30]))))
            else:
                fields['moved_in_on'] = day

        id_number = get(values, 'id_number')
        fields['id_number'] = None
        if id_number is not None:
            text = re.sub(r'\s+', '', unicodedata.normalize('NFKC', cell_text(id_number))).upper()
            problem = id_number_problem(text)
            if problem:
                errors.append((titles['id_number'], problem))
            else:
                fields['id_number'] = text

        for name_, limit in (('emergency_contact', 60), ('emergency_phone', 30), ('note', 500)):
            value = get(values, name_)
            fields[name_] = cell_text(value)[:limit] if value is not None else None
        return row

    def _address(self, row: Row, building_raw, unit_raw, room_raw) -> None:
        fields, errors, titles = row.fields, row.errors, self.titles
        fields['code'] = None
        if room_raw is None:
            errors.append((titles['room'], str(_l('房号不能为空'))))
            return
        room_text = cell_text(room_raw)
        address = _parse_room_address(room_text)
        if address is None:
            errors.append((titles['room'], str(_l('「%(value)s」无法识别为房号（例如 301、1-2-301、1栋2单元301）',
                                                  value=room_text[:40]))))
            return
        building_text = cell_text(building_raw) if building_raw is not None else ''
        unit_text = cell_text(unit_raw) if unit_raw is not None else ''
        b_col = _building_key(building_text) if building_text else None
        u_col = _unit_key(unit_text) if unit_text else None
        b_key = address.building or b_col
        u_key = address.unit or u_col
        if address.building and b_col and address.building != b_col:
            errors.append((titles['room'], str(_l('房号「%(room)s」与楼栋「%(building)s」不一致', room=room_text[:40],
                                                  building=building_text[:20]))))
            return
        if address.unit and u_col and address.unit != u_col:
            errors.append((titles['room'], str(_l('房号「%(room)s」与单元「%(unit)s」不一致', room=room_text[:40],
                                                  unit=unit_text[:20]))))
            return
        if not b_key:
            errors.append((titles['building'], str(_l('缺少楼栋：请填写楼栋列，或把房号写成 1-2-301'))))
            return
        if len(b_key) > 30 or (u_key and len(u_key) > 30) or len(address.number) > 20:
            errors.append((titles['room'], str(_l('房号太长'))))
            return
        fields['building_key'] = b_key
        fields['building_name'] = _building_name(building_text if b_col == b_key else '', b_key)
        fields['unit_key'] = u_key
        fields['unit_name'] = (_clean(unit_text)[:40] if u_col == u_key and _clean(unit_text).upper() != u_key
                               else f'{u_key}单元') if u_key else None
        fields['number'] = address.number
        fields['floor'] = _floor(address.number)
        fields['code'] = _room_code(b_key, u_key, address.number)


# --- the whole file ------------------------------------------------------------------------------------------------

ProgressFn = Callable[[int, int], None]


def read_rows(table: Table, progress: ProgressFn | None = None) -> list[Row]:
    """Every data row of ``table`` normalised; ``progress(done, estimated_total)`` every 1,000 rows."""
    reader = RowReader(table.require_header())
    rows = []
    for line, values in table.rows():
        rows.append(reader.read(line, values))
        if progress is not None and len(rows) % 1000 == 0:
            progress(len(rows), table.estimated_rows)
    if not rows:
        raise ImportProblem(_l('表头下面没有数据行。请在表头下方逐行填写住户后再上传。'))
    return rows


# --- classification ------------------------------------------------------------------------------------------------

@dataclass(slots=True)
class Occupant:
    """A current occupancy of a room in the database, with its resident's fields."""

    resident_id: int
    occupancy_id: int
    name: str
    mobile: str | None
    other_phone: str | None
    id_number: str | None
    emergency_contact: str | None
    emergency_phone: str | None
    note: str | None
    role: str
    moved_in_on: date | None


@dataclass
class Existing:
    """What the project already has, as far as an import needs to know."""

    #: room code -> (room id, area_m2 or None)
    rooms: dict[str, tuple[int, Decimal | None]] = field(default_factory=dict)
    #: building key ('1') -> building id
    buildings: dict[str, int] = field(default_factory=dict)
    #: (building key, unit key) -> unit id
    units: dict[tuple[str, str], int] = field(default_factory=dict)
    #: room code -> current occupants
    occupants: dict[str, list[Occupant]] = field(default_factory=dict)
    #: (name, mobile) -> resident id: the same person in another room is one resident
    people: dict[tuple[str, str], int] = field(default_factory=dict)


RESIDENT_FIELDS = ('name', 'mobile', 'other_phone', 'id_number', 'emergency_contact', 'emergency_phone', 'note')
OCCUPANCY_FIELDS = ('role', 'moved_in_on')


@dataclass
class Summary:
    counts: dict[str, int]
    #: rows with warnings (among the valid ones)
    warnings: int
    #: codes of rooms, keys of buildings and units the import creates
    rooms_to_create: dict[str, Row]
    buildings_to_create: dict[str, str]
    units_to_create: dict[tuple[str, str], str]

    def stats(self) -> dict:
        return {**self.counts, 'total': sum(self.counts.values()), 'warnings': self.warnings,
                'rooms_to_create': len(self.rooms_to_create), 'buildings_to_create': len(self.buildings_to_create),
                'units_to_create': len(self.units_to_create)}


def classify(rows: list[Row], existing: Existing) -> Summary:
    """Give every row its kind. Rows are compared with earlier rows of the file and with ``existing``.

    - error: the row has errors (they say which column and why);
    - duplicate: same room and same mobile, or same room and same name, as an earlier valid row;
    - update / unchanged: the room already has a current occupant with the same mobile, or the same name;
      update when a value the file gives differs (``changes`` lists them), unchanged otherwise;
    - new: everything else; missing buildings, units and rooms are created for it.
    """
    seen: dict[tuple, int] = {}
    matched: dict[int, int] = {}
    people = dict(existing.people)  # plus the people this file updates: a later row may name them elsewhere
    counts = dict.fromkeys(KINDS, 0)
    warnings = 0
    rooms_to_create: dict[str, Row] = {}
    buildings_to_create: dict[str, str] = {}
    units_to_create: dict[tuple[str, str], str] = {}
    for row in rows:
        f = row.fields
        if row.errors:
            row.kind = ERROR
            counts[ERROR] += 1
            continue
        code, mobile, name = f['code'], f['mobile'], f['name']
        keys = [('m', code, mobile)] if mobile else []
        keys.append(('n', code, name))
        earlier = next((seen[k] for k in keys if k in seen), None)
        if earlier is not None:
            row.kind, row.duplicate_of = DUPLICATE, earlier
            what = _l('同一房号、同一手机号') if mobile and ('m', code, mobile) in seen else _l('同一房号、同一姓名')
            row.errors.append((str(FIELD_LABELS['room']), str(_l('与第 %(line)s 行重复（%(what)s），未导入',
                                                               line=earlier, what=what))))
            counts[DUPLICATE] += 1
            continue
        for key in keys:
            seen[key] = row.line
        occupant = _match(existing.occupants.get(code, ()), mobile, name)
        if occupant is not None and occupant.occupancy_id in matched:
            row.kind, row.duplicate_of = DUPLICATE, matched[occupant.occupancy_id]
            row.errors.append((str(FIELD_LABELS['room']), str(_l('与第 %(line)s 行对应同一位已有住户，未导入',
                                                               line=row.duplicate_of))))
            counts[DUPLICATE] += 1
            continue
        room = existing.rooms.get(code)
        if room is not None and f['area_m2'] is not None and room[1] is not None and room[1] != f['area_m2']:
            row.warnings.append(str(_l('房屋已登记面积 %(old)s㎡，与文件中的 %(new)s㎡ 不同，未修改面积',
                                       old=f'{room[1]:.2f}', new=f'{f["area_m2"]:.2f}')))
        if occupant is not None:
            matched[occupant.occupancy_id] = row.line
            row.resident_id, row.occupancy_id = occupant.resident_id, occupant.occupancy_id
            row.changes = _changes(f, occupant)
            if room is not None and room[1] is None and f['area_m2'] is not None:
                row.changes.append(str(_l('房屋面积')))
            row.kind = UPDATE if row.changes else UNCHANGED
            if mobile:
                people.setdefault((name, mobile), occupant.resident_id)
        else:
            row.kind = NEW
            if mobile:
                row.resident_id = people.get((name, mobile))
            if room is None and code not in rooms_to_create:
                rooms_to_create[code] = row
                b_key, u_key = f['building_key'], f['unit_key']
                if b_key not in existing.buildings:
                    buildings_to_create.setdefault(b_key, f['building_name'])
                if u_key and (b_key, u_key) not in existing.units:
                    units_to_create.setdefault((b_key, u_key), f['unit_name'])
        counts[row.kind] += 1
        warnings += bool(row.warnings)
    return Summary(counts, warnings, rooms_to_create, buildings_to_create, units_to_create)


def _match(occupants, mobile: str | None, name: str) -> Occupant | None:
    if mobile:
        for occupant in occupants:
            if occupant.mobile == mobile:
                return occupant
    for occupant in occupants:
        if occupant.name == name:
            return occupant
    return None


def _changes(f: dict, occupant: Occupant) -> list[str]:
    changed = [str(FIELD_LABELS[k]) for k in RESIDENT_FIELDS if f.get(k) is not None and f[k] != getattr(occupant, k)]
    changed += [str(FIELD_LABELS[k]) for k in OCCUPANCY_FIELDS if f.get(k) is not None and f[k] != getattr(occupant, k)]
    return changed
