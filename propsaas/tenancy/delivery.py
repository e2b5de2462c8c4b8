"""Delivery templates: the folders under ``tenants/`` that a new tenant is provisioned from.

A template is a folder of human-edited TOML files (see ``docs/delivery-templates.md``)::

    tenants/standard-residential/
      tenant.toml        title, description, [settings], [[duties]]
      fees.toml          [[fee_items]], [late_fee], [rules]
      repairs.toml       [[categories]], [[response_times]], return_visit_hours
      inspections.toml   [[plans]]
      notices.toml       [[templates]]
      faq.toml           [[entries]]
      property.toml      room_tags, [[room_types]], [[gates]], [import]   (optional: defaults when absent)
      surveys.toml       [[surveys]] with [[surveys.questions]]            (optional: no surveys when absent)

``load_template`` reads and validates one folder and reports *every* problem at once in a
``TemplateError`` whose messages name the file and the key (``fees.toml: fee_items[2].rate: ...``).
Array entries are numbered from 1, the way a person counts the ``[[fee_items]]`` blocks.

Standard library only: no Flask and no database, so operators' scripts and tests use it as is.
Money and rates stay decimal strings in yuan ("1.80"); callers convert with ``Decimal``.
"""

from __future__ import annotations

import difflib
import re
import string
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    'CORE_DUTIES',
    'INSPECTION_TARGETS',
    'NOTICE_CATEGORIES',
    'NOTICE_PLACEHOLDERS',
    'IMPORT_FIELDS',
    'OPTIONAL_FILES',
    'REQUIRED_FILES',
    'ROOM_TYPES',
    'DeliveryTemplate',
    'TemplateError',
    'list_templates',
    'load_template',
    'parse_every',
]

NAME_RE = re.compile(r'[a-z0-9][a-z0-9-]{0,62}')
CODE_RE = re.compile(r'[a-z][a-z0-9_]*')

REQUIRED_FILES = ('tenant.toml', 'fees.toml', 'repairs.toml', 'inspections.toml', 'notices.toml', 'faq.toml')
#: files a template may leave out: the defaults below apply (a template made before the file existed still loads)
OPTIONAL_FILES = ('property.toml', 'surveys.toml')
KNOWN_FILES = REQUIRED_FILES + OPTIONAL_FILES

#: room types the system knows (the same as propsaas.property.models.ROOM_TYPES); a template picks and names them
ROOM_TYPES = ('residence', 'shop', 'office', 'storage')
DEFAULT_ROOM_TYPE_NAMES = {'residence': '住宅', 'shop': '商铺', 'office': '办公', 'storage': '储藏室'}
#: what a door controller calls a gate: 'north-gate', 'b1-entrance'
GATE_CODE_RE = re.compile(r'[a-z0-9][a-z0-9-]{0,39}')
#: the fields of a residents import (canonical name -> the column headers that mean it), in table order
IMPORT_FIELDS = {
    'building': ['楼栋', '楼栋号', '楼号', '栋'],
    'unit': ['单元', '单元号'],
    'room': ['房号', '房间号', '房屋', '门牌号'],
    'name': ['姓名', '业主姓名', '住户姓名'],
    'mobile': ['手机', '手机号', '手机号码', '联系电话', '电话'],
    'other_phone': ['固定电话', '座机', '其他电话'],
    'role': ['身份', '类型', '住户类型'],
    'moved_in_on': ['入住时间', '入住日期'],
    'area': ['建筑面积', '面积'],
    'id_number': ['身份证', '身份证号', '身份证号码'],
    'emergency_contact': ['紧急联系人'],
    'emergency_phone': ['紧急联系电话', '紧急联系人电话'],
    'plate': ['车牌', '车牌号'],
    'note': ['备注'],
}

#: duties every project needs: 客服, 收费, 工程
CORE_DUTIES = ('service_desk', 'cashier', 'technician')

NOTICE_CATEGORIES = (
    '停水', '停电', '缴费通知', '催缴', '电梯维保', '消防演练',
    '二次供水清洗', '装修公示', '年度收支公示', '业主大会', '社区活动', '紧急',
)  # fmt: skip

#: categories whose texts ask for money; they may not threaten cutting utilities (民法典 Art. 944)
PAYMENT_CATEGORIES = ('缴费通知', '催缴')
# 停水/停电/断水/断电/停暖/停气/断气, also 停止供水, 断供电, 停止供热 and the like
UTILITY_THREAT_RE = re.compile(r'[停断]止?供?[水电暖气]|[停断]止?供热')

#: the {placeholders} a notice title or body may use; filled in when a notice is drafted
NOTICE_PLACEHOLDERS = frozenset({
    'project_name', 'company_name', 'contact_phone', 'notice_date',
    'date', 'time_range', 'start_date', 'end_date', 'scope', 'reason',
    'room', 'period', 'amount', 'due_date',
    'contractor', 'year', 'meeting_time', 'meeting_place', 'agenda',
    'event_name', 'location',
})  # fmt: skip

#: what an inspection plan looks at; a scheduler maps these to equipment and places
INSPECTION_TARGETS = (
    'lift',
    'fire',
    'fire_control_room',
    'water_tank',
    'pump_room',
    'switch_room',
    'generator',
    'patrol',
    'other',  # anything else with its own checklist: a central air-conditioning plant (中央空调机房), a cooling tower
)
#: lift maintenance records are kept at least 4 years (TSG T5002-2017)
LIFT_RETENTION_YEARS = 4

