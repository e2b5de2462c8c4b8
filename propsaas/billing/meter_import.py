"""Importing a period's meter readings (抄表导入) from .xlsx or .csv: upload -> preview -> commit.

The uploaded file is checked by its content (``documents.uploads.sniff_spreadsheet``), stored under the tenant's
folder with a random name, and read with ``documents.tables.read_rows``. The preview validates every row against
the file itself and the stored readings and changes nothing. The commit reads the file again, validates again, and
records every valid row in the request's one transaction: only when no row has an error, unless the user
explicitly chose to skip the rows with errors.

Headers: 房号, 表类型 (水表/电表/燃气表/热表), 上期读数 (optional), 本期读数, 抄表日期 (optional), 换表 (optional,
是/否). When 上期读数 is given and the room has no earlier reading of that meter, it is recorded as the previous
month's reading (期初读数), so the first import already yields usage.
"""
from __future__ import annotations

import re
import secrets
import tempfile
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..documents.tables import TableError, read_rows
from ..documents.uploads import sniff_spreadsheet
from ..errors import DomainError
from ..extensions import db
from ..property.addresses import parse_room_address
from ..property.models import Room
from ..storage import path_for, write_atomically
from . import metering
from .models import BillLine, FeeItem, MeterReading

MAX_ROWS = 5_000
HEADERS = {'room': ('房号', '房屋', '房间号', '房间'), 'meter': ('表类型', '表计', '表', '类型'),
           'previous': ('上期读数', '上月读数', '上次读数'), 'current': ('本期读数', '本月读数', '读数'),
           'read_on': ('抄表日期', '日期'), 'replaced': ('换表', '是否换表')}
REQUIRED = ('room', 'meter', 'current')
YES, NO = ('是', 'y', 'yes', 'true', '1', '换表'), ('否', 'n', 'no', 'false', '0', '')
_TOKEN_RE = re.compile(r'^[0-9a-f]{32}$')
_DATE_RE = re.compile(r'^(\d{4})\s*[-/年.]\s*(\d{1,2})\s*[-/月.]\s*(\d{1,2})\s*日?(?:\s+00:00(?::00)?)?$')
_FLOAT_NOISE = Decimal('1e-9')


@dataclass
class ImportRow:
    line: int
    room_text: str
    meter_text: str
    previous_text: str
    current_text: str
    read_on_text: str
    replaced_text: str
    room_id: int | None = None
    meter: str | None = None
    previous: Decimal | None = None
    current: Decimal | None = None
    read_on: date | None = None
    replaced: bool = False
    #: the stored reading this one follows, shown in the preview
    stored_previous: str | None = None
    #: 上期读数 recorded as the previous month's reading (no earlier reading stored)
    baseline: bool = False
    #: this period already has a reading: the import corrects it
    corrects: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def usage(self) -> Decimal | None:
        if not self.ok or self.current is None:
            return None
        if self.replaced:
            return self.current
        base = self.stored_previous if self.stored_previous is not None else self.previous
        return None if base is None else self.current - Decimal(base)

    @property
    def reason(self) -> str:
        return '；'.join(self.errors)


@dataclass
class ImportPreview:
    token: str
    period: str
    rows: list[ImportRow]

    @property
    def ok_count(self) -> int:
        return sum(1 for row in self.rows if row.ok)

    @property
    def error_count(self) -> int:
        return sum(1 for row in self.rows if not row.ok)


def store_upload(data: bytes) -> str:
    """Check the upload by its content and keep it for preview and commit; returns its token. Raises
    UploadRefused (a DomainError) for anything that is not a safe .xlsx or CSV."""
    sniffed = sniff_spreadsheet(data)
    token = secrets.token_hex(16)
    write_atomically(f'meter-imports/{token}.{sniffed.kind}', data)
    _rows_of(token)  # refuse a file without the headers now, not at the preview
    return token


def _upload_path(token: str) -> Path:
    if not _TOKEN_RE.match(token or ''):
        raise DomainError(_l('导入文件已失效，请重新上传'), field='file')
    for kind in ('xlsx', 'csv'):
        path = path_for(f'meter-imports/{token}.{kind}')
        if path.exists():
            return path
    raise DomainError(_l('导入文件已失效，请重新上传'), field='file')


