"""The equipment ledger (设备台账): devices with their certificates, what is due for renewal, and the ledger as .xlsx.

Everything runs in the current tenant's scope (the scoped models): another project's building, device or
certificate is simply not found. Refusals raise DomainError with a message staff understand.

A certificate is **current** unless a newer one of the same name (the later expiry) was added for the same device:
renewing a lift's 定期检验合格证 is adding this year's, and last year's then no longer counts as expiring.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import abort
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from ..documents.spreadsheets import safe_cell
from ..errors import DomainError
from ..extensions import db
from ..models_base import get_or_404
from ..property.models import Building
from ..repairs.models import WorkOrder
from .models import (
    DEVICE_CATEGORIES,
    DEVICE_CATEGORY_NAMES,
    DEVICE_STATUS_NAMES,
    DEVICE_STATUSES,
    Device,
    DeviceCertificate,
    InspectionTask,
)
from .report import FailureRate, days_in_ledger

#: the device page lists this many of the device's latest inspection tasks
RECENT_TASKS = 20
#: one label sheet request renders at most this many labels (synchronously)
MAX_LABELS = 500
#: the fields of a device a form sets
DEVICE_FIELDS = ('code', 'name', 'category', 'building_id', 'location', 'model', 'vendor', 'serial_number',
                 'installed_on', 'warranty_until', 'contractor', 'contractor_phone', 'status', 'note')
CERTIFICATE_FIELDS = ('name', 'number', 'issued_on', 'expires_on', 'remind_days', 'note')


@dataclass(frozen=True)
class LedgerFilters:
    category: str | None = None
    building_id: int | None = None
    status: str | None = None
    q: str | None = None

    @classmethod
    def from_args(cls, args) -> LedgerFilters:
        """From a query string; values that are not one of the choices are ignored (a stale link still lists)."""
        category = args.get('category')
        status = args.get('status')
        building_id = args.get('building', type=int)
        q = (args.get('q') or '').strip()[:60]
        return cls(category=category if category in DEVICE_CATEGORIES else None,
                   building_id=building_id if building_id and 0 < building_id < 2**31 else None,
                   status=status if status in DEVICE_STATUSES else None, q=q or None)

    def as_args(self) -> dict:
        args = {'category': self.category, 'building': self.building_id, 'status': self.status, 'q': self.q}
        return {key: value for key, value in args.items() if value}


def ledger_query(filters: LedgerFilters):
    """The devices matching ``filters``, by code, each with its building and certificates loaded (two statements
    however many devices)."""
    query = (sa.select(Device).options(joinedload(Device.building), selectinload(Device.certificates))
             .order_by(Device.code, Device.id))
    if filters.category:
        query = query.where(Device.category == filters.category)
    if filters.status:
        query = query.where(Device.status == filters.status)
    if filters.building_id:
        query = query.where(Device.building_id == filters.building_id)
    if filters.q:
        query = query.where(sa.or_(Device.code.icontains(filters.q, autoescape=True),
                                   Device.name.icontains(filters.q, autoescape=True),
                                   Device.location.icontains(filters.q, autoescape=True)))
    return query


def buildings() -> list[Building]:
    return db.session.execute(sa.select(Building).order_by(Building.sort_order, Building.name)).scalars().all()


# --- certificates: current, due ------------------------------------------------------------------------------------

def current_certificates(certificates) -> list[DeviceCertificate]:
    """The certificates that count: for each device and name the one expiring last, soonest expiry first."""
    latest: dict[tuple[int, str], DeviceCertificate] = {}
    for certificate in certificates:
        key = (certificate.device_id, certificate.name.strip())
        kept = latest.get(key)
        if kept is None or (certificate.expires_on, certificate.id or 0) > (kept.expires_on, kept.id or 0):
            latest[key] = certificate
    return sorted(latest.values(), key=lambda c: (c.expires_on, c.id or 0))


def certificate_state(certificate: DeviceCertificate, today: date) -> str | None:
    """'expired' (past its expiry), 'due' (within its remind_days), or None."""
    if certificate.expires_on < today:
        return 'expired'
    if certificate.expires_on <= today + timedelta(days=certificate.remind_days or 0):
        return 'due'
    return None


def next_certificate(device: Device) -> DeviceCertificate | None:
    """The device's current certificate that expires first (its certificates must be loaded)."""
    current = current_certificates(device.certificates)
    return current[0] if current else None


def superseded_ids(device: Device) -> set[int]:
    current = {c.id for c in current_certificates(device.certificates)}
    return {c.id for c in device.certificates if c.id not in current}


def certificates_due(today: date) -> list[DeviceCertificate]:
    """Current certificates that expired or expire within their remind_days, soonest first, with their devices.

    One statement: the project's certificates are loaded and sorted here (a small project's ledger has a few hundred
    at most), since 'within its own remind_days' and 'not renewed since' are per row."""
    certificates = db.session.execute(
        sa.select(DeviceCertificate).options(joinedload(DeviceCertificate.device).joinedload(Device.building))
    ).scalars().all()
    return [c for c in current_certificates(certificates) if certificate_state(c, today)]


