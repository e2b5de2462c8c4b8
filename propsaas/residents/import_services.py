"""Residents import with the database: upload → preview (job) → commit (job, one transaction) → error report.

    batch = start_import(filename, data, by_user_id)       # content checks; stores the file; no rows read yet
    enqueue(preview_import, batch.id, key=preview_key(batch.id))
    ... staff read the preview (preview_rows) ...
    claim_commit(batch)                                    # previewed -> committing, once
    enqueue(commit_import, batch.id, key=commit_key(batch.id))

The stored upload is the single source: the commit reads it again and classifies it against the database as
it is then, so a resident added between preview and commit is updated rather than doubled. The commit writes
with a handful of bulk statements per 1,000 rows (INSERT ... RETURNING for ids), all in one transaction: a
failure anywhere leaves nothing behind. Services never commit; the job functions (the edge) do.
"""
from __future__ import annotations

import gc
import io
import json
import logging
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..documents.spreadsheets import safe_cell
from ..documents.uploads import MAX_UPLOAD_BYTES, sniff_spreadsheet
from ..errors import DomainError
from ..extensions import db
from ..jobs.models import JobRecord
from ..jobs.queue import job, report_progress
from ..models_base import utcnow
from ..property.addresses import building_key, unit_key
from ..property.models import Building, Room, RoomEvent, Unit
from ..storage import path_for, write_atomically
from ..tenancy.context import current_tenant_id
from ..tenancy.models import Tenant
from . import importing
from .identity import mask_id_number
from .importing import NEW, UNCHANGED, UPDATE, Existing, Occupant, Row, Summary
from .models import ROLE_NAMES, ImportBatch, Occupancy, Resident

log = logging.getLogger(__name__)

#: rows per INSERT/UPDATE statement
CHUNK = 1000
#: the view reads at most this much of an upload (one byte past the limit, so an oversize file is recognised)
MAX_READ = MAX_UPLOAD_BYTES + 1
PREVIEWING, PREVIEWED, COMMITTING, COMMITTED, FAILED = 'previewing', 'previewed', 'committing', 'committed', 'failed'
STATUS_NAMES = {PREVIEWING: _l('检查中'), PREVIEWED: _l('待确认导入'), COMMITTING: _l('导入中'),
                COMMITTED: _l('已导入'), FAILED: _l('失败')}


class ImportStateError(DomainError):
    """The batch is not in a state that allows this (already committed, still checking ...)."""

    status_code = 409


def preview_key(batch_id: int) -> str:
    return f'residents-import-preview:{batch_id}'


def commit_key(batch_id: int) -> str:
    return f'residents-import-commit:{batch_id}'


# --- upload ----------------------------------------------------------------------------------------------------------

def tenant_header_synonyms() -> dict[str, str]:
    """The header lookup for the current tenant: its ``settings['import_headers']`` on top of the defaults."""
    tenant = db.session.get(Tenant, current_tenant_id())
    headers = (tenant.settings or {}).get('import_headers') if tenant is not None else None
    return importing.header_synonyms(headers if isinstance(headers, dict) else None)


def start_import(filename: str, data: bytes, by_user_id: int | None) -> ImportBatch:
    """Check an uploaded file by its content and store it as a new batch (status previewing).

    Raises UploadRefused (not a spreadsheet, too big, zip bomb, unreadable) or ImportProblem (no header, too many
    rows) before anything is stored. The caller enqueues ``preview_import`` and commits.
    """
    sniffed = sniff_spreadsheet(data)
    with importing.Table(data, sniffed, tenant_header_synonyms()) as table:
        table.require_header()
        if table.estimated_rows > table.max_rows + importing.HEADER_SCAN_ROWS:
            raise table._too_many()
    batch = ImportBatch(filename=(filename or 'upload')[-200:], status=PREVIEWING, created_by_id=by_user_id, stats={})
    db.session.add(batch)
    db.session.flush()
    batch.upload_file = f'imports/{batch.id}/upload.{sniffed.kind}'
    write_atomically(batch.upload_file, data)
    return batch


