"""Export the residents list, as filtered, to an .xlsx of rooms and residents (a background job)."""
from __future__ import annotations

import hashlib
import io

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook

from ..documents.spreadsheets import safe_cell
from ..extensions import db
from ..jobs.queue import enqueue, job, report_progress
from ..storage import write_atomically
from .identity import mask_id_number, mask_phone
from .models import ROLE_NAMES, Resident
from .services import LIST_OPTIONS, ResidentFilters, resident_select

HEADER = ['楼栋', '单元', '房号', '房屋编码', '姓名', '身份', '手机号', '其他电话', '身份证号', '入住日期', '迁出日期',
          '状态', '车辆', '紧急联系人', '紧急联系电话', '备注']
BATCH = 500


def _day(value) -> str:
    return value.isoformat() if value else ''


def _rows(resident: Resident, filters: ResidentFilters):
    """One row per room link the list shows (under the same filters); a resident with none gets one row."""
    plates = '、'.join(v.plate for v in resident.vehicles)
    person = [safe_cell(resident.name)]
    tail = [safe_cell(plates), safe_cell(resident.emergency_contact or ''), mask_phone(resident.emergency_phone),
            safe_cell(resident.note or '')]
    phones = [mask_phone(resident.mobile), mask_phone(resident.other_phone), mask_id_number(resident.id_number)]
    links = sorted(resident.occupancies, key=lambda o: (o.moved_out_on is not None, o.room.code))
    if filters.status == 'current':
        links = [o for o in links if o.moved_out_on is None]
    elif filters.status == 'moved_out':
        links = [o for o in links if o.moved_out_on is not None]
    if filters.building_id is not None:
        links = [o for o in links if o.room.building_id == filters.building_id]
    if filters.role:
        links = [o for o in links if o.role == filters.role]
    if not links:
        yield ['', '', '', '', *person, '', *phones, '', '', '', *tail]
    for o in links:
        room = o.room
        yield [safe_cell(room.building.name), safe_cell(room.unit.name if room.unit else ''), safe_cell(room.number),
               safe_cell(room.code), *person, str(ROLE_NAMES[o.role]), *phones,
               _day(o.moved_in_on), _day(o.moved_out_on),
               '在住' if o.moved_out_on is None else '已迁出', *tail]


@job(_l('导出住户名单'))
def export_residents(filters_json: str) -> dict:
    """Write the residents matching the filters (a ResidentFilters JSON string) to an .xlsx, one row per room.

    Mobiles, other phones and ID numbers are masked for everyone (paper leaves the system); text cells are
    neutralised against formula injection. Idempotent: one file per filter set, replaced atomically.
    """
    filters = ResidentFilters.from_json(filters_json)
    ids = db.session.execute(resident_select(filters, ids_only=True)).scalars().all()
    book = Workbook(write_only=True)
    sheet = book.create_sheet('住户')
    sheet.append(HEADER)
    rows = 0
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        residents = db.session.execute(sa.select(Resident).where(Resident.id.in_(chunk)).options(*LIST_OPTIONS)
                                       ).scalars().all()
        by_id = {r.id: r for r in residents}
        for resident_id in chunk:
            for row in _rows(by_id[resident_id], filters):
                sheet.append(row)
                rows += 1
        report_progress((start + len(chunk)) * 100 // len(ids))
    buffer = io.BytesIO()
    book.save(buffer)
    digest = hashlib.sha256(filters.to_json().encode()).hexdigest()[:16]
    key = f'exports/residents-{digest}.xlsx'
    write_atomically(key, buffer.getvalue())
    return {'file': key, 'rows': rows, 'residents': len(ids)}


def start_export(filters: ResidentFilters, requested_by_id: int):
    """Enqueue the export of ``filters`` for a user; one record per (user, filters), re-run on a new request."""
    filters_json = filters.to_json()
    digest = hashlib.sha256(filters_json.encode()).hexdigest()[:32]
    return enqueue(export_residents, filters_json, key=f'residents-export:{requested_by_id}:{digest}',
                   requested_by_id=requested_by_id)