def certificate_of(device: Device, certificate_id: int) -> DeviceCertificate:
    """The device's certificate; another device's (or project's) is 404."""
    certificate = get_or_404(DeviceCertificate, certificate_id)
    if certificate.device_id != device.id:
        abort(404)
    return certificate


# --- changes -------------------------------------------------------------------------------------------------------

def _clean(value):
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def save_device(device: Device | None, **fields) -> Device:
    """Create (``device`` None) or update a device from the form's values (DEVICE_FIELDS; dates as ``date``).

    Refused (DomainError): a code another device of the project has, a building not of the project, an unknown
    category or status, a warranty ending before installation. Flushes; the caller commits."""
    values = {name: _clean(fields.get(name)) for name in DEVICE_FIELDS}
    if not values['code']:
        raise DomainError(_l('请填写设备编号'), field='code')
    if not values['name']:
        raise DomainError(_l('请填写设备名称'), field='name')
    if values['category'] not in DEVICE_CATEGORIES:
        raise DomainError(_l('请选择设备类别'), field='category')
    values['status'] = values['status'] or 'in_service'
    if values['status'] not in DEVICE_STATUSES:
        raise DomainError(_l('请选择设备状态'), field='status')
    if values['building_id'] is not None:
        found = db.session.execute(sa.select(Building.id).where(Building.id == values['building_id'])).scalar()
        if found is None:
            raise DomainError(_l('所选楼栋不存在，请重新选择'), field='building_id')
    if values['installed_on'] and values['warranty_until'] and values['warranty_until'] < values['installed_on']:
        raise DomainError(_l('保修截止日期不能早于安装日期'), field='warranty_until')
    taken = sa.select(Device.id).where(Device.code == values['code'])
    if device is not None:
        taken = taken.where(Device.id != device.id)
    if db.session.execute(taken).first() is not None:
        raise DomainError(_l('设备编号 %(code)s 已被其他设备使用，请换一个编号', code=values['code']), field='code')
    if device is None:
        device = Device()
        db.session.add(device)
    for name, value in values.items():
        setattr(device, name, value)
    try:
        db.session.flush()
    except IntegrityError:  # the same code saved at the same moment by someone else
        db.session.rollback()
        raise DomainError(_l('设备编号 %(code)s 已被其他设备使用，请换一个编号', code=values['code']),
                          field='code') from None
    return device


def _certificate_values(fields) -> dict:
    values = {name: _clean(fields.get(name)) for name in CERTIFICATE_FIELDS}
    if not values['name']:
        raise DomainError(_l('请填写证书名称'), field='name')
    if values['expires_on'] is None:
        raise DomainError(_l('请填写证书到期日期'), field='expires_on')
    if values['issued_on'] and values['expires_on'] < values['issued_on']:
        raise DomainError(_l('到期日期不能早于发证日期'), field='expires_on')
    remind = values['remind_days']
    values['remind_days'] = 30 if remind is None else remind
    if not 0 <= values['remind_days'] <= 365:
        raise DomainError(_l('提前提醒天数应在 0 到 365 之间'), field='remind_days')
    return values


def add_certificate(device: Device, **fields) -> DeviceCertificate:
    """Add a certificate (CERTIFICATE_FIELDS) to ``device``; an expiry before the issue date is refused."""
    certificate = DeviceCertificate(device=device, **_certificate_values(fields))
    db.session.add(certificate)
    db.session.flush()
    return certificate


def update_certificate(certificate: DeviceCertificate, **fields) -> DeviceCertificate:
    """Change a certificate; a new expiry date makes it remindable again."""
    values = _certificate_values(fields)
    if values['expires_on'] != certificate.expires_on:
        certificate.reminded_at = None
    for name, value in values.items():
        setattr(certificate, name, value)
    db.session.flush()
    return certificate


def remove_certificate(certificate: DeviceCertificate) -> None:
    db.session.delete(certificate)
    db.session.flush()


# --- the device page -----------------------------------------------------------------------------------------------

def load_device(device_id: int) -> Device:
    """The device with its building and certificates (404 when not the project's)."""
    get_or_404(Device, device_id)
    return db.session.execute(
        sa.select(Device).where(Device.id == device_id)
        .options(joinedload(Device.building), selectinload(Device.certificates))
        .execution_options(populate_existing=True)
    ).scalar_one()


def recent_tasks(device: Device, now: datetime, limit: int = RECENT_TASKS) -> list[InspectionTask]:
    """The device's latest inspection tasks that have started (by period start, newest first) with their plans
    (the ones generated ahead are not history yet)."""
    return db.session.execute(
        sa.select(InspectionTask).where(InspectionTask.device_id == device.id, InspectionTask.period_start <= now)
        .options(joinedload(InspectionTask.plan))
        .order_by(InspectionTask.period_start.desc(), InspectionTask.id.desc()).limit(limit)
    ).scalars().all()