# Frequency grammar: a positive integer and a unit, "at least once every ...".
EVERY_RE = re.compile(r'([1-9][0-9]{0,3})(min|h|d|w|M|y)')
EVERY_UNITS = {'min': 'minutes', 'h': 'hours', 'd': 'days', 'w': 'weeks', 'M': 'months', 'y': 'years'}


class TemplateError(Exception):
    """All problems found in one template; .errors is a list of 'file.toml: key.path: message' strings."""

    def __init__(self, errors: list[str] | str, template: str | None = None):
        self.errors: list[str] = [errors] if isinstance(errors, str) else list(errors)
        self.template = template
        super().__init__(str(self))

    def __str__(self) -> str:
        if len(self.errors) == 1 and self.template is None:
            return self.errors[0]
        count = f'{len(self.errors)} problem' + ('s' if len(self.errors) != 1 else '')
        head = f'template {self.template!r} has {count}:' if self.template else f'{count}:'
        return '\n'.join([head, *(f'  {e}' for e in self.errors)])


@dataclass(frozen=True)
class DeliveryTemplate:
    """One validated template folder; money and rates are decimal strings in yuan."""

    name: str  # folder name, e.g. 'standard-residential'
    title: str
    description: str
    settings: dict  # timezone, locale, billing_day, currency
    duties: list = field(repr=False)  # [{'code': ..., 'name': ...}, ...]
    sections: dict = field(repr=False)  # 'fees', 'repairs', 'inspections', 'notices', 'faq' -> validated content
    path: Path = field(repr=False)


# --------------------------------------------------------------------------- public API


def load_template(name: str, root: Path) -> DeliveryTemplate:
    """Read and validate ``root/name``.

    Raises ``TemplateError`` for a bad or unknown name (listing the available templates) and for a
    template with problems, in which case ``.errors`` holds all of them, not just the first.
    """
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise TemplateError(
            f'invalid template name {name!r}: use lowercase letters, digits and "-" (at most 63), '
            'starting with a letter or digit'
        )
    root = Path(root)
    path = (root / name).resolve()
    if not path.is_dir():
        available = ', '.join(_template_names(root)) or '(none)'
        raise TemplateError(f'no template named {name!r} in {root}; available: {available}')
    return _load_folder(name, path)


def list_templates(root: Path) -> list[tuple[str, DeliveryTemplate | None, TemplateError | None]]:
    """Every folder under ``root`` sorted by name, with its template or the error that stops it loading."""
    root = Path(root)
    result = []
    for name in _folder_names(root):
        try:
            result.append((name, load_template(name, root), None))
        except TemplateError as exc:
            result.append((name, None, exc))
    return result


def parse_every(text: str) -> tuple[int, str]:
    """Parse an inspection interval such as "15d" into ``(15, 'd')``.

    Units: ``min`` minutes, ``h`` hours, ``d`` days, ``w`` weeks, ``M`` calendar months, ``y`` years.
    Raises ``ValueError`` with a message an operator can act on.
    """
    if not isinstance(text, str):
        raise ValueError(f'must be a string like "15d", got {_describe(text)}')
    match = EVERY_RE.fullmatch(text)
    if match:
        return int(match.group(1)), match.group(2)
    if re.fullmatch(r'[1-9][0-9]*m', text):
        raise ValueError(f'"{text}" is ambiguous: write "{text[:-1]}min" for minutes or "{text[:-1]}M" for months')
    units = ', '.join(f'{u} = {w}' for u, w in EVERY_UNITS.items())
    raise ValueError(f'must be a whole number and a unit like "15d", "2h", "1M" ({units}), got "{text}"')


def _folder_names(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith('.'))


def _template_names(root: Path) -> list[str]:
    return [n for n in _folder_names(root) if NAME_RE.fullmatch(n)]


# --------------------------------------------------------------------------- loading