def _rows_of(token: str) -> tuple[str, list[tuple[int, dict[str, str]]]]:
    path = _upload_path(token)
    try:
        if path.suffix == '.xlsx':
            rows = read_rows(path, max_rows=MAX_ROWS)
        else:  # read_rows decides by the suffix; the stored name already has the sniffed kind
            with tempfile.TemporaryDirectory() as folder:
                copy = Path(folder) / 'upload.csv'
                copy.write_bytes(path.read_bytes())
                rows = read_rows(copy, max_rows=MAX_ROWS)
    except TableError:
        raise DomainError(_l('无法读取文件，或超过 %(n)s 行。请检查后重新上传', n=MAX_ROWS), field='file') from None
    except Exception:  # a damaged workbook that passed the container checks
        raise DomainError(_l('文件已损坏，无法读取。请在 Excel/WPS 中重新保存后上传'), field='file') from None
    header = set(rows[0][1]) if rows else set()
    missing = [HEADERS[key][0] for key in REQUIRED if not any(name in header for name in HEADERS[key])]
    if not rows or missing:
        raise DomainError(_l('表头缺少：%(names)s。第一行应为 房号、表类型、上期读数、本期读数、抄表日期、换表',
                             names='、'.join(missing or [HEADERS[key][0] for key in REQUIRED])), field='file')
    return path.suffix, rows


def _cell(values: dict[str, str], key: str) -> str:
    for name in HEADERS[key]:
        if name in values:
            return values[name].strip()
    return ''


def _number(text: str, from_excel: bool) -> Decimal:
    """A reading cell. Excel hands numbers over as floats whose str() may carry binary noise (0.30000000000000004):
    within 1e-9 of three decimals it is that decimal; anything else must be an exact decimal."""
    try:
        return metering.parse_reading(text)
    except DomainError:
        if not from_excel:
            raise
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise DomainError(_l('读数不是数字')) from None
    rounded = value.quantize(Decimal('0.001'))
    if value.is_finite() and value >= 0 and abs(value - rounded) < _FLOAT_NOISE:
        return rounded
    raise DomainError(_l('请填写读数：不小于 0 的数字，最多三位小数，例如 1234.5'))


def _date(text: str) -> date | None:
    raw = unicodedata.normalize('NFKC', text or '').strip()
    if not raw:
        return None
    match = _DATE_RE.match(raw)
    try:
        if match:
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        pass
    raise DomainError(_l('抄表日期“%(text)s”无效，请写成 2026-10-31', text=raw[:20]))


def _parse_row(line: int, values: dict[str, str], from_excel: bool) -> ImportRow:
    row = ImportRow(line, _cell(values, 'room'), _cell(values, 'meter'), _cell(values, 'previous'),
                    _cell(values, 'current'), _cell(values, 'read_on'), _cell(values, 'replaced'))
    for attr, parse in (('meter', lambda: metering.parse_meter(row.meter_text)),
                        ('current', lambda: _number(row.current_text, from_excel)),
                        ('previous', lambda: _number(row.previous_text, from_excel) if row.previous_text else None),
                        ('read_on', lambda: _date(row.read_on_text))):
        try:
            setattr(row, attr, parse())
        except DomainError as e:
            label = {'current': _l('本期读数'), 'previous': _l('上期读数')}.get(attr)
            row.errors.append(f'{label}：{e.message}' if label else str(e.message))
    flag = unicodedata.normalize('NFKC', row.replaced_text).strip().lower()
    if flag in YES:
        row.replaced = True
    elif flag not in NO:
        row.errors.append(str(_l('换表一栏请填“是”或“否”')))
    if not row.room_text:
        row.errors.insert(0, str(_l('缺少房号')))
    return row