# --- reading a batch's file against the database -------------------------------------------------------------------

def load_existing() -> Existing:
    """The project's buildings, units, rooms and current occupants, in five queries (any size)."""
    existing = Existing()
    buildings = db.session.execute(sa.select(Building.id, Building.name).order_by(Building.id)).all()
    key_of_building = {}
    for building_id, name in buildings:
        key = building_key(name)
        key_of_building[building_id] = key
        existing.buildings.setdefault(key, building_id)
    for unit_id, building_id, name in db.session.execute(
            sa.select(Unit.id, Unit.building_id, Unit.name).order_by(Unit.id)).all():
        existing.units.setdefault((key_of_building[building_id], unit_key(name)), unit_id)
    for room_id, code, area in db.session.execute(sa.select(Room.id, Room.code, Room.area_m2)).all():
        existing.rooms[code] = (room_id, Decimal(area).quantize(Decimal('0.01')) if area is not None else None)
    occupants = db.session.execute(
        sa.select(Occupancy.resident_id, Occupancy.id, Resident.name, Resident.mobile, Resident.other_phone,
                  Resident.id_number, Resident.emergency_contact, Resident.emergency_phone, Resident.note,
                  Occupancy.role, Occupancy.moved_in_on, Room.code)
        .join(Resident, Resident.id == Occupancy.resident_id).join(Room, Room.id == Occupancy.room_id)
        .where(Occupancy.moved_out_on.is_(None)).order_by(Occupancy.id)).all()
    for *values, code in occupants:
        existing.occupants.setdefault(code, []).append(Occupant(*values))
    for resident_id, name, mobile in db.session.execute(
            sa.select(Resident.id, Resident.name, Resident.mobile).where(Resident.mobile.is_not(None))
            .order_by(Resident.id)).all():
        existing.people.setdefault((name, mobile), resident_id)
    return existing