class _Report:
    """Collects 'file.toml: key.path: message' lines."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, file: str, path: str, message: str) -> None:
        self.errors.append(f'{file}: {path}: {message}' if path else f'{file}: {message}')


def _load_folder(name: str, path: Path) -> DeliveryTemplate:
    report = _Report()
    docs = {file: _read_toml(report, path, file) for file in REQUIRED_FILES}
    for file in OPTIONAL_FILES:
        docs[file] = _read_toml(report, path, file) if (path / file).exists() else _ABSENT
    for extra in sorted(p.name for p in path.glob('*.toml') if p.name not in KNOWN_FILES):
        known = ', '.join(REQUIRED_FILES) + f' (optional: {", ".join(OPTIONAL_FILES)})'
        report.error(extra, '', f'unknown file{_suggest(extra, KNOWN_FILES)}; expected: {known}')

    tenant = _validate_tenant(report, docs['tenant.toml']) if docs['tenant.toml'] is not None else None
    # without any valid duty there is nothing to check plans against (and the duties error says why)
    duty_codes = {d['code'] for d in tenant['duties'] if 'code' in d} if tenant else None
    duty_codes = duty_codes or None
    validators = {
        'fees': ('fees.toml', _validate_fees),
        'repairs': ('repairs.toml', _validate_repairs),
        'inspections': ('inspections.toml', lambda r, doc: _validate_inspections(r, doc, duty_codes)),
        'notices': ('notices.toml', _validate_notices),
        'faq': ('faq.toml', _validate_faq),
        'property': ('property.toml', _validate_property),
        'surveys': ('surveys.toml', _validate_surveys),
    }
    sections = {}
    for section, (file, validate) in validators.items():
        if docs[file] is _ABSENT:
            sections[section] = validate(report, {}, absent=True)
        elif docs[file] is not None:
            sections[section] = validate(report, docs[file])

    if report.errors:
        raise TemplateError(report.errors, template=name)
    return DeliveryTemplate(
        name=name,
        title=tenant['title'],
        description=tenant['description'],
        settings=tenant['settings'],
        duties=tenant['duties'],
        sections=sections,
        path=path,
    )


_ABSENT = object()  # an optional file that isn't there


def _read_toml(report: _Report, folder: Path, file: str) -> dict | None:
    path = folder / file
    if not path.is_file():
        report.error(file, '', 'missing required file')
        return None
    try:
        # utf-8-sig: Windows editors save UTF-8 with a BOM, which tomllib rejects
        text = path.read_text(encoding='utf-8-sig')
    except UnicodeDecodeError:
        report.error(file, '', 'not valid UTF-8: save the file as UTF-8 (not GBK)')
        return None
    except OSError as exc:
        report.error(file, '', f'cannot read: {exc.strerror}')
        return None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        report.error(file, '', f'TOML syntax error: {exc}')
        return None


# --------------------------------------------------------------------------- value checkers
#
# A checker takes the raw TOML value and returns the value to keep, or raises _Invalid with the
# message for the operator. Factories build the configurable ones.


class _Invalid(Exception):
    pass


_OMIT = object()


@dataclass(frozen=True)
class _Field:
    check: Callable[[Any], Any]
    required: bool = True
    default: Any = _OMIT  # for optional keys: the value filled in when the key is absent


def _req(check: Callable[[Any], Any]) -> _Field:
    return _Field(check)


def _opt(check: Callable[[Any], Any], default: Any = _OMIT) -> _Field:
    return _Field(check, required=False, default=default)


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f'boolean {str(value).lower()}'
    if isinstance(value, int):
        return f'integer {value}'
    if isinstance(value, float):
        return f'float {value}'
    if isinstance(value, str):
        return f'string "{value}"'
    if isinstance(value, dict):
        return 'a table'
    if isinstance(value, list):
        return 'an array'
    return f'a {type(value).__name__}'  # TOML dates and times


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f'must be a string, got {_describe(value)}')
    if not value.strip():
        raise _Invalid('must not be empty')
    return value


def _code(value: Any) -> str:
    if not isinstance(value, str) or not CODE_RE.fullmatch(value):
        raise _Invalid(f'must be a lowercase snake_case ASCII code like "service_desk", got {_describe(value)}')
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f'must be true or false, got {_describe(value)}')
    return value


def _integer(low: int, high: int | None = None) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(f'must be a whole number, got {_describe(value)}')
        if value < low or (high is not None and value > high):
            bounds = f'between {low} and {high}' if high is not None else f'at least {low}'
            raise _Invalid(f'must be {bounds}, got {value}')
        return value

    return check


def _choice(*options: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise _Invalid(f'must be one of {", ".join(map(_quote, options))}, got {_describe(value)}')
        return value

    return check


def _quote(text: str) -> str:
    return f'"{text}"'


def _decimal(
    example: str, what: str = 'a decimal string', low: str = '0', high: str | None = None, hint: str = ''
) -> Callable[[Any], str]:
    """A decimal string with at most 4 places, ``low <= value <= high``; kept as written."""

    def check(value: Any) -> str:
        expected = f'must be {what} like "{example}"'
        if not isinstance(value, str):
            raise _Invalid(f'{expected}, got {_describe(value)}')
        if not re.fullmatch(r'-?[0-9]+(\.[0-9]+)?', value):
            raise _Invalid(f'{expected}, got "{value}"')
        number = Decimal(value)  # the pattern guarantees it parses: no NaN, Infinity or exponent
        if -number.as_tuple().exponent > 4:
            raise _Invalid(f'at most 4 decimal places, got "{value}"')
        if number < Decimal(low):
            raise _Invalid(f'must be >= {low}, got "{value}"')
        if high is not None and number > Decimal(high):
            raise _Invalid(f'must be <= {high}, got "{value}"{hint}')
        return value

    return check


_money = _decimal('1.80', 'a decimal string in yuan')


def _timezone(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f'must be a time zone name like "Asia/Shanghai", got {_describe(value)}')
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise _Invalid(f'unknown time zone "{value}" (use an IANA name like "Asia/Shanghai")') from None
    return value


def _every(value: Any) -> str:
    try:
        parse_every(value)
    except ValueError as exc:
        raise _Invalid(str(exc)) from None
    return value


def _text_list(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _Invalid(f'must be an array of non-empty strings, got {_describe(value)}')
    return value


# --------------------------------------------------------------------------- tables


def _join(path: str, key: str) -> str:
    return f'{path}.{key}' if path else key


def _suggest(key: str, known: Any) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f' (did you mean "{close[0]}"?)' if close else ''


def _reject_unknown(report: _Report, file: str, path: str, table: dict, known: Any) -> None:
    for key in table:
        if key not in known:
            expected = ', '.join(known)
            report.error(file, _join(path, key), f'unknown key{_suggest(key, known)}; expected one of: {expected}')


def _check_table(
    report: _Report, file: str, path: str, table: Any, fields: dict[str, _Field], sections: tuple[str, ...] = ()
) -> dict:
    """Check one table against ``fields``; returns the valid values (with defaults filled in).

    ``sections`` are further keys allowed in the table that the caller checks itself (sub-tables).
    """
    if not isinstance(table, dict):
        report.error(file, path, f'must be a table, got {_describe(table)}')
        return {}
    _reject_unknown(report, file, path, table, [*fields, *sections])
    result = {}
    for key, spec in fields.items():
        if key not in table:
            if spec.required:
                report.error(file, _join(path, key), 'missing required key')
            elif spec.default is not _OMIT:
                result[key] = spec.default
            continue
        try:
            result[key] = spec.check(table[key])
        except _Invalid as exc:
            report.error(file, _join(path, key), str(exc))
    return result


def _array_entries(
    report: _Report, file: str, key: str, doc: dict, required: bool = True
) -> Iterator[tuple[str, dict]]:
    """Yield ``('key[n]', table)`` for each entry of an array of tables, numbered from 1."""
    if key not in doc:
        if required:
            report.error(file, key, f'missing: add at least one [[{key}]] entry')
        return
    value = doc[key]
    if not isinstance(value, list) or not value:
        report.error(file, key, f'must be an array of tables written as [[{key}]], got {_describe(value)}')
        return
    for number, entry in enumerate(value, 1):
        if isinstance(entry, dict):
            yield f'{key}[{number}]', entry
        else:
            report.error(file, f'{key}[{number}]', f'must be a table, got {_describe(entry)}')


_EntryCheck = Callable[[_Report, str, str, dict, dict], None]


def _check_array(
    report: _Report, file: str, key: str, doc: dict, fields: dict[str, _Field], check_entry: _EntryCheck | None = None,
    required: bool = True,
) -> list[tuple[str, dict, dict]]:
    """Check every entry of an array of tables; returns ``(path, raw, valid)`` triples.

    ``check_entry(report, file, path, raw, valid)`` checks how an entry's keys fit together; it runs
    right after the entry's own keys, so the messages come out in the order of the file.
    """
    entries = []
    for path, raw in _array_entries(report, file, key, doc, required):
        valid = _check_table(report, file, path, raw, fields)
        if check_entry is not None:
            check_entry(report, file, path, raw, valid)
        entries.append((path, raw, valid))
    return entries


def _check_unique(report: _Report, file: str, entries: list[tuple[str, dict, dict]], key: str = 'code') -> None:
    seen: dict[str, str] = {}
    for path, _raw, valid in entries:
        value = valid.get(key)
        if value is None:
            continue
        if value in seen:
            report.error(file, _join(path, key), f'duplicate {key} "{value}" (already used by {seen[value]})')
        else:
            seen[value] = path


# --------------------------------------------------------------------------- tenant.toml

TENANT_FIELDS = {'title': _req(_text), 'description': _req(_text)}
SETTINGS_FIELDS = {
    'timezone': _opt(_timezone, 'Asia/Shanghai'),
    'locale': _opt(_choice('zh_CN', 'en'), 'zh_CN'),
    'billing_day': _opt(_integer(1, 28), 1),  # 1-28 so that every month has the day
    'currency': _opt(_choice('CNY'), 'CNY'),
}
DUTY_FIELDS = {'code': _req(_code), 'name': _req(_text), 'description': _opt(_text)}


def _validate_tenant(report: _Report, doc: dict) -> dict:
    file = 'tenant.toml'
    top = _check_table(report, file, '', doc, TENANT_FIELDS, sections=('settings', 'duties'))
    settings = _check_table(report, file, 'settings', doc.get('settings', {}), SETTINGS_FIELDS)
    duties = _check_array(report, file, 'duties', doc, DUTY_FIELDS)
    _check_unique(report, file, duties)
    codes = {valid.get('code') for _, _, valid in duties}
    for core in CORE_DUTIES:
        if duties and core not in codes:
            report.error(file, 'duties', f'missing core duty "{core}" (every template needs {", ".join(CORE_DUTIES)})')
    return {
        'title': top.get('title'),
        'description': top.get('description'),
        'settings': settings,
        'duties': [valid for _, _, valid in duties],
    }


# --------------------------------------------------------------------------- fees.toml

CHARGING = ('area', 'fixed', 'meter')
FEE_ITEM_FIELDS = {
    'code': _req(_code),
    'name': _req(_text),
    'charging': _req(_choice(*CHARGING)),
    'recurring': _req(_boolean),
    'rate': _opt(_money),  # area: yuan per m2 per month; meter: yuan per unit read
    'amount': _opt(_money),  # fixed: yuan per period
    'period': _opt(_choice('month', 'quarter', 'year')),  # fixed and recurring only
    'applies_to': _opt(_choice('room', 'room_with_lift', 'room_without_lift', 'parking_space'), 'room'),
    'meter': _opt(_choice('water', 'electricity', 'gas', 'heat')),  # meter only
    'shared': _opt(_boolean),  # meter only: 公摊, master meter minus sub-meters, split over rooms
    'split_by': _opt(_choice('area', 'household')),  # shared meter only
    'note': _opt(_text),
}
# which optional keys each charging model needs / allows
CHARGING_KEYS = {
    'area': ({'rate'}, set()),
    'fixed': ({'amount'}, {'period'}),
    'meter': ({'rate', 'meter'}, {'shared', 'split_by'}),
}
CHARGING_MODEL_KEYS = set().union(*(needed | allowed for needed, allowed in CHARGING_KEYS.values()))
LATE_FEE_FIELDS = {
    'enabled': _opt(_boolean, False),
    # a fraction per day; capped so that "0.05" (meant as 0.05 %) cannot slip through as 5 % a day
    'daily_rate': _opt(_decimal('0.0005', high='0.001', hint=' ("0.0005" is 0.05 % a day, 万分之五)'), '0.0005'),
    'grace_days': _opt(_integer(0, 365), 0),
    'cap_percent': _opt(_decimal('100', 'a decimal string percentage', high='100'), '100'),
}
RULES_FIELDS = {
    'lift_fee_ground_floor_exempt': _opt(_boolean, False),  # only where the contract grants it (民法典 Art. 273)
    'vacancy_discount_enabled': _opt(_boolean, False),
    'vacancy_months': _opt(_integer(1, 120), 6),
    'vacancy_rate': _opt(_decimal('0.60', 'a decimal string fraction', high='1'), '0.60'),
    'max_prepay_months': _opt(_integer(1, 12), 12),
    'renovation_deposit': _opt(_money, '2000.00'),
}


def _validate_fees(report: _Report, doc: dict) -> dict:
    file = 'fees.toml'
    _check_table(report, file, '', doc, {}, sections=('fee_items', 'late_fee', 'rules'))
    items = _check_array(report, file, 'fee_items', doc, FEE_ITEM_FIELDS, _check_charging_keys)
    _check_unique(report, file, items)
    late_fee = _check_table(report, file, 'late_fee', doc.get('late_fee', {}), LATE_FEE_FIELDS)
    if late_fee.get('enabled'):
        # switched on, a zero rate or cap would charge nothing while the settings page says late fees are on
        for key in ('daily_rate', 'cap_percent'):
            if key in late_fee and Decimal(late_fee[key]) == 0:
                report.error(file, _join('late_fee', key), 'must be above 0 when enabled = true')
    return {
        'fee_items': [valid for _, _, valid in items],
        'late_fee': late_fee,
        'rules': _check_table(report, file, 'rules', doc.get('rules', {}), RULES_FIELDS),
    }


def _check_charging_keys(report: _Report, file: str, path: str, raw: dict, valid: dict) -> None:
    """Each charging model has its own keys: a fixed item has an amount, an area item a rate, ..."""
    charging = valid.get('charging')
    if charging is None:
        return
    needed, allowed = CHARGING_KEYS[charging]
    for key in sorted(needed - raw.keys()):
        report.error(file, _join(path, key), f'missing: charging = "{charging}" needs {key}')
    for key in sorted((raw.keys() & CHARGING_MODEL_KEYS) - needed - allowed):
        report.error(file, _join(path, key), f'not used with charging = "{charging}"')
    if charging == 'fixed':
        if valid.get('recurring') and 'period' not in raw:
            valid['period'] = 'month'
        if raw.get('recurring') is False and 'period' in raw:
            report.error(file, _join(path, 'period'), 'a one-off item (recurring = false) has no period')
    if charging == 'meter':
        valid.setdefault('shared', False)
        if valid['shared']:
            valid.setdefault('split_by', 'area')  # by share of exclusive floor area (民法典 Art. 283)
        elif 'split_by' in raw:
            report.error(file, _join(path, 'split_by'), 'only used with shared = true')


# --------------------------------------------------------------------------- repairs.toml

REPAIRS_FIELDS = {'return_visit_hours': _opt(_integer(1, 24 * 30), 48)}  # 回访 within hours of completion
CATEGORY_FIELDS = {'code': _req(_code), 'name': _req(_text), 'area': _req(_choice('home', 'public', 'both'))}
RESPONSE_FIELDS = {
    'priority': _req(_code),
    'name': _req(_text),
    'onsite_minutes': _opt(_integer(1, 24 * 60)),  # emergencies: on site within, clock time
    'working_days': _opt(_integer(1, 30)),  # ordinary repairs: done within, working days
    'examples': _opt(_text_list),
}
#: the priorities the work-order screens offer
REQUIRED_PRIORITIES = ('emergency_life', 'emergency_utility', 'ordinary')


def _validate_repairs(report: _Report, doc: dict) -> dict:
    file = 'repairs.toml'
    top = _check_table(report, file, '', doc, REPAIRS_FIELDS, sections=('categories', 'response_times'))
    categories = _check_array(report, file, 'categories', doc, CATEGORY_FIELDS)
    _check_unique(report, file, categories)
    responses = _check_array(report, file, 'response_times', doc, RESPONSE_FIELDS, _check_response_time)
    _check_unique(report, file, responses, key='priority')
    priorities = {valid.get('priority') for _, _, valid in responses}
    for priority in REQUIRED_PRIORITIES:
        if responses and priority not in priorities:
            report.error(file, 'response_times', f'missing priority "{priority}"')
    return {
        'categories': [valid for _, _, valid in categories],
        'response_times': [valid for _, _, valid in responses],
        'return_visit_hours': top.get('return_visit_hours'),
    }


def _check_response_time(report: _Report, file: str, path: str, raw: dict, valid: dict) -> None:
    if ('onsite_minutes' in raw) == ('working_days' in raw):
        report.error(file, path, 'set exactly one of onsite_minutes or working_days')


# --------------------------------------------------------------------------- inspections.toml

CHECKLIST_KINDS = ('check', 'reading', 'note')  # the same as propsaas.inspections.models.ITEM_KINDS
READING_RE = re.compile(r'-?[0-9]{1,9}(\.[0-9]+)?')


def _checklist(value: Any) -> list[dict]:
    """[{label = "出水压力", kind = "reading", unit = "MPa", min = "0.2", max = "0.8"}, {label = "...", kind =
    "check"}]: at most 40 items; a reading's range as decimal strings (either end may be left out)."""
    if not isinstance(value, list) or not value:
        raise _Invalid(f'must be a non-empty array of items like {{ label = "运行正常", kind = "check" }}, '
                       f'got {_describe(value)}')
    if len(value) > 40:
        raise _Invalid(f'at most 40 items, got {len(value)}')
    items = []
    for number, item in enumerate(value, 1):
        if not isinstance(item, dict):
            raise _Invalid(f'item {number} must be a table like {{ label = "运行正常", kind = "check" }}')
        unknown = sorted(set(item) - {'label', 'kind', 'unit', 'min', 'max'})
        if unknown:
            raise _Invalid(f'item {number}: unknown key "{unknown[0]}"; expected label, kind, unit, min, max')
        label = item.get('label')
        if not isinstance(label, str) or not label.strip() or len(label) > 60:
            raise _Invalid(f'item {number}: label must be a non-empty string of at most 60 characters')
        kind = item.get('kind', 'check')
        if kind not in CHECKLIST_KINDS:
            raise _Invalid(f'item {number}: kind must be one of {", ".join(map(_quote, CHECKLIST_KINDS))}, '
                           f'got {_describe(kind)}')
        if kind != 'reading':
            if item.keys() & {'unit', 'min', 'max'}:
                raise _Invalid(f'item {number}: unit, min and max belong to kind = "reading" only')
            items.append({'label': label, 'kind': kind})
            continue
        unit = item.get('unit', '')
        if not isinstance(unit, str) or len(unit) > 10:
            raise _Invalid(f'item {number}: unit must be a string of at most 10 characters like "MPa"')
        bounds = {}
        for key in ('min', 'max'):
            bound = item.get(key)
            if bound is not None and (not isinstance(bound, str) or not READING_RE.fullmatch(bound)):
                raise _Invalid(f'item {number}: {key} must be a decimal string like "0.2", got {_describe(bound)}')
            bounds[key] = bound
        if bounds['min'] is not None and bounds['max'] is not None and Decimal(bounds['min']) > Decimal(bounds['max']):
            raise _Invalid(f'item {number}: min is above max')
        items.append({'label': label, 'kind': 'reading', 'unit': unit, **bounds})
    return items