def preview(token: str, period: str) -> ImportPreview:
    """Validate every row of the stored upload for ``period``; writes nothing. A constant number of statements
    per meter kind, whatever the number of rows."""
    period = metering.parse_period(period)
    suffix, raw_rows = _rows_of(token)
    rows = [_parse_row(line, values, suffix == '.xlsx') for line, values in raw_rows]
    codes = {}
    for row in rows:
        address = parse_room_address(row.room_text) if row.room_text else None
        codes[row.line] = address.code if address is not None else None
    wanted = sorted({code for code in codes.values() if code})
    room_ids = dict(db.session.execute(sa.select(Room.code, Room.id).where(Room.code.in_(wanted))).all()) \
        if wanted else {}
    for row in rows:
        if row.room_text:
            row.room_id = room_ids.get(codes[row.line])
            if row.room_id is None:
                row.errors.insert(0, str(_l('找不到房号 %(room)s', room=row.room_text)))
    seen: dict[tuple, int] = {}
    for meter in {row.meter for row in rows if row.meter}:
        mine = [row for row in rows if row.meter == meter and row.room_id]
        ids = sorted({row.room_id for row in mine})
        before = metering.previous_readings(meter, period, ids)
        existing = {r.room_id: r for r in db.session.execute(sa.select(MeterReading).where(
            MeterReading.meter == meter, MeterReading.period == period,
            MeterReading.room_id.in_(ids) if len(ids) <= 500 else sa.true())).scalars()}
        locked = _locked_rooms(meter, period)
        for row in mine:
            stored = before.get(row.room_id)
            if stored is not None:
                row.stored_previous = stored.reading
            _check_row(row, stored, period)
            if row.room_id in existing:
                row.corrects = existing[row.room_id].reading
                if locked is True or row.room_id in locked:
                    row.errors.append(str(_l('%(period)s 的读数已用于出账，不能再修改', period=period)))
            key = (row.room_id, meter)
            if key in seen:
                row.errors.append(str(_l('与第 %(line)s 行重复（同一房屋同一表）', line=seen[key])))
            else:
                seen[key] = row.line
    return ImportPreview(token, period, rows)


def _check_row(row: ImportRow, stored, period: str) -> None:
    if row.current is None or row.replaced:
        return
    if row.previous is not None and row.current < row.previous:
        row.errors.insert(0, str(_l('本期读数 %(current)s 低于上期读数 %(previous)s；如已换表请在“换表”栏填“是”',
                                    current=metering.canonical(row.current),
                                    previous=metering.canonical(row.previous))))
        return
    if stored is None:
        row.baseline = row.previous is not None
        return
    stored_value = Decimal(stored.reading)
    if row.previous is not None and row.previous != stored_value:
        row.errors.append(str(_l('上期读数 %(previous)s 与系统记录的 %(stored)s（%(period)s）不一致',
                                 previous=metering.canonical(row.previous), stored=stored.reading,
                                 period=stored.period)))
    elif row.current < stored_value:
        row.errors.append(str(_l('本期读数 %(current)s 低于上期读数 %(stored)s（%(period)s）；'
                                 '如已换表请在“换表”栏填“是”',
                                 current=metering.canonical(row.current), stored=stored.reading,
                                 period=stored.period)))


def _locked_rooms(meter: str, period: str):
    """Rooms whose reading of this period is on a live bill line (True: all, a shared item was billed)."""
    rows = db.session.execute(
        sa.select(BillLine.subject, FeeItem.shared).join(FeeItem, FeeItem.id == BillLine.fee_item_id)
        .where(BillLine.voided.is_(False), BillLine.period == period, FeeItem.charging == 'meter',
               FeeItem.meter == meter)).all()
    if any(shared for _, shared in rows):
        return True
    return {int(subject.split(':', 1)[1]) for subject, _ in rows if subject.startswith('room:')}


def previous_period(period: str) -> str:
    start = metering.month_start(period)
    return f'{start.year - 1}-12' if start.month == 1 else f'{start.year}-{start.month - 1:02d}'


def commit(token: str, period: str, *, skip_errors: bool = False, by_user_id: int | None = None) -> ImportPreview:
    """Record every valid row of the upload (validated again) in the caller's transaction. Refused with a
    DomainError, writing nothing, while any row has an error, unless ``skip_errors``; or when no row is valid.
    The caller commits (then ``discard``s the upload), or rolls back on a DomainError (a row refused by
    ``record_reading`` refuses the whole)."""
    result = preview(token, period)
    if result.error_count and not skip_errors:
        raise DomainError(_l('还有 %(n)s 行有错误，未导入任何数据。请修改文件后重新上传，或选择跳过错误行',
                             n=result.error_count), field='file')
    if not result.ok_count:
        raise DomainError(_l('没有可以导入的行'), field='file')
    for row in result.rows:
        if not row.ok:
            continue
        try:
            if row.baseline:
                metering.record_reading(row.meter, row.room_id, previous_period(result.period), row.previous,
                                        read_on=None, note=str(_l('导入的期初读数')), by_user_id=by_user_id)
            metering.record_reading(row.meter, row.room_id, result.period, row.current, replaced=row.replaced,
                                    read_on=row.read_on, note=None, by_user_id=by_user_id)
        except DomainError as e:
            raise DomainError(_l('第 %(line)s 行：%(message)s', line=row.line, message=e.message),
                              field='file') from None
    return result


def discard(token: str) -> None:
    try:
        _upload_path(token).unlink(missing_ok=True)
    except DomainError:
        pass