def analyse(data: bytes, progress=None) -> tuple[importing.HeaderMatch, list[Row], Existing, Summary]:
    """Read, normalise and classify a file against the current tenant's data. ``progress(percent)`` 0-60."""
    sniffed = sniff_spreadsheet(data)

    def step(done, total):
        if progress is not None:
            progress(min(50, done * 50 // max(total, 1)))

    # Tens of thousands of small objects and no reference cycles: the cyclic garbage collector would walk the
    # whole app's heap again and again for nothing while the rows are read.
    collecting = gc.isenabled()
    gc.disable()
    try:
        with importing.Table(data, sniffed, tenant_header_synonyms()) as table:
            header = table.require_header()
            rows = importing.read_rows(table, step)
        existing = load_existing()
        summary = importing.classify(rows, existing)
    finally:
        if collecting:
            gc.enable()
    if progress is not None:
        progress(60)
    return header, rows, existing, summary


def _batch(batch_id: int) -> ImportBatch:
    return db.session.execute(sa.select(ImportBatch).where(ImportBatch.id == batch_id)).scalar_one()


def _upload(batch: ImportBatch) -> bytes:
    return path_for(batch.upload_file).read_bytes()


# --- preview -------------------------------------------------------------------------------------------------------

@job(_l('住户导入：检查文件'))
def preview_import(batch_id: int) -> dict:
    """Classify every row of a batch's file and store the preview (JSON lines) and the error report (.xlsx).

    Idempotent: re-running rewrites both files and the stats. A file that can't be imported as a whole (no
    header, too many rows) ends the batch as failed with the reason.
    """
    batch = _batch(batch_id)
    if batch.status not in (PREVIEWING, PREVIEWED, FAILED) or batch.committed_at is not None:
        return {'status': batch.status}
    try:
        header, rows, _existing, summary = analyse(_upload(batch), report_progress)
    except DomainError as exc:
        db.session.rollback()
        batch = _batch(batch_id)
        batch.status, batch.error = FAILED, str(exc.message)
        db.session.commit()
        return {'status': FAILED}
    batch.preview_file = f'imports/{batch.id}/preview.jsonl'
    write_atomically(batch.preview_file, _preview_lines(header, rows))
    report_progress(80)
    rejected = [row for row in rows if row.kind not in importing.VALID]
    if rejected:
        batch.report_file = f'imports/{batch.id}/errors.xlsx'
        write_atomically(batch.report_file, error_report(header, rejected))
    else:
        batch.report_file = None
    batch.stats = summary.stats()
    batch.status, batch.error = PREVIEWED, None
    db.session.commit()
    return {'status': PREVIEWED, 'rows': len(rows)}


def _preview_lines(header: importing.HeaderMatch, rows: list[Row]) -> bytes:
    # One JSON object per line, "kind" first: a page filtered by kind is read without parsing the others.
    lines = [json.dumps({'header': header.titles, 'line': header.line}, ensure_ascii=False)]
    lines += [json.dumps(row.to_json(), ensure_ascii=False) for row in rows]
    return ('\n'.join(lines) + '\n').encode()


def preview_rows(batch: ImportBatch, kind: str | None = None, page: int = 1, per_page: int = 20,
                 ) -> tuple[list[dict], int]:
    """One page of a batch's preview rows (optionally one kind, or 'warning'), and how many there are."""
    if not batch.preview_file:
        return [], 0
    items, total, start = [], 0, (page - 1) * per_page
    prefix = f'{{"kind": "{kind}"' if kind in importing.KINDS else '{"kind": '
    with path_for(batch.preview_file).open(encoding='utf-8') as fh:
        next(fh, None)  # the header line
        for text in fh:
            if not text.startswith(prefix):
                continue
            if kind == 'warning' and '"warnings": []' in text:
                continue
            if start <= total < start + per_page:
                items.append(json.loads(text))
            total += 1
    return items, total


def preview_header(batch: ImportBatch) -> list[str]:
    if not batch.preview_file:
        return []
    with path_for(batch.preview_file).open(encoding='utf-8') as fh:
        return json.loads(next(fh, '{}') or '{}').get('header', [])


def error_report(header: importing.HeaderMatch, rows: list[Row]) -> bytes:
    """The rejected rows as uploaded, with 错误原因 and the line they were on; every cell neutralised."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(str(_l('未导入的行')))
    titles = list(header.titles)
    width = max([len(titles)] + [len(row.original) for row in rows])
    titles += [''] * (width - len(titles))
    sheet.append([safe_cell(t) for t in titles] + [str(_l('错误原因')), str(_l('原文件行号'))])
    for row in rows:
        cells = row.original + [''] * (width - len(row.original))
        sheet.append([safe_cell(c) for c in cells] + [safe_cell(row.reason), row.line])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- commit --------------------------------------------------------------------------------------------------------

def can_commit(batch: ImportBatch) -> bool:
    return batch.preview_file is not None and batch.committed_at is None and batch.status in (PREVIEWED, FAILED)


def claim_commit(batch: ImportBatch) -> None:
    """Move a previewed batch to committing, atomically: a second click or request gets ImportStateError."""
    if not can_commit(batch):
        raise ImportStateError(_l('这批数据当前状态为“%(status)s”，不能导入。', status=STATUS_NAMES.get(batch.status,
                                                                                                 batch.status)))
    if not (batch.stats or {}).get('new') and not (batch.stats or {}).get('update') and not (
            batch.stats or {}).get('unchanged'):
        raise ImportStateError(_l('没有可以导入的行：请按错误报告修改文件后重新上传。'))
    claimed = db.session.execute(
        sa.update(ImportBatch).where(ImportBatch.id == batch.id, ImportBatch.status.in_((PREVIEWED, FAILED)))
        .values(status=COMMITTING, error=None).execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        raise ImportStateError(_l('这批数据正在导入或已经导入。'))
    db.session.expire(batch)


@job(_l('住户导入：写入'))
def commit_import(batch_id: int) -> dict:
    """Import every valid row of a batch in one transaction; on any failure nothing is written and the batch
    is marked failed with the reason (it can be committed again). Re-running a committed batch does nothing."""
    batch = _batch(batch_id)
    if batch.status != COMMITTING:
        return {'status': batch.status}
    try:
        _header, rows, existing, summary = analyse(_upload(batch), report_progress)
        result = write_rows(rows, summary, existing, batch_id=batch.id, by_user_id=batch.created_by_id,
                            progress=report_progress)
        batch.stats = {**summary.stats(), **result}
        batch.status, batch.error, batch.committed_at = COMMITTED, None, utcnow()
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        log.exception('residents import %s failed', batch_id)
        batch = _batch(batch_id)
        batch.status = FAILED
        batch.error = str(exc.message) if isinstance(exc, DomainError) else str(
            _l('导入失败，没有写入任何数据（%(reason)s）。可以重新点击导入，或联系管理员。',
               reason=type(exc).__name__))
        db.session.commit()
        if not isinstance(exc, DomainError):
            raise
        return {'status': FAILED}
    return {'status': COMMITTED, **result}


def _insert(model, rows: list[dict], returning: tuple[str, ...] = ()) -> list:
    """INSERT many rows, CHUNK per statement; with ``returning`` (column names that identify a row, like a room's
    code) the returned rows, in no particular order. Every row has the same keys."""
    table = model.__table__
    postgres = db.session.get_bind().dialect.name == 'postgresql'
    out = []
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        if postgres:
            out.extend(_insert_unnest(table, chunk, returning))
        elif returning:
            out.extend(db.session.execute(sa.insert(table).returning(*(table.c[c] for c in returning)), chunk).all())
        else:
            db.session.execute(sa.insert(table), chunk)
    return out


def _insert_unnest(table, rows: list[dict], returning: tuple[str, ...] = ()) -> list:
    """PostgreSQL: ``INSERT INTO t (a, b) SELECT * FROM unnest(CAST(:a AS int[]), CAST(:b AS text[]))``: one
    statement with one array per column. A VALUES list of 1,000 rows x 13 columns costs the driver seconds to
    parse; arrays cost nothing (and COPY is not allowed on tables with row-level security)."""
    bind = db.session.get_bind()
    quote = bind.dialect.identifier_preparer.quote
    columns = list(rows[0])
    arrays = ', '.join(f'CAST(:c{i} AS {table.c[name].type.compile(dialect=bind.dialect)}[])'
                       for i, name in enumerate(columns))
    sql = f'INSERT INTO {quote(table.name)} ({", ".join(quote(c) for c in columns)}) SELECT * FROM unnest({arrays})'
    if returning:
        sql += ' RETURNING ' + ', '.join(quote(c) for c in returning)
    params = {f'c{i}': [_as_text(row[name]) for row in rows] for i, name in enumerate(columns)}
    result = db.session.execute(sa.text(sql), params)
    return result.all() if returning else []


def _as_text(value):
    """A value as PostgreSQL reads it from text (the arrays are sent as text[] and cast per column)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (date, datetime)):  # naive UTC datetimes, as UTCDateTime stores them
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _insert_with_ids(model, rows: list[dict]) -> list[int]:
    """INSERT many rows that have nothing unique but their id; returns the ids in the order of ``rows``.

    RETURNING with many rows gives them back in no guaranteed order (SQLAlchemy would fall back to one
    statement per row), so the ids are known another way: on PostgreSQL taken from the table's sequence first
    (one statement per chunk), on SQLite read back after the insert: SQLite has one writer at a time and gives
    each new row max(id) + 1, so the chunk's rows are the table's newest, in order.
    """
    table = model.__table__
    dialect = db.session.get_bind().dialect.name
    ids: list[int] = []
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        if dialect == 'postgresql':
            chunk_ids = db.session.execute(sa.text('SELECT nextval(pg_get_serial_sequence(:table, :column)) '
                                                   'FROM generate_series(1, :n)'),
                                           {'table': table.name, 'column': 'id', 'n': len(chunk)}).scalars().all()
            _insert_unnest(table, [{'id': row_id, **row} for row, row_id in zip(chunk, chunk_ids, strict=True)])
        elif dialect == 'sqlite':
            db.session.execute(sa.insert(table), chunk)
            chunk_ids = db.session.execute(sa.select(model.id).order_by(model.id.desc()).limit(len(chunk))
                                           ).scalars().all()[::-1]
        else:  # any other database: correct, one statement per row
            statement = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
            chunk_ids = db.session.execute(statement, chunk).scalars().all()
        ids.extend(chunk_ids)
    return ids


def _update(model, rows: list[dict]) -> None:
    """UPDATE many rows by primary key (executemany), CHUNK per statement."""
    for start in range(0, len(rows), CHUNK):
        db.session.execute(sa.update(model), rows[start:start + CHUNK])


def write_rows(rows: list[Row], summary: Summary, existing: Existing, *, batch_id: int | None = None,
               by_user_id: int | None = None, progress=None) -> dict:
    """Write the classified rows: create buildings, units and rooms as needed, new residents and occupancies,
    apply updates. Bulk statements only (about 6 per 1,000 rows); the caller commits or rolls back.

    Rows are stamped with the current tenant, as the session's flush stamps ORM objects (bulk inserts skip the
    flush); on PostgreSQL the row-level security policy checks it again.
    """
    tenant_id = current_tenant_id()
    now = utcnow()

    # SQLite has one writer: while this transaction writes, the job record can't be updated from the side
    # session report_progress uses, so progress is reported only where the database allows it.
    side_writes = db.session.get_bind().dialect.name != 'sqlite'

    def tick(percent):
        if progress is not None and side_writes:
            progress(percent)

    buildings = dict(existing.buildings)
    if summary.buildings_to_create:
        created = dict(_insert(Building, [{'tenant_id': tenant_id, 'name': name, 'has_lift': True, 'floors': None,
                                           'sort_order': 0, 'note': None, 'created_at': now}
                                          for name in summary.buildings_to_create.values()],
                               returning=('name', 'id')))
        buildings.update({key: created[name] for key, name in summary.buildings_to_create.items()})
    units = dict(existing.units)
    if summary.units_to_create:
        created = {(building_id, name): unit_id for building_id, name, unit_id in _insert(
            Unit, [{'tenant_id': tenant_id, 'building_id': buildings[b_key], 'name': name, 'sort_order': 0}
                   for (b_key, _u), name in summary.units_to_create.items()], returning=('building_id', 'name', 'id'))}
        units.update({(b_key, u_key): created[buildings[b_key], name]
                      for (b_key, u_key), name in summary.units_to_create.items()})
    room_ids = {code: room_id for code, (room_id, _area) in existing.rooms.items()}
    new_rooms = list(summary.rooms_to_create.items())
    if new_rooms:
        created = dict(_insert(Room, [_room_values(row, buildings, units, tenant_id, now) for _code, row in new_rooms],
                               returning=('code', 'id')))
        room_ids.update(created)
        _insert(RoomEvent, [{'tenant_id': tenant_id, 'room_id': created[code], 'kind': 'created',
                             'detail': {'source': 'import', 'batch_id': batch_id}, 'by_user_id': by_user_id,
                             'at': now} for code, _row in new_rooms])
    tick(70)

    new_rows = [row for row in rows if row.kind == NEW]
    # One resident per person: a row whose (name, mobile) was seen in the project or earlier in the file joins
    # that resident with another occupancy instead of creating a second one.
    fresh: list[Row] = []
    by_person: dict[tuple[str, str], Row] = {}
    for row in new_rows:
        person = (row.fields['name'], row.fields['mobile']) if row.fields['mobile'] else None
        if row.resident_id is None and person is not None and person in by_person:
            continue
        if row.resident_id is None:
            fresh.append(row)
            if person is not None:
                by_person[person] = row
    ids = _insert_with_ids(Resident, [_resident_values(row.fields, tenant_id, now) for row in fresh])
    for row, resident_id in zip(fresh, ids, strict=True):
        row.resident_id = resident_id
    for row in new_rows:
        if row.resident_id is None:
            row.resident_id = by_person[(row.fields['name'], row.fields['mobile'])].resident_id
    tick(85)
    _insert(Occupancy, [{'tenant_id': tenant_id, 'room_id': room_ids[row.fields['code']],
                         'resident_id': row.resident_id, 'role': row.fields['role'],
                         'moved_in_on': row.fields['moved_in_on'], 'moved_out_on': None, 'created_at': now}
                        for row in new_rows])
    occupied = sorted({room_ids[row.fields['code']] for row in new_rows} - {room_ids[c] for c, _ in new_rooms})
    for start in range(0, len(occupied), CHUNK):
        db.session.execute(sa.update(Room).where(Room.id.in_(occupied[start:start + CHUNK]), Room.status == 'vacant')
                           .values(status='occupied').execution_options(synchronize_session=False))

    updates = [row for row in rows if row.kind == UPDATE]
    occupants = {o.occupancy_id: o for group in existing.occupants.values() for o in group}
    resident_updates, occupancy_updates, area_updates = {}, [], []
    for row in updates:
        occupant = occupants[row.occupancy_id]
        values = {k: (row.fields[k] if row.fields.get(k) is not None else getattr(occupant, k))
                  for k in importing.RESIDENT_FIELDS}
        resident_updates[occupant.resident_id] = {'id': occupant.resident_id, **values, 'updated_at': now}
        occupancy_updates.append({'id': occupant.occupancy_id, **{
            k: (row.fields[k] if row.fields.get(k) is not None else getattr(occupant, k))
            for k in importing.OCCUPANCY_FIELDS}})
        room = existing.rooms.get(row.fields['code'])
        if room is not None and room[1] is None and row.fields['area_m2'] is not None:
            area_updates.append({'id': room[0], 'area_m2': row.fields['area_m2']})
    _update(Resident, list(resident_updates.values()))
    _update(Occupancy, occupancy_updates)
    _update(Room, list({r['id']: r for r in area_updates}.values()))
    tick(95)
    return {'residents_created': len(fresh), 'occupancies_created': len(new_rows),
            'residents_updated': len(resident_updates), 'unchanged': sum(r.kind == UNCHANGED for r in rows),
            'rooms_created': len(new_rooms), 'buildings_created': len(summary.buildings_to_create),
            'units_created': len(summary.units_to_create)}


def _room_values(row: Row, buildings: dict, units: dict, tenant_id: int, now) -> dict:
    f = row.fields
    return {'tenant_id': tenant_id, 'building_id': buildings[f['building_key']],
            'unit_id': units[(f['building_key'], f['unit_key'])] if f['unit_key'] else None,
            'number': f['number'], 'code': f['code'], 'floor': f['floor'], 'area_m2': f['area_m2'],
            'type': 'residence', 'status': 'occupied', 'tags': [], 'billing_starts_on': None, 'merged_into_id': None,
            'active': True, 'created_at': now}


def _resident_values(f: dict, tenant_id: int, now) -> dict:
    return {'tenant_id': tenant_id, **{k: f[k] for k in importing.RESIDENT_FIELDS}, 'user_id': None,
            'created_at': now, 'updated_at': now}


# --- what pages show ---------------------------------------------------------------------------------------------

def running_job(batch: ImportBatch) -> JobRecord | None:
    """The preview or commit job of a batch that is working on it now (for its progress)."""
    key = {PREVIEWING: preview_key(batch.id), COMMITTING: commit_key(batch.id)}.get(batch.status)
    if key is None:
        return None
    return db.session.execute(sa.select(JobRecord).where(JobRecord.key == key)).scalar_one_or_none()


def list_batches():
    """The select of the project's batches, newest first (paginated by the caller)."""
    return sa.select(ImportBatch).order_by(ImportBatch.created_at.desc(), ImportBatch.id.desc())


@job(_l('住户导入模板'))
def import_template_file() -> dict:
    """Write the import template to the tenant's files (replaced on every run) for jobs.download."""
    key = 'imports/template/residents-import-template.xlsx'
    write_atomically(key, template_workbook())
    return {'file': key}


def template_workbook() -> bytes:
    """The import template: the canonical headers, two example rows, and a sheet that explains them."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = str(_l('住户信息'))
    fields = list(importing.TEMPLATE_HEADERS)
    sheet.append([importing.TEMPLATE_HEADERS[f] for f in fields])
    examples = [
        {'building': '1栋', 'unit': '2单元', 'room': '301', 'area_m2': 89.5, 'name': '张三', 'mobile': '13800138000',
         'role': '业主', 'moved_in_on': date(2024, 5, 1), 'note': ''},
        {'building': '1栋', 'unit': '2单元', 'room': '301', 'area_m2': 89.5, 'name': '李四', 'mobile': '13900139000',
         'role': '家属', 'moved_in_on': date(2024, 5, 1), 'note': '与业主同住'},
    ]
    for example in examples:
        sheet.append([example.get(f, '') for f in fields])
    for column in sheet.iter_cols(min_row=2, max_row=3, min_col=fields.index('moved_in_on') + 1,
                                  max_col=fields.index('moved_in_on') + 1):
        for cell in column:
            cell.number_format = 'yyyy-mm-dd'
    for index in range(len(fields)):
        sheet.column_dimensions[chr(ord('A') + index)].width = 14
    notes = book.create_sheet(str(_l('说明')))
    for line in (_l('必填：房号、姓名。楼栋、单元可以单独成列，也可以写在房号里（1-2-301 或 1栋2单元301）。'),
                 _l('身份：业主、租户 或 家属；不填按业主导入。'),
                 _l('手机号：11 位手机号，可带空格、短横线或 +86；座机请填在“其他电话”。'),
                 _l('日期：2024-05-01、2024/05/01、2024年05月01日 或 Excel 日期均可。'),
                 _l('面积：数字，可带 ㎡；身份证号可不填，填写时须为 18 位。'),
                 _l('已有住户（同一房号、同一手机号或同一姓名）会被更新；空白单元格不会清除已有信息。')):
        notes.append([str(line)])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def display_row(item: dict) -> dict:
    """A stored preview row as pages and the API show it: personal information masked for everyone."""
    from ..auth.models import mask_mobile

    item = {k: v for k, v in item.items() if k != 'original'}  # the cells as uploaded: never shown
    fields = dict(item.get('fields') or {})
    if fields.get('mobile'):
        fields['mobile'] = mask_mobile(fields['mobile'])
    if fields.get('id_number'):
        fields['id_number'] = mask_id_number(fields['id_number'])
    role = fields.get('role')
    return {**item, 'fields': fields, 'role_name': ROLE_NAMES.get(role, ''),
            'reason': '；'.join(f'{c}：{m}' for c, m in item.get('errors') or [])}


def iter_kinds() -> Iterator[tuple[str, object]]:
    yield from ((importing.NEW, _l('新增')), (importing.UPDATE, _l('更新')), (importing.UNCHANGED, _l('无变化')),
                (importing.DUPLICATE, _l('重复')), (importing.ERROR, _l('错误')), ('warning', _l('有提醒')))