def _points(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > 60 or not all(
            isinstance(p, str) and p.strip() and len(p) <= 60 for p in value):
        raise _Invalid('must be an array of at most 60 check points, each at most 60 characters, like ["1号岗"]')
    return list(value)


PLAN_FIELDS = {
    'code': _req(_code),
    'name': _req(_text),
    'target': _req(_choice(*INSPECTION_TARGETS)),
    'every': _opt(_every),  # at least once every interval, e.g. "15d"
    'times_per_day': _opt(_integer(1, 24)),  # e.g. 2 rounds a day in the pump room
    'duty': _req(_code),  # who does it: a duty code from tenant.toml
    'min_staff': _opt(_integer(1, 10), 1),
    'duration_minutes': _opt(_integer(1, 24 * 60)),
    'retention_years': _opt(_integer(1, 100)),
    'enabled': _opt(_boolean, True),
    'basis': _opt(_text),  # the rule or practice the frequency comes from
    'note': _opt(_text),
    # what the plan starts with instead of its target's standard list (inspections.provisioning.CHECKLISTS)
    'checklist': _opt(_checklist),
    'points': _opt(_points),  # a round's check points in order: "1号岗", "地下车库B区"
    'photos_required': _opt(_integer(0, 6)),
}


def _validate_inspections(report: _Report, doc: dict, duty_codes: set[str] | None) -> dict:
    file = 'inspections.toml'
    _check_table(report, file, '', doc, {}, sections=('plans',))

    def check_plan(report: _Report, file: str, path: str, raw: dict, valid: dict) -> None:
        if ('every' in raw) == ('times_per_day' in raw):
            report.error(file, path, 'set exactly one of every (like "15d") or times_per_day')
        duty = valid.get('duty')
        if duty_codes is not None and duty is not None and duty not in duty_codes:
            defined = ', '.join(sorted(duty_codes))
            report.error(
                file,
                _join(path, 'duty'),
                f'unknown duty "{duty}"{_suggest(duty, duty_codes)}; tenant.toml defines: {defined}',
            )
        if valid.get('target') == 'lift':
            _check_lift_retention(report, file, path, raw, valid)

    plans = _check_array(report, file, 'plans', doc, PLAN_FIELDS, check_plan)
    _check_unique(report, file, plans)
    return {'plans': [valid for _, _, valid in plans]}


def _check_lift_retention(report: _Report, file: str, path: str, raw: dict, valid: dict) -> None:
    """Lift records are never purged early; a wrongly typed value is already reported by its checker."""
    years = valid.get('retention_years')
    if 'retention_years' not in raw or (years is not None and years < LIFT_RETENTION_YEARS):
        report.error(
            file,
            _join(path, 'retention_years'),
            f'lift records are kept at least {LIFT_RETENTION_YEARS} years: set retention_years = '
            f'{LIFT_RETENTION_YEARS} or more',
        )


# --------------------------------------------------------------------------- notices.toml

NOTICE_FIELDS = {
    'code': _req(_code),
    'category': _req(_choice(*NOTICE_CATEGORIES)),
    'title': _req(_text),
    'body': _req(_text),
}


#: what every message template may use besides its own variables
MESSAGE_COMMON_VARIABLES = ('name', 'project_name')
MESSAGE_CHANNELS = ('sms', 'email', 'wechat')
QUIET_HOURS_RE = re.compile(r'([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])')


def _quiet_hours(value: Any) -> list[str]:
    if not isinstance(value, str) or not QUIET_HOURS_RE.fullmatch(value.strip()):
        raise _Invalid(f'must be "HH:MM-HH:MM" such as "22:00-08:00", got {_describe(value)}')
    start, end = value.strip().split('-')
    if start == end:
        raise _Invalid('start and end are the same time')
    return [start, end]


def _channel_list(value: Any) -> list[str]:
    values = _text_list(value) if value != [] else []
    unknown = [v for v in values if v not in MESSAGE_CHANNELS]
    if unknown:
        raise _Invalid(f'unknown channel "{unknown[0]}"; channels are {", ".join(MESSAGE_CHANNELS)}')
    return values


def _variables(value: Any) -> list[str]:
    values = _text_list(value) if value != [] else []
    for name in values:
        if not CODE_RE.fullmatch(name):
            raise _Invalid(f'variable "{name}" must be lower case letters, digits and _')
    return values


MESSAGE_FIELDS = {
    'code': _req(_code),
    'name': _req(_text),
    'title': _req(_text),
    'body': _req(_text),
    'sms': _opt(_text, ''),
    'variables': _opt(_variables, []),
    'channels': _opt(_channel_list, []),
}


def _validate_notices(report: _Report, doc: dict) -> dict:
    file = 'notices.toml'
    top = _check_table(report, file, '', doc, {
        'categories': _opt(_unique_texts(20, 'category'), list(NOTICE_CATEGORIES)),
        'quiet_hours': _opt(_quiet_hours, ['22:00', '08:00']),
    }, sections=('templates', 'messages'))
    categories = top.get('categories') or list(NOTICE_CATEGORIES)
    notices = _check_array(report, file, 'templates', doc, {**NOTICE_FIELDS, 'category': _req(_choice(*categories))},
                           _check_notice_text)
    _check_unique(report, file, notices)
    messages = _check_array(report, file, 'messages', doc, MESSAGE_FIELDS, _check_message_text, required=False)
    _check_unique(report, file, messages)
    return {'templates': [valid for _, _, valid in notices], 'messages': [valid for _, _, valid in messages],
            'categories': categories, 'quiet_hours': top.get('quiet_hours', ['22:00', '08:00'])}


def _check_message_text(report: _Report, file: str, path: str, raw: dict, valid: dict) -> None:
    allowed = set(valid.get('variables', [])) | set(MESSAGE_COMMON_VARIABLES)
    for key in ('title', 'body', 'sms'):
        text = valid.get(key)
        if not text:
            continue
        try:
            fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
        except ValueError as exc:
            report.error(file, _join(path, key), f'bad placeholder braces ({exc}); write a brace as {{{{ or }}}}')
            continue
        for name in fields:
            if name not in allowed:
                report.error(file, _join(path, key), f'unknown placeholder {{{name}}}{_suggest(name, allowed)}; '
                             f'declare it in variables or use one of: {", ".join(sorted(allowed))}')


def _check_notice_text(report: _Report, file: str, path: str, raw: dict, valid: dict) -> None:
    for key in ('title', 'body'):
        if key in valid:
            _check_placeholders(report, file, _join(path, key), valid[key])
            if valid.get('category') in PAYMENT_CATEGORIES:
                _check_no_utility_threat(report, file, _join(path, key), valid[key])


def _check_placeholders(report: _Report, file: str, path: str, text: str) -> None:
    """Only known {name} placeholders; literal braces are written {{ and }}."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        report.error(file, path, f'bad placeholder braces ({exc}); write a literal brace as {{{{ or }}}}')
        return
    for name in fields:
        if name not in NOTICE_PLACEHOLDERS:
            known = ', '.join(f'{{{p}}}' for p in sorted(NOTICE_PLACEHOLDERS))
            report.error(
                file, path, f'unknown placeholder {{{name}}}{_suggest(name, NOTICE_PLACEHOLDERS)}; known: {known}'
            )


def _check_no_utility_threat(report: _Report, file: str, path: str, text: str) -> None:
    match = UTILITY_THREAT_RE.search(text)
    if match:
        report.error(
            file,
            path,
            'payment and dunning notices may not threaten to cut water, electricity, heating or gas '
            f'(民法典 Art. 944), found "{match.group()}"',
        )


# --------------------------------------------------------------------------- faq.toml

FAQ_FIELDS = {'question': _req(_text), 'answer': _req(_text)}


def _validate_faq(report: _Report, doc: dict) -> dict:
    file = 'faq.toml'
    _check_table(report, file, '', doc, {}, sections=('entries',))
    entries = _check_array(report, file, 'entries', doc, FAQ_FIELDS)
    return {'entries': [valid for _, _, valid in entries]}


# --------------------------------------------------------------------------- property.toml


def _short_text(limit: int) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        value = _text(value)
        if len(value) > limit:
            raise _Invalid(f'at most {limit} characters, got {len(value)}')
        return value

    return check


def _unique_texts(limit: int, what: str) -> Callable[[Any], list[str]]:
    """An array of distinct non-empty strings of at most ``limit`` characters (may be empty)."""

    def check(value: Any) -> list[str]:
        if not isinstance(value, list):
            raise _Invalid(f'must be an array of strings like ["{what}"], got {_describe(value)}')
        seen: set[str] = set()
        for number, item in enumerate(value, 1):
            if not isinstance(item, str) or not item.strip():
                raise _Invalid(f'item {number} must be a non-empty string, got {_describe(item)}')
            if item != item.strip() or len(item) > limit:
                raise _Invalid(f'item {number} "{item}": at most {limit} characters, no spaces around it')
            if item in seen:
                raise _Invalid(f'"{item}" is listed twice')
            seen.add(item)
        return list(value)

    return check


def _header_list(value: Any) -> list[str]:
    headers = _unique_texts(30, '手机号')(value)
    if not headers:
        raise _Invalid('must list at least one column header')
    return headers


def _gate_code(value: Any) -> str:
    if not isinstance(value, str) or not GATE_CODE_RE.fullmatch(value):
        raise _Invalid('must be lowercase letters, digits and "-" (at most 40) like "north-gate", '
                       f'got {_describe(value)}')
    return value


PROPERTY_FIELDS = {'room_tags': _opt(_unique_texts(20, '临街'), [])}
ROOM_TYPE_FIELDS = {'code': _req(_choice(*ROOM_TYPES)), 'name': _req(_short_text(20))}
GATE_FIELDS = {'code': _req(_gate_code), 'name': _req(_short_text(60))}
IMPORT_HEADER_FIELDS = {key: _opt(_header_list, list(headers)) for key, headers in IMPORT_FIELDS.items()}


def default_property() -> dict:
    """What a template without property.toml gets: every room type, no tags, no gates, the usual headers."""
    return {
        'room_types': [{'code': code, 'name': DEFAULT_ROOM_TYPE_NAMES[code]} for code in ROOM_TYPES],
        'room_tags': [],
        'gates': [],
        'import_headers': {key: list(headers) for key, headers in IMPORT_FIELDS.items()},
    }


def _validate_property(report: _Report, doc: dict, absent: bool = False) -> dict:
    """Room types and tags, the access-control gates, and the column headers a residents import understands."""
    if absent:
        return default_property()
    file = 'property.toml'
    top = _check_table(report, file, '', doc, PROPERTY_FIELDS, sections=('room_types', 'gates', 'import'))
    types = _check_array(report, file, 'room_types', doc, ROOM_TYPE_FIELDS)
    _check_unique(report, file, types)
    gates = _check_array(report, file, 'gates', doc, GATE_FIELDS, required=False)
    _check_unique(report, file, gates)
    _check_unique(report, file, gates, key='name')
    headers = _check_table(report, file, 'import', doc.get('import', {}), IMPORT_HEADER_FIELDS)
    _check_headers_distinct(report, file, headers)
    return {
        'room_types': [valid for _, _, valid in types],
        'room_tags': top.get('room_tags', []),
        'gates': [valid for _, _, valid in gates],
        'import_headers': headers,
    }


def _check_headers_distinct(report: _Report, file: str, headers: dict[str, list[str]]) -> None:
    """A column header means one field: the same header under two fields would make an import guess."""
    owner: dict[str, str] = {}
    for key, names in headers.items():
        for name in names:
            folded = re.sub(r'\s+', '', name).casefold()
            if folded in owner and owner[folded] != key:
                report.error(file, f'import.{key}', f'header "{name}" is also listed under import.{owner[folded]}')
            owner.setdefault(folded, key)


# --------------------------------------------------------------------------- surveys.toml

SURVEY_KINDS = ('general', 'satisfaction')
SURVEY_QUESTION_KINDS = ('single', 'multiple', 'rating', 'text')
SURVEY_FIELDS = {
    'code': _req(_code),
    'title': _req(_short_text(120)),  # a satisfaction survey's title gets the year in front: "2026年度业主满意度调查"
    'kind': _opt(_choice(*SURVEY_KINDS), 'general'),
    'description': _opt(_text, ''),
}
SURVEY_QUESTION_FIELDS = {
    'kind': _req(_choice(*SURVEY_QUESTION_KINDS)),
    'text': _req(_short_text(300)),
    'options': _opt(_unique_texts(60, '保洁'), []),  # single and multiple only: 2-20 distinct choices
    'required': _opt(_boolean, True),
}


def _validate_surveys(report: _Report, doc: dict, absent: bool = False) -> dict:
    """Surveys a new project starts with as drafts (the yearly 业主满意度调查 ...); optional file."""
    if absent:
        return {'surveys': []}
    file = 'surveys.toml'
    _check_table(report, file, '', doc, {}, sections=('surveys',))

    def check_survey(report: _Report, file: str, path: str, raw: dict, valid: dict) -> None:
        questions = raw.get('questions')
        if not isinstance(questions, list) or not questions:
            report.error(file, _join(path, 'questions'), 'add at least one [[surveys.questions]] entry')
            valid['questions'] = []
            return
        valid['questions'] = []
        for number, entry in enumerate(questions, 1):
            qpath = f'{_join(path, "questions")}[{number}]'
            if not isinstance(entry, dict):
                report.error(file, qpath, f'must be a table, got {_describe(entry)}')
                continue
            question = _check_table(report, file, qpath, entry, SURVEY_QUESTION_FIELDS)
            kind, options = question.get('kind'), question.get('options', [])
            if kind in ('single', 'multiple') and not 2 <= len(options) <= 20:
                report.error(file, _join(qpath, 'options'), f'a {kind} choice question needs 2 to 20 options')
            elif kind in ('rating', 'text') and options:
                report.error(file, _join(qpath, 'options'), f'a {kind} question has no options')
            valid['questions'].append(question)

    surveys = []
    for path, raw in _array_entries(report, file, 'surveys', doc, required=False):
        valid = _check_table(report, file, path, raw, SURVEY_FIELDS, sections=('questions',))
        check_survey(report, file, path, raw, valid)
        surveys.append((path, raw, valid))
    _check_unique(report, file, surveys)
    return {'surveys': [valid for _, _, valid in surveys]}