def tasks_to_do(device: Device, now: datetime) -> list[InspectionTask]:
    """What a technician who scanned the label can do here: the device's started tasks not done (open, or missed
    and still to be made up), oldest first."""
    return db.session.execute(
        sa.select(InspectionTask).where(InspectionTask.device_id == device.id, InspectionTask.period_start <= now,
                                        InspectionTask.status.in_(('open', 'missed')))
        .options(joinedload(InspectionTask.plan))
        .order_by(InspectionTask.period_start, InspectionTask.id).limit(RECENT_TASKS)
    ).scalars().all()


@dataclass
class DeviceFailures(FailureRate):
    """A device's failures over the last year (the figures of inspections.report for one device)."""

    failures: int
    days: int


def failures_of(device: Device, today: date, zone) -> DeviceFailures:
    """The work orders linked to the device (cancelled ones excepted) created in the 365 days to ``today``, and the
    days it was in the ledger then."""
    start = today - timedelta(days=364)
    low = datetime.combine(start, datetime.min.time(), tzinfo=zone)
    count = db.session.execute(sa.select(sa.func.count()).select_from(WorkOrder).where(
        WorkOrder.device_id == device.id, WorkOrder.status != 'cancelled', WorkOrder.created_at >= low)).scalar_one()
    return DeviceFailures(count, days_in_ledger(device, start, today, zone))


def work_orders_of(device: Device, limit: int = RECENT_TASKS) -> list[WorkOrder]:
    """The device's failures: the latest work orders linked to it (opened by an inspection, or logged against it)."""
    return db.session.execute(
        sa.select(WorkOrder).where(WorkOrder.device_id == device.id).options(joinedload(WorkOrder.category))
        .order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc()).limit(limit)).scalars().all()


# --- labels and export ---------------------------------------------------------------------------------------------

def parse_ids(text: str | None) -> list[int] | None:
    """'1,2,3' -> [1, 2, 3]; None when absent. Anything that is not a list of ids is refused."""
    if text is None or not text.strip():
        return None
    ids = []
    for part in text.split(','):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or not 0 < int(part) < 2**31:
            raise DomainError(_l('设备编号列表应为以逗号分隔的数字，例如 1,2,3'))
        ids.append(int(part))
    if len(ids) > MAX_LABELS:
        raise DomainError(_l('一次最多打印 %(n)s 个标签，请缩小范围', n=MAX_LABELS))
    return ids


def devices_for_labels(filters: LedgerFilters, ids: list[int] | None) -> list[Device]:
    """The devices to print: the given ids of this project (others are left out), or the ledger's filters.
    None, or more than MAX_LABELS, is refused."""
    query = ledger_query(filters) if ids is None else ledger_query(LedgerFilters()).where(Device.id.in_(ids))
    devices = db.session.execute(query.limit(MAX_LABELS + 1)).scalars().unique().all()
    if len(devices) > MAX_LABELS:
        raise DomainError(_l('一次最多打印 %(n)s 个标签，请按类别或楼栋筛选后分批打印', n=MAX_LABELS))
    if not devices:
        raise DomainError(_l('没有符合条件的设备，没有可打印的标签'))
    return devices


def place(device: Device) -> str:
    """'1栋 地下一层水泵房' (building and location), or ''."""
    return ' '.join(part for part in ((device.building.name if device.building else None), device.location) if part)


def export_xlsx(devices: list[Device], today: date) -> bytes:
    """The ledger as .xlsx: one row per device, dates as dates; every text cell through safe_cell."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = _('设备台账')
    headers = (_('设备编号'), _('设备名称'), _('类别'), _('楼栋'), _('位置'), _('型号'), _('生产厂家'), _('出厂编号'),
               _('安装日期'), _('保修截止'), _('保修已过期'), _('维保单位'), _('维保电话'), _('状态'),
               _('最近到期证书'), _('证书到期日'), _('备注'))
    sheet.append([safe_cell(str(h)) for h in headers])
    for device in devices:
        certificate = next_certificate(device)
        row = [device.code, device.name, str(DEVICE_CATEGORY_NAMES.get(device.category, device.category)),
               device.building.name if device.building else None, device.location, device.model, device.vendor,
               device.serial_number, device.installed_on, device.warranty_until,
               _('是') if device.warranty_until and device.warranty_until < today else None,
               device.contractor, device.contractor_phone,
               str(DEVICE_STATUS_NAMES.get(device.status, device.status)),
               certificate.name if certificate else None, certificate.expires_on if certificate else None,
               device.note]
        sheet.append([safe_cell(value) if isinstance(value, str) else value for value in row])
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, date):
                cell.number_format = 'yyyy-mm-dd'
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
